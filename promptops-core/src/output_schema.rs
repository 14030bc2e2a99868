//! The shape of a structured answer: the subset of JSON Schema a prompt's `output.schema` may
//! use, one parser for it, and the check of an answer against it.
//!
//! The subset is what both Anthropic tool input schemas on Bedrock and OpenAI strict structured
//! outputs accept, so one schema serves every model:
//!
//! | keyword | where | rule |
//! |---|---|---|
//! | `type` | every node | `object`, `string`, `integer`, `number`, `boolean` or `array`; `[T, "null"]` makes a node nullable |
//! | `description` | every node | free text; becomes a doc comment, and tells the model what to put there |
//! | `properties` | object | at least one; names are snake_case Rust identifiers (`order_id`) |
//! | `required` | object | every property, exactly, in the order the fields take: optional fields are nullable ones, as strict mode wants |
//! | `additionalProperties` | object | only `false`, which is also what it means when left out |
//! | `enum` | string | at least one value, no duplicates, each a word that becomes a Rust variant |
//! | `maxLength` | string | a count of characters |
//! | `minimum`, `maximum` | integer, number | inclusive, `minimum ≤ maximum` |
//! | `items` | array | the schema of every element (required) |
//! | `maxItems` | array | |
//!
//! Objects and arrays nest at most [`MAX_DEPTH`] levels below the root, which is an object.
//! `pattern`, `format`, `$ref`, `anyOf` and the other keywords of full JSON Schema are refused
//! with a reason: either a model family ignores them or their meaning cannot be checked the same
//! way at build time and at run time.
//!
//! [`Schema::parse`] reads the JSON form and reports every problem at once, each with the JSON
//! pointer of the keyword it is about, so the build can point at a file, line and column.
//! [`Schema::to_json`] writes the JSON form back: what a model is given, what the wire carries.
//! [`Schema::check`] lists the ways a JSON answer breaks the schema, the constraints serde
//! cannot express included (ranges, lengths, sizes).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// How deep objects and arrays may nest below the root object (OpenAI's strict mode allows
/// five levels; a deeper answer is also harder for a model to fill reliably).
pub const MAX_DEPTH: usize = 5;

/// The most properties one object may have.
pub const MAX_PROPERTIES: usize = 100;

/// The most values one `enum` may list.
pub const MAX_ENUM_VALUES: usize = 500;

/// The keywords of the subset, for messages and suggestions.
pub const KEYWORDS: &[&str] = &[
    "type",
    "description",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "maxLength",
    "minimum",
    "maximum",
    "items",
    "maxItems",
];

/// The types a node may have (`[T, "null"]` makes one nullable).
pub const TYPES: &[&str] = &["object", "string", "integer", "number", "boolean", "array"];

/// Keywords of full JSON Schema that the subset refuses, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("pattern", "a regular expression cannot be checked the same way by the build, the runtime and every model; describe the format in `description` instead"),
    ("format", "models treat formats differently; describe the format in `description` instead"),
    ("minLength", "not accepted by every model family; say it in `description`"),
    ("minItems", "not accepted by every model family; say it in `description`"),
    ("exclusiveMinimum", "use `minimum`, which is inclusive"),
    ("exclusiveMaximum", "use `maximum`, which is inclusive"),
    ("multipleOf", "not accepted by every model family"),
    ("uniqueItems", "not accepted by every model family"),
    ("default", "a model does not apply defaults; make the field nullable instead"),
    ("const", "use an `enum` with one value"),
    ("$ref", "write nested objects inline: each becomes a named Rust struct"),
    ("$defs", "write nested objects inline: each becomes a named Rust struct"),
    ("definitions", "write nested objects inline: each becomes a named Rust struct"),
    ("anyOf", "unions have no plain Rust struct; use an enum field or a nullable type"),
    ("oneOf", "unions have no plain Rust struct; use an enum field or a nullable type"),
    ("allOf", "write the object's properties out in one place"),
    ("not", "not accepted by every model family"),
    ("patternProperties", "additional properties are never allowed"),
    ("title", "use `description`"),
    ("examples", "put examples in `description` or in the template"),
];

/// One node of a schema: what kind of value, whether `null` is allowed, and its description.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The kind of value and its rules.
    pub kind: Kind,
    /// Whether `null` is allowed too (`type: [T, "null"]`): an `Option<T>` in Rust.
    pub nullable: bool,
    /// What the value means, for the model and for the generated doc comment.
    pub description: Option<String>,
}

/// The kinds of value, with the rules each may carry.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A JSON object with a fixed set of properties, all required, none other allowed.
    Object(Vec<Property>),
    /// A string, optionally one of a list of values, optionally capped in length.
    String {
        /// The allowed values, in file order; empty when any string is allowed.
        values: Vec<String>,
        /// The most characters allowed.
        max_length: Option<u64>,
    },
    /// A whole number within an inclusive range.
    Integer {
        /// The smallest value allowed.
        minimum: Option<i64>,
        /// The largest value allowed.
        maximum: Option<i64>,
    },
    /// A number within an inclusive range.
    Number {
        /// The smallest value allowed.
        minimum: Option<f64>,
        /// The largest value allowed.
        maximum: Option<f64>,
    },
    /// `true` or `false`.
    Boolean,
    /// A list of values of one schema.
    Array {
        /// The schema of every element.
        items: Box<Schema>,
        /// The most elements allowed.
        max_items: Option<u64>,
    },
}

/// A named property of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The property's name: the JSON key and the Rust field.
    pub name: String,
    /// Its schema.
    pub schema: Schema,
}

/// A problem with a schema, at the JSON pointer of what it is about (`/properties/urgency/minimum`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// Where, as a JSON pointer into the schema (`""` for the root).
    pub pointer: String,
    /// What.
    pub kind: SchemaErrorKind,
}

/// The ways a schema can break the subset's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaErrorKind {
    /// Not a JSON object where a schema was expected.
    NotASchema,
    /// A keyword the subset does not know (the build suggests the nearest of [`KEYWORDS`]).
    UnknownKeyword(String),
    /// A keyword of full JSON Schema the subset refuses, and why.
    Unsupported {
        /// The keyword.
        keyword: String,
        /// Why, and what to write instead.
        why: &'static str,
    },
    /// A node without `type`.
    MissingType,
    /// A `type` the subset does not have.
    UnknownType(String),
    /// A `type` list other than `[T, "null"]`.
    BadTypeList,
    /// The root is not a (non-nullable) object.
    RootNotObject,
    /// A keyword with a value of the wrong JSON type (`maxLength: "ten"`).
    WrongValue {
        /// The keyword.
        keyword: &'static str,
        /// What it takes.
        expected: &'static str,
    },
    /// A keyword that does not apply to the node's type (`maxLength` on an integer).
    NotForType {
        /// The keyword.
        keyword: String,
        /// The node's type.
        ty: &'static str,
    },
    /// An object without `properties`, or with none.
    NoProperties,
    /// An object with more than [`MAX_PROPERTIES`] properties.
    TooManyProperties,
    /// A property name that cannot be a Rust field without a rename.
    BadPropertyName {
        /// The name.
        name: String,
        /// A name that would do, if one is obvious.
        suggestion: Option<String>,
    },
    /// A `required` name that is not a property.
    RequiredNotAProperty(String),
    /// A property missing from `required`.
    NotRequired(String),
    /// `required` names a property twice.
    RequiredTwice(String),
    /// `additionalProperties` other than `false`.
    AdditionalProperties,
    /// An `enum` with no values.
    EmptyEnum,
    /// An `enum` with more than [`MAX_ENUM_VALUES`] values.
    TooManyEnumValues,
    /// An `enum` value that is not a string (or `null` on a nullable node).
    EnumValueNotAString,
    /// An `enum` value listed twice.
    DuplicateEnumValue(String),
    /// An `enum` value that makes no Rust variant name (empty, no letter to start one, or
    /// `self`).
    BadEnumValue(String),
    /// Two `enum` values that make the same Rust variant name (`on-hold`, `on_hold`).
    EnumValuesCollide {
        /// The first value.
        first: String,
        /// The second.
        second: String,
        /// The variant name both make.
        variant: String,
    },
    /// `minimum` is greater than `maximum`.
    MinimumAboveMaximum,
    /// An array without `items`.
    NoItems,
    /// Objects and arrays nested more than [`MAX_DEPTH`] levels below the root.
    TooDeep,
}

impl fmt::Display for SchemaErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaErrorKind::NotASchema => f.write_str("a schema is a map of keywords"),
            SchemaErrorKind::UnknownKeyword(keyword) => {
                write!(f, "unknown schema keyword `{keyword}`")
            }
            SchemaErrorKind::Unsupported { keyword, why } => {
                write!(
                    f,
                    "`{keyword}` is not in the supported schema subset: {why}"
                )
            }
            SchemaErrorKind::MissingType => f.write_str("a schema needs a `type`"),
            SchemaErrorKind::UnknownType(ty) => write!(
                f,
                "unknown type `{ty}`: expected object, string, integer, number, boolean or array"
            ),
            SchemaErrorKind::BadTypeList => {
                f.write_str("a type list must be `[T, \"null\"]`: one type, made nullable")
            }
            SchemaErrorKind::RootNotObject => {
                f.write_str("the output schema must be an object (not nullable)")
            }
            SchemaErrorKind::WrongValue { keyword, expected } => {
                write!(f, "`{keyword}` must be {expected}")
            }
            SchemaErrorKind::NotForType { keyword, ty } => {
                write!(f, "`{keyword}` does not apply to type `{ty}`")
            }
            SchemaErrorKind::NoProperties => f.write_str("an object needs at least one property"),
            SchemaErrorKind::TooManyProperties => {
                write!(f, "an object may have at most {MAX_PROPERTIES} properties")
            }
            SchemaErrorKind::BadPropertyName { name, .. } => {
                let why = if RUST_KEYWORDS.contains(&name.as_str()) {
                    "it is a Rust keyword"
                } else {
                    "fields are snake_case ASCII, starting with a letter"
                };
                write!(
                    f,
                    "property `{name}` cannot be a Rust field without a rename: {why}"
                )
            }
            SchemaErrorKind::RequiredNotAProperty(name) => {
                write!(f, "`required` names `{name}`, which is not a property")
            }
            SchemaErrorKind::NotRequired(name) => write!(
                f,
                "property `{name}` is not in `required`: every property is required (strict \
                 structured outputs need it); make it nullable (`type: [T, \"null\"]`) if it may \
                 be absent"
            ),
            SchemaErrorKind::RequiredTwice(name) => {
                write!(f, "`required` names `{name}` twice")
            }
            SchemaErrorKind::AdditionalProperties => f.write_str(
                "`additionalProperties` may only be `false`: an answer has exactly the declared \
                 properties",
            ),
            SchemaErrorKind::EmptyEnum => f.write_str("an `enum` needs at least one value"),
            SchemaErrorKind::TooManyEnumValues => {
                write!(f, "an `enum` may have at most {MAX_ENUM_VALUES} values")
            }
            SchemaErrorKind::EnumValueNotAString => f.write_str("`enum` values must be strings"),
            SchemaErrorKind::DuplicateEnumValue(value) => {
                write!(f, "`enum` lists `{value}` twice")
            }
            SchemaErrorKind::BadEnumValue(value) => write!(
                f,
                "`enum` value {value:?} makes no Rust variant name: it needs a letter first, and \
                 cannot be `self`"
            ),
            SchemaErrorKind::EnumValuesCollide {
                first,
                second,
                variant,
            } => write!(
                f,
                "`enum` values {first:?} and {second:?} both become the Rust variant `{variant}`"
            ),
            SchemaErrorKind::MinimumAboveMaximum => {
                f.write_str("`minimum` is greater than `maximum`")
            }
            SchemaErrorKind::NoItems => f.write_str("an array needs `items`"),
            SchemaErrorKind::TooDeep => write!(
                f,
                "objects and arrays nest more than {MAX_DEPTH} levels below the root"
            ),
        }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.pointer, self.kind)
        }
    }
}

impl std::error::Error for SchemaError {}

/// One way an answer breaks a schema, at the JSON pointer of the offending value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Where in the answer (`/urgency`, `/products/3`; `""` for the whole answer).
    pub pointer: String,
    /// What is wrong, in words a model can act on.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

impl Schema {
    /// Reads a schema from its JSON form, reporting every problem found (not only the first).
    /// The root must be an object.
    pub fn parse(value: &Value) -> Result<Schema, Vec<SchemaError>> {
        let mut parser = Parser { errors: Vec::new() };
        let schema = parser.node(value, "", 0);
        if let Some(schema) = &schema {
            if !matches!(schema.kind, Kind::Object(_)) || schema.nullable {
                parser.error("", SchemaErrorKind::RootNotObject);
            }
        }
        match schema {
            Some(schema) if parser.errors.is_empty() => Ok(schema),
            _ => {
                if parser.errors.is_empty() {
                    parser.error("", SchemaErrorKind::NotASchema);
                }
                Err(parser.errors)
            }
        }
    }

    /// The schema's JSON form, as a model is given it: every object closed
    /// (`additionalProperties: false`) with every property required, a nullable node typed
    /// `[T, "null"]` (and a nullable enum listing `null`).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let ty = self.kind.type_name();
        out.insert(
            "type".into(),
            if self.nullable {
                Value::from(vec![ty, "null"])
            } else {
                Value::from(ty)
            },
        );
        if let Some(description) = &self.description {
            out.insert("description".into(), Value::from(description.as_str()));
        }
        match &self.kind {
            Kind::Object(properties) => {
                let mut map = Map::new();
                for property in properties {
                    map.insert(property.name.clone(), property.schema.to_json());
                }
                out.insert("properties".into(), Value::Object(map));
                out.insert(
                    "required".into(),
                    properties
                        .iter()
                        .map(|property| Value::from(property.name.as_str()))
                        .collect(),
                );
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Kind::String { values, max_length } => {
                if !values.is_empty() {
                    let mut list: Vec<Value> =
                        values.iter().map(|v| Value::from(v.as_str())).collect();
                    if self.nullable {
                        list.push(Value::Null);
                    }
                    out.insert("enum".into(), Value::Array(list));
                }
                if let Some(max) = max_length {
                    out.insert("maxLength".into(), Value::from(*max));
                }
            }
            Kind::Integer { minimum, maximum } => {
                if let Some(min) = minimum {
                    out.insert("minimum".into(), Value::from(*min));
                }
                if let Some(max) = maximum {
                    out.insert("maximum".into(), Value::from(*max));
                }
            }
            Kind::Number { minimum, maximum } => {
                if let Some(min) = minimum {
                    out.insert("minimum".into(), Value::from(*min));
                }
                if let Some(max) = maximum {
                    out.insert("maximum".into(), Value::from(*max));
                }
            }
            Kind::Boolean => {}
            Kind::Array { items, max_items } => {
                out.insert("items".into(), items.to_json());
                if let Some(max) = max_items {
                    out.insert("maxItems".into(), Value::from(*max));
                }
            }
        }
        Value::Object(out)
    }

    /// The schema as the contract compares it: descriptions dropped, properties and enum values
    /// sorted, so rewording or reordering a schema does not change what callers get (a
    /// generated enum reads its values by name, not by position).
    pub fn normalized(&self) -> Schema {
        let kind = match &self.kind {
            Kind::Object(properties) => {
                let mut properties: Vec<Property> = properties
                    .iter()
                    .map(|property| Property {
                        name: property.name.clone(),
                        schema: property.schema.normalized(),
                    })
                    .collect();
                properties.sort_by(|a, b| a.name.cmp(&b.name));
                Kind::Object(properties)
            }
            Kind::Array { items, max_items } => Kind::Array {
                items: Box::new(items.normalized()),
                max_items: *max_items,
            },
            Kind::String { values, max_length } => {
                let mut values = values.clone();
                values.sort();
                Kind::String {
                    values,
                    max_length: *max_length,
                }
            }
            other => other.clone(),
        };
        Schema {
            kind,
            nullable: self.nullable,
            description: None,
        }
    }

    /// Every way `answer` breaks this schema, in document order; empty when it conforms.
    pub fn check(&self, answer: &Value) -> Vec<Violation> {
        let mut violations = Vec::new();
        self.check_at(answer, &mut String::new(), &mut violations);
        violations
    }

    fn check_at(&self, value: &Value, pointer: &mut String, out: &mut Vec<Violation>) {
        let violation = |out: &mut Vec<Violation>, pointer: &str, message: String| {
            out.push(Violation {
                pointer: pointer.to_owned(),
                message,
            })
        };
        if value.is_null() {
            if !self.nullable {
                violation(
                    out,
                    pointer,
                    format!("must be {}, not null", self.kind.a_type()),
                );
            }
            return;
        }
        match (&self.kind, value) {
            (Kind::Object(properties), Value::Object(map)) => {
                for key in map.keys() {
                    if !properties.iter().any(|property| &property.name == key) {
                        violation(out, pointer, format!("unexpected property `{key}`"));
                    }
                }
                for property in properties {
                    match map.get(&property.name) {
                        None => violation(
                            out,
                            pointer,
                            format!("missing property `{}`", property.name),
                        ),
                        Some(field) => {
                            let len = pointer.len();
                            push_token(pointer, &property.name);
                            property.schema.check_at(field, pointer, out);
                            pointer.truncate(len);
                        }
                    }
                }
            }
            (Kind::String { values, max_length }, Value::String(text)) => {
                if !values.is_empty() && !values.iter().any(|allowed| allowed == text) {
                    violation(
                        out,
                        pointer,
                        format!("{text:?} is not one of [{}]", values.join(", ")),
                    );
                }
                if let Some(max) = max_length {
                    let length = text.chars().count() as u64;
                    if length > *max {
                        violation(
                            out,
                            pointer,
                            format!("is {length} characters long, at most {max} allowed"),
                        );
                    }
                }
            }
            (Kind::Integer { minimum, maximum }, Value::Number(number)) => match number.as_i64() {
                None => violation(out, pointer, format!("must be an integer, not {number}")),
                Some(n) => {
                    if minimum.is_some_and(|min| n < min) || maximum.is_some_and(|max| n > max) {
                        let range = range_text(
                            minimum.map(|m| m.to_string()),
                            maximum.map(|m| m.to_string()),
                        );
                        violation(out, pointer, format!("{n} is outside {range}"));
                    }
                }
            },
            (Kind::Number { minimum, maximum }, Value::Number(number)) => {
                let n = number.as_f64().unwrap_or(f64::NAN);
                if minimum.is_some_and(|min| n < min) || maximum.is_some_and(|max| n > max) {
                    let range = range_text(
                        minimum.map(|m| m.to_string()),
                        maximum.map(|m| m.to_string()),
                    );
                    violation(out, pointer, format!("{number} is outside {range}"));
                }
            }
            (Kind::Boolean, Value::Bool(_)) => {}
            (Kind::Array { items, max_items }, Value::Array(elements)) => {
                if let Some(max) = max_items {
                    if elements.len() as u64 > *max {
                        violation(
                            out,
                            pointer,
                            format!("has {} items, at most {max} allowed", elements.len()),
                        );
                    }
                }
                for (index, element) in elements.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                    items.check_at(element, pointer, out);
                    pointer.truncate(len);
                }
            }
            (kind, other) => violation(
                out,
                pointer,
                format!("must be {}, not {}", kind.a_type(), json_type(other)),
            ),
        }
    }
}

impl Kind {
    /// The JSON Schema type name.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Kind::Object(_) => "object",
            Kind::String { .. } => "string",
            Kind::Integer { .. } => "integer",
            Kind::Number { .. } => "number",
            Kind::Boolean => "boolean",
            Kind::Array { .. } => "array",
        }
    }

    fn a_type(&self) -> &'static str {
        match self {
            Kind::Object(_) => "an object",
            Kind::String { .. } => "a string",
            Kind::Integer { .. } => "an integer",
            Kind::Number { .. } => "a number",
            Kind::Boolean => "a boolean",
            Kind::Array { .. } => "an array",
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn range_text(minimum: Option<String>, maximum: Option<String>) -> String {
    match (minimum, maximum) {
        (Some(min), Some(max)) => format!("{min}..={max}"),
        (Some(min), None) => format!("{min}.."),
        (None, Some(max)) => format!("..={max}"),
        (None, None) => "the allowed range".to_owned(),
    }
}

/// Appends `/token` to a JSON pointer, escaped as RFC 6901 says (`~` → `~0`, `/` → `~1`): the
/// pointers of [`SchemaError`] and [`Violation`] are built this way.
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Whether `name` can be a Rust field as it is: snake_case ASCII, starting with a letter, and
/// not a keyword.
pub fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RUST_KEYWORDS.contains(&name)
}

/// Rust's keywords, strict and reserved (2021 edition and later), which no field may be named.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield",
];

/// A snake_case name for `name` when one is obvious (`orderId` → `order_id`, `type` →
/// `type_`).
fn suggest_field_name(name: &str) -> Option<String> {
    let mut out = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_owned();
    let out = if RUST_KEYWORDS.contains(&out.as_str()) {
        format!("{out}_")
    } else {
        out
    };
    (is_field_name(&out) && out != name).then_some(out)
}

/// The Rust variant name an `enum` value becomes: its words (split at anything but a letter or
/// digit, and at lower-to-upper case changes) capitalised and joined (`on-hold` → `OnHold`,
/// `billing` → `Billing`). `None` when the value has no letter to start a name with.
pub fn variant_name(value: &str) -> Option<String> {
    let mut out = String::new();
    let mut capitalize = true;
    let mut previous_lower = false;
    for c in value.chars() {
        if !c.is_ascii_alphanumeric() {
            capitalize = true;
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            capitalize = true;
        }
        if capitalize {
            out.push(c.to_ascii_uppercase());
            capitalize = false;
        } else {
            out.push(c.to_ascii_lowercase());
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    // `Self` is a keyword, and no enum variant may be called that.
    out.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        .then_some(out)
        .filter(|name| name != "Self")
}

struct Parser {
    errors: Vec<SchemaError>,
}

impl Parser {
    fn error(&mut self, pointer: &str, kind: SchemaErrorKind) {
        self.errors.push(SchemaError {
            pointer: pointer.to_owned(),
            kind,
        });
    }

    fn at(pointer: &str, keyword: &str) -> String {
        let mut out = pointer.to_owned();
        push_token(&mut out, keyword);
        out
    }

    /// One node at `pointer`; `depth` counts the objects and arrays above it (the root is 0).
    fn node(&mut self, value: &Value, pointer: &str, depth: usize) -> Option<Schema> {
        let Value::Object(map) = value else {
            self.error(pointer, SchemaErrorKind::NotASchema);
            return None;
        };
        for key in map.keys() {
            if KEYWORDS.contains(&key.as_str()) {
                continue;
            }
            let kind = match UNSUPPORTED.iter().find(|(keyword, _)| keyword == key) {
                Some((_, why)) => SchemaErrorKind::Unsupported {
                    keyword: key.clone(),
                    why,
                },
                None => SchemaErrorKind::UnknownKeyword(key.clone()),
            };
            self.error(&Parser::at(pointer, key), kind);
        }
        let description = match map.get("description") {
            None => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                self.error(
                    &Parser::at(pointer, "description"),
                    SchemaErrorKind::WrongValue {
                        keyword: "description",
                        expected: "a string",
                    },
                );
                None
            }
        };
        let (ty, nullable) = self.type_of(map, pointer)?;
        let allowed: &[&str] = match ty {
            "object" => &["properties", "required", "additionalProperties"],
            "string" => &["enum", "maxLength"],
            "integer" | "number" => &["minimum", "maximum"],
            "array" => &["items", "maxItems"],
            _ => &[],
        };
        for key in map.keys() {
            let common = matches!(key.as_str(), "type" | "description");
            if KEYWORDS.contains(&key.as_str()) && !common && !allowed.contains(&key.as_str()) {
                self.error(
                    &Parser::at(pointer, key),
                    SchemaErrorKind::NotForType {
                        keyword: key.clone(),
                        ty,
                    },
                );
            }
        }
        let kind = match ty {
            "object" => self.object(map, pointer, depth)?,
            "string" => self.string(map, pointer, nullable),
            "integer" => {
                let (minimum, maximum) = self.range(map, pointer, whole_number, WHOLE_NUMBER);
                Kind::Integer { minimum, maximum }
            }
            "number" => {
                let (minimum, maximum) = self.range(map, pointer, Value::as_f64, "a number");
                Kind::Number { minimum, maximum }
            }
            "boolean" => Kind::Boolean,
            _ => self.array(map, pointer, depth)?,
        };
        Some(Schema {
            kind,
            nullable,
            description,
        })
    }

    /// The node's type and whether it is nullable.
    fn type_of(&mut self, map: &Map<String, Value>, pointer: &str) -> Option<(&'static str, bool)> {
        let at = Parser::at(pointer, "type");
        let known = |name: &str| TYPES.iter().copied().find(|ty| *ty == name);
        match map.get("type") {
            None => {
                self.error(pointer, SchemaErrorKind::MissingType);
                None
            }
            Some(Value::String(name)) => match known(name) {
                Some(ty) => Some((ty, false)),
                None => {
                    self.error(&at, SchemaErrorKind::UnknownType(name.clone()));
                    None
                }
            },
            Some(Value::Array(list)) => {
                // YAML reads an unquoted `null` as null, not as the string: both mean the type.
                let names: Vec<&str> = list
                    .iter()
                    .filter_map(|item| {
                        if item.is_null() {
                            Some("null")
                        } else {
                            item.as_str()
                        }
                    })
                    .collect();
                let pair = match names.as_slice() {
                    [ty, "null"] | ["null", ty] if names.len() == list.len() => Some(*ty),
                    _ => None,
                };
                match pair {
                    None => {
                        self.error(&at, SchemaErrorKind::BadTypeList);
                        None
                    }
                    Some(name) => match known(name) {
                        Some(ty) => Some((ty, true)),
                        None => {
                            self.error(&at, SchemaErrorKind::UnknownType(name.to_owned()));
                            None
                        }
                    },
                }
            }
            Some(_) => {
                self.error(
                    &at,
                    SchemaErrorKind::WrongValue {
                        keyword: "type",
                        expected: "a type name or `[T, \"null\"]`",
                    },
                );
                None
            }
        }
    }

    fn object(&mut self, map: &Map<String, Value>, pointer: &str, depth: usize) -> Option<Kind> {
        if depth > MAX_DEPTH {
            self.error(pointer, SchemaErrorKind::TooDeep);
            return None;
        }
        match map.get("additionalProperties") {
            None | Some(Value::Bool(false)) => {}
            Some(_) => self.error(
                &Parser::at(pointer, "additionalProperties"),
                SchemaErrorKind::AdditionalProperties,
            ),
        }
        let properties_at = Parser::at(pointer, "properties");
        let mut properties = Vec::new();
        match map.get("properties") {
            Some(Value::Object(entries)) if !entries.is_empty() => {
                if entries.len() > MAX_PROPERTIES {
                    // Reported alone: the properties of an object this large are not read.
                    self.error(&properties_at, SchemaErrorKind::TooManyProperties);
                    return None;
                }
                for (name, value) in entries {
                    let at = Parser::at(&properties_at, name);
                    if !is_field_name(name) {
                        self.error(
                            &at,
                            SchemaErrorKind::BadPropertyName {
                                name: name.clone(),
                                suggestion: suggest_field_name(name),
                            },
                        );
                    }
                    if let Some(schema) = self.node(value, &at, depth + 1) {
                        properties.push(Property {
                            name: name.clone(),
                            schema,
                        });
                    }
                }
            }
            Some(Value::Object(_)) | None => self.error(
                if map.contains_key("properties") {
                    &properties_at
                } else {
                    pointer
                },
                SchemaErrorKind::NoProperties,
            ),
            Some(_) => self.error(
                &properties_at,
                SchemaErrorKind::WrongValue {
                    keyword: "properties",
                    expected: "a map of property names to schemas",
                },
            ),
        }
        let names: BTreeSet<&str> = match map.get("properties") {
            Some(Value::Object(entries)) => entries.keys().map(String::as_str).collect(),
            _ => BTreeSet::new(),
        };
        let required_at = Parser::at(pointer, "required");
        let mut required = BTreeSet::new();
        match map.get("required") {
            Some(Value::Array(list)) => {
                for (index, item) in list.iter().enumerate() {
                    let at = format!("{required_at}/{index}");
                    match item.as_str() {
                        None => self.error(
                            &at,
                            SchemaErrorKind::WrongValue {
                                keyword: "required",
                                expected: "a list of property names",
                            },
                        ),
                        Some(name) if !names.contains(name) => {
                            self.error(&at, SchemaErrorKind::RequiredNotAProperty(name.to_owned()))
                        }
                        Some(name) => {
                            if !required.insert(name) {
                                self.error(&at, SchemaErrorKind::RequiredTwice(name.to_owned()));
                            }
                        }
                    }
                }
            }
            None => {}
            Some(_) => self.error(
                &required_at,
                SchemaErrorKind::WrongValue {
                    keyword: "required",
                    expected: "a list of property names",
                },
            ),
        }
        for name in &names {
            if !required.contains(name) {
                self.error(
                    &Parser::at(&properties_at, name),
                    SchemaErrorKind::NotRequired((*name).to_owned()),
                );
            }
        }
        // A JSON object's keys carry no order, so `required` (which lists every property)
        // gives the fields theirs.
        if let Some(Value::Array(order)) = map.get("required") {
            let position: HashMap<&str, usize> = order
                .iter()
                .enumerate()
                .filter_map(|(index, item)| item.as_str().map(|name| (name, index)))
                .rev()
                .collect();
            properties.sort_by_key(|property| {
                position
                    .get(property.name.as_str())
                    .copied()
                    .unwrap_or(usize::MAX)
            });
        }
        Some(Kind::Object(properties))
    }

    fn string(&mut self, map: &Map<String, Value>, pointer: &str, nullable: bool) -> Kind {
        let mut values: Vec<String> = Vec::new();
        if let Some(list) = map.get("enum") {
            let at = Parser::at(pointer, "enum");
            match list {
                Value::Array(items) if items.is_empty() => {
                    self.error(&at, SchemaErrorKind::EmptyEnum)
                }
                Value::Array(items) => {
                    if items.len() > MAX_ENUM_VALUES {
                        // Reported alone: the values of an enum this large are not read.
                        self.error(&at, SchemaErrorKind::TooManyEnumValues);
                        return Kind::String {
                            values,
                            max_length: None,
                        };
                    }
                    // Variant name → the value that made it.
                    let mut variants: HashMap<String, String> = HashMap::new();
                    for (index, item) in items.iter().enumerate() {
                        let item_at = format!("{at}/{index}");
                        match item {
                            Value::Null if nullable => {}
                            Value::String(value) => {
                                if values.iter().any(|seen| seen == value) {
                                    self.error(
                                        &item_at,
                                        SchemaErrorKind::DuplicateEnumValue(value.clone()),
                                    );
                                    continue;
                                }
                                match variant_name(value) {
                                    None => self.error(
                                        &item_at,
                                        SchemaErrorKind::BadEnumValue(value.clone()),
                                    ),
                                    Some(variant) => {
                                        if let Some(first) = variants.get(&variant) {
                                            self.error(
                                                &item_at,
                                                SchemaErrorKind::EnumValuesCollide {
                                                    first: first.clone(),
                                                    second: value.clone(),
                                                    variant: variant.clone(),
                                                },
                                            );
                                        } else {
                                            variants.insert(variant, value.clone());
                                        }
                                    }
                                }
                                values.push(value.clone());
                            }
                            _ => self.error(&item_at, SchemaErrorKind::EnumValueNotAString),
                        }
                    }
                    if values.is_empty() && !items.is_empty() && items.iter().all(Value::is_null) {
                        self.error(&at, SchemaErrorKind::EmptyEnum);
                    }
                }
                _ => self.error(
                    &at,
                    SchemaErrorKind::WrongValue {
                        keyword: "enum",
                        expected: "a list of strings",
                    },
                ),
            }
        }
        let max_length = self.count(map, pointer, "maxLength");
        Kind::String { values, max_length }
    }

    fn array(&mut self, map: &Map<String, Value>, pointer: &str, depth: usize) -> Option<Kind> {
        if depth > MAX_DEPTH {
            self.error(pointer, SchemaErrorKind::TooDeep);
            return None;
        }
        let max_items = self.count(map, pointer, "maxItems");
        let Some(items) = map.get("items") else {
            self.error(pointer, SchemaErrorKind::NoItems);
            return None;
        };
        let at = Parser::at(pointer, "items");
        let items = self.node(items, &at, depth + 1)?;
        Some(Kind::Array {
            items: Box::new(items),
            max_items,
        })
    }

    fn count(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        keyword: &'static str,
    ) -> Option<u64> {
        self.keyword_value(map, pointer, keyword, Value::as_u64, "a whole number ≥ 0")
    }

    /// `minimum` and `maximum`, each read by `read`, reported when the first is the greater.
    fn range<T: PartialOrd + Copy>(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        read: fn(&Value) -> Option<T>,
        expected: &'static str,
    ) -> (Option<T>, Option<T>) {
        let minimum = self.keyword_value(map, pointer, "minimum", read, expected);
        let maximum = self.keyword_value(map, pointer, "maximum", read, expected);
        if let (Some(min), Some(max)) = (minimum, maximum) {
            if min > max {
                self.error(
                    &Parser::at(pointer, "minimum"),
                    SchemaErrorKind::MinimumAboveMaximum,
                );
            }
        }
        (minimum, maximum)
    }

    /// `keyword`'s value read by `read`; `None` when it is absent, or (reported as taking
    /// `expected`) when `read` refuses it.
    fn keyword_value<T>(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        keyword: &'static str,
        read: fn(&Value) -> Option<T>,
        expected: &'static str,
    ) -> Option<T> {
        let value = read(map.get(keyword)?);
        if value.is_none() {
            self.error(
                &Parser::at(pointer, keyword),
                SchemaErrorKind::WrongValue { keyword, expected },
            );
        }
        value
    }
}

/// What an integer's bounds must be.
const WHOLE_NUMBER: &str = "a whole number within the range of a 64-bit integer";

/// A whole number that fits in i64: `1.0` is one too.
fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64)
            .map(|f| f as i64)
    })
}

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Schema::parse(&value).map_err(|errors| {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            serde::de::Error::custom(format!("invalid output schema: {}", text.join("; ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The ticket triage schema.
    fn triage() -> Value {
        json!({
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": ["billing", "technical", "sales", "retention", "other"], "description": "what the customer wants"},
                "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
                "order_id": {"type": ["string", "null"], "description": "the order number if the customer gave one"},
                "summary": {"type": "string", "maxLength": 280},
                "products": {"type": "array", "items": {"type": "string"}, "maxItems": 10}
            },
            "required": ["intent", "urgency", "order_id", "summary", "products"]
        })
    }

    fn errors(value: Value) -> Vec<(String, SchemaErrorKind)> {
        Schema::parse(&value)
            .expect_err("the schema is refused")
            .into_iter()
            .map(|error| (error.pointer, error.kind))
            .collect()
    }

    #[test]
    fn the_triage_schema_parses_and_writes_back_closed() {
        let schema = Schema::parse(&triage()).expect("valid");
        let Kind::Object(properties) = &schema.kind else {
            panic!("an object")
        };
        let names: Vec<&str> = properties.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["intent", "urgency", "order_id", "summary", "products"]
        );
        assert!(properties[2].schema.nullable);
        let written = schema.to_json();
        assert_eq!(written["additionalProperties"], false);
        assert_eq!(
            written["required"],
            json!(["intent", "urgency", "order_id", "summary", "products"])
        );
        assert_eq!(
            written["properties"]["order_id"]["type"],
            json!(["string", "null"])
        );
        // What it writes reads back as the same schema.
        assert_eq!(Schema::parse(&written).expect("round trip"), schema);
        let through_serde: Schema = serde_json::from_value(written).expect("deserialize");
        assert_eq!(through_serde, schema);
    }

    #[test]
    fn every_problem_is_reported_at_its_pointer() {
        let found = errors(json!({
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": []},
                "urgency": {"type": "integer", "minimum": 5, "maximum": 1, "maxLength": 3},
                "orderId": {"type": "string"},
                "code": {"type": "string", "pattern": "^[A-Z]+$"},
                "extra": {"type": "strin"}
            },
            "required": ["intent", "urgency", "orderId", "code", "extra", "missing"],
            "propertys": {}
        }));
        let expect = [
            (
                "/propertys",
                SchemaErrorKind::UnknownKeyword("propertys".into()),
            ),
            ("/properties/intent/enum", SchemaErrorKind::EmptyEnum),
            (
                "/properties/urgency/maxLength",
                SchemaErrorKind::NotForType {
                    keyword: "maxLength".into(),
                    ty: "integer",
                },
            ),
            (
                "/properties/urgency/minimum",
                SchemaErrorKind::MinimumAboveMaximum,
            ),
            (
                "/properties/orderId",
                SchemaErrorKind::BadPropertyName {
                    name: "orderId".into(),
                    suggestion: Some("order_id".into()),
                },
            ),
            (
                "/required/5",
                SchemaErrorKind::RequiredNotAProperty("missing".into()),
            ),
            (
                "/properties/extra/type",
                SchemaErrorKind::UnknownType("strin".into()),
            ),
        ];
        for (pointer, kind) in expect {
            assert!(
                found.iter().any(|(p, k)| p == pointer && *k == kind),
                "{pointer}: {kind:?} not in {found:#?}"
            );
        }
        assert!(found.iter().any(|(p, k)| p == "/properties/code/pattern"
            && matches!(k, SchemaErrorKind::Unsupported { keyword, .. } if keyword == "pattern")));
    }

    #[test]
    fn optional_properties_additional_properties_and_the_root_are_refused() {
        let found = errors(json!({
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}},
            "required": ["a", "a"],
            "additionalProperties": true
        }));
        assert!(
            found.contains(&(
                "/properties/b".into(),
                SchemaErrorKind::NotRequired("b".into())
            )),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "/required/1".into(),
                SchemaErrorKind::RequiredTwice("a".into())
            )),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "/additionalProperties".into(),
                SchemaErrorKind::AdditionalProperties
            )),
            "{found:?}"
        );
        assert_eq!(
            errors(json!({"type": "string"})),
            [("".into(), SchemaErrorKind::RootNotObject)]
        );
        assert_eq!(
            errors(
                json!({"type": ["object", "null"], "properties": {"a": {"type": "string"}}, "required": ["a"]})
            ),
            [("".into(), SchemaErrorKind::RootNotObject)]
        );
        assert_eq!(
            errors(json!({"type": ["string", "integer"]})),
            [("/type".into(), SchemaErrorKind::BadTypeList)]
        );
        assert_eq!(
            errors(json!({"properties": {}})),
            [("".into(), SchemaErrorKind::MissingType)]
        );
    }

    #[test]
    fn nesting_past_the_limit_is_refused_where_it_goes_too_deep() {
        let mut schema = json!({"type": "string"});
        for _ in 0..=MAX_DEPTH + 1 {
            schema =
                json!({"type": "object", "properties": {"inner": schema}, "required": ["inner"]});
        }
        let found = errors(schema);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, SchemaErrorKind::TooDeep);
        assert_eq!(
            found[0].0.matches("/properties/inner").count(),
            MAX_DEPTH + 1
        );
        // At the limit it parses.
        let mut schema = json!({"type": "string"});
        for _ in 0..=MAX_DEPTH {
            schema =
                json!({"type": "object", "properties": {"inner": schema}, "required": ["inner"]});
        }
        Schema::parse(&schema).expect("nesting up to the limit is fine");
    }

    #[test]
    fn enum_values_must_make_distinct_variants() {
        let found = errors(json!({
            "type": "object",
            "properties": {"state": {"type": "string", "enum": ["on-hold", "on_hold", "42", "open", "open", 3]}},
            "required": ["state"]
        }));
        assert!(
            found.contains(&(
                "/properties/state/enum/1".into(),
                SchemaErrorKind::EnumValuesCollide {
                    first: "on-hold".into(),
                    second: "on_hold".into(),
                    variant: "OnHold".into()
                }
            )),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "/properties/state/enum/2".into(),
                SchemaErrorKind::BadEnumValue("42".into())
            )),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "/properties/state/enum/4".into(),
                SchemaErrorKind::DuplicateEnumValue("open".into())
            )),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "/properties/state/enum/5".into(),
                SchemaErrorKind::EnumValueNotAString
            )),
            "{found:?}"
        );
        assert_eq!(variant_name("billing").as_deref(), Some("Billing"));
        assert_eq!(variant_name("needsReview").as_deref(), Some("NeedsReview"));
        assert_eq!(variant_name("tier 2").as_deref(), Some("Tier2"));
        assert_eq!(variant_name("_"), None);
    }

    #[test]
    fn answers_are_checked_against_every_constraint() {
        let schema = Schema::parse(&triage()).expect("valid");
        let good = json!({"intent": "billing", "urgency": 4, "order_id": null, "summary": "refund", "products": ["pro"]});
        assert_eq!(schema.check(&good), []);
        let bad = json!({
            "intent": "refund",
            "urgency": 9,
            "summary": "x".repeat(281),
            "products": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", 7],
            "mood": "angry"
        });
        let found: Vec<String> = schema.check(&bad).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "/: unexpected property `mood`",
                "/intent: \"refund\" is not one of [billing, technical, sales, retention, other]",
                "/urgency: 9 is outside 1..=5",
                "/: missing property `order_id`",
                "/summary: is 281 characters long, at most 280 allowed",
                "/products: has 11 items, at most 10 allowed",
                "/products/10: must be a string, not a number",
            ],
            "in field order"
        );
        assert_eq!(
            schema.check(&json!({"intent": null, "urgency": 1.5, "order_id": "A1", "summary": "s", "products": []})),
            [
                Violation { pointer: "/intent".into(), message: "must be a string, not null".into() },
                Violation { pointer: "/urgency".into(), message: "must be an integer, not 1.5".into() },
            ]
        );
        assert_eq!(schema.check(&json!("text")).len(), 1);
    }

    #[test]
    fn normalizing_drops_descriptions_and_order() {
        let a = Schema::parse(&triage()).expect("valid");
        let mut reordered = triage();
        reordered["properties"]["intent"]["description"] = json!("reworded");
        let mut properties: Vec<(String, Value)> = reordered["properties"]
            .as_object()
            .expect("map")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        properties.reverse();
        reordered["properties"] = Value::Object(properties.into_iter().collect());
        let b = Schema::parse(&reordered).expect("valid");
        assert_ne!(a, b);
        assert_eq!(a.normalized(), b.normalized());
        let mut narrower = triage();
        narrower["properties"]["urgency"]["maximum"] = json!(3);
        assert_ne!(
            a.normalized(),
            Schema::parse(&narrower).expect("valid").normalized()
        );
    }

    #[test]
    fn yaml_spellings_and_edge_values_read_as_meant() {
        // An unquoted YAML `null` in a type list is the null type.
        let schema = Schema::parse(&json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", null]},
                "n": {"type": "integer", "minimum": 1.0, "maximum": 5}
            },
            "required": ["a", "n"]
        }))
        .expect("valid");
        let Kind::Object(properties) = &schema.kind else {
            panic!("an object")
        };
        assert!(properties[0].schema.nullable);
        assert_eq!(
            properties[1].schema.kind,
            Kind::Integer {
                minimum: Some(1),
                maximum: Some(5)
            }
        );
        // A fractional bound on an integer is refused, and so is `self` as an enum value.
        let found = errors(json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": 1.5},
                "s": {"type": "string", "enum": ["self", "other"]}
            },
            "required": ["n", "s"]
        }));
        assert!(
            found.iter().any(|(p, k)| p == "/properties/n/minimum"
                && matches!(k, SchemaErrorKind::WrongValue { .. })),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "/properties/s/enum/0".into(),
                SchemaErrorKind::BadEnumValue("self".into())
            )),
            "{found:?}"
        );
    }

    #[test]
    fn oversized_enums_and_objects_are_refused_without_reading_them() {
        let values: Vec<String> = (0..=MAX_ENUM_VALUES).map(|i| format!("v{i}")).collect();
        let found = errors(json!({
            "type": "object",
            "properties": {"s": {"type": "string", "enum": values}},
            "required": ["s"]
        }));
        assert_eq!(
            found,
            [(
                "/properties/s/enum".into(),
                SchemaErrorKind::TooManyEnumValues
            )]
        );
        let properties: Map<String, Value> = (0..=MAX_PROPERTIES)
            .map(|i| (format!("p{i}"), json!({"type": "boolean"})))
            .collect();
        let found = errors(json!({"type": "object", "properties": properties}));
        assert_eq!(
            found,
            [("/properties".into(), SchemaErrorKind::TooManyProperties)]
        );
    }

    #[test]
    fn reordering_enum_values_keeps_the_contract() {
        let with = |values: Value| {
            Schema::parse(&json!({
                "type": "object",
                "properties": {"s": {"type": "string", "enum": values}},
                "required": ["s"]
            }))
            .expect("valid")
            .normalized()
        };
        assert_eq!(with(json!(["a", "b"])), with(json!(["b", "a"])));
        assert_ne!(with(json!(["a", "b"])), with(json!(["a", "c"])));
    }

    #[test]
    fn pointers_escape_slash_and_tilde() {
        let mut pointer = String::new();
        push_token(&mut pointer, "a/b~c");
        assert_eq!(pointer, "/a~1b~0c");
    }
}
