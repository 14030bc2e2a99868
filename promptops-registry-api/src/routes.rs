//! The route paths, in axum's `{param}` syntax for the server, and the functions that fill
//! them in for a client (each parameter percent-encoded as one path segment).

/// `POST`: push a version.
pub const PUSH: &str = "/prompts";
/// `GET`: resolve `id`, `id@version` or `id_vX.Y.Z`.
pub const RESOLVE: &str = "/prompts/{reference}";
/// `GET`: a page of a prompt's versions.
pub const VERSIONS: &str = "/prompts/{id}/versions";
/// `GET`: a unified diff between two versions.
pub const DIFF: &str = "/prompts/{id}/diff";
/// `POST`: make a version the stable one.
pub const PROMOTE: &str = "/prompts/{id}/promote";
/// `POST`: move the stable pointer back.
pub const ROLLBACK: &str = "/prompts/{id}/rollback";
/// `GET`: the audit trail of stable-pointer moves.
pub const HISTORY: &str = "/prompts/{id}/history";

/// [`RESOLVE`] for `reference`.
pub fn resolve(reference: &str) -> String {
    format!("/prompts/{}", segment(reference))
}

/// [`VERSIONS`] for `id`.
pub fn versions(id: &str) -> String {
    format!("/prompts/{}/versions", segment(id))
}

/// [`DIFF`] for `id`.
pub fn diff(id: &str) -> String {
    format!("/prompts/{}/diff", segment(id))
}

/// [`PROMOTE`] for `id`.
pub fn promote(id: &str) -> String {
    format!("/prompts/{}/promote", segment(id))
}

/// [`ROLLBACK`] for `id`.
pub fn rollback(id: &str) -> String {
    format!("/prompts/{}/rollback", segment(id))
}

/// [`HISTORY`] for `id`.
pub fn history(id: &str) -> String {
    format!("/prompts/{}/history", segment(id))
}

/// Percent-encodes `text` as one path segment. Ids and references are checked by the server;
/// this only keeps a hostile or mistyped one from becoming another path (`../x`, `a/b`).
fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'@' => {
                encoded.push(char::from(byte));
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_stay_one_segment() {
        assert_eq!(resolve("my_agent@1.2.0"), "/prompts/my_agent@1.2.0");
        assert_eq!(versions("../x y"), "/prompts/..%2Fx%20y/versions");
        assert_eq!(history("a/b?c#d"), "/prompts/a%2Fb%3Fc%23d/history");
        assert_eq!(promote("é"), "/prompts/%C3%A9/promote");
    }

    #[test]
    fn filled_paths_match_their_templates() {
        for (template, filled) in [
            (RESOLVE, resolve("x")),
            (VERSIONS, versions("x")),
            (DIFF, diff("x")),
            (PROMOTE, promote("x")),
            (ROLLBACK, rollback("x")),
            (HISTORY, history("x")),
        ] {
            let expected = template.replace("{reference}", "x").replace("{id}", "x");
            assert_eq!(filled, expected);
        }
    }
}
