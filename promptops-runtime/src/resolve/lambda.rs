//! The direct Lambda invoke tier (`PROMPT_REGISTRY_FUNCTION`): the registry's function is
//! invoked through `aws-sdk-lambda` (`Invoke`, request-response), the seed's production path.
//! No HTTP endpoint or URL signing is involved; the caller needs `lambda:InvokeFunction` on
//! the function.
//!
//! The payload is the event a Lambda Function URL would deliver (payload format 2.0) for
//! `GET /prompts/{id}?mode=…[&version=…]` with `If-None-Match`, so the registry's one router
//! answers both tiers alike: the function's answer is a Function URL response (`statusCode`,
//! `headers`, `body`) read exactly like the HTTP tier's. A direct invoke carries no IAM
//! authorizer, so the registry treats it as a reader, which is all resolution needs.
//!
//! The SDK client is built on first use from the standard AWS configuration chain
//! ([`promptops_aws::load`]: region, credentials, `AWS_ENDPOINT_URL[_LAMBDA]`), so building a
//! resolver stays synchronous and a process that never resolves never loads it.

use std::collections::HashMap;
use std::fmt;

use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use aws_lambda_events::http::header::{ACCEPT, IF_NONE_MATCH, USER_AGENT};
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method};
use aws_lambda_events::query_map::QueryMap;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use base64::Engine as _;
use promptops_registry_api::client::status_text;
use promptops_registry_api::{routes, ErrorAnswer};
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::{Fetch, FetchError, FetchFuture, FetchRequest, Fetched, Source};

/// The registry through a direct Lambda invoke.
pub struct LambdaFetcher {
    function: String,
    client: OnceCell<aws_sdk_lambda::Client>,
}

impl fmt::Debug for LambdaFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaFetcher")
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl LambdaFetcher {
    /// A tier invoking `function` (a name, a partial or full ARN, optionally with a `:alias`),
    /// with a client from the standard AWS configuration chain, built on the first fetch.
    pub fn new(function: &str) -> Result<Self, FetchError> {
        let function = function.trim();
        if function.is_empty() || function.chars().any(char::is_whitespace) {
            return Err(FetchError::new(
                "must be a Lambda function name or ARN, without spaces",
            ));
        }
        Ok(LambdaFetcher {
            function: function.to_owned(),
            client: OnceCell::new(),
        })
    }

    /// A tier invoking `function` through `client` (for a client configured by hand, e.g.
    /// against a local endpoint).
    pub fn with_client(function: &str, client: aws_sdk_lambda::Client) -> Result<Self, FetchError> {
        Ok(LambdaFetcher {
            client: OnceCell::new_with(Some(client)),
            ..Self::new(function)?
        })
    }

    /// The function this tier invokes.
    pub fn function(&self) -> &str {
        &self.function
    }

    async fn client(&self) -> &aws_sdk_lambda::Client {
        self.client
            .get_or_init(|| async { aws_sdk_lambda::Client::new(&promptops_aws::load().await) })
            .await
    }

    async fn invoke(&self, request: FetchRequest<'_>) -> Result<Fetched, FetchError> {
        let what = format!("invoke {} for {}", self.function, request.id);
        let payload = serde_json::to_vec(&function_url_event(&request))
            .map_err(|err| FetchError::decode(format!("{what}: the request event"), err))?;
        let output = self
            .client()
            .await
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|source| FetchError::Invoke {
                what: what.clone(),
                source: Box::new(source),
            })?;
        let body = output
            .payload()
            .map(|payload| String::from_utf8_lossy(payload.as_ref()).into_owned())
            .unwrap_or_default();
        if let Some(kind) = output.function_error() {
            // The function failed (crashed, timed out): its error document names why.
            let message = serde_json::from_str::<FunctionError>(&body)
                .map(|error| format!("{}: {}", error.error_type, error.error_message))
                .unwrap_or(body);
            return Err(FetchError::new(format!(
                "{what}: the function failed ({kind}): {message}"
            )));
        }
        let response: FunctionUrlResponse = serde_json::from_str(&body).map_err(|err| {
            FetchError::decode(
                format!("{what}: the answer is not a Function URL response"),
                err,
            )
        })?;
        let text = if response.is_base64_encoded {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(response.body.as_bytes())
                .map_err(|err| {
                    FetchError::decode(format!("{what}: the body is not base64"), err)
                })?;
            String::from_utf8(bytes)
                .map_err(|err| FetchError::decode(format!("{what}: the body is not UTF-8"), err))?
        } else {
            response.body
        };
        let etag = response
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("etag"))
            .map(|(_, value)| value.clone());
        interpret_answer(&what, response.status_code, etag, text)
    }
}

/// A registry answer (`status`, its `ETag` and body) carried in the function's response, as a
/// [`Fetched`]: `200` a document, `304` not modified, `404` no version; anything else is an
/// error naming the status and the message of the error answer
/// ([`ErrorAnswer::parse`], as the HTTP client reads it). `what` names the request.
fn interpret_answer(
    what: &str,
    status: u16,
    etag: Option<String>,
    body: String,
) -> Result<Fetched, FetchError> {
    match status {
        200 => Ok(Fetched::Document { body, etag }),
        304 => Ok(Fetched::NotModified),
        404 => Ok(Fetched::NotFound),
        _ => Err(FetchError::Status {
            what: what.to_owned(),
            status: status_text(status),
            message: ErrorAnswer::parse(body.as_bytes()).message,
        }),
    }
}

impl Fetch for LambdaFetcher {
    fn source(&self) -> Source {
        Source::Lambda
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(self.invoke(request))
    }
}

/// What the tier says it is, in the event's `user-agent` header and request context.
const AGENT: &str = concat!("promptops-runtime/", env!("CARGO_PKG_VERSION"));

/// The Function URL event (payload format 2.0) for the resolve request, as the type the
/// registry's `lambda_http` reads it into: one definition of the event for both ends.
fn function_url_event(request: &FetchRequest<'_>) -> ApiGatewayV2httpRequest {
    // Ids are dotted `[a-z0-9_-]` segments and modes are fixed words: nothing to escape.
    let path = routes::resolve(request.id);
    let mut query = format!("mode={}", request.mode);
    let mut parameters = HashMap::from([("mode".to_owned(), request.mode.as_str().to_owned())]);
    if let Some(version) = request.version {
        query.push_str(&format!("&version={version}"));
        parameters.insert("version".to_owned(), version.to_string());
    }
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
    // The ETag comes from an earlier answer. One that is not a valid header value cannot be
    // sent; without it the registry answers with the whole document instead of a 304, which
    // costs bytes, where failing the request would cost a resolution.
    if let Some(etag) = request
        .etag
        .and_then(|etag| HeaderValue::from_str(etag).ok())
    {
        headers.insert(IF_NONE_MATCH, etag);
    }

    // The event types are `#[non_exhaustive]`: built from their defaults, field by field.
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = Method::GET;
    http.path = Some(path.clone());
    http.protocol = Some("HTTP/1.1".to_owned());
    http.source_ip = Some("127.0.0.1".to_owned());
    http.user_agent = Some(AGENT.to_owned());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(DEFAULT_ROUTE.to_owned());
    context.stage = Some(DEFAULT_ROUTE.to_owned());
    context.http = http;

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".to_owned());
    event.route_key = Some(DEFAULT_ROUTE.to_owned());
    event.raw_path = Some(path);
    event.raw_query_string = Some(query);
    event.query_string_parameters = QueryMap::from(parameters);
    event.headers = headers;
    event.request_context = context;
    event.is_base64_encoded = false;
    event
}

/// The route key and stage of a Function URL's events: a Function URL has one route.
const DEFAULT_ROUTE: &str = "$default";

/// A Function URL response, as the registry's function returns it.
///
/// Not `aws_lambda_events::apigw::ApiGatewayV2httpResponse`, the type the registry's
/// `lambda_http` writes: its `cookies` has no serde default, so it refuses a payload-2.0
/// response without `cookies`, which Lambda accepts from a function (every field but
/// `statusCode` may be left out). This reads both; a test reads the registry's type through it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionUrlResponse {
    status_code: u16,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    is_base64_encoded: bool,
}

/// The document a failed function returns.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionError {
    #[serde(default)]
    error_type: String,
    #[serde(default)]
    error_message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::Version;

    #[test]
    fn the_event_is_a_function_url_get_with_the_mode_version_and_etag() {
        let version: Version = "3".parse().expect("a version");
        let event = function_url_event(&FetchRequest {
            id: "customer_support.intent_classifier",
            version: Some(version),
            mode: promptops_registry_api::Mode::Staging,
            etag: Some("\"abc\""),
        });
        let event = serde_json::to_value(&event).expect("JSON");
        assert_eq!(event["version"], "2.0");
        assert_eq!(
            event["rawPath"],
            "/prompts/customer_support.intent_classifier"
        );
        assert_eq!(event["rawQueryString"], "mode=staging&version=3");
        assert_eq!(event["queryStringParameters"]["version"], "3");
        assert_eq!(event["requestContext"]["http"]["method"], "GET");
        assert_eq!(event["headers"]["if-none-match"], "\"abc\"");
    }

    #[test]
    fn an_unpinned_request_without_etag_sends_neither() {
        let event = function_url_event(&FetchRequest {
            id: "a.b",
            version: None,
            mode: promptops_registry_api::Mode::Production,
            etag: None,
        });
        let event = serde_json::to_value(&event).expect("JSON");
        assert_eq!(event["rawQueryString"], "mode=production");
        assert!(event["headers"].get("if-none-match").is_none());
        assert!(event["queryStringParameters"].get("version").is_none());
    }

    #[test]
    fn the_event_carries_the_function_url_context() {
        let event = function_url_event(&FetchRequest {
            id: "a.b",
            version: None,
            mode: promptops_registry_api::Mode::Production,
            etag: None,
        });
        let event = serde_json::to_value(&event).expect("JSON");
        assert_eq!(event["routeKey"], "$default");
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["headers"]["accept"], "application/json");
        assert_eq!(event["headers"]["user-agent"], AGENT);
        let context = &event["requestContext"];
        assert_eq!(context["routeKey"], "$default");
        assert_eq!(context["stage"], "$default");
        assert_eq!(
            context["http"],
            serde_json::json!({
                "method": "GET",
                "path": "/prompts/a.b",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": AGENT,
            })
        );
    }

    /// The registry's Lambda entry point parses events with `lambda_http` (HTTP API and REST
    /// enabled, REST tried first): the event must come out as the HTTP API request it means.
    #[test]
    fn the_registrys_parser_reads_the_event_as_an_http_api_get() {
        use lambda_http::request::RequestContext;
        use lambda_http::RequestExt as _;

        let version: Version = "7".parse().expect("a version");
        let event = function_url_event(&FetchRequest {
            id: "customer_support.intent_classifier",
            version: Some(version),
            mode: promptops_registry_api::Mode::Staging,
            etag: Some("\"abc\""),
        });
        let json = serde_json::to_string(&event).expect("JSON");
        let request = lambda_http::request::from_str(&json).expect("an HTTP API request");
        assert!(matches!(
            request.request_context_ref(),
            Some(RequestContext::ApiGatewayV2(_))
        ));
        assert_eq!(request.method(), "GET");
        assert_eq!(
            request.uri().path(),
            "/prompts/customer_support.intent_classifier"
        );
        let query = request.query_string_parameters();
        assert_eq!(query.first("mode"), Some("staging"));
        assert_eq!(query.first("version"), Some("7"));
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("if-none-match").as_deref(), Some("\"abc\""));
        assert_eq!(header("accept").as_deref(), Some("application/json"));
        assert_eq!(header("user-agent").as_deref(), Some(AGENT));
    }

    #[test]
    fn an_etag_that_is_no_header_value_is_left_out() {
        let event = function_url_event(&FetchRequest {
            id: "a.b",
            version: None,
            mode: promptops_registry_api::Mode::Production,
            etag: Some("\"a\nb\""),
        });
        assert!(event.headers.get(IF_NONE_MATCH).is_none());
    }

    #[test]
    fn a_function_name_with_spaces_or_nothing_is_refused() {
        assert!(LambdaFetcher::new("  ").is_err());
        assert!(LambdaFetcher::new("prompt registry").is_err());
        let fetcher = LambdaFetcher::new(" arn:aws:lambda:eu-west-1:1:function:reg:live ")
            .expect("an ARN with an alias");
        assert_eq!(
            fetcher.function(),
            "arn:aws:lambda:eu-west-1:1:function:reg:live"
        );
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    /// What the registry's `lambda_http` writes for a payload-2.0 request.
    fn registry_response(status: i64, etag: &str, body: &str) -> String {
        use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
        use aws_lambda_events::encodings::Body;

        let mut response = ApiGatewayV2httpResponse::default();
        response.status_code = status;
        response
            .headers
            .insert("etag", HeaderValue::from_str(etag).expect("a header value"));
        response.body = Some(Body::Text(body.to_owned()));
        serde_json::to_string(&response).expect("JSON")
    }

    #[test]
    fn the_registrys_response_type_reads_as_a_function_url_response() {
        let json = registry_response(200, "\"e\"", r#"{"id":"a.b"}"#);
        let response: FunctionUrlResponse = serde_json::from_str(&json).expect("readable");
        assert_eq!(response.status_code, 200);
        assert_eq!(
            response.headers.get("etag").map(String::as_str),
            Some("\"e\"")
        );
        assert_eq!(response.body, r#"{"id":"a.b"}"#);
        assert!(!response.is_base64_encoded);
    }

    #[test]
    fn a_response_without_cookies_is_read_though_the_event_type_refuses_it() {
        // Why the tier keeps its own response type (see `FunctionUrlResponse`).
        let json = r#"{"statusCode":304,"headers":{"etag":"\"e\""}}"#;
        assert!(
            serde_json::from_str::<aws_lambda_events::apigw::ApiGatewayV2httpResponse>(json)
                .is_err()
        );
        let response: FunctionUrlResponse = serde_json::from_str(json).expect("readable");
        assert_eq!(response.status_code, 304);
        assert_eq!(response.body, "");
    }

    #[test]
    fn statuses_map_to_answers_and_errors_carry_the_message() {
        assert_eq!(
            interpret_answer("GET x", 200, Some("\"e\"".into()), "{}".into()).unwrap(),
            Fetched::Document {
                body: "{}".into(),
                etag: Some("\"e\"".into())
            }
        );
        assert_eq!(
            interpret_answer("GET x", 304, None, String::new()).unwrap(),
            Fetched::NotModified
        );
        assert_eq!(
            interpret_answer("GET x", 404, None, "{}".into()).unwrap(),
            Fetched::NotFound
        );
        let refused = interpret_answer("GET x", 403, None, r#"{"Message":"bad sig"}"#.into());
        assert_eq!(
            refused.unwrap_err().to_string(),
            "GET x: 403 Forbidden bad sig"
        );
        let failed = interpret_answer("GET x", 503, None, "not json".into());
        assert_eq!(
            failed.unwrap_err().to_string(),
            "GET x: 503 Service Unavailable"
        );
    }
}
