//! The promptops prompt registry: a versioned lifecycle for prompts over HTTP.
//!
//! Push a draft, resolve by mode, list versions, diff, promote atomically, roll back, read the
//! audit trail. The record it stores and serves is `promptops_core::PromptDef` in its wire
//! form; pushes are validated by the same rules and diagnostics as `cargo build`.
//!
//! * [`Registry`]: the lifecycle rules over a [`Store`];
//! * [`store::sqlite::SqliteStore`]: the embedded default (one SQLite file);
//! * `store::dynamo::DynamoStore` (feature `aws`, on by default): DynamoDB + S3 at scale;
//! * [`http::router`]: the HTTP contract (see the crate's README) as one axum router, served by
//!   `promptops registry serve` and by the `promptops-registry-lambda` Function URL handler,
//!   with the contract's [`Limits`] (deadlines, body and query bounds, CPU-heavy work on a
//!   bounded [`cpu::CpuPool`]);
//! * [`server::serve`]: the hardened HTTP/1 server under `promptops registry serve` (header
//!   and idle timeouts, a connection cap with a clear refusal);
//! * [`auth`]: bearer tokens (stored hashed) with reader, author and releaser roles, or IAM on
//!   Lambda.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod cpu;
pub mod error;
pub mod http;
pub mod ids;
pub mod lambda;
pub mod limits;
pub mod push;
pub mod registry;
pub mod server;
pub mod store;

pub use auth::{Auth, Caller, Role, Tokens};
pub use error::{PushDiagnostic, RegistryError};
pub use ids::{check_id, Mode, PromptRef};
pub use limits::Limits;
/// The wire contract this registry serves (request and response bodies, routes, codes).
pub use promptops_registry_api as api;
pub use registry::{Registry, Resolved};
pub use server::ServerLimits;
pub use store::{Store, StoreError};
