//! Output names: `output_slug`, else the input's file name, sanitised to `[a-z0-9_-]`.

use crate::env::file_name;
use crate::error::{Stage, StageError};

/// Lowercases `text` and keeps only `[a-z0-9_-]`; everything else (`/`, `.`, spaces, unicode)
/// is dropped, so a slug can never climb out of its prefix.
pub fn sanitise(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
        .collect()
}

/// The slug for an input: `output_slug` if given, else the file name without `.json` and
/// without a `beta-`/`prod-` prefix. Empty after sanitising is an error.
pub fn slug_for(key: &str, output_slug: Option<&str>) -> Result<String, StageError> {
    let raw = match output_slug {
        Some(slug) => slug,
        None => {
            let name = file_name(key);
            let name = name.strip_suffix(".json").unwrap_or(name);
            name.strip_prefix("beta-")
                .or_else(|| name.strip_prefix("prod-"))
                .unwrap_or(name)
        }
    };
    let slug = sanitise(raw);
    if slug.is_empty() {
        Err(StageError::new(
            Stage::Parse,
            format!("the slug {raw:?} has no character in [a-z0-9_-]"),
        ))
    } else {
        Ok(slug)
    }
}

/// The name of the errors object for an input whose slug cannot be known (bad JSON, an empty
/// slug): `key-` and the first 16 hex digits of the key's SHA-256. Same key, same name.
pub fn key_hash_slug(key: &str) -> String {
    let hex = promptops_core::hash::sha256_hex(key.as_bytes());
    format!("key-{}", &hex[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_extension_and_env_prefix() {
        assert_eq!(
            slug_for("prompt_inputs/beta-Welcome Email.json", None).unwrap(),
            "welcomeemail"
        );
        assert_eq!(
            slug_for("prompt_inputs/prod-q3_launch.json", None).unwrap(),
            "q3_launch"
        );
        assert_eq!(
            slug_for("prompt_inputs/x.json", Some("Spring-Sale")).unwrap(),
            "spring-sale"
        );
    }

    #[test]
    fn traversal_is_impossible() {
        for hostile in [
            "../../etc/passwd",
            "..",
            "/prod/outputs/x",
            "a/../../b",
            "..\\..\\c",
        ] {
            let slug = slug_for("prompt_inputs/x.json", Some(hostile));
            if let Ok(slug) = slug {
                assert!(
                    !slug.contains('/') && !slug.contains('.') && !slug.contains('\\'),
                    "{slug}"
                );
            }
        }
        assert_eq!(
            slug_for("prompt_inputs/x.json", Some("../../etc/passwd")).unwrap(),
            "etcpasswd"
        );
        assert_eq!(
            slug_for("prompt_inputs/x.json", Some("../.."))
                .unwrap_err()
                .stage,
            Stage::Parse
        );
        assert_eq!(
            slug_for("prompt_inputs/日本.json", None).unwrap_err().stage,
            Stage::Parse
        );
    }

    #[test]
    fn hash_slugs_are_stable_and_safe() {
        let a = key_hash_slug("prompt_inputs/日本.json");
        assert_eq!(a, key_hash_slug("prompt_inputs/日本.json"));
        assert_ne!(a, key_hash_slug("prompt_inputs/other.json"));
        assert_eq!(sanitise(&a), a);
    }
}
