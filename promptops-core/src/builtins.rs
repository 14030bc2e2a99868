//! The names a minijinja template may use without its caller supplying them, and the one rule
//! that turns the names a template reads into the prompt's variables.
//!
//! minijinja reports every name a template reads that it does not assign itself
//! (`undeclared_variables`); that includes its global functions (`range`, `dict`, `namespace`,
//! `debug`). Those are not the prompt's variables: the build would otherwise ask a prompt file
//! to declare `range`, and the pipeline would require an S3 template's config to pass it. The
//! build script and the pipeline both infer variables through [`template_variables`], so a
//! template has the same contract wherever it is compiled. This crate does not depend on
//! minijinja (it stays small); `promptops-build` checks [`MINIJINJA_GLOBALS`] against
//! minijinja's own list, so an upgrade that adds a global fails a test instead of a contract.
//!
//! `loop`, `self`, `super`, `caller`, `varargs` and `kwargs` need no entry: minijinja defines
//! them only inside the construct that provides them (a `for` body, a macro, a block), and
//! there it does not report them. Outside it they would be a plain context variable.

use std::collections::BTreeSet;

/// The global functions of minijinja's default environment (its `builtins` feature), which
/// every promptops template environment uses unchanged.
pub const MINIJINJA_GLOBALS: &[&str] = &["debug", "dict", "namespace", "range"];

/// Whether `name` is provided by the template engine itself rather than by the caller.
pub fn is_builtin_name(name: &str) -> bool {
    MINIJINJA_GLOBALS.contains(&name)
}

/// The variables a template's caller must supply, from the names the template reads
/// (minijinja's `undeclared_variables(false)`): every name but the engine's own, sorted.
pub fn template_variables<I>(undeclared: I) -> BTreeSet<String>
where
    I: IntoIterator<Item = String>,
{
    undeclared
        .into_iter()
        .filter(|name| !is_builtin_name(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_not_variables() {
        let read = ["range", "name", "namespace", "dict", "debug", "topic"].map(String::from);
        assert_eq!(
            template_variables(read).into_iter().collect::<Vec<_>>(),
            ["name", "topic"]
        );
        assert!(is_builtin_name("range"));
        assert!(!is_builtin_name("ranges"));
    }
}
