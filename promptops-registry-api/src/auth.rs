//! How a client authenticates: the one rule every client of the registry follows.

use std::fmt;
use std::str::FromStr;

/// The one parser of Lambda Function URLs (`https://<id>.lambda-url.<region>.on.aws`).
pub use promptops_core::function_url::region as function_url_region;

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
}
