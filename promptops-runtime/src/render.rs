//! Rendering a prompt's templates with typed variables, within limits.
//!
//! One process-wide minijinja [`Environment`] (strict undefined, no auto-escaping, no debug
//! dumps) holds the templates that have been rendered, compiled on first use and keyed by
//! `id@version` (`id@version.system` for the system template). There is no file I/O: templates
//! come from the definitions (the build's embedded strings, a registry version, an S3 template
//! of the pipeline).
//!
//! Variable values are data, never template code: a value containing `{{ ... }}` is printed
//! literally, because minijinja never re-evaluates values.
//!
//! # Limits
//! A template is data that may come from outside the binary (a registry version, an S3
//! template), so every compile and render is bounded:
//!
//! | limit | default | configured by | error |
//! |---|---|---|---|
//! | template source: size, block nesting, operators per tag, bracket depth | [`TemplateLimits`]' defaults (256 KiB, 32, 256, 32) | fixed: the build refuses what the runtime would | [`RenderErrorKind::OverLimits`], before minijinja parses it |
//! | fuel per render of one template: about one unit per instruction and per 64 bytes of data created | 250,000 | `PROMPTOPS_RENDER_FUEL` | [`RenderErrorKind::OutOfFuel`] |
//! | rendered text of one template | 1 MiB | `PROMPTOPS_RENDER_MAX_OUTPUT_BYTES` | [`RenderErrorKind::OutputTooLarge`] |
//! | compiled templates kept | 256 templates and 8 MiB of source, least recently used evicted | fixed | — |
//!
//! Fuel bounds both time and memory (minijinja charges data it creates, the output included, so
//! a template that doubles a string in a loop runs out of fuel long before memory does); text
//! over the output cap is refused, never returned. The variables are read once, when the environment is
//! first used; a value that is not a positive integer is ignored with a warning event.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, RwLock};

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use promptops_core::{LimitExceeded, TemplateLimits};

use crate::def::{DefRef, PromptDef, Value as OwnedValue, Version};
use crate::resolve::{Resolution, Source};
use crate::spec::{Prompt, PromptSpec, TemplateVars, VarValue, VarVisitor};

/// Sensitive values shorter than this are not redacted from messages (a one-character
/// value would blank out every message).
const MIN_REDACTED_LEN: usize = 3;

/// What replaces a sensitive value in error messages.
pub const REDACTED: &str = "[redacted]";

/// Environment variable overriding the fuel of one render.
pub const FUEL_ENV: &str = "PROMPTOPS_RENDER_FUEL";
/// Environment variable overriding the largest rendered text of one template, in bytes.
pub const MAX_OUTPUT_ENV: &str = "PROMPTOPS_RENDER_MAX_OUTPUT_BYTES";

/// Most compiled templates the environment keeps.
const MAX_CACHED_TEMPLATES: usize = 256;
/// Most template source, in bytes, the environment keeps compiled.
const MAX_CACHED_SOURCE_BYTES: usize = 8 * 1024 * 1024;

/// The budgets of one render, process-wide like the environment that applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderLimits {
    /// minijinja fuel for one template: about one unit per instruction executed and per 64
    /// bytes of data created or processed.
    pub fuel: u64,
    /// Largest rendered text of one template, in bytes.
    pub max_output_bytes: usize,
}

impl RenderLimits {
    /// The default fuel: about 250,000 instructions, or 16 MB of data.
    pub const DEFAULT_FUEL: u64 = 250_000;
    /// The default output cap: 1 MiB.
    pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1024 * 1024;

    /// The defaults, overridden by [`FUEL_ENV`] and [`MAX_OUTPUT_ENV`] as `lookup` answers
    /// them. A value that is not a positive integer is ignored (and named in the second part).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<&'static str>) {
        let mut ignored = Vec::new();
        let mut read = |name: &'static str| {
            let text = lookup(name)?;
            let value = text.trim().parse::<u64>().ok().filter(|value| *value > 0);
            if value.is_none() {
                ignored.push(name);
            }
            value
        };
        let limits = RenderLimits {
            fuel: read(FUEL_ENV).unwrap_or(Self::DEFAULT_FUEL),
            max_output_bytes: read(MAX_OUTPUT_ENV)
                .and_then(|bytes| usize::try_from(bytes).ok())
                .unwrap_or(Self::DEFAULT_MAX_OUTPUT_BYTES),
        };
        (limits, ignored)
    }
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits {
            fuel: Self::DEFAULT_FUEL,
            max_output_bytes: Self::DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

/// The render limits in force in this process.
pub fn limits() -> RenderLimits {
    read_cache().limits
}

/// The rendered parts of one prompt call, with the prompt's identity attached.
#[derive(Clone, PartialEq)]
pub struct Rendered {
    /// The system prompt, if the prompt has one (or the instructions, for
    /// [`render_with_input`](Prompt::render_with_input)).
    pub system: Option<String>,
    /// The user turn.
    pub user: String,
    /// The prompt this was rendered from.
    pub prompt: DefRef,
    /// Where `prompt` came from (the compiled prompt, or the registry through a tier).
    pub source: Source,
    /// String forms of the values of variables declared `sensitive`, for redaction.
    sensitive: Vec<String>,
}

impl Rendered {
    /// Builds a rendered prompt by hand (for callers that produce text themselves).
    pub fn new(prompt: impl Into<DefRef>, system: Option<String>, user: String) -> Self {
        Rendered {
            system,
            user,
            prompt: prompt.into(),
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

/// `text` with every sensitive value replaced by [`REDACTED`]: as written, and as JSON and
/// Rust's `{:?}` escape it (a value with a quote, a backslash or a newline reaches a
/// structured answer's raw JSON, or a message quoting it, only in escaped form).
pub(crate) fn redact(sensitive: &[String], text: &str) -> String {
    let mut out = text.to_owned();
    for value in sensitive {
        if value.len() < MIN_REDACTED_LEN {
            continue;
        }
        let json = serde_json::to_string(value).unwrap_or_default();
        let debug = format!("{value:?}");
        let forms = [
            value.as_str(),
            json.get(1..json.len().saturating_sub(1))
                .unwrap_or_default(),
            debug
                .get(1..debug.len().saturating_sub(1))
                .unwrap_or_default(),
        ];
        for form in forms {
            if form.len() >= MIN_REDACTED_LEN && out.contains(form) {
                out = out.replace(form, REDACTED);
            }
        }
    }
    out
}

/// A template that failed to compile or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{prompt_id} v{version}: cannot render the {part} template: {kind}")]
pub struct RenderError {
    /// The prompt's id.
    pub prompt_id: String,
    /// The prompt's version.
    pub version: Version,
    /// `"user"` or `"system"`.
    pub part: &'static str,
    /// What went wrong.
    #[source]
    pub kind: RenderErrorKind,
}

impl RenderError {
    /// Whether a budget stopped the render (template limits, fuel, output size): the template
    /// is too costly, as opposed to wrong for these variables.
    pub fn is_over_budget(&self) -> bool {
        !matches!(self.kind, RenderErrorKind::Template { .. })
    }
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderErrorKind {
    /// The template's source is over the [`TemplateLimits`]; it was not compiled.
    #[error("the template is over the template limits: {0}")]
    OverLimits(#[source] LimitExceeded),
    /// The render used up its fuel ([`RenderLimits::fuel`]).
    #[error("the render ran out of fuel (budget {fuel}): too much work or data")]
    OutOfFuel {
        /// The budget.
        fuel: u64,
    },
    /// The rendered text is over [`RenderLimits::max_output_bytes`]; it was dropped.
    #[error("the rendered text is over {max_bytes} bytes")]
    OutputTooLarge {
        /// The cap.
        max_bytes: usize,
    },
    /// minijinja refused the template or the variables (syntax, an undefined variable, a
    /// failing filter).
    #[error("{message}")]
    Template {
        /// minijinja's message, with sensitive values redacted.
        message: String,
    },
}

impl RenderErrorKind {
    /// A stable word for events: `over_limits`, `out_of_fuel`, `output_too_large`, `template`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RenderErrorKind::OverLimits(_) => "over_limits",
            RenderErrorKind::OutOfFuel { .. } => "out_of_fuel",
            RenderErrorKind::OutputTooLarge { .. } => "output_too_large",
            RenderErrorKind::Template { .. } => "template",
        }
    }
}

/// The environment and the bookkeeping of what it holds.
struct TemplateCache {
    env: Environment<'static>,
    limits: RenderLimits,
    /// Per cached template: its source's size and when it was last used.
    entries: HashMap<String, CacheEntry>,
    source_bytes: usize,
}

struct CacheEntry {
    bytes: usize,
    last_used: AtomicU64,
}

/// A clock for least-recently-used eviction: one tick per render.
static TICK: AtomicU64 = AtomicU64::new(0);

static CACHE: LazyLock<RwLock<TemplateCache>> = LazyLock::new(|| {
    let (limits, ignored) = RenderLimits::from_lookup(|name| std::env::var(name).ok());
    for name in ignored {
        tracing::warn!(
            target: crate::events::TARGET,
            variable = name,
            "ignoring a render limit that is not a positive integer"
        );
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // Debug mode attaches the values of referenced variables to errors: never for prompts.
    env.set_debug(false);
    env.set_fuel(Some(limits.fuel));
    RwLock::new(TemplateCache {
        env,
        limits,
        entries: HashMap::new(),
        source_bytes: 0,
    })
});

fn read_cache() -> std::sync::RwLockReadGuard<'static, TemplateCache> {
    CACHE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TemplateCache {
    /// Adds `source` under `key`, first evicting the least recently used templates until the
    /// new one fits the count and byte budgets.
    fn insert(&mut self, key: &str, source: Cow<'static, str>) -> Result<(), minijinja::Error> {
        if let Some(old) = self.entries.remove(key) {
            self.env.remove_template(key);
            self.source_bytes -= old.bytes;
        }
        let bytes = source.len();
        while !self.entries.is_empty()
            && (self.entries.len() >= MAX_CACHED_TEMPLATES
                || self.source_bytes + bytes > MAX_CACHED_SOURCE_BYTES)
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used.load(Ordering::Relaxed))
                .map(|(key, _)| key.clone());
            let Some(oldest) = oldest else { break };
            if let Some(entry) = self.entries.remove(&oldest) {
                self.source_bytes -= entry.bytes;
            }
            self.env.remove_template(&oldest);
        }
        self.env.add_template_owned(key.to_owned(), source)?;
        self.entries.insert(
            key.to_owned(),
            CacheEntry {
                bytes,
                last_used: AtomicU64::new(TICK.fetch_add(1, Ordering::Relaxed)),
            },
        );
        self.source_bytes += bytes;
        Ok(())
    }

    /// Renders the cached template `key` if it was compiled from `source`.
    fn render_cached(&self, key: &str, source: &str, ctx: &Value) -> Option<Rendering> {
        let template = self.env.get_template(key).ok()?;
        if !same_source(template.source(), source) {
            return None;
        }
        if let Some(entry) = self.entries.get(key) {
            entry
                .last_used
                .store(TICK.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        }
        Some(render_capped(&template, ctx, self.limits))
    }

    /// How many templates are compiled, and their source's total size.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        (self.entries.len(), self.source_bytes)
    }
}

/// The outcome of one render under the limits.
type Rendering = Result<String, RenderErrorKind>;

/// Renders under the environment's fuel, then refuses text over the output cap. While it renders,
/// the text is bounded by the fuel (minijinja charges one unit per 64 bytes of output, so at the
/// default fuel a render can produce at most ~16 MB before it stops); checking the cap on the
/// finished text, rather than through a capped writer, keeps a small render ~25% cheaper
/// (instruction counts in BENCHMARKS.md, "Hostile input").
fn render_capped(
    template: &minijinja::Template<'_, '_>,
    ctx: &Value,
    limits: RenderLimits,
) -> Rendering {
    match template.render(ctx) {
        Ok(text) if text.len() > limits.max_output_bytes => Err(RenderErrorKind::OutputTooLarge {
            max_bytes: limits.max_output_bytes,
        }),
        Ok(text) => Ok(text),
        Err(err) if err.kind() == ErrorKind::OutOfFuel => {
            Err(RenderErrorKind::OutOfFuel { fuel: limits.fuel })
        }
        Err(err) => Err(RenderErrorKind::Template {
            message: err.to_string(),
        }),
    }
}

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

    fn text(self, def: &PromptDef) -> &str {
        match self {
            Part::User => &def.template,
            Part::System => def.system.as_deref().unwrap_or_default(),
        }
    }

    /// The text as the cache keeps it: borrowed from a static definition, copied from a shared
    /// one (the cache must not keep a shared definition alive).
    fn cacheable(self, def: &DefRef) -> Cow<'static, str> {
        match def {
            DefRef::Static(def) => Cow::Borrowed(self.text(def)),
            DefRef::Shared(def) => Cow::Owned(self.text(def).to_owned()),
        }
    }
}

fn same_source(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// Renders one of `def`'s templates against `ctx` through the shared environment.
fn render_part(
    def: &DefRef,
    part: Part,
    ctx: &Value,
    sensitive: &[String],
) -> Result<String, RenderError> {
    let error = |kind: RenderErrorKind| RenderError {
        prompt_id: def.id.clone(),
        version: def.version,
        part: part.name(),
        kind: match kind {
            RenderErrorKind::Template { message } => RenderErrorKind::Template {
                message: redact(sensitive, &message),
            },
            other => other,
        },
    };
    let source = part.text(def);
    KEY.with(|key| {
        let mut key = key.borrow_mut();
        key.clear();
        let _ = write!(key, "{}@{}", def.id, def.version);
        if let Part::System = part {
            key.push_str(".system");
        }
        if let Some(rendered) = read_cache().render_cached(&key, source, ctx) {
            return rendered.map_err(error);
        }
        // First use (or another definition under the same id@version, e.g. a registry copy).
        // Bounded before minijinja parses it: a long chain would overflow the stack.
        TemplateLimits::default()
            .check(source)
            .map_err(|exceeded| error(RenderErrorKind::OverLimits(exceeded)))?;
        // Compile, and render under the same lock so no other thread can swap it in between.
        let mut cache = CACHE
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let template_error = |err: minijinja::Error| {
            error(RenderErrorKind::Template {
                message: err.to_string(),
            })
        };
        cache
            .insert(&key, part.cacheable(def))
            .map_err(template_error)?;
        let template = cache.env.get_template(&key).map_err(template_error)?;
        render_capped(&template, ctx, cache.limits).map_err(error)
    })
}

fn default_value(default: &OwnedValue) -> Value {
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
fn context(def: &PromptDef, vars: &dyn TemplateVars) -> (Value, Vec<String>) {
    if def.variables.is_empty() {
        let mut any = false;
        vars.visit(&mut |_: &str, _: VarValue<'_>| any = true);
        if !any {
            return (Value::from(()), Vec::new());
        }
    }
    let mut map: BTreeMap<String, Value> = BTreeMap::new();
    let mut sensitive = Vec::new();
    vars.visit(&mut |name: &str, value: VarValue<'_>| {
        if def.variable(name).is_some_and(|var| var.sensitive) {
            collect_sensitive(value, &mut sensitive);
        }
        map.insert(name.to_owned(), var_value(value));
    });
    // Longest first, so a value that contains another is redacted whole.
    sensitive.sort_by_key(|value| std::cmp::Reverse(value.len()));
    for var in &def.variables {
        if map.contains_key(&var.name) {
            continue;
        }
        match &var.default {
            Some(default) => {
                map.insert(var.name.clone(), default_value(default));
            }
            None if !var.required => {
                map.insert(var.name.clone(), Value::from(()));
            }
            // A missing required variable is reported by strict undefined at render time.
            None => {}
        }
    }
    (Value::from(map), sensitive)
}

/// Renders `def` with `vars`: the system template (if any) and the user template.
pub fn render_def(
    def: impl Into<DefRef>,
    vars: &dyn TemplateVars,
) -> Result<Rendered, RenderError> {
    let def = def.into();
    let (ctx, sensitive) = context(&def, vars);
    let system = match &def.system {
        Some(_) => Some(render_part(&def, Part::System, &ctx, &sensitive)?),
        None => None,
    };
    let user = render_part(&def, Part::User, &ctx, &sensitive)?;
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
    def: impl Into<DefRef>,
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
        prompt: rendered.prompt,
        source: rendered.source,
        sensitive: rendered.sensitive,
    })
}

/// Renders what `resolution` chose for `compiled`, with `input` as the user turn when given.
///
/// A registry version that fails to render — over a budget ([`RenderError::is_over_budget`]) or
/// failing on these variables — never fails the call: the compiled prompt, the contract the
/// caller was type-checked against, is rendered in its place and one `prompt_render_fallback`
/// event names the version, the reason and the error kind (like a contract mismatch, the
/// remote text is not used). The compiled prompt's own failure is the call's.
pub fn render_resolution(
    compiled: &'static PromptDef,
    resolution: &Resolution,
    vars: &dyn TemplateVars,
    input: Option<&str>,
) -> Result<Rendered, RenderError> {
    let render = |def: DefRef| match input {
        Some(input) => render_def_with_input(def, vars, input),
        None => render_def(def, vars),
    };
    match render(resolution.def.clone()) {
        Ok(mut rendered) => {
            rendered.source = resolution.source;
            Ok(rendered)
        }
        Err(err) if resolution.source != Source::Compiled => {
            tracing::warn!(
                target: crate::events::TARGET,
                event = crate::events::EVENT_RENDER_FALLBACK,
                prompt_id = compiled.id.as_str(),
                compiled_version = %compiled.version,
                remote_version = %resolution.def.version,
                remote_content_hash = resolution.def.content_hash.as_str(),
                source = resolution.source.as_str(),
                error = err.kind.as_str(),
                error_message = %err,
            );
            render(DefRef::Static(compiled))
        }
        Err(err) => Err(err),
    }
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
    values: Vec<(&'a str, DynValue<'a>)>,
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
    pub prompt_id: String,
    /// The name that was given.
    pub name: String,
    /// The declared names, comma-separated.
    pub declared: String,
}

impl<'a> DynVars<'a> {
    /// Checks every name against `def`'s declared variables. Prompts that declare none accept
    /// no variables (their template uses none).
    pub fn new<'n>(
        def: &'a PromptDef,
        pairs: impl IntoIterator<Item = (&'n str, VarValue<'a>)>,
    ) -> Result<Self, UnknownVariable> {
        Self::checked(def, pairs, DynValue::Borrowed)
    }

    /// Like [`new`](Self::new), for owned values.
    pub fn from_owned<'n>(
        def: &'a PromptDef,
        pairs: impl IntoIterator<Item = (&'n str, &'a OwnedValue)>,
    ) -> Result<Self, UnknownVariable> {
        Self::checked(def, pairs, DynValue::Owned)
    }

    fn checked<'n, V>(
        def: &'a PromptDef,
        pairs: impl IntoIterator<Item = (&'n str, V)>,
        wrap: impl Fn(V) -> DynValue<'a>,
    ) -> Result<Self, UnknownVariable> {
        let mut values = Vec::new();
        for (name, value) in pairs {
            let var = def.variable(name).ok_or_else(|| UnknownVariable {
                prompt_id: def.id.clone(),
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

    #[test]
    fn sensitive_values_are_redacted_as_written_and_as_escaped() {
        let secret = "acct \"7731\"\\x\nline".to_owned();
        let sensitive = [secret.clone()];
        let json = serde_json::json!({ "summary": format!("echo {secret}") }).to_string();
        let debug = format!("{:?}", format!("echo {secret}"));
        for text in [format!("plain {secret}"), json, debug] {
            let redacted = redact(&sensitive, &text);
            assert!(redacted.contains(REDACTED), "{text} -> {redacted}");
            assert!(!redacted.contains("7731"), "{text} -> {redacted}");
        }
    }
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
        vars.visit(&mut |name: &str, value: VarValue<'_>| seen.push(format!("{name}={value:?}")));
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

    /// A shared definition with `template`, under a fresh id so no test shares its cache key.
    fn shared(template: &str) -> DefRef {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = format!("tests.limits-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        DefRef::Shared(std::sync::Arc::new(PromptDef::new(
            id,
            Version::new(1),
            "o",
            "m",
            template,
        )))
    }

    fn render_kind(template: &str) -> RenderErrorKind {
        render_def(shared(template), &crate::NoVars)
            .expect_err("the render is refused")
            .kind
    }

    /// Runs `work` on a thread with a tokio worker's default stack (2 MiB), where a stack
    /// overflow would abort the test process.
    fn on_small_stack<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(work)
            .expect("thread")
            .join()
            .expect("no panic")
    }

    #[test]
    fn nested_loops_run_out_of_fuel() {
        let bomb = "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}";
        assert_eq!(
            render_kind(bomb),
            RenderErrorKind::OutOfFuel {
                fuel: RenderLimits::DEFAULT_FUEL
            }
        );
    }

    #[test]
    fn doubling_a_string_runs_out_of_fuel_before_memory() {
        // 48 doublings of 8 bytes would be 2 PB.
        let bomb = format!(
            "{{% set x = 'aaaaaaaa' %}}{}{{{{ x|length }}}}",
            "{% set x = x ~ x %}".repeat(48)
        );
        assert_eq!(
            render_kind(&bomb),
            RenderErrorKind::OutOfFuel {
                fuel: RenderLimits::DEFAULT_FUEL
            }
        );
        let macro_bomb = "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}{% endmacro %}{{ d('ab', 60) }}";
        assert_eq!(
            render_kind(macro_bomb),
            RenderErrorKind::OutOfFuel {
                fuel: RenderLimits::DEFAULT_FUEL
            }
        );
    }

    #[test]
    fn output_past_the_cap_is_refused() {
        let wide = "{% for i in range(3) %}{{ 'x' * 500000 }}{% endfor %}";
        assert_eq!(
            render_kind(wide),
            RenderErrorKind::OutputTooLarge {
                max_bytes: RenderLimits::DEFAULT_MAX_OUTPUT_BYTES
            }
        );
        // Just under the cap renders.
        let fits = format!("{{{{ 'x' * {} }}}}", RenderLimits::DEFAULT_MAX_OUTPUT_BYTES);
        let rendered = render_def(shared(&fits), &crate::NoVars).expect("fits");
        assert_eq!(rendered.user.len(), RenderLimits::DEFAULT_MAX_OUTPUT_BYTES);
    }

    #[test]
    fn a_template_over_the_limits_is_refused_before_it_is_compiled() {
        // 5,000 links overflow a 2 MiB stack in minijinja's compiler; the limits refuse them
        // first, so this thread survives.
        let chain = format!("{{{{ 'a'{} }}}}", "|upper".repeat(5_000));
        let kind = on_small_stack(move || render_kind(&chain));
        let RenderErrorKind::OverLimits(exceeded) = kind else {
            panic!("{kind:?}")
        };
        assert_eq!(exceeded.limit, promptops_core::Limit::ExpressionOperators);
    }

    #[test]
    fn the_deepest_template_the_limits_allow_compiles_on_a_small_stack() {
        let limits = TemplateLimits::default();
        let depth = limits.max_bracket_depth;
        let deepest = format!(
            "{}{{{{ 'a'{}{}{} }}}}{}",
            "{% if true %}".repeat(limits.max_block_nesting),
            "|upper".repeat(limits.max_expression_operators - 2 * depth),
            "|default('b'".repeat(depth),
            ")".repeat(depth),
            "{% endif %}".repeat(limits.max_block_nesting),
        );
        assert_eq!(limits.check(&deepest), Ok(()));
        let rendered = on_small_stack(move || render_def(shared(&deepest), &crate::NoVars));
        assert_eq!(rendered.expect("renders").user, "A");
    }

    #[test]
    fn the_template_cache_is_bounded() {
        for _ in 0..MAX_CACHED_TEMPLATES + 20 {
            render_def(shared("hello"), &crate::NoVars).expect("renders");
        }
        let (count, bytes) = read_cache().usage();
        assert!(count <= MAX_CACHED_TEMPLATES, "{count}");
        assert!(bytes <= MAX_CACHED_SOURCE_BYTES, "{bytes}");
    }

    #[test]
    fn render_limits_read_their_variables() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert_eq!(
            RenderLimits::from_lookup(lookup(&[])),
            (RenderLimits::default(), vec![])
        );
        assert_eq!(
            RenderLimits::from_lookup(lookup(&[(FUEL_ENV, " 1000 "), (MAX_OUTPUT_ENV, "64")])),
            (
                RenderLimits {
                    fuel: 1000,
                    max_output_bytes: 64
                },
                vec![]
            )
        );
        assert_eq!(
            RenderLimits::from_lookup(lookup(&[(FUEL_ENV, "0"), (MAX_OUTPUT_ENV, "lots")])),
            (RenderLimits::default(), vec![FUEL_ENV, MAX_OUTPUT_ENV])
        );
    }

    #[test]
    fn a_registry_version_that_cannot_render_falls_back_to_the_compiled_prompt() {
        let compiled: &'static PromptDef = Box::leak(Box::new(PromptDef::new(
            "tests.fallback",
            Version::new(1),
            "o",
            "m",
            "compiled text",
        )));
        let mut remote = PromptDef::new(
            "tests.fallback",
            Version::new(2),
            "o",
            "m",
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        );
        remote.content_hash = "remote-hash".into();
        let remote: &'static PromptDef = Box::leak(Box::new(remote));
        let resolution = Resolution {
            def: remote.into(),
            source: Source::Http,
            ..Resolution::compiled(compiled)
        };
        let (capture, subscriber) = crate::events::EventCapture::new();
        let rendered = tracing::subscriber::with_default(subscriber, || {
            render_resolution(compiled, &resolution, &crate::NoVars, None)
        })
        .expect("the compiled prompt renders");
        assert_eq!(rendered.user, "compiled text");
        assert_eq!(rendered.prompt.version, Version::new(1));
        assert_eq!(rendered.source, Source::Compiled);
        let events = capture.events();
        assert_eq!(events.len(), 1, "{events:?}");
        let event = &events[0];
        assert_eq!(event["event"], crate::events::EVENT_RENDER_FALLBACK);
        assert_eq!(event["remote_version"], "2");
        assert_eq!(event["remote_content_hash"], "remote-hash");
        assert_eq!(event["error"], "out_of_fuel");

        // A usable registry version renders as itself.
        let fine: &'static PromptDef = Box::leak(Box::new(PromptDef::new(
            "tests.fallback",
            Version::new(3),
            "o",
            "m",
            "remote text",
        )));
        let resolution = Resolution {
            def: fine.into(),
            source: Source::Http,
            ..Resolution::compiled(compiled)
        };
        let rendered = render_resolution(compiled, &resolution, &crate::NoVars, None).unwrap();
        assert_eq!(
            (rendered.user.as_str(), rendered.source),
            ("remote text", Source::Http)
        );
    }
}
