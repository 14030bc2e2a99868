//! `prompts.lock`: one version number means one text, in git as in the registry.
//!
//! The lock sits at the root of the prompt tree and maps every prompt id to the versions it
//! has released and each version's content hash (the SHA-256 of the prompt file, the same hash
//! the generated crate embeds and the registry serves as the ETag):
//!
//! ```json
//! {
//!   "lock_version": 1,
//!   "prompts": {
//!     "customer-support.intent-classifier": {
//!       "3": "5e88…"
//!     }
//!   }
//! }
//! ```
//!
//! * `cargo build` fails with [`Code::LockedVersionChanged`] at the file's `version:` line when a
//!   locked version's text changed without a version bump ([`check`]); a version or prompt
//!   the lock does not know yet builds, and `promptops lock` records it ([`update`]);
//! * `promptops lock --check` (CI) fails when the lock is not current;
//! * the registry answers 409 to changed text under an existing version: the same rule on the
//!   server side.
//!
//! The lock is JSON (serde_json, sorted keys, one entry per line), so it diffs and merges well.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Code, Diagnostic, Location};
use crate::schema::Prompt;

/// The lock file's name, at the root of the prompt tree.
pub const FILE_NAME: &str = "prompts.lock";

/// The layout version this crate writes and reads.
pub const LOCK_VERSION: u32 = 1;

/// The contents of a `prompts.lock`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The layout version ([`LOCK_VERSION`]).
    pub lock_version: u32,
    /// id → version (as written in the prompt file) → content hash.
    pub prompts: BTreeMap<String, BTreeMap<String, String>>,
}

/// A lock file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockError(pub String);

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LockError {}

impl Lock {
    /// An empty lock.
    pub fn new() -> Self {
        Lock {
            lock_version: LOCK_VERSION,
            prompts: BTreeMap::new(),
        }
    }

    /// Reads a lock file's text.
    pub fn parse(text: &str) -> Result<Lock, LockError> {
        let lock: Lock = serde_json::from_str(text)
            .map_err(|err| LockError(format!("not a prompts.lock: {err}")))?;
        if lock.lock_version != LOCK_VERSION {
            return Err(LockError(format!(
                "lock_version {} is not {LOCK_VERSION}: regenerate it with this promptops's \
                 `promptops lock`",
                lock.lock_version
            )));
        }
        Ok(lock)
    }

    /// The file's text: pretty JSON with sorted keys and a final newline.
    pub fn to_text(&self) -> String {
        // Strings and maps of strings always serialize.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The locked hash of `id` at `version`, if any.
    pub fn hash(&self, id: &str, version: &str) -> Option<&str> {
        self.prompts
            .get(id)
            .and_then(|versions| versions.get(version))
            .map(String::as_str)
    }
}

/// One prompt version whose text differs from what the lock recorded for it.
fn changed(prompt: &Prompt, locked: &str) -> Diagnostic {
    Diagnostic {
        code: Code::LockedVersionChanged,
        message: format!(
            "prompt `{}` version {} changed, but that version is locked with other text",
            prompt.def.id, prompt.def.version
        ),
        file: prompt.display_path.clone(),
        location: prompt.version_location.clone(),
        label: Some("locked version".to_owned()),
        help: Some(format!(
            "released text is immutable: bump `version` (and run `promptops lock`), or restore \
             the text locked as {}",
            short(locked)
        )),
        notes: Vec::new(),
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Every prompt whose version is locked with another content hash.
pub fn check(lock: &Lock, prompts: &[Prompt]) -> Vec<Diagnostic> {
    prompts
        .iter()
        .filter_map(|prompt| {
            let locked = lock.hash(&prompt.def.id, &prompt.def.version.to_string())?;
            (locked != prompt.def.content_hash).then(|| changed(prompt, locked))
        })
        .collect()
}

/// A diagnostic for a lock file that does not parse, at its first line.
pub fn invalid(display_path: String, error: &LockError) -> Diagnostic {
    Diagnostic {
        code: Code::InvalidLock,
        message: format!("{FILE_NAME} is invalid: {error}"),
        file: display_path,
        location: Location::whole_file(),
        label: None,
        help: Some("regenerate it with `promptops lock`".to_owned()),
        notes: Vec::new(),
    }
}

/// What [`update`] did to one prompt version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A prompt the lock did not know.
    NewPrompt {
        /// The id.
        id: String,
        /// Its version.
        version: String,
    },
    /// A new version of a locked prompt.
    NewVersion {
        /// The id.
        id: String,
        /// The new version.
        version: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::NewPrompt { id, version } => write!(f, "new prompt {id}@{version}"),
            Change::NewVersion { id, version } => write!(f, "new version {id}@{version}"),
        }
    }
}

/// Records every prompt version the lock does not know yet. Versions already locked are never
/// rewritten: a changed text under a locked version is an error ([`check`]), returned here as
/// its diagnostics with nothing changed.
pub fn update(lock: &mut Lock, prompts: &[Prompt]) -> Result<Vec<Change>, Vec<Diagnostic>> {
    let refused = check(lock, prompts);
    if !refused.is_empty() {
        return Err(refused);
    }
    let mut changes = Vec::new();
    for prompt in prompts {
        let id = prompt.def.id.clone();
        let version = prompt.def.version.to_string();
        let known_prompt = lock.prompts.contains_key(&id);
        let versions = lock.prompts.entry(id.clone()).or_default();
        if versions.contains_key(&version) {
            continue;
        }
        versions.insert(version.clone(), prompt.def.content_hash.clone());
        changes.push(if known_prompt {
            Change::NewVersion { id, version }
        } else {
            Change::NewPrompt { id, version }
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{validate, SourceFile, Tree};

    fn prompts(version: u32, template: &str) -> Vec<Prompt> {
        let text = format!(
            "id: a.b\nversion: {version}\nowner: o\nmodel: claude-3-5-sonnet\ntags: []\ntemplate: \"{template}\"\n"
        );
        let validated = validate(&Tree {
            display_prefix: "prompts/".into(),
            files: vec![SourceFile::new("a/b.yaml", text)],
            ..Tree::default()
        });
        assert!(validated.is_ok(), "{:?}", validated.diagnostics);
        validated.prompts
    }

    #[test]
    fn new_prompts_and_versions_are_added_and_locked_text_is_immutable() {
        let mut lock = Lock::new();
        let v1 = prompts(1, "Hello");
        assert_eq!(
            update(&mut lock, &v1).unwrap(),
            [Change::NewPrompt {
                id: "a.b".into(),
                version: "1".into()
            }]
        );
        assert_eq!(update(&mut lock, &v1).unwrap(), []);
        assert!(check(&lock, &v1).is_empty());

        let edited = prompts(1, "Hello there");
        let found = check(&lock, &edited);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, Code::LockedVersionChanged);
        assert_eq!(found[0].location.pos.line, 2, "at the version line");
        assert!(update(&mut lock, &edited).is_err());
        assert_eq!(lock.prompts["a.b"].len(), 1, "nothing written");

        let bumped = prompts(2, "Hello there");
        assert!(check(&lock, &bumped).is_empty());
        assert_eq!(
            update(&mut lock, &bumped).unwrap(),
            [Change::NewVersion {
                id: "a.b".into(),
                version: "2".into()
            }]
        );
        let text = lock.to_text();
        assert_eq!(Lock::parse(&text).unwrap(), lock);
        assert!(text.starts_with("{\n  \"lock_version\": 1,"), "{text}");
    }

    #[test]
    fn a_broken_lock_is_an_error_not_a_panic() {
        for text in [
            "",
            "{",
            "[]",
            r#"{"lock_version":2,"prompts":{}}"#,
            r#"{"prompts":{}}"#,
        ] {
            assert!(Lock::parse(text).is_err(), "{text}");
        }
        let err = Lock::parse(r#"{"lock_version":1,"prompts":{},"extra":1}"#).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }
}
