//! Prompt specs written the way `promptops-build` generates them, for the runtime's tests.

pub mod intent_classifier;
pub mod support_reply;
