//! The HTTP API (API Gateway HTTP API on Lambda, through `lambda_http`): list outputs, preview
//! a render, regenerate an input. Every error is a JSON body with a 4xx status.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::bucket::BucketError;
use crate::config::{PromptConfig, Source};
use crate::env::{check_input_key, Env, TEMPLATE_PREFIX};
use crate::pipeline::{render_off_worker, Outcome, Pipeline, MAX_TEMPLATE_BYTES};

/// Page size of `GET /outputs` unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 100;
/// The largest `limit` accepted.
pub const MAX_PAGE: usize = 1000;

/// The routes over a pipeline.
pub fn router(pipeline: Arc<Pipeline>) -> Router {
    Router::new()
        .route("/outputs", get(list_outputs))
        .route("/preview", post(preview))
        .route("/regenerate", post(regenerate))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route (GET /outputs, POST /preview, POST /regenerate)",
            )
        })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .with_state(pipeline)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"code": code, "error": message.into()}))).into_response()
}

/// `GET /outputs` query.
#[derive(Debug, Deserialize)]
struct ListQuery {
    env: Option<String>,
    limit: Option<usize>,
    token: Option<String>,
}

async fn list_outputs(
    State(pipeline): State<Arc<Pipeline>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "query: env=beta|prod, limit=1..1000, token=NEXT",
        );
    };
    let own = pipeline.settings().own_env;
    let env = match query.env.as_deref().map(str::parse::<Env>) {
        None => own,
        Some(Ok(env)) => env,
        Some(Err(err)) => return error(StatusCode::BAD_REQUEST, "bad_request", err.to_string()),
    };
    if env != own {
        return error(
            StatusCode::FORBIDDEN,
            "wrong_environment",
            format!("this is the {own} deployment; it serves {own}/outputs/ only"),
        );
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("limit must be 1..={MAX_PAGE}"),
        );
    }
    match pipeline
        .bucket()
        .list(&env.outputs_prefix(), query.token.as_deref(), limit)
        .await
    {
        Ok(page) => Json(json!({"env": env, "outputs": page.objects, "next_token": page.next}))
            .into_response(),
        Err(err) => error(StatusCode::BAD_GATEWAY, "storage", err.to_string()),
    }
}

async fn preview(State(pipeline): State<Arc<Pipeline>>, body: Bytes) -> Response {
    let config = match PromptConfig::parse(&body) {
        Ok(config) => config,
        Err(err) => return error(StatusCode::BAD_REQUEST, "bad_config", err.message),
    };
    let template = match config.source() {
        Ok(Source::Template(name)) => {
            match pipeline
                .bucket()
                .get(&format!("{TEMPLATE_PREFIX}{name}"), MAX_TEMPLATE_BYTES)
                .await
            {
                Ok(object) => match String::from_utf8(object.body) {
                    Ok(text) => Some(text),
                    Err(_) => {
                        return error(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "render",
                            format!("template {name} is not UTF-8"),
                        )
                    }
                },
                Err(BucketError::NotFound(_)) => {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "render",
                        format!("missing template: no {TEMPLATE_PREFIX}{name}"),
                    )
                }
                Err(err @ (BucketError::TooLarge { .. } | BucketError::Refused { .. })) => {
                    return error(StatusCode::UNPROCESSABLE_ENTITY, "render", err.to_string())
                }
                Err(err) => return error(StatusCode::BAD_GATEWAY, "storage", err.to_string()),
            }
        }
        _ => None,
    };
    // Compiled and rendered on the blocking pool, like the pipeline's own render stage.
    match render_off_worker(&config, template, pipeline.settings().own_env).await {
        Ok(rendered) => Json(json!({
            "prompt_id": rendered.prompt.id,
            "prompt_version": rendered.prompt.version.to_string(),
            "system": rendered.system.as_deref().map(|text| rendered.redact(text)),
            "user": rendered.redact(&rendered.user),
            "model_id": pipeline.model_id_for(&config),
        }))
        .into_response(),
        Err(err) => error(StatusCode::UNPROCESSABLE_ENTITY, "render", err.message),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegenerateBody {
    key: String,
}

async fn regenerate(State(pipeline): State<Arc<Pipeline>>, body: Bytes) -> Response {
    let request: RegenerateBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("expected {{\"key\": \"prompt_inputs/NAME.json\"}}: {err}"),
            )
        }
    };
    if let Err(err) = check_input_key(&request.key) {
        return error(StatusCode::BAD_REQUEST, "bad_key", err.message);
    }
    match pipeline.process(&request.key, None).await {
        Outcome::Published {
            source_key,
            output_key,
        } => Json(json!({"source_key": source_key, "output_key": output_key})).into_response(),
        Outcome::Failed {
            failure,
            errors_key,
        } => {
            let status = if failure.error.message.starts_with("no object") {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (
                status,
                Json(json!({
                    "code": failure.error.stage,
                    "error": failure.error.message,
                    "source_key": failure.source_key,
                    "errors_key": errors_key,
                })),
            )
                .into_response()
        }
    }
}
