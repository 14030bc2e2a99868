//! The compiled prompt registry.
//!
//! Every YAML file under this crate's directory (see `customer_support/`) is validated by
//! `build.rs` at compile time and turned into typed Rust: call
//! [`customer_support::intent_classifier()`] for a typed handle, or look prompts up by id with
//! [`get`] and [`ALL`]. A prompt file with a problem fails `cargo build` with a diagnostic that
//! points at the file, line and column.
#![warn(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/prompts.rs"));

/// The directory these prompts were compiled from. `promptops eval` reads the eval suites that
/// sit next to the prompts from here, and refuses to score a prompt whose file changed since.
pub const SOURCE_DIR: &str = env!("CARGO_MANIFEST_DIR");
