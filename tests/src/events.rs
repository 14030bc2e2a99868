//! The events AWS hands a Lambda function, as JSON, for tests that invoke a function binary or
//! call a handler: an HTTP request through a Function URL or an API Gateway HTTP API (payload
//! 2.0), through an API Gateway REST API (payload 1.0), and an S3 notification record.
//!
//! They are written out as the JSON AWS documents rather than built from `aws_lambda_events`'
//! types on purpose: a test's event is the outside world's wire format, and must not change
//! when the function's own types do.

use base64::Engine as _;
use serde_json::{json, Value};

/// A Function URL / API Gateway HTTP API (payload 2.0) request for `method path?query` with
/// a JSON `body` (none when `None`), as Lambda delivers it.
pub fn http_v2_event(method: &str, path: &str, query: &str, body: Option<&str>) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "content-type": "application/json",
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "user-agent": "curl/8.5.0"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "f1c2d3e4-0000-4000-8000-000000000001",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1_767_225_600_000_u64
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = Value::from(body);
    }
    event
}

/// `event` with its body base64-encoded and `isBase64Encoded` set, as Lambda sends a body it
/// does not take for text.
pub fn base64_encoded(mut event: Value) -> Value {
    if let Some(body) = event["body"].as_str() {
        event["body"] = Value::from(base64::engine::general_purpose::STANDARD.encode(body));
    }
    event["isBase64Encoded"] = Value::Bool(true);
    event
}

/// An API Gateway REST API (payload 1.0) request for `method /classify` with `body`.
pub fn http_v1_event(method: &str, body: &str) -> Value {
    json!({
        "resource": "/classify",
        "path": "/classify",
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": null,
        "requestContext": {
            "resourcePath": "/classify",
            "httpMethod": method,
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// `event` (payload 2.0) as a Function URL with `AuthType = AWS_IAM` delivers it: with the
/// signed caller `arn` in the request context's IAM authorizer.
pub fn with_iam_caller(mut event: Value, arn: &str) -> Value {
    event["requestContext"]["authorizer"] = json!({"iam": {
        "accessKey": "AKIA", "accountId": "123456789012", "callerId": "AROA",
        "userArn": arn, "userId": "AROA:session"
    }});
    event
}

/// The status and JSON body of a payload 2.0 response, its body base64-decoded when
/// `isBase64Encoded` says so; the body is `null` only when it is empty. Panics on a body that
/// does not decode or is not JSON: a function's answers are JSON, errors included.
pub fn http_answer(response: &Value) -> (u64, Value) {
    let status = response["statusCode"].as_u64().unwrap_or_default();
    let raw = response["body"].as_str().unwrap_or_default();
    let text = if response["isBase64Encoded"] == true {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_else(|err| panic!("status {status}: the body is not base64 ({err}): {raw}"));
        String::from_utf8(bytes)
            .unwrap_or_else(|err| panic!("status {status}: the body is not UTF-8: {err}"))
    } else {
        raw.to_owned()
    };
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("status {status}: the body is not JSON ({err}): {text}"));
    (status, body)
}

/// A key written the way S3 notifications write it: form-encoded (`+` for a space, `%XX` for
/// everything but unreserved characters and `/`).
pub fn s3_event_key(key: &str) -> String {
    let mut out = String::new();
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// One S3 `ObjectCreated:Put` notification record for `bucket`/`key`.
pub fn s3_record(bucket: &str, key: &str) -> Value {
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T01:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "prompt-inputs",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": s3_event_key(key), "size": 100, "sequencer": "0055AED6DCD90281E5"}
        }
    })
}
