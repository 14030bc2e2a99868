//! The DynamoDB + S3 store on moto's standalone server: the behaviour suite over HTTP (the same
//! cases as `sqlite.rs`), then the store's own guarantees: every Query read past its first
//! page, a crash between the S3 write and the DynamoDB commit, conditional creates and
//! transactions that race, and conditions that refuse stale or impossible moves.
//!
//! moto runs one request at a time (see `common/moto.rs`), so a race here is decided by the
//! store's conditions alone. Without moto these tests print why and pass, except with
//! `CI=true`, where they fail.

mod behaviour;
mod common;
#[path = "common/moto.rs"]
mod moto;

use common::{tokens, Server, AUTHOR, READER};
use promptops_core::{Status, Version};
use promptops_registry::store::dynamo::aws_sdk_dynamodb::types::AttributeValue;
use promptops_registry::store::dynamo::{DynamoStore, HASH_KEY, RANGE_KEY};
use promptops_registry::store::{
    Action, HistoryEvent, Inserted, Pointer, VersionMeta, VersionRecord,
};
use promptops_registry::{Auth, Registry, RegistryError, Store, StoreError};
use promptops_tests::moto::Moto;

macro_rules! suite {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let Some(server) = dynamo_server().await else { return };
            behaviour::$case(&server).await;
        }
    )*};
}

behaviour::all_cases!(suite);

/// A server over a fresh DynamoDB table and S3 bucket on its own moto, with the test tokens;
/// `None` when moto is not installed outside CI (see [`Moto::start`]).
async fn dynamo_server() -> Option<Server> {
    let moto = Moto::start(moto::WHAT).await?;
    let store = moto::fresh_store(&moto).await;
    Some(
        Server::start(store, Auth::Tokens(tokens()))
            .await
            .keeping(moto),
    )
}

fn version(text: &str) -> Version {
    text.parse().expect("test version")
}

/// A version record as the registry would store it (the store does not read the document).
fn record(id: &str, v: &str, text: &str) -> VersionRecord {
    VersionRecord {
        prompt_id: id.to_owned(),
        meta: VersionMeta {
            version: version(v),
            status: Status::Draft,
            content_hash: promptops_core::hash::content_hash(text.as_bytes()),
            description: Some(format!("{id} {v}")),
            tags: vec!["t1".to_owned(), "t2".to_owned()],
            created_at: "2026-01-01T00:00:00Z".to_owned(),
            created_by: "tester".to_owned(),
        },
        document: format!("{{\"template\":{text:?}}}"),
    }
}

fn promote(from: Option<&str>, to: &str) -> HistoryEvent {
    HistoryEvent {
        action: Action::Promote,
        from: from.map(version),
        to: version(to),
        actor: "release-bot".to_owned(),
        reason: Some("test".to_owned()),
        at: "2026-01-01T00:00:00Z".to_owned(),
    }
}

async fn status_of(store: &DynamoStore, id: &str, v: &str) -> Status {
    store
        .get_version(id, &version(v))
        .await
        .expect("get version")
        .expect("the version exists")
        .meta
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_is_read_past_its_first_page() {
    let Some(moto) = Moto::start(moto::WHAT).await else {
        return;
    };
    let store = moto::fresh_store(&moto).await.with_page_size(2);
    for v in 1..=7 {
        let inserted = store
            .insert_version(&record("paged", &v.to_string(), &format!("text {v}")))
            .await
            .expect("insert");
        assert_eq!(inserted, Inserted::Created);
    }
    let mut pointer = Pointer::default();
    for v in 1..=5 {
        let to = v.to_string();
        let from = pointer.stable.map(|s| s.to_string());
        store
            .move_pointer("paged", &pointer, &promote(from.as_deref(), &to))
            .await
            .expect("move");
        pointer = store.pointer("paged").await.expect("pointer");
    }
    assert_eq!(
        pointer,
        Pointer {
            stable: Some(version("5")),
            moves: 5
        }
    );

    // moto honours `Limit`: one Query of two items stops short, with a key to go on from.
    let one_page = moto::dynamodb(&moto)
        .query()
        .table_name(store.table())
        .key_condition_expression("#pk = :id")
        .expression_attribute_names("#pk", HASH_KEY)
        .expression_attribute_values(":id", AttributeValue::S("paged".into()))
        .limit(2)
        .send()
        .await
        .expect("query");
    assert_eq!(one_page.items().len(), 2);
    assert!(one_page.last_evaluated_key().is_some());

    // The store reads to the end, and versions, pointer and history stay apart.
    let mut listed: Vec<Version> = store
        .list_versions("paged")
        .await
        .expect("list")
        .into_iter()
        .map(|meta| meta.version)
        .collect();
    listed.sort();
    assert_eq!(listed, (1..=7).map(Version::new).collect::<Vec<_>>());
    let history = store.history("paged").await.expect("history");
    let moves: Vec<(Option<Version>, Version)> = history.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(
        moves,
        [
            (None, Version::new(1)),
            (Some(Version::new(1)), Version::new(2)),
            (Some(Version::new(2)), Version::new(3)),
            (Some(Version::new(3)), Version::new(4)),
            (Some(Version::new(4)), Version::new(5)),
        ]
    );
    assert_eq!(history[0].reason.as_deref(), Some("test"));
    assert_eq!(history[0].actor, "release-bot");

    // And so does the registry's paged listing over it.
    let registry = Registry::new(store.clone());
    let page = registry
        .versions("paged", Some(3), Some("3"))
        .await
        .expect("page");
    let shown: Vec<u32> = page.versions.iter().map(|m| m.version.major()).collect();
    assert_eq!(shown, [4, 5, 6]);
    assert_eq!(page.next_cursor.as_deref(), Some("6.0.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_s3_write_and_the_commit_leaves_no_version() {
    let Some(moto) = Moto::start(moto::WHAT).await else {
        return;
    };
    let store = moto::fresh_store(&moto).await;
    let server = Server::start(store.clone(), Auth::Tokens(common::tokens())).await;

    store.fail_next_commit();
    let failed = server.push("fault", "1.0.0", "Hello {{ name }}").await;
    failed.expect_error(503, "unavailable");

    // The document reached S3, but no version is visible anywhere.
    let written = moto.object_keys(store.bucket()).await;
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        written[0].starts_with("prompts/fault/1.0.0/") && written[0].ends_with(".json"),
        "{written:?}"
    );
    server
        .get("/prompts/fault@1.0.0?mode=dev", AUTHOR)
        .await
        .expect_error(404, "not_found");
    server
        .get("/prompts/fault?mode=dev", AUTHOR)
        .await
        .expect_error(404, "not_found");
    let listed = server
        .get("/prompts/fault/versions", READER)
        .await
        .expect(200);
    assert_eq!(listed.body["versions"], serde_json::json!([]));
    assert!(store
        .get_version("fault", &version("1"))
        .await
        .expect("get")
        .is_none());

    // A clean retry creates the version over the same object.
    let created = server
        .push("fault", "1.0.0", "Hello {{ name }}")
        .await
        .expect(201);
    assert_eq!(moto.object_keys(store.bucket()).await, written);
    let resolved = server
        .get("/prompts/fault@1.0.0?mode=dev", AUTHOR)
        .await
        .expect(200);
    assert_eq!(resolved.body["content"], "Hello {{ name }}");
    assert_eq!(resolved.body["content_hash"], created.body["content_hash"]);
    server
        .push("fault", "1.0.0", "Hello {{ name }}")
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conditional_creates_keep_one_version() {
    let Some(moto) = Moto::start(moto::WHAT).await else {
        return;
    };
    let store = moto::fresh_store(&moto).await;
    let records: Vec<VersionRecord> = (0..6)
        .map(|n| record("create", "2.0", &format!("text {n}")))
        .collect();
    let outcomes =
        futures_util::future::join_all(records.iter().map(|r| store.insert_version(r))).await;
    let outcomes: Vec<Inserted> = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("insert"))
        .collect();
    let winners: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i] == Inserted::Created)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = &records[winners[0]];
    for outcome in &outcomes {
        if let Inserted::Exists(meta) = outcome {
            assert_eq!(meta.content_hash, winner.meta.content_hash);
        }
    }
    let stored = store
        .get_version("create", &version("2"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.document, winner.document);
    assert_eq!(stored.meta, winner.meta);
    // The losers' documents are gone: only the winner's can ever be referenced.
    let keys = moto.object_keys(store.bucket()).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_move_the_pointer_once() {
    let Some(moto) = Moto::start(moto::WHAT).await else {
        return;
    };
    let store = moto::fresh_store(&moto).await;
    for v in 1..=3 {
        store
            .insert_version(&record("tx", &v.to_string(), &format!("text {v}")))
            .await
            .expect("insert");
    }
    store
        .move_pointer("tx", &Pointer::default(), &promote(None, "1"))
        .await
        .expect("first move");
    let read = store.pointer("tx").await.expect("pointer");
    let to_two = promote(Some("1"), "2");
    let to_three = promote(Some("1"), "3");
    let (two, three) = tokio::join!(
        store.move_pointer("tx", &read, &to_two),
        store.move_pointer("tx", &read, &to_three),
    );
    let (winner, loser) = match (two, three) {
        (Ok(()), Err(StoreError::Conflict)) => ("2", "3"),
        (Err(StoreError::Conflict), Ok(())) => ("3", "2"),
        other => panic!("expected one move and one conflict: {other:?}"),
    };
    let pointer = store.pointer("tx").await.expect("pointer");
    assert_eq!(
        pointer,
        Pointer {
            stable: Some(version(winner)),
            moves: 2
        }
    );
    assert_eq!(status_of(&store, "tx", winner).await, Status::Stable);
    assert_eq!(status_of(&store, "tx", "1").await, Status::Deprecated);
    assert_eq!(status_of(&store, "tx", loser).await, Status::Draft);
    let history = store.history("tx").await.expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].to, version(winner));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_on_stale_pointers_or_missing_versions_change_nothing() {
    let Some(moto) = Moto::start(moto::WHAT).await else {
        return;
    };
    let store = moto::fresh_store(&moto).await;
    for v in ["1", "2"] {
        store
            .insert_version(&record("cond", v, v))
            .await
            .expect("insert");
    }
    // A first move to a version that does not exist: cancelled, and no item appears for it.
    let ghost = store
        .move_pointer("cond", &Pointer::default(), &promote(None, "9"))
        .await;
    assert!(matches!(ghost, Err(StoreError::Conflict)), "{ghost:?}");
    assert!(store
        .get_version("cond", &version("9"))
        .await
        .expect("get")
        .is_none());
    assert_eq!(
        store.pointer("cond").await.expect("pointer"),
        Pointer::default()
    );
    assert!(store.history("cond").await.expect("history").is_empty());

    store
        .move_pointer("cond", &Pointer::default(), &promote(None, "1"))
        .await
        .expect("first move");
    let now = store.pointer("cond").await.expect("pointer");

    // A second "first" move, a stale move count and a wrong stable version all conflict.
    let stale = [
        Pointer::default(),
        Pointer {
            stable: Some(version("1")),
            moves: 0,
        },
        Pointer {
            stable: Some(version("1")),
            moves: 7,
        },
        Pointer {
            stable: Some(version("2")),
            moves: 1,
        },
    ];
    for expected in stale {
        let from = expected.stable.map(|v| v.to_string());
        let result = store
            .move_pointer("cond", &expected, &promote(from.as_deref(), "2"))
            .await;
        assert!(
            matches!(result, Err(StoreError::Conflict)),
            "{expected:?}: {result:?}"
        );
    }
    assert_eq!(store.pointer("cond").await.expect("pointer"), now);
    assert_eq!(status_of(&store, "cond", "1").await, Status::Stable);
    assert_eq!(status_of(&store, "cond", "2").await, Status::Draft);
    assert_eq!(store.history("cond").await.expect("history").len(), 1);

    // The registry maps the conflict and a backend failure apart: a missing table is a store
    // error (503 on the wire), never a conflict.
    let missing = DynamoStore::new(&moto.config, "no-such-table", store.bucket());
    let registry = Registry::new(missing);
    let err = registry
        .history("cond")
        .await
        .expect_err("the table does not exist");
    assert!(matches!(err, RegistryError::Store(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_and_objects_have_the_documented_layout() {
    let Some(moto) = Moto::start(moto::WHAT).await else {
        return;
    };
    let store = moto::fresh_store(&moto).await;
    let pushed = record("layout.prompt_v2", "1.2", "Hi");
    store.insert_version(&pushed).await.expect("insert");
    store
        .move_pointer(
            "layout.prompt_v2",
            &Pointer::default(),
            &promote(None, "1.2"),
        )
        .await
        .expect("move");

    let items = moto::dynamodb(&moto)
        .scan()
        .table_name(store.table())
        .send()
        .await
        .expect("scan");
    let mut ranges: Vec<String> = items
        .items()
        .iter()
        .map(|item| match item.get(RANGE_KEY) {
            Some(AttributeValue::S(range)) => range.clone(),
            other => panic!("range key: {other:?}"),
        })
        .collect();
    ranges.sort();
    assert_eq!(
        ranges,
        ["#history#00000000000000000001", "#pointer", "1.2.0"]
    );
    let version_item = items
        .items()
        .iter()
        .find(|item| item.get(RANGE_KEY) == Some(&AttributeValue::S("1.2.0".into())))
        .expect("version item");
    assert_eq!(
        version_item.get("version_as_pushed"),
        Some(&AttributeValue::S("1.2".into()))
    );
    assert_eq!(
        version_item.get("status"),
        Some(&AttributeValue::S("stable".into()))
    );
    let Some(AttributeValue::S(s3_key)) = version_item.get("s3_key") else {
        panic!("s3_key: {version_item:?}");
    };
    assert_eq!(
        moto.object_keys(store.bucket()).await,
        std::slice::from_ref(s3_key)
    );
    let digest = promptops_core::hash::sha256_hex(pushed.document.as_bytes());
    assert_eq!(
        s3_key,
        &format!("prompts/layout.prompt_v2/1.2.0/{digest}.json")
    );

    // Versions echo their pushed spelling and round-trip every field.
    let stored = store
        .get_version("layout.prompt_v2", &version("1.2.0"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.meta.version.to_string(), "1.2");
    assert_eq!(stored.meta.tags, pushed.meta.tags);
    assert_eq!(stored.meta.description, pushed.meta.description);
    assert_eq!(stored.document, pushed.document);

    // A tampered object is refused, not served.
    moto.s3()
        .put_object()
        .bucket(store.bucket())
        .key(s3_key)
        .body(b"{\"template\":\"evil\"}".to_vec().into())
        .send()
        .await
        .expect("overwrite behind the store's back");
    let tampered = store.get_version("layout.prompt_v2", &version("1.2")).await;
    assert!(
        matches!(&tampered, Err(StoreError::Corrupt { what, .. }) if what.contains("SHA-256")),
        "{tampered:?}"
    );
}
