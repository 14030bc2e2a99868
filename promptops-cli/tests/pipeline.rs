//! `promptops pipeline run|check`: the real binary over a real directory standing in for the
//! bucket, with the local model (no AWS).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "promptops-pipeline-cli-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("prompt_inputs")).expect("create prompt_inputs");
        fs::create_dir_all(dir.join("prompt_templates")).expect("create prompt_templates");
        TempDir(dir)
    }

    fn write(&self, key: &str, body: impl AsRef<[u8]>) {
        let path = self.0.join(key);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, body).expect("write");
    }

    fn read(&self, key: &str) -> String {
        fs::read_to_string(self.0.join(key)).unwrap_or_else(|err| panic!("{key}: {err}"))
    }

    fn json(&self, key: &str) -> Value {
        serde_json::from_str(&self.read(key)).unwrap_or_else(|err| panic!("{key}: {err}"))
    }

    /// Every file under the directory, relative, sorted.
    fn files(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for entry in fs::read_dir(dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    out.push(
                        path.strip_prefix(root)
                            .expect("prefix")
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &self.0, &mut out);
        out.sort();
        out
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn promptops(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(args)
        .env_remove("AWS_REGION")
        .env_remove("PROMPTOPS_MODEL")
        .output()
        .expect("run promptops");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const WELCOME: &str = r#"{"prompt": "marketing.welcome-email", "variables": {"customer_name": "Ada", "product": "Acme Cloud"}, "output_format": "html"}"#;

#[test]
fn run_publishes_good_inputs_records_bad_ones_and_exits_1() {
    let bucket = TempDir::new("run");
    bucket.write("prompt_inputs/beta-welcome.json", WELCOME);
    bucket.write(
        "prompt_templates/note.txt",
        "Dear {{ name }}, see {{ topic }}.",
    );
    bucket.write(
        "prompt_inputs/Note Final.json",
        r#"{"template": "note.txt", "variables": {"name": "<script>alert(1)</script>", "topic": "Q3"}, "output_format": "html"}"#,
    );
    // Metadata (the sidecar) wins over the file-name prefix.
    bucket.write("prompt_inputs/prod-by-metadata.json", r#"{"template": "note.txt", "variables": {"name": "A", "topic": "B"}, "output_format": "md"}"#);
    bucket.write(
        "prompt_inputs/prod-by-metadata.json.meta.json",
        r#"{"env": "beta"}"#,
    );
    // Refused: a prod input on the beta deployment.
    bucket.write("prompt_inputs/prod-launch.json", WELCOME);
    bucket.write("prompt_inputs/bad-json.json", "{not json");
    bucket.write(
        "prompt_inputs/unknown-var.json",
        r#"{"prompt": "marketing.welcome-email", "variables": {"customer_name": "Ada", "product": "P", "colour": "red"}, "output_format": "md"}"#,
    );
    bucket.write(
        "prompt_inputs/mistyped.json",
        r#"{"prompt": "marketing.welcome-email", "variables": {"customer_name": 42, "product": "P"}, "output_format": "md"}"#,
    );
    bucket.write(
        "prompt_inputs/no-template.json",
        r#"{"template": "missing.txt", "variables": {}, "output_format": "md"}"#,
    );
    bucket.write(
        "prompt_inputs/traversal.json",
        r#"{"prompt": "marketing.welcome-email", "variables": {"customer_name": "A", "product": "P"}, "output_format": "md", "output_slug": "../../prod/outputs/x"}"#,
    );
    let mut huge = br#"{"prompt": "marketing.welcome-email", "output_format": "md", "variables": {"customer_name": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    huge.extend(br#"", "product": "P"}}"#);
    bucket.write("prompt_inputs/huge.json", huge);

    let dir = bucket.0.to_str().expect("utf-8 path");
    let (code, stdout, stderr) =
        promptops(&["pipeline", "run", "--bucket-dir", dir, "--env", "beta"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("  inputs        10\n  published      4\n  failed         6\n"),
        "{stdout}"
    );

    // The compiled-in prompt, with every variable substituted.
    let html = bucket.read("beta/outputs/welcome.html");
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("Ada") && html.contains("Acme Cloud"),
        "{html}"
    );
    let meta = bucket.json("beta/outputs/welcome.html.meta.json");
    assert_eq!(meta["prompt-id"], "marketing.welcome-email");
    assert_eq!(meta["prompt-version"], "1");
    assert_eq!(meta["env"], "beta");
    assert_eq!(meta["model-id"], "local");
    assert_eq!(meta["source-key"], "prompt_inputs/beta-welcome.json");
    let hash = meta["content-hash"].as_str().expect("hash");
    assert_eq!(hash.len(), 64);

    // A hostile variable in an S3 template is text in the HTML.
    let note = bucket.read("beta/outputs/notefinal.html");
    assert!(
        note.contains("Dear &lt;script&gt;alert(1)&lt;/script&gt;, see Q3."),
        "{note}"
    );
    assert!(!note.contains("<script>"));
    assert_eq!(
        bucket.json("beta/outputs/notefinal.html.meta.json")["source-key"],
        "prompt_inputs/Note%20Final.json"
    );
    assert!(bucket
        .read("beta/outputs/by-metadata.md")
        .contains("Dear A, see B."));
    // The traversal attempt stays under beta/outputs/.
    assert!(bucket
        .read("beta/outputs/prodoutputsx.md")
        .contains("Write a welcome email to A"));

    for (slug, stage, needle) in [
        ("launch", "parse", "refused"),
        ("bad-json", "parse", "not valid"),
        ("unknown-var", "render", "unknown variable `colour`"),
        (
            "mistyped",
            "render",
            "declared as string but the config gives an integer",
        ),
        ("no-template", "render", "missing template"),
        ("huge", "parse", "limit"),
    ] {
        let record = bucket.json(&format!("beta/errors/{slug}.json"));
        assert_eq!(record["stage"], stage, "{slug}: {record}");
        assert!(
            record["error"].as_str().expect("error").contains(needle),
            "{slug}: {record}"
        );
        assert_eq!(record["env"], "beta");
        assert!(record["source_key"]
            .as_str()
            .expect("key")
            .starts_with("prompt_inputs/"));
    }
    assert_eq!(bucket.json("beta/errors/launch.json")["input_env"], "prod");

    // Nothing under prod/, nothing partial, nothing for the failed inputs.
    let files = bucket.files();
    assert!(!files.iter().any(|f| f.starts_with("prod/")), "{files:?}");
    assert!(!files.iter().any(|f| f.contains(".tmp")), "{files:?}");
    let outputs: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("beta/outputs/") && !f.ends_with(".meta.json"))
        .collect();
    assert_eq!(outputs.len(), 4, "{outputs:?}");

    // Reprocessing yields the same keys and the same bytes.
    let (code, again, _) = promptops(&["pipeline", "run", "--bucket-dir", dir]);
    assert_eq!(code, 1);
    assert_eq!(bucket.files(), files);
    assert_eq!(bucket.read("beta/outputs/welcome.html"), html);
    let keys = |text: &str| {
        text.lines()
            .filter(|l| l.contains(" → "))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&again), keys(&stdout));
}

#[test]
fn a_prod_deployment_writes_only_under_prod_and_refuses_beta() {
    let bucket = TempDir::new("prod");
    bucket.write("prompt_inputs/beta-welcome.json", WELCOME);
    bucket.write("prompt_inputs/prod-welcome.json", WELCOME);
    bucket.write("prompt_inputs/plain.json", WELCOME);
    let dir = bucket.0.to_str().expect("utf-8 path");
    let (code, stdout, _) = promptops(&[
        "pipeline",
        "run",
        "--bucket-dir",
        dir,
        "--env",
        "prod",
        "--default-env",
        "beta",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(bucket.read("prod/outputs/welcome.html").contains("Ada"));
    // DEFAULT_ENV=beta sends the unprefixed input to beta: refused here.
    assert_eq!(bucket.json("prod/errors/plain.json")["input_env"], "beta");
    assert!(!bucket.files().iter().any(|f| f.starts_with("beta/")));
}

#[test]
fn an_empty_bucket_succeeds_and_a_missing_one_is_usage() {
    let bucket = TempDir::new("empty");
    let dir = bucket.0.to_str().expect("utf-8 path");
    let (code, stdout, _) = promptops(&["pipeline", "run", "--bucket-dir", dir]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("inputs         0"));
    let (code, _, stderr) =
        promptops(&["pipeline", "run", "--bucket-dir", "/nonexistent/promptops"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no prompt_inputs/"), "{stderr}");
    let (code, _, stderr) =
        promptops(&["pipeline", "run", "--bucket-dir", dir, "--env", "staging"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn check_validates_configs_offline() {
    let bucket = TempDir::new("check");
    bucket.write("prompt_inputs/beta-welcome.json", WELCOME);
    bucket.write("prompt_templates/note.txt", "Dear {{ name }}.");
    bucket.write(
        "prompt_inputs/note.json",
        r#"{"template": "note.txt", "variables": {"name": "A"}, "output_format": "md"}"#,
    );
    bucket.write(
        "prompt_inputs/bad.json",
        r#"{"template": "note.txt", "variables": {}, "output_format": "pdf"}"#,
    );
    bucket.write(
        "prompt_inputs/missing-var.json",
        r#"{"template": "note.txt", "variables": {}, "output_format": "md"}"#,
    );
    let path = |name: &str| {
        bucket
            .0
            .join("prompt_inputs")
            .join(name)
            .to_string_lossy()
            .into_owned()
    };
    let (code, stdout, _) = promptops(&[
        "pipeline",
        "check",
        &path("beta-welcome.json"),
        &path("note.json"),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("→ beta/outputs/welcome.html (marketing.welcome-email v1)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("→ beta/outputs/note.md (prompt_templates/note.txt v1)"),
        "{stdout}"
    );
    let (code, stdout, _) = promptops(&[
        "pipeline",
        "check",
        &path("bad.json"),
        &path("missing-var.json"),
        &path("note.json"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("bad.json: parse: "), "{stdout}");
    assert!(
        stdout.contains("missing-var.json: render: ")
            && stdout.contains("missing required variable `name`"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("3 configs, 1 valid, 2 invalid\n"),
        "{stdout}"
    );
    // Templates elsewhere: --templates.
    let other = TempDir::new("check-templates");
    other.write("prompt_templates/note.txt", "Hello {{ other }}.");
    let templates = other
        .0
        .join("prompt_templates")
        .to_string_lossy()
        .into_owned();
    let (code, stdout, _) = promptops(&[
        "pipeline",
        "check",
        "--templates",
        &templates,
        &path("note.json"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("unknown variable `name`"), "{stdout}");
}

#[test]
fn the_shipped_samples_pass_check() {
    let samples =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../promptops-pipeline/samples/prompt_inputs");
    let mut configs: Vec<String> = fs::read_dir(&samples)
        .expect("samples")
        .map(|entry| entry.expect("entry").path().to_string_lossy().into_owned())
        .filter(|path| path.ends_with(".json"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 2);
    let mut args = vec!["pipeline", "check"];
    args.extend(configs.iter().map(String::as_str));
    let (code, stdout, _) = promptops(&args);
    assert_eq!(code, 0, "{stdout}");
}
