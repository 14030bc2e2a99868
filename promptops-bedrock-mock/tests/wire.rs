//! The wire format as a plain HTTP client sees it (no SDK): status codes, the
//! `x-amzn-ErrorType` header, request ids, JSON bodies, percent-decoded model ids.

use promptops_bedrock_mock::{Fault, MockBedrock, Operation, Script};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const MODEL_PATH: &str = "anthropic.claude-3-haiku-20240307-v1%3A0";

/// Sends one HTTP/1.1 request and returns (status line, headers lowercased, body).
async fn post(mock: &MockBedrock, path: &str, body: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(mock.addr()).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap();
    (
        status.to_owned(),
        headers.to_ascii_lowercase(),
        body.to_owned(),
    )
}

const CONVERSE: &str = r#"{"messages":[{"role":"user","content":[{"text":"hello there"}]}]}"#;

#[tokio::test]
async fn converse_answers_then_faults_in_script_order() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(
        MODEL,
        Script::answer("hi!")
            .throttle(1)
            .fail_first(1, Fault::ServiceUnavailable),
    );
    let path = format!("/model/{MODEL_PATH}/converse");

    let (status, headers, _) = post(&mock, &path, CONVERSE).await;
    assert_eq!(status, "HTTP/1.1 429 Too Many Requests");
    assert!(
        headers.contains("x-amzn-errortype: throttlingexception"),
        "{headers}"
    );
    assert!(headers.contains("x-amzn-requestid: mock-"), "{headers}");

    let (status, headers, _) = post(&mock, &path, CONVERSE).await;
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert!(headers.contains("x-amzn-errortype: serviceunavailableexception"));

    let (status, _, body) = post(&mock, &path, CONVERSE).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["output"]["message"]["content"][0]["text"], "hi!");
    assert_eq!(body["stopReason"], "end_turn");
    assert_eq!(body["usage"]["inputTokens"], 2);
    assert_eq!(body["usage"]["outputTokens"], 1);

    let requests = mock.requests_for(MODEL);
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.operation == Operation::Converse));
    assert!(!requests[0].signed);
    assert_eq!(requests[2].outcome, "ok");
}

#[tokio::test]
async fn invoke_validates_native_bodies_and_unknown_models_are_404() {
    let mock = MockBedrock::start_in_background().unwrap();
    mock.script(MODEL, Script::answer("ok").usage(11, 2));
    let path = format!("/model/{MODEL_PATH}/invoke");

    let (status, headers, body) = post(&mock, &path, r#"{"messages":[]}"#).await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert!(headers.contains("x-amzn-errortype: validationexception"));
    assert!(body.contains("anthropic_version"), "{body}");

    let good = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,
                   "messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}"#;
    let (status, _, body) = post(&mock, &path, good).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["content"][0]["text"], "ok");
    assert_eq!(body["usage"]["input_tokens"], 11);
    assert_eq!(body["usage"]["output_tokens"], 2);

    let (status, headers, _) = post(&mock, "/model/nobody.model-v1/converse", CONVERSE).await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(headers.contains("x-amzn-errortype: resourcenotfoundexception"));
}
