//! The model alias table: `claude-3-5-sonnet` → `anthropic.claude-3-5-sonnet-20240620-v1:0`.

use std::collections::BTreeMap;

use crate::diagnostic::{did_you_mean, Code, Diagnostic, SourceText};
use crate::yaml::{self, NodeKind};

/// The checked-in default table (see `data/models.yaml`).
pub const DEFAULT_TABLE: &str = include_str!("../data/models.yaml");

/// File name of a per-tree override, looked up at the prompts root.
pub const OVERRIDE_FILE_NAME: &str = "models.yaml";

/// Provider prefixes of Bedrock foundation-model ids.
const BEDROCK_PROVIDERS: &[&str] = &[
    "ai21",
    "amazon",
    "anthropic",
    "cohere",
    "deepseek",
    "meta",
    "mistral",
    "openai",
    "qwen",
    "stability",
    "twelvelabs",
    "writer",
    "luma",
];

/// Geography prefixes of cross-region inference profile ids (`us.anthropic...`).
const INFERENCE_PROFILE_PREFIXES: &[&str] =
    &["us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"];

/// Aliases resolved to Bedrock model ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTable {
    aliases: BTreeMap<String, String>,
}

/// How a prompt's `model` was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A known alias, with the Bedrock id it stands for.
    Alias(String),
    /// Already a Bedrock model id (or ARN), used as is.
    BedrockId,
}

impl ModelTable {
    /// The default table.
    pub fn builtin() -> Self {
        let source = SourceText::new("promptops-build/data/models.yaml", DEFAULT_TABLE);
        let mut table = ModelTable {
            aliases: BTreeMap::new(),
        };
        let problems = table.merge(&source);
        debug_assert!(
            problems.is_empty(),
            "built-in model table is invalid: {problems:?}"
        );
        table
    }

    /// Adds or replaces aliases from a table file; returns its problems (the valid entries are
    /// still merged so one bad line does not hide every alias).
    pub fn merge(&mut self, source: &SourceText<'_>) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let documents = match yaml::parse(source.text) {
            Ok(documents) => documents,
            Err(err) => {
                let diagnostic = source.at_pos(
                    Code::InvalidModelTable,
                    err.pos,
                    1,
                    format!("the model table is not valid YAML: {}", err.message),
                );
                return vec![diagnostic];
            }
        };
        let Some(root) = documents.first() else {
            return problems;
        };
        if root.is_null() {
            return problems;
        }
        let Some(entries) = root.as_map() else {
            problems.push(
                source
                    .at(
                        Code::InvalidModelTable,
                        root.region,
                        "the model table must be a mapping of alias to Bedrock model id",
                    )
                    .with_help("write one `alias: provider.model-id` per line"),
            );
            return problems;
        };
        for (key, value) in entries {
            let Some(alias) = key.as_str() else {
                problems.push(source.at(
                    Code::InvalidModelTable,
                    key.region,
                    format!("a model alias must be a string, found {}", key.type_name()),
                ));
                continue;
            };
            match (&value.kind, value.as_str()) {
                (NodeKind::Scalar { .. }, Some(id)) if is_bedrock_model_id(id) => {
                    self.aliases.insert(alias.to_owned(), id.to_owned());
                }
                (NodeKind::Scalar { .. }, Some(id)) => problems.push(
                    source
                        .at(
                            Code::InvalidModelTable,
                            value.region,
                            format!("`{id}` is not a Bedrock model id"),
                        )
                        .with_help(
                            "Bedrock ids look like `anthropic.claude-3-5-sonnet-20240620-v1:0`",
                        ),
                ),
                _ => problems.push(source.at(
                    Code::InvalidModelTable,
                    value.region,
                    format!(
                        "the model id for `{alias}` must be a string, found {}",
                        value.type_name()
                    ),
                )),
            }
        }
        problems
    }

    /// Resolves a prompt's `model` field.
    pub fn resolve(&self, model: &str) -> Option<Resolved> {
        if let Some(id) = self.aliases.get(model) {
            return Some(Resolved::Alias(id.clone()));
        }
        is_bedrock_model_id(model).then_some(Resolved::BedrockId)
    }

    /// The alias closest to `model`, for a did-you-mean.
    pub fn suggest(&self, model: &str) -> Option<&str> {
        // `claude-3.5-sonnet` and `Claude_3_5_Sonnet` mean `claude-3-5-sonnet`: compare with
        // punctuation and case normalised before falling back to edit similarity.
        let normalise = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        let wanted = normalise(model);
        self.aliases
            .keys()
            .find(|alias| normalise(alias) == wanted)
            .map(String::as_str)
            .or_else(|| did_you_mean(model, self.aliases.keys().map(String::as_str)))
    }

    /// All aliases with their ids, sorted by alias.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.aliases.iter().map(|(a, i)| (a.as_str(), i.as_str()))
    }
}

/// Whether `model` has the shape of a Bedrock model id, inference profile id or ARN.
pub fn is_bedrock_model_id(model: &str) -> bool {
    if let Some(rest) = model.strip_prefix("arn:") {
        return rest.split(':').nth(1) == Some("bedrock") && rest.starts_with("aws");
    }
    let mut parts = model.splitn(3, '.');
    let (first, second, rest) = (parts.next(), parts.next(), parts.next());
    let (provider, name) = match (first, second, rest) {
        (Some(geo), Some(provider), Some(name)) if INFERENCE_PROFILE_PREFIXES.contains(&geo) => {
            (provider, name.to_owned())
        }
        (Some(provider), Some(first_name), rest) => (
            provider,
            match rest {
                Some(rest) => format!("{first_name}.{rest}"),
                None => first_name.to_owned(),
            },
        ),
        _ => return false,
    };
    BEDROCK_PROVIDERS.contains(&provider)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_resolves() {
        let table = ModelTable::builtin();
        assert!(table.aliases().count() >= 25);
        assert_eq!(
            table.resolve("claude-3-5-sonnet"),
            Some(Resolved::Alias(
                "anthropic.claude-3-5-sonnet-20240620-v1:0".into()
            ))
        );
        for family in [
            "claude-3-haiku",
            "titan-text-express",
            "llama3-8b-instruct",
            "mistral-7b-instruct",
        ] {
            assert!(
                matches!(table.resolve(family), Some(Resolved::Alias(_))),
                "{family}"
            );
        }
    }

    #[test]
    fn bedrock_ids_are_recognised() {
        for id in [
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "amazon.titan-text-express-v1",
            "meta.llama3-1-8b-instruct-v1:0",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2",
        ] {
            assert!(is_bedrock_model_id(id), "{id}");
        }
        for id in [
            "claude-3-5-sonet",
            "gpt-4",
            "anthropic",
            "acme.model-1",
            "anthropic.Claude",
        ] {
            assert!(!is_bedrock_model_id(id), "{id}");
        }
    }

    #[test]
    fn override_file_adds_and_replaces() {
        let mut table = ModelTable::builtin();
        let source = SourceText::new("prompts/models.yaml", "claude-3-5-sonnet: us.anthropic.claude-3-5-sonnet-20240620-v1:0\nhouse-model: amazon.nova-pro-v1:0\nbroken: not-an-id\n");
        let problems = table.merge(&source);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, Code::InvalidModelTable);
        assert_eq!(problems[0].location.pos.line, 3);
        assert_eq!(
            table.resolve("claude-3-5-sonnet"),
            Some(Resolved::Alias(
                "us.anthropic.claude-3-5-sonnet-20240620-v1:0".into()
            ))
        );
        assert!(table.resolve("house-model").is_some());
        assert_eq!(table.resolve("broken"), None);
    }

    #[test]
    fn suggests_near_aliases() {
        let table = ModelTable::builtin();
        assert_eq!(table.suggest("claude-3-5-sonet"), Some("claude-3-5-sonnet"));
        assert_eq!(
            table.suggest("claude-3.5-sonnet"),
            Some("claude-3-5-sonnet")
        );
        assert_eq!(table.suggest("Claude_3_5_Haiku"), Some("claude-3-5-haiku"));
    }
}
