//! A deterministic, offline model: keyword rules for label prompts, a schema-valid JSON answer
//! for prompts with an output schema, a readable echo otherwise.
//!
//! It is what the runtime uses when no AWS setting is present, so jobs, examples and the eval
//! gate run anywhere. Same input, same output, every time.
//!
//! For tests of the repair path it can be told to answer badly ([`OutputFlaw`]): invalid JSON,
//! or JSON that breaks a constraint, on the first turns of every structured call.

use serde_json::{Map, Value};

use crate::model::{
    Model, ModelFuture, ModelRequest, ModelResponse, OutputMode, ToolUse, OUTPUT_TOOL_NAME,
};
use crate::pricing::Price;
use crate::structured::{Kind, Schema};

/// Keyword rules: label → phrases that suggest it. Checked in this order; a label only counts
/// when the prompt declares it (case-insensitively).
const RULES: &[(&str, &[&str])] = &[
    (
        "retention",
        &[
            "cancel",
            "cancellation",
            "downgrade",
            "unsubscribe",
            "close my account",
            "leaving",
            "switch to",
            "dissatisfied",
            "unhappy",
            "not worth",
        ],
    ),
    (
        "billing",
        &[
            "refund",
            "invoice",
            "charge",
            "charged",
            "billing",
            "bill",
            "payment",
            "paid",
            "receipt",
            "credit card",
            "overcharged",
        ],
    ),
    (
        "technical",
        &[
            "error",
            "crash",
            "bug",
            "broken",
            "not working",
            "doesn't work",
            "does not work",
            "fails",
            "failing",
            "can't log in",
            "cannot log in",
            "login",
            "password",
            "timeout",
        ],
    ),
    (
        "sales",
        &[
            "price",
            "pricing",
            "plan",
            "plans",
            "upgrade",
            "quote",
            "demo",
            "new account",
            "enterprise",
            "trial",
            "buy",
            "purchase",
            "discount",
            "licence",
            "license",
            "seats",
        ],
    ),
    (
        "negative",
        &[
            "furious",
            "terrible",
            "awful",
            "angry",
            "hate",
            "worst",
            "horrible",
            "disappointed",
            "unacceptable",
            "frustrated",
            "annoyed",
            "useless",
        ],
    ),
    (
        "positive",
        &[
            "thanks",
            "thank you",
            "great",
            "love",
            "excellent",
            "awesome",
            "amazing",
            "perfect",
            "happy",
            "appreciate",
            "fantastic",
        ],
    ),
];

/// Integer fields the local model fills by [`URGENT_PHRASES`] (a bounded scale named like
/// `urgency`) rather than by a hash.
const URGENCY_NAMES: &[&str] = &["urgency", "priority", "severity"];

/// Phrases that each raise an urgency scale by one step.
const URGENT_PHRASES: &[&str] = &[
    "urgent",
    "asap",
    "immediately",
    "right now",
    "down",
    "cannot work",
    "can't work",
    "losing money",
    "blocked",
    "outage",
    "today",
    "deadline",
];

/// Labels answered when nothing matches, in order of preference (else the last label).
const FALLBACK_LABELS: &[&str] = &["other", "neutral"];

/// Characters of the user turn quoted by the echo.
const ECHO_CHARS: usize = 280;

/// A deliberate mistake in the local model's structured answers, for tests of the repair path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFlaw {
    /// Text that holds no JSON object (and, where a tool is offered, no tool call).
    InvalidJson,
    /// A JSON object that breaks a constraint: the first bounded number out of its range, else
    /// the first property left out.
    Violation,
}

/// The offline model.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalModel {
    flaw: Option<(OutputFlaw, u32)>,
}

impl LocalModel {
    /// Creates the model.
    pub fn new() -> Self {
        LocalModel::default()
    }

    /// Answers structured calls with `flaw` on their first `turns` turns (the first answer and
    /// `turns - 1` repair turns), correctly afterwards: `turns: 1` is repaired by one repair
    /// turn, `u32::MAX` never.
    pub fn with_flawed_output(mut self, flaw: OutputFlaw, turns: u32) -> Self {
        self.flaw = Some((flaw, turns));
        self
    }

    /// A schema-valid answer for `schema`, derived from `input` (the same input always gives
    /// the same answer): enum values chosen by the keyword rules, strings from the input's
    /// last line's first sentence, identifiers from a token with digits, urgency-like scales from
    /// urgent phrases, other numbers and booleans from a hash of the input.
    pub fn structured_answer(schema: &Schema, input: &str) -> Value {
        sample(schema, input, "", fnv1a(input))
    }

    fn structured_response(&self, request: &ModelRequest<'_>) -> Option<(String, Option<ToolUse>)> {
        let structured = request.structured?;
        let turn = u32::try_from(structured.earlier.len()).unwrap_or(u32::MAX);
        let flaw = self
            .flaw
            .filter(|(_, turns)| turn < *turns)
            .map(|(flaw, _)| flaw);
        let mut answer = Self::structured_answer(structured.schema, request.user);
        match flaw {
            Some(OutputFlaw::InvalidJson) => {
                return Some((
                    "I am not sure; the answer might be {\"incomplete\": ".to_owned(),
                    None,
                ))
            }
            Some(OutputFlaw::Violation) => break_a_constraint(structured.schema, &mut answer),
            None => {}
        }
        Some(match structured.mode {
            OutputMode::Tool => (
                String::new(),
                Some(ToolUse {
                    id: format!("local-{turn}"),
                    name: OUTPUT_TOOL_NAME.to_owned(),
                    input: answer,
                }),
            ),
            OutputMode::Text => (answer.to_string(), None),
        })
    }

    /// The label the keyword rules pick for `text` among `labels` (as written in `labels`).
    ///
    /// Each declared label scores one point per matching phrase (whole words); ties go to the
    /// earlier rule. A label name that appears in the text scores too, for labels without rules.
    /// Without any match: `other` if declared, else the last label.
    pub fn classify<'l>(text: &str, labels: &[&'l str]) -> Option<&'l str> {
        let lowered = without_choice_lists(&text.to_lowercase(), labels);
        let words = tokenize(&lowered);
        let mut best: Option<(&'l str, usize)> = None;
        let mut consider = |label: &'l str, score: usize| {
            if score > 0 && best.is_none_or(|(_, top)| score > top) {
                best = Some((label, score));
            }
        };
        for (rule_label, phrases) in RULES {
            if let Some(label) = labels.iter().find(|l| l.eq_ignore_ascii_case(rule_label)) {
                let score = phrases
                    .iter()
                    .filter(|phrase| contains_phrase(&words, phrase))
                    .count();
                consider(label, score);
            }
        }
        for label in labels {
            let has_rule = RULES
                .iter()
                .any(|(rule, _)| label.eq_ignore_ascii_case(rule));
            if !has_rule && contains_phrase(&words, &label.to_lowercase()) {
                consider(label, 1);
            }
        }
        best.map(|(label, _)| label).or_else(|| {
            FALLBACK_LABELS
                .iter()
                .find_map(|fallback| labels.iter().find(|l| l.eq_ignore_ascii_case(fallback)))
                .or(labels.last())
                .copied()
        })
    }

    /// Labels of a prompt without `output.labels` whose instructions (the system part, with
    /// the caller's input as the user turn) name at least two of the rule labels — the seed's
    /// intent classifier is written this way.
    fn inferred_labels(request: &ModelRequest<'_>) -> Vec<&'static str> {
        let Some(instructions) = request.system else {
            return Vec::new();
        };
        let lowered = instructions.to_lowercase();
        let words = tokenize(&lowered);
        let found: Vec<&'static str> = RULES
            .iter()
            .map(|(label, _)| *label)
            .chain(["other"])
            .filter(|label| words.contains(label))
            .collect();
        if found.len() >= 2 {
            found
        } else {
            Vec::new()
        }
    }

    fn answer(request: &ModelRequest<'_>) -> String {
        if request.prompt.is_classifier() {
            let labels: Vec<&str> = request.prompt.labels.iter().map(String::as_str).collect();
            return Self::classify(request.user, &labels)
                .unwrap_or_default()
                .to_owned();
        }
        let inferred = Self::inferred_labels(request);
        if !inferred.is_empty() {
            return Self::classify(request.user, &inferred)
                .unwrap_or_default()
                .to_owned();
        }
        let quoted: String = request.user.chars().take(ECHO_CHARS).collect();
        let ellipsis = if request.user.chars().count() > ECHO_CHARS {
            "…"
        } else {
            ""
        };
        let mut text = format!(
            "[local model: {} v{}] {}{}",
            request.prompt.id,
            request.prompt.version,
            quoted.trim(),
            ellipsis
        );
        if let Some(max) = request.inference.max_tokens {
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            if text.split_whitespace().count() > max {
                text = text
                    .split_whitespace()
                    .take(max)
                    .collect::<Vec<_>>()
                    .join(" ");
            }
        }
        text
    }
}

/// Drops lines that name two or more of the labels: those are the prompt's instructions listing
/// the choices ("answer positive, neutral or negative"), not evidence for any one of them.
fn without_choice_lists(text: &str, labels: &[&str]) -> String {
    text.lines()
        .filter(|line| {
            let words = tokenize(line);
            let named = labels
                .iter()
                .filter(|label| contains_phrase(&words, &label.to_lowercase()))
                .count();
            named < 2
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn tokenize(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|word| !word.is_empty())
        .collect()
}

fn contains_phrase(words: &[&str], phrase: &str) -> bool {
    let phrase: Vec<&str> = tokenize(phrase);
    !phrase.is_empty()
        && words.windows(phrase.len()).any(|window| {
            window
                .iter()
                .zip(&phrase)
                .all(|(word, rule)| inflects(word, rule))
        })
}

/// Whether `word` is `rule` or a regular English inflection of it (`crash` → `crashes`,
/// `switch` → `switching`, `close` → `closed`), so rules need not list every form.
fn inflects(word: &str, rule: &str) -> bool {
    if word == rule {
        return true;
    }
    if let Some(suffix) = word.strip_prefix(rule) {
        return matches!(suffix, "s" | "es" | "ed" | "d" | "ing");
    }
    match rule.strip_suffix('e') {
        Some(stem) => word
            .strip_prefix(stem)
            .is_some_and(|suffix| suffix == "ing"),
        None => false,
    }
}

/// FNV-1a: a small, stable hash (the same on every platform and Rust version, unlike std's), so
/// the local model's numbers and booleans depend on the input only.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A value for `schema` derived from `input`; `name` is the property it fills (for hints such as
/// an order id), `seed` varies it between properties and elements.
fn sample(schema: &Schema, input: &str, name: &str, seed: u64) -> Value {
    match &schema.kind {
        Kind::Object(properties) => {
            let mut map = Map::new();
            for (index, property) in properties.iter().enumerate() {
                let seed = seed.rotate_left(7) ^ fnv1a(&property.name) ^ index as u64;
                map.insert(
                    property.name.clone(),
                    sample(&property.schema, input, &property.name, seed),
                );
            }
            Value::Object(map)
        }
        Kind::String { values, .. } if !values.is_empty() => {
            let labels: Vec<&str> = values.iter().map(String::as_str).collect();
            let chosen = LocalModel::classify(input, &labels).unwrap_or(labels[0]);
            Value::String(chosen.to_owned())
        }
        Kind::String { max_length, .. } => {
            if schema.nullable && (name.ends_with("_id") || name == "id") {
                // An identifier is a token of four or more characters with a digit in it
                // (`A-1234`, `88412`; not `12 seats` or `error 500`), or none at all.
                return input
                    .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '!' | '?' | ':'))
                    .map(|token| token.trim_start_matches('#'))
                    .find(|token| {
                        let length = token.chars().count() as u64;
                        length >= 4
                            && max_length.is_none_or(|max| length <= max)
                            && token.chars().any(|c| c.is_ascii_digit())
                    })
                    .map_or(Value::Null, |token| Value::String(token.to_owned()));
            }
            // The first sentence of the input's last line: the message itself when a template
            // puts it under a heading.
            let last_line = input
                .lines()
                .map(str::trim)
                .rfind(|line| !line.is_empty())
                .unwrap_or("(empty input)");
            let sentence = last_line
                .split_inclusive(['.', '!', '?'])
                .map(str::trim)
                .find(|sentence| !sentence.is_empty())
                .unwrap_or(last_line);
            let limit = max_length.map_or(ECHO_CHARS, |max| {
                usize::try_from(max).unwrap_or(usize::MAX).min(ECHO_CHARS)
            });
            Value::String(sentence.chars().take(limit).collect())
        }
        Kind::Integer {
            minimum: Some(low),
            maximum: Some(high),
        } if URGENCY_NAMES.iter().any(|word| name.contains(word)) => {
            // One step up the scale per urgent phrase, from the bottom.
            let lowered = input.to_lowercase();
            let words = tokenize(&lowered);
            let steps = URGENT_PHRASES
                .iter()
                .filter(|phrase| contains_phrase(&words, phrase))
                .count();
            let steps = i64::try_from(steps).unwrap_or(i64::MAX);
            Value::from(low.saturating_add(steps).min(*high))
        }
        Kind::Integer { minimum, maximum } => {
            // Without a minimum, start at 0, or ten below a negative maximum.
            let low =
                minimum.unwrap_or_else(|| maximum.map_or(0, |max| max.min(0).saturating_sub(9)));
            let high = maximum.unwrap_or(low.saturating_add(9)).max(low);
            let span = u64::try_from(i128::from(high) - i128::from(low) + 1).unwrap_or(u64::MAX);
            let offset = i64::try_from(seed % span.max(1)).unwrap_or(0);
            Value::from(low.saturating_add(offset))
        }
        Kind::Number { minimum, maximum } => {
            let low = minimum.unwrap_or_else(|| maximum.map_or(0.0, |max| max.min(0.0) - 1.0));
            let high = maximum.unwrap_or(low + 1.0).max(low);
            let fraction = (seed % 101) as f64 / 100.0;
            // Rounding can step past `high` (0.1 + 0.2 × 1.0), and a span too wide for an f64
            // is infinite: clamp, and fall back to the bound.
            let value = (low + (high - low) * fraction).clamp(low, high);
            let value = if value.is_finite() { value } else { low };
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
        }
        Kind::Boolean => Value::Bool(seed.is_multiple_of(2)),
        Kind::Array { items, max_items } => {
            let count = max_items.map_or(2, |max| max.min(2));
            let mut elements: Vec<Value> = Vec::new();
            for index in 0..count {
                let element = sample(items, input, name, seed.rotate_left(13) ^ index);
                if !elements.contains(&element) {
                    elements.push(element);
                }
            }
            Value::Array(elements)
        }
    }
}

/// Makes a valid answer invalid: the first bounded integer or number goes one past its
/// maximum (or below its minimum), else the first property is left out.
fn break_a_constraint(schema: &Schema, answer: &mut Value) {
    fn push_out_of_range(schema: &Schema, value: &mut Value) -> bool {
        match (&schema.kind, value) {
            (Kind::Object(properties), Value::Object(map)) => properties.iter().any(|property| {
                map.get_mut(&property.name)
                    .is_some_and(|field| push_out_of_range(&property.schema, field))
            }),
            (Kind::Integer { minimum, maximum }, value) => {
                match (maximum, minimum) {
                    (Some(max), _) => *value = Value::from(max.saturating_add(1)),
                    (None, Some(min)) => *value = Value::from(min.saturating_sub(1)),
                    (None, None) => return false,
                }
                true
            }
            (Kind::Number { minimum, maximum }, value) => {
                let out = match (maximum, minimum) {
                    (Some(max), _) => max + 1.0,
                    (None, Some(min)) => min - 1.0,
                    (None, None) => return false,
                };
                *value = serde_json::Number::from_f64(out).map_or(Value::Null, Value::Number);
                true
            }
            _ => false,
        }
    }
    if !push_out_of_range(schema, answer) {
        if let (Kind::Object(properties), Value::Object(map)) = (&schema.kind, answer) {
            if let Some(first) = properties.first() {
                map.remove(&first.name);
            }
        }
    }
}

fn count_tokens(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

impl Model for LocalModel {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn complete<'a>(&'a self, request: ModelRequest<'a>) -> ModelFuture<'a> {
        Box::pin(async move {
            let (text, tool_use) = self
                .structured_response(&request)
                .unwrap_or_else(|| (Self::answer(&request), None));
            let input = request.system.map(count_tokens).unwrap_or(0) + count_tokens(request.user);
            let output = match &tool_use {
                Some(tool_use) => count_tokens(&tool_use.input.to_string()),
                None => count_tokens(&text),
            };
            Ok(ModelResponse {
                input_tokens: Some(input),
                output_tokens: Some(output),
                text,
                tool_use,
                provider_request_id: None,
            })
        })
    }

    /// The local model answers in whichever form it is asked; a tool by default, as for the
    /// models that support one.
    fn output_mode(&self, _model_id: &str) -> OutputMode {
        OutputMode::Tool
    }

    fn price(&self, _model_id: &str) -> Option<Price> {
        Some(Price::FREE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn triage_schema() -> Schema {
        Schema::parse(&json!({
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": ["billing", "technical", "sales", "retention", "other"]},
                "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
                "order_id": {"type": ["string", "null"]},
                "summary": {"type": "string", "maxLength": 20},
                "products": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                "refund": {"type": "boolean"},
                "score": {"type": "number", "minimum": 0.5, "maximum": 1.5}
            },
            "required": ["intent", "urgency", "order_id", "summary", "products", "refund", "score"]
        }))
        .expect("a valid schema")
    }

    #[test]
    fn structured_answers_fill_the_schema_and_follow_the_input() {
        let schema = triage_schema();
        for input in [
            "I was charged twice for order #A-1234. Please refund me!",
            "The app crashes on start",
            "",
            "ünïcödé 🎉 with no sentence end",
        ] {
            let answer = LocalModel::structured_answer(&schema, input);
            assert_eq!(schema.check(&answer), [], "{input:?}: {answer}");
            assert_eq!(answer, LocalModel::structured_answer(&schema, input));
        }
        let answer =
            LocalModel::structured_answer(&schema, "I was charged twice for order #A-1234. Thanks");
        assert_eq!(answer["intent"], "billing");
        assert_eq!(answer["order_id"], "A-1234");
        assert_eq!(answer["summary"], "I was charged twice ");
        let answer = LocalModel::structured_answer(&schema, "The app crashes on start");
        assert_eq!(answer["intent"], "technical");
        assert_eq!(answer["order_id"], Value::Null);
        assert_eq!(
            answer["urgency"], 1,
            "no urgent phrase: the bottom of the scale"
        );
        let answer = LocalModel::structured_answer(
            &schema,
            "URGENT: the site is down and we are losing money right now, fix it immediately, asap!",
        );
        assert_eq!(answer["urgency"], 5, "capped at the maximum");
        let answer =
            LocalModel::structured_answer(&schema, "Login is blocked, I need it today please");
        assert_eq!(answer["urgency"], 3);
    }

    #[test]
    fn answers_fill_schemas_at_the_edges_of_their_ranges() {
        let field = |schema: serde_json::Value| {
            Schema::parse(&json!({
                "type": "object",
                "properties": {"order_id": schema},
                "required": ["order_id"]
            }))
            .expect("a valid schema")
        };
        let schemas = [
            field(json!({"type": "integer", "maximum": -5})),
            field(json!({"type": "integer", "minimum": i64::MAX - 1})),
            field(json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})),
            field(json!({"type": "number", "maximum": -0.5})),
            field(json!({"type": "number", "minimum": 0.1, "maximum": 0.3})),
            field(json!({"type": "number", "minimum": -1.7e308, "maximum": 1.7e308})),
            field(json!({"type": ["string", "null"], "maxLength": 5})),
            field(json!({"type": "string", "maxLength": 0})),
            field(json!({"type": "array", "items": {"type": "boolean"}, "maxItems": 0})),
            field(
                json!({"type": "array", "items": {"type": "string", "enum": ["x"]}, "maxItems": 5}),
            ),
        ];
        let inputs = [
            "",
            "order #ABCDEFGH-123456 and #A-12",
            "The app crashes on start",
            "ünïcödé 🎉",
        ];
        for schema in &schemas {
            for (index, input) in inputs.iter().enumerate() {
                // Vary the hash too: the same schema under many seeds.
                for salt in 0..50 {
                    let input = format!("{input}{}", " ".repeat(salt + index));
                    let answer = LocalModel::structured_answer(schema, &input);
                    assert_eq!(
                        schema.check(&answer),
                        [],
                        "{} for {input:?}: {answer}",
                        schema.to_json()
                    );
                }
            }
        }
    }

    #[test]
    fn a_violation_breaks_a_range_first_and_a_property_otherwise() {
        let schema = triage_schema();
        let mut answer = LocalModel::structured_answer(&schema, "hello");
        break_a_constraint(&schema, &mut answer);
        let violations = schema.check(&answer);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].pointer, "/urgency");

        let plain = Schema::parse(&json!({
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"]
        }))
        .expect("a valid schema");
        let mut answer = LocalModel::structured_answer(&plain, "hello");
        break_a_constraint(&plain, &mut answer);
        assert_eq!(plain.check(&answer)[0].message, "missing property `name`");
    }

    const LABELS: &[&str] = &["billing", "technical", "sales", "retention", "other"];

    #[test]
    fn keyword_rules_pick_the_seed_labels() {
        let cases = [
            ("I was charged twice, I want a refund", "billing"),
            ("The app crashes with an error on startup", "technical"),
            (
                "What does the enterprise plan cost? Can I upgrade?",
                "sales",
            ),
            ("Please cancel my subscription", "retention"),
            ("What's the weather like?", "other"),
        ];
        for (text, expected) in cases {
            assert_eq!(LocalModel::classify(text, LABELS), Some(expected), "{text}");
        }
    }

    #[test]
    fn rules_match_regular_inflections_only() {
        assert!(inflects("crashes", "crash"));
        assert!(inflects("switching", "switch"));
        assert!(inflects("closing", "close"));
        assert!(inflects("licences", "licence"));
        assert!(!inflects("crashtest", "crash"));
        assert!(!inflects("bug", "bugs"));
        assert_eq!(
            LocalModel::classify("We're switching to another vendor", LABELS),
            Some("retention")
        );
        assert_eq!(
            LocalModel::classify("The app crashes every morning", LABELS),
            Some("technical")
        );
    }

    #[test]
    fn labels_without_rules_match_by_name_and_fall_back() {
        const MOODS: &[&str] = &["Happy", "Sad"];
        assert_eq!(
            LocalModel::classify("I am so sad today", MOODS),
            Some("Sad")
        );
        assert_eq!(LocalModel::classify("meh", MOODS), Some("Sad"));
        assert_eq!(LocalModel::classify("anything", &[]), None);
    }

    #[test]
    fn instruction_lines_listing_the_labels_are_not_evidence() {
        let labels = &["positive", "neutral", "negative"];
        let prompt = "Classify the sentiment of this customer message as exactly one of\n\
                      positive, neutral or negative. Answer with the label only.\n\nMessage: ";
        let classify = |message: &str| LocalModel::classify(&format!("{prompt}{message}"), labels);
        assert_eq!(classify("I am furious, this is terrible"), Some("negative"));
        assert_eq!(classify("Thanks, the fix works great"), Some("positive"));
        assert_eq!(classify("What are your opening hours?"), Some("neutral"));
        // For labels without rules, a label named outside the list of choices still counts.
        let urgency = &["urgent", "routine"];
        let question = "Is this urgent or routine?\nMessage: ";
        let site_down = format!("{question}the site is down, this is urgent");
        assert_eq!(LocalModel::classify(&site_down, urgency), Some("urgent"));
        let hello = format!("{question}hello");
        assert_eq!(LocalModel::classify(&hello, urgency), Some("routine"));
    }
}
