//! The Rust types a prompt's `output.schema` becomes: the `Output` struct, a struct per nested
//! object and an enum per string `enum`, written as a careful person would write them by hand.
//!
//! * Fields keep the property names (the schema rules already make them snake_case Rust
//!   identifiers), in `required` order; descriptions become doc comments.
//! * `integer` is `i64`, `number` is `f64`, `boolean` is `bool`, `string` is `String`, an array
//!   is a `Vec`, a nullable node an `Option`.
//! * A nested object is a struct named after its property (`customer` → `Customer`); a string
//!   enum an enum named after its property (`intent` → `Intent`), with variants named after the
//!   values and serde renames back to them (`rename_all` when one rule fits every value); array
//!   elements take the singular (`products` → `Product`).
//! * When two types would take the same name (`billing.address` and `shipping.address`), or a
//!   name the module already uses (`Output`, `Vars`, `Spec`, `Label`), each takes its parent's
//!   name in front (`BillingAddress`, `ShippingAddress`).
//! * serde is reached through the runtime's re-export (`#[serde(crate = …)]`), so the crate
//!   that holds the prompts needs no serde dependency of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use promptops_core::output_schema::{variant_name, Kind, Property, Schema};

use crate::codegen::doc;

/// Names a generated type must not take: the module's own items, and the prelude types the
/// generated code names unqualified (a property `options` would otherwise become a struct
/// `Option` that shadows the real one).
const RESERVED: &[&str] = &[
    "Output", "Vars", "Spec", "Label", "NoVars", "Option", "String", "Vec", "Box", "Result",
];

/// One type to generate.
#[derive(Debug, Clone, PartialEq)]
enum TypeDef<'s> {
    /// A struct for an object node.
    Struct {
        name: String,
        description: Option<&'s str>,
        fields: Vec<Field<'s>>,
    },
    /// An enum for a string node with `enum` values.
    Enum {
        name: String,
        description: Option<&'s str>,
        values: &'s [String],
    },
}

/// A struct field: the property, and its Rust type as written.
#[derive(Debug, Clone, PartialEq)]
struct Field<'s> {
    name: &'s str,
    description: Option<&'s str>,
    ty: String,
}

/// A node that needs a named type, found in the first pass: its candidate name, its parent
/// type's node index (`None` for the root) and the schema.
struct Candidate<'s> {
    base: String,
    parent: Option<usize>,
    schema: &'s Schema,
}

/// Writes the types of `schema` (the prompt's output schema), the root named `Output`, at
/// indentation `pad`, with the runtime at path `rt`.
pub fn emit(out: &mut String, prompt_id: &str, schema: &Schema, pad: &str, rt: &str) {
    let types = types(schema);
    for (index, ty) in types.iter().enumerate() {
        match ty {
            TypeDef::Struct {
                name,
                description,
                fields,
            } => {
                let fallback = if index == 0 {
                    format!("The answer of `{prompt_id}`.")
                } else {
                    format!("Part of the answer of `{prompt_id}`.")
                };
                doc(out, pad, description.unwrap_or(&fallback));
                let _ = writeln!(
                    out,
                    "{pad}#[derive(Debug, Clone, PartialEq, {rt}::serde::Serialize, {rt}::serde::Deserialize)]"
                );
                let _ = writeln!(out, "{pad}#[serde(crate = \"{rt}::serde\")]");
                let _ = writeln!(out, "{pad}pub struct {name} {{");
                let inner = format!("{pad}    ");
                for field in fields {
                    if let Some(description) = field.description {
                        doc(out, &inner, description);
                    }
                    let _ = writeln!(out, "{inner}pub {}: {},", field.name, field.ty);
                }
                let _ = writeln!(out, "{pad}}}");
            }
            TypeDef::Enum {
                name,
                description,
                values,
            } => emit_enum(out, name, *description, values, pad, rt),
        }
    }
    // `#[inline]`, like the handle functions: the deserializer serde derives is instantiated
    // (and compiled to machine code) only in the crates that call the prompt, not once per
    // prompt in the prompts crate (BENCHMARKS.md, "Structured outputs").
    let _ = writeln!(out, "{pad}impl {rt}::PromptOutput for Output {{");
    let _ = writeln!(out, "{pad}    #[inline]");
    let _ = writeln!(
        out,
        "{pad}    fn from_answer(answer: {rt}::Answer<'_>) -> ::core::result::Result<Self, {rt}::OutputError> {{"
    );
    let _ = writeln!(out, "{pad}        {rt}::structured::deserialize(answer)");
    let _ = writeln!(out, "{pad}    }}");
    let _ = writeln!(out, "{pad}}}");
}

fn emit_enum(
    out: &mut String,
    name: &str,
    description: Option<&str>,
    values: &[String],
    pad: &str,
    rt: &str,
) {
    let variants: Vec<String> = values
        .iter()
        .map(|value| variant_name(value).unwrap_or_else(|| value.clone()))
        .collect();
    let rule = ["snake_case", "kebab-case"].into_iter().find(|rule| {
        let separator = if *rule == "snake_case" { '_' } else { '-' };
        values
            .iter()
            .zip(&variants)
            .all(|(value, variant)| *value == serde_rename(variant, separator))
    });
    let fallback = format!("The values `{name}` may take.");
    doc(out, pad, description.unwrap_or(&fallback));
    let _ = writeln!(
        out,
        "{pad}#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, {rt}::serde::Serialize, {rt}::serde::Deserialize)]"
    );
    match rule {
        Some(rule) => {
            let _ = writeln!(
                out,
                "{pad}#[serde(crate = \"{rt}::serde\", rename_all = \"{rule}\")]"
            );
        }
        None => {
            let _ = writeln!(out, "{pad}#[serde(crate = \"{rt}::serde\")]");
        }
    }
    let _ = writeln!(out, "{pad}pub enum {name} {{");
    for (value, variant) in values.iter().zip(&variants) {
        doc(out, &format!("{pad}    "), &format!("`{value}`"));
        if rule.is_none() && value != variant {
            let _ = writeln!(out, "{pad}    #[serde(rename = {value:?})]");
        }
        let _ = writeln!(out, "{pad}    {variant},");
    }
    let _ = writeln!(out, "{pad}}}");
}

/// What serde's `rename_all = "snake_case"` (`_`) or `"kebab-case"` (`-`) makes of a variant
/// name: a separator before each uppercase letter but the first, everything lowercased.
fn serde_rename(variant: &str, separator: char) -> String {
    let mut out = String::with_capacity(variant.len() + 4);
    for (index, c) in variant.chars().enumerate() {
        if c.is_uppercase() && index > 0 {
            out.push(separator);
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The types `schema` needs, the root `Output` first, then in the order a reader meets them.
fn types(schema: &Schema) -> Vec<TypeDef<'_>> {
    let mut candidates = vec![Candidate {
        base: "Output".to_owned(),
        parent: None,
        schema,
    }];
    collect(schema, 0, &mut candidates);
    let names = assign_names(&candidates);
    let mut index_of = BTreeMap::new();
    for (index, candidate) in candidates.iter().enumerate() {
        index_of.insert(std::ptr::from_ref(candidate.schema) as usize, index);
    }
    let name_of = |schema: &Schema| {
        index_of
            .get(&(std::ptr::from_ref(schema) as usize))
            .map(|index| names[*index].clone())
    };
    candidates
        .iter()
        .zip(&names)
        .map(|(candidate, name)| match &candidate.schema.kind {
            Kind::Object(properties) => TypeDef::Struct {
                name: name.clone(),
                description: candidate.schema.description.as_deref(),
                fields: properties
                    .iter()
                    .map(|property| Field {
                        name: &property.name,
                        description: property.schema.description.as_deref(),
                        ty: rust_type(&property.schema, &name_of),
                    })
                    .collect(),
            },
            Kind::String { values, .. } => TypeDef::Enum {
                name: name.clone(),
                description: candidate.schema.description.as_deref(),
                values,
            },
            // `collect` only records objects and string enums.
            _ => TypeDef::Enum {
                name: name.clone(),
                description: None,
                values: &[],
            },
        })
        .collect()
}

/// Records every object and string enum below `schema` (whose type is candidate `parent`),
/// depth first in property order.
fn collect<'s>(schema: &'s Schema, parent: usize, out: &mut Vec<Candidate<'s>>) {
    let Kind::Object(properties) = &schema.kind else {
        return;
    };
    for Property { name, schema } in properties {
        let mut node = schema;
        let mut base = pascal(name);
        while let Kind::Array { items, .. } = &node.kind {
            node = items;
            base = singular(&base);
        }
        let named = match &node.kind {
            Kind::Object(_) => true,
            Kind::String { values, .. } => !values.is_empty(),
            _ => false,
        };
        if named {
            out.push(Candidate {
                base,
                parent: Some(parent),
                schema: node,
            });
            let index = out.len() - 1;
            collect(node, index, out);
        }
    }
}

/// Each candidate's final name: its base name when that is unique and not reserved; else, for a
/// type below a field of the root or a reserved name, its parent's final name in front; a
/// number after it in the (contrived) case that is taken too.
fn assign_names(candidates: &[Candidate<'_>]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for candidate in candidates {
        *counts.entry(candidate.base.as_str()).or_default() += 1;
    }
    let mut names: Vec<String> = Vec::with_capacity(candidates.len());
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (index, candidate) in candidates.iter().enumerate() {
        // A clash is settled by the nested types taking their parent's name; a field of the
        // root keeps the plain name, unless the module uses it already.
        let nested = candidate.parent.is_some_and(|parent| parent > 0);
        let reserved = index > 0 && RESERVED.contains(&candidate.base.as_str());
        let clashes = (counts[candidate.base.as_str()] > 1 && nested) || reserved;
        let mut name = match (clashes, candidate.parent) {
            (true, Some(parent)) => format!("{}{}", names[parent], candidate.base),
            _ => candidate.base.clone(),
        };
        if taken.contains(&name) || (index > 0 && RESERVED.contains(&name.as_str())) {
            let stem = name.clone();
            let mut number = 2;
            while taken.contains(&name) || RESERVED.contains(&name.as_str()) {
                name = format!("{stem}{number}");
                number += 1;
            }
        }
        taken.insert(name.clone());
        names.push(name);
    }
    names
}

/// The Rust type of a field.
fn rust_type(schema: &Schema, name_of: &impl Fn(&Schema) -> Option<String>) -> String {
    let ty = match &schema.kind {
        Kind::Object(_) => name_of(schema).unwrap_or_else(|| "Output".to_owned()),
        Kind::String { values, .. } if !values.is_empty() => {
            name_of(schema).unwrap_or_else(|| "::std::string::String".to_owned())
        }
        Kind::String { .. } => "String".to_owned(),
        Kind::Integer { .. } => "i64".to_owned(),
        Kind::Number { .. } => "f64".to_owned(),
        Kind::Boolean => "bool".to_owned(),
        Kind::Array { items, .. } => format!("Vec<{}>", rust_type(items, name_of)),
    };
    if schema.nullable {
        format!("Option<{ty}>")
    } else {
        ty
    }
}

/// `order_id` → `OrderId`.
fn pascal(name: &str) -> String {
    variant_name(name).unwrap_or_else(|| name.to_owned())
}

/// The name of one element of a list called `plural`: `Products` → `Product`, `Categories` →
/// `Category`, `Addresses` → `Address`; a name that is not a regular plural gets `Item`.
fn singular(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for ending in ["sses", "xes", "ches", "shes"] {
        if let Some(stem) = plural.strip_suffix(ending) {
            return format!("{stem}{}", &ending[..ending.len() - 2]);
        }
    }
    // `Status`, `Class` and `Bus` end in `s` without being plurals.
    match plural.strip_suffix('s') {
        Some(stem) if !stem.is_empty() && !stem.ends_with(['s', 'u']) => stem.to_owned(),
        _ => format!("{plural}Item"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(value: serde_json::Value) -> Schema {
        Schema::parse(&value).expect("a valid schema")
    }

    fn generated(value: serde_json::Value) -> String {
        let mut out = String::new();
        emit(&mut out, "a.b", &schema(value), "", "::rt");
        out
    }

    #[test]
    fn the_issue_schema_reads_like_hand_written_code() {
        let code = generated(json!({
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": ["billing", "technical", "on-hold"], "description": "Why the customer wrote."},
                "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
                "order_id": {"type": ["string", "null"], "description": "the order number if the customer gave one"},
                "summary": {"type": "string", "maxLength": 280},
                "products": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                "score": {"type": "number"},
                "escalate": {"type": "boolean"}
            },
            "required": ["intent", "urgency", "order_id", "summary", "products", "score", "escalate"]
        }));
        let expected = "\
/// The answer of `a.b`.
#[derive(Debug, Clone, PartialEq, ::rt::serde::Serialize, ::rt::serde::Deserialize)]
#[serde(crate = \"::rt::serde\")]
pub struct Output {
    /// Why the customer wrote.
    pub intent: Intent,
    pub urgency: i64,
    /// the order number if the customer gave one
    pub order_id: Option<String>,
    pub summary: String,
    pub products: Vec<String>,
    pub score: f64,
    pub escalate: bool,
}
/// Why the customer wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::rt::serde::Serialize, ::rt::serde::Deserialize)]
#[serde(crate = \"::rt::serde\", rename_all = \"kebab-case\")]
pub enum Intent {
    /// `billing`
    Billing,
    /// `technical`
    Technical,
    /// `on-hold`
    OnHold,
}
impl ::rt::PromptOutput for Output {
    #[inline]
    fn from_answer(answer: ::rt::Answer<'_>) -> ::core::result::Result<Self, ::rt::OutputError> {
        ::rt::structured::deserialize(answer)
    }
}
";
        assert_eq!(code, expected);
    }

    #[test]
    fn renames_follow_one_rule_when_one_fits_and_each_value_otherwise() {
        let code = generated(json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "enum": ["on_hold", "open"]},
                "b": {"type": "string", "enum": ["Open", "closed", "v2"]}
            },
            "required": ["a", "b"]
        }));
        assert!(
            code.contains("rename_all = \"snake_case\")]\npub enum A {"),
            "{code}"
        );
        assert!(!code.contains("rename = \"Open\""), "{code}");
        assert!(
            code.contains("    /// `closed`\n    #[serde(rename = \"closed\")]\n    Closed,"),
            "{code}"
        );
        assert!(
            code.contains("    #[serde(rename = \"v2\")]\n    V2,"),
            "{code}"
        );
    }

    #[test]
    fn nested_objects_and_lists_get_named_types_and_clashes_take_their_parent_name() {
        let address = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
        let code = generated(json!({
            "type": "object",
            "properties": {
                "billing": {"type": "object", "properties": {"address": address}, "required": ["address"]},
                "shipping": {"type": ["object", "null"], "properties": {"address": address}, "required": ["address"]},
                "categories": {"type": "array", "items": {"type": "string", "enum": ["x"]}},
                "addresses": {"type": "array", "items": address},
                "output": {"type": "string", "enum": ["y"]},
                "data": {"type": "array", "items": {"type": ["object", "null"], "properties": {"n": {"type": "integer"}}, "required": ["n"]}}
            },
            "required": ["billing", "shipping", "categories", "addresses", "output", "data"]
        }));
        for line in [
            "    pub billing: Billing,",
            "    pub shipping: Option<Shipping>,",
            "    pub categories: Vec<Category>,",
            "    pub addresses: Vec<Address>,",
            "    pub output: OutputOutput,",
            "    pub data: Vec<Option<DataItem>>,",
            "pub struct BillingAddress {",
            "pub struct ShippingAddress {",
            "    pub address: BillingAddress,",
            "    pub address: ShippingAddress,",
            "pub enum Category {",
            "pub struct Address {",
            "pub enum OutputOutput {",
            "pub struct DataItem {",
        ] {
            assert!(code.contains(line), "missing `{line}` in\n{code}");
        }
        assert_eq!(code.matches("pub struct Output {").count(), 1);
    }

    #[test]
    fn prelude_names_are_never_shadowed() {
        let code = generated(json!({
            "type": "object",
            "properties": {
                "options": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
                "strings": {"type": "array", "items": {"type": "string", "enum": ["a"]}},
                "vec": {"type": "string", "enum": ["on\nhold"]}
            },
            "required": ["options", "strings", "vec"]
        }));
        for line in [
            "    pub options: Vec<OutputOption>,",
            "    pub strings: Vec<OutputString>,",
            "    pub vec: OutputVec,",
        ] {
            assert!(code.contains(line), "missing `{line}` in\n{code}");
        }
        for shadow in ["struct Option ", "enum String ", "enum Vec "] {
            assert!(!code.contains(shadow), "{shadow} in\n{code}");
        }
        // A line break in a value cannot end a doc comment early: it continues on the next
        // `///` line.
        assert!(code.contains("    /// `on\n    /// hold`\n"), "{code}");
        assert!(code.contains("#[serde(rename = \"on\\nhold\")]"), "{code}");
    }

    #[test]
    fn plurals_become_singular_names() {
        for (plural, one) in [
            ("Products", "Product"),
            ("Categories", "Category"),
            ("Addresses", "Address"),
            ("Boxes", "Box"),
            ("Matches", "Match"),
            ("Wishes", "Wish"),
            ("Status", "StatusItem"),
            ("Class", "ClassItem"),
            ("Data", "DataItem"),
            ("S", "SItem"),
        ] {
            assert_eq!(singular(plural), one, "{plural}");
        }
    }
}
