//! S3 as a place for a job's input and output, streaming both ways.
//!
//! * **Input** ([`S3Reader`]) is one `GetObject` read as a stream: the job holds one chunk at a
//!   time, never the object. A stream that breaks is reopened where it broke (a `Range` request
//!   with `If-Match` on the object's ETag, so a changed object fails rather than mixing two
//!   versions), at most [`MAX_RECONNECTS`] times.
//! * **Output** ([`StagedOutput`]) is written in *staged parts*: whole lines, uploaded as
//!   objects under `<key>.parts/` once [`DEFAULT_STAGE_BYTES`] have gathered (or
//!   [`STAGE_INTERVAL`] has passed with something waiting). A staged part is the checkpoint: a
//!   job killed at any moment has lost only lines that were never staged, and the rerun finds
//!   every staged line (its ids are skipped), so nothing is lost or doubled. When the job ends,
//!   the parts become the results object in one multipart upload: parts of at least 5 MiB are
//!   copied inside S3 (`UploadPartCopy`), smaller ones are joined in memory (at most 5 MiB at
//!   a time) and uploaded. The new object records, in its metadata, the last staged part it
//!   holds, so a job killed between completing the upload and deleting the staged parts is
//!   not counted twice either: the next run sees those parts are already in the object.
//!
//! A results object that exists when a job starts (a finished earlier run) is kept: it is the
//! first source of the next multipart upload, as a local results file is appended to.
//!
//! The job's threads are plain threads; they drive the SDK's async calls with
//! [`tokio::runtime::Handle::block_on`] ([`S3`]), never from an async worker.

use std::future::Future;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::Bytes;

use crate::location::S3Uri;

/// S3's smallest multipart part, except for the last.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// `UploadPartCopy`'s largest part.
pub const MAX_COPY_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// S3's most parts in one multipart upload.
pub const MAX_PARTS: usize = 10_000;
/// Bytes gathered before a staged part is uploaded.
pub const DEFAULT_STAGE_BYTES: usize = 8 * 1024 * 1024;
/// The range `--stage-bytes` accepts: a part smaller than a few lines only costs requests, one
/// larger than this costs memory (two buffers per output) for no gain.
pub const STAGE_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=(512 * 1024 * 1024);

/// Checks a `--stage-bytes` value against [`STAGE_BYTES_RANGE`].
pub fn check_stage_bytes(bytes: usize) -> Result<(), String> {
    if STAGE_BYTES_RANGE.contains(&bytes) {
        Ok(())
    } else {
        Err(format!(
            "--stage-bytes must be between {} and {} (bytes), not {bytes}",
            STAGE_BYTES_RANGE.start(),
            STAGE_BYTES_RANGE.end()
        ))
    }
}

/// Longest time a written line waits before it is staged, when the job is idle enough to
/// flush: it bounds the work a kill can lose when calls are slow.
pub const STAGE_INTERVAL: Duration = Duration::from_secs(30);
/// How many times in a row a broken input stream is reopened.
pub const MAX_RECONNECTS: u32 = 3;
/// A stream that delivers nothing for this long is taken as broken (and reopened).
pub const READ_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The metadata key (`x-amz-meta-…`) of a results object that records the last staged part it
/// holds.
pub const STAGED_THROUGH_METADATA: &str = "promptops-staged-through";
/// Staged parts after which the job assembles them into the results object while it runs.
pub const COMPACT_AFTER_PARTS: usize = 1000;
/// The most keys one `DeleteObjects` call takes.
const DELETE_BATCH: usize = 1000;

/// A failed S3 operation.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {uri}: {message}")]
pub struct S3Error {
    /// The operation (`GetObject`, `UploadPart`, …).
    pub operation: &'static str,
    /// The object (or prefix) it was about.
    pub uri: String,
    /// What S3 (or the connection) said, with the SDK's whole error chain.
    pub message: String,
}

impl S3Error {
    fn new(operation: &'static str, bucket: &str, key: &str, message: impl Into<String>) -> Self {
        S3Error {
            operation,
            uri: format!("s3://{bucket}/{key}"),
            message: message.into(),
        }
    }
}

impl From<S3Error> for io::Error {
    fn from(err: S3Error) -> Self {
        io::Error::other(err)
    }
}

/// An S3 client used from plain threads: each call runs on the job's tokio runtime through
/// its [`Handle`](tokio::runtime::Handle) and blocks the calling thread. Never call it from an
/// async task.
#[derive(Debug, Clone)]
pub struct S3 {
    client: aws_sdk_s3::Client,
    runtime: tokio::runtime::Handle,
}

/// An object's size and the metadata the job reads back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// The ETag, to pin reads and copies to this version of the object.
    pub etag: Option<String>,
    /// [`STAGED_THROUGH_METADATA`], if the object records it.
    pub staged_through: Option<u64>,
}

impl S3 {
    /// `client`, driven on `runtime`.
    pub fn new(client: aws_sdk_s3::Client, runtime: tokio::runtime::Handle) -> Self {
        S3 { client, runtime }
    }

    /// A client from the standard AWS configuration ([`promptops_aws::s3_client`]), driven on
    /// the current tokio runtime. Call it from async code.
    pub async fn from_env() -> Self {
        let config = promptops_aws::load().await;
        S3::new(
            promptops_aws::s3_client(&config),
            tokio::runtime::Handle::current(),
        )
    }

    /// `given`, or, when none was given and one of `locations` is an S3 object, a client from
    /// the standard AWS configuration ([`S3::from_env`]); `None` when nothing needs one.
    pub async fn for_locations<'a>(
        given: Option<S3>,
        mut locations: impl Iterator<Item = &'a crate::location::Location>,
    ) -> Option<S3> {
        match given {
            Some(s3) => Some(s3),
            None if locations.any(crate::location::Location::is_s3) => Some(S3::from_env().await),
            None => None,
        }
    }

    fn block<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The object's size, ETag and metadata; `None` when it does not exist.
    pub fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, S3Error> {
        let response = self.block(self.client.head_object().bucket(bucket).key(key).send());
        match response {
            Ok(head) => {
                // Unreadable bookkeeping is an error: taking it as 0 would count every staged
                // part the object already holds a second time.
                let staged_through = match head
                    .metadata()
                    .and_then(|meta| meta.get(STAGED_THROUGH_METADATA))
                {
                    None => None,
                    Some(value) => Some(value.parse().map_err(|_| {
                        S3Error::new(
                            "HeadObject",
                            bucket,
                            key,
                            format!("the metadata {STAGED_THROUGH_METADATA}={value:?} is not a part number"),
                        )
                    })?),
                };
                Ok(Some(ObjectInfo {
                    size: head
                        .content_length()
                        .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
                    etag: head.e_tag().map(str::to_owned),
                    staged_through,
                }))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(S3Error::new(
                "HeadObject",
                bucket,
                key,
                DisplayErrorContext(&err).to_string(),
            )),
        }
    }

    /// Whether `key` exists, by listing (one key at most): a job role may list only its output
    /// prefix (an `s3:prefix` condition), and without list permission on a missing key S3
    /// answers `HeadObject` with 403, not 404. `key` itself is the first key with its prefix.
    pub fn exists(&self, bucket: &str, key: &str) -> Result<bool, S3Error> {
        let page = self
            .block(
                self.client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(key)
                    .max_keys(1)
                    .send(),
            )
            .map_err(|err| {
                S3Error::new(
                    "ListObjectsV2",
                    bucket,
                    key,
                    DisplayErrorContext(&err).to_string(),
                )
            })?;
        Ok(page.contents().first().and_then(|object| object.key()) == Some(key))
    }

    /// Keys and sizes of the objects under `prefix`, in key order (every page).
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, S3Error> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .block(
                    self.client
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(prefix)
                        .set_continuation_token(token.take())
                        .send(),
                )
                .map_err(|err| {
                    S3Error::new(
                        "ListObjectsV2",
                        bucket,
                        prefix,
                        DisplayErrorContext(&err).to_string(),
                    )
                })?;
            objects.extend(page.contents().iter().filter_map(|object| {
                let size = object.size().map_or(0, |n| u64::try_from(n).unwrap_or(0));
                object.key().map(|key| (key.to_owned(), size))
            }));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        objects.sort();
        Ok(objects)
    }

    /// Writes `body` as the object `key`.
    pub fn put(&self, bucket: &str, key: &str, body: impl Into<Bytes>) -> Result<(), S3Error> {
        let body: Bytes = body.into();
        self.block(
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/x-ndjson")
                .body(ByteStream::from(body))
                .send(),
        )
        .map(|_| ())
        .map_err(|err| {
            S3Error::new(
                "PutObject",
                bucket,
                key,
                DisplayErrorContext(&err).to_string(),
            )
        })
    }

    /// Bytes `start..end` of the object `key`, which must still have ETag `etag` (if given).
    pub fn get_range(
        &self,
        bucket: &str,
        key: &str,
        (start, end): (u64, u64),
        etag: Option<&str>,
    ) -> Result<Vec<u8>, S3Error> {
        let fail = |message: String| S3Error::new("GetObject", bucket, key, message);
        if start >= end {
            return Ok(Vec::new());
        }
        let response = self
            .block(
                self.client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .range(format!("bytes={start}-{}", end - 1))
                    .set_if_match(etag.map(str::to_owned))
                    .send(),
            )
            .map_err(|err| fail(DisplayErrorContext(&err).to_string()))?;
        let bytes = self
            .block(response.body.collect())
            .map_err(|err| fail(err.to_string()))?
            .into_bytes();
        if bytes.len() as u64 != end - start {
            return Err(fail(format!(
                "asked for {} bytes, got {}",
                end - start,
                bytes.len()
            )));
        }
        Ok(bytes.to_vec())
    }

    /// Deletes `keys` (in batches of 1,000).
    pub fn delete(&self, bucket: &str, keys: &[String]) -> Result<(), S3Error> {
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| S3Error::new("DeleteObjects", bucket, &batch[0], err.to_string()))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|err| S3Error::new("DeleteObjects", bucket, &batch[0], err.to_string()))?;
            let response = self
                .block(
                    self.client
                        .delete_objects()
                        .bucket(bucket)
                        .delete(delete)
                        .send(),
                )
                .map_err(|err| {
                    S3Error::new(
                        "DeleteObjects",
                        bucket,
                        &batch[0],
                        DisplayErrorContext(&err).to_string(),
                    )
                })?;
            if let Some(failed) = response.errors().first() {
                return Err(S3Error::new(
                    "DeleteObjects",
                    bucket,
                    failed.key().unwrap_or_default(),
                    failed.message().unwrap_or("not deleted").to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Aborts every unfinished multipart upload of exactly `key` (left by a job killed while
    /// completing): they cost storage and are never finished.
    pub fn abort_uploads(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        let fail = |operation, err: String| S3Error::new(operation, bucket, key, err);
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .block(
                    self.client
                        .list_multipart_uploads()
                        .bucket(bucket)
                        .prefix(key)
                        .set_key_marker(markers.0.take())
                        .set_upload_id_marker(markers.1.take())
                        .send(),
                )
                .map_err(|err| {
                    fail(
                        "ListMultipartUploads",
                        DisplayErrorContext(&err).to_string(),
                    )
                })?;
            for upload in page.uploads() {
                if upload.key() != Some(key) {
                    continue;
                }
                if let Some(upload_id) = upload.upload_id() {
                    self.block(
                        self.client
                            .abort_multipart_upload()
                            .bucket(bucket)
                            .key(key)
                            .upload_id(upload_id)
                            .send(),
                    )
                    .map_err(|err| {
                        fail(
                            "AbortMultipartUpload",
                            DisplayErrorContext(&err).to_string(),
                        )
                    })?;
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(());
            }
            markers = (
                page.next_key_marker().map(str::to_owned),
                page.next_upload_id_marker().map(str::to_owned),
            );
            if markers.0.is_none() && markers.1.is_none() {
                return Ok(());
            }
        }
    }
}

/// A streaming reader of one S3 object (see the [module](self) docs).
pub struct S3Reader {
    s3: S3,
    uri: S3Uri,
    info: ObjectInfo,
    body: ByteStream,
    chunk: Bytes,
    offset: u64,
    reconnects: u32,
}

impl std::fmt::Debug for S3Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Reader")
            .field("uri", &self.uri)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl S3Reader {
    /// Opens `uri` for reading (blocking): fails now if it does not exist or cannot be read.
    pub fn open(s3: &S3, uri: &S3Uri) -> Result<Self, S3Error> {
        let (body, info) = Self::get(s3, uri, 0, None)?;
        Ok(S3Reader {
            s3: s3.clone(),
            uri: uri.clone(),
            info,
            body,
            chunk: Bytes::new(),
            offset: 0,
            reconnects: 0,
        })
    }

    /// The object's size in bytes.
    pub fn size(&self) -> u64 {
        self.info.size
    }

    fn get(
        s3: &S3,
        uri: &S3Uri,
        offset: u64,
        etag: Option<&str>,
    ) -> Result<(ByteStream, ObjectInfo), S3Error> {
        let response = s3
            .block(
                s3.client
                    .get_object()
                    .bucket(&uri.bucket)
                    .key(&uri.key)
                    .set_range((offset > 0).then(|| format!("bytes={offset}-")))
                    .set_if_match(etag.map(str::to_owned))
                    .send(),
            )
            .map_err(|err| {
                S3Error::new(
                    "GetObject",
                    &uri.bucket,
                    &uri.key,
                    DisplayErrorContext(&err).to_string(),
                )
            })?;
        // Without a length the end of the object cannot be told from a broken stream.
        let length = response
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                S3Error::new(
                    "GetObject",
                    &uri.bucket,
                    &uri.key,
                    "no Content-Length in the answer",
                )
            })?;
        let info = ObjectInfo {
            size: offset + length,
            etag: response.e_tag().map(str::to_owned),
            staged_through: None,
        };
        Ok((response.body, info))
    }
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.chunk.is_empty() {
                let n = buf.len().min(self.chunk.len());
                buf[..n].copy_from_slice(&self.chunk.split_to(n));
                self.offset += n as u64;
                return Ok(n);
            }
            if self.offset >= self.info.size {
                return Ok(0);
            }
            let next = self
                .s3
                // The timer is made inside the runtime: this thread has no runtime context.
                .block(async {
                    tokio::time::timeout(READ_STALL_TIMEOUT, self.body.try_next()).await
                })
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no data for {} s", READ_STALL_TIMEOUT.as_secs()),
                    )
                    .into())
                });
            match next {
                Ok(Some(bytes)) => {
                    // Progress: the reconnect budget is for breaks in a row, not per object.
                    self.reconnects = 0;
                    self.chunk = bytes;
                }
                Ok(None) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}: the stream ended at byte {} of {}",
                            self.uri, self.offset, self.info.size
                        ),
                    ))
                }
                Err(err) if self.reconnects < MAX_RECONNECTS => {
                    self.reconnects += 1;
                    tracing::warn!(
                        uri = %self.uri, offset = self.offset, error = %err,
                        "the input stream broke; reopening it where it broke"
                    );
                    let (body, _) =
                        Self::get(&self.s3, &self.uri, self.offset, self.info.etag.as_deref())?;
                    self.body = body;
                }
                Err(err) => {
                    return Err(io::Error::other(S3Error::new(
                        "GetObject",
                        &self.uri.bucket,
                        &self.uri.key,
                        format!(
                            "the stream broke at byte {} after {MAX_RECONNECTS} reconnects: {err}",
                            self.offset
                        ),
                    )))
                }
            }
        }
    }
}

/// One object that becomes part of the results object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its key (in the results object's bucket).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, when known, to pin copies to this version.
    pub etag: Option<String>,
}

/// A results (or errors) object being written through staged parts (see the [module](self)
/// docs). Lines written are staged whole; [`StagedOutput::complete`] (through
/// [`Sink::commit`](crate::output::Sink::commit)) turns everything into the object.
#[derive(Debug)]
pub struct StagedOutput {
    s3: S3,
    uri: S3Uri,
    /// The object as it was when the job started, kept as the first source.
    base: Option<Source>,
    /// Staged parts not yet in the object, in order, with their sequence numbers.
    staged: Vec<(u64, Source)>,
    next_seq: u64,
    buffer: Vec<u8>,
    stage_bytes: usize,
    last_stage: Instant,
    compact_after: usize,
}

/// The prefix of `key`'s staged parts.
pub fn staged_prefix(key: &str) -> String {
    format!("{key}.parts/")
}

fn staged_key(key: &str, seq: u64) -> String {
    format!("{}{seq:010}.jsonl", staged_prefix(key))
}

fn staged_seq(prefix: &str, key: &str) -> Option<u64> {
    key.strip_prefix(prefix)?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

impl StagedOutput {
    /// Starts `uri` over (blocking): deletes the object, its staged parts and any unfinished
    /// upload of it.
    pub fn create(s3: &S3, uri: &S3Uri, stage_bytes: usize) -> Result<Self, S3Error> {
        let prefix = staged_prefix(&uri.key);
        let mut doomed: Vec<String> = s3
            .list(&uri.bucket, &prefix)?
            .into_iter()
            .filter(|(key, _)| staged_seq(&prefix, key).is_some())
            .map(|(key, _)| key)
            .collect();
        if s3.exists(&uri.bucket, &uri.key)? {
            doomed.push(uri.key.clone());
        }
        s3.delete(&uri.bucket, &doomed)?;
        s3.abort_uploads(&uri.bucket, &uri.key)?;
        Ok(StagedOutput::new(s3, uri, None, Vec::new(), 1, stage_bytes))
    }

    /// Continues `uri` (blocking): the object (if any) and the staged parts it does not hold
    /// yet are the sources whose lines this run must not repeat ([`StagedOutput::sources`]).
    /// Staged parts the object already holds (a run killed after completing, before cleaning
    /// up) are deleted now.
    pub fn resume(s3: &S3, uri: &S3Uri, stage_bytes: usize) -> Result<Self, S3Error> {
        // Only an object that exists is asked for its metadata (see [`S3::exists`]).
        let head = match s3.exists(&uri.bucket, &uri.key)? {
            true => s3.head(&uri.bucket, &uri.key)?,
            false => None,
        };
        let through = head
            .as_ref()
            .and_then(|info| info.staged_through)
            .unwrap_or(0);
        let base = head.map(|info| Source {
            key: uri.key.clone(),
            size: info.size,
            etag: info.etag,
        });
        let prefix = staged_prefix(&uri.key);
        let mut staged = Vec::new();
        let mut included = Vec::new();
        let mut last = through;
        for (key, size) in s3.list(&uri.bucket, &prefix)? {
            let Some(seq) = staged_seq(&prefix, &key) else {
                continue;
            };
            last = last.max(seq);
            if seq <= through {
                included.push(key);
            } else {
                staged.push((
                    seq,
                    Source {
                        key,
                        size,
                        etag: None,
                    },
                ));
            }
        }
        s3.delete(&uri.bucket, &included)?;
        Ok(StagedOutput::new(
            s3,
            uri,
            base,
            staged,
            last + 1,
            stage_bytes,
        ))
    }

    fn new(
        s3: &S3,
        uri: &S3Uri,
        base: Option<Source>,
        staged: Vec<(u64, Source)>,
        next_seq: u64,
        stage_bytes: usize,
    ) -> Self {
        StagedOutput {
            s3: s3.clone(),
            uri: uri.clone(),
            base,
            staged,
            next_seq,
            buffer: Vec::new(),
            stage_bytes: stage_bytes.max(1),
            last_stage: Instant::now(),
            compact_after: COMPACT_AFTER_PARTS,
        }
    }

    /// Assembles the object every `parts` staged parts instead of every
    /// [`COMPACT_AFTER_PARTS`] (at least 1).
    pub fn with_compact_after(mut self, parts: usize) -> Self {
        self.compact_after = parts.max(1);
        self
    }

    /// The objects already written, in order: the existing object, then the staged parts.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        self.base
            .iter()
            .chain(self.staged.iter().map(|(_, source)| source))
    }

    /// Uploads the buffered whole lines as the next staged part. On failure the lines stay in
    /// the buffer; after [`COMPACT_AFTER_PARTS`] parts, they are assembled into the object.
    fn stage(&mut self) -> Result<(), S3Error> {
        let Some(end) = self.buffer.iter().rposition(|&b| b == b'\n').map(|i| i + 1) else {
            return Ok(());
        };
        let key = staged_key(&self.uri.key, self.next_seq);
        // The part leaves the buffer without a copy; a failed upload puts it back in front.
        let rest = self.buffer.split_off(end);
        let part = Bytes::from(std::mem::replace(&mut self.buffer, rest));
        if let Err(err) = self.s3.put(&self.uri.bucket, &key, part.clone()) {
            let mut restored = Vec::with_capacity(part.len() + self.buffer.len());
            restored.extend_from_slice(&part);
            restored.append(&mut self.buffer);
            self.buffer = restored;
            return Err(err);
        }
        self.staged.push((
            self.next_seq,
            Source {
                key,
                size: end as u64,
                etag: None,
            },
        ));
        self.next_seq += 1;
        self.last_stage = Instant::now();
        if self.staged.len() >= self.compact_after {
            self.assemble()?;
        }
        Ok(())
    }

    /// Stages what is left and makes the object out of every source (blocking); then deletes
    /// the staged parts.
    pub fn complete(mut self) -> Result<(), S3Error> {
        if !self.buffer.ends_with(b"\n") && !self.buffer.is_empty() {
            // Whole lines only: a writer that ends mid-line is finished with a newline.
            self.buffer.push(b'\n');
        }
        self.stage()?;
        self.assemble()?;
        if self.base.is_none() {
            // Nothing was ever written: an empty object, as a local run leaves an empty file.
            self.s3.put(&self.uri.bucket, &self.uri.key, Vec::new())?;
        }
        Ok(())
    }

    /// Makes the object out of the existing one and the staged parts (one multipart upload
    /// recording the last part it holds), deletes the parts, and continues with the new
    /// object as the base. Also done every [`COMPACT_AFTER_PARTS`] parts while the job runs,
    /// which keeps every upload far below S3's 10,000 parts however long the job.
    fn assemble(&mut self) -> Result<(), S3Error> {
        let (bucket, key) = (self.uri.bucket.clone(), self.uri.key.clone());
        self.s3.abort_uploads(&bucket, &key)?;
        let Some(&(through, _)) = self.staged.last() else {
            return Ok(());
        };
        let sources: Vec<Source> = self.sources().cloned().collect();
        let sizes: Vec<u64> = sources.iter().map(|source| source.size).collect();
        let plan = plan_parts(&sizes);
        if plan.len() > MAX_PARTS {
            return Err(S3Error::new(
                "CreateMultipartUpload",
                &bucket,
                &key,
                format!(
                    "the results need {} parts, more than S3's {MAX_PARTS}; stage larger parts",
                    plan.len()
                ),
            ));
        }
        let upload = Multipart::create(&self.s3, &bucket, &key, through)?;
        let uploaded = upload.upload_plan(&plan, &sources);
        let etag = match uploaded.and_then(|parts| upload.finish(parts)) {
            Ok(etag) => etag,
            Err(err) => {
                upload.abort();
                return Err(err);
            }
        };
        let staged_keys: Vec<String> = self
            .staged
            .iter()
            .map(|(_, source)| source.key.clone())
            .collect();
        self.s3.delete(&bucket, &staged_keys)?;
        self.base = Some(Source {
            key,
            size: sizes.iter().sum(),
            etag,
        });
        self.staged.clear();
        Ok(())
    }
}

impl Write for StagedOutput {
    /// Stages first when the buffer is full, then takes `buf`: an error therefore means
    /// nothing of `buf` was taken (the `Write` contract), and the staged lines stay buffered.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.len() >= self.stage_bytes {
            self.stage()?;
        }
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Stages the whole lines waiting if the last part is older than [`STAGE_INTERVAL`]:
    /// flushing on every idle moment would stage tiny parts.
    fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() && self.last_stage.elapsed() >= STAGE_INTERVAL {
            self.stage()?;
        }
        Ok(())
    }
}

/// One multipart upload in progress.
struct Multipart<'a> {
    s3: &'a S3,
    bucket: &'a str,
    key: &'a str,
    upload_id: String,
}

impl<'a> Multipart<'a> {
    fn create(s3: &'a S3, bucket: &'a str, key: &'a str, through: u64) -> Result<Self, S3Error> {
        let created = s3
            .block(
                s3.client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .content_type("application/x-ndjson")
                    .metadata(STAGED_THROUGH_METADATA, through.to_string())
                    .send(),
            )
            .map_err(|err| {
                S3Error::new(
                    "CreateMultipartUpload",
                    bucket,
                    key,
                    DisplayErrorContext(&err).to_string(),
                )
            })?;
        let upload_id = created.upload_id().map(str::to_owned).ok_or_else(|| {
            S3Error::new(
                "CreateMultipartUpload",
                bucket,
                key,
                "no upload id returned",
            )
        })?;
        Ok(Multipart {
            s3,
            bucket,
            key,
            upload_id,
        })
    }

    fn fail(&self, operation: &'static str, err: impl std::fmt::Display) -> S3Error {
        S3Error::new(operation, self.bucket, self.key, err.to_string())
    }

    fn upload_plan(
        &self,
        plan: &[PlannedPart],
        sources: &[Source],
    ) -> Result<Vec<CompletedPart>, S3Error> {
        let mut completed = Vec::with_capacity(plan.len());
        for (index, part) in plan.iter().enumerate() {
            let number = i32::try_from(index + 1).map_err(|err| self.fail("UploadPart", err))?;
            let done = match part {
                PlannedPart::Copy(piece) => self.copy(number, piece, &sources[piece.source])?,
                PlannedPart::Upload(pieces) => {
                    let mut body = Vec::with_capacity(MIN_PART_BYTES as usize);
                    for piece in pieces {
                        let source = &sources[piece.source];
                        body.extend(self.s3.get_range(
                            self.bucket,
                            &source.key,
                            (piece.start, piece.end),
                            source.etag.as_deref(),
                        )?);
                    }
                    self.upload(number, body)?
                }
            };
            completed.push(done);
        }
        Ok(completed)
    }

    fn copy(&self, number: i32, piece: &Piece, source: &Source) -> Result<CompletedPart, S3Error> {
        let copy_source = format!(
            "{}/{}",
            self.bucket,
            percent_encoding::utf8_percent_encode(&source.key, KEY_ENCODE)
        );
        let response = self
            .s3
            .block(
                self.s3
                    .client
                    .upload_part_copy()
                    .bucket(self.bucket)
                    .key(self.key)
                    .upload_id(&self.upload_id)
                    .part_number(number)
                    .copy_source(copy_source)
                    .copy_source_range(format!("bytes={}-{}", piece.start, piece.end - 1))
                    .set_copy_source_if_match(source.etag.clone())
                    .send(),
            )
            .map_err(|err| self.fail("UploadPartCopy", DisplayErrorContext(&err)))?;
        let result = response.copy_part_result();
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(result.and_then(|r| r.e_tag()).map(str::to_owned))
            .build())
    }

    fn upload(&self, number: i32, body: Vec<u8>) -> Result<CompletedPart, S3Error> {
        let response = self
            .s3
            .block(
                self.s3
                    .client
                    .upload_part()
                    .bucket(self.bucket)
                    .key(self.key)
                    .upload_id(&self.upload_id)
                    .part_number(number)
                    .body(ByteStream::from(body))
                    .send(),
            )
            .map_err(|err| self.fail("UploadPart", DisplayErrorContext(&err)))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(response.e_tag().map(str::to_owned))
            .build())
    }

    /// Completes with part numbers and ETags only. The upload is created without a checksum
    /// algorithm: the SDK's own per-request checksum (CRC32) protects each `UploadPart` in
    /// transit, and S3 refuses part checksums in the completion of such an upload.
    fn finish(&self, parts: Vec<CompletedPart>) -> Result<Option<String>, S3Error> {
        self.s3
            .block(
                self.s3
                    .client
                    .complete_multipart_upload()
                    .bucket(self.bucket)
                    .key(self.key)
                    .upload_id(&self.upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send(),
            )
            .map(|done| done.e_tag().map(str::to_owned))
            .map_err(|err| self.fail("CompleteMultipartUpload", DisplayErrorContext(&err)))
    }

    /// Best effort: the error that made us abort is the one worth reporting.
    fn abort(&self) {
        let aborted = self.s3.block(
            self.s3
                .client
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(&self.upload_id)
                .send(),
        );
        if let Err(err) = aborted {
            tracing::warn!(
                bucket = self.bucket, key = self.key, error = %DisplayErrorContext(&err),
                "cannot abort the multipart upload; the next run aborts it"
            );
        }
    }
}

/// What a copy source's key escapes: everything but unreserved characters and `/`.
const KEY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Bytes `start..end` of source number `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Index into the sources.
    pub source: usize,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Piece {
    fn len(&self) -> u64 {
        self.end - self.start
    }
}

/// One part of the multipart upload that makes the results object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedPart {
    /// Copied inside S3 (`UploadPartCopy`): one range of one source.
    Copy(Piece),
    /// Read and uploaded (`UploadPart`): small ranges joined, at most [`MIN_PART_BYTES`].
    Upload(Vec<Piece>),
}

/// Plans the parts that concatenate sources of these sizes: every part but the last is at
/// least [`MIN_PART_BYTES`] (S3's rule); ranges of at least that size are copied inside S3 (at
/// most [`MAX_COPY_PART_BYTES`] each), and smaller ones are joined with their neighbours into
/// uploads of exactly [`MIN_PART_BYTES`] (the last may be smaller). So at most 5 MiB is ever
/// read into memory.
pub fn plan_parts(sizes: &[u64]) -> Vec<PlannedPart> {
    let mut plan = Vec::new();
    let mut pending: Vec<Piece> = Vec::new();
    let mut pending_len = 0u64;
    for (source, &size) in sizes.iter().enumerate() {
        let mut start = 0u64;
        if pending_len > 0 && size > 0 {
            // Top the pending upload up to the minimum first.
            let take = (MIN_PART_BYTES - pending_len).min(size);
            pending.push(Piece {
                source,
                start,
                end: take,
            });
            pending_len += take;
            start = take;
            if pending_len >= MIN_PART_BYTES {
                plan.push(PlannedPart::Upload(std::mem::take(&mut pending)));
                pending_len = 0;
            }
        }
        while size - start >= MIN_PART_BYTES {
            let len = (size - start).min(MAX_COPY_PART_BYTES);
            plan.push(PlannedPart::Copy(Piece {
                source,
                start,
                end: start + len,
            }));
            start += len;
        }
        if start < size {
            let piece = Piece {
                source,
                start,
                end: size,
            };
            pending_len += piece.len();
            pending.push(piece);
        }
    }
    if !pending.is_empty() {
        plan.push(PlannedPart::Upload(pending));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn part_sizes(plan: &[PlannedPart]) -> Vec<u64> {
        plan.iter()
            .map(|part| match part {
                PlannedPart::Copy(piece) => piece.len(),
                PlannedPart::Upload(pieces) => pieces.iter().map(Piece::len).sum(),
            })
            .collect()
    }

    /// Every byte of every source, once, in order; every part but the last ≥ 5 MiB.
    fn check(sizes: &[u64]) -> Vec<PlannedPart> {
        let plan = plan_parts(sizes);
        let pieces: Vec<Piece> = plan
            .iter()
            .flat_map(|part| match part {
                PlannedPart::Copy(piece) => vec![*piece],
                PlannedPart::Upload(pieces) => pieces.clone(),
            })
            .collect();
        let mut expected = (0usize, 0u64);
        for piece in &pieces {
            while expected.0 < sizes.len() && expected.1 == sizes[expected.0] {
                expected = (expected.0 + 1, 0);
            }
            assert_eq!((piece.source, piece.start), expected, "{sizes:?}: {plan:?}");
            assert!(piece.end > piece.start);
            expected.1 = piece.end;
        }
        assert_eq!(
            pieces.iter().map(Piece::len).sum::<u64>(),
            sizes.iter().sum::<u64>()
        );
        let lens = part_sizes(&plan);
        for len in &lens[..lens.len().saturating_sub(1)] {
            assert!(*len >= MIN_PART_BYTES, "{sizes:?}: a part of {len} bytes");
        }
        for part in &plan {
            match part {
                PlannedPart::Copy(piece) => assert!(piece.len() <= MAX_COPY_PART_BYTES),
                PlannedPart::Upload(pieces) => {
                    assert!(pieces.iter().map(Piece::len).sum::<u64>() <= MIN_PART_BYTES)
                }
            }
        }
        plan
    }

    #[test]
    fn big_sources_are_copied_and_small_ones_joined() {
        let plan = check(&[8 * MIB, 8 * MIB, 100]);
        assert_eq!(part_sizes(&plan), [8 * MIB, 8 * MIB, 100]);
        assert!(matches!(plan[0], PlannedPart::Copy(_)));
        assert!(matches!(plan[2], PlannedPart::Upload(_)));

        // Many small parts (time-staged, slow calls) are joined into 5 MiB uploads.
        let plan = check(&[MIB; 12]);
        assert_eq!(part_sizes(&plan), [5 * MIB, 5 * MIB, 2 * MIB]);

        // A small part between big ones tops up from the next source, whose rest is copied.
        let plan = check(&[8 * MIB, MIB, 8 * MIB]);
        assert_eq!(part_sizes(&plan), [8 * MIB, 5 * MIB, 4 * MIB]);
        let plan = check(&[MIB, 20 * MIB]);
        assert_eq!(part_sizes(&plan), [5 * MIB, 16 * MIB]);
    }

    #[test]
    fn edge_sizes_keep_the_rules() {
        for sizes in [
            vec![],
            vec![0],
            vec![1],
            vec![MIN_PART_BYTES],
            vec![MIN_PART_BYTES - 1, 1, MIN_PART_BYTES - 1],
            vec![MIN_PART_BYTES + 1, MIN_PART_BYTES - 1],
            vec![0, 3 * MIB, 0, 3 * MIB, 0],
            vec![MAX_COPY_PART_BYTES + 7 * MIB],
            vec![2 * MAX_COPY_PART_BYTES + 1, 5, 6 * MIB],
        ] {
            check(&sizes);
        }
        assert!(plan_parts(&[]).is_empty());
        assert_eq!(plan_parts(&[MAX_COPY_PART_BYTES + 1]).len(), 2);
    }

    #[test]
    fn staged_keys_sort_in_sequence_and_round_trip() {
        let prefix = staged_prefix("run/results.jsonl");
        assert_eq!(prefix, "run/results.jsonl.parts/");
        let (k9, k10) = (
            staged_key("run/results.jsonl", 9),
            staged_key("run/results.jsonl", 10),
        );
        assert!(k9 < k10);
        assert_eq!(staged_seq(&prefix, &k10), Some(10));
        assert_eq!(
            staged_seq(&prefix, "run/results.jsonl.parts/notes.txt"),
            None
        );
    }

    #[test]
    fn copy_sources_are_escaped() {
        let encoded =
            percent_encoding::utf8_percent_encode("run 1/résumé+x.jsonl", KEY_ENCODE).to_string();
        assert_eq!(encoded, "run%201/r%C3%A9sum%C3%A9%2Bx.jsonl");
    }
}
