//! S3 in and out, against moto's standalone server with the real AWS SDK client: streaming
//! input, staged parts as the checkpoint, the multipart upload that completes the results
//! object (copies inside S3 past 5 MiB), resume in every state a run can leave behind, and
//! `kill -9` of the real binary mid-upload.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use promptops_batch::s3::{staged_prefix, S3, STAGED_THROUGH_METADATA};
use promptops_batch::{find_prompt, run, BatchError, JobConfig, Location, StopSignal, Target};
use promptops_runtime::Runtime;
use promptops_tests::moto::Moto;
use serde_json::Value;

const PROMPT: &str = "customer-support.intent-classifier";
const MESSAGES: [&str; 5] = [
    "I was charged twice for my subscription this month",
    "The app crashes every time I open the settings page",
    "Do you offer a discount for teams of fifty people?",
    "I want to cancel my account, it is too expensive",
    "Where can I find the user manual for the device?",
];

/// `count` records `t-00000…` cycling through [`MESSAGES`], as JSON Lines.
fn records(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| {
            format!(
                "{}\n",
                serde_json::json!({ "id": format!("t-{i:06}"), "message": MESSAGES[i % MESSAGES.len()] })
            )
        })
        .collect()
}

fn local_runtime() -> Runtime {
    Runtime::local().with_name("batch")
}

async fn put(moto: &Moto, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
    moto.s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into().into())
        .send()
        .await
        .unwrap_or_else(|err| panic!("put {key}: {err:?}"));
}

async fn get(moto: &Moto, bucket: &str, key: &str) -> Vec<u8> {
    let object = moto
        .s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|err| panic!("get {key}: {err:?}"));
    object.body.collect().await.expect("read body").to_vec()
}

/// id → output of every line; panics on a doubled id.
fn outputs(jsonl: &[u8]) -> HashMap<String, Value> {
    let mut outputs = HashMap::new();
    for line in String::from_utf8_lossy(jsonl).lines() {
        let value: Value = serde_json::from_str(line).expect("a JSON line");
        let id = value["id"].as_str().expect("an id").to_owned();
        let output = value["output"].clone();
        assert!(
            outputs.insert(id.clone(), output).is_none(),
            "{id} is doubled"
        );
    }
    outputs
}

fn config(moto: &Moto, input: &str, output: &str) -> JobConfig {
    let prompt = find_prompt(PROMPT).expect("the classifier is compiled in");
    let mut config = JobConfig::new(
        input.parse::<Location>().expect("input location"),
        Target::Results(output.parse().expect("output location")),
        prompt,
    );
    config.s3 = Some(S3::new(moto.s3(), tokio::runtime::Handle::current()));
    config.progress = promptops_batch::ProgressMode::Off;
    config
}

async fn staged_keys(moto: &Moto, bucket: &str, results_key: &str) -> Vec<String> {
    let prefix = staged_prefix(results_key);
    moto.object_keys(bucket)
        .await
        .into_iter()
        .filter(|key| key.starts_with(&prefix))
        .collect()
}

/// On tokio's default current-thread runtime: the job's threads drive their S3 calls through
/// this runtime while the test awaits the job, which must therefore never block it.
#[tokio::test]
async fn s3_in_and_out_equals_a_local_run_and_resumes_from_every_state_a_run_leaves() {
    let Some(moto) = Moto::start("S3 input and output").await else {
        return;
    };
    let bucket = moto.fresh_bucket("batch-s3").await;
    let mut input = records(0..3000);
    // Two unusable lines and a doubled id: errors, as for a local file.
    input.push_str("not json\n{\"message\":\"no id\"}\n");
    input.push_str(&records(7..8));
    put(&moto, &bucket, "in/tickets.jsonl", input.clone()).await;

    // The same job on local files, for comparison.
    let dir = common::scratch("s3-local-twin");
    std::fs::write(dir.join("in.jsonl"), &input).unwrap();
    let prompt = find_prompt(PROMPT).unwrap();
    let mut local = JobConfig::new(
        dir.join("in.jsonl"),
        Target::Results(dir.join("results.jsonl").into()),
        prompt,
    );
    local.progress = promptops_batch::ProgressMode::Off;
    let runtime = local_runtime();
    let local_summary = run(&local, &runtime, &StopSignal::new()).await.unwrap();
    let local_results = outputs(&std::fs::read(dir.join("results.jsonl")).unwrap());
    let local_errors = std::fs::read_to_string(dir.join("results.jsonl.errors.jsonl")).unwrap();

    let input_uri = format!("s3://{bucket}/in/tickets.jsonl");
    let output_uri = format!("s3://{bucket}/out/results.jsonl");
    let mut s3_job = config(&moto, &input_uri, &output_uri);
    // Small staged parts: many checkpoints, joined into one part at the end.
    s3_job.stage_bytes = 16 * 1024;
    let summary = run(&s3_job, &runtime, &StopSignal::new()).await.unwrap();
    assert_eq!(summary.succeeded, 3000);
    assert_eq!(summary.succeeded, local_summary.succeeded);
    assert_eq!(summary.failed, local_summary.failed);
    assert_eq!(summary.output, output_uri);
    let first = get(&moto, &bucket, "out/results.jsonl").await;
    assert_eq!(
        outputs(&first),
        local_results,
        "the same results as a local run"
    );
    let errors = get(&moto, &bucket, "out/results.jsonl.errors.jsonl").await;
    assert_eq!(
        String::from_utf8(errors).unwrap().lines().count(),
        local_errors.lines().count()
    );
    assert_eq!(local_errors.lines().count(), 3);
    assert!(
        staged_keys(&moto, &bucket, "out/results.jsonl")
            .await
            .is_empty(),
        "the staged parts are deleted once the object is complete"
    );

    // Rerun: everything is there; nothing is called and the object is unchanged.
    let rerun = run(&s3_job, &runtime, &StopSignal::new()).await.unwrap();
    assert_eq!((rerun.succeeded, rerun.skipped), (0, 3000));
    assert_eq!(get(&moto, &bucket, "out/results.jsonl").await, first);

    // A run killed after completing the object but before deleting its staged parts: the part
    // the object already holds is recognised by the object's metadata, not counted twice.
    let head = moto
        .s3()
        .head_object()
        .bucket(&bucket)
        .key("out/results.jsonl")
        .send()
        .await
        .unwrap();
    let through: u64 = head.metadata().unwrap()[STAGED_THROUGH_METADATA]
        .parse()
        .unwrap();
    assert!(through > 1, "many parts were staged");
    let already_in = format!("{}{through:010}.jsonl", staged_prefix("out/results.jsonl"));
    let held_line = String::from_utf8_lossy(&first)
        .lines()
        .next()
        .unwrap()
        .to_owned()
        + "\n";
    put(&moto, &bucket, &already_in, held_line).await;
    // ...and a run killed with a staged part the object does not hold yet: its lines count.
    let mut extra = records(3000..3010);
    put(&moto, &bucket, "in/tickets.jsonl", {
        let mut grown = input.clone();
        grown.push_str(&extra);
        grown
    })
    .await;
    let pending = format!(
        "{}{:010}.jsonl",
        staged_prefix("out/results.jsonl"),
        through + 1
    );
    let local_dir = common::scratch("s3-pending-part");
    std::fs::write(local_dir.join("in.jsonl"), records(3000..3002)).unwrap();
    let mut pending_job = local.clone();
    pending_job.input = local_dir.join("in.jsonl").into();
    pending_job.target = Target::Results(local_dir.join("r.jsonl").into());
    run(&pending_job, &runtime, &StopSignal::new())
        .await
        .unwrap();
    let pending_lines = std::fs::read(local_dir.join("r.jsonl")).unwrap();
    put(&moto, &bucket, &pending, pending_lines.clone()).await;

    let resumed = run(&s3_job, &runtime, &StopSignal::new()).await.unwrap();
    assert_eq!(
        resumed.succeeded, 8,
        "only the 8 records in no part are called"
    );
    assert_eq!(resumed.skipped, 3002);
    let grown = get(&moto, &bucket, "out/results.jsonl").await;
    let all = outputs(&grown);
    assert_eq!(all.len(), 3010);
    assert!(
        grown.starts_with(&first),
        "the earlier object is kept, in order"
    );
    assert!(staged_keys(&moto, &bucket, "out/results.jsonl")
        .await
        .is_empty());

    // Resume checks the pinned version against staged parts too.
    extra = String::from_utf8_lossy(&pending_lines)
        .lines()
        .next()
        .unwrap()
        .replace("\"prompt_version\":\"", "\"prompt_version\":\"99");
    put(
        &moto,
        &bucket,
        &format!("{}{:010}.jsonl", staged_prefix("out/results.jsonl"), 9_999),
        extra + "\n",
    )
    .await;
    let err = run(&s3_job, &runtime, &StopSignal::new())
        .await
        .unwrap_err();
    assert!(matches!(err, BatchError::VersionChanged { .. }), "{err}");
    assert!(err.to_string().contains(&output_uri), "{err}");

    // --fresh starts over: the object and its staged parts go.
    let mut fresh = s3_job.clone();
    fresh.fresh = true;
    let summary = run(&fresh, &runtime, &StopSignal::new()).await.unwrap();
    assert_eq!(summary.succeeded, 3010);
    assert_eq!(
        outputs(&get(&moto, &bucket, "out/results.jsonl").await).len(),
        3010
    );
    assert!(staged_keys(&moto, &bucket, "out/results.jsonl")
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_past_five_mib_are_copied_inside_s3_and_a_finished_object_is_extended() {
    let Some(moto) = Moto::start("S3 multipart completion").await else {
        return;
    };
    let bucket = moto.fresh_bucket("batch-s3-big").await;
    let runtime = local_runtime();
    put(&moto, &bucket, "in.jsonl", records(0..24_000)).await;
    let mut job = config(
        &moto,
        &format!("s3://{bucket}/in.jsonl"),
        &format!("s3://{bucket}/out.jsonl"),
    );
    // Parts of 6 MiB: the first is copied inside S3, the rest is uploaded.
    job.stage_bytes = 6 * 1024 * 1024;
    job.concurrency = 64;
    let summary = run(&job, &runtime, &StopSignal::new()).await.unwrap();
    assert_eq!(summary.succeeded, 24_000);
    let first = get(&moto, &bucket, "out.jsonl").await;
    assert!(
        first.len() > 6 * 1024 * 1024,
        "{} bytes: the test needs more than one staged part",
        first.len()
    );
    assert_eq!(outputs(&first).len(), 24_000);

    // The finished object (> 5 MiB) is the first source of the next run's upload: copied,
    // never downloaded, then the new lines.
    put(&moto, &bucket, "in.jsonl", records(0..24_500)).await;
    let summary = run(&job, &runtime, &StopSignal::new()).await.unwrap();
    assert_eq!((summary.succeeded, summary.skipped), (500, 24_000));
    let grown = get(&moto, &bucket, "out.jsonl").await;
    assert!(grown.starts_with(&first));
    assert_eq!(outputs(&grown).len(), 24_500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_input_object_fails_before_any_output_is_touched() {
    let Some(moto) = Moto::start("S3 missing input").await else {
        return;
    };
    let bucket = moto.fresh_bucket("batch-s3-missing").await;
    put(&moto, &bucket, "out.jsonl", "keep me\n").await;
    let job = config(
        &moto,
        &format!("s3://{bucket}/nope.jsonl"),
        &format!("s3://{bucket}/out.jsonl"),
    );
    let err = run(&job, &local_runtime(), &StopSignal::new())
        .await
        .unwrap_err();
    assert!(matches!(err, BatchError::Input { .. }), "{err}");
    assert!(err.to_string().contains("nope.jsonl"), "{err}");
    assert_eq!(get(&moto, &bucket, "out.jsonl").await, b"keep me\n");
}

/// The real binary, killed with SIGKILL while it stages parts, then rerun: every record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_upload_then_a_rerun_loses_and_doubles_nothing() {
    let Some(moto) = Moto::start("S3 kill -9 and resume").await else {
        return;
    };
    let bucket = moto.fresh_bucket("batch-s3-kill").await;
    const RECORDS: usize = 6000;
    put(&moto, &bucket, "in.jsonl", records(0..RECORDS)).await;
    let (endpoint, input_uri, output_uri) = (
        moto.endpoint().to_owned(),
        format!("s3://{bucket}/in.jsonl"),
        format!("s3://{bucket}/run/results.jsonl"),
    );
    let batch = move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_promptops-batch"));
        for name in [
            "PROMPTOPS_MODEL",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "RUST_LOG",
        ] {
            command.env_remove(name);
        }
        command
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .args(["--input", &input_uri])
            .args(["--output", &output_uri])
            // ~15 lines per staged part: hundreds of checkpoints.
            .args([
                "--stage-bytes",
                "4096",
                "--progress",
                "off",
                "--model",
                "local",
            ]);
        command
    };
    let mut child = batch()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promptops-batch");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let staged = staged_keys(&moto, &bucket, "run/results.jsonl").await.len();
        if staged >= 20 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            panic!("the job ended ({status}) before it could be killed ({staged} parts staged): {stderr}");
        }
        assert!(Instant::now() < deadline, "no staged parts appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    assert!(
        !moto
            .object_keys(&bucket)
            .await
            .contains(&"run/results.jsonl".to_owned()),
        "killed before it could complete the object"
    );
    // Every line staged before the kill is durable; the rerun must skip exactly those.
    let mut staged_lines = 0;
    for key in staged_keys(&moto, &bucket, "run/results.jsonl").await {
        staged_lines += outputs(&get(&moto, &bucket, &key).await).len();
    }
    assert!(staged_lines > 0);
    let summary_json = common::scratch("s3-kill").join("summary.json");

    let rerun = batch.clone();
    let summary_arg = summary_json.clone();
    let output = tokio::task::spawn_blocking(move || {
        rerun().arg("--summary-json").arg(summary_arg).output()
    })
    .await
    .unwrap()
    .expect("rerun promptops-batch");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(&summary_json).unwrap()).unwrap();
    assert_eq!(summary["skipped"], staged_lines, "{stdout}");
    assert_eq!(summary["succeeded"], RECORDS - staged_lines, "{stdout}");
    let results = outputs(&get(&moto, &bucket, "run/results.jsonl").await);
    assert_eq!(results.len(), RECORDS, "every record exactly once");
    for i in 0..RECORDS {
        assert!(
            results.contains_key(&format!("t-{i:06}")),
            "t-{i:06} is lost"
        );
    }
    assert!(staged_keys(&moto, &bucket, "run/results.jsonl")
        .await
        .is_empty());
}

/// The binary with moto's endpoint and test credentials, and nothing of a developer's setup.
fn batch_on(endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promptops-batch"));
    for name in [
        "PROMPTOPS_MODEL",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "RUST_LOG",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ] {
        command.env_remove(name);
    }
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    command
}

async fn run_binary(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run promptops-batch")
}

/// Four AWS Batch array children (`--shard array/4`, the index from
/// `AWS_BATCH_JOB_ARRAY_INDEX`, `{shard}` in the output), then `merge`: every input id once.
/// A merge with the wrong shard count, or a shard missing, writes nothing and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_array_children_then_merge_account_for_every_id_once() {
    let Some(moto) = Moto::start("S3 sharded run and merge").await else {
        return;
    };
    let bucket = moto.fresh_bucket("batch-s3-merge").await;
    let mut input = records(0..2000);
    input.push_str("not json\n");
    put(&moto, &bucket, "in.jsonl", input).await;
    let input_uri = format!("s3://{bucket}/in.jsonl");
    let from = format!("s3://{bucket}/run/results-{{shard}}.jsonl");
    for index in 0..4 {
        let mut child = batch_on(moto.endpoint());
        child
            .env("AWS_BATCH_JOB_ARRAY_INDEX", index.to_string())
            .args(["--input", &input_uri, "--output", &from])
            .args([
                "--shard",
                "array/4",
                "--progress",
                "off",
                "--model",
                "local",
            ]);
        let output = run_binary(child).await;
        assert_eq!(
            output.status.code(),
            // The bad line is reported by exactly one shard, which exits 1 (a failed record).
            Some(i32::from(index == 0)),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(&format!("{index}/4")), "{stdout}");
    }
    let keys = moto.object_keys(&bucket).await;
    for index in 0..4 {
        let key = format!("run/results-{index:04}-of-0004.jsonl");
        assert!(keys.contains(&key), "{key} in {keys:?}");
        assert!(keys.contains(&format!("{key}.errors.jsonl")));
    }

    let merged_uri = format!("s3://{bucket}/run/results.jsonl");
    let merge = |shards: &str| {
        let mut command = batch_on(moto.endpoint());
        command
            .arg("merge")
            .args(["--shards", shards, "--from", &from])
            .args(["--output", &merged_uri, "--input", &input_uri]);
        command
    };
    let output = run_binary(merge("4")).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("2000 results, 1 errors"), "{stdout}");
    let merged = outputs(&get(&moto, &bucket, "run/results.jsonl").await);
    assert_eq!(merged.len(), 2000);
    let errors = get(&moto, &bucket, "run/results.jsonl.errors.jsonl").await;
    assert_eq!(String::from_utf8_lossy(&errors).lines().count(), 1);

    // Three shards named over a four-shard run: shard 0 of 3 does not exist (exit 3, an input
    // that cannot be read). Nothing is written over the good merge.
    let good = get(&moto, &bucket, "run/results.jsonl").await;
    let output = run_binary(merge("3")).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("0000-of-0003"),
        "a shard that does not exist is named"
    );
    // The four shards again, minus one: the missing ids are counted, nothing is written.
    let gone = "run/results-0002-of-0004.jsonl";
    let kept = get(&moto, &bucket, gone).await;
    put(&moto, &bucket, gone, Vec::new()).await;
    let output = run_binary(merge("4")).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let expected_missing = String::from_utf8_lossy(&kept).lines().count();
    assert!(
        stdout.contains(&format!(
            "input ids with no result or error: {expected_missing}"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("nothing written"), "{stdout}");
    assert_eq!(get(&moto, &bucket, "run/results.jsonl").await, good);
    assert!(staged_keys(&moto, &bucket, "run/results.jsonl")
        .await
        .is_empty());
    // A shard's results in another shard's place: misplaced.
    put(
        &moto,
        &bucket,
        gone,
        get(&moto, &bucket, "run/results-0001-of-0004.jsonl").await,
    )
    .await;
    put(&moto, &bucket, "run/results-0001-of-0004.jsonl", kept).await;
    let output = run_binary(merge("4")).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ids in the wrong shard"), "{stdout}");
    assert_eq!(get(&moto, &bucket, "run/results.jsonl").await, good);

    // The output may not be a shard's own results.
    let mut command = batch_on(moto.endpoint());
    command
        .arg("merge")
        .args(["--shards", "4", "--from", &from])
        .args([
            "--output",
            &format!("s3://{bucket}/run/results-0001-of-0004.jsonl"),
        ]);
    let output = run_binary(command).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("would overwrite shard 1/4"));
}

/// The staged output on its own: parts staged by an earlier run (a small one, then one past
/// 5 MiB, so the upload copies the big one from an offset inside it), compaction into the
/// object while the job runs, and a multipart upload left by a completion that was killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_parts_copy_from_offsets_compact_while_running_and_abort_leftovers() {
    use promptops_batch::s3::StagedOutput;
    use promptops_batch::S3Uri;
    use std::io::Write;

    let Some(moto) = Moto::start("S3 staged output").await else {
        return;
    };
    let bucket = moto.fresh_bucket("batch-s3-staged").await;
    let line = |i: usize, pad: usize| {
        format!(
            "{{\"id\":\"s{i:07}\",\"prompt_id\":\"{PROMPT}\",\"pad\":\"{}\"}}\n",
            "x".repeat(pad)
        )
    };
    let part = move |range: std::ops::Range<usize>, pad: usize| {
        range.map(|i| line(i, pad)).collect::<String>()
    };
    let small = part(0..1000, 1000); // ~1 MiB
    let big = part(1000..12_000, 1000); // ~11 MiB
    let prefix = staged_prefix("out.jsonl");
    put(
        &moto,
        &bucket,
        &format!("{prefix}0000000001.jsonl"),
        small.clone(),
    )
    .await;
    put(
        &moto,
        &bucket,
        &format!("{prefix}0000000002.jsonl"),
        big.clone(),
    )
    .await;
    // A completion killed after it created its upload.
    moto.s3()
        .create_multipart_upload()
        .bucket(&bucket)
        .key("out.jsonl")
        .send()
        .await
        .unwrap();

    let s3 = S3::new(moto.s3(), tokio::runtime::Handle::current());
    let uri = S3Uri {
        bucket: bucket.clone(),
        key: "out.jsonl".into(),
    };
    let more = part(12_000..12_100, 100);
    let (s3_, uri_, more_) = (s3.clone(), uri.clone(), more.clone());
    tokio::task::spawn_blocking(move || {
        let mut out = StagedOutput::resume(&s3_, &uri_, 4096)
            .unwrap()
            .with_compact_after(3);
        assert_eq!(out.sources().count(), 2);
        out.write_all(more_.as_bytes()).unwrap();
        out.complete().unwrap();
    })
    .await
    .unwrap();
    let object = get(&moto, &bucket, "out.jsonl").await;
    assert!(
        object == format!("{small}{big}{more}").into_bytes(),
        "every byte, once, in order"
    );
    assert!(staged_keys(&moto, &bucket, "out.jsonl").await.is_empty());
    let uploads = moto
        .s3()
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "the killed completion's upload is aborted"
    );

    // Compaction while running: with compact_after(1), each staged part is assembled into the
    // object before the next line is taken.
    let (s3_, uri_, bucket_) = (s3.clone(), uri.clone(), bucket.clone());
    tokio::task::spawn_blocking(move || {
        let mut out = StagedOutput::resume(&s3_, &uri_, 2048)
            .unwrap()
            .with_compact_after(1);
        out.write_all(part(20_000..20_040, 100).as_bytes()).unwrap();
        out.write_all(part(20_040..20_080, 100).as_bytes()).unwrap();
        let waiting = s3_.list(&bucket_, &staged_prefix("out.jsonl")).unwrap();
        assert!(waiting.is_empty(), "no staged part waits: {waiting:?}");
        out.complete().unwrap();
    })
    .await
    .unwrap();
    let head = moto
        .s3()
        .head_object()
        .bucket(&bucket)
        .key("out.jsonl")
        .send()
        .await
        .unwrap();
    let through: u64 = head.metadata().unwrap()[STAGED_THROUGH_METADATA]
        .parse()
        .unwrap();
    assert!(
        through >= 4,
        "the object records the last part it holds: {through}"
    );
    assert_eq!(
        outputs(&get(&moto, &bucket, "out.jsonl").await).len(),
        12_180
    );
}
