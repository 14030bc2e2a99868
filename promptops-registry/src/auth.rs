//! Who may do what: bearer tokens from a tokens file (stored hashed), IAM callers on Lambda, or
//! no authentication when explicitly asked for.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::error::RegistryError;

/// What a caller may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Resolve in staging and production, list versions, read history.
    Reader,
    /// Also: resolve in dev and simulation, push, diff.
    Author,
    /// Also: promote and roll back.
    Releaser,
}

impl Role {
    /// The spelling in the tokens file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Author => "author",
            Role::Releaser => "releaser",
        }
    }

    /// Parses the spelling in the tokens file.
    pub fn parse(text: &str) -> Option<Role> {
        [Role::Reader, Role::Author, Role::Releaser]
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller: the name history records, and the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name, or the IAM ARN.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Caller {
    /// Succeeds when the caller's role includes `needed`. `action` names what was refused (it
    /// is formatted only then).
    pub fn require(
        &self,
        needed: Role,
        action: impl std::fmt::Display,
    ) -> Result<(), RegistryError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(RegistryError::Forbidden(format!(
                "{action} needs the {needed} role; `{}` is a {}",
                self.name, self.role
            )))
        }
    }
}

/// A tokens file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("tokens file {path}: {message}")]
pub struct TokensError {
    /// The file.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// The tokens file: `tokens: [{name, role, sha256}]`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<TokenEntry>,
}

/// One token of the file; `role` is checked after decoding, for a message that lists the roles.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    role: String,
    sha256: String,
}

/// Bearer tokens by the hex SHA-256 of the token. Plain tokens are never stored.
#[derive(Clone, Default)]
pub struct Tokens {
    by_hash: HashMap<String, Caller>,
}

impl fmt::Debug for Tokens {
    // Names and roles only: hashes of secrets stay out of logs too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.by_hash.values().map(|c| (&c.name, c.role)))
            .finish()
    }
}

/// The hex SHA-256 of a token, as the tokens file stores it.
pub fn token_hash(token: &str) -> String {
    promptops_core::hash::sha256_hex(token.as_bytes())
}

impl Tokens {
    /// Reads a tokens file: `tokens: [{name, role, sha256}]`.
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let text = std::fs::read_to_string(path).map_err(|err| TokensError {
            path: path.display().to_string(),
            message: err.to_string(),
        })?;
        Tokens::parse(&text).map_err(|message| TokensError {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses the text of a tokens file.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        if text.trim().is_empty() {
            return Err("the file is empty".to_owned());
        }
        let file: TokensFile = serde_saphyr::from_str(text)
            .map_err(|err| format!("expected `tokens: [{{name, role, sha256}}, ...]`: {err}"))?;
        let mut tokens = Tokens::default();
        for TokenEntry { name, role, sha256 } in file.tokens {
            let role = Role::parse(&role).ok_or(format!(
                "token `{name}` has role `{role}`; roles are reader, author, releaser"
            ))?;
            let hash = sha256.to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "token `{name}`: `sha256` must be 64 hex digits (the SHA-256 of the token, \
                     never the token itself)"
                ));
            }
            let caller = Caller {
                name: name.clone(),
                role,
            };
            if tokens.by_hash.insert(hash, caller).is_some() {
                return Err(format!("token `{name}` has the same hash as another token"));
            }
        }
        Ok(tokens)
    }

    /// The caller a bearer token belongs to.
    pub fn caller(&self, token: &str) -> Option<&Caller> {
        self.by_hash.get(&token_hash(token))
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// The IAM caller of a Lambda Function URL request, put into the request's extensions by the
/// Lambda adapter: `Some(arn)` for a signed Function URL call, `None` for a direct invoke
/// without an authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamCaller(pub Option<String>);

/// How the registry authenticates callers.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer TOKEN` against a tokens file.
    Tokens(Tokens),
    /// IAM (Lambda Function URL with `AWS_IAM`): the caller's ARN maps to a role; unmapped
    /// ARNs and direct invokes are readers.
    Iam(HashMap<String, Role>),
    /// Everyone is a releaser named `anonymous` (`--no-auth`, for local use only).
    Disabled,
}

impl Auth {
    /// Parses `PROMPTOPS_REGISTRY_IAM_ROLES`: `arn=role` pairs separated by commas.
    pub fn iam_from_config(text: &str) -> Result<Auth, String> {
        let mut roles = HashMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (arn, role) = pair
                .rsplit_once('=')
                .ok_or(format!("`{pair}` is not `arn=role`"))?;
            let role = Role::parse(role.trim())
                .ok_or(format!("`{role}` is not a role (reader, author, releaser)"))?;
            roles.insert(arn.trim().to_owned(), role);
        }
        Ok(Auth::Iam(roles))
    }

    /// Who is calling, from the `Authorization` header or the IAM caller.
    pub fn caller(
        &self,
        authorization: Option<&str>,
        iam: Option<&IamCaller>,
    ) -> Result<Caller, RegistryError> {
        match self {
            Auth::Disabled => Ok(Caller {
                name: "anonymous".to_owned(),
                role: Role::Releaser,
            }),
            Auth::Tokens(tokens) => {
                let token = authorization
                    .and_then(|value| value.strip_prefix("Bearer "))
                    .map(str::trim)
                    .filter(|token| !token.is_empty())
                    .ok_or_else(|| {
                        RegistryError::Unauthorized(
                            "send `Authorization: Bearer <token>`".to_owned(),
                        )
                    })?;
                tokens
                    .caller(token)
                    .cloned()
                    .ok_or_else(|| RegistryError::Unauthorized("unknown token".to_owned()))
            }
            Auth::Iam(roles) => match iam.and_then(|caller| caller.0.as_deref()) {
                Some(arn) => Ok(Caller {
                    name: arn.to_owned(),
                    role: roles.get(arn).copied().unwrap_or(Role::Reader),
                }),
                None => Ok(Caller {
                    name: "lambda-invoke".to_owned(),
                    role: Role::Reader,
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> String {
        format!(
            "tokens:\n  - name: ci\n    role: releaser\n    sha256: {}\n  - name: dev\n    role: author\n    sha256: {}\n",
            token_hash("ci-secret"),
            token_hash("dev-secret")
        )
    }

    #[test]
    fn tokens_are_matched_by_hash() {
        let tokens = Tokens::parse(&file()).unwrap();
        assert_eq!(tokens.len(), 2);
        let auth = Auth::Tokens(tokens);
        let ci = auth.caller(Some("Bearer ci-secret"), None).unwrap();
        assert_eq!((ci.name.as_str(), ci.role), ("ci", Role::Releaser));
        assert_eq!(
            auth.caller(Some("Bearer dev-secret"), None).unwrap().role,
            Role::Author
        );
        for bad in [
            None,
            Some("ci-secret"),
            Some("Bearer "),
            Some("Bearer nope"),
            Some("Basic x"),
        ] {
            assert_eq!(auth.caller(bad, None).unwrap_err().status(), 401, "{bad:?}");
        }
        assert!(!format!("{auth:?}").contains(&token_hash("ci-secret")));
    }

    #[test]
    fn roles_include_the_weaker_ones() {
        let caller = Caller {
            name: "dev".into(),
            role: Role::Author,
        };
        assert!(caller.require(Role::Reader, "x").is_ok());
        assert!(caller.require(Role::Author, "x").is_ok());
        let err = caller.require(Role::Releaser, "promote").unwrap_err();
        assert_eq!(err.status(), 403);
        assert!(err.to_string().contains("releaser"), "{err}");
    }

    #[test]
    fn bad_tokens_files_are_refused_with_a_reason() {
        for (text, needle) in [
            ("", "empty"),
            ("tokens: 3\n", "expected"),
            (
                "tokens:\n  - name: a\n    role: admin\n    sha256: x\n",
                "roles are",
            ),
            (
                "tokens:\n  - name: a\n    role: reader\n    sha256: plain\n",
                "64 hex",
            ),
            (
                "tokens:\n  - role: reader\n    sha256: x\n",
                "missing field `name`",
            ),
            (
                "tokens:\n  - name: a\n    role: reader\n    sha256: x\n    admin: true\n",
                "unknown field `admin`",
            ),
            ("tokens: [\n", "expected `tokens:"),
        ] {
            let err = Tokens::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn iam_callers_map_to_roles_and_direct_invokes_read() {
        let auth = Auth::iam_from_config(
            "arn:aws:iam::1:role/ci=releaser, arn:aws:iam::1:role/dev=author",
        )
        .unwrap();
        let ci = IamCaller(Some("arn:aws:iam::1:role/ci".into()));
        assert_eq!(auth.caller(None, Some(&ci)).unwrap().role, Role::Releaser);
        let other = IamCaller(Some("arn:aws:iam::1:role/x".into()));
        assert_eq!(auth.caller(None, Some(&other)).unwrap().role, Role::Reader);
        assert_eq!(
            auth.caller(None, Some(&IamCaller(None))).unwrap().role,
            Role::Reader
        );
        assert!(Auth::iam_from_config("arn=boss").is_err());
    }
}
