//! Choosing the model by configuration.
//!
//! `PROMPTOPS_MODEL` selects the backend explicitly:
//!
//! | value | model |
//! |---|---|
//! | `local` | [`LocalModel`] (offline, deterministic) |
//! | `bedrock`, `bedrock-converse` | [`BedrockModel`] with the Converse API |
//! | `bedrock-invoke` | [`BedrockModel`] with InvokeModel native bodies |
//!
//! When it is unset, Bedrock (Converse) is used if any AWS setting is present — `AWS_REGION`,
//! `AWS_DEFAULT_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` or
//! `AWS_ENDPOINT_URL` — and the local model otherwise, so jobs run anywhere by default.

use std::sync::Arc;

#[cfg(feature = "bedrock")]
use crate::bedrock::BedrockModel;
use crate::local::LocalModel;
use crate::model::{BedrockApi, Model};

/// Environment variable selecting the model backend.
pub const MODEL_ENV: &str = "PROMPTOPS_MODEL";

/// Environment variable naming the runtime in events (`lambda`, `batch`, ...).
pub const RUNTIME_ENV: &str = "PROMPTOPS_RUNTIME";

/// AWS settings whose presence selects Bedrock when [`MODEL_ENV`] is unset.
pub const AWS_SETTINGS: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_ENDPOINT_URL",
];

/// Which model serves calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelConfig {
    /// The offline [`LocalModel`].
    Local,
    /// Amazon Bedrock, configured from the standard AWS chain (needs the `bedrock` feature).
    #[cfg(feature = "bedrock")]
    Bedrock(BedrockApi),
}

/// An invalid configuration variable (the model's, or the registry's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} {problem}")]
pub struct ConfigError {
    /// The variable (`PROMPTOPS_MODEL`, `PROMPT_REGISTRY_URL`, ...).
    pub variable: &'static str,
    /// The rejected value.
    pub value: String,
    /// Why it was rejected.
    pub problem: String,
}

const UNKNOWN_BACKEND: &str = "is not one of local, bedrock, bedrock-converse, bedrock-invoke";

impl ModelConfig {
    /// Reads the process environment (see the module docs).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match lookup(MODEL_ENV).map(|value| value.trim().to_ascii_lowercase()) {
            Some(value) if value.is_empty() => Ok(Self::default_for(&lookup)),
            Some(value) => match value.as_str() {
                "local" => Ok(ModelConfig::Local),
                "bedrock" | "bedrock-converse" => Self::bedrock(value, BedrockApi::Converse),
                "bedrock-invoke" => Self::bedrock(value, BedrockApi::InvokeModel),
                _ => Err(ConfigError {
                    variable: MODEL_ENV,
                    value,
                    problem: UNKNOWN_BACKEND.to_owned(),
                }),
            },
            None => Ok(Self::default_for(&lookup)),
        }
    }

    /// `PROMPTOPS_MODEL` (read through `lookup`) when it is set, else the local model. Unlike
    /// [`from_lookup`](Self::from_lookup), AWS settings alone never select Bedrock: for jobs
    /// that could run up a bill without anyone asking (batch runs, eval gates in CI).
    pub fn from_lookup_or_local(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        match lookup(MODEL_ENV) {
            Some(value) if !value.trim().is_empty() => Self::from_lookup(lookup),
            _ => Ok(ModelConfig::Local),
        }
    }

    #[cfg(feature = "bedrock")]
    fn bedrock(_value: String, api: BedrockApi) -> Result<Self, ConfigError> {
        Ok(ModelConfig::Bedrock(api))
    }

    #[cfg(not(feature = "bedrock"))]
    fn bedrock(value: String, _api: BedrockApi) -> Result<Self, ConfigError> {
        Err(ConfigError {
            variable: MODEL_ENV,
            value,
            problem: "needs promptops-runtime's `bedrock` feature, which this build leaves out"
                .to_owned(),
        })
    }

    fn default_for(lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let aws = AWS_SETTINGS
            .iter()
            .any(|name| lookup(name).is_some_and(|value| !value.trim().is_empty()));
        match aws {
            #[cfg(feature = "bedrock")]
            true => ModelConfig::Bedrock(BedrockApi::Converse),
            // Without the `bedrock` feature AWS settings cannot be used, so they select nothing.
            _ => ModelConfig::Local,
        }
    }

    /// Builds the model (loading the AWS configuration chain for Bedrock).
    pub async fn build(self) -> Arc<dyn Model> {
        match self {
            ModelConfig::Local => Arc::new(LocalModel::new()),
            #[cfg(feature = "bedrock")]
            ModelConfig::Bedrock(api) => Arc::new(BedrockModel::from_env(api).await),
        }
    }
}

/// Variable that sets the repair turns of structured calls ([`Runtime::with_repair_turns`](crate::Runtime::with_repair_turns)).
pub const REPAIR_TURNS_ENV: &str = "PROMPTOPS_REPAIR_TURNS";

/// The most repair turns a structured call may make, whatever is asked: each is one more model
/// call, and an answer still wrong after three is not going to be right after thirty.
pub const MAX_REPAIR_TURNS: u32 = 3;

/// [`REPAIR_TURNS_ENV`] read through `lookup`: `None` when unset or empty, an error when it is
/// not a whole number from 0 to [`MAX_REPAIR_TURNS`].
pub fn repair_turns_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<u32>, ConfigError> {
    let Some(value) = lookup(REPAIR_TURNS_ENV) else {
        return Ok(None);
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    match trimmed.parse::<u32>() {
        Ok(turns) if turns <= MAX_REPAIR_TURNS => Ok(Some(turns)),
        _ => Err(ConfigError {
            variable: REPAIR_TURNS_ENV,
            value,
            problem: format!("is not a whole number from 0 to {MAX_REPAIR_TURNS}"),
        }),
    }
}

/// The runtime name for events: `PROMPTOPS_RUNTIME`, else `lambda` inside AWS Lambda, else
/// `local`.
pub fn runtime_name_from_env() -> String {
    if let Ok(name) = std::env::var(RUNTIME_ENV) {
        if !name.trim().is_empty() {
            return name.trim().to_owned();
        }
    }
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        return "lambda".to_owned();
    }
    "local".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repair_turns_are_a_small_whole_number() {
        let from = |value: &str| {
            let value = value.to_owned();
            repair_turns_from_lookup(move |name| (name == REPAIR_TURNS_ENV).then(|| value.clone()))
        };
        assert_eq!(repair_turns_from_lookup(|_| None), Ok(None));
        assert_eq!(from(" "), Ok(None));
        assert_eq!(from("0"), Ok(Some(0)));
        assert_eq!(from(" 2 "), Ok(Some(2)));
        for bad in ["4", "-1", "one", "1.5", "99999999999"] {
            let err = from(bad).unwrap_err();
            assert_eq!(err.variable, REPAIR_TURNS_ENV);
            assert!(err.to_string().contains("from 0 to 3"), "{err}");
        }
    }

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    #[cfg(feature = "bedrock")]
    fn local_without_aws_settings_bedrock_with_them() {
        assert_eq!(
            ModelConfig::from_lookup(lookup(&[])),
            Ok(ModelConfig::Local)
        );
        assert_eq!(
            ModelConfig::from_lookup(lookup(&[("AWS_REGION", "us-east-1")])),
            Ok(ModelConfig::Bedrock(BedrockApi::Converse))
        );
        assert_eq!(
            ModelConfig::from_lookup(lookup(&[("AWS_REGION", "us-east-1"), (MODEL_ENV, "local")])),
            Ok(ModelConfig::Local)
        );
        assert_eq!(
            ModelConfig::from_lookup(lookup(&[(MODEL_ENV, "Bedrock-Invoke")])),
            Ok(ModelConfig::Bedrock(BedrockApi::InvokeModel))
        );
        assert!(ModelConfig::from_lookup(lookup(&[(MODEL_ENV, "openai")])).is_err());
    }

    #[test]
    fn aws_settings_alone_never_select_bedrock_for_jobs() {
        let aws = [("AWS_REGION", "us-east-1"), ("AWS_PROFILE", "prod")];
        assert_eq!(
            ModelConfig::from_lookup_or_local(lookup(&aws)),
            Ok(ModelConfig::Local)
        );
        assert_eq!(
            ModelConfig::from_lookup_or_local(lookup(&[(MODEL_ENV, " ")])),
            Ok(ModelConfig::Local)
        );
        assert_eq!(
            ModelConfig::from_lookup_or_local(lookup(&[(MODEL_ENV, "LOCAL")])),
            Ok(ModelConfig::Local)
        );
        assert!(ModelConfig::from_lookup_or_local(lookup(&[(MODEL_ENV, "openai")])).is_err());
    }

    #[test]
    #[cfg(not(feature = "bedrock"))]
    fn without_the_feature_aws_settings_fall_back_to_local_and_bedrock_is_refused() {
        assert_eq!(
            ModelConfig::from_lookup(lookup(&[("AWS_REGION", "us-east-1")])),
            Ok(ModelConfig::Local)
        );
        let err = ModelConfig::from_lookup(lookup(&[(MODEL_ENV, "bedrock")])).unwrap_err();
        assert!(err.to_string().contains("`bedrock` feature"), "{err}");
        assert!(ModelConfig::from_lookup(lookup(&[(MODEL_ENV, "openai")])).is_err());
    }
}
