//! The prompt the registry-resolution tests release, in versions that do and do not honour the
//! compiled one's contract, and its hand-written spec (as `promptops-build` would generate it).
//! Shared by this crate's `tests/resolve.rs` and `tests/lambda_tier.rs` as a module of each
//! (it needs both the runtime and the registry, which the `promptops_tests` library does not
//! depend on; only this crate's tests do).

use promptops_runtime::{PromptDef, PromptSpec, Status, TemplateVars, VarVisitor};

/// Version 1 is the compiled-in prompt; 2 and 4 honour its contract, 3 does not, and neither
/// does 5, which answers with structured data (`output.schema`) where v1 answers with text.
pub fn prompt_file(id: &str, version: u32) -> String {
    if version == 5 {
        return format!(
            "id: {id}\nversion: 5\nowner: team\nmodel: claude-3-5-sonnet\ntags: []\nvariables:\n  name: {{type: string, sensitive: true}}\ntemplate: \"Greet {{{{ name }}}} as JSON: v5.\"\noutput:\n  schema:\n    type: object\n    properties:\n      greeting: {{type: string, maxLength: 80}}\n    required: [greeting]\n"
        );
    }
    let (variables, template) = match version {
        1 => ("  name: {type: string, sensitive: true}\n", "Hello {{ name }}, this is v1."),
        2 => (
            "  name: {type: string, sensitive: true}\n  tone: {type: string, required: false, default: warm}\n",
            "Hi {{ name }}, in a {{ tone }} tone: v2.",
        ),
        3 => (
            "  name: {type: string}\n  account: {type: string}\n",
            "Hi {{ name }} of {{ account }}: v3.",
        ),
        _ => ("  name: {type: string}\n", "Greetings {{ name }}: v4."),
    };
    format!(
        "id: {id}\nversion: {version}\nowner: team\nmodel: claude-3-5-sonnet\ntags: []\nvariables:\n{variables}template: \"{template}\"\n"
    )
}

/// The compiled-in prompt `id`: version 1, read by the same rules as the build.
pub fn compiled(id: &str) -> &'static PromptDef {
    let pushed = promptops_registry::push::from_yaml(prompt_file(id, 1).as_bytes()).expect("valid");
    let mut def = pushed.def;
    def.status = Status::Stable;
    Box::leak(Box::new(def))
}

/// The spec of the greeter prompt.
pub enum Greeter {}

/// The greeter's variables.
pub struct Vars<'a> {
    /// The `name` variable (sensitive in version 1).
    pub name: &'a str,
}

impl TemplateVars for Vars<'_> {
    fn visit(&self, visitor: &mut dyn VarVisitor) {
        visitor.string("name", self.name);
    }
}

impl PromptSpec for Greeter {
    type Vars<'a> = Vars<'a>;
    type Output = String;
}
