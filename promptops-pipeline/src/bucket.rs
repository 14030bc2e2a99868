//! Where inputs, templates and outputs live: an S3 bucket, or a local directory standing in for
//! one (the embedded default).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    /// The store failed (network, permissions, disk); may pass on a retry.
    #[error("{0}")]
    Storage(String),
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
            Bucket::Dir(dir) => dir.get(key, limit).await,
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
            Bucket::Dir(dir) => dir.put(key, body, metadata).await,
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
            Bucket::Dir(dir) => dir.list(prefix, token, max).await,
            Bucket::S3(s3) => s3.list(prefix, token, max).await,
        }
    }

    /// The bucket's name (the directory's path, locally).
    pub fn name(&self) -> String {
        match self {
            Bucket::Dir(dir) => dir.root.display().to_string(),
            Bucket::S3(s3) => s3.bucket.clone(),
        }
    }
}

/// A directory as a bucket: key `a/b.json` is the file `ROOT/a/b.json`; an object's metadata
/// is the sidecar `ROOT/a/b.json.meta.json` (a JSON object of strings).
#[derive(Debug, Clone)]
pub struct DirBucket {
    root: PathBuf,
}

impl DirBucket {
    /// The bucket rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirBucket { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, BucketError> {
        let bad = key.is_empty()
            || key.starts_with('/')
            || key.contains('\\')
            || key
                .split('/')
                .any(|segment| segment.is_empty() || segment == "." || segment == "..");
        if bad {
            return Err(BucketError::BadKey(key.to_owned()));
        }
        Ok(self.root.join(key))
    }

    // Each operation is one blocking task doing plain `std::fs` calls: a tokio::fs call per
    // syscall hands off to the blocking pool every time, and at concurrency 64 that hand-off
    // (futex wake-ups) cost more than the file system itself.
    async fn get(&self, key: &str, limit: usize) -> Result<Object, BucketError> {
        let path = self.path(key)?;
        let key = key.to_owned();
        blocking(move || get_file(&path, &key, limit)).await
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), BucketError> {
        let path = self.path(key)?;
        let meta = serde_json::to_vec_pretty(metadata)
            .map_err(|err| BucketError::Storage(err.to_string()))?;
        blocking(move || {
            let mut sidecar = path.clone().into_os_string();
            sidecar.push(META_SUFFIX);
            // The sidecar first, so an output that exists always has its metadata.
            write_atomically(Path::new(&sidecar), &meta)?;
            write_atomically(&path, &body)
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page, BucketError> {
        // Prefixes here are directories (`prompt_inputs/`, `beta/outputs/`).
        let dir = self.root.join(prefix.trim_end_matches('/'));
        let prefix = prefix.to_owned();
        let token = token.map(str::to_owned);
        blocking(move || list_dir(&dir, &prefix, token.as_deref(), max)).await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BucketError> + Send + 'static,
) -> Result<T, BucketError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| BucketError::Storage(format!("file task failed: {err}")))?
}

fn get_file(path: &Path, key: &str, limit: usize) -> Result<Object, BucketError> {
    let size = match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => return Err(BucketError::NotFound(key.to_owned())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(BucketError::NotFound(key.to_owned()))
        }
        Err(err) => return Err(BucketError::Storage(format!("{}: {err}", path.display()))),
    };
    if size > limit as u64 {
        return Err(BucketError::TooLarge {
            key: key.to_owned(),
            size,
            limit,
        });
    }
    let body = std::fs::read(path)
        .map_err(|err| BucketError::Storage(format!("{}: {err}", path.display())))?;
    let mut sidecar = path.to_path_buf().into_os_string();
    sidecar.push(META_SUFFIX);
    let metadata = match std::fs::read(&sidecar) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
            BucketError::Storage(format!(
                "{}: not a JSON object of strings: {err}",
                PathBuf::from(&sidecar).display()
            ))
        })?,
        Err(_) => BTreeMap::new(),
    };
    Ok(Object { body, metadata })
}

fn list_dir(
    dir: &Path,
    prefix: &str,
    token: Option<&str>,
    max: usize,
) -> Result<Page, BucketError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Page::default()),
        Err(err) => return Err(BucketError::Storage(format!("{}: {err}", dir.display()))),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|err| BucketError::Storage(format!("{}: {err}", dir.display())))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || name.ends_with(META_SUFFIX) || name.starts_with('.') {
            continue;
        }
        keys.push(Listed {
            key: format!("{prefix}{name}"),
            size: meta.len(),
        });
    }
    keys.sort_by(|a, b| a.key.cmp(&b.key));
    let start = token.map_or(0, |token| {
        keys.partition_point(|listed| listed.key.as_str() <= token)
    });
    let objects: Vec<Listed> = keys.into_iter().skip(start).take(max + 1).collect();
    Ok(page(objects, max))
}

fn page(mut objects: Vec<Listed>, max: usize) -> Page {
    let next = if objects.len() > max {
        objects.truncate(max);
        objects.last().map(|listed| listed.key.clone())
    } else {
        None
    };
    Page { objects, next }
}

/// Writes to a temporary file beside `path`, then renames it over `path`: a reader sees the
/// whole file or none of it.
fn write_atomically(path: &Path, body: &[u8]) -> Result<(), BucketError> {
    let storage = |err: std::io::Error| BucketError::Storage(format!("{}: {err}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(storage)?;
    }
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temp, body).map_err(storage)?;
    std::fs::rename(&temp, path).map_err(|err| {
        let _ = std::fs::remove_file(&temp);
        storage(err)
    })
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
        let path_style = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let conf = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(path_style)
            .build();
        S3Bucket::new(aws_sdk_s3::Client::from_conf(conf), bucket)
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
                    BucketError::Storage(format!(
                        "GetObject {key:?}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&err)
                    ))
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
            .map_err(|err| BucketError::Storage(format!("reading {key:?}: {err}")))?
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
        request.send().await.map(|_| ()).map_err(|err| {
            BucketError::Storage(format!(
                "PutObject {key:?}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&err)
            ))
        })
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
            .map_err(|err| {
                BucketError::Storage(format!(
                    "ListObjectsV2 {prefix:?}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&err)
                ))
            })?;
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
