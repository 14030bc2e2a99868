//! The beta → prod rendering pipeline (seed 000): a prompt config JSON lands under
//! `prompt_inputs/` in the environment's bucket, and the pipeline renders it, calls the model and
//! publishes `<env>/outputs/<slug>.<html|md>`.
//!
//! The stages are plain functions over plain values, so unit tests reach every rule:
//! - [`config`]: parse a config (size limit, known fields, `output_format`);
//! - [`env`](mod@env): URL-decode the key, resolve the environment (metadata → prefix → default);
//! - [`slug`]: the output slug, sanitised to `[a-z0-9_-]`;
//! - [`render`]: check the variables against the prompt's contract and render (compiled-in
//!   prompt, or a template from `prompt_templates/` compiled with strict undefined);
//! - [`template`]: read an S3 template (the one rule for a run, a preview and a check);
//! - [`publish`]: the output document (HTML with model output as text, or Markdown) and its
//!   metadata.
//!
//! [`Pipeline`] runs them over a [`Bucket`] (S3 or a local directory) and records failures as
//! `<env>/errors/<slug>.json`; [`lambda`] and [`api`] are the Lambda and HTTP entry points.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod bucket;
pub mod config;
pub mod env;
pub mod error;
pub mod lambda;
pub mod pipeline;
pub mod publish;
pub mod render;
pub mod slug;
pub mod template;

pub use bucket::{Bucket, DirBucket, S3Bucket};
pub use config::{OutputFormat, PromptConfig};
pub use env::Env;
pub use error::{Stage, StageError};
pub use pipeline::{Outcome, Pipeline, PipelineSettings, Summary};
