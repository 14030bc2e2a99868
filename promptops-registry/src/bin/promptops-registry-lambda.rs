//! `promptops-registry-lambda`: the registry's router as an AWS Lambda Function URL handler.
//!
//! Configuration, from the environment:
//! - `DYNAMODB_TABLE` and `S3_BUCKET` (the seed's names): the DynamoDB + S3 store;
//! - otherwise `PROMPTOPS_REGISTRY_STORE=sqlite:PATH`: the embedded store (for local runs);
//! - `PROMPTOPS_REGISTRY_IAM_ROLES`: `arn=role` pairs, comma-separated; callers whose ARN is
//!   not listed, and direct invokes, are readers.

use std::sync::Arc;

use promptops_registry::http::{router, AppState};
use promptops_registry::lambda::with_iam_caller;
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::{Auth, Registry, Store};

async fn run<S: Store + Clone>(store: S, auth: Auth) -> Result<(), lambda_http::Error> {
    let state = Arc::new(AppState {
        registry: Registry::new(store),
        auth,
    });
    let app = router(state).layer(axum::middleware::from_fn(with_iam_caller));
    lambda_http::run(app).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .without_time()
        .init();
    let roles = std::env::var("PROMPTOPS_REGISTRY_IAM_ROLES").unwrap_or_default();
    let auth = Auth::iam_from_config(&roles)
        .map_err(|err| format!("PROMPTOPS_REGISTRY_IAM_ROLES: {err}"))?;
    let table = std::env::var("DYNAMODB_TABLE").ok();
    let bucket = std::env::var("S3_BUCKET").ok();
    match (table, bucket) {
        #[cfg(feature = "aws")]
        (Some(table), Some(bucket)) => {
            // Region, credentials and endpoint come from the standard AWS configuration.
            let store =
                promptops_registry::store::dynamo::DynamoStore::from_env(table, bucket).await;
            run(store, auth).await
        }
        #[cfg(not(feature = "aws"))]
        (Some(_), Some(_)) => Err(
            "DYNAMODB_TABLE and S3_BUCKET are set, but this build has no DynamoDB store \
             (feature `aws`)"
                .into(),
        ),
        _ => {
            let spec = std::env::var("PROMPTOPS_REGISTRY_STORE").map_err(|_| {
                "set DYNAMODB_TABLE and S3_BUCKET, or PROMPTOPS_REGISTRY_STORE=sqlite:PATH"
            })?;
            let path = spec
                .strip_prefix("sqlite:")
                .ok_or("PROMPTOPS_REGISTRY_STORE must be sqlite:PATH")?;
            run(SqliteStore::open(path)?, auth).await
        }
    }
}
