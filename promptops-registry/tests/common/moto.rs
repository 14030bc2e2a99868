//! The DynamoDB + S3 store on moto's standalone server (`promptops_tests::moto`, which says why
//! each server serves one request at a time): a table with the seed's key schema and a bucket,
//! fresh for each test.

use promptops_registry::store::dynamo::aws_sdk_dynamodb;
use promptops_registry::store::dynamo::aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use promptops_registry::store::dynamo::{DynamoStore, HASH_KEY, RANGE_KEY};
use promptops_tests::moto::{unique_name, Moto};

/// What the DynamoDB + S3 tests start moto for, in the message a skipped test prints.
pub const WHAT: &str = "DynamoDB + S3 store";

/// A DynamoDB client on `moto`.
pub fn dynamodb(moto: &Moto) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&moto.config)
}

/// A fresh table (the seed's key schema) and bucket on `moto`, and a store over them.
pub async fn fresh_store(moto: &Moto) -> DynamoStore {
    let table = unique_name("prompts");
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
    dynamodb(moto)
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
    let bucket = moto.fresh_bucket("prompt-docs").await;
    DynamoStore::new(&moto.config, table, bucket)
}
