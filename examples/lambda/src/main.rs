//! The Lambda entry point: JSON logging, the runtime built once at cold start, then
//! `lambda_runtime` feeding every event to [`promptops_lambda::handle_with_deadline`].

use lambda_runtime::{service_fn, LambdaEvent};
use promptops_runtime::DeadlineReader;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // First: a deadline earlier than this is not a real one (see promptops_runtime::deadline).
    let deadlines = DeadlineReader::new();
    promptops_runtime::events::init_json_logging()?;
    let runtime = promptops_lambda::runtime_from_env().await?;
    let deadlines = &deadlines;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let runtime = runtime.clone();
        async move {
            // A frozen function refreshes nothing in the background: revalidate stale prompts
            // now, within the warm budget (0 by default: a stale prompt is served at once and
            // the revalidation lands before the next invocation freezes).
            let budget = runtime
                .resolver()
                .map(|resolver| resolver.config().warm_budget)
                .unwrap_or_default();
            promptops_lambda::revalidate_prompts(&runtime, budget).await;
            let (payload, context) = event.into_parts();
            // AWS sends an epoch-ms timestamp; local emulators send a duration or 0, which
            // would leave the model no time at all: those are no deadline.
            let deadline = deadlines.read(
                context.deadline,
                &context.request_id,
                promptops_lambda::RUNTIME_NAME,
            );
            promptops_lambda::handle_with_deadline(&runtime, &context.request_id, deadline, payload)
                .await
        }
    }))
    .await
}
