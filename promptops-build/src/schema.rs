//! The prompt file schema: turns one YAML document into a validated [`Prompt`], reporting every
//! problem it finds rather than stopping at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use crate::diagnostic::{Code, Diagnostic, Location, SourceText, Suggestions};
use crate::models::{ModelTable, Resolved};
use crate::naming;
use crate::template::{TemplateChecker, TemplateText};
use crate::yaml::{Node, NodeKind, Region, Scalar};

/// A field of a prompt file, an eval suite or one of their mappings: its key and the one line
/// editors show for it (the JSON Schema's `description`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The key.
    pub name: &'static str,
    /// What the field holds.
    pub doc: &'static str,
}

const fn field(name: &'static str, doc: &'static str) -> Field {
    Field { name, doc }
}

/// Top-level fields of a prompt file, in the order the docs list them.
pub const FIELDS: &[Field] = &[
    field("id", "Dotted prompt id such as `customer-support.intent-classifier`; it must match the file's path under the prompts directory (`customer_support/intent_classifier.yaml`)."),
    field("version", "Version number, an integer >= 1; immutable once released."),
    field("owner", "Who approves changes to this prompt (a team)."),
    field("model", "A model alias from the model table (e.g. `claude-3-5-sonnet`) or a Bedrock model id."),
    field("template", "The user-turn template, in minijinja (Jinja2) syntax; compiled at build time."),
    field("tags", "Search tags; may be empty."),
    field("parent", "The version this one was derived from; lower than `version`."),
    field("description", "What the prompt does; goes into the generated doc comments."),
    field("status", "Lifecycle status; production builds leave draft prompts out."),
    field("deprecation_note", "Why the prompt is deprecated and what to use instead; only on a deprecated prompt."),
    field("metrics", "Numbers about the prompt: `baseline_accuracy` is the eval gate's floor; other names are free."),
    field("variables", "The template's variables: name -> type, or a declaration. Without it, the variables the templates use are required strings."),
    field("system", "A second template, sent as the system prompt."),
    field("inference", "Inference settings sent with every call."),
    field("output", "`labels: [...]` makes the prompt a classifier: a generated Rust enum, the model's answer parsed into it."),
    field("created", "Creation date, YYYY-MM-DD."),
    field("updated", "Date of the last change, YYYY-MM-DD; not before `created`."),
];

/// The required top-level fields, each with the line the help suggests adding.
pub const REQUIRED: &[(&str, &str)] = &[
    ("id", "id: domain.prompt-name"),
    ("version", "version: 1"),
    ("owner", "owner: <team that approves changes>"),
    ("model", "model: claude-3-5-sonnet"),
    ("template", "template: |"),
    ("tags", "tags: []"),
];

/// Fields of one variable declaration under `variables`.
pub const VARIABLE_FIELDS: &[Field] = &[
    field("type", "The value's type (default `string`)."),
    field("description", "What the value means."),
    field(
        "required",
        "Whether every call must set it; `false` when it has a default.",
    ),
    field(
        "default",
        "The value used when a call sets none; of the variable's type.",
    ),
    field(
        "sensitive",
        "Never written to events or errors (personal data, secrets).",
    ),
];

/// Fields of `inference`.
pub const INFERENCE_FIELDS: &[Field] = &[
    field("max_tokens", "The most tokens the model may generate."),
    field("temperature", "Sampling temperature."),
    field(
        "top_p",
        "Nucleus sampling: the probability mass to sample from.",
    ),
    field("stop_sequences", "Strings that end the generation."),
];

/// Fields of `output`.
pub const OUTPUT_FIELDS: &[Field] = &[
    field(
        "labels",
        "The answers the model may give; each becomes a variant of the generated `Label` enum.",
    ),
    field(
        "schema",
        "The shape of a structured answer, in a subset of JSON Schema (see the README); never beside `labels`.",
    ),
];

/// Metrics with a rule of their own; any other metric is a free-form number.
pub const KNOWN_METRICS: &[Field] = &[
    field(
        BASELINE_ACCURACY,
        "The accuracy the eval gate requires, as a fraction (0.94 for 94%).",
    ),
    field(
        COST_PER_CALL_USD,
        "Expected cost of one call, in US dollars.",
    ),
];

/// The metric the eval gate compares measured accuracy with.
pub const BASELINE_ACCURACY: &str = "baseline_accuracy";

/// Metric name prefix of a per-field eval baseline for a structured prompt
/// (`baseline_accuracy.intent: 0.95`).
pub const FIELD_BASELINE_PREFIX: &str = "baseline_accuracy.";

/// The metric holding the expected cost of one call.
pub const COST_PER_CALL_USD: &str = "cost_per_call_usd";

/// Range of `metrics.baseline_accuracy` (a fraction).
pub const BASELINE_ACCURACY_RANGE: RangeInclusive<f64> = 0.0..=1.0;

/// Smallest `metrics.cost_per_call_usd`.
pub const MIN_COST_PER_CALL_USD: f64 = 0.0;

/// Range of `inference.temperature` and `inference.top_p`.
pub const SAMPLING_RANGE: RangeInclusive<f64> = 0.0..=1.0;

/// Largest `max_tokens` accepted (beyond any Bedrock model's output limit).
pub const MAX_TOKENS_LIMIT: i64 = 1_000_000;

/// Range of `inference.max_tokens`.
pub const MAX_TOKENS_RANGE: RangeInclusive<i64> = 1..=MAX_TOKENS_LIMIT;

/// Smallest `version` and `parent`; both are at most `u32::MAX`.
pub const MIN_VERSION: u32 = 1;

/// The type of a variable declared without one (`name:` or `name: { description: ... }`).
pub const DEFAULT_VAR_TYPE: VarType = VarType::String;

/// The shape of `created` and `updated` as a regular expression; [`is_iso_date`] also checks
/// that the month and day exist.
pub const ISO_DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

pub use promptops_core::{Inference, PromptDef, Status, Value, VarDef, VarType, Version};

/// What a prompt answers with, as its `output` says.
enum Output {
    /// No `output`: free text.
    Text,
    /// `labels`: one of them.
    Labels(Vec<String>),
    /// `schema`: structured data of that shape.
    Schema(promptops_core::output_schema::Schema),
}

/// A prompt file that passed every per-file check: the shared model plus where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// The prompt itself, as the generated crate embeds it and the registry serves it.
    pub def: PromptDef,
    /// Path as shown in diagnostics.
    pub display_path: String,
    /// Where the id is written, for tree-level diagnostics.
    pub id_location: Location,
    /// Where the version is written, for `prompts.lock` diagnostics.
    pub version_location: Location,
    /// Whether `variables` was written in the file (otherwise they were inferred from the
    /// templates, sorted by name).
    pub variables_declared: bool,
}

impl Prompt {
    /// Path relative to the prompts root, `/`-separated.
    pub fn source_path(&self) -> &str {
        self.def.source_path.as_deref().unwrap_or_default()
    }
}

/// What [`parse_prompt`] needs besides the document.
pub struct ParseContext<'c> {
    /// Alias table for `model`.
    pub models: &'c ModelTable,
    /// Template compiler.
    pub templates: &'c TemplateChecker,
}

/// The file's identity, decided by discovery.
pub struct FileIdentity<'f> {
    /// Path relative to the prompts root without extension, `/`-separated.
    pub stem: &'f str,
    /// Path relative to the prompts root with extension.
    pub source_path: &'f str,
    /// SHA-256 of the bytes.
    pub content_hash: String,
}

/// Validates one prompt document; `None` when the file has any problem (all pushed to `out`).
pub fn parse_prompt(
    source: &SourceText<'_>,
    root: &Node<'_>,
    identity: &FileIdentity<'_>,
    context: &ParseContext<'_>,
    out: &mut Vec<Diagnostic>,
) -> Option<Prompt> {
    let before = out.len();
    let mut p = Parser::new(source, out);
    let prompt = p.prompt(root, identity, context);
    if out.len() == before {
        prompt
    } else {
        None
    }
}

/// Field-reading helpers shared by the prompt schema and eval suites: each reports its own
/// problems and returns `None` on any.
pub(crate) struct Parser<'p, 's> {
    pub(crate) source: &'p SourceText<'s>,
    pub(crate) out: &'p mut Vec<Diagnostic>,
    /// Every "did you mean" of the file is charged to one budget: thousands of misspelt keys or
    /// variables still cost a bounded amount of suggesting.
    pub(crate) suggestions: Suggestions,
}

/// A mapping's entries by key, after duplicate and unknown keys were reported.
pub(crate) struct Fields<'n, 'a> {
    pub(crate) region: Region,
    entries: BTreeMap<String, (&'n Node<'a>, &'n Node<'a>)>,
    /// Known fields an unknown key was taken for: a typo is reported once, not also as missing.
    pub(crate) suggested: BTreeSet<&'static str>,
}

impl<'n, 'a> Fields<'n, 'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'n Node<'a>> {
        self.entries.get(name).map(|(_, value)| *value)
    }

    pub(crate) fn key(&self, name: &str) -> Option<&'n Node<'a>> {
        self.entries.get(name).map(|(key, _)| *key)
    }
}

impl<'p, 'a> Parser<'p, 'a> {
    /// A parser for one file, with a full [`Suggestions`] budget.
    pub(crate) fn new(source: &'p SourceText<'a>, out: &'p mut Vec<Diagnostic>) -> Self {
        Parser {
            source,
            out,
            suggestions: Suggestions::new(),
        }
    }

    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.out.push(diagnostic);
    }

    pub(crate) fn at(&self, code: Code, region: Region, message: impl Into<String>) -> Diagnostic {
        self.source.at(code, region, message)
    }

    /// Reads a mapping's keys: reports non-string, duplicate and unknown keys.
    pub(crate) fn fields<'n>(
        &mut self,
        node: &'n Node<'a>,
        known: &[Field],
        context: &str,
    ) -> Option<Fields<'n, 'a>> {
        let Some(entries) = node.as_map() else {
            let diagnostic = self
                .at(
                    Code::WrongType,
                    node.region,
                    format!("{context} must be a mapping, found {}", node.type_name()),
                )
                .with_label("expected `key: value` lines");
            self.push(diagnostic);
            return None;
        };
        let mut fields = Fields {
            region: node.region,
            entries: BTreeMap::new(),
            suggested: BTreeSet::new(),
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else {
                let diagnostic = self.at(
                    Code::WrongType,
                    key.region,
                    format!(
                        "keys in {context} must be strings, found {}",
                        key.type_name()
                    ),
                );
                self.push(diagnostic);
                continue;
            };
            if let Some((first, _)) = fields.entries.get(name) {
                let first_line = first.region.start.line;
                let diagnostic = self
                    .at(
                        Code::DuplicateKey,
                        key.region,
                        format!("`{name}` is set twice in {context}"),
                    )
                    .with_label("second definition")
                    .with_note(format!(
                        "first set on line {first_line}; YAML keeps only one of them"
                    ));
                self.push(diagnostic);
                continue;
            }
            if !known.is_empty() && !known.iter().any(|field| field.name == name) {
                let mut diagnostic = self
                    .at(
                        Code::UnknownField,
                        key.region,
                        format!("unknown field `{name}` in {context}"),
                    )
                    .with_label("not part of the schema");
                let close = self
                    .suggestions
                    .did_you_mean(name, known.iter().map(|field| field.name));
                diagnostic = match close {
                    Some(suggestion) => {
                        fields.suggested.insert(suggestion);
                        diagnostic.with_help(format!("did you mean `{suggestion}`?"))
                    }
                    None => {
                        let names: Vec<&str> = known.iter().map(|field| field.name).collect();
                        diagnostic.with_help(format!("expected one of: {}", names.join(", ")))
                    }
                };
                self.push(diagnostic);
                continue;
            }
            fields.entries.insert(name.to_owned(), (key, value));
        }
        Some(fields)
    }

    /// Reports each `(name, example)` field missing from `fields` (unless an unknown key was
    /// already taken for it), at the mapping's first line; `owner` names the mapping.
    pub(crate) fn require(
        &mut self,
        fields: &Fields<'_, '_>,
        required: &[(&str, &str)],
        owner: &str,
    ) {
        for (name, example) in required {
            if fields.get(name).is_none() && !fields.suggested.contains(name) {
                let first_line = Region {
                    start: fields.region.start,
                    end: fields.region.start,
                };
                let diagnostic = self
                    .at(
                        Code::MissingField,
                        first_line,
                        format!("missing required field `{name}`"),
                    )
                    .with_label(format!("{owner} has no `{name}`"))
                    .with_help(format!("add `{example}`"));
                self.push(diagnostic);
            }
        }
    }

    pub(crate) fn wrong_type(&mut self, node: &Node<'_>, what: &str, expected: &str) {
        let diagnostic = self
            .at(
                Code::WrongType,
                node.region,
                format!("{what} must be {expected}, found {}", node.type_name()),
            )
            .with_label(format!("expected {expected}"));
        self.push(diagnostic);
    }

    pub(crate) fn string(&mut self, node: &Node<'_>, what: &str) -> Option<String> {
        if let NodeKind::Scalar { .. } = node.kind {
            if let Some(text) = node.as_str() {
                return Some(text.to_owned());
            }
        }
        self.wrong_type(node, what, "a string");
        None
    }

    pub(crate) fn non_empty_string(&mut self, node: &Node<'_>, what: &str) -> Option<String> {
        let text = self.string(node, what)?;
        if text.trim().is_empty() {
            let diagnostic = self.at(
                Code::EmptyValue,
                node.region,
                format!("{what} must not be empty"),
            );
            self.push(diagnostic);
            return None;
        }
        Some(text)
    }

    pub(crate) fn integer(&mut self, node: &Node<'_>, what: &str) -> Option<i64> {
        match node.scalar() {
            Some(Scalar::Int(value)) => Some(value),
            _ => {
                self.wrong_type(node, what, "an integer");
                None
            }
        }
    }

    pub(crate) fn number(&mut self, node: &Node<'_>, what: &str) -> Option<f64> {
        match node.scalar() {
            Some(Scalar::Int(value)) => Some(value as f64),
            Some(Scalar::Float(value)) if value.is_finite() => Some(value),
            Some(Scalar::Float(_)) => {
                let diagnostic = self.at(
                    Code::WrongType,
                    node.region,
                    format!("{what} must be a finite number"),
                );
                self.push(diagnostic);
                None
            }
            _ => {
                self.wrong_type(node, what, "a number");
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, node: &Node<'_>, what: &str) -> Option<bool> {
        match node.scalar() {
            Some(Scalar::Bool(value)) => Some(value),
            _ => {
                self.wrong_type(node, what, "`true` or `false`");
                None
            }
        }
    }

    pub(crate) fn string_list(&mut self, node: &Node<'_>, what: &str) -> Option<Vec<String>> {
        let Some(items) = node.as_seq() else {
            if node.is_null() {
                return Some(Vec::new());
            }
            self.wrong_type(node, what, "a list of strings");
            return None;
        };
        let mut values = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.non_empty_string(item, &format!("each entry of {what}")) {
                Some(value) => values.push(value),
                None => ok = false,
            }
        }
        ok.then_some(values)
    }

    fn version_number(&mut self, node: &Node<'_>, what: &str) -> Option<u32> {
        let value = self.integer(node, what)?;
        match u32::try_from(value) {
            Ok(version) if version >= MIN_VERSION => Some(version),
            _ => {
                let diagnostic = self
                    .at(
                        Code::InvalidVersion,
                        node.region,
                        format!("{what} must be an integer >= 1, found {value}"),
                    )
                    .with_help("versions start at 1 and go up by one for each released change");
                self.push(diagnostic);
                None
            }
        }
    }

    fn prompt(
        &mut self,
        root: &Node<'a>,
        identity: &FileIdentity<'_>,
        context: &ParseContext<'_>,
    ) -> Option<Prompt> {
        if root.as_map().is_none() {
            let diagnostic = self
                .at(
                    Code::NotAMapping,
                    root.region,
                    format!(
                        "a prompt file must be a mapping of fields, found {}",
                        root.type_name()
                    ),
                )
                .with_help("start the file with `id: ...`, `version: ...`, ...");
            self.push(diagnostic);
            return None;
        }
        let fields = self.fields(root, FIELDS, "a prompt file")?;

        self.require(&fields, REQUIRED, "this prompt");

        let id = fields.get("id").and_then(|node| self.id(node, identity));
        let version = fields
            .get("version")
            .and_then(|node| self.version_number(node, "`version`"));
        let version_location = fields
            .get("version")
            .map_or_else(Location::whole_file, |node| {
                self.source
                    .location(node.region.start, node.region.width_on_first_line())
            });
        let owner = fields
            .get("owner")
            .and_then(|node| self.non_empty_string(node, "`owner`"));
        let model = fields
            .get("model")
            .and_then(|node| self.model(node, context.models));
        let parent = fields
            .get("parent")
            .and_then(|node| self.version_number(node, "`parent`"));
        if let (Some(parent), Some(version), Some(node)) = (parent, version, fields.get("parent")) {
            if parent >= version {
                let diagnostic = self
                    .at(
                        Code::InvalidParent,
                        node.region,
                        format!("parent version {parent} must be lower than version {version}"),
                    )
                    .with_label("not an earlier version")
                    .with_help("`parent` names the version this one was derived from");
                self.push(diagnostic);
            }
        }
        let description = fields
            .get("description")
            .and_then(|node| self.non_empty_string(node, "`description`"));
        let tags = fields
            .get("tags")
            .and_then(|node| self.string_list(node, "`tags`"));
        let status = match fields.get("status") {
            Some(node) => self.status(node),
            None => Some(Status::default()),
        };
        let deprecation_note = fields
            .get("deprecation_note")
            .and_then(|node| self.non_empty_string(node, "`deprecation_note`"));
        if let (Some(_), Some(status)) = (&deprecation_note, status) {
            if status != Status::Deprecated {
                if let Some(key) = fields.key("deprecation_note") {
                    let diagnostic = self
                        .at(
                            Code::MisplacedDeprecationNote,
                            key.region,
                            "`deprecation_note` is only allowed on a deprecated prompt",
                        )
                        .with_help("add `status: deprecated` or remove the note");
                    self.push(diagnostic);
                }
            }
        }
        let metrics = fields.get("metrics").map(|node| self.metrics(node));
        let inference = match fields.get("inference") {
            Some(node) => self.inference(node),
            None => Some(Inference::default()),
        };
        let output = match fields.get("output") {
            Some(node) => self.output(node),
            None => Some(Output::Text),
        };
        if let (Some(node), Some(output)) = (fields.get("metrics"), &output) {
            self.field_baselines(node, output);
        }
        let created = fields
            .get("created")
            .and_then(|node| self.date(node, "`created`"));
        let updated = fields
            .get("updated")
            .and_then(|node| self.date(node, "`updated`"));
        if let (Some(created), Some(updated), Some(node)) =
            (&created, &updated, fields.get("updated"))
        {
            if created > updated {
                let diagnostic = self
                    .at(
                        Code::InvalidDate,
                        node.region,
                        format!("`updated` ({updated}) is before `created` ({created})"),
                    )
                    .with_label("earlier than the creation date");
                self.push(diagnostic);
            }
        }
        let declared = fields.get("variables").map(|node| self.variables(node));

        let template_node = fields.get("template");
        let template = template_node.and_then(|node| self.non_empty_string(node, "`template`"));
        let system_node = fields.get("system");
        let system = system_node.and_then(|node| self.non_empty_string(node, "`system`"));
        // Each name maps to the template it was found in (the last one, `template` over
        // `system`), by index: one copy of each template, whatever the number of names.
        let mut checked: Vec<(&Node<'a>, TemplateText<'_>)> = Vec::new();
        let mut used: BTreeMap<String, usize> = BTreeMap::new();
        let mut templates_ok = true;
        for (field, node, text) in [
            ("system", system_node, &system),
            ("template", template_node, &template),
        ] {
            let (Some(node), Some(text)) = (node, text) else {
                continue;
            };
            match context.templates.check(self.source, field, node, text) {
                Ok(names) => {
                    let index = checked.len();
                    checked.push((node, TemplateText::new(text)));
                    for name in names {
                        used.insert(name, index);
                    }
                }
                Err(diagnostic) => {
                    templates_ok = false;
                    self.push(*diagnostic);
                }
            }
        }

        let variables = match declared {
            Some(Some(declared)) => {
                if templates_ok {
                    self.check_usage(&declared, &used, &checked);
                }
                Some(declared.into_iter().map(|(variable, _)| variable).collect())
            }
            Some(None) => None,
            None => Some(
                used.keys()
                    .map(|name| VarDef::required(name.clone(), VarType::String))
                    .collect(),
            ),
        };

        let (baseline_accuracy, cost_per_call_usd, other_metrics) = match metrics {
            Some(Some(metrics)) => metrics,
            Some(None) => return None,
            None => (None, None, BTreeMap::new()),
        };
        let (id, id_location) = id?;
        let (model, model_id) = model?;
        let mut def = PromptDef {
            id,
            version: Version::new(version?),
            owner: owner?,
            model,
            model_id,
            parent: parent.map(Version::new),
            status: status?,
            deprecation_note,
            description,
            tags: tags?,
            metrics: promptops_core::Metrics {
                baseline_accuracy,
                cost_per_call_usd,
                other: other_metrics,
            },
            variables: variables?,
            template: template?,
            system,
            inference: inference?,
            labels: Vec::new(),
            output_schema: None,
            created,
            updated,
            content_hash: identity.content_hash.clone(),
            contract_hash: String::new(),
            source_path: Some(identity.source_path.to_owned()),
        };
        match output? {
            Output::Text => {}
            Output::Labels(labels) => def.labels = labels,
            Output::Schema(schema) => def.output_schema = Some(schema),
        }
        def.refresh_contract_hash();
        Some(Prompt {
            def,
            display_path: self.source.display.to_owned(),
            id_location,
            version_location,
            variables_declared: fields.get("variables").is_some(),
        })
    }

    fn id(&mut self, node: &Node<'_>, identity: &FileIdentity<'_>) -> Option<(String, Location)> {
        let id = self.string(node, "`id`")?;
        if let Err(err) = naming::check_id(&id) {
            let suggestion = naming::suggest_id(&id);
            let mut diagnostic = self
                .at(Code::InvalidId, node.region, format!("invalid prompt id `{id}`: {err}"))
                .with_note("ids are dot-separated segments of lowercase letters, digits and single hyphens");
            if naming::check_id(&suggestion).is_ok() {
                diagnostic = diagnostic.with_help(format!("try `{suggestion}`"));
            }
            self.push(diagnostic);
            return None;
        }
        if naming::id_to_path_stem(&id) != identity.stem {
            let expected_path = naming::id_to_path_stem(&id);
            let extension = identity.source_path.rsplit('.').next().unwrap_or("yaml");
            let help = match naming::path_stem_to_id(identity.stem) {
                Some(path_id) => format!(
                    "change the id to `{path_id}`, or move the file to `{expected_path}.{extension}`"
                ),
                None => format!("move the file to `{expected_path}.{extension}`"),
            };
            let diagnostic = self
                .at(
                    Code::IdPathMismatch,
                    node.region,
                    format!(
                        "id `{id}` does not match the file's path `{}`",
                        identity.source_path
                    ),
                )
                .with_label("the id decides where the file lives")
                .with_help(help);
            self.push(diagnostic);
            return None;
        }
        for segment in id.split('.') {
            if let Err(err) = naming::snake_ident(segment) {
                let diagnostic = self
                    .at(
                        Code::ReservedName,
                        node.region,
                        format!("id `{id}` has no Rust name: {err}"),
                    )
                    .with_help(
                        "rename that segment (for example prefix a word: `v2fa` instead of `2fa`)",
                    );
                self.push(diagnostic);
                return None;
            }
        }
        let location = self
            .source
            .location(node.region.start, node.region.width_on_first_line());
        Some((id, location))
    }

    fn model(&mut self, node: &Node<'_>, models: &ModelTable) -> Option<(String, String)> {
        let model = self.non_empty_string(node, "`model`")?;
        match models.resolve(&model) {
            Some(Resolved::Alias(id)) => Some((model, id)),
            Some(Resolved::BedrockId) => Some((model.clone(), model)),
            None => {
                let mut diagnostic = self
                    .at(Code::UnknownModel, node.region, format!("unknown model `{model}`"))
                    .with_label("neither a model alias nor a Bedrock model id")
                    .with_note("aliases come from the built-in table and an optional `models.yaml` at the prompts root");
                diagnostic = match models.suggest(&model) {
                    Some(alias) => diagnostic.with_help(format!("did you mean `{alias}`?")),
                    None => diagnostic.with_help("use an alias such as `claude-3-5-sonnet` or a Bedrock id such as `anthropic.claude-3-5-sonnet-20240620-v1:0`"),
                };
                self.push(diagnostic);
                None
            }
        }
    }

    fn status(&mut self, node: &Node<'_>) -> Option<Status> {
        let text = self.string(node, "`status`")?;
        match Status::parse(&text) {
            Some(status) => Some(status),
            None => {
                let other = text.as_str();
                let mut diagnostic = self
                    .at(
                        Code::InvalidStatus,
                        node.region,
                        format!("unknown status `{other}`"),
                    )
                    .with_note("a status is one of: draft, stable, deprecated");
                let close = self
                    .suggestions
                    .did_you_mean(other, Status::ALL.map(Status::as_str));
                if let Some(suggestion) = close {
                    diagnostic = diagnostic.with_help(format!("did you mean `{suggestion}`?"));
                }
                self.push(diagnostic);
                None
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn metrics(
        &mut self,
        node: &Node<'a>,
    ) -> Option<(Option<f64>, Option<f64>, BTreeMap<String, f64>)> {
        let fields = self.fields(node, &[], "`metrics`")?;
        let before = self.out.len();
        let mut baseline = None;
        let mut cost = None;
        let mut other = BTreeMap::new();
        for (name, (_, value)) in &fields.entries {
            let Some(number) = self.number(value, &format!("metric `{name}`")) else {
                continue;
            };
            match name.as_str() {
                BASELINE_ACCURACY if !BASELINE_ACCURACY_RANGE.contains(&number) => {
                    self.accuracy_out_of_range(BASELINE_ACCURACY, number, value.region);
                }
                BASELINE_ACCURACY => baseline = Some(number),
                COST_PER_CALL_USD if number < MIN_COST_PER_CALL_USD => {
                    let diagnostic = self.at(
                        Code::MetricOutOfRange,
                        value.region,
                        format!("`{COST_PER_CALL_USD}` must not be negative, found {number}"),
                    );
                    self.push(diagnostic);
                }
                COST_PER_CALL_USD => cost = Some(number),
                _ => {
                    other.insert(name.clone(), number);
                }
            }
        }
        (self.out.len() == before).then_some((baseline, cost, other))
    }

    /// `baseline_accuracy.<field>` metrics: the eval gate's floor for one field of a structured
    /// answer, so the field must be a top-level property of the output schema and the value a
    /// fraction.
    fn field_baselines(&mut self, metrics: &Node<'a>, output: &Output) {
        let fields: &[promptops_core::output_schema::Property] = match output {
            Output::Schema(schema) => match &schema.kind {
                promptops_core::output_schema::Kind::Object(properties) => properties,
                _ => &[],
            },
            _ => &[],
        };
        for (key, value) in metrics.as_map().unwrap_or_default() {
            let Some(field) = key
                .as_str()
                .and_then(|name| name.strip_prefix(FIELD_BASELINE_PREFIX))
            else {
                continue;
            };
            if !fields.iter().any(|property| property.name == field) {
                let names: Vec<&str> = fields
                    .iter()
                    .map(|property| property.name.as_str())
                    .collect();
                let mut diagnostic = self
                    .at(
                        Code::MetricOutOfRange,
                        key.region,
                        format!(
                            "`{FIELD_BASELINE_PREFIX}{field}` names no field of the output schema"
                        ),
                    )
                    .with_label("unknown field");
                diagnostic = match self.suggestions.did_you_mean(field, names.iter().copied()) {
                    Some(close) => diagnostic.with_help(format!("did you mean `{FIELD_BASELINE_PREFIX}{close}`?")),
                    None if names.is_empty() => diagnostic.with_help(
                        "per-field baselines need `output.schema`; a classifier has only `baseline_accuracy`",
                    ),
                    None => diagnostic.with_help(format!("the fields are: {}", names.join(", "))),
                };
                self.push(diagnostic);
                continue;
            }
            // A value that is no number is reported by `metrics`.
            let number = match value.scalar() {
                Some(Scalar::Int(number)) => number as f64,
                Some(Scalar::Float(number)) => number,
                _ => continue,
            };
            if !BASELINE_ACCURACY_RANGE.contains(&number) {
                let name = format!("{FIELD_BASELINE_PREFIX}{field}");
                self.accuracy_out_of_range(&name, number, value.region);
            }
        }
    }

    /// Reports an accuracy metric (`name`) outside [`BASELINE_ACCURACY_RANGE`].
    fn accuracy_out_of_range(&mut self, name: &str, number: f64, region: Region) {
        let (low, high) = BASELINE_ACCURACY_RANGE.into_inner();
        let diagnostic = self
            .at(
                Code::MetricOutOfRange,
                region,
                format!("`{name}` must be between {low} and {high}, found {number}"),
            )
            .with_help("write accuracy as a fraction: 0.94 for 94%");
        self.push(diagnostic);
    }

    fn inference(&mut self, node: &Node<'a>) -> Option<Inference> {
        let fields = self.fields(node, INFERENCE_FIELDS, "`inference`")?;
        let before = self.out.len();
        let mut inference = Inference::default();
        if let Some(value) = fields.get("max_tokens") {
            if let Some(tokens) = self.integer(value, "`inference.max_tokens`") {
                match u32::try_from(tokens) {
                    Ok(tokens) if MAX_TOKENS_RANGE.contains(&i64::from(tokens)) => {
                        inference.max_tokens = Some(tokens)
                    }
                    _ => {
                        let (low, high) = MAX_TOKENS_RANGE.into_inner();
                        let diagnostic = self.at(
                            Code::InferenceOutOfRange,
                            value.region,
                            format!(
                                "`max_tokens` must be between {low} and {high}, found {tokens}"
                            ),
                        );
                        self.push(diagnostic);
                    }
                }
            }
        }
        for (name, slot) in [
            ("temperature", &mut inference.temperature),
            ("top_p", &mut inference.top_p),
        ] {
            let Some(value) = fields.get(name) else {
                continue;
            };
            let Some(number) = self.number(value, &format!("`inference.{name}`")) else {
                continue;
            };
            if SAMPLING_RANGE.contains(&number) {
                // Bedrock takes these as 32-bit floats; the nearest one, as a literal would be.
                *slot = Some(number as f32);
            } else {
                let (low, high) = SAMPLING_RANGE.into_inner();
                let diagnostic = self.at(
                    Code::InferenceOutOfRange,
                    value.region,
                    format!("`{name}` must be between {low} and {high}, found {number}"),
                );
                self.push(diagnostic);
            }
        }
        if let Some(value) = fields.get("stop_sequences") {
            if let Some(stops) = self.string_list(value, "`inference.stop_sequences`") {
                inference.stop_sequences = stops;
            }
        }
        (self.out.len() == before).then_some(inference)
    }

    fn output(&mut self, node: &Node<'a>) -> Option<Output> {
        let fields = self.fields(node, OUTPUT_FIELDS, "`output`")?;
        match (fields.get("labels"), fields.get("schema")) {
            (Some(labels), None) => self.labels(labels).map(Output::Labels),
            (None, Some(schema)) => self.output_schema(schema).map(Output::Schema),
            (Some(_), Some(schema)) => {
                let region = fields.key("schema").map_or(schema.region, |key| key.region);
                let diagnostic = self
                    .at(
                        Code::InvalidOutputSchema,
                        region,
                        "`output` has both `labels` and `schema`",
                    )
                    .with_label("a prompt answers with a label or with structured data, not both")
                    .with_help(
                        "keep `labels` for a classifier, or `schema` for a structured answer",
                    );
                self.push(diagnostic);
                None
            }
            (None, None) => {
                let diagnostic = self
                    .at(Code::MissingField, fields.region, "`output` needs `labels` or `schema`")
                    .with_help(
                        "add `labels: [first, second]` or a `schema`, or remove `output` for free-text prompts",
                    );
                self.push(diagnostic);
                None
            }
        }
    }

    fn labels(&mut self, value: &Node<'a>) -> Option<Vec<String>> {
        let Some(items) = value.as_seq() else {
            self.wrong_type(value, "`output.labels`", "a list of strings");
            return None;
        };
        if items.is_empty() {
            let diagnostic = self
                .at(
                    Code::InvalidLabels,
                    value.region,
                    "`output.labels` is empty",
                )
                .with_help("list at least one label, or remove `output` for free-text prompts");
            self.push(diagnostic);
            return None;
        }
        let before = self.out.len();
        let mut labels: Vec<String> = Vec::new();
        // Each label by its ASCII-lowercase form (model output is matched ignoring case).
        let mut folded: BTreeMap<String, usize> = BTreeMap::new();
        let mut variants: BTreeMap<String, String> = BTreeMap::new();
        for item in items {
            let Some(label) = self.non_empty_string(item, "each label") else {
                continue;
            };
            let first = *folded
                .entry(label.to_ascii_lowercase())
                .or_insert(labels.len());
            if let Some(previous) = labels.get(first) {
                let diagnostic = self
                    .at(Code::InvalidLabels, item.region, format!("label `{label}` is listed twice"))
                    .with_note(format!("`{previous}` is already a label, and model output is matched ignoring case"));
                self.push(diagnostic);
                continue;
            }
            match naming::variant_ident(&label) {
                Ok(variant) => {
                    if let Some(previous) = variants.get(&variant) {
                        let diagnostic = self
                            .at(
                                Code::RustNameCollision,
                                item.region,
                                format!("labels `{previous}` and `{label}` both become the enum variant `{variant}`"),
                            )
                            .with_help("make the labels differ in letters or digits, not only in punctuation");
                        self.push(diagnostic);
                    } else {
                        variants.insert(variant, label.clone());
                    }
                }
                Err(err) => {
                    let diagnostic = self
                        .at(
                            Code::InvalidLabels,
                            item.region,
                            format!("label `{label}` has no Rust enum variant: {err}"),
                        )
                        .with_help("start the label with a letter");
                    self.push(diagnostic);
                }
            }
            labels.push(label);
        }
        (self.out.len() == before).then_some(labels)
    }

    fn date(&mut self, node: &Node<'_>, what: &str) -> Option<String> {
        let text = match node.scalar() {
            Some(Scalar::Str(text)) => text.to_owned(),
            _ => {
                self.wrong_type(node, what, "an ISO date (YYYY-MM-DD)");
                return None;
            }
        };
        if is_iso_date(&text) {
            Some(text)
        } else {
            let diagnostic = self
                .at(
                    Code::InvalidDate,
                    node.region,
                    format!("{what} is not a valid ISO date: `{text}`"),
                )
                .with_help("write dates as YYYY-MM-DD, e.g. 2026-04-15");
            self.push(diagnostic);
            None
        }
    }

    /// Declared variables with the node of their name, or `None` if any declaration is invalid.
    fn variables<'n>(&mut self, node: &'n Node<'a>) -> Option<Vec<(VarDef, &'n Node<'a>)>> {
        if node.is_null() {
            return Some(Vec::new());
        }
        let Some(entries) = node.as_map() else {
            self.wrong_type(
                node,
                "`variables`",
                "a mapping of variable name to its declaration",
            );
            return None;
        };
        let before = self.out.len();
        let mut variables = Vec::new();
        let mut seen = BTreeSet::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else {
                self.wrong_type(key, "a variable name", "a string");
                continue;
            };
            if !seen.insert(name.to_owned()) {
                let diagnostic = self
                    .at(
                        Code::DuplicateKey,
                        key.region,
                        format!("variable `{name}` is declared twice"),
                    )
                    .with_label("second declaration");
                self.push(diagnostic);
                continue;
            }
            if !naming::is_template_identifier(name) {
                let diagnostic = self
                    .at(
                        Code::InvalidVariable,
                        key.region,
                        format!("`{name}` is not a valid variable name"),
                    )
                    .with_help("use letters, digits and underscores, starting with a letter");
                self.push(diagnostic);
                continue;
            }
            if let Err(err) = naming::snake_ident(name) {
                let diagnostic = self
                    .at(
                        Code::InvalidVariable,
                        key.region,
                        format!("variable `{name}` has no Rust field name: {err}"),
                    )
                    .with_help("rename the variable");
                self.push(diagnostic);
                continue;
            }
            if let Some(variable) = self.variable(name, value) {
                variables.push((variable, key));
            }
        }
        (self.out.len() == before).then_some(variables)
    }

    fn variable(&mut self, name: &str, node: &Node<'a>) -> Option<VarDef> {
        let mut variable = VarDef::required(name, DEFAULT_VAR_TYPE);
        // Shorthand: `name: integer` or a bare `name:`.
        if node.is_null() {
            return Some(variable);
        }
        if let Some(text) = node.as_str() {
            variable.ty = self.var_type(node, text)?;
            return Some(variable);
        }
        let what = format!("variable `{name}`");
        let fields = self.fields(node, VARIABLE_FIELDS, &what)?;
        let before = self.out.len();
        if let Some(value) = fields.get("type") {
            if let Some(text) = self.string(value, "`type`") {
                if let Some(ty) = self.var_type(value, &text) {
                    variable.ty = ty;
                }
            }
        }
        if let Some(value) = fields.get("description") {
            variable.description = self.non_empty_string(value, "`description`");
        }
        if let Some(value) = fields.get("sensitive") {
            variable.sensitive = self.boolean(value, "`sensitive`").unwrap_or(false);
        }
        if let Some(value) = fields.get("default") {
            variable.default = self.default_value(value, variable.ty, name);
            variable.required = false;
        }
        if let Some(value) = fields.get("required") {
            if let Some(required) = self.boolean(value, "`required`") {
                if required && variable.default.is_some() {
                    let diagnostic = self
                        .at(Code::InvalidVariable, value.region, format!("variable `{name}` is required but also has a default"))
                        .with_help("a default only applies to optional variables: drop `required: true` or the default");
                    self.push(diagnostic);
                }
                variable.required = required;
            }
        }
        (self.out.len() == before).then_some(variable)
    }

    fn var_type(&mut self, node: &Node<'_>, text: &str) -> Option<VarType> {
        let ty = match VarType::parse(text) {
            Some(ty) => ty,
            None => {
                let other = text;
                let mut diagnostic = self
                    .at(
                        Code::InvalidVariable,
                        node.region,
                        format!("unknown variable type `{other}`"),
                    )
                    .with_note(format!(
                        "types are: {}",
                        VarType::ALL.map(VarType::as_str).join(", ")
                    ));
                let close = self
                    .suggestions
                    .did_you_mean(other, VarType::ALL.map(VarType::as_str));
                if let Some(suggestion) = close {
                    diagnostic = diagnostic.with_help(format!("did you mean `{suggestion}`?"));
                }
                self.push(diagnostic);
                return None;
            }
        };
        Some(ty)
    }

    fn default_value(&mut self, node: &Node<'_>, ty: VarType, name: &str) -> Option<Value> {
        let what = format!("the default of `{name}`");
        match ty {
            VarType::String => self.string(node, &what).map(Value::String),
            VarType::Integer => self.integer(node, &what).map(Value::Integer),
            VarType::Number => self.number(node, &what).map(Value::Number),
            VarType::Boolean => self.boolean(node, &what).map(Value::Boolean),
            VarType::List => self.string_list(node, &what).map(Value::List),
        }
    }

    /// Declared vs used, both ways. `used` maps each name to its template in `templates`.
    fn check_usage(
        &mut self,
        declared: &[(VarDef, &Node<'a>)],
        used: &BTreeMap<String, usize>,
        templates: &[(&Node<'a>, TemplateText<'_>)],
    ) {
        let declared_names: BTreeSet<&str> =
            declared.iter().map(|(v, _)| v.name.as_str()).collect();
        for (name, &index) in used {
            if declared_names.contains(name.as_str()) {
                continue;
            }
            let (node, text) = &templates[index];
            let (pos, width) = text.locate_variable(self.source, node, name);
            let mut diagnostic = self
                .source
                .at_pos(
                    Code::UndeclaredVariable,
                    pos,
                    width,
                    format!("template uses `{name}`, which is not declared under `variables`"),
                )
                .with_label("undeclared variable");
            let close = self
                .suggestions
                .did_you_mean(name, declared_names.iter().copied());
            diagnostic = match close {
                Some(close) => diagnostic.with_help(format!(
                    "did you mean `{close}`? otherwise declare `{name}` under `variables`"
                )),
                None => diagnostic.with_help(format!(
                    "declare it: `variables: {{ {name}: {{ type: string }} }}`"
                )),
            };
            self.push(diagnostic);
        }
        for (variable, key) in declared {
            if !used.contains_key(&variable.name) {
                let diagnostic = self
                    .at(Code::UnusedVariable, key.region, format!("variable `{}` is declared but no template uses it", variable.name))
                    .with_label("unused")
                    .with_help(format!("use it as `{{{{ {} }}}}` in `template` or `system`, or remove the declaration", variable.name));
                self.push(diagnostic);
            }
        }
    }
}

/// `YYYY-MM-DD` with a real month and day (leap years included).
pub fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &text[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert!(is_iso_date("2026-04-15"));
        assert!(is_iso_date("2024-02-29"));
        assert!(!is_iso_date("2023-02-29"));
        assert!(!is_iso_date("2026-13-01"));
        assert!(!is_iso_date("2026-4-15"));
        assert!(!is_iso_date("15/04/2026"));
    }
}
