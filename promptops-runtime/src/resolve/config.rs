//! The resolver's configuration: the environment variables of the [module docs](super), the
//! cache and budget settings ([`ResolverConfig`]), which tiers to ask, and how the HTTP tier
//! authenticates. The choice of authentication lives here, in one place, so that it can be
//! replaced as a whole.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

#[cfg(feature = "registry-client")]
use super::http;
#[cfg(feature = "registry-aws")]
use super::lambda;
use super::Fetch;
use crate::config::ConfigError;
use crate::def::Version;
use promptops_registry_api::{AuthMode, Mode};

/// Environment variable naming the registry's Lambda function (direct invoke tier).
pub const FUNCTION_ENV: &str = "PROMPT_REGISTRY_FUNCTION";
/// Environment variable holding the registry's base URL (HTTP tier).
pub const URL_ENV: &str = "PROMPT_REGISTRY_URL";
/// Environment variable holding the HTTP tier's bearer token.
pub const TOKEN_ENV: &str = "PROMPTOPS_REGISTRY_TOKEN";
/// Environment variable choosing how the HTTP tier authenticates: `bearer`, `sigv4`, `none`.
pub const AUTH_ENV: &str = "PROMPTOPS_REGISTRY_AUTH";
/// Environment variable holding the mode sent on every request.
pub const MODE_ENV: &str = "PROMPTOPS_REGISTRY_MODE";
/// Environment variable overriding the TTL, in milliseconds.
pub const TTL_ENV: &str = "PROMPTOPS_REGISTRY_TTL_MS";
/// Environment variable overriding the max-stale window, in milliseconds.
pub const MAX_STALE_ENV: &str = "PROMPTOPS_REGISTRY_MAX_STALE_MS";
/// Environment variable overriding the cold budget, in milliseconds.
pub const COLD_BUDGET_ENV: &str = "PROMPTOPS_REGISTRY_COLD_BUDGET_MS";
/// Environment variable overriding the warm budget, in milliseconds.
pub const WARM_BUDGET_ENV: &str = "PROMPTOPS_REGISTRY_WARM_BUDGET_MS";
/// Environment variable pinning versions: `id@version`, comma-separated.
pub const PIN_ENV: &str = "PROMPTOPS_REGISTRY_PIN";

/// The cache and budget settings of a [`Resolver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// The mode sent on every request.
    pub mode: Mode,
    /// How long an answer is fresh.
    pub ttl: Duration,
    /// How long past its TTL the last good answer is served while the registry fails.
    pub max_stale: Duration,
    /// The most a call with nothing usable cached waits for the registry.
    pub cold_budget: Duration,
    /// The most a call with a cached answer waits for its revalidation.
    pub warm_budget: Duration,
    /// The longest one fetch may take before it counts as a failure.
    pub fetch_timeout: Duration,
    /// Consecutive failures that open the circuit.
    pub breaker_threshold: u32,
    /// How long the circuit stays open.
    pub breaker_cooldown: Duration,
    /// Versions pinned for the life of the process, by id.
    pub pins: HashMap<String, Version>,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            mode: Mode::Production,
            ttl: Duration::from_secs(60),
            max_stale: Duration::from_secs(300),
            cold_budget: Duration::from_millis(250),
            warm_budget: Duration::ZERO,
            fetch_timeout: Duration::from_secs(5),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            pins: HashMap::new(),
        }
    }
}

impl ResolverConfig {
    /// The settings from variables read through `lookup` (see the [module docs](self)).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = ResolverConfig::default();
        if let Some(mode) = lookup(MODE_ENV).filter(|mode| !mode.trim().is_empty()) {
            config.mode = mode
                .trim()
                .to_ascii_lowercase()
                .parse()
                .map_err(|_| ConfigError {
                    variable: MODE_ENV,
                    value: mode.trim().to_owned(),
                    problem: "is not one of simulation, dev, staging, production".to_owned(),
                })?;
        }
        let millis = |variable: &'static str, slot: &mut Duration| {
            if let Some(value) = lookup(variable).filter(|value| !value.trim().is_empty()) {
                let parsed: u64 = value.trim().parse().map_err(|_| ConfigError {
                    variable,
                    value: value.clone(),
                    problem: "is not a whole number of milliseconds".to_owned(),
                })?;
                *slot = Duration::from_millis(parsed);
            }
            Ok::<(), ConfigError>(())
        };
        millis(TTL_ENV, &mut config.ttl)?;
        millis(MAX_STALE_ENV, &mut config.max_stale)?;
        millis(COLD_BUDGET_ENV, &mut config.cold_budget)?;
        millis(WARM_BUDGET_ENV, &mut config.warm_budget)?;
        if let Some(pins) = lookup(PIN_ENV) {
            for pin in pins.split(',').map(str::trim).filter(|pin| !pin.is_empty()) {
                let bad = |problem: &str| ConfigError {
                    variable: PIN_ENV,
                    value: pins.clone(),
                    problem: format!("`{pin}` {problem}"),
                };
                let (id, version) = pin
                    .split_once('@')
                    .ok_or_else(|| bad("is not id@version"))?;
                let version: Version = version
                    .parse()
                    .map_err(|_| bad("does not end in a version"))?;
                config.pins.insert(id.to_owned(), version);
            }
        }
        Ok(config)
    }
}

/// The registry tiers a resolver asks, in order.
type Tiers = Vec<Box<dyn Fetch>>;

/// The tiers and settings the variables read through `lookup` ask for (see the
/// [module docs](super)), or `None` when they name no registry.
pub(super) fn from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<(Tiers, ResolverConfig)>, ConfigError> {
    let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let function = set(FUNCTION_ENV);
    let url = set(URL_ENV);
    if function.is_none() && url.is_none() {
        return Ok(None);
    }
    let config = ResolverConfig::from_lookup(&lookup)?;
    let mut tiers: Vec<Box<dyn Fetch>> = Vec::new();
    if let Some(function) = function {
        tiers.push(lambda_tier(function)?);
    }
    if let Some(url) = url {
        let auth = AuthChoice::from_lookup(&url, &set)?;
        tiers.push(http_tier(url, auth)?);
    }
    Ok(Some((tiers, config)))
}

/// How the HTTP tier authenticates, as the environment asks (see the module docs).
#[derive(Clone, PartialEq, Eq)]
enum AuthChoice {
    None,
    Bearer(String),
    SigV4 { region: String },
}

impl fmt::Debug for AuthChoice {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthChoice::None => f.write_str("None"),
            AuthChoice::Bearer(_) => f.write_str("Bearer([redacted])"),
            AuthChoice::SigV4 { region } => {
                f.debug_struct("SigV4").field("region", region).finish()
            }
        }
    }
}

impl AuthChoice {
    /// Reads [`AUTH_ENV`], [`TOKEN_ENV`] and the region variables through `set` (which
    /// answers only variables set to something other than blanks) for the registry at `url`.
    fn from_lookup(
        url: &str,
        set: &impl Fn(&str) -> Option<String>,
    ) -> Result<AuthChoice, ConfigError> {
        let token = set(TOKEN_ENV);
        let asked = set(AUTH_ENV)
            .map(|value| {
                value.parse::<AuthMode>().map_err(|err| ConfigError {
                    variable: AUTH_ENV,
                    value: value.trim().to_owned(),
                    problem: format!("is not one of bearer, sigv4, none ({err})"),
                })
            })
            .transpose()?;
        // The contract's one rule: asked, else the token, else SigV4 for a Function URL.
        match AuthMode::choose(asked, url, token.is_some()) {
            AuthMode::None => return Ok(AuthChoice::None),
            AuthMode::Bearer => {
                return token.map(AuthChoice::Bearer).ok_or_else(|| ConfigError {
                    variable: AUTH_ENV,
                    value: "bearer".to_owned(),
                    problem: format!("needs a token in {TOKEN_ENV}"),
                })
            }
            AuthMode::Sigv4 => {}
        }
        let url_region = promptops_core::function_url::region(url);
        // Asked for, or the default for a Function URL.
        let (variable, value) = match asked {
            Some(mode) => (AUTH_ENV, mode.as_str().to_owned()),
            None => (URL_ENV, url.to_owned()),
        };
        if !cfg!(feature = "registry-aws") {
            return Err(ConfigError {
                variable,
                value,
                problem: "asks for SigV4 signing (a Lambda Function URL with IAM auth), which \
                          this build cannot do: it needs promptops-runtime's `registry-aws` \
                          feature (or set PROMPTOPS_REGISTRY_AUTH=none or bearer)"
                    .to_owned(),
            });
        }
        let region = url_region
            .or_else(|| set("AWS_REGION"))
            .or_else(|| set("AWS_DEFAULT_REGION"))
            .map(|region| region.trim().to_owned())
            .ok_or_else(|| ConfigError {
                variable,
                value,
                problem: "asks for SigV4 signing, which needs a region: the URL is not a Lambda \
                          Function URL (https://<id>.lambda-url.<region>.on.aws) and neither \
                          AWS_REGION nor AWS_DEFAULT_REGION is set"
                    .to_owned(),
            })?;
        Ok(AuthChoice::SigV4 { region })
    }
}

#[cfg(feature = "registry-client")]
fn http_tier(url: String, auth: AuthChoice) -> Result<Box<dyn Fetch>, ConfigError> {
    use promptops_registry_api::client::Credentials;
    let credentials = match auth {
        AuthChoice::None => Credentials::None,
        AuthChoice::Bearer(token) => Credentials::Bearer(token),
        #[cfg(feature = "registry-aws")]
        AuthChoice::SigV4 { region } => Credentials::SigV4(
            promptops_registry_api::client::SigV4::from_env(Some(region)),
        ),
        #[cfg(not(feature = "registry-aws"))]
        AuthChoice::SigV4 { .. } => {
            return Err(ConfigError {
                variable: AUTH_ENV,
                value: "sigv4".to_owned(),
                problem: "needs promptops-runtime's `registry-aws` feature".to_owned(),
            })
        }
    };
    let fetcher =
        http::HttpFetcher::with_credentials(&url, credentials).map_err(|err| ConfigError {
            variable: URL_ENV,
            value: url,
            problem: promptops_core::error::chain(&err),
        })?;
    Ok(Box::new(fetcher))
}

#[cfg(not(feature = "registry-client"))]
fn http_tier(url: String, _auth: AuthChoice) -> Result<Box<dyn Fetch>, ConfigError> {
    Err(ConfigError {
        variable: URL_ENV,
        value: url,
        problem: "is set, but this build has no registry client (promptops-runtime \
                  feature `registry-client`)"
            .to_owned(),
    })
}

#[cfg(feature = "registry-aws")]
fn lambda_tier(function: String) -> Result<Box<dyn Fetch>, ConfigError> {
    let fetcher = lambda::LambdaFetcher::new(&function).map_err(|err| ConfigError {
        variable: FUNCTION_ENV,
        value: function,
        problem: promptops_core::error::chain(&err),
    })?;
    Ok(Box::new(fetcher))
}

#[cfg(not(feature = "registry-aws"))]
fn lambda_tier(function: String) -> Result<Box<dyn Fetch>, ConfigError> {
    Err(ConfigError {
        variable: FUNCTION_ENV,
        value: function,
        problem: "is set, but this build has no direct Lambda invoke tier (promptops-runtime \
                  feature `registry-aws`); build with it, or set PROMPT_REGISTRY_URL to the \
                  registry's URL instead"
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::Resolver;
    // Only the test of the Lambda tier's order names a source.
    #[cfg(feature = "registry-aws")]
    use super::super::Source;
    use super::*;

    #[test]
    fn configuration_reads_the_documented_variables() {
        let vars: HashMap<&str, &str> = [
            (MODE_ENV, "Staging"),
            (TTL_ENV, "1000"),
            (MAX_STALE_ENV, "2000"),
            (COLD_BUDGET_ENV, "30"),
            (WARM_BUDGET_ENV, "5"),
            (PIN_ENV, "a.b@2, c@1.2"),
        ]
        .into();
        let config =
            ResolverConfig::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(config.mode, Mode::Staging);
        assert_eq!(config.ttl, Duration::from_secs(1));
        assert_eq!(config.max_stale, Duration::from_secs(2));
        assert_eq!(config.cold_budget, Duration::from_millis(30));
        assert_eq!(config.warm_budget, Duration::from_millis(5));
        assert_eq!(config.pins.get("a.b"), Some(&Version::new(2)));
        assert_eq!(
            config.pins.get("c").map(ToString::to_string).as_deref(),
            Some("1.2")
        );

        let defaults = ResolverConfig::from_lookup(|_| None).unwrap();
        assert_eq!(defaults, ResolverConfig::default());
        assert_eq!(defaults.mode, Mode::Production);
        assert_eq!(defaults.ttl, Duration::from_secs(60));
        assert_eq!(defaults.cold_budget, Duration::from_millis(250));
        assert_eq!(defaults.warm_budget, Duration::ZERO);

        for (name, value, needle) in [
            (MODE_ENV, "prod", "is not one of"),
            (TTL_ENV, "1s", "milliseconds"),
            (PIN_ENV, "a.b", "id@version"),
            (PIN_ENV, "a.b@x", "version"),
        ] {
            let err =
                ResolverConfig::from_lookup(|n| (n == name).then(|| value.to_owned())).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    /// `AuthChoice::from_lookup` over `vars`, as `Resolver::from_lookup` calls it.
    fn auth(url: &str, vars: &[(&str, &str)]) -> Result<AuthChoice, ConfigError> {
        let set = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
                .filter(|value| !value.trim().is_empty())
        };
        AuthChoice::from_lookup(url, &set)
    }

    const FUNCTION_URL: &str = "https://abc123.lambda-url.eu-west-1.on.aws/";

    #[test]
    fn the_http_tier_authenticates_as_configured() {
        let local = "http://127.0.0.1:8080";
        let bearer = AuthChoice::Bearer("t0k3n".to_owned());
        // Defaults: the token if set, else SigV4 for a Function URL, else nothing.
        assert_eq!(auth(local, &[]).unwrap(), AuthChoice::None);
        assert_eq!(auth(local, &[(TOKEN_ENV, "t0k3n")]).unwrap(), bearer);
        assert_eq!(auth(FUNCTION_URL, &[(TOKEN_ENV, "t0k3n")]).unwrap(), bearer);
        let function_default = auth(FUNCTION_URL, &[(AWS_REGION, "us-east-1")]);
        if cfg!(feature = "registry-aws") {
            // The Function URL's own region wins over AWS_REGION.
            assert_eq!(
                function_default.unwrap(),
                AuthChoice::SigV4 {
                    region: "eu-west-1".to_owned()
                }
            );
        } else {
            let err = function_default.unwrap_err();
            assert_eq!(err.variable, URL_ENV);
            assert!(err.to_string().contains("`registry-aws` feature"), "{err}");
        }

        // Asked for explicitly.
        assert_eq!(
            auth(FUNCTION_URL, &[(AUTH_ENV, "none"), (TOKEN_ENV, "t0k3n")]).unwrap(),
            AuthChoice::None
        );
        assert_eq!(
            auth(
                FUNCTION_URL,
                &[(AUTH_ENV, " Bearer "), (TOKEN_ENV, "t0k3n")]
            )
            .unwrap(),
            bearer
        );
        for (vars, needle) in [
            (
                &[(AUTH_ENV, "bearer")][..],
                "needs a token in PROMPTOPS_REGISTRY_TOKEN",
            ),
            (
                &[(AUTH_ENV, "iam")][..],
                "is not one of bearer, sigv4, none",
            ),
        ] {
            let err = auth(local, vars).unwrap_err();
            assert_eq!(err.variable, AUTH_ENV);
            assert!(err.to_string().contains(needle), "{err}");
        }
        let sigv4 = |vars: &[(&str, &str)]| auth(local, &[&[(AUTH_ENV, "sigv4")], vars].concat());
        if cfg!(feature = "registry-aws") {
            let region = |region: &str| AuthChoice::SigV4 {
                region: region.to_owned(),
            };
            assert_eq!(
                sigv4(&[(AWS_REGION, "eu-north-1")]).unwrap(),
                region("eu-north-1")
            );
            assert_eq!(
                sigv4(&[("AWS_DEFAULT_REGION", "ap-south-1")]).unwrap(),
                region("ap-south-1")
            );
            assert_eq!(
                sigv4(&[(AWS_REGION, "eu-north-1"), (TOKEN_ENV, "t0k3n")]).unwrap(),
                region("eu-north-1"),
                "an explicit sigv4 wins over a token"
            );
            let err = sigv4(&[]).unwrap_err();
            assert_eq!(err.variable, AUTH_ENV);
            assert!(err.to_string().contains("needs a region"), "{err}");
            assert!(err.to_string().contains("AWS_REGION"), "{err}");
        } else {
            let err = sigv4(&[(AWS_REGION, "eu-north-1")]).unwrap_err();
            assert_eq!(err.variable, AUTH_ENV);
            assert!(err.to_string().contains("`registry-aws` feature"), "{err}");
        }
        assert!(!format!("{bearer:?}").contains("t0k3n"));
    }

    const AWS_REGION: &str = "AWS_REGION";

    #[cfg(feature = "registry-aws")]
    #[test]
    fn the_resolver_from_the_environment_signs_for_a_function_url() {
        let resolver =
            Resolver::from_lookup(|name| (name == URL_ENV).then(|| FUNCTION_URL.to_owned()))
                .unwrap()
                .expect("configured");
        let text = format!("{resolver:?}");
        assert!(
            text.contains(r#"SigV4(SigV4 { region: Some("eu-west-1")"#),
            "{text}"
        );
        let resolver = Resolver::from_lookup(|name| match name {
            URL_ENV => Some(FUNCTION_URL.to_owned()),
            TOKEN_ENV => Some("t0k3n".to_owned()),
            _ => None,
        })
        .unwrap()
        .expect("configured");
        let text = format!("{resolver:?}");
        assert!(
            text.contains("Bearer([redacted])") && !text.contains("t0k3n"),
            "{text}"
        );
    }

    #[test]
    fn no_registry_variable_means_no_resolver() {
        assert!(Resolver::from_lookup(|_| None).unwrap().is_none());
        assert!(
            Resolver::from_lookup(|n| (n == URL_ENV).then(|| " ".to_owned()))
                .unwrap()
                .is_none()
        );
    }

    #[cfg(not(feature = "registry-aws"))]
    #[test]
    fn a_function_without_the_lambda_tier_is_a_configuration_error() {
        let err = Resolver::from_lookup(|n| (n == FUNCTION_ENV).then(|| "registry".to_owned()))
            .unwrap_err();
        assert_eq!(err.variable, FUNCTION_ENV);
        assert!(err.to_string().contains("registry-aws"), "{err}");
    }

    #[cfg(feature = "registry-aws")]
    #[test]
    fn a_function_comes_before_the_url_and_both_are_tiers() {
        let resolver = Resolver::from_lookup(|n| match n {
            FUNCTION_ENV => Some("arn:aws:lambda:eu-west-1:123456789012:function:registry".into()),
            URL_ENV => Some("https://registry.example".into()),
            _ => None,
        })
        .unwrap()
        .expect("a resolver");
        let sources: Vec<Source> = resolver.inner.tiers.iter().map(|t| t.source()).collect();
        assert_eq!(sources, [Source::Lambda, Source::Http]);
        let err = Resolver::from_lookup(|n| (n == FUNCTION_ENV).then(|| "two words".to_owned()))
            .unwrap_err();
        assert_eq!(err.variable, FUNCTION_ENV);
    }
}
