//! `promptops pipeline run|check`: the real binary over a real directory standing in for the
//! bucket, with the local model (no AWS). The attacks of issue 21 on the local mode run the
//! binary under `prlimit --as`: one bad template among 200 inputs, symlinks in the bucket, and
//! 2,000 inputs on one slug (the Lambda's side is `promptops-pipeline/tests/hostile.rs`).

use std::fs;
use std::path::Path;
use std::process::Command;

use promptops_core::hash::sha256_hex;
use promptops_tests::TempDir;
use serde_json::Value;

/// A local bucket (`prompt_inputs/`, `prompt_templates/`) in a directory removed on drop.
struct Bucket(TempDir);

impl Bucket {
    fn new(name: &str) -> Bucket {
        let dir = TempDir::new(&format!("pipeline-cli-{name}"));
        fs::create_dir_all(dir.join("prompt_inputs")).expect("create prompt_inputs");
        fs::create_dir_all(dir.join("prompt_templates")).expect("create prompt_templates");
        Bucket(dir)
    }

    /// The bucket's directory.
    fn path(&self) -> &Path {
        self.0.path()
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
        walk(self.path(), self.path(), &mut out);
        out.sort();
        out
    }
}

fn promptops(args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promptops"));
    command.args(args);
    output(command)
}

fn output(mut command: Command) -> (i32, String, String) {
    let out = command
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

/// Address space for `promptops pipeline run` under attack (bytes; `prlimit` takes no unit
/// suffix reliably): a debug build's code and threads fit, a blow-up does not.
const ADDRESS_SPACE: u64 = 2 << 30;

/// `promptops pipeline run --bucket-dir DIR --env beta` under `prlimit --as`, after `setup` (a
/// shell snippet that runs with the binary's pid as `$$`: `exec` keeps it), with `env` set.
fn run_limited(dir: &Path, setup: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{setup}\nexec \"$@\""))
        .arg("sh")
        .arg("prlimit")
        .arg(format!("--as={ADDRESS_SPACE}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_promptops"))
        .args(["pipeline", "run", "--bucket-dir"])
        .arg(dir)
        .args(["--env", "beta"])
        .envs(env.iter().copied());
    output(command)
}

/// A config for the template `good.txt` (`Item {{ n }}: hello`), whose output names `n`.
fn good_config(n: &str, slug: Option<&str>) -> String {
    let mut config =
        serde_json::json!({"template": "good.txt", "variables": {"n": n}, "output_format": "md"});
    if let Some(slug) = slug {
        config["output_slug"] = slug.into();
    }
    config.to_string()
}

const WELCOME: &str = r#"{"prompt": "marketing.welcome-email", "variables": {"customer_name": "Ada", "product": "Acme Cloud"}, "output_format": "html"}"#;

#[test]
fn run_publishes_good_inputs_records_bad_ones_and_exits_1() {
    let bucket = Bucket::new("run");
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

    let dir = bucket.path().to_str().expect("utf-8 path");
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
    let bucket = Bucket::new("prod");
    bucket.write("prompt_inputs/beta-welcome.json", WELCOME);
    bucket.write("prompt_inputs/prod-welcome.json", WELCOME);
    bucket.write("prompt_inputs/plain.json", WELCOME);
    let dir = bucket.path().to_str().expect("utf-8 path");
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
    let bucket = Bucket::new("empty");
    let dir = bucket.path().to_str().expect("utf-8 path");
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
    let bucket = Bucket::new("check");
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
    let other = Bucket::new("check-templates");
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

#[test]
fn one_bad_template_among_200_inputs_fails_alone() {
    let chain = format!("{{{{ x{} }}}}", "|upper".repeat(5_000));
    let big = format!("{{{{ x{} }}}}", " ~ x".repeat(400 * 1024 / 4));
    for (name, template, needle) in [("chain", chain, "operators"), ("big", big, "262144")] {
        let bucket = Bucket::new(&format!("bad-{name}"));
        bucket.write("prompt_templates/good.txt", "Item {{ n }}: hello");
        bucket.write("prompt_templates/bad.txt", template);
        for i in 0..199 {
            bucket.write(
                &format!("prompt_inputs/beta-good-{i:03}.json"),
                good_config(&format!("N{i:03}"), None),
            );
        }
        bucket.write(
            "prompt_inputs/beta-good-099-bad.json",
            r#"{"template": "bad.txt", "variables": {"x": "a"}, "output_format": "md"}"#,
        );
        let (code, stdout, stderr) = run_limited(bucket.path(), "", &[]);
        assert_eq!(code, 1, "{name}: {stdout}{stderr}");
        assert!(
            stdout.contains("  inputs       200\n  published    199\n  failed         1\n"),
            "{name}: {stdout}{stderr}"
        );
        let record = bucket.json("beta/errors/good-099-bad.json");
        assert_eq!(record["stage"], "render", "{name}: {record}");
        assert!(
            record["error"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{name}: {record}"
        );
        let outputs = bucket
            .files()
            .into_iter()
            .filter(|f| f.starts_with("beta/outputs/") && f.ends_with(".md"))
            .count();
        assert_eq!(outputs, 199, "{name}");
        assert_eq!(
            bucket.read("beta/outputs/good-198.md"),
            "[local model: prompt_templates/good.txt v1] Item N198: hello\n"
        );
    }
}

#[test]
fn symlinks_in_the_bucket_are_refused_and_nothing_outside_is_read_or_written() {
    const CANARY: &str = "PROMPTOPS_CANARY_SECRET";
    let outside = Bucket::new("symlinks-outside");
    outside.write("secret.txt", "OUTSIDE_SECRET {{ n }}");
    outside.write("victim.txt", "precious");
    outside.write("config.json", good_config("linked", None));
    fs::create_dir_all(outside.0.join("outputs")).expect("mkdir");
    let link = |target: &Path, at: &Path| {
        fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(target, at).expect("symlink");
    };

    // Links to read through: templates to /proc/self/environ and to a file outside, and an
    // input that is a link to a config outside. A link where an output goes, and where its
    // sidecar goes. Temporary-file names as main's writer made them (`.{name}.{pid}.tmp`),
    // planted for the binary's own pid.
    let bucket = Bucket::new("symlinks");
    bucket.write("prompt_templates/good.txt", "Item {{ n }}: hello");
    link(
        Path::new("/proc/self/environ"),
        &bucket.path().join("prompt_templates/environ.txt"),
    );
    link(
        &outside.0.join("secret.txt"),
        &bucket.path().join("prompt_templates/outside.txt"),
    );
    bucket.write(
        "prompt_inputs/beta-environ.json",
        r#"{"template": "environ.txt", "variables": {}, "output_format": "md"}"#,
    );
    bucket.write(
        "prompt_inputs/beta-outside.json",
        r#"{"template": "outside.txt", "variables": {"n": "1"}, "output_format": "md"}"#,
    );
    link(
        &outside.0.join("config.json"),
        &bucket.path().join("prompt_inputs/beta-linked.json"),
    );
    bucket.write("prompt_inputs/beta-good.json", good_config("ok", None));
    bucket.write("prompt_inputs/beta-victim.json", good_config("v", None));
    bucket.write("prompt_inputs/beta-sidecar.json", good_config("s", None));
    link(
        &outside.0.join("victim.txt"),
        &bucket.path().join("beta/outputs/victim.md"),
    );
    link(
        &outside.0.join("victim.txt"),
        &bucket.path().join("beta/outputs/sidecar.md.meta.json"),
    );
    let victim = outside.0.join("victim.txt");
    let plant = ["good.md", "good.md.meta.json"]
        .map(|name| {
            format!(
                "ln -s '{}' '{}/beta/outputs/.{name}.'$$'.tmp'",
                victim.display(),
                bucket.path().display()
            )
        })
        .join("\n");
    let (code, stdout, stderr) = run_limited(bucket.path(), &plant, &[(CANARY, "leaked-value")]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("  published      1\n  failed         5\n"),
        "{stdout}{stderr}"
    );
    assert_eq!(
        bucket.read("beta/outputs/good.md"),
        "[local model: prompt_templates/good.txt v1] Item ok: hello\n"
    );
    for (slug, stage, link) in [
        ("environ", "render", "prompt_templates/environ.txt"),
        ("outside", "render", "prompt_templates/outside.txt"),
        ("linked", "parse", "prompt_inputs/beta-linked.json"),
        ("victim", "publish", "beta/outputs/victim.md"),
        ("sidecar", "publish", "sidecar.md.meta.json"),
    ] {
        let record = bucket.json(&format!("beta/errors/{slug}.json"));
        let error = record["error"].as_str().unwrap_or_default();
        assert_eq!(record["stage"], stage, "{slug}: {record}");
        assert!(
            error.contains("symbolic link") && error.contains(link),
            "{slug}: {record}"
        );
    }
    // Nothing read from outside reached the bucket; nothing outside was written.
    for file in bucket.files() {
        let path = bucket.path().join(&file);
        if path.is_symlink() {
            continue;
        }
        let body = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !body.contains(CANARY)
                && !body.contains("OUTSIDE_SECRET")
                && !body.contains("Item linked"),
            "{file}: {body}"
        );
    }
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious");

    // The outputs directory itself is a link: every output is refused, each with its errors
    // object, and the directory outside stays empty.
    let bucket = Bucket::new("symlinks-outputs-dir");
    bucket.write("prompt_templates/good.txt", "Item {{ n }}: hello");
    for n in ["a", "b"] {
        bucket.write(
            &format!("prompt_inputs/beta-{n}.json"),
            good_config(n, None),
        );
    }
    link(
        &outside.0.join("outputs"),
        &bucket.path().join("beta/outputs"),
    );
    let (code, stdout, stderr) = run_limited(bucket.path(), "", &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    for n in ["a", "b"] {
        let record = bucket.json(&format!("beta/errors/{n}.json"));
        assert_eq!(record["stage"], "publish", "{record}");
        assert!(
            record["error"]
                .as_str()
                .unwrap_or_default()
                .contains("`beta/outputs` is a symbolic link"),
            "{record}"
        );
    }
    assert_eq!(
        fs::read_dir(outside.0.join("outputs"))
            .expect("outputs")
            .count(),
        0
    );

    // The inputs directory is a link: the listing refuses it, and nothing is read.
    let bucket = Bucket::new("symlinks-inputs-dir");
    fs::remove_dir(bucket.path().join("prompt_inputs")).expect("rmdir");
    fs::create_dir_all(outside.0.join("inputs")).expect("mkdir");
    fs::write(outside.0.join("inputs/beta-x.json"), good_config("x", None)).expect("write");
    link(
        &outside.0.join("inputs"),
        &bucket.path().join("prompt_inputs"),
    );
    let (code, stdout, stderr) = run_limited(bucket.path(), "", &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("`prompt_inputs` is a symbolic link"),
        "{stderr}"
    );
    assert!(!bucket.path().join("beta").exists());
}

#[test]
fn two_thousand_inputs_on_one_slug_leave_one_consistent_output_and_sidecar() {
    let bucket = Bucket::new("one-slug");
    bucket.write("prompt_templates/good.txt", "Item {{ n }}: hello");
    for i in 0..2000 {
        bucket.write(
            &format!("prompt_inputs/beta-in-{i:04}.json"),
            good_config(&format!("N{i:04}"), Some("same")),
        );
    }
    let (code, stdout, stderr) = run_limited(bucket.path(), "", &[]);
    assert_eq!(code, 0, "{stderr}{}", &stdout[..stdout.len().min(2000)]);
    assert!(
        stdout.contains("  inputs      2000\n  published   2000\n  failed         0\n"),
        "{}",
        &stdout[..stdout.len().min(2000)]
    );
    // The pair describes one input: the sidecar's hash is the output's, and its source key
    // names the input whose variable the output shows.
    let body = bucket.read("beta/outputs/same.md");
    let meta = bucket.json("beta/outputs/same.md.meta.json");
    assert_eq!(meta["content-hash"], sha256_hex(body.as_bytes()), "{meta}");
    let n = body
        .split("Item N")
        .nth(1)
        .and_then(|rest| rest.get(..4))
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(
        meta["source-key"],
        format!("prompt_inputs/beta-in-{n}.json")
    );
    // No temporary file is left behind.
    let files = bucket.files();
    assert!(!files.iter().any(|f| f.contains(".tmp")), "{files:?}");
    assert_eq!(
        files.iter().filter(|f| f.starts_with("beta/")).count(),
        2,
        "{files:?}"
    );
}
