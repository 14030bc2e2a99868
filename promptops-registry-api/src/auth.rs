//! How a client authenticates: the one rule every client of the registry follows.

use std::fmt;
use std::str::FromStr;

/// How a client authenticates (`--auth`, `PROMPTOPS_REGISTRY_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// `Authorization: Bearer TOKEN` (a registry served with a tokens file).
    Bearer,
    /// A SigV4 signature for the service `lambda` (a Lambda Function URL with
    /// `AuthType = AWS_IAM`), with the AWS credentials of the standard chain.
    Sigv4,
    /// No credentials (a local registry, or a Function URL with `AuthType = NONE`).
    None,
}

impl AuthMode {
    /// The spelling in `--auth` and `PROMPTOPS_REGISTRY_AUTH`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMode::Bearer => "bearer",
            AuthMode::Sigv4 => "sigv4",
            AuthMode::None => "none",
        }
    }

    /// **The** rule: the mode asked for, else `bearer` when a token is set, else `sigv4` when
    /// `base` is a Lambda Function URL (`https://<id>.lambda-url.<region>.on.aws`, which only
    /// a signature gets through), else `none`.
    pub fn choose(asked: Option<AuthMode>, base: &str, has_token: bool) -> AuthMode {
        match asked {
            Some(mode) => mode,
            None if has_token => AuthMode::Bearer,
            None if function_url_region(base).is_some() => AuthMode::Sigv4,
            None => AuthMode::None,
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An auth mode that is none of `bearer`, `sigv4`, `none`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of bearer, sigv4, none")]
pub struct UnknownAuthMode(pub String);

impl FromStr for AuthMode {
    type Err = UnknownAuthMode;

    /// Parses a mode, ignoring case and surrounding blanks (it comes from the environment).
    fn from_str(text: &str) -> Result<AuthMode, UnknownAuthMode> {
        [AuthMode::Bearer, AuthMode::Sigv4, AuthMode::None]
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownAuthMode(text.to_owned()))
    }
}

/// The region of a Lambda Function URL, `https://<url-id>.lambda-url.<region>.on.aws/...`, or
/// `None` for any other URL.
pub fn function_url_region(url: &str) -> Option<String> {
    let rest = url.trim();
    let scheme_end = rest.find("://")?;
    if !rest[..scheme_end].eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = &rest[scheme_end + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, "443")) => host,
        Some(_) => return None,
        None => authority,
    };
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let [id, "lambda-url", region, "on", "aws"] = labels.as_slice() else {
        return None;
    };
    let label = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (label(id) && label(region)).then(|| (*region).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_token_then_sigv4_for_a_function_url_then_nothing() {
        let function_url = "https://abc123.lambda-url.eu-west-1.on.aws";
        let local = "http://127.0.0.1:8080";
        assert_eq!(AuthMode::choose(None, local, true), AuthMode::Bearer);
        assert_eq!(AuthMode::choose(None, function_url, true), AuthMode::Bearer);
        assert_eq!(AuthMode::choose(None, local, false), AuthMode::None);
        assert_eq!(AuthMode::choose(None, function_url, false), AuthMode::Sigv4);
        for mode in [AuthMode::Bearer, AuthMode::Sigv4, AuthMode::None] {
            assert_eq!(AuthMode::choose(Some(mode), function_url, true), mode);
            assert_eq!(AuthMode::choose(Some(mode), local, false), mode);
            assert_eq!(
                format!(" {} ", mode.as_str().to_uppercase()).parse(),
                Ok(mode)
            );
        }
        let err = "iam".parse::<AuthMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#""iam" is not one of bearer, sigv4, none"#
        );
    }

    #[test]
    fn function_url_regions() {
        for (url, region) in [
            (
                "https://abc123def.lambda-url.eu-west-1.on.aws/",
                Some("eu-west-1"),
            ),
            (
                "https://abc123def.lambda-url.us-east-1.on.aws",
                Some("us-east-1"),
            ),
            (
                "HTTPS://ABC.Lambda-Url.AP-SOUTHEAST-2.on.aws:443/prompts/x?mode=dev",
                Some("ap-southeast-2"),
            ),
            (
                " https://x.lambda-url.eu-central-1.on.aws/ ",
                Some("eu-central-1"),
            ),
            ("http://abc.lambda-url.eu-west-1.on.aws/", None),
            ("https://abc.lambda-url.eu-west-1.on.aws:8443/", None),
            ("https://lambda-url.eu-west-1.on.aws/", None),
            ("https://abc.lambda-url..on.aws/", None),
            ("https://a.b.lambda-url.eu-west-1.on.aws/", None),
            ("https://abc.lambda-url.eu-west-1.on.aws.example.com/", None),
            ("https://example.com/abc.lambda-url.eu-west-1.on.aws", None),
            ("https://abc.execute-api.eu-west-1.amazonaws.com/", None),
            ("http://127.0.0.1:8080", None),
            ("abc.lambda-url.eu-west-1.on.aws", None),
        ] {
            assert_eq!(function_url_region(url).as_deref(), region, "{url}");
        }
    }
}
