//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The bundled 200-message sample.
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/support_messages.jsonl")
}

/// A fresh, empty directory for one test under cargo's per-target temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("promptops-batch")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The JSON objects of a JSON Lines file (panics on a bad line: outputs must be clean).
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("{}: {line:?}: {err}", path.display()))
        })
        .collect()
}

/// The `id` fields of a results file, with how often each occurs.
pub fn id_counts(path: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for value in read_jsonl(path) {
        let id = value["id"]
            .as_str()
            .expect("results have string ids")
            .to_owned();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Ids of a results file, asserting there are no duplicates.
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

/// Ids of the sample (or any input whose lines all have string ids).
pub fn input_ids(path: &Path) -> BTreeSet<String> {
    read_jsonl(path)
        .into_iter()
        .map(|value| value["id"].as_str().expect("string id").to_owned())
        .collect()
}

/// Writes `count` valid classifier records `r-00000`.. with a few keyword messages.
pub fn write_records(path: &Path, count: usize) {
    let messages = [
        "I was charged twice, please refund",
        "The app crashes with an error",
        "What does the enterprise plan cost?",
        "Please cancel my subscription",
        "Do you have an office in Oslo?",
    ];
    let mut text = String::new();
    for index in 0..count {
        let line = serde_json::json!({
            "id": format!("r-{index:05}"),
            "message": messages[index % messages.len()],
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).expect("write input");
}
