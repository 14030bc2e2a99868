//! The registry on AWS Lambda behind a Function URL (`AWS_IAM`): the same router, through
//! `lambda_http`.
//!
//! The caller's IAM ARN, taken from the request context the Function URL signs, becomes the
//! request's [`IamCaller`]; the configured ARN-to-role map decides what it may do. A direct
//! invoke carries no authorizer and is read-only.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;

use crate::auth::IamCaller;

/// The IAM ARN of the caller of a Function URL request, if the request carries one.
pub fn caller_arn(context: Option<&RequestContext>) -> Option<String> {
    match context? {
        RequestContext::ApiGatewayV2(context) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone()),
        RequestContext::ApiGatewayV1(context) => context.identity.user_arn.clone(),
        _ => None,
    }
}

/// Middleware: puts the request's [`IamCaller`] into its extensions for the router's
/// authentication.
pub async fn with_iam_caller(mut request: Request, next: Next) -> Response {
    let arn = caller_arn(request.request_context_ref());
    request.extensions_mut().insert(IamCaller(arn));
    next.run(request).await
}
