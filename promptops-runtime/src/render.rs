//! Rendering a prompt's templates with typed variables.
//!
//! One process-wide minijinja [`Environment`] (strict undefined, no auto-escaping, no debug
//! dumps) holds every template that has been rendered. Templates come from the `'static`
//! strings embedded by the build — there is no file I/O — and are compiled on first use, keyed
//! by `id@version` (`id@version.system` for the system template).
//!
//! Variable values are data, never template code: a value containing `{{ ... }}` is printed
//! literally, because minijinja never re-evaluates values.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, RwLock};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use crate::def::{PromptDef, Value as OwnedValue, Version};
use crate::resolve::Source;
use crate::spec::{Prompt, PromptSpec, TemplateVars, VarValue, VarVisitor};

/// Sensitive values shorter than this are not redacted from messages (a one-character
/// value would blank out every message).
const MIN_REDACTED_LEN: usize = 3;

/// What replaces a sensitive value in error messages.
pub const REDACTED: &str = "[redacted]";

/// The rendered parts of one prompt call, with the prompt's identity attached.
#[derive(Clone, PartialEq)]
pub struct Rendered {
    /// The system prompt, if the prompt has one (or the instructions, for
    /// [`render_with_input`](Prompt::render_with_input)).
    pub system: Option<String>,
    /// The user turn.
    pub user: String,
    /// The prompt this was rendered from.
    pub prompt: &'static PromptDef,
    /// Where `prompt` came from (the compiled prompt, or the registry through a tier).
    pub source: Source,
    /// String forms of the values of variables declared `sensitive`, for redaction.
    sensitive: Vec<String>,
}

impl Rendered {
    /// Builds a rendered prompt by hand (for callers that produce text themselves).
    pub fn new(prompt: &'static PromptDef, system: Option<String>, user: String) -> Self {
        Rendered {
            system,
            user,
            prompt,
            source: Source::Compiled,
            sensitive: Vec::new(),
        }
    }

    /// Replaces every occurrence of a sensitive variable's value in `text` with `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        redact(&self.sensitive, text)
    }

    /// Whether any sensitive variable was supplied.
    pub fn has_sensitive(&self) -> bool {
        !self.sensitive.is_empty()
    }
}

impl std::fmt::Debug for Rendered {
    // The text may contain sensitive values: print only the identity and sizes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("prompt", &self.prompt.id)
            .field("version", &self.prompt.version)
            .field("system_len", &self.system.as_ref().map(String::len))
            .field("user_len", &self.user.len())
            .finish()
    }
}

pub(crate) fn redact(sensitive: &[String], text: &str) -> String {
    let mut out = text.to_owned();
    for value in sensitive {
        if value.len() >= MIN_REDACTED_LEN && out.contains(value.as_str()) {
            out = out.replace(value.as_str(), REDACTED);
        }
    }
    out
}

/// A template that failed to compile or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{prompt_id} v{version}: cannot render the {part} template: {message}")]
pub struct RenderError {
    /// The prompt's id.
    pub prompt_id: &'static str,
    /// The prompt's version.
    pub version: Version,
    /// `"user"` or `"system"`.
    pub part: &'static str,
    /// minijinja's message, with sensitive values redacted.
    pub message: String,
}

static ENV: LazyLock<RwLock<Environment<'static>>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // Debug mode attaches the values of referenced variables to errors: never for prompts.
    env.set_debug(false);
    RwLock::new(env)
});

thread_local! {
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

#[derive(Clone, Copy)]
enum Part {
    User,
    System,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::User => "user",
            Part::System => "system",
        }
    }
}

fn same_source(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// Renders one of `def`'s templates against `ctx` through the shared environment.
fn render_part(
    def: &'static PromptDef,
    part: Part,
    source: &'static str,
    ctx: &Value,
    sensitive: &[String],
) -> Result<String, RenderError> {
    let error = |err: minijinja::Error| RenderError {
        prompt_id: &def.id,
        version: def.version,
        part: part.name(),
        message: redact(sensitive, &err.to_string()),
    };
    KEY.with(|key| {
        let mut key = key.borrow_mut();
        key.clear();
        let _ = write!(key, "{}@{}", def.id, def.version);
        if let Part::System = part {
            key.push_str(".system");
        }
        {
            let env = ENV.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Ok(template) = env.get_template(&key) {
                if same_source(template.source(), source) {
                    return template.render(ctx).map_err(error);
                }
            }
        }
        // First use (or another definition under the same id@version, e.g. a registry copy):
        // compile, and render under the same lock so no other thread can swap it in between.
        let mut env = ENV.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        env.add_template_owned(key.clone(), source).map_err(error)?;
        let template = env.get_template(&key).map_err(error)?;
        template.render(ctx).map_err(error)
    })
}

fn default_value(default: &'static OwnedValue) -> Value {
    match default {
        OwnedValue::String(text) => Value::from(text.as_str()),
        OwnedValue::Integer(number) => Value::from(*number),
        OwnedValue::Number(number) => Value::from(*number),
        OwnedValue::Boolean(flag) => Value::from(*flag),
        OwnedValue::List(items) => items
            .iter()
            .map(|item| Value::from(item.as_str()))
            .collect(),
    }
}

fn var_value(value: VarValue<'_>) -> Value {
    match value {
        VarValue::String(text) => Value::from(text),
        VarValue::Integer(number) => Value::from(number),
        VarValue::Number(number) => Value::from(number),
        VarValue::Boolean(flag) => Value::from(flag),
        VarValue::List(items) => items.iter().map(|item| Value::from(*item)).collect(),
    }
}

/// The string forms under which a sensitive value could show up in a message.
fn collect_sensitive(value: VarValue<'_>, out: &mut Vec<String>) {
    match value {
        VarValue::String(text) => out.push(text.to_owned()),
        VarValue::Integer(number) => out.push(number.to_string()),
        VarValue::Number(number) => out.push(number.to_string()),
        // Booleans carry no secret worth redacting (and "true" would blank every message).
        VarValue::Boolean(_) => {}
        VarValue::List(items) => out.extend(items.iter().map(|item| (*item).to_owned())),
    }
}

/// Builds the template context: supplied values, then declared defaults, then `none` for
/// optional variables without a default. Collects the sensitive values.
fn context(def: &'static PromptDef, vars: &dyn TemplateVars) -> (Value, Vec<String>) {
    if def.variables.is_empty() {
        let mut any = false;
        vars.visit(&mut |_: &'static str, _: VarValue<'_>| any = true);
        if !any {
            return (Value::from(()), Vec::new());
        }
    }
    let mut map: BTreeMap<&'static str, Value> = BTreeMap::new();
    let mut sensitive = Vec::new();
    vars.visit(&mut |name: &'static str, value: VarValue<'_>| {
        if def.variable(name).is_some_and(|var| var.sensitive) {
            collect_sensitive(value, &mut sensitive);
        }
        map.insert(name, var_value(value));
    });
    // Longest first, so a value that contains another is redacted whole.
    sensitive.sort_by_key(|value| std::cmp::Reverse(value.len()));
    for var in &def.variables {
        let name = var.name.as_str();
        if map.contains_key(name) {
            continue;
        }
        match &var.default {
            Some(default) => {
                map.insert(name, default_value(default));
            }
            None if !var.required => {
                map.insert(name, Value::from(()));
            }
            // A missing required variable is reported by strict undefined at render time.
            None => {}
        }
    }
    (Value::from(map), sensitive)
}

/// Renders `def` with `vars`: the system template (if any) and the user template.
pub fn render_def(
    def: &'static PromptDef,
    vars: &dyn TemplateVars,
) -> Result<Rendered, RenderError> {
    let (ctx, sensitive) = context(def, vars);
    let system = match &def.system {
        Some(source) => Some(render_part(def, Part::System, source, &ctx, &sensitive)?),
        None => None,
    };
    let user = render_part(def, Part::User, &def.template, &ctx, &sensitive)?;
    Ok(Rendered {
        system,
        user,
        prompt: def,
        source: Source::Compiled,
        sensitive,
    })
}

/// Renders `def` as instructions and sends `input` as the user turn: the system part is the
/// rendered system template (if any) followed by the rendered template, and the user part is
/// `input` verbatim. This is how the seed's intent classifier is used.
pub fn render_def_with_input(
    def: &'static PromptDef,
    vars: &dyn TemplateVars,
    input: &str,
) -> Result<Rendered, RenderError> {
    let rendered = render_def(def, vars)?;
    let instructions = match rendered.system {
        Some(system) if !system.is_empty() => format!("{system}\n\n{}", rendered.user),
        _ => rendered.user,
    };
    Ok(Rendered {
        system: Some(instructions),
        user: input.to_owned(),
        prompt: def,
        source: rendered.source,
        sensitive: rendered.sensitive,
    })
}

impl<S: PromptSpec> Prompt<S> {
    /// Renders the system and user templates with `vars`.
    ///
    /// Values are inserted as data (a value containing `{{ x }}` is printed as is); optional
    /// variables that are not supplied take their declared default.
    pub fn render(&self, vars: &S::Vars<'_>) -> Result<Rendered, RenderError> {
        render_def(self.def(), vars)
    }

    /// Renders the templates as the instructions (system part) and uses `input` as the user
    /// turn. For prompts without variables pass [`NoVars`](crate::NoVars).
    pub fn render_with_input(
        &self,
        vars: &S::Vars<'_>,
        input: &str,
    ) -> Result<Rendered, RenderError> {
        render_def_with_input(self.def(), vars, input)
    }
}

/// Variables supplied at run time by name (CLIs, batch jobs, registry lookups by id), for
/// prompts whose generated `Vars` type is not available statically.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynVars<'a> {
    values: Vec<(&'static str, DynValue<'a>)>,
}

#[derive(Debug, Clone, PartialEq)]
enum DynValue<'a> {
    Borrowed(VarValue<'a>),
    Owned(&'a OwnedValue),
}

/// A variable name the prompt does not declare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{prompt_id} has no variable `{name}` (declared: {declared})")]
pub struct UnknownVariable {
    /// The prompt's id.
    pub prompt_id: &'static str,
    /// The name that was given.
    pub name: String,
    /// The declared names, comma-separated.
    pub declared: String,
}

impl<'a> DynVars<'a> {
    /// Checks every name against `def`'s declared variables. Prompts that declare none accept
    /// no variables (their template uses none).
    pub fn new<'n>(
        def: &'static PromptDef,
        pairs: impl IntoIterator<Item = (&'n str, VarValue<'a>)>,
    ) -> Result<Self, UnknownVariable> {
        Self::checked(def, pairs, DynValue::Borrowed)
    }

    /// Like [`new`](Self::new), for owned values.
    pub fn from_owned<'n>(
        def: &'static PromptDef,
        pairs: impl IntoIterator<Item = (&'n str, &'a OwnedValue)>,
    ) -> Result<Self, UnknownVariable> {
        Self::checked(def, pairs, DynValue::Owned)
    }

    fn checked<'n, V>(
        def: &'static PromptDef,
        pairs: impl IntoIterator<Item = (&'n str, V)>,
        wrap: impl Fn(V) -> DynValue<'a>,
    ) -> Result<Self, UnknownVariable> {
        let mut values = Vec::new();
        for (name, value) in pairs {
            let var = def.variable(name).ok_or_else(|| UnknownVariable {
                prompt_id: &def.id,
                name: name.to_owned(),
                declared: def
                    .variables
                    .iter()
                    .map(|var| var.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            values.push((var.name.as_str(), wrap(value)));
        }
        Ok(DynVars { values })
    }
}

impl TemplateVars for DynVars<'_> {
    fn visit(&self, visitor: &mut dyn VarVisitor) {
        for &(name, ref value) in &self.values {
            match value {
                DynValue::Borrowed(value) => visitor.var(name, *value),
                DynValue::Owned(OwnedValue::String(text)) => {
                    visitor.var(name, VarValue::String(text))
                }
                DynValue::Owned(OwnedValue::Integer(value)) => {
                    visitor.var(name, VarValue::Integer(*value))
                }
                DynValue::Owned(OwnedValue::Number(value)) => {
                    visitor.var(name, VarValue::Number(*value))
                }
                DynValue::Owned(OwnedValue::Boolean(value)) => {
                    visitor.var(name, VarValue::Boolean(*value))
                }
                DynValue::Owned(OwnedValue::List(items)) => {
                    let items: Vec<&str> = items.iter().map(String::as_str).collect();
                    visitor.var(name, VarValue::List(&items));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::{VarDef, VarType};

    fn def() -> &'static PromptDef {
        let mut def = PromptDef::new("tests.owned", Version::new(1), "o", "m", "t");
        def.variables = vec![
            VarDef::optional("name", VarType::String),
            VarDef::optional("count", VarType::Integer),
            VarDef::optional("items", VarType::List),
        ];
        def.refresh_contract_hash();
        Box::leak(Box::new(def))
    }

    fn visited(vars: &DynVars<'_>) -> Vec<String> {
        let mut seen = Vec::new();
        vars.visit(&mut |name: &'static str, value: VarValue<'_>| {
            seen.push(format!("{name}={value:?}"))
        });
        seen
    }

    #[test]
    fn owned_values_visit_like_borrowed_ones() {
        let owned = [
            OwnedValue::String("Ada".into()),
            OwnedValue::Integer(3),
            OwnedValue::List(vec!["a".into(), "b".into()]),
        ];
        let from_owned =
            DynVars::from_owned(def(), ["name", "count", "items"].into_iter().zip(&owned)).unwrap();
        let borrowed = DynVars::new(
            def(),
            [
                ("name", VarValue::String("Ada")),
                ("count", VarValue::Integer(3)),
                ("items", VarValue::List(&["a", "b"])),
            ],
        )
        .unwrap();
        assert_eq!(visited(&from_owned), visited(&borrowed));
        assert_eq!(
            visited(&from_owned),
            [
                "name=String(\"Ada\")",
                "count=Integer(3)",
                "items=List([\"a\", \"b\"])"
            ]
        );

        let err = DynVars::from_owned(def(), [("nmae", &owned[0])]).unwrap_err();
        assert_eq!(err.name, "nmae");
        assert_eq!(err.declared, "name, count, items");
    }
}
