//! Prompt ids, version references and modes as the HTTP contract spells them.

use promptops_core::Version;

use crate::error::RegistryError;

/// Longest accepted prompt id, in bytes.
pub const MAX_ID_LEN: usize = 200;

/// Checks a registry prompt id: dot-separated segments of `[a-z0-9]+([_-][a-z0-9]+)*`, at most
/// [`MAX_ID_LEN`] bytes. This accepts the seed's `my_agent` and promptops'
/// `customer-support.intent-classifier`, and never anything that could leave a storage
/// prefix (`..`, `/`, `%`, whitespace).
pub fn check_id(id: &str) -> Result<(), RegistryError> {
    let invalid = |why: &str| {
        RegistryError::InvalidId(format!(
            "invalid prompt id {id:?}: {why}; ids are dot-separated segments of lowercase \
             letters and digits, joined by single `-` or `_`"
        ))
    };
    if id.is_empty() {
        return Err(invalid("it is empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(invalid(&format!("it is longer than {MAX_ID_LEN} bytes")));
    }
    for segment in id.split('.') {
        if !is_segment(segment) {
            return Err(invalid(&format!("segment {segment:?} is not allowed")));
        }
    }
    Ok(())
}

fn is_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let word = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.first().is_some_and(word)
        && bytes.last().is_some_and(word)
        && bytes.iter().all(|b| word(b) || *b == b'-' || *b == b'_')
        && !bytes
            .windows(2)
            .any(|pair| !word(&pair[0]) && !word(&pair[1]))
}

/// Parses a version as the contract spells it (`2`, `1.2`, `1.2.0`).
pub fn parse_version(text: &str) -> Result<Version, RegistryError> {
    text.parse()
        .map_err(|err: promptops_core::VersionError| RegistryError::InvalidVersion(err.to_string()))
}

/// A `GET /prompts/{ref}` reference: an id, pinned to a version or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    /// The prompt id.
    pub id: String,
    /// The pinned version, if any.
    pub version: Option<Version>,
}

impl PromptRef {
    /// Parses `id`, `id@version` or the seed's `id_vX[.Y[.Z]]`, in that order of precedence:
    /// `@` first, then a trailing `_v<version>`, then a plain id. An id that itself ends in
    /// `_v<digits>` is reachable with `@version` or `?version=`.
    pub fn parse(text: &str) -> Result<PromptRef, RegistryError> {
        if let Some((id, version)) = text.split_once('@') {
            check_id(id)?;
            return Ok(PromptRef {
                id: id.to_owned(),
                version: Some(parse_version(version)?),
            });
        }
        if let Some((id, version)) = text.rsplit_once("_v") {
            if let (Ok(()), Ok(version)) = (check_id(id), version.parse::<Version>()) {
                return Ok(PromptRef {
                    id: id.to_owned(),
                    version: Some(version),
                });
            }
        }
        check_id(text)?;
        Ok(PromptRef {
            id: text.to_owned(),
            version: None,
        })
    }
}

pub use promptops_registry_api::Mode;

impl From<promptops_registry_api::UnknownMode> for RegistryError {
    fn from(err: promptops_registry_api::UnknownMode) -> Self {
        RegistryError::BadRequest(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptops_registry_api::ErrorCode;

    #[test]
    fn ids_accept_the_seed_and_promptops_spellings_only() {
        for id in [
            "my_agent",
            "customer-support.intent-classifier",
            "a",
            "a1.b_2-c",
            "x.y.z",
        ] {
            assert!(check_id(id).is_ok(), "{id}");
        }
        let long = "a".repeat(MAX_ID_LEN + 1);
        for id in [
            "",
            ".",
            "a.",
            ".a",
            "a..b",
            "A",
            "a b",
            "a/b",
            "../etc/passwd",
            "a%2fb",
            "_a",
            "a_",
            "a__b",
            "a-_b",
            "é",
            "a\0",
            long.as_str(),
        ] {
            let err = check_id(id).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidId, "{id:?}");
        }
    }

    #[test]
    fn refs_parse_at_then_seed_suffix_then_plain() {
        let v = |t: &str| t.parse::<Version>().unwrap();
        let cases = [
            ("my_agent", "my_agent", None),
            ("my_agent@1.2.0", "my_agent", Some(v("1.2.0"))),
            ("my_agent_v1.2.0", "my_agent", Some(v("1.2"))),
            ("my_agent_v3", "my_agent", Some(v("3"))),
            ("a.b@2", "a.b", Some(v("2"))),
            // An id ending in `_v<digits>` is reachable with `@`.
            ("tool_v2@1", "tool_v2", Some(v("1"))),
            // `_v` followed by no valid version stays part of the id.
            ("tool_vx", "tool_vx", None),
        ];
        for (text, id, version) in cases {
            let parsed = PromptRef::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                parsed,
                PromptRef {
                    id: id.into(),
                    version
                },
                "{text}"
            );
        }
        for bad in ["a@", "a@01", "a@1.2.3.4", "@1", "../x", "a/b@1"] {
            assert!(PromptRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_parse_and_gate_drafts() {
        for mode in Mode::ALL {
            assert_eq!(mode.as_str().parse::<Mode>().unwrap(), mode);
        }
        assert!("prod".parse::<Mode>().is_err());
        assert!(Mode::Dev.sees_drafts() && Mode::Simulation.sees_drafts());
        assert!(!Mode::Staging.sees_drafts() && !Mode::Production.sees_drafts());
        assert_eq!(Mode::default(), Mode::Production);
    }
}
