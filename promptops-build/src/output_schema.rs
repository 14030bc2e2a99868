//! `output.schema`: the YAML read into JSON with the region of every JSON pointer, parsed by
//! promptops-core's one schema parser ([`promptops_core::output_schema::Schema::parse`]), and
//! each of its errors reported at the file, line and column of what it is about.

use std::collections::HashMap;

use promptops_core::output_schema::{push_token, Schema, SchemaErrorKind, KEYWORDS, TYPES};
use serde_json::{Map, Number, Value};

use crate::diagnostic::Code;
use crate::schema::Parser;
use crate::yaml::{Node, NodeKind, Region, Scalar};

/// The field a YAML value converted to JSON belongs to: its name in messages, and the code of
/// a value JSON cannot hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Within<'n> {
    pub(crate) name: &'n str,
    pub(crate) code: Code,
}

/// `output.schema` (named `output schema` as in every schema diagnostic).
const SCHEMA_CONTEXT: Within<'static> = Within {
    name: "output schema",
    code: Code::InvalidOutputSchema,
};

/// Where each JSON pointer of the converted schema was written: the key naming it (for map
/// entries) and its value.
#[derive(Default)]
struct Regions {
    keys: HashMap<String, Region>,
    values: HashMap<String, Region>,
}

impl Regions {
    /// The region for a problem at `pointer`: its key when `at_key` and it has one, else its
    /// value, else the nearest enclosing pointer's.
    fn find(&self, pointer: &str, at_key: bool, fallback: Region) -> Region {
        let mut pointer = pointer;
        loop {
            if at_key {
                if let Some(region) = self.keys.get(pointer) {
                    return *region;
                }
            }
            if let Some(region) = self.values.get(pointer) {
                return *region;
            }
            match pointer.rfind('/') {
                Some(cut) => pointer = &pointer[..cut],
                None => return fallback,
            }
        }
    }
}

impl<'a> Parser<'_, 'a> {
    /// Reads `output.schema`; `None` after reporting what is wrong with it.
    pub(crate) fn output_schema(&mut self, node: &Node<'a>) -> Option<Schema> {
        let mut regions = Regions::default();
        let before = self.out.len();
        let value = self.yaml_to_json(node, &mut String::new(), &mut regions, SCHEMA_CONTEXT)?;
        if self.out.len() != before {
            return None;
        }
        let errors = match Schema::parse(&value) {
            Ok(schema) => return Some(schema),
            Err(errors) => errors,
        };
        for error in errors {
            let at_key = matches!(
                error.kind,
                SchemaErrorKind::UnknownKeyword(_)
                    | SchemaErrorKind::Unsupported { .. }
                    | SchemaErrorKind::NotForType { .. }
                    | SchemaErrorKind::BadPropertyName { .. }
                    | SchemaErrorKind::NotRequired(_)
            );
            let region = regions.find(&error.pointer, at_key, node.region);
            let mut diagnostic = self.at(
                Code::InvalidOutputSchema,
                region,
                format!("output schema: {}", error.kind),
            );
            diagnostic = match &error.kind {
                SchemaErrorKind::UnknownKeyword(keyword) => {
                    match self
                        .suggestions
                        .did_you_mean(keyword, KEYWORDS.iter().copied())
                    {
                        Some(suggestion) => {
                            diagnostic.with_help(format!("did you mean `{suggestion}`?"))
                        }
                        None => diagnostic
                            .with_help(format!("expected one of: {}", KEYWORDS.join(", "))),
                    }
                }
                SchemaErrorKind::BadPropertyName {
                    suggestion: Some(name),
                    ..
                } => diagnostic.with_help(format!("rename it `{name}`")),
                SchemaErrorKind::UnknownType(name) => {
                    match self.suggestions.did_you_mean(name, TYPES.iter().copied()) {
                        Some(suggestion) => {
                            diagnostic.with_help(format!("did you mean `{suggestion}`?"))
                        }
                        None => diagnostic,
                    }
                }
                SchemaErrorKind::MinimumAboveMaximum => {
                    diagnostic.with_label("no value can satisfy this range")
                }
                _ => diagnostic,
            };
            self.push(diagnostic);
        }
        None
    }

    /// `node` (a value of `within`, such as `` `expect` ``) as JSON; `None` after reporting
    /// what JSON cannot hold.
    pub(crate) fn json_value(&mut self, node: &Node<'a>, within: Within<'_>) -> Option<Value> {
        self.yaml_to_json(node, &mut String::new(), &mut Regions::default(), within)
    }

    /// `node` as JSON, recording the region of every pointer; `None` after reporting a node
    /// JSON cannot hold (an alias, a non-string key, a key set twice, a number that is not
    /// finite). `within` names the field in messages.
    fn yaml_to_json(
        &mut self,
        node: &Node<'a>,
        pointer: &mut String,
        regions: &mut Regions,
        within: Within<'_>,
    ) -> Option<Value> {
        regions.values.insert(pointer.clone(), node.region);
        match &node.kind {
            NodeKind::Scalar { .. } => Some(match node.scalar()? {
                Scalar::Null => Value::Null,
                Scalar::Bool(flag) => Value::Bool(flag),
                Scalar::Int(number) => Value::from(number),
                Scalar::Float(number) => match Number::from_f64(number) {
                    Some(number) => Value::Number(number),
                    None => {
                        // `.inf`, `.nan`, `1e400`: JSON has no such number.
                        let diagnostic = self.at(
                            within.code,
                            node.region,
                            format!("{}: `{number}` is not a finite number", within.name),
                        );
                        self.push(diagnostic);
                        return None;
                    }
                },
                Scalar::Str(text) => Value::from(text),
            }),
            NodeKind::Seq(items) => {
                let mut list = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                    let converted = self.yaml_to_json(item, pointer, regions, within);
                    pointer.truncate(len);
                    list.push(converted?);
                }
                Some(Value::Array(list))
            }
            NodeKind::Map(entries) => {
                let mut map = Map::new();
                let mut ok = true;
                for (key, value) in entries {
                    let Some(name) = key.as_str() else {
                        self.wrong_type(key, &format!("a key in {}", within.name), "a string");
                        ok = false;
                        continue;
                    };
                    if map.contains_key(name) {
                        let diagnostic = self
                            .at(
                                Code::DuplicateKey,
                                key.region,
                                format!("`{name}` is set twice in {}", within.name),
                            )
                            .with_label("second definition");
                        self.push(diagnostic);
                        ok = false;
                        continue;
                    }
                    let len = pointer.len();
                    push_token(pointer, name);
                    regions.keys.insert(pointer.clone(), key.region);
                    let converted = self.yaml_to_json(value, pointer, regions, within);
                    pointer.truncate(len);
                    match converted {
                        Some(converted) => {
                            map.insert(name.to_owned(), converted);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Object(map))
            }
            NodeKind::Alias => {
                let diagnostic = self.at(
                    Code::Alias,
                    node.region,
                    format!("YAML aliases are not supported in {}", within.name),
                );
                self.push(diagnostic);
                None
            }
        }
    }
}
