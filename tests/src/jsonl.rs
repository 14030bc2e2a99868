//! Reading JSON Lines outputs (results, errors, events files) in tests, strictly: a line that
//! is not a JSON value fails the test, because outputs must be clean.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;

/// The JSON values of a JSON Lines file; none when the file does not exist. Panics on a line
/// that is not JSON, naming the file and the line.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("{}: {line:?}: {err}", path.display()))
        })
        .collect()
}

/// The string `id` fields of a JSON Lines file, with how often each occurs. Panics on a line
/// without one.
pub fn id_counts(path: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for value in read_jsonl(path) {
        let id = value["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: a line without a string id: {value}", path.display()))
            .to_owned();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// The ids of a JSON Lines file, asserting that none occurs twice.
pub fn unique_ids(path: &Path) -> BTreeSet<String> {
    let counts = id_counts(path);
    let duplicated: Vec<&String> = counts
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(
        duplicated.is_empty(),
        "duplicate ids in {}: {duplicated:?}",
        path.display()
    );
    counts.into_keys().collect()
}
