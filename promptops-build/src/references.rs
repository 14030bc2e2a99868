//! Compile-time checking of prompt references (`prompts::prompt!("id")`), as plain functions.
//!
//! The generated crate exports a `macro_rules! prompt` that hands the proc macro in
//! `promptops-macros` the table of ids it compiled in; this module decides what an id resolves
//! to and words the errors, so the proc macro stays a thin shim.

use crate::diagnostic::did_you_mean;

/// Which prompts a build includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    /// Every prompt, drafts included (the default).
    #[default]
    Development,
    /// Stable and deprecated prompts only: code that names a draft fails to compile.
    Production,
}

impl Environment {
    /// `development` or `production`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }

    /// Parses a `PROMPTOPS_ENV` value; empty means development.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "dev" | "development" => Ok(Environment::Development),
            "prod" | "production" => Ok(Environment::Production),
            other => Err(format!(
                "PROMPTOPS_ENV is `{other}`; expected `development` (or `dev`) or `production` (or `prod`)"
            )),
        }
    }
}

/// What the generated crate knows when a reference is checked.
#[derive(Debug, Clone, Default)]
pub struct ReferenceTable<'t> {
    /// Prompt ids compiled in, with the Rust path of their handle function.
    pub compiled: Vec<(&'t str, &'t str)>,
    /// Prompt ids validated but left out of this build, with their status (`draft`).
    pub excluded: Vec<(&'t str, &'t str)>,
    /// The prompts directory, for notes.
    pub prompts_dir: &'t str,
    /// The build's environment (`development` / `production`).
    pub environment: &'t str,
}

/// Why a reference does not resolve: message, notes and an optional help line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceError {
    /// The error message.
    pub message: String,
    /// Context lines.
    pub notes: Vec<String>,
    /// A likely fix.
    pub help: Option<String>,
}

impl ReferenceError {
    /// The message, notes and help as one text (what `compile_error!` shows).
    pub fn render(&self) -> String {
        let mut text = self.message.clone();
        for note in &self.notes {
            text.push_str("\n\n= note: ");
            text.push_str(note);
        }
        if let Some(help) = &self.help {
            text.push_str("\n\n= help: ");
            text.push_str(help);
        }
        text
    }
}

/// Resolves `id` to the Rust path of its handle function.
pub fn resolve<'t>(table: &ReferenceTable<'t>, id: &str) -> Result<&'t str, ReferenceError> {
    if let Some((_, path)) = table.compiled.iter().find(|(known, _)| *known == id) {
        return Ok(path);
    }
    if let Some((_, status)) = table.excluded.iter().find(|(known, _)| *known == id) {
        return Err(ReferenceError {
            message: format!(
                "prompt `{id}` is a {status} and is not compiled into {} builds",
                table.environment
            ),
            notes: vec![format!(
                "{} builds exclude draft prompts; this one lives in `{}`",
                table.environment, table.prompts_dir
            )],
            help: Some(
                "set `status: stable` in the prompt file once it is approved, or build without PROMPTOPS_ENV=production / the `production` feature"
                    .to_owned(),
            ),
        });
    }
    let mut error = ReferenceError {
        message: if crate::naming::check_id(id).is_ok() {
            format!("no prompt with id `{id}`")
        } else {
            format!("`{id}` is not a valid prompt id")
        },
        notes: vec![format!(
            "prompt ids come from the YAML files in `{}` ({} prompts compiled in)",
            table.prompts_dir,
            table.compiled.len()
        )],
        help: None,
    };
    let candidates = table.compiled.iter().map(|(known, _)| *known);
    if let Some(suggestion) = did_you_mean(id, candidates) {
        error.help = Some(format!("did you mean `{suggestion}`?"));
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ReferenceTable<'static> {
        ReferenceTable {
            compiled: vec![
                (
                    "customer-support.intent-classifier",
                    "customer_support::intent_classifier",
                ),
                (
                    "customer-support.reply-drafter",
                    "customer_support::reply_drafter",
                ),
            ],
            excluded: vec![("customer-support.escalation-summary", "draft")],
            prompts_dir: "prompts",
            environment: "production",
        }
    }

    #[test]
    fn known_ids_resolve_to_their_handle() {
        assert_eq!(
            resolve(&table(), "customer-support.reply-drafter"),
            Ok("customer_support::reply_drafter")
        );
    }

    #[test]
    fn near_misses_get_a_suggestion_and_the_directory() {
        let err = resolve(&table(), "customer-support.intent-clasifier").unwrap_err();
        assert_eq!(
            err.message,
            "no prompt with id `customer-support.intent-clasifier`"
        );
        assert_eq!(
            err.help.as_deref(),
            Some("did you mean `customer-support.intent-classifier`?")
        );
        assert!(err.notes[0].contains("`prompts`"));
        assert!(err.render().contains("= help: did you mean"));
    }

    #[test]
    fn far_misses_have_no_suggestion() {
        let err = resolve(&table(), "billing.refund").unwrap_err();
        assert_eq!(err.help, None);
    }

    #[test]
    fn excluded_drafts_say_why() {
        let err = resolve(&table(), "customer-support.escalation-summary").unwrap_err();
        assert!(
            err.message
                .contains("is a draft and is not compiled into production builds"),
            "{}",
            err.message
        );
    }

    #[test]
    fn malformed_ids_are_called_out() {
        let err = resolve(&table(), "Customer Support").unwrap_err();
        assert!(err.message.contains("is not a valid prompt id"));
    }

    #[test]
    fn environments_parse() {
        assert_eq!(Environment::parse(""), Ok(Environment::Development));
        assert_eq!(Environment::parse("PROD"), Ok(Environment::Production));
        assert!(Environment::parse("staging").is_err());
    }
}
