//! The real `promptops-pipeline-lambda` binary under the real `lambda_runtime` loop, driven by a
//! local Lambda Runtime API, with S3 on moto's standalone server and Bedrock on the project's
//! mock (throttling included): S3 notifications, the HTTP API and the Step Functions stages.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::{aws_env, invoke, pipeline_function};
use promptops_bedrock_mock::{MockBedrock, Script};
use promptops_pipeline::api::{ErrorBody, OutputsPage, Preview, Regenerated};
use promptops_pipeline::lambda::{
    InvokeAnswer, PublishAnswer, RecordFailureAnswer, RecordResult, RenderAnswer, S3Answer,
    TaskInput,
};
use promptops_pipeline::pipeline::ErrorRecord;
use promptops_pipeline::{Env, Stage};
use promptops_tests::events::{http_answer, http_v2_event, s3_event_key, s3_record};
use promptops_tests::lambda_runtime::RuntimeApi;
use promptops_tests::moto::Moto;
use serde_json::{json, Value};

const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const HOSTILE: &str = "Welcome!\n<script>alert('owned')</script><img src=x onerror=alert(1)>";

const WELCOME: &str = r#"{"prompt": "marketing.welcome-email", "variables": {"customer_name": "Ada", "product": "Acme Cloud"}, "output_format": "html"}"#;

/// An answer's body as the API's own wire type.
fn decode<T: serde::de::DeserializeOwned>(body: Value) -> T {
    serde_json::from_value(body.clone())
        .unwrap_or_else(|err| panic!("{body} is not a {}: {err}", std::any::type_name::<T>()))
}

struct World {
    moto: Moto,
    bucket: String,
    bedrock: MockBedrock,
}

impl World {
    async fn start() -> Option<World> {
        let moto = Moto::start("pipeline on S3").await?;
        let bucket = moto.fresh_bucket("prompt-pipeline").await;
        let bedrock = MockBedrock::start().await.expect("bedrock mock");
        Some(World {
            moto,
            bucket,
            bedrock,
        })
    }

    async fn put(&self, key: &str, body: impl Into<Vec<u8>>, env: Option<&str>) {
        let mut request = self
            .moto
            .s3()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.into()));
        if let Some(env) = env {
            request = request.metadata("env", env);
        }
        request.send().await.expect("put object on moto");
    }

    /// Body and user metadata of an object.
    async fn get(
        &self,
        key: &str,
    ) -> (
        String,
        std::collections::HashMap<String, String>,
        Option<String>,
    ) {
        let object = self
            .moto
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|err| panic!("get {key}: {err:?}"));
        let metadata = object.metadata().cloned().unwrap_or_default();
        let content_type = object.content_type().map(str::to_owned);
        let body = object.body.collect().await.expect("body").into_bytes();
        (
            String::from_utf8(body.to_vec()).expect("utf-8"),
            metadata,
            content_type,
        )
    }

    async fn json(&self, key: &str) -> Value {
        serde_json::from_str(&self.get(key).await.0).expect("JSON object")
    }

    async fn keys(&self) -> Vec<String> {
        self.moto.object_keys(&self.bucket).await
    }

    fn env(
        &self,
        pipeline_env: &str,
        extra: &[(&'static str, &str)],
    ) -> Vec<(&'static str, String)> {
        let mut env = aws_env(self.moto.endpoint(), &self.bedrock.endpoint_url());
        env.push(("PIPELINE_ENV", pipeline_env.to_owned()));
        env.push(("BUCKET", self.bucket.clone()));
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_events_render_invoke_bedrock_and_publish_each_record_on_its_own() {
    let Some(world) = World::start().await else {
        return;
    };
    // Two throttles first: the runtime retries and the output still appears.
    world
        .bedrock
        .script(MODEL, Script::answer(HOSTILE).throttle(2));
    world
        .put(
            "prompt_templates/note.txt",
            "Dear {{ name }}, about {{ topic }}.",
            None,
        )
        .await;

    let inputs: &[(&str, &[u8], Option<&str>)] = &[
        // env from metadata (beats the prod- prefix)
        ("prompt_inputs/prod-by-metadata.json", WELCOME.as_bytes(), Some("beta")),
        // env from the prefix
        ("prompt_inputs/beta-welcome.json", WELCOME.as_bytes(), None),
        // env from DEFAULT_ENV; a URL-encoded key with spaces, `+` and unicode; hostile vars
        (
            "prompt_inputs/Spring sale+café ☕.json",
            br#"{"template": "note.txt", "variables": {"name": "<b>Bob</b> & \"co\"", "topic": "{{ secret }}"}, "output_format": "html", "output_slug": "../../prod/outputs/spring"}"#,
            None,
        ),
        ("prompt_inputs/plain-md.json", br#"{"template": "note.txt", "variables": {"name": "Eve", "topic": "md"}, "output_format": "md"}"#, None),
        // refused: prod on a beta deployment
        ("prompt_inputs/prod-launch.json", WELCOME.as_bytes(), None),
        ("prompt_inputs/bad-json.json", b"{\"prompt\": ", None),
        ("prompt_inputs/unknown-var.json", br#"{"prompt": "marketing.welcome-email", "variables": {"customer_name": "A", "product": "P", "coupon": "X"}, "output_format": "md"}"#, None),
        ("prompt_inputs/mistyped.json", br#"{"prompt": "marketing.welcome-email", "variables": {"customer_name": ["A"], "product": "P"}, "output_format": "md"}"#, None),
        ("prompt_inputs/no-template.json", br#"{"template": "gone.txt", "variables": {}, "output_format": "md"}"#, None),
    ];
    for (key, body, env) in inputs {
        world.put(key, body.to_vec(), *env).await;
    }
    let mut huge = br#"{"prompt": "marketing.welcome-email", "output_format": "md", "variables": {"customer_name": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    huge.extend(br#"", "product": "P"}}"#);
    world.put("prompt_inputs/huge.json", huge, None).await;

    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function = pipeline_function(
        &api,
        &world.env(
            "beta",
            &[("DEFAULT_ENV", "beta"), ("BEDROCK_MODEL_ID", MODEL)],
        ),
    )
    .spawn();

    let mut records: Vec<Value> = inputs
        .iter()
        .map(|(key, _, _)| s3_record(&world.bucket, key))
        .collect();
    records.push(s3_record(&world.bucket, "prompt_inputs/huge.json"));
    records.push(s3_record(
        "someone-elses-bucket",
        "prompt_inputs/beta-welcome.json",
    ));
    records.push(json!({"s3": "not a record"}));
    let response = invoke(&mut api, "batch", &json!({"Records": records}))
        .await
        .expect("a response, not a function error");
    let response: S3Answer = decode(response);
    assert_eq!((response.records, response.failed), (12, 8), "{response:?}");
    assert!(
        response.results[..4].iter().all(RecordResult::is_published),
        "{response:?}"
    );

    // Outputs: complete HTML with the model's output as text, and the metadata.
    let (html, meta, content_type) = world.get("beta/outputs/by-metadata.html").await;
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"),
        "{html}"
    );
    assert!(
        html.contains(
            "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
        ),
        "{html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "{html}"
    );
    assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(meta["prompt-id"], "marketing.welcome-email");
    assert_eq!(meta["prompt-version"], "1");
    assert_eq!(meta["model-id"], MODEL);
    assert_eq!(meta["env"], "beta");
    assert_eq!(meta["source-key"], "prompt_inputs/prod-by-metadata.json");
    assert_eq!(meta["content-hash"].len(), 64);
    assert_eq!(
        world.get("beta/outputs/welcome.html").await.0,
        html.replace("by-metadata", "welcome")
    );
    // The traversal attempt in output_slug is sanitised into a plain name under beta/outputs/.
    let (_, meta, _) = world.get("beta/outputs/prodoutputsspring.html").await;
    assert_eq!(
        meta["source-key"],
        "prompt_inputs/Spring%20sale%2Bcaf%C3%A9%20%E2%98%95.json"
    );
    let (md, _, content_type) = world.get("beta/outputs/plain-md.md").await;
    assert!(
        md.contains("<script>"),
        "Markdown is the model's text verbatim: {md}"
    );
    assert_eq!(
        content_type.as_deref(),
        Some("text/markdown; charset=utf-8")
    );

    // The model saw the rendered prompt: variables substituted, values as data.
    let prompts: Vec<String> = world
        .bedrock
        .requests_for(MODEL)
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert!(prompts.iter().any(
        |p| p.contains("Write a welcome email to Ada, who has just signed up for Acme Cloud.")
    ));
    assert!(
        prompts
            .iter()
            .any(|p| p.contains("Dear <b>Bob</b> & \\\"co\\\", about {{ secret }}.")),
        "{prompts:?}"
    );
    // Two throttled attempts, then four answers.
    assert_eq!(prompts.len(), 6, "{prompts:?}");

    // Errors objects for the failures, under beta/, and nothing else.
    for (slug, stage, needle) in [
        ("launch", "parse", "refused"),
        ("bad-json", "parse", "not valid"),
        ("unknown-var", "render", "unknown variable `coupon`"),
        (
            "mistyped",
            "render",
            "declared as string but the config gives a list",
        ),
        ("no-template", "render", "missing template"),
        ("huge", "parse", "limit is 1048576"),
    ] {
        let record: ErrorRecord = decode(world.json(&format!("beta/errors/{slug}.json")).await);
        assert_eq!(record.stage.as_str(), stage, "{slug}: {record:?}");
        assert!(record.error.contains(needle), "{slug}: {record:?}");
        assert_eq!(record.env, Env::Beta);
    }
    match &response.results[10] {
        RecordResult::Failed {
            error, source_key, ..
        } => {
            assert!(error.contains("someone-elses-bucket"), "{response:?}");
            assert_eq!(*source_key, None, "refused before it named an input");
        }
        other => panic!("{other:?}"),
    }
    let keys = world.keys().await;
    assert!(!keys.iter().any(|key| key.starts_with("prod/")), "{keys:?}");
    assert_eq!(
        keys.iter()
            .filter(|key| key.starts_with("beta/outputs/"))
            .count(),
        4,
        "{keys:?}"
    );
    assert_eq!(
        keys.iter()
            .filter(|key| key.starts_with("beta/errors/"))
            .count(),
        6,
        "{keys:?}"
    );

    // Reprocessing the same input writes the same key, and the function is still alive.
    let again = invoke(
        &mut api,
        "again",
        &json!({"Records": [s3_record(&world.bucket, "prompt_inputs/beta-welcome.json")]}),
    )
    .await
    .expect("response");
    let again: S3Answer = decode(again);
    assert_eq!(
        again.results,
        [RecordResult::Published {
            source_key: "prompt_inputs/beta-welcome.json".into(),
            output_key: "beta/outputs/welcome.html".into()
        }]
    );
    assert_eq!(world.keys().await, keys);

    // A malformed event is a function error, not a crash.
    let (error_type, _) = invoke(&mut api, "junk", &json!({"hello": "world"}))
        .await
        .expect_err("bad event");
    assert_eq!(error_type, "PipelineBadEvent");
    function.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prod_deployment_without_a_model_uses_the_local_model_and_refuses_beta() {
    let Some(world) = World::start().await else {
        return;
    };
    world
        .put("prompt_inputs/prod-welcome.json", WELCOME, None)
        .await;
    world
        .put("prompt_inputs/beta-welcome.json", WELCOME, None)
        .await;
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function = pipeline_function(&api, &world.env("prod", &[])).spawn();
    let records = json!({"Records": [
        s3_record(&world.bucket, "prompt_inputs/prod-welcome.json"),
        s3_record(&world.bucket, "prompt_inputs/beta-welcome.json"),
    ]});
    let response = invoke(&mut api, "prod", &records).await.expect("response");
    assert_eq!(response["failed"], 1, "{response}");
    let (html, meta, _) = world.get("prod/outputs/welcome.html").await;
    assert!(
        html.contains("[local model: marketing.welcome-email v1]"),
        "{html}"
    );
    assert_eq!(meta["model-id"], "local");
    let refusal = world.json("prod/errors/welcome.json").await;
    assert_eq!(
        (refusal["stage"].as_str(), refusal["input_env"].as_str()),
        (Some("parse"), Some("beta"))
    );
    assert!(!world
        .keys()
        .await
        .iter()
        .any(|key| key.starts_with("beta/")));
    assert!(world.bedrock.requests().is_empty());
    function.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_lists_previews_without_writing_and_regenerates() {
    let Some(world) = World::start().await else {
        return;
    };
    world
        .bedrock
        .script(MODEL, Script::answer("Hello from the model"));
    for name in ["a", "b", "c"] {
        world
            .put(&format!("prompt_inputs/beta-{name}.json"), WELCOME, None)
            .await;
    }
    world
        .put("prompt_templates/note.txt", "Dear {{ name }}.", None)
        .await;
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function =
        pipeline_function(&api, &world.env("beta", &[("BEDROCK_MODEL_ID", MODEL)])).spawn();

    // Regenerate: only prompt_inputs/*.json keys.
    for name in ["a", "b", "c"] {
        let body = json!({"key": format!("prompt_inputs/beta-{name}.json")}).to_string();
        let (status, answer) = http_answer(
            &invoke(
                &mut api,
                name,
                &http_v2_event("POST", "/regenerate", "", Some(&body)),
            )
            .await
            .expect("response"),
        );
        assert_eq!(status, 200, "{answer}");
        let answer: Regenerated = decode(answer);
        assert_eq!(answer.output_key, format!("beta/outputs/{name}.html"));
    }
    for (body, code) in [
        (r#"{"key": "beta/outputs/a.html"}"#, 400),
        (r#"{"key": "prompt_inputs/../beta/x.json"}"#, 400),
        (r#"{"key": "prompt_inputs/nope.json"}"#, 404),
        ("not json", 400),
    ] {
        let (status, answer) = http_answer(
            &invoke(
                &mut api,
                "bad-regen",
                &http_v2_event("POST", "/regenerate", "", Some(body)),
            )
            .await
            .expect("response"),
        );
        assert_eq!(status, code, "{body}: {answer}");
        let answer: ErrorBody = decode(answer);
        assert!(!answer.error.is_empty(), "{answer:?}");
    }

    // List, paginated.
    let (status, page) = http_answer(
        &invoke(
            &mut api,
            "list1",
            &http_v2_event("GET", "/outputs", "env=beta&limit=2", None),
        )
        .await
        .expect("response"),
    );
    assert_eq!(status, 200, "{page}");
    let page: OutputsPage = decode(page);
    let first: Vec<&str> = page.outputs.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(first, ["beta/outputs/a.html", "beta/outputs/b.html"]);
    let token = page.next_token.as_deref().expect("a next page");
    let query = format!(
        "env=beta&limit=2&token={}",
        s3_event_key(token).replace('+', "%20")
    );
    let (_, page) = http_answer(
        &invoke(
            &mut api,
            "list2",
            &http_v2_event("GET", "/outputs", &query, None),
        )
        .await
        .expect("response"),
    );
    let page: OutputsPage = decode(page);
    let second: Vec<&str> = page.outputs.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(second, ["beta/outputs/c.html"]);
    assert_eq!(page.next_token, None);
    let (status, _) = http_answer(
        &invoke(
            &mut api,
            "list-prod",
            &http_v2_event("GET", "/outputs", "env=prod", None),
        )
        .await
        .expect("response"),
    );
    assert_eq!(status, 403);
    let (status, _) = http_answer(
        &invoke(
            &mut api,
            "list-bad",
            &http_v2_event("GET", "/outputs", "env=staging", None),
        )
        .await
        .expect("response"),
    );
    assert_eq!(status, 400);

    // Preview renders and writes nothing, invokes nothing.
    let before = world.keys().await;
    let calls = world.bedrock.requests().len();
    let (status, preview) = http_answer(
        &invoke(&mut api, "preview", &http_v2_event("POST", "/preview", "", Some(r#"{"template": "note.txt", "variables": {"name": "Ada"}, "output_format": "md"}"#)))
            .await
            .expect("response"),
    );
    assert_eq!(status, 200, "{preview}");
    assert_eq!(decode::<Preview>(preview).user, "Dear Ada.");
    let (status, preview) = http_answer(
        &invoke(
            &mut api,
            "preview2",
            &http_v2_event("POST", "/preview", "", Some(WELCOME)),
        )
        .await
        .expect("response"),
    );
    assert_eq!(status, 200, "{preview}");
    let preview: Preview = decode(preview);
    assert!(preview.user.contains("Write a welcome email to Ada"));
    assert_eq!(preview.model_id.as_deref(), Some(MODEL));
    let (status, preview) = http_answer(
        &invoke(
            &mut api,
            "preview3",
            &http_v2_event(
                "POST",
                "/preview",
                "",
                Some(r#"{"template": "note.txt", "variables": {}, "output_format": "md"}"#),
            ),
        )
        .await
        .expect("response"),
    );
    assert_eq!(status, 422, "{preview}");
    let preview: ErrorBody = decode(preview);
    assert_eq!(preview.code, "render");
    assert!(preview.error.contains("missing required variable `name`"));
    let (status, _) = http_answer(
        &invoke(
            &mut api,
            "preview4",
            &http_v2_event("POST", "/preview", "", Some("[]")),
        )
        .await
        .expect("response"),
    );
    assert_eq!(status, 400);
    assert_eq!(world.keys().await, before);
    assert_eq!(world.bedrock.requests().len(), calls);

    let (status, answer) = http_answer(
        &invoke(&mut api, "404", &http_v2_event("GET", "/nope", "", None))
            .await
            .expect("response"),
    );
    assert_eq!(
        (status, decode::<ErrorBody>(answer).code.as_str()),
        (404, "not_found")
    );
    function.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_functions_stages_render_invoke_publish_and_record_failures() {
    let Some(world) = World::start().await else {
        return;
    };
    world
        .bedrock
        .script(MODEL, Script::answer("From the state machine"));
    world
        .put("prompt_inputs/beta-sfn.json", WELCOME, None)
        .await;
    world
        .put(
            "prompt_inputs/beta-broken.json",
            r#"{"prompt": "marketing.welcome-email", "variables": {}, "output_format": "md"}"#,
            None,
        )
        .await;
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function =
        pipeline_function(&api, &world.env("beta", &[("BEDROCK_MODEL_ID", MODEL)])).spawn();
    let key = "prompt_inputs/beta-sfn.json";

    let task = |task: TaskInput| serde_json::to_value(task).expect("a task input");
    let render = invoke(
        &mut api,
        "render",
        &task(TaskInput::Render { key: key.into() }),
    )
    .await
    .expect("render");
    assert_eq!(
        decode::<RenderAnswer>(render).output_key,
        "beta/outputs/sfn.html"
    );
    assert!(
        world.keys().await.iter().all(|k| !k.starts_with("beta/")),
        "render writes nothing"
    );
    let generated = invoke(
        &mut api,
        "invoke",
        &task(TaskInput::Invoke { key: key.into() }),
    )
    .await
    .expect("invoke");
    // The invoke stage hands over a reference to the text it stored, never the text.
    assert!(!generated.to_string().contains("From the state machine"));
    let generated: InvokeAnswer = decode(generated);
    assert_eq!(generated.model_id, MODEL, "{generated:?}");
    assert!(
        generated.generated_key.starts_with("beta/generated/sfn/"),
        "{generated:?}"
    );
    let published = invoke(
        &mut api,
        "publish",
        &task(TaskInput::Publish {
            key: key.into(),
            generated_key: generated.generated_key,
        }),
    )
    .await
    .expect("publish");
    assert_eq!(
        decode::<PublishAnswer>(published).output_key,
        "beta/outputs/sfn.html"
    );
    assert!(world
        .get("beta/outputs/sfn.html")
        .await
        .0
        .contains("From the state machine"));

    // A permanent render failure: its error type names the stage, and record_failure writes
    // the errors object from what Step Functions caught.
    let (error_type, message) = invoke(
        &mut api,
        "broken",
        &json!({"stage": "render", "key": "prompt_inputs/beta-broken.json"}),
    )
    .await
    .expect_err("render fails");
    assert_eq!(error_type, "PipelineRenderFailed");
    let caught = json!({"Error": error_type, "Cause": json!({"errorType": error_type, "errorMessage": message}).to_string()});
    let recorded = invoke(
        &mut api,
        "record",
        &task(TaskInput::RecordFailure {
            key: "prompt_inputs/beta-broken.json".into(),
            error: Some(caught),
        }),
    )
    .await
    .expect("record");
    let recorded: RecordFailureAnswer = decode(recorded);
    assert_eq!(recorded.errors_key, "beta/errors/broken.json");
    assert_eq!(recorded.stage, Stage::Render);
    let record: ErrorRecord = decode(world.json("beta/errors/broken.json").await);
    assert_eq!(record.stage, Stage::Render);
    assert!(record.error.contains("missing required variable"));

    // Throttled past the retry budget: a transient error the state machine retries.
    world.bedrock.script(
        MODEL,
        Script::always(promptops_bedrock_mock::Fault::Throttling),
    );
    let (error_type, _) = invoke(
        &mut api,
        "throttled",
        &json!({"stage": "invoke", "key": key}),
    )
    .await
    .expect_err("throttled");
    assert_eq!(error_type, "PipelineTransient");
    let (error_type, _) = invoke(&mut api, "unknown", &json!({"stage": "paint", "key": key}))
        .await
        .expect_err("unknown stage");
    assert_eq!(error_type, "PipelineBadEvent");
    function.stop().await;
}
