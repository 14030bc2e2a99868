//! The description of one prompt: the shared model from `promptops-core`.
//!
//! A generated crate embeds each definition in the core crate's JSON form
//! ([`promptops_core::wire`]); its [`Registry`](crate::Registry) decodes a prompt on first use
//! and keeps it for the life of the process, which is what gives handles their
//! `&'static PromptDef`.

pub use promptops_core::{Inference, Metrics, PromptDef, Status, Value, VarDef, VarType, Version};
