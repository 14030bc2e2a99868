//! Which environment an input belongs to, and the S3 key it arrived under.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Stage, StageError};

/// Where inputs are uploaded.
pub const INPUT_PREFIX: &str = "prompt_inputs/";
/// Where S3 templates are read from.
pub const TEMPLATE_PREFIX: &str = "prompt_templates/";

/// A deployment environment: the prefix outputs and errors are written under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Env {
    /// Pull requests deploy here.
    Beta,
    /// Merges to main deploy here.
    Prod,
}

impl Env {
    /// `beta` or `prod`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Env::Beta => "beta",
            Env::Prod => "prod",
        }
    }

    /// `<env>/outputs/`.
    pub fn outputs_prefix(self) -> String {
        format!("{}/outputs/", self.as_str())
    }

    /// `<env>/errors/`.
    pub fn errors_prefix(self) -> String {
        format!("{}/errors/", self.as_str())
    }

    /// `<env>/generated/`: where a Step Functions execution's invoke stage keeps the model's
    /// text for its publish stage (see `Pipeline::store_generation`).
    pub fn generated_prefix(self) -> String {
        format!("{}/generated/", self.as_str())
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is neither `beta` nor `prod`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an environment (expected `beta` or `prod`)")]
pub struct BadEnv(pub String);

impl FromStr for Env {
    type Err = BadEnv;

    fn from_str(text: &str) -> Result<Self, BadEnv> {
        match text.trim().to_ascii_lowercase().as_str() {
            "beta" => Ok(Env::Beta),
            "prod" => Ok(Env::Prod),
            _ => Err(BadEnv(text.to_owned())),
        }
    }
}

/// Decodes an S3 notification key: S3 writes keys form-encoded (`+` for a space, `%XX` for
/// other bytes), so `prompt_inputs/my+file%C3%A9.json` is `prompt_inputs/my filé.json`.
pub fn decode_key(raw: &str) -> Result<String, StageError> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| {
            StageError::new(
                Stage::Parse,
                format!("key {raw:?} is not valid UTF-8 once decoded"),
            )
        })
}

/// The file name of a key (what follows the last `/`).
pub fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Checks that `key` is an input key: `prompt_inputs/<name>.json`, one level deep.
pub fn check_input_key(key: &str) -> Result<(), StageError> {
    let ok = key.strip_prefix(INPUT_PREFIX).is_some_and(|name| {
        !name.contains('/') && name.len() > ".json".len() && name.ends_with(".json")
    });
    if ok {
        Ok(())
    } else {
        Err(StageError::new(
            Stage::Parse,
            format!("{key:?} is not an input key (expected {INPUT_PREFIX}<name>.json)"),
        ))
    }
}

/// The input's environment: the object's `env` metadata, then the file name's `beta-`/`prod-`
/// prefix, then `default` (the deployment's `DEFAULT_ENV`).
pub fn resolve_env(
    metadata_env: Option<&str>,
    key: &str,
    default: Option<Env>,
) -> Result<Env, StageError> {
    if let Some(value) = metadata_env.filter(|value| !value.trim().is_empty()) {
        return value.parse().map_err(|err: BadEnv| {
            StageError::new(Stage::Parse, format!("object metadata env: {err}"))
        });
    }
    let name = file_name(key);
    if name.starts_with("beta-") {
        return Ok(Env::Beta);
    }
    if name.starts_with("prod-") {
        return Ok(Env::Prod);
    }
    default.ok_or_else(|| {
        StageError::new(
            Stage::Parse,
            format!(
                "{key:?} names no environment: no `env` metadata, no beta-/prod- file-name prefix, and DEFAULT_ENV is not set"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(
            decode_key("prompt_inputs/my+file.json").unwrap(),
            "prompt_inputs/my file.json"
        );
        assert_eq!(
            decode_key("prompt_inputs/a%2Bb.json").unwrap(),
            "prompt_inputs/a+b.json"
        );
        assert_eq!(
            decode_key("prompt_inputs/caf%C3%A9.json").unwrap(),
            "prompt_inputs/café.json"
        );
        assert_eq!(
            decode_key("prompt_inputs/%FF.json").unwrap_err().stage,
            Stage::Parse
        );
    }

    #[test]
    fn metadata_then_prefix_then_default() {
        let key = "prompt_inputs/prod-welcome.json";
        assert_eq!(resolve_env(Some("beta"), key, None).unwrap(), Env::Beta);
        assert_eq!(resolve_env(None, key, Some(Env::Beta)).unwrap(), Env::Prod);
        assert_eq!(
            resolve_env(Some(""), "prompt_inputs/beta-x.json", None).unwrap(),
            Env::Beta
        );
        assert_eq!(
            resolve_env(None, "prompt_inputs/x.json", Some(Env::Prod)).unwrap(),
            Env::Prod
        );
        assert!(resolve_env(None, "prompt_inputs/x.json", None).is_err());
        assert!(resolve_env(Some("staging"), key, None).is_err());
    }

    #[test]
    fn only_top_level_json_under_prompt_inputs_is_an_input() {
        assert!(check_input_key("prompt_inputs/a.json").is_ok());
        for key in [
            "prompt_inputs/.json",
            "prompt_inputs/a/b.json",
            "beta/outputs/a.json",
            "prompt_inputs/a.txt",
        ] {
            assert!(check_input_key(key).is_err(), "{key}");
        }
    }
}
