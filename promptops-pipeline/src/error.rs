//! Failures as values: which stage failed and why.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The pipeline stage a failure belongs to; it is the `stage` of the errors object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reading the input: its key, environment, size or JSON.
    Parse,
    /// Checking variables and rendering the template.
    Render,
    /// Calling the model.
    Invoke,
    /// Writing the output.
    Publish,
}

impl Stage {
    /// The stage's name as written in errors objects and Step Functions inputs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Render => "render",
            Stage::Invoke => "invoke",
            Stage::Publish => "publish",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure in one stage, with a message fit for the errors object (never a secret: sensitive
/// variables are redacted before a message is built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct StageError {
    /// Where it failed.
    pub stage: Stage,
    /// What went wrong.
    pub message: String,
    /// Whether trying again may succeed (throttling, a timeout, a storage hiccup); Step
    /// Functions retries only these.
    pub transient: bool,
}

impl StageError {
    /// A permanent failure in `stage`.
    pub fn new(stage: Stage, message: impl Into<String>) -> Self {
        StageError {
            stage,
            message: message.into(),
            transient: false,
        }
    }

    /// A failure in `stage` that may pass on a retry.
    pub fn transient(stage: Stage, message: impl Into<String>) -> Self {
        StageError {
            transient: true,
            ..StageError::new(stage, message)
        }
    }
}

/// An error and its sources as one line: the pipeline flattens an error into text (an errors
/// object, a log line, a function error) only through this, which is the workspace's one
/// chain walker.
pub use promptops_core::error::chain as error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading {0:?}")]
    struct Outer(&'static str, #[source] std::io::Error);

    #[test]
    fn a_chain_reads_outermost_first_and_repeats_nothing() {
        let err = Outer("k", std::io::Error::other("disk on fire"));
        assert_eq!(error_chain(&err), "reading \"k\": disk on fire");
        let plain = std::io::Error::other("alone");
        assert_eq!(error_chain(&plain), "alone");
    }
}
