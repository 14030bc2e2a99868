//! The bundled sample and scratch directories, for the tests that run the job on files
//! (`cli.rs`, `pipeline.rs`).

use std::path::{Path, PathBuf};

/// The bundled 200-message sample.
#[allow(dead_code)] // Each test binary compiles this module; `s3.rs` makes its own input.
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
