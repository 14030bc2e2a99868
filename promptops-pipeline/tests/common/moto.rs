//! moto's standalone server (PyPI `moto[server]`) as a child process, for the pipeline's S3
//! tests, with S3 clients and buckets.
//!
//! The server itself (launcher, port, CI rule) is `promptops_tests::moto`.
#![allow(dead_code)]

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
        let server = tokio::task::spawn_blocking(|| MotoServer::start("pipeline on S3"))
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

    /// An S3 client on this server (path-style).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A fresh bucket.
    pub async fn fresh_bucket(&self) -> String {
        let bucket = unique_name("prompt-pipeline");
        self.s3()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket on moto");
        bucket
    }

    /// The keys of every object in `bucket`, sorted.
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
