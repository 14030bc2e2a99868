//! The registry's behaviour over real HTTP, written once and run against every store (see
//! `sqlite.rs` and `dynamo.rs`). Each case gets a fresh server.

/// Invokes `$suite!(case, ...)` with every case of this suite, so each store's test file runs
/// all of them (a new case is added here once).
macro_rules! all_cases {
    ($suite:ident) => {
        $suite!(
            push_creates_a_draft_and_replays_idempotently,
            pushes_are_validated_like_the_build,
            bad_requests_are_json_errors_never_500,
            resolve_is_gated_by_mode,
            etags_answer_304,
            versions_are_numeric_and_paged,
            diff_is_unified_between_versions,
            promote_moves_one_stable_pointer,
            rollback_pops_the_stable_stack,
            roles_are_enforced_and_leave_state_unchanged,
            hostile_ids_and_refs_are_refused,
            concurrent_promotes_serialize,
            concurrent_creates_keep_one_text,
            readers_never_see_zero_or_two_stables_or_a_draft,
            the_seed_lifecycle_walkthrough,
        );
    };
}
pub(crate) use all_cases;

use serde_json::json;

use crate::common::{Server, AUTHOR, READER, RELEASER};

const GET: reqwest::Method = reqwest::Method::GET;
const POST: reqwest::Method = reqwest::Method::POST;

pub async fn push_creates_a_draft_and_replays_idempotently(server: &Server) {
    let created = server
        .push("my_agent", "1.0.0", "Hello {{ name }}")
        .await
        .expect(201);
    assert_eq!(created.body["prompt_id"], "my_agent");
    assert_eq!(created.body["version"], "1.0.0");
    assert_eq!(created.body["status"], "draft");
    let hash = created.body["content_hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);

    // The same text again, even spelled `1.0`, is a replay echoing the version as first pushed.
    let replay = server
        .push("my_agent", "1.0", "Hello {{ name }}")
        .await
        .expect(200);
    assert_eq!(replay.body["version"], "1.0.0");
    assert_eq!(replay.body["content_hash"], hash);
    // Other text under the same version is refused: released text is immutable.
    server
        .push("my_agent", "1.0.0", "Goodbye")
        .await
        .expect_error(409, "conflict");
    let listed = server
        .get("/prompts/my_agent/versions", READER)
        .await
        .expect(200);
    assert_eq!(listed.body["versions"].as_array().unwrap().len(), 1);
}

pub async fn pushes_are_validated_like_the_build(server: &Server) {
    let broken = server
        .push("a.b", "1", "line one\nbroken {{ name ")
        .await
        .expect_error(422, "invalid_prompt");
    let first = &broken.body["diagnostics"][0];
    assert_eq!(first["code"], "P0201", "{}", broken.text);
    assert_eq!(first["line"], 2, "{}", broken.text);

    let yaml =
        "id: support.greet\nversion: 1\nownr: team\nmodel: nova-lite\ntags: []\ntemplate: Hi\n";
    let invalid = server
        .call(
            POST,
            "/prompts",
            Some(AUTHOR),
            Some(("application/yaml", yaml.into())),
        )
        .await
        .expect_error(422, "invalid_prompt");
    let unknown = invalid.body["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"].as_str().unwrap_or_default().contains("ownr"))
        .expect("the unknown field is reported");
    assert_eq!(
        (unknown["line"].as_u64(), unknown["column"].as_u64()),
        (Some(3), Some(1))
    );

    let good = "id: support.greet\nversion: 2\nowner: team\nmodel: nova-lite\ntags: []\n\
                variables:\n  name: string\noutput:\n  labels: [yes, no]\ntemplate: Hi {{ name }}\n";
    let pushed = server
        .call(
            POST,
            "/prompts",
            Some(AUTHOR),
            Some(("application/yaml", good.into())),
        )
        .await
        .expect(201);
    assert_eq!(pushed.body["version"], "2");
    let resolved = server
        .get("/prompts/support.greet@2?mode=dev", AUTHOR)
        .await
        .expect(200);
    assert_eq!(resolved.body["labels"], json!(["yes", "no"]));
    assert_eq!(resolved.body["model"], "nova-lite");
    assert_eq!(resolved.body["variables"][0]["name"], "name");
}

pub async fn bad_requests_are_json_errors_never_500(server: &Server) {
    type Case<'a> = (
        reqwest::Method,
        &'a str,
        Option<(&'a str, Vec<u8>)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            POST,
            "/prompts",
            Some(("application/json", b"{not json".to_vec())),
            400,
            "bad_request",
        ),
        (
            POST,
            "/prompts",
            Some(("application/json", b"[1]".to_vec())),
            422,
            "invalid_prompt",
        ),
        (
            POST,
            "/prompts",
            Some(("text/plain", b"hi".to_vec())),
            415,
            "unsupported_media_type",
        ),
        (POST, "/prompts", None, 415, "unsupported_media_type"),
        (
            POST,
            "/prompts",
            Some(("application/json", vec![b' '; 1024 * 1024 + 1])),
            413,
            "payload_too_large",
        ),
        (GET, "/prompts/a?mode=prod", None, 400, "bad_request"),
        (
            GET,
            "/prompts/a?mode=dev&mode=dev",
            None,
            400,
            "bad_request",
        ),
        (GET, "/prompts/a@01", None, 400, "invalid_version"),
        (GET, "/prompts/a?version=x", None, 400, "invalid_version"),
        (GET, "/prompts/A", None, 400, "invalid_id"),
        (GET, "/prompts/..%2F..%2Fetc", None, 400, "invalid_id"),
        (GET, "/prompts/a%00b", None, 400, "invalid_id"),
        (GET, "/prompts/a/diff?v1=1", None, 400, "bad_request"),
        (GET, "/prompts/a/versions?limit=0", None, 400, "bad_request"),
        (
            POST,
            "/prompts/a/promote",
            Some(("application/json", b"{}".to_vec())),
            400,
            "bad_request",
        ),
        (
            POST,
            "/prompts/a/promote",
            Some((
                "application/json",
                br#"{"version":"1","extra":true}"#.to_vec(),
            )),
            400,
            "bad_request",
        ),
        (
            POST,
            "/prompts/a/promote",
            Some(("application/json", b"nope".to_vec())),
            400,
            "bad_request",
        ),
        // Every JSON route takes only JSON: another media type is 415 before the body is
        // read, a body without one too; a bare request is an empty object (400 here, as
        // promote needs a version).
        (
            POST,
            "/prompts/a/promote",
            Some(("text/plain", br#"{"version":"1"}"#.to_vec())),
            415,
            "unsupported_media_type",
        ),
        (
            POST,
            "/prompts/a/rollback",
            Some(("application/x-www-form-urlencoded", b"version=1".to_vec())),
            415,
            "unsupported_media_type",
        ),
        (POST, "/prompts/a/promote", None, 400, "bad_request"),
        (
            POST,
            "/prompts/a/rollback",
            Some(("application/json", br#"{"version":["1"]}"#.to_vec())),
            400,
            "bad_request",
        ),
        (GET, "/nowhere", None, 404, "not_found"),
        (GET, "/prompts/a/b/c", None, 404, "not_found"),
        (
            reqwest::Method::DELETE,
            "/prompts/a",
            None,
            405,
            "method_not_allowed",
        ),
        (GET, "/prompts/a/promote", None, 405, "method_not_allowed"),
    ];
    for (method, path, body, status, code) in cases {
        let reply = server
            .call(method.clone(), path, Some(RELEASER), body)
            .await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.text);
        assert_eq!(reply.body["code"], code, "{method} {path}: {}", reply.text);
        assert!(!reply.text.contains("/src/") && !reply.text.contains("panicked"));
    }
}

pub async fn resolve_is_gated_by_mode(server: &Server) {
    server.push("gate", "1", "v1 text").await.expect(201);
    server.push("gate", "2", "v2 text").await.expect(201);
    // Nothing stable yet: production and staging see nothing, dev sees the newest draft.
    server
        .get("/prompts/gate", READER)
        .await
        .expect_error(404, "not_found");
    server
        .get("/prompts/gate?mode=staging", READER)
        .await
        .expect_error(404, "not_found");
    let dev = server
        .get("/prompts/gate?mode=dev", AUTHOR)
        .await
        .expect(200);
    assert_eq!(
        (dev.body["version"].as_str(), dev.body["status"].as_str()),
        (Some("2"), Some("draft"))
    );
    assert_eq!(dev.body["content"], "v2 text");
    // A pinned draft is invisible in production, and its text never appears.
    let hidden = server
        .get("/prompts/gate@1", READER)
        .await
        .expect_error(404, "not_found");
    assert!(!hidden.text.contains("v1 text"));

    server.promote("gate", "1").await.expect(200);
    let prod = server.get("/prompts/gate", READER).await.expect(200);
    assert_eq!(prod.body["version"], "1");
    assert_eq!(prod.body["status"], "stable");
    assert_eq!(prod.body["content"], "v1 text");
    // The answer is the contract's type, checks included.
    let decoded = promptops_registry::api::ResolvedPrompt::decode(&prod.text).unwrap();
    assert_eq!(decoded.prompt.template, "v1 text");
    assert_eq!(decoded.prompt.status, promptops_core::Status::Stable);
    assert!(decoded.created_at.ends_with('Z'), "{}", decoded.created_at);
    // The seed's spelling and ?version= pin too.
    assert_eq!(
        server
            .get("/prompts/gate_v1", READER)
            .await
            .expect(200)
            .body["version"],
        "1"
    );
    assert_eq!(
        server
            .get("/prompts/gate?version=1.0", READER)
            .await
            .expect(200)
            .body["version"],
        "1"
    );
    server
        .get("/prompts/gate@2?version=1", READER)
        .await
        .expect_error(400, "bad_request");

    // v2 stable: v1 is deprecated, still served when pinned, skipped by dev's newest.
    server.promote("gate", "2").await.expect(200);
    let pinned = server.get("/prompts/gate@1", READER).await.expect(200);
    assert_eq!(pinned.body["status"], "deprecated");
    server.push("gate", "3", "v3 text").await.expect(201);
    assert_eq!(
        server
            .get("/prompts/gate?mode=simulation", AUTHOR)
            .await
            .expect(200)
            .body["version"],
        "3"
    );
    assert_eq!(
        server.get("/prompts/gate", READER).await.expect(200).body["version"],
        "2"
    );
    server
        .get("/prompts/nope", READER)
        .await
        .expect_error(404, "not_found");
}

pub async fn etags_answer_304(server: &Server) {
    server.push("etag", "1", "text").await.expect(201);
    server.promote("etag", "1").await.expect(200);
    let first = server.get("/prompts/etag", READER).await.expect(200);
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", first.body["content_hash"].as_str().unwrap())
    );
    let dev = server
        .get("/prompts/etag?mode=dev", AUTHOR)
        .await
        .expect(200);
    assert_eq!(
        dev.headers["etag"].to_str().unwrap(),
        etag,
        "one ETag in every mode"
    );
    let response = server
        .client
        .get(server.url("/prompts/etag"))
        .bearer_auth(READER)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 304);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
    let other = server
        .client
        .get(server.url("/prompts/etag"))
        .bearer_auth(READER)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 200);
}

pub async fn versions_are_numeric_and_paged(server: &Server) {
    for version in ["1.10.0", "1.9.0", "2", "1.2", "0.1"] {
        server
            .push("paged", version, &format!("text {version}"))
            .await
            .expect(201);
    }
    let all = server
        .get("/prompts/paged/versions", READER)
        .await
        .expect(200);
    let versions: Vec<&str> = all.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.1", "1.2", "1.9.0", "1.10.0", "2"]);
    assert!(all.body.get("next_cursor").is_none());
    let first = &all.body["versions"][0];
    for field in ["status", "content_hash", "created_at", "tags"] {
        assert!(first.get(field).is_some(), "{field}: {first}");
    }

    let mut seen = Vec::new();
    let mut path = "/prompts/paged/versions?limit=2".to_owned();
    loop {
        let page = server.get(&path, READER).await.expect(200);
        let items = page.body["versions"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|v| v["version"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/prompts/paged/versions?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, versions);
    let unknown = server
        .get("/prompts/unknown/versions", READER)
        .await
        .expect(200);
    assert_eq!(unknown.body["versions"], json!([]));
}

pub async fn diff_is_unified_between_versions(server: &Server) {
    server.push("d", "1", "alpha\nbeta\n").await.expect(201);
    server.push("d", "2", "alpha\ngamma\n").await.expect(201);
    let diff = server
        .get("/prompts/d/diff?v1=1&v2=2", AUTHOR)
        .await
        .expect(200);
    let text = diff.body["diff"].as_str().unwrap();
    assert!(text.starts_with("--- d/1\n+++ d/2\n"), "{text}");
    assert!(
        text.contains("-beta\n") && text.contains("+gamma\n"),
        "{text}"
    );
    assert_eq!(
        (diff.body["v1"].as_str(), diff.body["v2"].as_str()),
        (Some("1"), Some("2"))
    );
    server
        .get("/prompts/d/diff?v1=1&v2=9", AUTHOR)
        .await
        .expect_error(404, "not_found");
    server
        .get("/prompts/d/diff?v2=2", AUTHOR)
        .await
        .expect_error(400, "bad_request");
}

pub async fn promote_moves_one_stable_pointer(server: &Server) {
    for v in ["1", "2", "3"] {
        server.push("p", v, &format!("text {v}")).await.expect(201);
    }
    let first = server.promote("p", "1").await.expect(200);
    assert_eq!(
        first.body,
        json!({"prompt_id": "p", "version": "1", "status": "stable", "previous_stable": null})
    );
    let second = server.promote("p", "2").await.expect(200);
    assert_eq!(second.body["previous_stable"], "1");
    // Again: no change.
    let again = server.promote("p", "2").await.expect(200);
    assert_eq!(
        (
            again.body["version"].as_str(),
            again.body["previous_stable"].as_str()
        ),
        (Some("2"), Some("2"))
    );
    // expected_stable guards the move.
    server
        .post_json(
            "/prompts/p/promote",
            RELEASER,
            json!({"version": "3", "expected_stable": "1"}),
        )
        .await
        .expect_error(409, "conflict");
    server
        .post_json(
            "/prompts/p/promote",
            RELEASER,
            json!({"version": "3", "expected_stable": "2", "reason": "ship"}),
        )
        .await
        .expect(200);
    server
        .promote("p", "9")
        .await
        .expect_error(404, "not_found");
    let statuses: Vec<(String, String)> = server
        .get("/prompts/p/versions", READER)
        .await
        .expect(200)
        .body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().into(),
                v["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("1".into(), "deprecated".into()),
            ("2".into(), "deprecated".into()),
            ("3".into(), "stable".into())
        ]
    );
    let history = server.get("/prompts/p/history", READER).await.expect(200);
    let events = history.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["action"], "promote");
    assert_eq!(events[0]["from"], serde_json::Value::Null);
    assert_eq!(events[2]["from"], "2");
    assert_eq!(events[2]["to"], "3");
    assert_eq!(events[2]["actor"], "release-bot");
    assert_eq!(events[2]["reason"], "ship");
    assert!(events[2]["at"].as_str().unwrap().ends_with('Z'));
}

pub async fn rollback_pops_the_stable_stack(server: &Server) {
    for v in ["1", "2", "3", "4"] {
        server.push("r", v, &format!("text {v}")).await.expect(201);
    }
    server
        .post_json("/prompts/r/rollback", RELEASER, json!({}))
        .await
        .expect_error(409, "conflict");
    server.promote("r", "1").await.expect(200);
    // A bare request (no body, no Content-Type) is the empty request.
    server
        .call(
            reqwest::Method::POST,
            "/prompts/r/rollback",
            Some(RELEASER),
            None,
        )
        .await
        .expect_error(409, "conflict");
    server.promote("r", "2").await.expect(200);
    server.promote("r", "3").await.expect(200);
    let back = server
        .post_json(
            "/prompts/r/rollback",
            RELEASER,
            json!({"reason": "bad output"}),
        )
        .await
        .expect(200);
    assert_eq!(
        back.body,
        json!({"prompt_id": "r", "version": "2", "status": "stable", "previous_stable": "3"})
    );
    assert_eq!(
        server.get("/prompts/r@3", READER).await.expect(200).body["status"],
        "deprecated"
    );
    let again = server
        .post_json("/prompts/r/rollback", RELEASER, json!({}))
        .await
        .expect(200);
    assert_eq!(again.body["version"], "1");
    server
        .post_json("/prompts/r/rollback", RELEASER, json!({}))
        .await
        .expect_error(409, "conflict");
    // Explicit targets must have been stable before; a never-promoted draft is 409.
    server.promote("r", "2").await.expect(200);
    server.promote("r", "3").await.expect(200);
    server
        .post_json("/prompts/r/rollback", RELEASER, json!({"version": "4"}))
        .await
        .expect_error(409, "conflict");
    server
        .post_json("/prompts/r/rollback", RELEASER, json!({"version": "8"}))
        .await
        .expect_error(404, "not_found");
    let explicit = server
        .post_json("/prompts/r/rollback", RELEASER, json!({"version": "1"}))
        .await
        .expect(200);
    assert_eq!(explicit.body["version"], "1");
    assert_eq!(explicit.body["previous_stable"], "3");
    let events = server
        .get("/prompts/r/history", READER)
        .await
        .expect(200)
        .body["events"]
        .as_array()
        .unwrap()
        .clone();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "promote", "promote", "promote", "rollback", "rollback", "promote", "promote",
            "rollback"
        ]
    );
    // Rollback never creates a version.
    let count = server
        .get("/prompts/r/versions", READER)
        .await
        .expect(200)
        .body["versions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(count, 4);
}

pub async fn roles_are_enforced_and_leave_state_unchanged(server: &Server) {
    server.push("auth", "1", "text").await.expect(201);
    // No or unknown token: 401.
    server
        .call(GET, "/prompts/auth/versions", None, None)
        .await
        .expect_error(401, "unauthorized");
    server
        .call(GET, "/prompts/auth/versions", Some("wrong"), None)
        .await
        .expect_error(401, "unauthorized");
    // Readers read production and lists, but not dev, pushes, diffs or moves.
    server
        .get("/prompts/auth/versions", READER)
        .await
        .expect(200);
    server
        .get("/prompts/auth/history", READER)
        .await
        .expect(200);
    server
        .get("/prompts/auth?mode=dev", READER)
        .await
        .expect_error(403, "forbidden");
    server
        .get("/prompts/auth/diff?v1=1&v2=1", READER)
        .await
        .expect_error(403, "forbidden");
    server
        .post_json(
            "/prompts",
            READER,
            json!({"prompt_id": "auth", "version": "2", "content": "x"}),
        )
        .await
        .expect_error(403, "forbidden");
    // Authors push and read dev, but cannot promote or roll back.
    server
        .get("/prompts/auth?mode=dev", AUTHOR)
        .await
        .expect(200);
    server
        .post_json("/prompts/auth/promote", AUTHOR, json!({"version": "1"}))
        .await
        .expect_error(403, "forbidden");
    server
        .post_json("/prompts/auth/rollback", AUTHOR, json!({}))
        .await
        .expect_error(403, "forbidden");
    let versions = server
        .get("/prompts/auth/versions", READER)
        .await
        .expect(200);
    assert_eq!(versions.body["versions"].as_array().unwrap().len(), 1);
    assert_eq!(versions.body["versions"][0]["status"], "draft");
    assert_eq!(
        server.get("/prompts/auth/history", READER).await.body["events"],
        json!([])
    );
}

pub async fn hostile_ids_and_refs_are_refused(server: &Server) {
    for path in [
        "/prompts/..",
        "/prompts/a..b",
        "/prompts/%2e%2e%2fsecrets",
        "/prompts/a%2Fb",
        "/prompts/a%20b",
        "/prompts/UPPER",
        "/prompts/a@1@2",
        "/prompts/%C3%A9",
    ] {
        // 400 from the id rules, or 404 where the client already normalised `..` away.
        let reply = server.get(path, RELEASER).await;
        assert!(matches!(reply.status, 400 | 404), "{path}: {}", reply.text);
        assert!(reply.body["code"].is_string(), "{path}: {}", reply.text);
    }
    let long = format!("/prompts/{}", "a".repeat(201));
    server
        .get(&long, RELEASER)
        .await
        .expect_error(400, "invalid_id");
    server
        .post_json(
            "/prompts",
            AUTHOR,
            json!({"prompt_id": "../../x", "version": "1", "content": "x"}),
        )
        .await
        .expect_error(400, "invalid_id");
}

pub async fn concurrent_promotes_serialize(server: &Server) {
    for v in 1..=8 {
        server
            .push("race", &v.to_string(), &format!("text {v}"))
            .await
            .expect(201);
    }
    server.promote("race", "1").await.expect(200);
    // Everyone expects v1 to be stable: exactly one wins.
    let attempts = (2..=8).map(|v| {
        server.post_json(
            "/prompts/race/promote",
            RELEASER,
            json!({"version": v.to_string(), "expected_stable": "1"}),
        )
    });
    let replies = futures_util::future::join_all(attempts).await;
    let won = replies.iter().filter(|r| r.status == 200).count();
    let lost = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!((won, lost), (1, 6), "{replies:?}");
    // Without expected_stable each gets 200 or 409, and the history stays one chain.
    let versions: Vec<String> = (2..=8).map(|v| v.to_string()).collect();
    let attempts = versions.iter().map(|v| server.promote("race", v));
    let replies = futures_util::future::join_all(attempts).await;
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 409),
        "{replies:?}"
    );
    assert_one_chain(server, "race").await;
}

/// The history is one unbroken chain (each move starts where the last one ended) and exactly
/// one version is stable, the chain's end.
pub async fn assert_one_chain(server: &Server, id: &str) {
    let events = server
        .get(&format!("/prompts/{id}/history"), READER)
        .await
        .expect(200)
        .body["events"]
        .as_array()
        .unwrap()
        .clone();
    for pair in events.windows(2) {
        assert_eq!(pair[1]["from"], pair[0]["to"], "{events:?}");
    }
    let versions = server
        .get(&format!("/prompts/{id}/versions"), READER)
        .await
        .expect(200);
    let stable: Vec<&serde_json::Value> = versions.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "stable")
        .collect();
    assert_eq!(stable.len(), 1, "{}", versions.text);
    assert_eq!(stable[0]["version"], events.last().unwrap()["to"]);
}

pub async fn concurrent_creates_keep_one_text(server: &Server) {
    let texts: Vec<String> = (0..8).map(|n| format!("text {n}")).collect();
    let attempts = texts
        .iter()
        .map(|text| server.push("create_race", "1", text));
    let replies = futures_util::future::join_all(attempts).await;
    assert_eq!(
        replies.iter().filter(|r| r.status == 201).count(),
        1,
        "{replies:?}"
    );
    assert_eq!(
        replies.iter().filter(|r| r.status == 409).count(),
        7,
        "{replies:?}"
    );
    let winner = replies.iter().find(|r| r.status == 201).unwrap().body["content_hash"].clone();
    let resolved = server
        .get("/prompts/create_race@1?mode=dev", AUTHOR)
        .await
        .expect(200);
    assert_eq!(resolved.body["content_hash"], winner);
}

pub async fn readers_never_see_zero_or_two_stables_or_a_draft(server: &Server) {
    for v in 1..=6 {
        server
            .push("live", &v.to_string(), &format!("text {v}"))
            .await
            .expect(201);
    }
    server.promote("live", "1").await.expect(200);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let client = server.client.clone();
            let url = server.url("/prompts/live");
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut seen = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let response = client.get(&url).bearer_auth(READER).send().await.unwrap();
                    assert_eq!(response.status().as_u16(), 200);
                    let body: serde_json::Value = response.json().await.unwrap();
                    assert_eq!(body["status"], "stable", "{body}");
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    for v in 2..=6 {
        server.promote("live", &v.to_string()).await.expect(200);
        server
            .post_json("/prompts/live/rollback", RELEASER, json!({}))
            .await
            .expect(200);
        server.promote("live", &v.to_string()).await.expect(200);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    assert_one_chain(server, "live").await;
}

/// The seed's own walkthrough (seed 001, "API Routes" and "Resolution Flow"), route by route in
/// its order, with its spellings: an agent prompt `my_agent` pushed as drafts, resolved per mode
/// (simulation/dev see drafts; staging/production only stable), listed, diffed, promoted
/// draft → stable, and rolled back to the previous version. Plus the seed reference's defects,
/// each answered the way the issue asks: bad JSON is a 400 (not a 500), a second page of
/// versions is reachable, a re-push of other text under a released version is refused.
pub async fn the_seed_lifecycle_walkthrough(server: &Server) {
    // POST /prompts: push new version (always draft). A body that asks for another status is
    // refused (unknown field) rather than silently honoured or ignored.
    server
        .post_json(
            "/prompts",
            AUTHOR,
            json!({"prompt_id": "my_agent", "version": "1.0.0", "content": "You are {{ role }}.",
                   "status": "stable"}),
        )
        .await
        .expect_error(422, "invalid_prompt");
    let pushed = server
        .post_json(
            "/prompts",
            AUTHOR,
            json!({"prompt_id": "my_agent", "version": "1.0.0", "content": "You are {{ role }}.",
                   "description": "first cut", "tags": ["agent"]}),
        )
        .await
        .expect(201);
    assert_eq!(pushed.body["status"], "draft");
    server
        .push("my_agent", "1.1.0", "You are {{ role }}. Be brief.")
        .await
        .expect(201);

    // GET /prompts/{id}: mode-gated. Nothing is stable yet.
    for mode in ["staging", "production"] {
        server
            .get(&format!("/prompts/my_agent?mode={mode}"), READER)
            .await
            .expect_error(404, "not_found");
    }
    for mode in ["simulation", "dev"] {
        let draft = server
            .get(&format!("/prompts/my_agent?mode={mode}"), AUTHOR)
            .await
            .expect(200);
        assert_eq!(draft.body["version"], "1.1.0");
        assert_eq!(draft.body["status"], "draft");
    }
    // The seed's pinned spelling `id_vX.Y.Z` works in dev and never leaks a draft to production.
    assert_eq!(
        server
            .get("/prompts/my_agent_v1.0.0?mode=dev", AUTHOR)
            .await
            .expect(200)
            .body["content"],
        "You are {{ role }}."
    );
    server
        .get("/prompts/my_agent_v1.0.0", READER)
        .await
        .expect_error(404, "not_found");

    // GET /prompts/{id}/versions and /diff.
    let versions = server
        .get("/prompts/my_agent/versions", READER)
        .await
        .expect(200);
    let listed: Vec<(&str, &str)> = versions.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap(),
                v["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("1.0.0", "draft"), ("1.1.0", "draft")]);
    let diff = server
        .get("/prompts/my_agent/diff?v1=1.0.0&v2=1.1.0", AUTHOR)
        .await
        .expect(200);
    let diff = diff.body["diff"].as_str().unwrap();
    assert!(diff.contains("--- my_agent/1.0.0"), "{diff}");
    assert!(diff.contains("+You are {{ role }}. Be brief."), "{diff}");

    // POST /prompts/{id}/promote: draft → stable; production now resolves it.
    let promoted = server.promote("my_agent", "1.0.0").await.expect(200);
    assert_eq!(promoted.body["previous_stable"], serde_json::Value::Null);
    server.promote("my_agent", "1.1.0").await.expect(200);
    let prod = server
        .get("/prompts/my_agent?mode=production", READER)
        .await
        .expect(200);
    assert_eq!(prod.body["version"], "1.1.0");
    assert_eq!(prod.body["status"], "stable");

    // POST /prompts/{id}/rollback: back to the previous version.
    let back = server
        .post_json(
            "/prompts/my_agent/rollback",
            RELEASER,
            json!({"reason": "regression"}),
        )
        .await
        .expect(200);
    assert_eq!(back.body["version"], "1.0.0");
    assert_eq!(back.body["previous_stable"], "1.1.0");
    assert_eq!(
        server
            .get("/prompts/my_agent", READER)
            .await
            .expect(200)
            .body["version"],
        "1.0.0"
    );

    // The reference's defects. Bad JSON on push is a 4xx with a JSON error, not a 500.
    let bad = server
        .call(
            POST,
            "/prompts",
            Some(AUTHOR),
            Some(("application/json", b"{\"prompt_id\": ".to_vec())),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.body["code"], "bad_request");
    // Released text is immutable: the same version with other text is a conflict.
    server
        .push("my_agent", "1.0.0", "You are {{ role }}. Rewritten.")
        .await
        .expect_error(409, "conflict");
    // Every version is listed, across pages.
    let first = server
        .get("/prompts/my_agent/versions?limit=1", READER)
        .await
        .expect(200);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = server
        .get(
            &format!("/prompts/my_agent/versions?limit=1&cursor={cursor}"),
            READER,
        )
        .await
        .expect(200);
    assert_eq!(second.body["versions"][0]["version"], "1.1.0");
}
