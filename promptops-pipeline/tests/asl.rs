//! The shipped Step Functions definition (`statemachine/pipeline.asl.json`) and the Lambda
//! handler agree: every task names a stage the handler dispatches on, every stage has a task,
//! transient errors are retried, and every failure path records the failure, then fails.

use std::collections::BTreeSet;

use promptops_pipeline::lambda::{classify, error_type, Event, STAGES, TRANSIENT_ERROR};
use promptops_pipeline::Stage;
use serde_json::Value;

const ASL: &str = include_str!("../statemachine/pipeline.asl.json");

fn definition() -> Value {
    serde_json::from_str(ASL).expect("the ASL file is JSON")
}

fn states(definition: &Value) -> &serde_json::Map<String, Value> {
    definition["States"].as_object().expect("States")
}

#[test]
fn the_only_template_placeholder_is_the_function_arn() {
    let mut placeholders = BTreeSet::new();
    let mut rest = ASL;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("closed placeholder") + start;
        placeholders.insert(&rest[start + 2..end]);
        rest = &rest[end..];
    }
    assert_eq!(placeholders, BTreeSet::from(["pipeline_function_arn"]));
    // No `%{` directives either: templatefile would interpret them.
    assert!(!ASL.contains("%{"));
}

#[test]
fn task_states_and_handler_stages_agree() {
    let definition = definition();
    let states = states(&definition);
    let mut stages = BTreeSet::new();
    for (name, state) in states {
        if state["Type"] != "Task" {
            continue;
        }
        assert_eq!(
            state["Resource"], "arn:aws:states:::lambda:invoke",
            "{name}"
        );
        let payload = &state["Parameters"]["Payload"];
        assert_eq!(
            state["Parameters"]["FunctionName"], "${pipeline_function_arn}",
            "{name}"
        );
        assert_eq!(payload["key.$"], "$.key", "{name}");
        let stage = payload["stage"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no stage"));
        assert!(
            STAGES.contains(&stage),
            "{name}: stage {stage:?} is not one the handler knows ({STAGES:?})"
        );
        assert!(stages.insert(stage), "two tasks for stage {stage}");
    }
    assert_eq!(stages, STAGES.iter().copied().collect::<BTreeSet<_>>());
    let task_names: BTreeSet<&str> = states
        .iter()
        .filter(|(_, s)| s["Type"] == "Task")
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        task_names,
        BTreeSet::from(["Render", "Invoke", "Publish", "RecordFailure"])
    );
    // The publish task hands over only the reference the invoke task returned (the key of
    // the generation record it stored), under the field the handler reads; never text.
    assert_eq!(
        states["Publish"]["Parameters"]["Payload"]["generated_key.$"],
        "$.invoke.generated_key"
    );
    assert_eq!(
        states["Invoke"]["ResultSelector"]["generated_key.$"],
        "$.Payload.generated_key"
    );
    for (name, state) in states {
        let payload = state["Parameters"]["Payload"].as_object();
        let fields: Vec<&String> = payload.map(|p| p.keys().collect()).unwrap_or_default();
        assert!(
            !fields.iter().any(|field| field.starts_with("generated.")
                || field.as_str() == "generated"
                || field.starts_with("text")),
            "{name} passes text to the function: {fields:?}"
        );
    }
}

#[test]
fn the_flow_is_render_invoke_publish_with_retries_and_a_recorded_failure() {
    let definition = definition();
    let states = states(&definition);
    assert_eq!(definition["StartAt"], "Render");
    assert_eq!(states["Render"]["Next"], "Invoke");
    assert_eq!(states["Invoke"]["Next"], "Publish");
    assert_eq!(states["Publish"]["End"], true);
    for name in ["Render", "Invoke", "Publish"] {
        let state = &states[name];
        let retried: Vec<&str> = state["Retry"][0]["ErrorEquals"]
            .as_array()
            .expect("Retry")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            retried.contains(&TRANSIENT_ERROR),
            "{name} retries {retried:?}"
        );
        // Permanent failures are not retried.
        for stage in [Stage::Parse, Stage::Render, Stage::Invoke, Stage::Publish] {
            assert!(!retried.contains(&error_type(stage).as_str()), "{name}");
        }
        let catch = &state["Catch"][0];
        assert_eq!(catch["ErrorEquals"][0], "States.ALL", "{name}");
        assert_eq!(catch["ResultPath"], "$.error", "{name}");
        assert_eq!(catch["Next"], "RecordFailure", "{name}");
    }
    assert_eq!(
        states["RecordFailure"]["Parameters"]["Payload"]["error.$"],
        "$.error"
    );
    assert_eq!(states["RecordFailure"]["Next"], "Failed");
    assert_eq!(states["Failed"]["Type"], "Fail");
    // Every Next points at a state.
    for (name, state) in states {
        if let Some(next) = state["Next"].as_str() {
            assert!(states.contains_key(next), "{name} → {next}");
        }
    }
}

#[test]
fn every_task_payload_is_a_task_input_the_handler_accepts() {
    let definition = definition();
    for (name, state) in states(&definition) {
        let Some(payload) = state["Parameters"]["Payload"].as_object() else {
            continue;
        };
        // Step Functions fills `field.$` from the state's input: a string, or the caught
        // error object for `error`.
        let filled: serde_json::Map<String, Value> = payload
            .iter()
            .map(|(field, value)| match field.strip_suffix(".$") {
                Some("error") => (
                    "error".to_owned(),
                    serde_json::json!({"Error": "E", "Cause": "C"}),
                ),
                Some(field) => (field.to_owned(), Value::from("prompt_inputs/x.json")),
                None => (field.clone(), value.clone()),
            })
            .collect();
        match classify(Value::Object(filled.clone())) {
            Ok(Event::Task(task)) => {
                assert_eq!(Some(task.stage()), payload["stage"].as_str())
            }
            other => panic!("{name}: {filled:?} is not a task input: {other:?}"),
        }
    }
}
