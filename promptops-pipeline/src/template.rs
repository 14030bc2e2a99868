//! Reading an S3 template: the one function that turns what the bucket returned for
//! `prompt_templates/<name>` into template text, shared by a run ([`Pipeline::prepare`]), the
//! HTTP preview ([`api`](crate::api)) and `promptops pipeline check`, so a preview or a check
//! never accepts a template that a run refuses (or the reverse).
//!
//! [`Pipeline::prepare`]: crate::Pipeline::prepare

use std::string::FromUtf8Error;

use crate::bucket::{Bucket, BucketError, Object};
use crate::env::TEMPLATE_PREFIX;
use crate::error::{Stage, StageError};
use crate::pipeline::MAX_TEMPLATE_BYTES;

/// Why a template could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Nothing is stored where the template should be.
    #[error("missing template: no {location}")]
    Missing {
        /// Where it was looked for (a bucket key or a local path).
        location: String,
    },
    /// The template's bytes are not UTF-8. Refused, never decoded lossily: a replacement
    /// character would render a different prompt than the author wrote.
    #[error("template {name} is not UTF-8 (the first invalid byte is at offset {offset})")]
    NotUtf8 {
        /// The template's file name.
        name: String,
        /// Where the first invalid sequence starts.
        offset: usize,
        /// The decoding error.
        #[source]
        source: FromUtf8Error,
    },
    /// The bucket refused the object (too large, a symlink, not a regular file, a bad key) or
    /// failed to read it.
    #[error("template {name}")]
    Read {
        /// The template's file name.
        name: String,
        /// What the bucket said.
        #[source]
        source: BucketError,
    },
}

impl TemplateError {
    /// Whether a retry may pass: only when the store itself failed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TemplateError::Read {
                source: BucketError::Storage { .. },
                ..
            }
        )
    }

    /// The render-stage failure this is, its message the whole chain.
    pub fn to_stage_error(&self) -> StageError {
        let message = crate::error::error_chain(self);
        if self.is_transient() {
            StageError::transient(Stage::Render, message)
        } else {
            StageError::new(Stage::Render, message)
        }
    }
}

/// The bucket key of the template `name`: `prompt_templates/<name>`.
pub fn template_key(name: &str) -> String {
    format!("{TEMPLATE_PREFIX}{name}")
}

/// The text of template `name` from what reading it returned (`location` says where it was
/// looked for, in the missing-template message). The one rule every reader of templates
/// applies: a missing object, a refused one and non-UTF-8 bytes are errors.
pub fn template_text(
    name: &str,
    location: &str,
    read: Result<Object, BucketError>,
) -> Result<String, TemplateError> {
    let object = read.map_err(|source| match source {
        BucketError::NotFound(_) => TemplateError::Missing {
            location: location.to_owned(),
        },
        source => TemplateError::Read {
            name: name.to_owned(),
            source,
        },
    })?;
    String::from_utf8(object.body).map_err(|source| TemplateError::NotUtf8 {
        name: name.to_owned(),
        offset: source.utf8_error().valid_up_to(),
        source,
    })
}

/// Reads template `name` from `prompt_templates/` in `bucket`, at most
/// [`MAX_TEMPLATE_BYTES`] (a larger one is refused unread).
pub async fn load_template(bucket: &Bucket, name: &str) -> Result<String, TemplateError> {
    let key = template_key(name);
    let read = bucket.get(&key, MAX_TEMPLATE_BYTES).await;
    template_text(name, &format!("{key} in the bucket"), read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(body: &[u8]) -> Result<Object, BucketError> {
        Ok(Object {
            body: body.to_vec(),
            metadata: Default::default(),
        })
    }

    #[test]
    fn utf8_text_is_the_template_and_anything_else_is_refused() {
        assert_eq!(
            template_text("a.txt", "k", object("Hé {{ x }}".as_bytes())).unwrap(),
            "Hé {{ x }}"
        );
        let err = template_text("a.txt", "k", object(b"ok \xff\xfe")).unwrap_err();
        assert!(
            matches!(err, TemplateError::NotUtf8 { offset: 3, .. }),
            "{err:?}"
        );
        assert_eq!(err.to_stage_error().stage, Stage::Render);
        assert!(!err.to_stage_error().transient);
        let missing = template_text(
            "a.txt",
            "prompt_templates/a.txt in the bucket",
            Err(BucketError::NotFound("prompt_templates/a.txt".into())),
        )
        .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "missing template: no prompt_templates/a.txt in the bucket"
        );
        let failed = template_text(
            "a.txt",
            "k",
            Err(BucketError::storage(
                "GetObject \"prompt_templates/a.txt\"",
                std::io::Error::other("connection reset"),
            )),
        )
        .unwrap_err();
        let stage = failed.to_stage_error();
        assert!(stage.transient);
        assert_eq!(
            stage.message,
            "template a.txt: GetObject \"prompt_templates/a.txt\": connection reset"
        );
    }
}
