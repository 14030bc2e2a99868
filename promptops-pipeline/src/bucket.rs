//! Where inputs, templates and outputs live: an S3 bucket, or a local directory standing in for
//! one (the embedded default, [`DirBucket`]: no symlinks followed, crash-safe writes; see
//! [`dir`]).

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;

pub mod dir;

pub use dir::DirBucket;

/// Suffix of the local sidecar file that holds an object's metadata.
pub const META_SUFFIX: &str = ".meta.json";

/// One object read from the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its bytes.
    pub body: Vec<u8>,
    /// Its user metadata (lowercase keys).
    pub metadata: BTreeMap<String, String>,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Listed {
    /// The key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The objects, in key order.
    pub objects: Vec<Listed>,
    /// Pass as `token` for the next page; `None` on the last one.
    pub next: Option<String>,
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// No object under the key.
    #[error("no object {0:?}")]
    NotFound(String),
    /// The object is larger than the caller accepts; it was not read.
    #[error("object {key:?} is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// The key.
        key: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// A key that cannot name an object (an empty or `..` segment, a leading `/`).
    #[error("invalid key {0:?}")]
    BadKey(String),
    /// The local bucket refused the object: a symbolic link on its path, or not a regular
    /// file. Permanent.
    #[error("refused {key:?}: {reason}")]
    Refused {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The store failed (network, permissions, disk); may pass on a retry. `context` names
    /// the operation and the key (`GetObject "prompt_inputs/a.json"`); the underlying error,
    /// when there is one, is the source (print with [`error_chain`](crate::error::error_chain)).
    #[error("{context}")]
    Storage {
        /// The operation, bucket or key that failed.
        context: String,
        /// What failed underneath (the SDK's error, an I/O error); `None` when the failure is
        /// born here.
        #[source]
        source: Option<BoxError>,
    },
}

/// Any underlying error, kept as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl BucketError {
    /// A storage failure of `context` caused by `source`.
    pub fn storage(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BucketError::Storage {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// A storage failure found here, with no underlying error.
    pub fn storage_failure(context: impl Into<String>) -> Self {
        BucketError::Storage {
            context: context.into(),
            source: None,
        }
    }
}

/// A bucket: S3, or a local directory.
#[derive(Debug, Clone)]
pub enum Bucket {
    /// A local directory.
    Dir(DirBucket),
    /// An S3 bucket.
    S3(S3Bucket),
}

impl Bucket {
    /// Reads `key`, refusing objects larger than `limit` bytes without reading them.
    pub async fn get(&self, key: &str, limit: usize) -> Result<Object, BucketError> {
        match self {
            Bucket::Dir(dir) => {
                let (dir, key) = (dir.clone(), key.to_owned());
                // One blocking task per operation: a tokio::fs call per syscall hands off to
                // the blocking pool every time, and at concurrency 64 that hand-off cost more
                // than the file system itself.
                blocking(move || dir.read(&key, limit)).await
            }
            Bucket::S3(s3) => s3.get(key, limit).await,
        }
    }

    /// Writes `key` whole: readers see the old object or the new one, never a part.
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), BucketError> {
        match self {
            Bucket::Dir(dir) => {
                let (dir, key, metadata) = (dir.clone(), key.to_owned(), metadata.clone());
                blocking(move || dir.write(&key, &body, &metadata)).await
            }
            Bucket::S3(s3) => s3.put(key, body, content_type, metadata).await,
        }
    }

    /// Lists up to `max` objects under `prefix`, after the page `token` names.
    pub async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page, BucketError> {
        match self {
            Bucket::Dir(dir) => {
                let (dir, prefix) = (dir.clone(), prefix.to_owned());
                let token = token.map(str::to_owned);
                blocking(move || dir.list(&prefix, token.as_deref(), max)).await
            }
            Bucket::S3(s3) => s3.list(prefix, token, max).await,
        }
    }

    /// The bucket's name (the directory's path, locally).
    pub fn name(&self) -> String {
        match self {
            Bucket::Dir(dir) => dir.root().display().to_string(),
            Bucket::S3(s3) => s3.bucket.clone(),
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BucketError> + Send + 'static,
) -> Result<T, BucketError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| BucketError::storage("the file task failed", err))?
}

pub(crate) fn page(mut objects: Vec<Listed>, max: usize) -> Page {
    let next = if objects.len() > max {
        objects.truncate(max);
        objects.last().map(|listed| listed.key.clone())
    } else {
        None
    };
    Page { objects, next }
}

/// An S3 bucket through the AWS SDK (rustls + ring client).
#[derive(Debug, Clone)]
pub struct S3Bucket {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Bucket {
    /// The bucket `bucket` through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Bucket {
            client,
            bucket: bucket.into(),
        }
    }

    /// A client from the standard AWS configuration (region, credentials, `AWS_ENDPOINT_URL_S3`)
    /// on the rustls + ring HTTP client; path-style addressing when an endpoint is overridden
    /// (local S3 stand-ins such as moto).
    pub async fn from_env(bucket: impl Into<String>) -> Self {
        let config = promptops_aws::load().await;
        S3Bucket::new(promptops_aws::s3_client(&config), bucket)
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn get(&self, key: &str, limit: usize) -> Result<Object, BucketError> {
        let response = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| {
                let service = err.as_service_error();
                if service.is_some_and(|e| e.is_no_such_key()) {
                    BucketError::NotFound(key.to_owned())
                } else {
                    BucketError::storage(format!("GetObject {key:?}"), err)
                }
            })?;
        let size = u64::try_from(response.content_length().unwrap_or_default()).unwrap_or_default();
        if size > limit as u64 {
            // Dropping the response closes the stream unread.
            return Err(BucketError::TooLarge {
                key: key.to_owned(),
                size,
                limit,
            });
        }
        let metadata = response
            .metadata()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let body = response
            .body
            .collect()
            .await
            .map_err(|err| BucketError::storage(format!("reading {key:?}"), err))?
            .into_bytes()
            .to_vec();
        Ok(Object { body, metadata })
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), BucketError> {
        // PutObject is atomic: the object appears whole or not at all.
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        for (name, value) in metadata {
            request = request.metadata(name, value);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|err| BucketError::storage(format!("PutObject {key:?}"), err))
    }

    async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page, BucketError> {
        let response = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(i32::try_from(max).unwrap_or(i32::MAX))
            .set_continuation_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(|err| BucketError::storage(format!("ListObjectsV2 {prefix:?}"), err))?;
        let objects = response
            .contents()
            .iter()
            .filter_map(|object| {
                Some(Listed {
                    key: object.key()?.to_owned(),
                    size: u64::try_from(object.size().unwrap_or_default()).unwrap_or_default(),
                })
            })
            .collect();
        Ok(Page {
            objects,
            next: response.next_continuation_token().map(str::to_owned),
        })
    }
}
