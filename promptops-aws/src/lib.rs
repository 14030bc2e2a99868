//! The AWS SDK configuration every promptops crate builds its clients from.
//!
//! The SDK's default HTTPS client uses rustls with aws-lc-rs, whose `aws-lc-sys` build needs
//! cmake and a long C compile. promptops builds every client (Bedrock, DynamoDB, S3, Lambda) on
//! rustls with the *ring* provider instead: [`https_client`] is that client, and [`load`] is the
//! standard configuration chain (region, credentials, profiles, `AWS_ENDPOINT_URL`) with it.
//! [`sigv4`] signs requests made with other HTTP clients (a Lambda Function URL with IAM auth)
//! with credentials from that chain.
//!
//! ```no_run
//! # async fn example() {
//! let config = promptops_aws::load().await;
//! // e.g. aws_sdk_s3::Client::new(&config)
//! # let _ = config;
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod sigv4;

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

pub use aws_config::SdkConfig;
pub use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// An HTTPS (and plain HTTP, for local endpoints) client using rustls with the *ring* crypto
/// provider.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Loads the standard AWS configuration chain (environment, profiles, SSO, instance and
/// container credentials; `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_*`) with
/// [`https_client`] as every client's HTTP client.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// An S3 client on `config` (with [`https_client`] when `config` has no HTTP client). When the
/// S3 endpoint is overridden (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, or an endpoint set on
/// `config`), it addresses buckets path-style: local S3 stand-ins such as moto serve no bucket
/// subdomains. Every promptops S3 client is built here.
#[cfg(feature = "s3")]
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let mut s3 = aws_sdk_s3::config::Builder::from(config);
    if config.http_client().is_none() {
        s3 = s3.http_client(https_client());
    }
    let endpoint_overridden = config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|url| !url.is_empty());
    aws_sdk_s3::Client::from_conf(s3.force_path_style(endpoint_overridden).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_loaded_configuration_carries_our_client_and_the_environment_endpoint() {
        // Reading the environment is all `load` does here: no credentials are resolved and no
        // request is sent.
        std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        std::env::set_var("AWS_REGION", "eu-west-3");
        let config = load().await;
        assert!(config.http_client().is_some());
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:9"));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-3"));
    }
}
