//! The compiled-in prompt table of a generated crate (`prompts::ALL`).
//!
//! A generated crate embeds each prompt as one string literal holding the prompt's JSON form
//! ([`promptops_core::wire`], the same form the prompt registry serves) and a sorted table of
//! the ids. A [`Registry`] decodes a prompt the first time it is asked for and keeps the
//! decoded [`PromptDef`] in a `static` slot for the life of the process, which is what makes
//! the definitions `&'static`. String literals are cheap for rustc to compile (a struct
//! literal per prompt is not: `BENCHMARKS.md`, "Build time"), and decoding is a one-time cost of
//! a few microseconds per prompt.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use promptops_core::wire;

use crate::def::PromptDef;

pub use promptops_core::wire::DecodeError;

/// One prompt's slot in a generated crate's cache; not a public API.
#[doc(hidden)]
pub struct DefCell(OnceLock<PromptDef>);

impl DefCell {
    /// An empty slot, for the generated `[DefCell::EMPTY; N]`.
    // A `const` (not a `static`) on purpose: each use is a fresh, empty cell.
    #[allow(clippy::declare_interior_mutable_const)]
    pub const EMPTY: DefCell = DefCell(OnceLock::new());
}

/// Every prompt compiled into a generated crate, sorted by id: the crate's `ALL`.
///
/// It dereferences to `[&'static PromptDef]`, so `prompts::ALL.iter()`, `prompts::ALL.len()` and
/// `&prompts::ALL[..]` work as on a slice; the first such use decodes every prompt. Typed
/// handles and `get` decode only the prompt they need.
pub struct Registry {
    ids: &'static [&'static str],
    data: &'static [&'static str],
    cache: &'static [DefCell],
    all: OnceLock<Box<[&'static PromptDef]>>,
    by_id: OnceLock<HashMap<&'static str, usize>>,
}

impl Registry {
    /// A registry over prompts sorted by id: their ids, their JSON definitions and one cache
    /// slot each. Generated code calls this; the three lengths must match (checked at compile
    /// time there, since the registry is a `static`).
    pub const fn new(
        ids: &'static [&'static str],
        data: &'static [&'static str],
        cache: &'static [DefCell],
    ) -> Self {
        assert!(
            ids.len() == data.len() && data.len() == cache.len(),
            "one id, one definition and one cache slot per prompt"
        );
        Registry {
            ids,
            data,
            cache,
            all: OnceLock::new(),
            by_id: OnceLock::new(),
        }
    }

    /// The number of compiled-in prompts.
    pub fn count(&self) -> usize {
        self.ids.len()
    }

    /// The compiled-in ids, sorted.
    pub fn ids(&self) -> &'static [&'static str] {
        self.ids
    }

    /// The `index`-th prompt (in id order), decoded on first use.
    ///
    /// # Panics
    /// If `index` is out of range, or the definition does not decode (a prompts crate built
    /// by a `promptops-build` of another release than this runtime); generated code never
    /// gets either wrong, and [`try_def`](Self::try_def) reports the second as an error.
    pub fn def(&self, index: usize) -> &'static PromptDef {
        match self.try_def(index) {
            Ok(def) => def,
            Err(error) => panic!("compiled-in prompt `{}`: {error}", self.ids[index]),
        }
    }

    /// The `index`-th prompt, decoded on first use, or why it does not decode.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn try_def(&self, index: usize) -> Result<&'static PromptDef, DecodeError> {
        let cell: &'static DefCell = &self.cache[index];
        if let Some(def) = cell.0.get() {
            return Ok(def);
        }
        let def = wire::from_json(self.data[index])?;
        // Another thread may have decoded it meanwhile; either copy is the same value.
        Ok(cell.0.get_or_init(|| def))
    }

    /// The position of `id` in id order, if it is compiled in. The first call builds a hash
    /// map of the ids (no definition is decoded); a lookup then costs one hash, about a tenth
    /// of a binary search over 1,000 ids (BENCHMARKS.md, "Runtime hot paths").
    pub fn position(&self, id: &str) -> Option<usize> {
        let by_id = self.by_id.get_or_init(|| {
            self.ids
                .iter()
                .enumerate()
                .map(|(index, id)| (*id, index))
                .collect()
        });
        by_id.get(id).copied()
    }

    /// The compiled-in prompt with this dotted id, if any.
    ///
    /// # Panics
    /// As [`def`](Self::def), if the definition does not decode.
    pub fn get(&self, id: &str) -> Option<&'static PromptDef> {
        self.position(id).map(|index| self.def(index))
    }

    /// Every compiled-in prompt, decoded, in id order.
    pub fn defs(&self) -> &[&'static PromptDef] {
        self.all
            .get_or_init(|| (0..self.data.len()).map(|index| self.def(index)).collect())
    }
}

impl std::ops::Deref for Registry {
    type Target = [&'static PromptDef];

    fn deref(&self) -> &Self::Target {
        self.defs()
    }
}

impl<'a> IntoIterator for &'a Registry {
    type Item = &'a &'static PromptDef;
    type IntoIter = std::slice::Iter<'a, &'static PromptDef>;

    fn into_iter(self) -> Self::IntoIter {
        self.defs().iter()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("prompts", &self.data.len())
            .finish()
    }
}

/// Finds a prompt by id in a table sorted by id (as `&prompts::ALL[..]` is).
pub fn lookup(table: &[&'static PromptDef], id: &str) -> Option<&'static PromptDef> {
    table
        .binary_search_by(|def| def.id.as_str().cmp(id))
        .ok()
        .map(|index| table[index])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::Version;
    use crate::def::{Status, VarDef, VarType};

    fn def(id: &str, template: &str) -> PromptDef {
        PromptDef::new(id, Version::new(1), "o", "m", template)
    }

    fn json(def: &PromptDef) -> &'static str {
        Box::leak(wire::to_json(def).into_boxed_str())
    }

    fn leak<T>(items: Vec<T>) -> &'static [T] {
        Box::leak(items.into_boxed_slice())
    }

    fn registry(defs: &[PromptDef]) -> &'static Registry {
        let ids = leak(
            defs.iter()
                .map(|d| &*Box::leak(d.id.clone().into_boxed_str()))
                .collect(),
        );
        let data = leak(defs.iter().map(json).collect());
        let cache = leak(defs.iter().map(|_| DefCell::EMPTY).collect());
        Box::leak(Box::new(Registry::new(ids, data, cache)))
    }

    #[test]
    fn decodes_once_and_looks_up_by_id() {
        let mut classifier = def("support.classifier", "Hi {{ name }}");
        classifier.variables = vec![VarDef::required("name", VarType::String)];
        classifier.labels = vec!["yes".into(), "no".into()];
        classifier.refresh_contract_hash();
        let mut draft = def("z", "t");
        draft.status = Status::Draft;
        let registry = registry(&[classifier.clone(), draft]);

        let last = registry.def(1);
        assert_eq!(last.id, "z");
        assert_eq!(last.status, Status::Draft);
        assert!(
            std::ptr::eq(last, registry.def(1)),
            "decoded once, then cached"
        );
        assert!(std::ptr::eq(registry.get("z").expect("known"), last));
        assert_eq!(registry.get("support.classifier"), Some(&classifier));
        assert!(registry.get("nope").is_none());
        assert_eq!(registry.position("z"), Some(1));
        let ids: Vec<&str> = registry.iter().map(|def| def.id.as_str()).collect();
        assert_eq!(registry.len(), 2);
        assert_eq!(registry.count(), 2);
        assert_eq!(registry.into_iter().count(), 2);
        assert_eq!(ids, ["support.classifier", "z"]);
        assert_eq!(registry.ids(), ["support.classifier", "z"]);
        assert_eq!(format!("{registry:?}"), "Registry { prompts: 2 }");
        assert_eq!(lookup(registry, "z").map(|d| d.id.as_str()), Some("z"));
        assert!(lookup(registry, "a").is_none());
    }

    #[test]
    fn a_definition_from_another_format_is_a_clear_error() {
        static IDS: [&str; 1] = ["a"];
        static DATA: [&str; 1] = [r#"{"format":0,"prompt_id":"a"}"#];
        static CACHE: [DefCell; 1] = [DefCell::EMPTY; 1];
        static ALL: Registry = Registry::new(&IDS, &DATA, &CACHE);
        let err = ALL.try_def(0).unwrap_err();
        assert!(err.to_string().contains("format 0"), "{err}");
        let panic = std::panic::catch_unwind(|| ALL.def(0)).unwrap_err();
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.starts_with("compiled-in prompt `a`: prompt definition is in format 0"),
            "{message}"
        );
    }
}
