//! Turning a pushed body into a prompt: the JSON form of the seed's API, or a promptops prompt
//! file, both checked by the build's own rules.

use promptops_build::diagnostic::Diagnostic;
use promptops_build::tree::{hex_sha256, validate, SourceFile, Tree};
use promptops_core::{PromptDef, Status, VarDef, VarType, Version};
use serde::Deserialize;

use crate::error::{PushDiagnostic, RegistryError};
use crate::ids::check_id;

/// The JSON body of `POST /prompts`, as the seed's API takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonPush {
    /// The prompt id.
    pub prompt_id: String,
    /// The version, `"1.2.0"` (a bare number is accepted too).
    pub version: Version,
    /// The template.
    pub content: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Search tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A validated push: the prompt as it will be stored, and the hash its idempotency is
/// judged by.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    /// The prompt (status `draft`).
    pub def: PromptDef,
}

fn diagnostic(d: &Diagnostic) -> PushDiagnostic {
    let (line, column) = (d.location.pos.line, d.location.pos.col);
    PushDiagnostic {
        code: d.code.as_str().to_owned(),
        message: d.message.clone(),
        line,
        column,
        help: d.help.clone(),
    }
}

/// A JSON push: the template is compiled with the build's template rules (minijinja, strict),
/// and the variables it uses become required string variables, as the build infers them for
/// a prompt file without `variables`.
pub fn from_json(body: &[u8], actor: &str) -> Result<Pushed, RegistryError> {
    let push: JsonPush = serde_json::from_slice(body).map_err(|err| {
        if err.is_data() {
            RegistryError::InvalidPrompt(vec![PushDiagnostic {
                code: "invalid_field".to_owned(),
                message: err.to_string(),
                line: err.line(),
                column: err.column(),
                help: Some(
                    "send {\"prompt_id\", \"version\", \"content\", \"description\"?, \"tags\"?}"
                        .to_owned(),
                ),
            }])
        } else {
            RegistryError::BadRequest(format!("the body is not valid JSON: {err}"))
        }
    })?;
    check_id(&push.prompt_id)?;
    if push.content.trim().is_empty() {
        return Err(RegistryError::InvalidPrompt(vec![PushDiagnostic {
            code: promptops_build::Code::EmptyValue.as_str().to_owned(),
            message: "`content` must not be empty".to_owned(),
            line: 1,
            column: 1,
            help: None,
        }]));
    }
    let variables = template_variables(&push.content)?;
    let mut def = PromptDef::new(
        push.prompt_id,
        push.version,
        actor,
        String::new(),
        push.content.clone(),
    );
    def.status = Status::Draft;
    def.description = push.description;
    def.tags = push.tags;
    def.variables = variables
        .into_iter()
        .map(|name| VarDef::required(name, VarType::String))
        .collect();
    def.content_hash = hex_sha256(push.content.as_bytes());
    def.refresh_contract_hash();
    Ok(Pushed { def })
}

/// The variables a template reads, or its syntax error located in the template.
fn template_variables(content: &str) -> Result<Vec<String>, RegistryError> {
    // The same checks the build makes, through a one-field prompt file: the template's
    // diagnostics then carry the build's codes and positions inside the template.
    let indented: String = content.lines().map(|line| format!("  {line}\n")).collect();
    let text = format!(
        "id: registry.push\nversion: 1\nowner: registry\nmodel: nova-lite\ntags: []\ntemplate: |-\n{indented}"
    );
    let validated = validate(&Tree {
        files: vec![SourceFile::new("registry/push.yaml", text)],
        ..Tree::default()
    });
    if !validated.diagnostics.is_empty() {
        let header_lines = 6;
        return Err(RegistryError::InvalidPrompt(
            validated
                .diagnostics
                .iter()
                .map(|d| {
                    let mut pushed = diagnostic(d);
                    // Lines of the template, not of the wrapper; columns lose the indent.
                    pushed.line = pushed.line.saturating_sub(header_lines).max(1);
                    pushed.column = pushed.column.saturating_sub(2).max(1);
                    pushed
                })
                .collect(),
        ));
    }
    Ok(validated
        .prompts
        .into_iter()
        .next()
        .map(|prompt| {
            prompt
                .def
                .variables
                .into_iter()
                .map(|var| var.name)
                .collect()
        })
        .unwrap_or_default())
}

/// A promptops prompt file: validated exactly as `cargo build` validates it (schema, template,
/// declared vs used variables, model aliases), with its diagnostics' lines and columns.
pub fn from_yaml(body: &[u8]) -> Result<Pushed, RegistryError> {
    let text = std::str::from_utf8(body).map_err(|_| {
        RegistryError::InvalidPrompt(vec![PushDiagnostic {
            code: promptops_build::Code::NotUtf8.as_str().to_owned(),
            message: "the prompt file is not UTF-8".to_owned(),
            line: 1,
            column: 1,
            help: None,
        }])
    })?;
    // The build checks the id against the file's path; the path is where the id says the
    // file lives, so only the id's own rules apply.
    let path = declared_id(text)
        .map(|id| format!("{}.yaml", promptops_build::naming::id_to_path_stem(&id)))
        .unwrap_or_else(|| "prompt.yaml".to_owned());
    let validated = validate(&Tree {
        files: vec![SourceFile::new(path, text)],
        ..Tree::default()
    });
    if !validated.diagnostics.is_empty() {
        return Err(RegistryError::InvalidPrompt(
            validated.diagnostics.iter().map(diagnostic).collect(),
        ));
    }
    let mut def = validated
        .prompts
        .into_iter()
        .next()
        .map(|prompt| prompt.def)
        .ok_or_else(|| RegistryError::BadRequest("the document holds no prompt".to_owned()))?;
    check_id(&def.id)?;
    def.status = Status::Draft;
    def.deprecation_note = None;
    def.source_path = None;
    Ok(Pushed { def })
}

/// The top-level `id:` of a prompt file, if it has a plain one.
fn declared_id(text: &str) -> Option<String> {
    let documents = promptops_build::yaml::parse(text).ok()?;
    let root = documents.first()?;
    root.as_map()?
        .iter()
        .find(|(key, _)| key.as_str() == Some("id"))
        .and_then(|(_, value)| value.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_push_infers_required_string_variables() {
        let pushed = from_json(
            br#"{"prompt_id":"my_agent","version":"1.0.0","content":"Hi {{ name }}, {{ topic }}","tags":["a"]}"#,
            "ci",
        )
        .unwrap();
        let def = pushed.def;
        assert_eq!(def.id, "my_agent");
        assert_eq!(def.version.to_string(), "1.0.0");
        assert_eq!(def.status, Status::Draft);
        assert_eq!(def.owner, "ci");
        let names: Vec<&str> = def.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["name", "topic"]);
        assert!(def
            .variables
            .iter()
            .all(|v| v.required && v.ty == VarType::String));
        assert_eq!(def.content_hash, hex_sha256(b"Hi {{ name }}, {{ topic }}"));
    }

    #[test]
    fn json_push_template_errors_point_into_the_template() {
        let err = from_json(
            br#"{"prompt_id":"a","version":"1","content":"line one\nbroken {{ x "}"#,
            "ci",
        )
        .unwrap_err();
        let RegistryError::InvalidPrompt(diagnostics) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            diagnostics[0].code,
            promptops_build::Code::TemplateSyntax.as_str(),
            "{diagnostics:?}"
        );
        assert_eq!(diagnostics[0].line, 2, "{diagnostics:?}");
    }

    #[test]
    fn json_push_shape_errors_are_422_and_syntax_errors_400() {
        for body in [
            &br#"{"prompt_id":"a","version":"1"}"#[..],
            br#"{"prompt_id":"a","version":"01","content":"x"}"#,
            br#"{"prompt_id":"a","version":"1","content":"x","extra":1}"#,
        ] {
            let err = from_json(body, "ci").unwrap_err();
            assert_eq!(err.status(), 422, "{err}");
        }
        assert_eq!(from_json(b"{not json", "ci").unwrap_err().status(), 400);
        assert_eq!(
            from_json(br#"{"prompt_id":"../x","version":"1","content":"x"}"#, "ci")
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn yaml_push_uses_the_build_rules_with_positions() {
        let good = "id: support.greet\nversion: 2\nowner: team\nmodel: nova-lite\ntags: []\ntemplate: Hi {{ name }}\n";
        let pushed = from_yaml(good.as_bytes()).unwrap();
        assert_eq!(pushed.def.id, "support.greet");
        assert_eq!(pushed.def.version, Version::new(2));
        assert_eq!(pushed.def.status, Status::Draft);
        assert_eq!(pushed.def.content_hash, hex_sha256(good.as_bytes()));

        let bad =
            "id: support.greet\nversion: 2\nownr: team\nmodel: nova-lite\ntags: []\ntemplate: Hi\n";
        let RegistryError::InvalidPrompt(diagnostics) = from_yaml(bad.as_bytes()).unwrap_err()
        else {
            panic!()
        };
        let unknown = diagnostics
            .iter()
            .find(|d| d.message.contains("ownr"))
            .expect("unknown field reported");
        assert_eq!((unknown.line, unknown.column), (3, 1));
        assert!(unknown
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("owner"));
    }
}
