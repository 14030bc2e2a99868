//! How ids, file paths and Rust names correspond.
//!
//! `customer-support.intent-classifier` ↔ `customer_support/intent_classifier.yaml` ↔
//! `customer_support::intent_classifier`: dots separate segments, hyphens in ids are underscores
//! in paths and Rust names.

/// Names Rust reserves (strict and reserved keywords, all editions), usable only as `r#name`.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot even be raw identifiers.
pub const NON_RAW_KEYWORDS: &[&str] = &["self", "Self", "super", "crate"];

/// The id grammar [`check_id`] enforces, as a regular expression (the JSON Schema uses it):
/// dot-separated segments of lowercase letters and digits, optionally joined by single hyphens.
pub const ID_PATTERN: &str = r"^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*$";

/// [`is_template_identifier`] as a regular expression: what a variable may be named.
pub const TEMPLATE_IDENTIFIER_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// Matches a label whose first ASCII letter or digit is a letter: what [`variant_ident`] needs
/// to make an enum variant of it (the variant `Self` aside, see [`SELF_VARIANT_PATTERN`]).
pub const VARIANT_PATTERN: &str = "^[^A-Za-z0-9]*[A-Za-z]";

/// Matches a label whose enum variant would be the keyword `Self`.
pub const SELF_VARIANT_PATTERN: &str = "^[^A-Za-z0-9]*[sS]elf[^A-Za-z0-9]*$";

/// A regular expression matching an id with a segment that has no Rust name, as
/// [`snake_ident`] decides: one starting with a digit, or a keyword that cannot even be a raw
/// identifier.
pub fn unnameable_segment_pattern() -> String {
    format!(r"(^|\.)([0-9]|({})(\.|$))", NON_RAW_KEYWORDS.join("|"))
}

/// Items the generated crate defines at its root, which a top-level prompt must not shadow.
pub const RESERVED_ROOT_NAMES: &[&str] = &["get"];

/// Why an id is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    /// The id is empty.
    Empty,
    /// A segment between dots is empty (`a..b`, `.a`, `a.`).
    EmptySegment,
    /// A segment contains something other than `[a-z0-9]` and single inner hyphens.
    BadSegment(String),
}

impl std::fmt::Display for IdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdError::Empty => f.write_str("the id is empty"),
            IdError::EmptySegment => f.write_str("the id has an empty segment"),
            IdError::BadSegment(segment) => write!(
                f,
                "segment `{segment}` must be lowercase letters and digits, optionally joined by single hyphens"
            ),
        }
    }
}

/// Checks `id` against `segment(.segment)*` with `segment = [a-z0-9]+(-[a-z0-9]+)*`.
pub fn check_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    for segment in id.split('.') {
        if segment.is_empty() {
            return Err(IdError::EmptySegment);
        }
        let well_formed = segment.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !well_formed {
            return Err(IdError::BadSegment(segment.to_owned()));
        }
    }
    Ok(())
}

/// A best-effort valid id for a malformed one, to put in a help line.
pub fn suggest_id(id: &str) -> String {
    id.split('.')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let lowered: String = segment
                .chars()
                .map(|c| match c {
                    'A'..='Z' => c.to_ascii_lowercase(),
                    'a'..='z' | '0'..='9' => c,
                    _ => '-',
                })
                .collect();
            lowered
                .split('-')
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join("-")
        })
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// The file path (relative to the prompts root, without extension) an id must live at.
pub fn id_to_path_stem(id: &str) -> String {
    id.split('.')
        .map(|segment| segment.replace('-', "_"))
        .collect::<Vec<_>>()
        .join("/")
}

/// The id a file at `stem` (relative, `/`-separated, no extension) must declare, if the path
/// can hold a valid id at all.
pub fn path_stem_to_id(stem: &str) -> Option<String> {
    let id = stem
        .split('/')
        .map(|segment| segment.replace('_', "-"))
        .collect::<Vec<_>>()
        .join(".");
    let round_trips = id_to_path_stem(&id) == stem;
    (round_trips && check_id(&id).is_ok()).then_some(id)
}

/// Why an id segment, variable or label has no Rust name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RustNameError {
    /// `self`, `super`, `crate` and `Self` cannot be identifiers, not even raw ones.
    Keyword(String),
    /// Rust identifiers cannot start with a digit.
    LeadingDigit(String),
    /// Nothing identifier-like is left.
    Empty,
}

impl std::fmt::Display for RustNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RustNameError::Keyword(name) => {
                write!(
                    f,
                    "`{name}` is a Rust keyword that cannot be used as a name"
                )
            }
            RustNameError::LeadingDigit(name) => {
                write!(f, "`{name}` starts with a digit, which Rust names cannot")
            }
            RustNameError::Empty => f.write_str("the name has no letters or digits"),
        }
    }
}

/// The snake_case Rust identifier for an id segment or variable (`r#type` for keywords).
pub fn snake_ident(name: &str) -> Result<String, RustNameError> {
    let ident = name.replace('-', "_");
    if ident.is_empty() {
        return Err(RustNameError::Empty);
    }
    if NON_RAW_KEYWORDS.contains(&ident.as_str()) {
        return Err(RustNameError::Keyword(ident));
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(RustNameError::LeadingDigit(ident));
    }
    if RUST_KEYWORDS.contains(&ident.as_str()) {
        return Ok(format!("r#{ident}"));
    }
    Ok(ident)
}

/// The UpperCamelCase enum variant for an output label (`needs-review` → `NeedsReview`).
pub fn variant_ident(label: &str) -> Result<String, RustNameError> {
    let ident: String = label
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect();
    if ident.is_empty() {
        return Err(RustNameError::Empty);
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(RustNameError::LeadingDigit(label.to_owned()));
    }
    if ident == "Self" {
        return Err(RustNameError::Keyword(ident));
    }
    Ok(ident)
}

/// Whether `name` can be a minijinja variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_template_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_grammar() {
        assert!(check_id("customer-support.intent-classifier").is_ok());
        assert!(check_id("a1.b-2-c").is_ok());
        assert_eq!(check_id(""), Err(IdError::Empty));
        assert_eq!(check_id("a..b"), Err(IdError::EmptySegment));
        assert_eq!(check_id("a."), Err(IdError::EmptySegment));
        assert!(matches!(
            check_id("Customer.x"),
            Err(IdError::BadSegment(_))
        ));
        assert!(matches!(check_id("a.b_c"), Err(IdError::BadSegment(_))));
        assert!(matches!(check_id("a.-b"), Err(IdError::BadSegment(_))));
        assert!(matches!(check_id("a.b--c"), Err(IdError::BadSegment(_))));
    }

    #[test]
    fn id_and_path_round_trip() {
        assert_eq!(
            id_to_path_stem("customer-support.intent-classifier"),
            "customer_support/intent_classifier"
        );
        assert_eq!(
            path_stem_to_id("customer_support/intent_classifier").as_deref(),
            Some("customer-support.intent-classifier")
        );
        assert_eq!(path_stem_to_id("customer-support/x"), None);
        assert_eq!(path_stem_to_id("Caps/x"), None);
    }

    #[test]
    fn suggestions_are_valid_ids() {
        assert_eq!(
            suggest_id("Customer_Support..Intent Classifier"),
            "customer-support.intent-classifier"
        );
        assert!(check_id(&suggest_id("A__b.C")).is_ok());
    }

    #[test]
    fn rust_names() {
        assert_eq!(
            snake_ident("intent-classifier").unwrap(),
            "intent_classifier"
        );
        assert_eq!(snake_ident("type").unwrap(), "r#type");
        assert_eq!(snake_ident("gen").unwrap(), "r#gen");
        assert!(matches!(
            snake_ident("self"),
            Err(RustNameError::Keyword(_))
        ));
        assert!(matches!(
            snake_ident("2fa"),
            Err(RustNameError::LeadingDigit(_))
        ));
    }

    #[test]
    fn label_variants() {
        assert_eq!(variant_ident("billing").unwrap(), "Billing");
        assert_eq!(variant_ident("needs-review").unwrap(), "NeedsReview");
        assert_eq!(variant_ident("not sure").unwrap(), "NotSure");
        assert!(matches!(
            variant_ident("5-star"),
            Err(RustNameError::LeadingDigit(_))
        ));
        assert!(matches!(
            variant_ident("self"),
            Err(RustNameError::Keyword(_))
        ));
        assert_eq!(variant_ident("--"), Err(RustNameError::Empty));
    }

    #[test]
    fn template_identifiers() {
        assert!(is_template_identifier("customer_name"));
        assert!(is_template_identifier("_x1"));
        assert!(!is_template_identifier("1x"));
        assert!(!is_template_identifier("a-b"));
        assert!(!is_template_identifier(""));
    }
}
