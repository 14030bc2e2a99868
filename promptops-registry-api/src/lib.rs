//! The promptops registry's HTTP contract as code.
//!
//! The registry server (`promptops-registry`), the runtime's HTTP tier (`promptops-runtime`'s
//! `resolve::http`) and the CLI (`promptops registry …`) all speak the contract through this
//! crate, so a field renamed on one end fails to compile on the other instead of printing an
//! empty column:
//!
//! * every request and response body, as serde types that both serialize and deserialize
//!   ([`PushRequest`], [`PushOutcome`], [`ResolvedPrompt`], [`VersionsPage`], [`Diff`],
//!   [`PromoteRequest`], [`RollbackRequest`], [`MoveOutcome`], [`History`]), and the error body
//!   with its stable `code` word ([`ErrorBody`], [`ErrorCode`]);
//! * [`Mode`], the environment a caller resolves for;
//! * the route paths ([`routes`]);
//! * the one rule for how a client authenticates ([`AuthMode::choose`]), and the one parser of
//!   Lambda Function URLs ([`function_url_region`]);
//! * with the `client` feature, [`client::Client`]: every route, bearer / SigV4 (feature
//!   `sigv4`) / no auth, `ETag` revalidation, timeouts, and errors that separate a refusal, an
//!   unavailable registry and an answer that is not the contract's.
//!
//! The contract in prose, with each route's role and statuses, is promptops-registry's README.

mod auth;
mod bodies;
#[cfg(feature = "client")]
pub mod client;
mod error;
mod mode;
pub mod routes;

pub use auth::{function_url_region, AuthMode, UnknownAuthMode};
pub use bodies::{
    Action, Diff, History, HistoryEvent, MoveOutcome, PromoteRequest, PushOutcome, PushRequest,
    ResolvedPrompt, RollbackRequest, VersionMeta, VersionsPage,
};
pub use error::{ErrorAnswer, ErrorBody, ErrorCode, PushDiagnostic};
pub use mode::{Mode, UnknownMode};
/// The version and status types the bodies use, so a client needs no other promptops crate.
pub use promptops_core::{Status, Version};
