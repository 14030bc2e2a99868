//! A deterministic, offline model: keyword rules for label prompts, a readable echo otherwise.
//!
//! It is what the runtime uses when no AWS setting is present, so jobs, examples and the eval
//! gate run anywhere. Same input, same output, every time.

use crate::model::{Model, ModelFuture, ModelRequest, ModelResponse};
use crate::pricing::Price;

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

/// Labels answered when nothing matches, in order of preference (else the last label).
const FALLBACK_LABELS: &[&str] = &["other", "neutral"];

/// Characters of the user turn quoted by the echo.
const ECHO_CHARS: usize = 280;

/// The offline model.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalModel;

impl LocalModel {
    /// Creates the model.
    pub fn new() -> Self {
        LocalModel
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

fn count_tokens(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

impl Model for LocalModel {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn complete<'a>(&'a self, request: ModelRequest<'a>) -> ModelFuture<'a> {
        Box::pin(async move {
            let text = Self::answer(&request);
            let input = request.system.map(count_tokens).unwrap_or(0) + count_tokens(request.user);
            Ok(ModelResponse {
                input_tokens: Some(input),
                output_tokens: Some(count_tokens(&text)),
                text,
                provider_request_id: None,
            })
        })
    }

    fn price(&self, _model_id: &str) -> Option<Price> {
        Some(Price::FREE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
