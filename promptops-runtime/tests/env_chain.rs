//! The standard AWS configuration chain: region, credentials and
//! `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` from the environment select and configure Bedrock.
//! (Its own test binary: it sets process environment variables.)

// The classifier alone: this binary needs none of the other shared specs.
#[path = "common/intent_classifier.rs"]
mod intent_classifier;

use intent_classifier::{Intent, SONNET};
use promptops_bedrock_mock::{MockBedrock, Script};
use promptops_runtime::{BedrockApi, ModelConfig, NoVars, Runtime};

#[tokio::test]
async fn runtime_from_env_talks_to_the_configured_endpoint() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::answer("other"));

    let missing = std::env::temp_dir().join("promptops-no-such-aws-file");
    for name in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_SESSION_TOKEN",
        "PROMPTOPS_MODEL",
    ] {
        std::env::remove_var(name);
    }
    std::env::set_var("AWS_CONFIG_FILE", &missing);
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &missing);
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDENVTESTKEY");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "env-test-secret");
    std::env::set_var("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", mock.endpoint_url());
    std::env::set_var("PROMPTOPS_RUNTIME", "batch");
    std::env::set_var("PROMPTOPS_MAX_ATTEMPTS", "2");

    assert_eq!(
        ModelConfig::from_env(),
        Ok(ModelConfig::Bedrock(BedrockApi::Converse))
    );
    let runtime = Runtime::from_env().await.unwrap();
    assert_eq!(runtime.name(), "batch");
    assert_eq!(runtime.retry_policy().max_attempts, 2);
    assert_eq!(runtime.model().backend(), "bedrock-converse");

    let done = intent_classifier::handle()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap();
    assert_eq!(done.output, Intent::Other);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].signed);
}
