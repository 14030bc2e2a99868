//! The description of one prompt: the shared model from `promptops-core`.
//!
//! A generated crate embeds each definition in the core crate's JSON form
//! ([`promptops_core::wire`]); its [`Registry`](crate::Registry) decodes a prompt on first use
//! and keeps it for the life of the process, which is what gives handles their
//! `&'static PromptDef`.

pub use promptops_core::{Inference, Metrics, PromptDef, Status, Value, VarDef, VarType, Version};

use std::ops::Deref;
use std::sync::Arc;

/// A prompt definition a call renders and reports: one compiled into the binary (or kept for
/// the life of the process), or one loaded at run time and shared, which is dropped when the
/// last call and cache holding it let go. The rendering pipeline's S3 templates are shared, so
/// a bounded cache can evict them; everything else is static.
#[derive(Debug, Clone)]
pub enum DefRef {
    /// A definition that lives for the life of the process.
    Static(&'static PromptDef),
    /// A definition loaded at run time.
    Shared(Arc<PromptDef>),
}

impl Deref for DefRef {
    type Target = PromptDef;

    fn deref(&self) -> &PromptDef {
        match self {
            DefRef::Static(def) => def,
            DefRef::Shared(def) => def,
        }
    }
}

impl From<&'static PromptDef> for DefRef {
    fn from(def: &'static PromptDef) -> Self {
        DefRef::Static(def)
    }
}

impl From<Arc<PromptDef>> for DefRef {
    fn from(def: Arc<PromptDef>) -> Self {
        DefRef::Shared(def)
    }
}

/// Two handles are equal when their definitions are, wherever they live.
impl PartialEq for DefRef {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
