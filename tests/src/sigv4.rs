//! A stand-in for the IAM check of a Lambda Function URL with `AuthType = AWS_IAM`: an axum
//! middleware that verifies a request's SigV4 signature before the wrapped router sees it, so
//! the clients' signing is tested end to end against the real registry router.
//!
//! The check is independent of the code under test: from what arrived (method, path and query,
//! the headers named in `SignedHeaders`, the body) and the known secret of the access key, it
//! signs the request again with the SDK's signer (`aws-sigv4`) at the request's `x-amz-date`,
//! and compares the result with the `Authorization` header received. It also checks the
//! credential scope (region, service, date) and that `x-amz-date` is within five minutes of
//! now, as AWS does. A request that fails gets `403` with a JSON `{"Message": ...}` body, the
//! shape a Function URL answers with.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::date_time::{DateTime, Format};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How far `x-amz-date` may be from the server's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// What AWS answers when the recomputed signature differs.
pub const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the \
                                      signature you provided. Check your AWS Secret Access Key \
                                      and signing method.";

/// The caller a verified request came from: put into the request's extensions for the wrapped
/// router (map it to whatever identity type that router reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCaller {
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The IAM ARN registered for that key.
    pub arn: String,
}

/// The known access keys and the scope requests must be signed for.
#[derive(Debug, Clone)]
pub struct Verifier {
    region: String,
    service: String,
    keys: HashMap<String, (String, String)>,
}

impl Verifier {
    /// Accepts requests signed for `region` and `service` (`lambda` for a Function URL).
    pub fn new(region: &str, service: &str) -> Self {
        Verifier {
            region: region.to_owned(),
            service: service.to_owned(),
            keys: HashMap::new(),
        }
    }

    /// Knows `access_key_id` with `secret`, calling as `arn`.
    pub fn with_key(mut self, access_key_id: &str, secret: &str, arn: &str) -> Self {
        self.keys.insert(
            access_key_id.to_owned(),
            (secret.to_owned(), arn.to_owned()),
        );
        self
    }

    /// Checks one request; `Err` says why it is refused.
    pub fn verify(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedCaller, String> {
        let header = |name: &str| -> Result<&str, String> {
            headers
                .get(name)
                .ok_or_else(|| format!("Missing {name} header"))?
                .to_str()
                .map_err(|_| format!("The {name} header is not text"))
        };
        let authorization = header("authorization")?;
        let parsed = Authorization::parse(authorization)?;
        let scope: Vec<&str> = parsed.credential.split('/').collect();
        let [access_key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(format!(
                "Malformed credential scope `{}`",
                parsed.credential
            ));
        };
        if *region != self.region {
            return Err(format!(
                "Credential should be scoped to a valid region, not '{region}'"
            ));
        }
        if *service != self.service {
            return Err(format!(
                "Credential should be scoped to correct service: '{}'",
                self.service
            ));
        }
        let (secret, arn) = self
            .keys
            .get(*access_key_id)
            .ok_or("The security token included in the request is invalid.")?;

        let amz_date = header("x-amz-date")?;
        let time = parse_amz_date(amz_date)?;
        if !amz_date.starts_with(date) {
            return Err("Credential date does not match x-amz-date".to_owned());
        }
        let skew = now
            .duration_since(time)
            .unwrap_or_else(|err| err.duration());
        if skew > MAX_SKEW {
            return Err(format!(
                "Signature expired: {amz_date} is more than 5 minutes from now"
            ));
        }

        // Sign again what arrived: the headers the client named, the body as received.
        let mut signed = Vec::new();
        for name in parsed.signed_headers.split(';') {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .map(|value| value.to_str().map_err(|_| format!("{name} is not text")))
                .collect::<Result<_, _>>()?;
            if values.is_empty() {
                return Err(format!("Signed header {name} is missing"));
            }
            signed.extend(values.into_iter().map(|value| (name, value)));
        }
        let host = header("host")?;
        let url = format!("http://{host}{path_and_query}");
        let session_token = headers
            .get("x-amz-security-token")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let identity: Identity =
            Credentials::new(*access_key_id, secret, session_token, None, "verifier").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|err| err.to_string())?
            .into();
        let request = SignableRequest::new(
            method.as_str(),
            url,
            signed.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|err| err.to_string())?;
        let (instructions, _) = sign(request, &params)
            .map_err(|err| err.to_string())?
            .into_parts();
        let expected = instructions
            .headers()
            .find(|(name, _)| *name == "authorization")
            .map(|(_, value)| value.to_owned())
            .ok_or("the signer produced no authorization header")?;
        if expected != authorization {
            return Err(SIGNATURE_MISMATCH.to_owned());
        }
        Ok(VerifiedCaller {
            access_key_id: (*access_key_id).to_owned(),
            arn: arn.clone(),
        })
    }
}

/// The parts of `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization<'a> {
    credential: &'a str,
    signed_headers: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(text: &'a str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or("Authorization header requires the AWS4-HMAC-SHA256 algorithm")?;
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',').map(str::trim) {
            match part.split_once('=') {
                Some(("Credential", value)) => credential = Some(value),
                Some(("SignedHeaders", value)) => signed_headers = Some(value),
                Some(("Signature", value)) => signature = Some(value),
                _ => return Err(format!("Malformed Authorization header part `{part}`")),
            }
        }
        match (credential, signed_headers, signature) {
            (Some(credential), Some(signed_headers), Some(_)) => Ok(Authorization {
                credential,
                signed_headers,
            }),
            _ => Err(
                "Authorization header requires Credential, SignedHeaders and Signature".to_owned(),
            ),
        }
    }
}

/// `20150830T123600Z` as a time.
fn parse_amz_date(text: &str) -> Result<SystemTime, String> {
    let bad = || format!("Malformed x-amz-date `{text}`");
    if text.len() != 16 || !text.is_ascii() {
        return Err(bad());
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    let time = DateTime::from_str(&rfc3339, Format::DateTime).map_err(|_| bad())?;
    SystemTime::try_from(time).map_err(|_| bad())
}

/// Most a verified request body may be (the registry's prompts are small).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The middleware: `router.layer(axum::middleware::from_fn_with_state(Arc::new(verifier),
/// sigv4::require_signature))`. A verified request reaches the router with a
/// [`VerifiedCaller`] in its extensions; any other gets `403 {"Message": …}`.
pub async fn require_signature(
    State(verifier): State<Arc<Verifier>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return forbidden("The request body could not be read");
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    match verifier.verify(
        &parts.method,
        &path_and_query,
        &parts.headers,
        &body,
        SystemTime::now(),
    ) {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
        Err(why) => forbidden(&why),
    }
}

fn forbidden(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [
            ("content-type", "application/json"),
            ("x-amzn-errortype", "AccessDeniedException"),
        ],
        serde_json::json!({ "Message": message }).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "verifier-test-secret";

    fn signed(secret: &str, time: SystemTime, region: &str) -> (HeaderMap, &'static str) {
        let identity: Identity = Credentials::new("AKID", secret, None, None, "t").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("lambda")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let request = SignableRequest::new(
            "POST",
            "http://127.0.0.1:9/prompts?x=1",
            [("content-type", "application/yaml")].into_iter(),
            SignableBody::Bytes(b"body"),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:9".parse().unwrap());
        headers.insert("content-type", "application/yaml".parse().unwrap());
        for (name, value) in instructions.headers() {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        (headers, "/prompts?x=1")
    }

    #[test]
    fn only_a_correct_recent_signature_passes() {
        let verifier = Verifier::new("eu-west-1", "lambda").with_key("AKID", SECRET, "arn:x");
        let now = SystemTime::now();
        let (headers, path) = signed(SECRET, now, "eu-west-1");
        let ok = verifier.verify(&Method::POST, path, &headers, b"body", now);
        assert_eq!(ok.map(|caller| caller.arn), Ok("arn:x".to_owned()));

        let tampered = verifier.verify(&Method::POST, path, &headers, b"bodx", now);
        assert_eq!(tampered.unwrap_err(), SIGNATURE_MISMATCH);
        let other_path = verifier.verify(&Method::POST, "/prompts?x=2", &headers, b"body", now);
        assert_eq!(other_path.unwrap_err(), SIGNATURE_MISMATCH);
        let (wrong, _) = signed("wrong", now, "eu-west-1");
        let err = verifier.verify(&Method::POST, path, &wrong, b"body", now);
        assert_eq!(err.unwrap_err(), SIGNATURE_MISMATCH);
        let (elsewhere, _) = signed(SECRET, now, "us-east-1");
        let err = verifier.verify(&Method::POST, path, &elsewhere, b"body", now);
        assert!(err.unwrap_err().contains("region"));
        let later = now + Duration::from_secs(6 * 60);
        let err = verifier.verify(&Method::POST, path, &headers, b"body", later);
        assert!(err.unwrap_err().contains("expired"));
        let err = verifier.verify(&Method::POST, path, &HeaderMap::new(), b"body", now);
        assert!(err.unwrap_err().contains("authorization"));
    }
}
