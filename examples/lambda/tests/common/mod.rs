//! Shared by the tests that run the built function binary against a local Lambda Runtime API
//! (`end_to_end.rs`, `registry.rs`).

use std::time::Duration;

use promptops_tests::lambda_runtime::{Function, FunctionCommand, Report, RuntimeApi};
use serde_json::Value;

/// How long a test waits for the function.
pub const WAIT: Duration = Duration::from_secs(60);

/// The built function binary polling `api`, with the Lambda environment plus `env`; what it
/// prints is kept for [`printed_events`].
pub fn spawn_function(api: &RuntimeApi, env: &[(&str, &str)]) -> Function {
    FunctionCommand::new(env!("CARGO_BIN_EXE_promptops-lambda"), api)
        .env("RUST_LOG", "info")
        // `with_name("lambda")` must win over this.
        .env("PROMPTOPS_RUNTIME", "batch")
        .envs(env.iter().copied())
        .capture_stdout()
        .spawn()
}

/// Stops `function` and returns every JSON object it printed.
pub async fn printed_events(function: Function) -> Vec<Value> {
    function
        .stop()
        .await
        .iter()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("{line:?} is not JSON: {err}"))
        })
        .collect()
}

/// The body of a response report, as JSON.
pub fn response_json(report: &Report) -> Value {
    match report {
        Report::Response { .. } => report.json().expect("a JSON response"),
        other => panic!("expected a response, got {other:?}"),
    }
}
