//! moto's standalone server (PyPI `moto[server]`) as a child process, for the DynamoDB + S3
//! store's tests.
//!
//! Each [`Moto`] is its own server on a free loopback port, killed on drop. It serves one
//! request at a time: moto's stock threaded server takes no locks in its backends, so there two
//! conditional writes (or two transactions) racing on one item can both pass. Serialized, the
//! tests prove that the store's conditions and transactions are the right ones; on AWS,
//! DynamoDB itself makes them atomic.
//!
//! The server itself (launcher, port, CI rule) is `promptops_tests::moto`.

use promptops_registry::store::dynamo::aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use promptops_registry::store::dynamo::{
    aws_sdk_dynamodb, aws_sdk_s3, DynamoStore, HASH_KEY, RANGE_KEY,
};
pub use promptops_tests::moto::unique_name;
use promptops_tests::moto::MotoServer;

/// A running moto server with an SDK configuration for it.
pub struct Moto {
    /// The server: held so it lives as long as this, and is killed on drop.
    _server: MotoServer,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// An SDK configuration pointing at it (static test credentials, `us-east-1`).
    pub config: aws_config::SdkConfig,
}

impl Moto {
    /// Starts moto (see [`MotoServer::start`]: `None` means skipped, outside CI only).
    pub async fn start() -> Option<Moto> {
        let server = tokio::task::spawn_blocking(|| MotoServer::start("DynamoDB + S3 store"))
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))?;
        let endpoint = server.endpoint.clone();
        let config = promptops_tests::local_sdk_config(&endpoint);
        Some(Moto {
            _server: server,
            endpoint,
            config,
        })
    }

    /// A DynamoDB client on this server.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    /// An S3 client on this server (path-style, as the store's).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A fresh table (the seed's key schema) and bucket, and a store over them.
    pub async fn fresh_store(&self) -> DynamoStore {
        let table = unique_name("prompts");
        let bucket = unique_name("prompt-docs");
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key schema")
        };
        self.dynamodb()
            .create_table()
            .table_name(&table)
            .attribute_definitions(attribute(HASH_KEY))
            .attribute_definitions(attribute(RANGE_KEY))
            .key_schema(key(HASH_KEY, KeyType::Hash))
            .key_schema(key(RANGE_KEY, KeyType::Range))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("create table on moto");
        self.s3()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket on moto");
        DynamoStore::new(&self.config, table, bucket)
    }

    /// The keys of every object in `bucket`.
    pub async fn object_keys(&self, bucket: &str) -> Vec<String> {
        let objects = self
            .s3()
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list objects");
        let mut keys: Vec<String> = objects
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }
}
