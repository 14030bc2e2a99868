//! The trybuild compile-fail suite lives in `tests/ui.rs`; this crate has no code of its own.
