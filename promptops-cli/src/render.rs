//! `render ID --var k=v ... [--input TEXT]`: a compiled-in prompt, rendered exactly as the
//! runtime would send it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use promptops_runtime::{DynVars, PromptDef, Value, VarType};

use crate::{find, Outcome, Registry};

/// Arguments of `promptops render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The prompt's id.
    id: String,
    /// A variable, `name=value`. Values are parsed by the declared type; repeat the flag to
    /// build a `list` (`--var items=a --var items=b`).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// The user turn, for prompts whose template is the instructions (like the intent
    /// classifier): the templates become the system part and this text the user part.
    #[arg(long)]
    input: Option<String>,
}

pub fn run(args: &RenderArgs, registry: &Registry) -> Outcome {
    let def = match find(registry, &args.id) {
        Ok(def) => def,
        Err(message) => return Outcome::fail(message, 1),
    };
    match render(def, &args.vars, args.input.as_deref()) {
        Ok(text) => Outcome::ok(text),
        Err(message) => Outcome::fail(format!("error: {message}\n"), 1),
    }
}

fn render(def: &'static PromptDef, raw: &[String], input: Option<&str>) -> Result<String, String> {
    let mut given: BTreeMap<&'static str, Value> = BTreeMap::new();
    for pair in raw {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("`--var {pair}` is not `name=value`"))?;
        let Some(var) = def.variable(name) else {
            let declared: Vec<&str> = def.variables.iter().map(|v| v.name.as_str()).collect();
            let hint =
                match promptops_build::diagnostic::did_you_mean(name, declared.iter().copied()) {
                    Some(close) => format!(" (did you mean `{close}`?)"),
                    None if declared.is_empty() => {
                        " (it takes none: pass the text to classify with `--input`)".to_owned()
                    }
                    None => format!(" (it has: {})", declared.join(", ")),
                };
            return Err(format!("{} has no variable `{name}`{hint}", def.id));
        };
        match var.ty {
            VarType::List => {
                if let Value::List(items) = given
                    .entry(var.name.as_str())
                    .or_insert(Value::List(Vec::new()))
                {
                    items.push(value.to_owned());
                }
            }
            ty => {
                if given
                    .insert(var.name.as_str(), scalar(&var.name, ty, value)?)
                    .is_some()
                {
                    return Err(format!("`{name}` is given twice"));
                }
            }
        }
    }
    let missing: Vec<String> = def
        .variables
        .iter()
        .filter(|var| var.required && !given.contains_key(var.name.as_str()))
        .map(|var| format!("--var {}=<{}>", var.name, var.ty.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(format!("{} needs {}", def.id, missing.join(" ")));
    }
    if def.variables.is_empty() && input.is_none() && !def.labels.is_empty() {
        return Err(format!(
            "{} takes the text to classify as its user turn: pass `--input \"...\"`",
            def.id
        ));
    }

    let vars = DynVars::from_owned(def, given.iter().map(|(name, value)| (*name, value)))
        .map_err(|err| err.to_string())?;
    let rendered = match input {
        Some(input) => promptops_runtime::render::render_def_with_input(def, &vars, input),
        None => promptops_runtime::render::render_def(def, &vars),
    }
    .map_err(|err| err.to_string())?;
    let mut out = String::new();
    match &rendered.system {
        Some(system) => {
            let _ = writeln!(out, "── system ──\n{}", system.trim_end());
            let _ = writeln!(out, "── user ──\n{}", rendered.user.trim_end());
        }
        None => {
            let _ = writeln!(out, "{}", rendered.user.trim_end());
        }
    }
    Ok(out)
}

/// Parses a non-list `--var` value by its declared type.
fn scalar(name: &str, ty: VarType, text: &str) -> Result<Value, String> {
    let value = match ty {
        VarType::String | VarType::List => Some(Value::String(text.to_owned())),
        VarType::Integer => text.parse().ok().map(Value::Integer),
        VarType::Number => text
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
            .map(Value::Number),
        VarType::Boolean => match text {
            "true" => Some(Value::Boolean(true)),
            "false" => Some(Value::Boolean(false)),
            _ => None,
        },
    };
    value.ok_or_else(|| {
        format!(
            "`{name}` is declared as {}, but `{text}` is not one",
            match ty {
                VarType::Integer => "an integer",
                VarType::Number => "a number",
                _ => "a boolean (`true` or `false`)",
            }
        )
    })
}
