//! Every request and response body of the contract.

use promptops_core::{wire, PromptDef, Status, Version};
use serde::{Deserialize, Deserializer, Serialize};

/// The JSON body of `POST /prompts` (the seed's API). A promptops prompt file, sent as
/// `application/yaml`, is the other form a push takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The prompt id.
    pub prompt_id: String,
    /// The version, `"1.2.0"` (a bare number is accepted too).
    pub version: Version,
    /// The template. The variables it uses become required string variables.
    pub content: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Search tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The answer to a push: **201** when the push created the version, **200** for an identical
/// replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushOutcome {
    /// The prompt id.
    pub prompt_id: String,
    /// The version, as first pushed.
    pub version: Version,
    /// `draft` for a new version; the stored status for a replay.
    pub status: Status,
    /// SHA-256 of the pushed source.
    pub content_hash: String,
}

/// The answer to a resolve: the prompt's wire form (`promptops_core::wire`) with its current
/// status, the version as first pushed, and when it was pushed.
///
/// Decode an answer with [`ResolvedPrompt::decode`], which checks the wire format and the
/// contract hash as every reader of a prompt definition must; plain serde does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedPrompt {
    /// The wire layout version ([`wire::FORMAT`]).
    pub format: u32,
    /// The prompt, with its current `status`.
    #[serde(flatten)]
    pub prompt: PromptDef,
    /// When the version was pushed (RFC 3339, UTC).
    pub created_at: String,
}

impl ResolvedPrompt {
    /// Decodes a resolve answer, checking its format and contract hash
    /// ([`wire::from_json`]).
    pub fn decode(text: &str) -> Result<ResolvedPrompt, wire::DecodeError> {
        /// The one member the wire form does not carry.
        #[derive(Deserialize)]
        struct CreatedAt {
            created_at: String,
        }
        let prompt = wire::from_json(text)?;
        let CreatedAt { created_at } =
            serde_json::from_str(text).map_err(wire::DecodeError::Json)?;
        Ok(ResolvedPrompt {
            format: wire::FORMAT,
            prompt,
            created_at,
        })
    }
}

/// A version's metadata: everything but the prompt document itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// The version, as first pushed.
    pub version: Version,
    /// Its lifecycle state now.
    pub status: Status,
    /// SHA-256 of the pushed source (YAML file or template).
    pub content_hash: String,
    /// The pushed description.
    pub description: Option<String>,
    /// The pushed tags.
    pub tags: Vec<String>,
    /// When it was pushed (RFC 3339, UTC).
    pub created_at: String,
    /// Who pushed it.
    pub created_by: String,
}

/// One page of `GET /prompts/{id}/versions` (`?limit=`, 1–1000, and `?cursor=`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionsPage {
    /// The prompt id.
    pub prompt_id: String,
    /// Versions in ascending numeric order.
    pub versions: Vec<VersionMeta>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The answer to `GET /prompts/{id}/diff?v1=&v2=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// The prompt id.
    pub prompt_id: String,
    /// The old version.
    pub v1: Version,
    /// The new version.
    pub v2: Version,
    /// A unified diff of the two templates, headed `--- id/v1` and `+++ id/v2`.
    pub diff: String,
}

/// The body of `POST /prompts/{id}/promote`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// The version to make stable.
    pub version: Version,
    /// Promote only if this is the stable version now: absent, no condition; `null` (`Some(None)`),
    /// only if nothing is stable; a version (`Some(Some(v))`), only if `v` is stable.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_stable: Option<Option<Version>>,
    /// Why (recorded in the history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The body of `POST /prompts/{id}/rollback`; an empty body is the default (back to the
/// previous stable version, no reason).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// An earlier stable version to go back to; absent or `null`, the previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// Why (recorded in the history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to promote and rollback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoveOutcome {
    /// The prompt id.
    pub prompt_id: String,
    /// The version that is stable now.
    pub version: Version,
    /// Always `stable`.
    pub status: Status,
    /// The version that was stable before (the same one when nothing changed).
    pub previous_stable: Option<Version>,
}

/// The answer to `GET /prompts/{id}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The prompt id.
    pub prompt_id: String,
    /// The stable-pointer moves, oldest first.
    pub events: Vec<HistoryEvent>,
}

/// A pointer move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A version was promoted to stable.
    Promote,
    /// The pointer went back to an earlier stable version.
    Rollback,
}

impl Action {
    /// `promote` or `rollback`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Promote => "promote",
            Action::Rollback => "rollback",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Action> {
        [Action::Promote, Action::Rollback]
            .into_iter()
            .find(|action| action.as_str() == text)
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// What happened.
    pub action: Action,
    /// The stable version before (none for the first promote).
    pub from: Option<Version>,
    /// The stable version after.
    pub to: Version,
    /// Who did it (the token's name, or the caller's IAM ARN).
    pub actor: String,
    /// Why, as given.
    pub reason: Option<String>,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// Reads a member that is present, `null` included, as `Some(…)`; with `#[serde(default)]` an
/// absent one stays `None`. This is how "no condition" and "only if nothing is stable" differ.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn expected_stable_tells_absent_from_null() {
        let decode = |json: &str| serde_json::from_str::<PromoteRequest>(json).unwrap();
        assert_eq!(decode(r#"{"version":"2"}"#).expected_stable, None);
        assert_eq!(
            decode(r#"{"version":"2","expected_stable":null}"#).expected_stable,
            Some(None)
        );
        assert_eq!(
            decode(r#"{"version":2,"expected_stable":"1.0"}"#).expected_stable,
            Some(Some(v("1.0")))
        );
        for request in [
            decode(r#"{"version":"2"}"#),
            decode(r#"{"version":"2","expected_stable":null,"reason":"r"}"#),
            decode(r#"{"version":"2","expected_stable":"1"}"#),
        ] {
            let json = serde_json::to_string(&request).unwrap();
            assert_eq!(decode(&json), request, "{json}");
        }
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let err =
            serde_json::from_str::<PromoteRequest>(r#"{"version":"2","expect":"1"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `expect`"), "{err}");
        let err = serde_json::from_str::<RollbackRequest>(r#"{"versoin":"1"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `versoin`"), "{err}");
        assert_eq!(
            serde_json::from_str::<RollbackRequest>("{}").unwrap(),
            RollbackRequest::default()
        );
    }

    #[test]
    fn a_resolve_answer_decodes_with_the_wire_checks() {
        let mut def = PromptDef::new("a.b", Version::new(3), "team", "m", "Hi {{ name }}");
        def.contract_hash = promptops_core::contract::contract_hash(&def);
        let mut object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&wire::to_json(&def)).unwrap();
        object.insert("created_at".into(), "2026-12-07T16:00:00Z".into());
        let text = serde_json::to_string(&object).unwrap();
        let resolved = ResolvedPrompt::decode(&text).unwrap();
        assert_eq!(resolved.prompt, def);
        assert_eq!(resolved.created_at, "2026-12-07T16:00:00Z");
        // Serde alone reads the same thing; `decode` adds the checks.
        assert_eq!(
            serde_json::from_str::<ResolvedPrompt>(&text).unwrap(),
            resolved
        );
        object.insert("contract_hash".into(), "forged".into());
        let forged = serde_json::to_string(&object).unwrap();
        assert!(matches!(
            ResolvedPrompt::decode(&forged),
            Err(wire::DecodeError::ContractHash { .. })
        ));
    }
}
