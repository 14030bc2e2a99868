//! The built `promptops-pipeline-lambda` under cargo-lambda's own emulator (`cargo lambda
//! watch`), invoked with `cargo lambda invoke` and the README's event files (a Step Functions
//! task input, an S3 notification, an HTTP API request) and environment file, with S3 on moto.

use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use promptops_tests::cargo_lambda::{read_env_file, Watch};
use promptops_tests::moto::Moto;
use serde_json::Value;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn events_dir() -> PathBuf {
    crate_dir().join("events")
}

#[test]
fn direct_s3_and_http_events_under_cargo_lambda_watch() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let Some(moto) = runtime.block_on(Moto::start("pipeline on S3")) else {
        return;
    };
    // The README's setup: its bucket (each test has a moto of its own), the sample input.
    let env_file = events_dir().join("local.env");
    let bucket = read_env_file(&env_file)
        .into_iter()
        .find(|(key, _)| key == "BUCKET")
        .map(|(_, value)| value)
        .expect("BUCKET in local.env");
    let input = std::fs::read(crate_dir().join("samples/prompt_inputs/beta-welcome.json"))
        .expect("the sample input");
    let s3 = moto.s3();
    runtime.block_on(async {
        moto.create_bucket(&bucket).await;
        s3.put_object()
            .bucket(&bucket)
            .key("prompt_inputs/beta-welcome.json")
            .body(ByteStream::from(input))
            .send()
            .await
            .expect("put the sample input");
    });

    let Some(watch) = Watch::start(
        "promptops-pipeline-lambda under cargo lambda watch",
        "promptops-pipeline",
        "promptops-pipeline-lambda",
        Path::new(env!("CARGO_BIN_EXE_promptops-pipeline-lambda")),
        &env_file,
        &[("AWS_ENDPOINT_URL_S3", moto.endpoint().to_owned())],
    ) else {
        return;
    };

    let rendered = watch.invoke(&events_dir().join("direct.json")).json();
    assert_eq!(
        rendered["prompt_id"], "marketing.welcome-email",
        "{rendered}"
    );
    assert_eq!(rendered["env"], "beta");
    assert_eq!(rendered["output_key"], "beta/outputs/welcome.html");

    let done = watch.invoke(&events_dir().join("s3-put.json")).json();
    assert_eq!(done["records"], 1, "{done} {:?}", watch.function_stderr());
    assert_eq!(done["failed"], 0, "{done}");
    assert_eq!(done["results"][0]["status"], "published", "{done}");
    let keys = runtime.block_on(moto.object_keys(&bucket));
    assert!(
        keys.contains(&"beta/outputs/welcome.html".to_owned()),
        "{keys:?}"
    );

    let http = watch.invoke(&events_dir().join("http-preview.json")).json();
    assert_eq!(http["statusCode"], 200, "{http}");
    let body: Value = serde_json::from_str(http["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|err| panic!("{err}: {http}"));
    assert_eq!(body["prompt_id"], "marketing.welcome-email", "{body}");
    assert!(
        body["user"]
            .as_str()
            .is_some_and(|user| user.contains("Ada")),
        "{body}"
    );
}
