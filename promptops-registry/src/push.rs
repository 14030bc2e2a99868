//! Turning a pushed body into a prompt: the JSON form of the seed's API, or a promptops prompt
//! file, both checked by the build's own rules.

use promptops_build::diagnostic::Diagnostic;
use promptops_build::lines::LineIndex;
use promptops_build::template::TemplateChecker;
use promptops_build::tree::{validate, SourceFile, Tree};
use promptops_core::hash::content_hash;
use promptops_core::{PromptDef, Status, VarDef, VarType};
use promptops_registry_api::PushRequest;

use crate::error::{PushDiagnostic, RegistryError};
use crate::ids::check_id;

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
///
/// `content` is checked as a value: no text of it is ever read as YAML, so nothing in it can
/// add fields or variables. A carriage return that does not end a line is refused (see
/// [`check_line_endings`]); the content is stored, and hashed, byte for byte as sent.
pub fn from_json(body: &[u8], actor: &str) -> Result<Pushed, RegistryError> {
    let push: PushRequest = serde_json::from_slice(body).map_err(|err| {
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
    check_line_endings(&push.content)?;
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
    def.content_hash = content_hash(push.content.as_bytes());
    def.refresh_contract_hash();
    Ok(Pushed { def })
}

/// The diagnostic code of a carriage return that does not end a line in pushed content.
pub const LONE_CARRIAGE_RETURN: &str = "lone_carriage_return";

/// Refuses a `\r` not followed by `\n`, at its line and column in the content.
///
/// Lines end with `\n` or `\r\n`, both kept as sent. A lone `\r` is refused rather than
/// normalised: the registry stores, hashes and serves the text it was sent, so that one
/// version means one text in git and in the registry, and a lone `\r` has no meaning in a
/// prompt but can hide text (a terminal or a diff returns to the start of the line and
/// overwrites what came before it).
fn check_line_endings(content: &str) -> Result<(), RegistryError> {
    let bytes = content.as_bytes();
    let lone = bytes
        .iter()
        .enumerate()
        .find(|&(at, &byte)| byte == b'\r' && bytes.get(at + 1) != Some(&b'\n'));
    let Some((offset, _)) = lone else {
        return Ok(());
    };
    let pos = LineIndex::new(content).pos(offset);
    Err(RegistryError::InvalidPrompt(vec![PushDiagnostic {
        code: LONE_CARRIAGE_RETURN.to_owned(),
        message: "`content` has a carriage return (\\r) that does not end a line".to_owned(),
        line: pos.line,
        column: pos.col,
        help: Some("end lines with \\n or \\r\\n".to_owned()),
    }]))
}

/// The variables a template reads, or why the build's rules refuse it (its limits, syntax
/// errors, emptiness), located by line and column inside the template.
fn template_variables(content: &str) -> Result<Vec<String>, RegistryError> {
    TemplateChecker::new()
        .check_text("content", "content", content)
        .map(|names| names.into_iter().collect())
        .map_err(|refused| RegistryError::InvalidPrompt(vec![diagnostic(&refused)]))
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
        assert_eq!(
            def.content_hash,
            content_hash(b"Hi {{ name }}, {{ topic }}")
        );
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

    fn refused(body: &[u8]) -> Vec<PushDiagnostic> {
        match from_json(body, "ci") {
            Err(RegistryError::InvalidPrompt(diagnostics)) => diagnostics,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn a_lone_carriage_return_is_refused_at_its_position_never_stored() {
        // Through the old YAML wrapper, the `\r` ended the block scalar and `description`
        // became a key of the wrapper: the version was stored without `secret`.
        let diagnostics = refused(
            br#"{"prompt_id":"a","version":"1","content":"ok\rdescription: \"{{ secret }}\""}"#,
        );
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].code, LONE_CARRIAGE_RETURN);
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (1, 3));
        let diagnostics = refused(
            br#"{"prompt_id":"a","version":"1","content":"x\r\ny\n\n  {{ a }}\rvariables: {}"}"#,
        );
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (4, 10));
        // At the very end too.
        let diagnostics = refused(br#"{"prompt_id":"a","version":"1","content":"Hi {{ n }}\r"}"#);
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (1, 11));
    }

    #[test]
    fn crlf_content_is_stored_and_hashed_as_sent() {
        let content = "Hi {{ name }},\r\nyour order {{ order }}\r\n";
        let body = serde_json::json!({"prompt_id": "a", "version": "1", "content": content});
        let def = from_json(body.to_string().as_bytes(), "ci").unwrap().def;
        let names: Vec<&str> = def.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["name", "order"]);
        assert_eq!(def.template, content);
        assert_eq!(def.content_hash, content_hash(content.as_bytes()));

        // Errors in CRLF content are at their line and column.
        let body = serde_json::json!({"prompt_id": "a", "version": "1", "content": "one\r\ntwo {{ x \r\n"});
        let diagnostics = refused(body.to_string().as_bytes());
        assert_eq!(
            diagnostics[0].code,
            promptops_build::Code::TemplateSyntax.as_str()
        );
        assert_eq!(diagnostics[0].line, 2, "{diagnostics:?}");
    }

    #[test]
    fn content_that_looks_like_yaml_is_only_text() {
        // Every line of this content would be a key of a YAML wrapper; as a value it is a
        // template using `x`, whatever its lines say.
        let content = "a\ndescription: {{ x }}\nvariables: { y: string }\n  - {{ x }}\n---\n";
        let body = serde_json::json!({"prompt_id": "a", "version": "1", "content": content});
        let def = from_json(body.to_string().as_bytes(), "ci").unwrap().def;
        let names: Vec<&str> = def.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["x"]);
        assert_eq!(def.description, None);
        assert_eq!(def.template, content);
    }

    #[test]
    fn json_push_template_rules_are_the_builds() {
        let diagnostics = refused(br#"{"prompt_id":"a","version":"1","content":" \n\t"}"#);
        assert_eq!(
            diagnostics[0].code,
            promptops_build::Code::EmptyValue.as_str()
        );
        assert_eq!(diagnostics[0].message, "`content` must not be empty");
        let chain = "|upper".repeat(300);
        let body = serde_json::json!({"prompt_id": "a", "version": "1", "content": format!("Hi\n{{{{ x{chain} }}}}")});
        let diagnostics = refused(body.to_string().as_bytes());
        assert_eq!(
            diagnostics[0].code,
            promptops_build::Code::TemplateTooComplex.as_str()
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
        assert_eq!(pushed.def.version, promptops_core::Version::new(2));
        assert_eq!(pushed.def.status, Status::Draft);
        assert_eq!(pushed.def.content_hash, content_hash(good.as_bytes()));

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
