//! The promptops prompt model, shared by every part of promptops.
//!
//! One set of plain serde types describes a prompt wherever it lives:
//!
//! ```text
//! prompt file (YAML) ──promptops-build──► PromptDef ──wire::to_json──► generated crate / registry
//!                                                                           │
//!                     promptops-runtime ◄──wire::from_json── PromptDef ◄────┘
//! ```
//!
//! * [`PromptDef`] and its parts ([`VarDef`], [`Value`], [`Metrics`], [`Inference`],
//!   [`Status`], [`VarType`], [`Version`]): the model;
//! * [`wire`]: the one JSON writer and reader, with a format version;
//! * [`contract`]: a prompt's typed contract, its [hash](contract::contract_hash), and the rule
//!   for whether one prompt may [replace](contract::check_replacement) a compiled one;
//! * [`builtins`]: the template engine's own names, and the rule that infers a template's
//!   variables from the names it reads;
//! * [`hash`]: the SHA-256 every crate uses, and a prompt's content hash;
//! * [`error::chain`]: an error and its sources as one line, where it is printed;
//! * [`function_url`]: recognising a Lambda Function URL and its region;
//! * [`limits`]: the limits on a template's source that every compiler of templates checks
//!   first, so no template can overflow a stack;
//! * [`output_schema`]: the shape of a structured answer (a subset of JSON Schema), its one
//!   parser, and the check of an answer against it.
//!
//! The crate has no I/O and depends only on serde, serde_json and sha2, so the build script,
//! the runtime and the registry can all use it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod builtins;
pub mod contract;
pub mod error;
pub mod function_url;
pub mod hash;
pub mod limits;
mod model;
pub mod output_schema;
mod version;
pub mod wire;

pub use contract::{check_replacement, contract_hash, ContractDifference, Incompatible};
pub use limits::{Limit, LimitExceeded, TemplateLimits};
pub use model::{Inference, Metrics, PromptDef, Status, Value, VarDef, VarType};
pub use output_schema::{Schema, SchemaError, Violation};
pub use version::{Version, VersionError};
