//! A prompt config: the JSON file uploaded under `prompt_inputs/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Stage, StageError};

/// Configs larger than this (1 MiB) are refused before they are parsed.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// What the output is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// A complete HTML document; the model's output is text in it, never markup.
    Html,
    /// The model's output as Markdown, verbatim.
    Md,
}

impl OutputFormat {
    /// The file extension: `html` or `md`.
    pub const fn extension(self) -> &'static str {
        match self {
            OutputFormat::Html => "html",
            OutputFormat::Md => "md",
        }
    }

    /// The object's `Content-Type`.
    pub const fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Html => "text/html; charset=utf-8",
            OutputFormat::Md => "text/markdown; charset=utf-8",
        }
    }
}

/// One prompt config. It names either a compiled-in prompt (`prompt`) or a template in the
/// bucket (`template`, read from `prompt_templates/`), never both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptConfig {
    /// A compiled-in prompt id, e.g. `marketing.welcome-email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// A template file name under `prompt_templates/`, e.g. `welcome_email.txt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The template's variables by name.
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    /// `html` or `md`.
    pub output_format: OutputFormat,
    /// The output's name; the input's file name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_slug: Option<String>,
    /// Caps the model's output length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// A Bedrock model id; else the deployment's `BEDROCK_MODEL_ID`; else the local model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

/// What a config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// A compiled-in prompt id.
    Prompt(&'a str),
    /// A template file under `prompt_templates/`.
    Template(&'a str),
}

impl PromptConfig {
    /// Parses a config, refusing one over [`MAX_CONFIG_BYTES`], unknown fields, and an
    /// `output_format` other than `html`/`md`.
    pub fn parse(bytes: &[u8]) -> Result<PromptConfig, StageError> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(StageError::new(
                Stage::Parse,
                format!(
                    "the config is {} bytes; the limit is {MAX_CONFIG_BYTES} (1 MiB)",
                    bytes.len()
                ),
            ));
        }
        let config: PromptConfig = serde_json::from_slice(bytes).map_err(|err| {
            StageError::new(Stage::Parse, format!("the config is not valid: {err}"))
        })?;
        config.source()?;
        Ok(config)
    }

    /// The prompt or template the config names.
    pub fn source(&self) -> Result<Source<'_>, StageError> {
        match (&self.prompt, &self.template) {
            (Some(prompt), None) => Ok(Source::Prompt(prompt)),
            (None, Some(template)) => {
                let ok = !template.is_empty()
                    && !template.contains('/')
                    && !template.contains('\\')
                    && !template.starts_with('.');
                if ok {
                    Ok(Source::Template(template))
                } else {
                    Err(StageError::new(
                        Stage::Parse,
                        format!("template {template:?} must be a plain file name under prompt_templates/"),
                    ))
                }
            }
            (Some(_), Some(_)) => Err(StageError::new(
                Stage::Parse,
                "the config names both `prompt` and `template`; give one",
            )),
            (None, None) => Err(StageError::new(
                Stage::Parse,
                "the config names neither `prompt` (a compiled-in prompt id) nor `template` (a file under prompt_templates/)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_config_parses() {
        let config = PromptConfig::parse(
            br#"{"prompt": "marketing.welcome-email", "variables": {"name": "Ada"}, "output_format": "html", "max_tokens": 300}"#,
        )
        .unwrap();
        assert_eq!(
            config.source().unwrap(),
            Source::Prompt("marketing.welcome-email")
        );
        assert_eq!(config.output_format, OutputFormat::Html);
        assert_eq!(config.max_tokens, Some(300));
    }

    #[test]
    fn bad_configs_are_parse_errors() {
        let cases: &[&[u8]] = &[
            b"{not json",
            br#"{"prompt": "a.b", "output_format": "pdf"}"#,
            br#"{"prompt": "a.b", "output_format": "md", "colour": "red"}"#,
            br#"{"output_format": "md"}"#,
            br#"{"prompt": "a.b", "template": "t.txt", "output_format": "md"}"#,
            br#"{"template": "../secrets.txt", "output_format": "md"}"#,
        ];
        for case in cases {
            let err = PromptConfig::parse(case).unwrap_err();
            assert_eq!(err.stage, Stage::Parse, "{}", String::from_utf8_lossy(case));
        }
    }

    #[test]
    fn configs_over_one_mebibyte_are_refused_unread() {
        let mut big = br#"{"prompt": "a.b", "output_format": "md", "variables": {"x": ""#.to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_CONFIG_BYTES));
        big.extend(br#""}}"#);
        let err = PromptConfig::parse(&big).unwrap_err();
        assert!(err.message.contains("limit"), "{}", err.message);
    }
}
