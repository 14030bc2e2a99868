//! The DynamoDB + S3 store configured the way a deployment configures it: from the standard
//! AWS environment, where one `AWS_ENDPOINT_URL` points both SDK clients at a local server
//! (here moto; S3 then uses path-style addressing).
//!
//! A test binary of its own with a single test, because it sets process environment variables.

#[path = "common/moto.rs"]
mod moto;

use promptops_core::{Status, Version};
use promptops_registry::store::dynamo::DynamoStore;
use promptops_registry::store::{Inserted, VersionMeta, VersionRecord};
use promptops_registry::Store;
use promptops_tests::moto::Moto;

#[test]
fn the_standard_aws_environment_points_both_clients_at_one_endpoint() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let Some(moto) = Moto::start(moto::WHAT).await else {
            return;
        };
        let prepared = moto::fresh_store(&moto).await;

        // A host name, not an IP address: with an IP the SDK falls back to path-style S3 on its
        // own, so only a name shows that the store asks for it.
        let endpoint = moto.endpoint().replace("127.0.0.1", "localhost");
        // Only this test runs in this process, and nothing reads the environment meanwhile.
        for (name, value) in [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_CONFIG_FILE", "/nonexistent/promptops-test-config"),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/promptops-test-credentials",
            ),
        ] {
            std::env::set_var(name, value);
        }
        for name in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL_DYNAMODB",
        ] {
            std::env::remove_var(name);
        }

        let store = DynamoStore::from_env(prepared.table(), prepared.bucket()).await;
        let version: Version = "1.0.0".parse().expect("version");
        let record = VersionRecord {
            prompt_id: "env.check".to_owned(),
            meta: VersionMeta {
                version,
                status: Status::Draft,
                content_hash: "0".repeat(64),
                description: None,
                tags: Vec::new(),
                created_at: "2026-01-01T00:00:00Z".to_owned(),
                created_by: "tester".to_owned(),
            },
            document: "{}".to_owned(),
        };
        assert_eq!(
            store.insert_version(&record).await.expect("insert"),
            Inserted::Created
        );
        let stored = store
            .get_version("env.check", &version)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(stored.document, "{}");
        assert_eq!(stored.meta, record.meta);
        assert_eq!(moto.object_keys(prepared.bucket()).await.len(), 1);
    });
}
