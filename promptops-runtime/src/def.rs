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

impl DefRef {
    /// The definition's template or system template as a cacheable source: borrowed for a
    /// static definition, copied for a shared one (the cache must not keep it alive).
    pub(crate) fn source(&self, system: bool) -> Option<std::borrow::Cow<'static, str>> {
        match self {
            DefRef::Static(def) => if system {
                def.system.as_deref()
            } else {
                Some(def.template.as_str())
            }
            .map(std::borrow::Cow::Borrowed),
            DefRef::Shared(def) => if system {
                def.system.as_deref()
            } else {
                Some(def.template.as_str())
            }
            .map(|text| std::borrow::Cow::Owned(text.to_owned())),
        }
    }
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
