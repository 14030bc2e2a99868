//! AWS Signature Version 4 for plain HTTP requests: what a caller of a Lambda Function URL with
//! `AuthType = AWS_IAM` (the prompt registry's) must send.
//!
//! The AWS SDK signs its own clients' requests; a request made with any other HTTP client
//! (reqwest in the runtime and the CLI) needs [`Signer`]. It computes the headers with the
//! SDK's signer (`aws-sigv4`) and takes credentials from a [`SharedCredentialsProvider`] —
//! usually the standard chain of [`crate::load`] — which it caches until shortly before they
//! expire: on ECS or EC2 asking the provider is an HTTP round trip, so it is never asked per
//! request.
//!
//! The API knows nothing of any HTTP client: give it the method, URL, the headers to sign and
//! the body; add the headers it returns to the request and send exactly that URL.
//!
//! ```no_run
//! # async fn example() -> Result<(), promptops_aws::sigv4::SignError> {
//! use promptops_aws::sigv4::{function_url_region, Signer};
//!
//! let url = "https://abc123.lambda-url.eu-west-1.on.aws/prompts/support.greet?mode=production";
//! let signer = Signer::from_env(function_url_region(url).as_deref()).await?;
//! for (name, value) in signer.sign("GET", url, &[], b"").await? {
//!     // request = request.header(name, value);
//! #   let _ = (name, value);
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials as _;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tokio::sync::Mutex;

use crate::SdkConfig;

pub use aws_credential_types::provider::SharedCredentialsProvider;
pub use aws_credential_types::Credentials;

/// The signing name of Lambda, which Function URLs are signed for.
pub const LAMBDA_SERVICE: &str = "lambda";

/// Cached credentials are replaced this long before they expire (or half-way through a shorter
/// remaining lifetime), so a request is never signed with credentials about to lapse.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Headers the signer sets itself; any the caller passes are ignored.
const SIGNER_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Why a request could not be signed. The text never contains a secret key or a session token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The credentials provider failed (no credentials configured, an unreachable metadata
    /// endpoint, an expired SSO session, ...).
    #[error("cannot load AWS credentials: {0}")]
    Credentials(String),
    /// The configuration has no credentials provider at all.
    #[error("no AWS credentials provider is configured")]
    NoCredentialsProvider,
    /// No region was given and the configuration has none.
    #[error(
        "no AWS region to sign for: set AWS_REGION (or use a Function URL, which names its region)"
    )]
    NoRegion,
    /// The URL cannot be signed (not absolute, no host, not `http`/`https`).
    #[error("cannot sign a request to `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The signer refused the request (e.g. a header value that is not valid text).
    #[error("cannot sign the request: {0}")]
    Signing(String),
}

/// Credentials in the cache, and when to replace them.
struct Cached {
    credentials: Credentials,
    refresh_at: Option<SystemTime>,
}

/// Signs HTTP requests with SigV4 for one region and service (by default `lambda`), with
/// cached credentials from a provider. Cheap to share behind an `Arc`; signing takes `&self`.
pub struct Signer {
    provider: SharedCredentialsProvider,
    region: String,
    service: String,
    /// Held across a refresh, so concurrent requests share one provider call.
    cache: Mutex<Option<Cached>>,
}

impl fmt::Debug for Signer {
    // Credentials never printed: only whether some are cached, and until when.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self
            .cache
            .try_lock()
            .map(|cache| match cache.as_ref() {
                None => "none".to_owned(),
                Some(cached) => match cached.credentials.expiry() {
                    Some(expiry) => format!("[redacted], expiring {expiry:?}"),
                    None => "[redacted], not expiring".to_owned(),
                },
            })
            .unwrap_or_else(|_| "[refreshing]".to_owned());
        f.debug_struct("Signer")
            .field("region", &self.region)
            .field("service", &self.service)
            .field("credentials", &cached)
            .finish()
    }
}

impl Signer {
    /// A signer for `lambda` in `region` taking credentials from `provider` (for example
    /// `SharedCredentialsProvider::new(Credentials::new(...))` for static credentials).
    pub fn new(provider: SharedCredentialsProvider, region: impl Into<String>) -> Self {
        Signer {
            provider,
            region: region.into(),
            service: LAMBDA_SERVICE.to_owned(),
            cache: Mutex::new(None),
        }
    }

    /// A signer for `lambda` with the credentials provider of `config`, in `region` if given,
    /// else in the configuration's region.
    pub fn from_config(config: &SdkConfig, region: Option<&str>) -> Result<Self, SignError> {
        let provider = config
            .credentials_provider()
            .ok_or(SignError::NoCredentialsProvider)?;
        let region = match region {
            Some(region) => region.to_owned(),
            None => config
                .region()
                .map(|region| region.as_ref().to_owned())
                .ok_or(SignError::NoRegion)?,
        };
        Ok(Signer::new(provider, region))
    }

    /// A signer for `lambda` with the standard AWS configuration chain ([`crate::load`]:
    /// environment, profiles, SSO, container and instance credentials), in `region` if given,
    /// else in the configured region. No credentials are fetched until the first request.
    pub async fn from_env(region: Option<&str>) -> Result<Self, SignError> {
        Signer::from_config(&crate::load().await, region)
    }

    /// The same signer for another service's signing name (e.g. `execute-api`).
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service signing name (`lambda` unless [`with_service`](Self::with_service) changed
    /// it).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The headers that sign a request now: `authorization`, `x-amz-date`,
    /// `x-amz-content-sha256` (the body's SHA-256) and, with temporary credentials,
    /// `x-amz-security-token`.
    ///
    /// `url` is the exact, already percent-encoded URL that will be sent (scheme, host, path
    /// and query); `headers` are the request's other headers to cover by the signature
    /// (`content-type`, `if-none-match`, ...). The host comes from the URL. Headers the
    /// signer sets itself, and `user-agent`, are not signed.
    pub async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, SignError> {
        self.sign_at(method, url, headers, body, SystemTime::now())
            .await
    }

    /// Like [`sign`](Self::sign), with the signature's timestamp `time` instead of now (for
    /// tests and reproducible signatures). Credentials are still cached by the real clock.
    pub async fn sign_at(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        check_url(url)?;
        let identity: Identity = self.credentials().await?.into();
        let mut settings = SigningSettings::default();
        // The body's hash in a header of its own: Function URLs behind CloudFront need it, and
        // it costs nothing elsewhere.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|err| SignError::Signing(err.to_string()))?
            .into();
        let headers = headers
            .iter()
            .filter(|(name, _)| {
                !SIGNER_HEADERS
                    .iter()
                    .any(|own| name.eq_ignore_ascii_case(own))
            })
            .copied();
        let request = SignableRequest::new(method, url, headers, SignableBody::Bytes(body))
            .map_err(|err| SignError::Signing(err.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|err| SignError::Signing(err.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }

    /// The cached credentials, replaced first when they are due.
    async fn credentials(&self) -> Result<Credentials, SignError> {
        let mut cache = self.cache.lock().await;
        let now = SystemTime::now();
        if let Some(cached) = cache.as_ref() {
            if cached.refresh_at.is_none_or(|at| now < at) {
                return Ok(cached.credentials.clone());
            }
        }
        match self.provider.provide_credentials().await {
            Ok(credentials) => {
                let refresh_at = credentials.expiry().map(|expiry| refresh_at(now, expiry));
                *cache = Some(Cached {
                    credentials: credentials.clone(),
                    refresh_at,
                });
                Ok(credentials)
            }
            Err(err) => match cache.as_ref() {
                // Due for refresh but not expired yet: keep signing with them; the next
                // request tries the provider again.
                Some(cached)
                    if cached
                        .credentials
                        .expiry()
                        .is_none_or(|expiry| now < expiry) =>
                {
                    Ok(cached.credentials.clone())
                }
                _ => Err(SignError::Credentials(promptops_core::error::chain(&err))),
            },
        }
    }
}

/// When credentials fetched at `now` and expiring at `expiry` are replaced.
fn refresh_at(now: SystemTime, expiry: SystemTime) -> SystemTime {
    let remaining = expiry.duration_since(now).unwrap_or(Duration::ZERO);
    now + remaining.saturating_sub(REFRESH_BEFORE_EXPIRY.min(remaining / 2))
}

/// Refuses what the signer cannot sign, before it would panic on a URL without a host.
fn check_url(url: &str) -> Result<(), SignError> {
    let invalid = |reason: &str| SignError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|err: http::uri::InvalidUri| invalid(&err.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(invalid("it must start with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    Ok(())
}

/// The region of a Lambda Function URL (the one parser, in promptops-core, so a runtime built
/// without AWS support recognises the same URLs).
pub use promptops_core::function_url::region as function_url_region;

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_credential_types::provider::{self, error::CredentialsError, ProvideCredentials};
    use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
    use sha2::{Digest, Sha256};

    use super::*;

    const ACCESS_KEY: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "session-token-EXAMPLE/abc==";

    fn signer(token: Option<&str>) -> Signer {
        let credentials =
            Credentials::new(ACCESS_KEY, SECRET, token.map(str::to_owned), None, "test");
        Signer::new(SharedCredentialsProvider::new(credentials), "eu-west-1")
    }

    /// 2015-08-30T12:36:00Z, the AWS SigV4 test suite's time.
    fn fixed_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn hex_sha256(bytes: &[u8]) -> String {
        format!("{:x}", Sha256::digest(bytes))
    }

    #[tokio::test]
    async fn a_post_is_signed_as_the_sigv4_specification_says() {
        let body = br#"{"version":"2"}"#;
        let url =
            "https://abc123.lambda-url.eu-west-1.on.aws/prompts/support.greet/promote?z=1&a=b%20c";
        let headers = signer(None)
            .sign_at(
                "POST",
                url,
                &[
                    ("Content-Type", "application/json"),
                    ("User-Agent", "test/1"),
                ],
                body,
                fixed_time(),
            )
            .await
            .unwrap();
        assert_eq!(header(&headers, "x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            header(&headers, "x-amz-content-sha256"),
            Some(hex_sha256(body).as_str())
        );
        assert_eq!(header(&headers, "x-amz-security-token"), None);

        // The canonical request and string to sign, written out by hand from the specification
        // (query sorted by key, headers lowercased and sorted, user-agent not signed); the
        // signing key and HMAC from aws-sigv4's primitives.
        let payload = hex_sha256(body);
        let signed_headers = "content-type;host;x-amz-content-sha256;x-amz-date";
        let canonical = format!(
            "POST\n/prompts/support.greet/promote\na=b%20c&z=1\ncontent-type:application/json\n\
             host:abc123.lambda-url.eu-west-1.on.aws\nx-amz-content-sha256:{payload}\n\
             x-amz-date:20150830T123600Z\n\n{signed_headers}\n{payload}"
        );
        let scope = "20150830/eu-west-1/lambda/aws4_request";
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n20150830T123600Z\n{scope}\n{}",
            hex_sha256(canonical.as_bytes())
        );
        let key = generate_signing_key(SECRET, fixed_time(), "eu-west-1", "lambda");
        let signature = calculate_signature(key, string_to_sign.as_bytes());
        assert_eq!(
            header(&headers, "authorization"),
            Some(
                format!(
                    "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, \
                     SignedHeaders={signed_headers}, Signature={signature}"
                )
                .as_str()
            )
        );
    }

    #[tokio::test]
    async fn a_session_token_is_sent_and_signed_only_when_there_is_one() {
        let url = "http://127.0.0.1:8080/prompts/a?mode=production";
        let with = signer(Some(TOKEN))
            .sign_at("GET", url, &[], b"", fixed_time())
            .await
            .unwrap();
        assert_eq!(header(&with, "x-amz-security-token"), Some(TOKEN));
        let authorization = header(&with, "authorization").unwrap();
        assert!(
            authorization.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"
            ),
            "{authorization}"
        );

        let without = signer(None)
            .sign_at("GET", url, &[], b"", fixed_time())
            .await
            .unwrap();
        assert_eq!(header(&without, "x-amz-security-token"), None);
        assert!(header(&without, "authorization")
            .unwrap()
            .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));
        // Same request, different credentials: different signatures.
        assert_ne!(
            header(&with, "authorization"),
            header(&without, "authorization")
        );
    }

    #[tokio::test]
    async fn headers_the_signer_owns_are_not_taken_from_the_caller() {
        let headers = signer(None)
            .sign_at(
                "GET",
                "https://example.com/x",
                &[
                    ("X-Amz-Date", "19990101T000000Z"),
                    ("authorization", "Bearer x"),
                ],
                b"",
                fixed_time(),
            )
            .await
            .unwrap();
        assert_eq!(header(&headers, "x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(headers.len(), 3, "{headers:?}");
    }

    #[tokio::test]
    async fn urls_that_cannot_be_signed_are_errors_not_panics() {
        for url in [
            "/prompts/a",
            "ftp://example.com/x",
            "not a url",
            "http:///x",
        ] {
            let err = signer(None).sign("GET", url, &[], b"").await.unwrap_err();
            assert!(matches!(err, SignError::InvalidUrl { .. }), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn debug_and_errors_never_show_secrets() {
        let signer = signer(Some(TOKEN));
        signer
            .sign("GET", "https://example.com/", &[], b"")
            .await
            .unwrap();
        let text = format!("{signer:?}");
        assert!(
            text.contains("eu-west-1") && text.contains("[redacted]"),
            "{text}"
        );
        assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");

        let err = signer.sign("GET", "nope", &[], b"").await.unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");
        }
    }

    /// A provider that counts its calls and hands out credentials expiring `lifetime` after
    /// each call (or fails).
    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
        fail_after: usize,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call >= self.fail_after {
                return provider::future::ProvideCredentials::ready(Err(
                    CredentialsError::provider_error("metadata endpoint unreachable"),
                ));
            }
            let expiry = self.lifetime.map(|lifetime| SystemTime::now() + lifetime);
            provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                ACCESS_KEY,
                format!("{SECRET}{call}"),
                Some(TOKEN.to_owned()),
                expiry,
                "counting",
            )))
        }
    }

    fn counting(lifetime: Option<Duration>, fail_after: usize) -> (Signer, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let provider = Counting {
            calls: Arc::clone(&calls),
            lifetime,
            fail_after,
        };
        (
            Signer::new(SharedCredentialsProvider::new(provider), "eu-west-1"),
            calls,
        )
    }

    async fn sign_once(signer: &Signer) -> Result<Vec<(String, String)>, SignError> {
        signer
            .sign("GET", "https://example.com/prompts/a", &[], b"")
            .await
    }

    #[tokio::test]
    async fn credentials_are_cached_until_shortly_before_they_expire() {
        // Six hours to live: one provider call for many requests.
        let (signer, calls) = counting(Some(Duration::from_secs(6 * 3600)), usize::MAX);
        for _ in 0..5 {
            sign_once(&signer).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Concurrent first requests share one provider call.
        let (signer, calls) = counting(None, usize::MAX);
        let signer = Arc::new(signer);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let signer = Arc::clone(&signer);
                tokio::spawn(async move { sign_once(&signer).await.map(|_| ()) })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Already expired when handed out: every request asks again.
        let (signer, calls) = counting(Some(Duration::ZERO), usize::MAX);
        for _ in 0..3 {
            sign_once(&signer).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        // Two seconds to live: due for refresh after one second (half-way), not before.
        let (signer, calls) = counting(Some(Duration::from_secs(2)), usize::MAX);
        sign_once(&signer).await.unwrap();
        sign_once(&signer).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        sign_once(&signer).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failing_provider_is_an_error_unless_unexpired_credentials_are_cached() {
        let (signer, _) = counting(None, 0);
        let err = sign_once(&signer).await.unwrap_err();
        assert!(matches!(err, SignError::Credentials(_)), "{err:?}");
        assert!(
            err.to_string().contains("metadata endpoint unreachable"),
            "{err}"
        );

        // Due for refresh (half of two seconds gone), still valid: the refresh fails and the
        // cached credentials keep signing.
        let (signer, calls) = counting(Some(Duration::from_secs(2)), 1);
        sign_once(&signer).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        sign_once(&signer).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Expired and the provider still failing: an error.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(matches!(
            sign_once(&signer).await,
            Err(SignError::Credentials(_))
        ));
    }

    #[test]
    fn refresh_is_five_minutes_early_or_half_way() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        assert_eq!(
            refresh_at(now, now + hour),
            now + hour - REFRESH_BEFORE_EXPIRY
        );
        assert_eq!(
            refresh_at(now, now + Duration::from_secs(120)),
            now + Duration::from_secs(60)
        );
        assert_eq!(refresh_at(now, now - hour), now);
    }

    #[test]
    fn a_configuration_without_a_region_is_an_error_unless_one_is_given() {
        let config = SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY, SECRET, None, None, "test",
            )))
            .build();
        assert_eq!(
            Signer::from_config(&config, None).unwrap_err(),
            SignError::NoRegion
        );
        let signer = Signer::from_config(&config, Some("eu-north-1")).unwrap();
        assert_eq!(
            (signer.region(), signer.service()),
            ("eu-north-1", "lambda")
        );
        assert_eq!(
            Signer::from_config(&SdkConfig::builder().build(), Some("x")).unwrap_err(),
            SignError::NoCredentialsProvider
        );
    }
}
