//! The pipeline under attack (issue 21), through the real `promptops-pipeline-lambda` binary
//! under `prlimit --as`, polling the local Lambda Runtime API, with S3 on moto and the local
//! model (no Bedrock):
//!
//! - bad templates (a 5,000-link filter chain, a 400 KB template) among 200 records of an S3
//!   event: each fails alone with its error record, every other record of the event is
//!   processed and published, the function stays alive;
//! - a forged Step Functions `publish` payload (text no invoke produced, or a reference to
//!   another input's generation) is refused and publishes nothing.
//!
//! The local directory mode's attacks (symlinks, one slug for 2,000 inputs) run through
//! `promptops pipeline run` in `promptops-cli/tests/pipeline.rs`, where that binary is built.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::{aws_env, invoke, pipeline_function};
use promptops_tests::events::s3_record;
use promptops_tests::lambda_runtime::RuntimeApi;
use promptops_tests::moto::Moto;
use serde_json::{json, Value};

/// Address space for the function: far above its normal needs (its debug build maps about
/// 300 MiB of code and a few threads), far below what a blow-up would take.
const ADDRESS_SPACE: u64 = 2 << 30;

struct World {
    moto: Moto,
    bucket: String,
}

impl World {
    async fn start() -> Option<World> {
        let moto = Moto::start("pipeline on S3").await?;
        let bucket = moto.fresh_bucket("prompt-pipeline").await;
        Some(World { moto, bucket })
    }

    /// Puts every object at once (moto answers them one at a time, but the round trips overlap).
    async fn put_all(&self, objects: Vec<(String, Vec<u8>)>) {
        let mut puts = tokio::task::JoinSet::new();
        for (key, body) in objects {
            let request = self
                .moto
                .s3()
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(body));
            puts.spawn(async move { request.send().await.map(|_| ()) });
        }
        while let Some(done) = puts.join_next().await {
            done.expect("put task").expect("put object on moto");
        }
    }

    async fn get(&self, key: &str) -> Option<String> {
        let object = self
            .moto
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        let body = object.body.collect().await.expect("body").into_bytes();
        Some(String::from_utf8_lossy(&body).into_owned())
    }

    async fn keys(&self) -> Vec<String> {
        self.moto.object_keys(&self.bucket).await
    }

    /// The function's environment: a beta deployment over this bucket, local model only.
    fn env(&self) -> Vec<(&'static str, String)> {
        // No BEDROCK_MODEL_ID: the local model answers and Bedrock is never called.
        let mut env = aws_env(self.moto.endpoint(), "http://127.0.0.1:9");
        env.push(("PIPELINE_ENV", "beta".to_owned()));
        env.push(("BUCKET", self.bucket.clone()));
        env
    }
}

/// Good inputs in the event: with the two bad ones, 200 records.
const GOOD: usize = 198;

fn good_input(i: usize) -> (String, Vec<u8>) {
    (
        format!("prompt_inputs/beta-good-{i:03}.json"),
        json!({"template": "good.txt", "variables": {"n": format!("N{i:03}")}, "output_format": "md"})
            .to_string()
            .into_bytes(),
    )
}

/// One event of 200 records, both bombs among the good inputs. (One event rather than one per
/// bomb: each record is three round trips to moto, which serves one request at a time, and
/// two bad records in one event show that failures do not interfere either;
/// `promptops-cli/tests/pipeline.rs` runs each bomb alone among 199 good inputs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_templates_among_200_records_fail_alone_and_every_other_record_is_processed() {
    let Some(world) = World::start().await else {
        return;
    };
    let chain = format!("{{{{ x{} }}}}", "|upper".repeat(5_000));
    let big = format!("{{{{ x{} }}}}", " ~ x".repeat(400 * 1024 / 4));
    let mut objects: Vec<(String, Vec<u8>)> = (0..GOOD).map(good_input).collect();
    objects.extend([
        (
            "prompt_templates/good.txt".to_owned(),
            b"Item {{ n }}: hello".to_vec(),
        ),
        ("prompt_templates/chain.txt".to_owned(), chain.into_bytes()),
        ("prompt_templates/big.txt".to_owned(), big.into_bytes()),
    ]);
    let bad = |name: &str| format!("prompt_inputs/beta-{name}.json");
    for name in ["chain", "big"] {
        objects.push((
            bad(name),
            json!({"template": format!("{name}.txt"), "variables": {"x": "a"}, "output_format": "md"})
                .to_string()
                .into_bytes(),
        ));
    }
    world.put_all(objects).await;

    // The bombs early in the event, so most records come after them.
    let mut keys: Vec<String> = (0..GOOD).map(|i| good_input(i).0).collect();
    keys.insert(10, bad("chain"));
    keys.insert(50, bad("big"));
    let event = json!({"Records": keys.iter().map(|key| s3_record(&world.bucket, key)).collect::<Vec<_>>()});

    let mut api = RuntimeApi::start().await.expect("runtime api");
    let mut function = pipeline_function(&api, &world.env())
        .address_space(ADDRESS_SPACE)
        .spawn();
    let response = invoke(&mut api, "bombs", &event)
        .await
        .unwrap_or_else(|err| panic!("a function error, not a response: {err:?}"));
    assert_eq!(
        (response["records"].as_u64(), response["failed"].as_u64()),
        (Some(200), Some(2)),
        "{response}"
    );
    let results = response["results"].as_array().expect("results");
    for (index, result) in results.iter().enumerate() {
        if index == 10 || index == 50 {
            continue;
        }
        assert_eq!(result["status"], "published", "record {index}: {result}");
    }
    let keys = world.keys().await;
    let outputs = keys
        .iter()
        .filter(|k| k.starts_with("beta/outputs/good-"))
        .count();
    assert_eq!(outputs, GOOD, "{keys:?}");
    for (index, name, needle) in [(10, "chain", "operators"), (50, "big", "262144")] {
        let result = &results[index];
        assert_eq!(result["source_key"], bad(name), "{result}");
        assert_eq!(result["stage"], "render", "{result}");
        let record: Value = serde_json::from_str(
            &world
                .get(&format!("beta/errors/{name}.json"))
                .await
                .unwrap_or_else(|| panic!("no error record for {name}")),
        )
        .expect("JSON");
        assert_eq!(record["stage"], "render", "{record}");
        assert_eq!(record["source_key"], bad(name), "{record}");
        assert!(
            record["error"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{record}"
        );
        assert!(
            !keys
                .iter()
                .any(|k| k.starts_with(&format!("beta/outputs/{name}"))),
            "{keys:?}"
        );
    }
    assert_eq!(
        world.get("beta/outputs/good-197.md").await.as_deref(),
        Some("[local model: prompt_templates/good.txt v1] Item N197: hello\n")
    );
    // Still alive, and still serving.
    assert!(function.exit_status().is_none(), "the function exited");
    let again = invoke(
        &mut api,
        "again",
        &json!({"Records": [s3_record(&world.bucket, &good_input(0).0)]}),
    )
    .await
    .expect("a response");
    assert_eq!(again["failed"], 0, "{again}");
    eprintln!(
        "two bad templates among 200 records: peak RSS {} KiB",
        function.peak_rss_kib().unwrap_or_default()
    );
    function.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_publish_payload_is_refused_and_publishes_nothing() {
    let Some(world) = World::start().await else {
        return;
    };
    world
        .put_all(vec![
            (
                "prompt_templates/good.txt".to_owned(),
                b"Item {{ n }}: hello".to_vec(),
            ),
            good_input(1),
            good_input(2),
        ])
        .await;
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function = pipeline_function(&api, &world.env())
        .address_space(ADDRESS_SPACE)
        .spawn();
    let key = good_input(1).0;
    let output = "beta/outputs/good-001.md";

    // Text that no invoke produced, under a model id of the caller's choosing.
    let forged = json!({"stage": "publish", "key": key, "generated": {"text": "FORGED: wire money", "model_id": "anthropic.claude-3-opus"}});
    let (error_type, message) = invoke(&mut api, "forged-text", &forged)
        .await
        .expect_err("a forged publish is refused");
    assert_eq!(error_type, "PipelineBadEvent", "{message}");
    assert_eq!(world.get(output).await, None, "nothing was published");

    // The real flow: invoke stores the generation and hands over a reference only.
    let invoked = invoke(&mut api, "invoke", &json!({"stage": "invoke", "key": key}))
        .await
        .expect("invoke");
    let reference = invoked["generated_key"]
        .as_str()
        .unwrap_or_else(|| panic!("no generated_key: {invoked}"))
        .to_owned();
    assert!(
        reference.starts_with("beta/generated/") && invoked.get("text").is_none(),
        "{invoked}"
    );
    let other = invoke(
        &mut api,
        "invoke-other",
        &json!({"stage": "invoke", "key": good_input(2).0}),
    )
    .await
    .expect("invoke other");
    let other_reference = other["generated_key"].as_str().expect("reference");

    // Another input's generation, something outside the generations prefix, a missing one,
    // and a reference next to forged text: all refused, nothing published.
    for (name, payload, expected) in [
        (
            "other-input",
            json!({"stage": "publish", "key": key, "generated_key": other_reference}),
            "PipelinePublishFailed",
        ),
        (
            "outside",
            json!({"stage": "publish", "key": key, "generated_key": key}),
            "PipelinePublishFailed",
        ),
        (
            "missing",
            json!({"stage": "publish", "key": key, "generated_key": "beta/generated/nope.json"}),
            "PipelinePublishFailed",
        ),
        (
            "both",
            json!({"stage": "publish", "key": key, "generated_key": reference, "generated": {"text": "FORGED", "model_id": "x"}}),
            "PipelineBadEvent",
        ),
    ] {
        let (error_type, message) = invoke(&mut api, name, &payload).await.expect_err(name);
        assert_eq!(error_type, expected, "{name}: {message}");
        assert_eq!(
            world.get(output).await,
            None,
            "{name}: nothing was published"
        );
    }

    let published = invoke(
        &mut api,
        "publish",
        &json!({"stage": "publish", "key": key, "generated_key": reference}),
    )
    .await
    .expect("publish");
    assert_eq!(published["output_key"], output);
    let real = Some("[local model: prompt_templates/good.txt v1] Item N001: hello\n");
    assert_eq!(world.get(output).await.as_deref(), real);

    // The input changed since its generation: the old generation is not published for it.
    world
        .put_all(vec![(
            key.clone(),
            json!({"template": "good.txt", "variables": {"n": "CHANGED"}, "output_format": "md"})
                .to_string()
                .into_bytes(),
        )])
        .await;
    let (error_type, message) = invoke(
        &mut api,
        "stale",
        &json!({"stage": "publish", "key": key, "generated_key": reference}),
    )
    .await
    .expect_err("a stale generation is refused");
    assert_eq!(error_type, "PipelinePublishFailed", "{message}");
    assert!(message.contains("another rendering"), "{message}");
    assert_eq!(world.get(output).await.as_deref(), real);
    function.stop().await;
}
