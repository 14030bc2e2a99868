//! The AWS store: metadata in one DynamoDB table, prompt documents in S3 (feature `aws`).
//!
//! # Layout
//!
//! The table is the seed's: hash key `prompt_key` (S, the prompt id) and range key `version`
//! (S). One partition per prompt holds three kinds of items, whose range keys cannot collide:
//!
//! | `version` | item |
//! |---|---|
//! | `1.2.0` (the canonical form, [`Version::canonical`]) | a version's metadata: `version_as_pushed`, `status`, `content_hash`, `description`, `tags`, `created_at`, `created_by`, `s3_key`, `document_sha256` |
//! | `#pointer` | the stable pointer: `stable` (as pushed), `stable_key` (canonical), `moves` |
//! | `#history#00000000000000000001` | one pointer move: `seq`, `action`, `from_version`, `to_version`, `actor`, `reason`, `at` |
//!
//! Canonical versions start with a digit and `#` sorts before every digit, so version items are
//! the range `"0"..=":"` of the partition and the pointer and history sit apart; sequence
//! numbers are zero-padded to 20 digits, so history items sort in move order. Every Query is
//! paginated to its end and every read is strongly consistent.
//!
//! The document of a version (`promptops_core::wire` JSON) lives in S3 under
//! `prompts/{id}/{canonical version}/{sha256 of the document}.json`: a key built only from a
//! validated id, a parsed version and a hash, so nothing a caller sends can leave the `prompts/`
//! prefix, and a different text never lands on an existing key.
//!
//! # The primitives
//!
//! * [`insert_version`](Store::insert_version) writes the document to S3 first, as a
//!   conditional create (`If-None-Match: *`), then commits the version item with a conditional
//!   put (`attribute_not_exists(prompt_key)`). A crash between the two leaves an unreferenced
//!   object and no visible version; the retry lands on the same key and commits. When the put's
//!   condition fails, the stored item is returned as [`Inserted::Exists`] (and the loser's own
//!   object, if it has a different key, is removed: it can never be referenced).
//! * [`move_pointer`](Store::move_pointer) is one `TransactWriteItems`: the pointer item on the
//!   condition that it is what the caller read (or absent for the first move), the target
//!   version to `stable` on the condition that it exists, the previous stable version to
//!   `deprecated` (same condition), and the history item on the condition that its sequence
//!   number is new. A transaction cancelled by a condition is [`StoreError::Conflict`].
//!
//! # TLS
//!
//! Every SDK client uses rustls with the *ring* provider ([`https_client`]), as
//! `promptops-runtime` does for Bedrock: the SDK's default client would bring aws-lc-rs and its
//! C build into the graph.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_s3::primitives::ByteStream;
use promptops_core::{Status, Version};

use super::{
    Action, HistoryEvent, Inserted, Pointer, Store, StoreError, VersionMeta, VersionRecord,
};
use crate::ids::check_id;

/// The DynamoDB SDK, re-exported so callers build clients with the same version.
pub use aws_sdk_dynamodb;
/// The S3 SDK, re-exported so callers build clients with the same version.
pub use aws_sdk_s3;

/// The table's hash key: the prompt id.
pub const HASH_KEY: &str = "prompt_key";
/// The table's range key: a canonical version, [`POINTER_KEY`] or a history key.
pub const RANGE_KEY: &str = "version";
/// The range key of the stable pointer item.
pub const POINTER_KEY: &str = "#pointer";
/// The range-key prefix of history items (followed by a 20-digit sequence number).
pub const HISTORY_PREFIX: &str = "#history#";
/// The prefix of every S3 object the store writes.
pub const S3_PREFIX: &str = "prompts/";

/// The range keys of version items: canonical versions start with a digit, and every string
/// that starts with one sorts between these bounds (`:` follows `9`).
const VERSION_KEYS: (&str, &str) = ("0", ":");

/// Attempts at an S3 conditional write that S3 answers with `ConditionalRequestConflict` (a
/// concurrent conditional write to the same key was in flight).
const S3_PUT_ATTEMPTS: u32 = 3;

pub use promptops_aws::https_client;

/// Loads the standard AWS configuration (region, credentials, `AWS_ENDPOINT_URL`, profiles)
/// with the rustls + *ring* client. `AWS_ENDPOINT_URL=http://127.0.0.1:PORT` points both the
/// DynamoDB and the S3 client at one local server.
pub async fn load_aws_config() -> SdkConfig {
    promptops_aws::load().await
}

/// The DynamoDB + S3 store.
#[derive(Clone)]
pub struct DynamoStore {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    table: String,
    bucket: String,
    page_size: Option<i32>,
    faults: Arc<Faults>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("bucket", &self.bucket)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Faults a test can inject.
#[derive(Debug, Default)]
struct Faults {
    /// Fail the next `insert_version` after its S3 write, before its DynamoDB commit.
    fail_before_commit: AtomicBool,
}

impl DynamoStore {
    /// A store on `table` and `bucket`, with clients built from `config` (the rustls + *ring*
    /// HTTP client is installed when `config` has none). When `config` sets an endpoint URL (a
    /// local server such as moto), S3 uses path-style addressing, since such servers do not
    /// serve bucket subdomains. For other S3 settings, build the clients yourself and use
    /// [`DynamoStore::from_clients`].
    pub fn new(config: &SdkConfig, table: impl Into<String>, bucket: impl Into<String>) -> Self {
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(config);
        if config.http_client().is_none() {
            dynamodb = dynamodb.http_client(https_client());
        }
        Self::from_clients(
            aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            promptops_aws::s3_client(config),
            table,
            bucket,
        )
    }

    /// A store on `table` and `bucket` (the seed's `DYNAMODB_TABLE` and `S3_BUCKET`) through
    /// the standard AWS configuration ([`load_aws_config`]).
    pub async fn from_env(table: impl Into<String>, bucket: impl Into<String>) -> Self {
        Self::new(&load_aws_config().await, table, bucket)
    }

    /// A store over clients configured by the caller.
    pub fn from_clients(
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        table: impl Into<String>,
        bucket: impl Into<String>,
    ) -> Self {
        DynamoStore {
            dynamodb,
            s3,
            table: table.into(),
            bucket: bucket.into(),
            page_size: None,
            faults: Arc::default(),
        }
    }

    /// Caps every Query page at `items` items (by default DynamoDB's 1 MB pages). Lists are
    /// read to the end either way; a small page only makes more requests (tests use it to
    /// cross page boundaries).
    pub fn with_page_size(mut self, items: u32) -> Self {
        self.page_size = Some(i32::try_from(items.max(1)).unwrap_or(i32::MAX));
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Test hook: the next [`insert_version`](Store::insert_version) fails after its S3
    /// write and before its DynamoDB commit, as a crash there would.
    #[doc(hidden)]
    pub fn fail_next_commit(&self) {
        self.faults.fail_before_commit.store(true, Ordering::SeqCst);
    }

    fn key(&self, id: &str, range: String) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (HASH_KEY.to_owned(), AttributeValue::S(id.to_owned())),
            (RANGE_KEY.to_owned(), AttributeValue::S(range)),
        ])
    }

    /// One item by key, read consistently.
    async fn get_item(
        &self,
        id: &str,
        range: String,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(id, range)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error("DynamoDB GetItem", &self.table, err))?;
        Ok(output.item)
    }

    /// Every item of `id`'s partition whose range key satisfies `condition` (over `#pk`,
    /// `#rk` and `values`), in range-key order, read consistently, all pages.
    async fn query_all(
        &self,
        id: &str,
        condition: &str,
        values: &[(&str, &str)],
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut query = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .expression_attribute_names("#pk", HASH_KEY)
            .expression_attribute_names("#rk", RANGE_KEY)
            .expression_attribute_values(":id", AttributeValue::S(id.to_owned()))
            .consistent_read(true);
        for (name, value) in values {
            query =
                query.expression_attribute_values(*name, AttributeValue::S((*value).to_owned()));
        }
        let mut paginator = query.into_paginator();
        if let Some(size) = self.page_size {
            paginator = paginator.page_size(size);
        }
        paginator
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|err| sdk_error("DynamoDB Query", &self.table, err))
    }

    /// Writes `body` under `key` unless an object is there (which, by the key's construction,
    /// holds the same bytes).
    async fn put_document(&self, key: &str, body: &str) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type("application/json")
                .if_none_match("*")
                .body(ByteStream::from(body.as_bytes().to_vec()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(err) => match err.code() {
                    Some("PreconditionFailed") => return Ok(()),
                    Some("ConditionalRequestConflict") if attempt < S3_PUT_ATTEMPTS => {
                        tokio::time::sleep(std::time::Duration::from_millis(
                            50 * u64::from(attempt),
                        ))
                        .await;
                    }
                    // The last attempt's conflict lands here too, with its SDK error.
                    _ => {
                        return Err(sdk_error(
                            "S3 PutObject",
                            &format!("{}/{key}", self.bucket),
                            err,
                        ))
                    }
                },
            }
        }
    }

    /// Best-effort removal of an object no version can ever reference.
    async fn remove_orphan(&self, key: &str) {
        if let Err(err) = self
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            tracing::warn!(
                bucket = %self.bucket,
                key,
                error = %DisplayErrorContext(&err),
                "could not remove an unreferenced prompt document"
            );
        }
    }

    async fn get_document(&self, key: &str, sha256: &str) -> Result<String, StoreError> {
        let output = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| sdk_error("S3 GetObject", &format!("{}/{key}", self.bucket), err))?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| StoreError::Aws {
                operation: "S3 GetObject (reading the body)",
                resource: format!("{}/{key}", self.bucket),
                source: err.into(),
            })?
            .into_bytes();
        let actual = promptops_core::hash::sha256_hex(&bytes);
        if actual != sha256 {
            return Err(StoreError::Corrupt {
                what: format!(
                    "S3 object {}/{key} has SHA-256 {actual}, the version item expects {sha256}",
                    self.bucket
                ),
                source: None,
            });
        }
        String::from_utf8(bytes.to_vec()).map_err(|err| {
            StoreError::corrupt(format!("S3 object {}/{key} is not UTF-8", self.bucket), err)
        })
    }
}

/// The S3 key of a document: only validated parts (the id is checked again here, so the key
/// never depends on a caller having done it).
fn document_key(id: &str, version: &Version, sha256: &str) -> Result<String, StoreError> {
    check_id(id).map_err(|err| StoreError::Failed {
        what: "refusing to build an S3 key from an invalid id".to_owned(),
        source: Some(err.into()),
    })?;
    Ok(format!(
        "{S3_PREFIX}{id}/{}/{sha256}.json",
        version.canonical()
    ))
}

fn history_key(seq: u64) -> String {
    format!("{HISTORY_PREFIX}{seq:020}")
}

/// An SDK failure with the operation and the resource it was called on; the SDK's error is
/// kept whole as the source (for logs; the registry never shows it to callers).
fn sdk_error<E, R>(operation: &'static str, resource: &str, err: SdkError<E, R>) -> StoreError
where
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    StoreError::Aws {
        operation,
        resource: resource.to_owned(),
        source: Box::new(err),
    }
}

/// Reads typed attributes out of an item, naming the item in every error.
struct Fields<'a> {
    item: &'a HashMap<String, AttributeValue>,
    what: &'a str,
}

impl<'a> Fields<'a> {
    fn missing(&self, name: &str) -> StoreError {
        StoreError::Corrupt {
            what: format!("{}: attribute `{name}` is missing or mistyped", self.what),
            source: None,
        }
    }

    fn opt_s(&self, name: &str) -> Result<Option<&'a str>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(text)) => Ok(Some(text)),
            Some(_) => Err(self.missing(name)),
        }
    }

    fn s(&self, name: &str) -> Result<&'a str, StoreError> {
        self.opt_s(name)?.ok_or_else(|| self.missing(name))
    }

    fn n(&self, name: &str) -> Result<u64, StoreError> {
        match self.item.get(name) {
            Some(AttributeValue::N(number)) => number.parse().map_err(|err| {
                StoreError::corrupt(format!("{}: attribute `{name}`", self.what), err)
            }),
            _ => Err(self.missing(name)),
        }
    }

    fn version(&self, name: &str) -> Result<Version, StoreError> {
        let text = self.s(name)?;
        text.parse()
            .map_err(|err| StoreError::corrupt(format!("{}: attribute `{name}`", self.what), err))
    }

    fn opt_version(&self, name: &str) -> Result<Option<Version>, StoreError> {
        self.opt_s(name)?
            .map(|text| {
                text.parse().map_err(|err| {
                    StoreError::corrupt(format!("{}: attribute `{name}`", self.what), err)
                })
            })
            .transpose()
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.item.get(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::L(values)) => values
                .iter()
                .map(|value| match value {
                    AttributeValue::S(text) => Ok(text.clone()),
                    _ => Err(self.missing(name)),
                })
                .collect(),
            Some(_) => Err(self.missing(name)),
        }
    }
}

/// A version item: its metadata, S3 key and document hash.
struct VersionItem {
    meta: VersionMeta,
    s3_key: String,
    document_sha256: String,
}

fn version_from_item(item: &HashMap<String, AttributeValue>) -> Result<VersionItem, StoreError> {
    let fields = Fields {
        item,
        what: "version item",
    };
    let status = fields.s("status")?;
    Ok(VersionItem {
        meta: VersionMeta {
            version: fields.version("version_as_pushed")?,
            status: Status::parse(status).ok_or_else(|| StoreError::Corrupt {
                what: format!("version item: status {status:?}"),
                source: None,
            })?,
            content_hash: fields.s("content_hash")?.to_owned(),
            description: fields.opt_s("description")?.map(str::to_owned),
            tags: fields.strings("tags")?,
            created_at: fields.s("created_at")?.to_owned(),
            created_by: fields.s("created_by")?.to_owned(),
        },
        s3_key: fields.s("s3_key")?.to_owned(),
        document_sha256: fields.s("document_sha256")?.to_owned(),
    })
}

fn history_from_item(item: &HashMap<String, AttributeValue>) -> Result<HistoryEvent, StoreError> {
    let fields = Fields {
        item,
        what: "history item",
    };
    let action = fields.s("action")?;
    Ok(HistoryEvent {
        action: Action::parse(action).ok_or_else(|| StoreError::Corrupt {
            what: format!("history item: action {action:?}"),
            source: None,
        })?,
        from: fields.opt_version("from_version")?,
        to: fields.version("to_version")?,
        actor: fields.s("actor")?.to_owned(),
        reason: fields.opt_s("reason")?.map(str::to_owned),
        at: fields.s("at")?.to_owned(),
    })
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// Sets `name` to `value`, or leaves it out when there is none (DynamoDB has no use for
/// empty attributes).
fn put_opt(item: &mut HashMap<String, AttributeValue>, name: &str, value: Option<String>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), s(value));
    }
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Failed {
        what: "building a DynamoDB request".to_owned(),
        source: Some(err.into()),
    }
}

/// Whether a cancelled transaction failed on a condition (or on a concurrent write to one of
/// its items, which DynamoDB reports as `TransactionConflict`): the state moved under the
/// caller, who should read again.
fn cancelled_by_condition(err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().iter().any(|reason| {
                matches!(
                    reason.code(),
                    Some("ConditionalCheckFailed" | "TransactionConflict")
                )
            })
        }
        _ => false,
    }
}

impl Store for DynamoStore {
    async fn insert_version(&self, record: &VersionRecord) -> Result<Inserted, StoreError> {
        let id = record.prompt_id.as_str();
        let meta = &record.meta;
        let range = meta.version.canonical();
        // A replay (the common case of `publish`) answers from the table without touching S3.
        if let Some(item) = self.get_item(id, range.clone()).await? {
            return Ok(Inserted::Exists(version_from_item(&item)?.meta));
        }

        let sha256 = promptops_core::hash::sha256_hex(record.document.as_bytes());
        let s3_key = document_key(id, &meta.version, &sha256)?;
        self.put_document(&s3_key, &record.document).await?;

        if self.faults.fail_before_commit.swap(false, Ordering::SeqCst) {
            return Err(StoreError::failed(
                "injected fault: after the S3 write, before the DynamoDB commit",
            ));
        }

        let mut item = self.key(id, range.clone());
        item.insert("version_as_pushed".into(), s(meta.version.to_string()));
        item.insert("status".into(), s(meta.status.as_str()));
        item.insert("content_hash".into(), s(&meta.content_hash));
        put_opt(&mut item, "description", meta.description.clone());
        item.insert(
            "tags".into(),
            AttributeValue::L(meta.tags.iter().map(s).collect()),
        );
        item.insert("created_at".into(), s(&meta.created_at));
        item.insert("created_by".into(), s(&meta.created_by));
        item.insert("s3_key".into(), s(&s3_key));
        item.insert("document_sha256".into(), s(&sha256));

        let result = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", HASH_KEY)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Inserted::Created),
            Err(err) => err,
        };
        let Some(PutItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
        else {
            return Err(sdk_error("DynamoDB PutItem", &self.table, err));
        };
        // Another push of this version won; its item is the answer.
        let existing = match failed.item() {
            Some(item) => version_from_item(item)?,
            None => {
                let item = self.get_item(id, range).await?.ok_or_else(|| {
                    StoreError::failed(format!(
                        "{id}@{}: the conditional put failed but no item is stored",
                        meta.version
                    ))
                })?;
                version_from_item(&item)?
            }
        };
        if existing.s3_key != s3_key {
            self.remove_orphan(&s3_key).await;
        }
        Ok(Inserted::Exists(existing.meta))
    }

    async fn get_version(
        &self,
        id: &str,
        version: &Version,
    ) -> Result<Option<VersionRecord>, StoreError> {
        let Some(item) = self.get_item(id, version.canonical()).await? else {
            return Ok(None);
        };
        let stored = version_from_item(&item)?;
        let document = self
            .get_document(&stored.s3_key, &stored.document_sha256)
            .await?;
        Ok(Some(VersionRecord {
            prompt_id: id.to_owned(),
            meta: stored.meta,
            document,
        }))
    }

    async fn get_version_meta(
        &self,
        id: &str,
        version: &Version,
    ) -> Result<Option<VersionMeta>, StoreError> {
        let Some(item) = self.get_item(id, version.canonical()).await? else {
            return Ok(None);
        };
        Ok(Some(version_from_item(&item)?.meta))
    }

    async fn list_versions(&self, id: &str) -> Result<Vec<VersionMeta>, StoreError> {
        let (low, high) = VERSION_KEYS;
        self.query_all(
            id,
            "#pk = :id AND #rk BETWEEN :low AND :high",
            &[(":low", low), (":high", high)],
        )
        .await?
        .iter()
        .map(|item| version_from_item(item).map(|stored| stored.meta))
        .collect()
    }

    async fn pointer(&self, id: &str) -> Result<Pointer, StoreError> {
        let Some(item) = self.get_item(id, POINTER_KEY.to_owned()).await? else {
            return Ok(Pointer::default());
        };
        let fields = Fields {
            item: &item,
            what: "pointer item",
        };
        Ok(Pointer {
            stable: fields.opt_version("stable")?,
            moves: fields.n("moves")?,
        })
    }

    async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.query_all(
            id,
            "#pk = :id AND begins_with(#rk, :prefix)",
            &[(":prefix", HISTORY_PREFIX)],
        )
        .await?
        .iter()
        .map(history_from_item)
        .collect()
    }

    async fn move_pointer(
        &self,
        id: &str,
        expected: &Pointer,
        event: &HistoryEvent,
    ) -> Result<(), StoreError> {
        let seq = expected.moves + 1;

        // The pointer, on the condition that it is what the caller read.
        let mut pointer = self.key(id, POINTER_KEY.to_owned());
        pointer.insert("stable".into(), s(event.to.to_string()));
        pointer.insert("stable_key".into(), s(event.to.canonical()));
        pointer.insert("moves".into(), n(seq));
        let pointer = match (expected.moves, expected.stable) {
            (0, None) => Put::builder()
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", HASH_KEY),
            // Never stored: no pointer without a move has a stable version.
            (0, Some(_)) => return Err(StoreError::Conflict),
            (moves, Some(stable)) => Put::builder()
                .condition_expression("#moves = :moves AND #stable_key = :stable_key")
                .expression_attribute_names("#moves", "moves")
                .expression_attribute_names("#stable_key", "stable_key")
                .expression_attribute_values(":moves", n(moves))
                .expression_attribute_values(":stable_key", s(stable.canonical())),
            (moves, None) => Put::builder()
                .condition_expression("#moves = :moves AND attribute_not_exists(#stable_key)")
                .expression_attribute_names("#moves", "moves")
                .expression_attribute_names("#stable_key", "stable_key")
                .expression_attribute_values(":moves", n(moves)),
        }
        .table_name(&self.table)
        .set_item(Some(pointer))
        .build()
        .map_err(build_error)?;

        // A status flip on an existing version (an update of a missing key would create it).
        let set_status = |version: &Version, status: Status| {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(self.key(id, version.canonical())))
                .update_expression("SET #status = :status")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", HASH_KEY)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()))
                .build()
                .map_err(build_error)
        };

        let mut history = self.key(id, history_key(seq));
        history.insert("seq".into(), n(seq));
        history.insert("action".into(), s(event.action.as_str()));
        put_opt(
            &mut history,
            "from_version",
            event.from.map(|v| v.to_string()),
        );
        history.insert("to_version".into(), s(event.to.to_string()));
        history.insert("actor".into(), s(&event.actor));
        put_opt(&mut history, "reason", event.reason.clone());
        history.insert("at".into(), s(&event.at));
        let history = Put::builder()
            .table_name(&self.table)
            .set_item(Some(history))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", HASH_KEY)
            .build()
            .map_err(build_error)?;

        let mut items = vec![
            TransactWriteItem::builder().put(pointer).build(),
            TransactWriteItem::builder()
                .update(set_status(&event.to, Status::Stable)?)
                .build(),
        ];
        if let Some(from) = event.from.filter(|from| *from != event.to) {
            items.push(
                TransactWriteItem::builder()
                    .update(set_status(&from, Status::Deprecated)?)
                    .build(),
            );
        }
        items.push(TransactWriteItem::builder().put(history).build());

        match self
            .dynamodb
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if cancelled_by_condition(&err) => Err(StoreError::Conflict),
            Err(err) => Err(sdk_error("DynamoDB TransactWriteItems", &self.table, err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_keys_of_versions_pointer_and_history_never_collide() {
        let (low, high) = VERSION_KEYS;
        for text in [
            "0",
            "1",
            "1.2",
            "9.99.999",
            "4294967295.4294967295.4294967295",
        ] {
            let key = text.parse::<Version>().unwrap().canonical();
            assert!(low <= key.as_str() && key.as_str() <= high, "{key}");
        }
        for key in [
            POINTER_KEY.to_owned(),
            history_key(1),
            history_key(u64::MAX),
        ] {
            assert!(key.as_str() < low, "{key}");
        }
        assert!(history_key(2) < history_key(10));
        assert_eq!(history_key(u64::MAX).len(), HISTORY_PREFIX.len() + 20);
    }

    #[test]
    fn document_keys_are_built_from_validated_parts_only() {
        let v = "1.2".parse::<Version>().unwrap();
        assert_eq!(
            document_key("a.b_c", &v, "ab12").unwrap(),
            "prompts/a.b_c/1.2.0/ab12.json"
        );
        for id in ["../x", "a/b", "", "A"] {
            assert!(document_key(id, &v, "ab12").is_err(), "{id}");
        }
    }
}
