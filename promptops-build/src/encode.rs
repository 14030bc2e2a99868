//! The text encoding a generated crate embeds each prompt definition in.
//!
//! One string literal per prompt costs rustc a small fraction of what a `PromptDef` struct
//! literal with its nested structs, options and slices does (`BENCHMARKS.md`, "Build time").
//! `promptops_runtime::registry` decodes it on first use and documents the format; the two
//! sides are kept in step by `tests/tests/generated.rs`, which compares every decoded shipped
//! prompt with the prompt file it came from.
//!
//! A present value is written `<byte length>:<text>,`, an absent optional value `~,`; lists
//! are a count followed by their items.

use crate::schema::{DefaultValue, Prompt, Status, VarType};

/// The encoding version, the first token of every definition; the runtime refuses others.
pub const FORMAT: &str = "v1";

/// Writes the tokens of one definition.
#[derive(Default)]
struct Writer {
    text: String,
}

impl Writer {
    fn value(&mut self, value: &str) {
        self.text.push_str(&value.len().to_string());
        self.text.push(':');
        self.text.push_str(value);
        self.text.push(',');
    }

    fn optional(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.value(value),
            None => self.text.push_str("~,"),
        }
    }

    fn number(&mut self, value: impl ToString) {
        self.value(&value.to_string());
    }

    fn optional_number(&mut self, value: Option<impl ToString>) {
        self.optional(value.map(|value| value.to_string()).as_deref());
    }

    fn flag(&mut self, value: bool) {
        self.value(if value { "1" } else { "0" });
    }

    fn list<S: AsRef<str>>(&mut self, items: &[S]) {
        self.number(items.len());
        for item in items {
            self.value(item.as_ref());
        }
    }
}

/// The encoded definition of `prompt`, in the field order `promptops_runtime::registry`
/// reads.
pub fn encode(prompt: &Prompt) -> String {
    let mut w = Writer::default();
    w.value(FORMAT);
    w.value(&prompt.id);
    w.number(prompt.version);
    w.value(&prompt.owner);
    w.value(&prompt.model);
    w.value(&prompt.model_id);
    w.optional_number(prompt.parent);
    w.value(match prompt.status {
        Status::Stable => "stable",
        Status::Draft => "draft",
        Status::Deprecated => "deprecated",
    });
    w.optional(prompt.deprecation_note.as_deref());
    w.optional(prompt.description.as_deref());
    w.list(&prompt.tags);
    // `f64`'s `Display` is the shortest text that parses back to the same value.
    w.optional_number(prompt.baseline_accuracy);
    w.optional_number(prompt.cost_per_call_usd);
    w.number(prompt.other_metrics.len());
    for (name, value) in &prompt.other_metrics {
        w.value(name);
        w.number(value);
    }
    w.number(prompt.variables.len());
    for variable in &prompt.variables {
        w.value(&variable.name);
        w.value(match variable.ty {
            VarType::String => "string",
            VarType::Integer => "integer",
            VarType::Number => "number",
            VarType::Boolean => "boolean",
            VarType::List => "list",
        });
        w.optional(variable.description.as_deref());
        w.flag(variable.required);
        w.flag(variable.sensitive);
        match &variable.default {
            None => w.optional(None),
            Some(DefaultValue::String(value)) => {
                w.value("s");
                w.value(value);
            }
            Some(DefaultValue::Integer(value)) => {
                w.value("i");
                w.number(value);
            }
            Some(DefaultValue::Number(value)) => {
                w.value("n");
                w.number(value);
            }
            Some(DefaultValue::Boolean(value)) => {
                w.value("b");
                w.flag(*value);
            }
            Some(DefaultValue::List(values)) => {
                w.value("l");
                w.list(values);
            }
        }
    }
    w.value(&prompt.template);
    w.optional(prompt.system.as_deref());
    let inference = &prompt.inference;
    w.optional_number(inference.max_tokens);
    // The runtime reads these as `f32`, the nearest to the written decimal, as a literal would.
    w.optional_number(inference.temperature);
    w.optional_number(inference.top_p);
    w.list(&inference.stop_sequences);
    w.list(&prompt.labels);
    w.optional(prompt.created.as_deref());
    w.optional(prompt.updated.as_deref());
    w.value(&prompt.content_hash);
    w.value(&prompt.source_path);
    w.text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{validate, SourceFile, Tree};

    fn prompt(yaml: &str) -> Prompt {
        let validated = validate(&Tree {
            display_prefix: "prompts/".into(),
            files: vec![SourceFile::new("a/b.yaml", yaml.to_owned())],
            ..Tree::default()
        });
        assert!(validated.is_ok(), "{:?}", validated.diagnostics);
        validated.prompts.into_iter().next().expect("one prompt")
    }

    #[test]
    fn writes_length_prefixed_tokens_in_the_runtime_order() {
        let text = encode(&prompt(
            "id: a.b\nversion: 2\nparent: 1\nowner: té:am\nmodel: nova-lite\ntags: [x]\n\
             metrics:\n  baseline_accuracy: 0.9\n  p95_ms: 1200\n\
             variables:\n  n:\n    type: integer\n    default: 3\n\
             inference:\n  temperature: 0.2\n  stop_sequences: [END]\n\
             template: \"{{ n }},\"\n",
        ));
        assert!(
            text.starts_with("2:v1,3:a.b,1:2,6:té:am,9:nova-lite,"),
            "{text}"
        );
        assert!(
            text.contains(",1:1,6:stable,~,~,1:1,1:x,3:0.9,~,1:1,6:p95_ms,4:1200,"),
            "{text}"
        );
        assert!(
            text.contains(
                ",1:1,1:n,7:integer,~,1:0,1:0,1:i,1:3,8:{{ n }},,~,~,3:0.2,~,1:1,3:END,1:0,"
            ),
            "{text}"
        );
        assert!(text.ends_with(",8:a/b.yaml,"), "{text}");
    }
}
