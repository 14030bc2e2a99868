//! Structured outputs end to end: the real `aws-sdk-bedrockruntime` client against the Bedrock
//! mock (a forced tool and its `toolUse` answer, a repair turn through the tool result, an answer
//! still invalid after repair, a model without tools answering in text, InvokeModel with
//! Anthropic's native tools), and the local model's flawed answers.

use std::sync::Arc;

use promptops_bedrock_mock::{MockBedrock, Script};
use promptops_runtime::events::EventCapture;
use promptops_runtime::{
    BedrockApi, CallOptions, InvokeError, LocalModel, NoVars, OutputFlaw, Runtime,
};
use serde_json::{json, Value};

use super::ticket_triage::{self, Intent, Output, HAIKU, TITAN};
use super::{bedrock_runtime, field};

const VALID: &str = r#"{"intent": "billing", "urgency": 4, "order_id": "A-1234", "summary": "Charged twice for order A-1234.", "products": ["Pro plan"]}"#;
/// Urgency out of range, and a summary far over its 80 characters.
const BROKEN: &str = r#"{"intent": "billing", "urgency": 9, "order_id": null, "summary": "Charged twice. Charged twice. Charged twice. Charged twice. Charged twice. Charged twice.", "products": []}"#;

fn expected() -> Output {
    Output {
        intent: Intent::Billing,
        urgency: 4,
        order_id: Some("A-1234".into()),
        summary: "Charged twice for order A-1234.".into(),
        products: vec!["Pro plan".into()],
    }
}

async fn triage(runtime: &Runtime, options: &CallOptions) -> Result<Output, InvokeError> {
    ticket_triage::handle()
        .invoke_with(
            runtime,
            &NoVars,
            Some("I was charged twice for order A-1234"),
            options,
        )
        .await
        .map(|done| done.output)
}

#[tokio::test]
async fn converse_forces_the_output_tool_and_reads_its_input() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(HAIKU, Script::answer(VALID));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let done = ticket_triage::handle()
        .invoke_with_input(&runtime, &NoVars, "I was charged twice for order A-1234")
        .await
        .unwrap();
    assert_eq!(done.output, expected());
    assert_eq!(done.repair_turns, 0);
    assert_eq!(done.attempts, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&done.text).unwrap(),
        serde_json::from_str::<Value>(VALID).unwrap(),
        "the completion's text is the tool input as JSON"
    );

    let requests = mock.requests_for(HAIKU);
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    let tool = &body["toolConfig"]["tools"][0]["toolSpec"];
    assert_eq!(tool["name"], "answer");
    assert_eq!(
        tool["description"],
        "Triage a support ticket into a typed record."
    );
    assert_eq!(
        tool["inputSchema"]["json"],
        ticket_triage::DEF.output_schema.as_ref().unwrap().to_json(),
        "the tool's input schema is the prompt's output schema"
    );
    assert_eq!(
        body["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "answer"}})
    );
    // The schema is in the tool, not in the instructions (the system prompt, then the
    // template as instructions, since the input is the user turn).
    assert_eq!(
        body["system"][0]["text"],
        "You triage customer support tickets.\n\nTriage this ticket."
    );
}

#[tokio::test]
async fn an_invalid_answer_is_sent_back_as_the_tool_result_and_repaired() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(HAIKU, Script::answer(BROKEN).then(VALID));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    let done = ticket_triage::handle()
        .invoke_with_input(&runtime, &NoVars, "I was charged twice for order A-1234")
        .await
        .unwrap();
    assert_eq!(done.output, expected());
    assert_eq!(done.repair_turns, 1);
    assert_eq!(done.attempts, 2);

    let requests = mock.requests_for(HAIKU);
    assert_eq!(requests.len(), 2);
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 3, "user, the answer, the tool result");
    let tool_use = &messages[1]["content"][0]["toolUse"];
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(tool_use["name"], "answer");
    assert_eq!(tool_use["input"]["urgency"], 9);
    let result = &messages[2]["content"][0]["toolResult"];
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(result["toolUseId"], tool_use["toolUseId"]);
    assert_eq!(result["status"], "error");
    let feedback = result["content"][0]["text"].as_str().unwrap();
    assert!(
        feedback.contains("/urgency: 9 is outside 1..=5"),
        "{feedback}"
    );
    assert!(
        feedback.contains("/summary: is 89 characters long, at most 80 allowed"),
        "{feedback}"
    );

    let events = capture.events();
    let completed = events.last().unwrap();
    assert_eq!(field(completed, "event"), "prompt_completed");
    assert_eq!(field(completed, "output_valid"), true);
    assert_eq!(field(completed, "repair_turns"), 1);
    assert_eq!(field(completed, "attempts"), 2);
}

#[tokio::test]
async fn an_answer_still_invalid_after_repair_fails_with_every_violation() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(HAIKU, Script::answer(BROKEN));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    let err = triage(&runtime, &CallOptions::default()).await.unwrap_err();
    let InvokeError::OutputInvalid {
        attempts,
        repair_turns,
        output,
        ..
    } = &err
    else {
        panic!("expected OutputInvalid, got {err:?}");
    };
    assert_eq!((*attempts, *repair_turns), (2, 1));
    assert_eq!(
        serde_json::from_str::<Value>(&output.raw).unwrap()["urgency"],
        9,
        "the raw answer is kept"
    );
    let pointers: Vec<&str> = output
        .violations
        .iter()
        .map(|v| v.pointer.as_str())
        .collect();
    assert_eq!(pointers, ["/urgency", "/summary"]);
    assert_eq!(err.kind(), "output_invalid");
    assert!(err.to_string().contains("after 1 repair turn(s)"), "{err}");
    assert_eq!(mock.requests_for(HAIKU).len(), 2);

    let failed = capture.events().pop().unwrap();
    assert_eq!(field(&failed, "event"), "prompt_failed");
    assert_eq!(field(&failed, "error"), "output_invalid");
    assert_eq!(field(&failed, "output_valid"), false);
    assert_eq!(field(&failed, "repair_turns"), 1);
    let violations: Value =
        serde_json::from_str(field(&failed, "violations").as_str().unwrap()).unwrap();
    assert_eq!(violations[0]["pointer"], "/urgency");
    assert_eq!(violations[0]["message"], "9 is outside 1..=5");

    // Repair off: one answer, no second turn.
    mock.clear_requests();
    let options = CallOptions {
        repair_turns: Some(0),
        ..CallOptions::default()
    };
    let err = triage(&runtime, &options).await.unwrap_err();
    assert!(
        matches!(
            err,
            InvokeError::OutputInvalid {
                repair_turns: 0,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(mock.requests_for(HAIKU).len(), 1);
}

#[tokio::test]
async fn a_model_without_tools_gets_the_schema_in_its_instructions_and_answers_in_text() {
    let mock = MockBedrock::start().await.unwrap();
    let fenced = format!("Here is the record:\n```json\n{BROKEN}\n```");
    // Titan, as Bedrock has it: no tools and no system prompt on Converse.
    mock.script(
        TITAN,
        Script::answer(fenced)
            .then(format!("Fixed: {VALID}"))
            .no_tools()
            .no_system(),
    );
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let options = CallOptions {
        model_id: Some(TITAN.to_owned()),
        ..CallOptions::default()
    };
    let done = ticket_triage::handle()
        .invoke_with(
            &runtime,
            &NoVars,
            Some("I was charged twice for order A-1234"),
            &options,
        )
        .await
        .unwrap();
    assert_eq!(done.output, expected());
    assert_eq!(done.repair_turns, 1);

    let requests = mock.requests_for(TITAN);
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.outcome == "ok"), "{requests:?}");
    let first = &requests[0].body;
    assert!(
        first.get("toolConfig").is_none(),
        "no tool for a model without tools"
    );
    assert!(first.get("system").is_none(), "no system prompt for Titan");
    // The instructions, the schema, then the input, in the user turn.
    let user = first["messages"][0]["content"][0]["text"].as_str().unwrap();
    let expected_start = format!(
        "You triage customer support tickets.\n\nTriage this ticket.\n\nAnswer with one JSON \
         object that conforms to this JSON Schema, and nothing else:\n{}\n\n",
        ticket_triage::DEF.output_schema.as_ref().unwrap().to_json()
    );
    assert!(user.starts_with(&expected_start), "{user}");
    assert!(
        user.ends_with("I was charged twice for order A-1234"),
        "{user}"
    );
    assert!(user.contains(r#""maxLength":80"#), "{user}");
    // The repair turn: the text answer, then the feedback as a user turn.
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 3);
    assert!(messages[1]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Here is the record:"));
    let feedback = messages[2]["content"][0]["text"].as_str().unwrap();
    assert!(
        feedback.contains("/urgency: 9 is outside 1..=5"),
        "{feedback}"
    );
}

#[tokio::test]
async fn a_model_with_system_prompts_gets_the_schema_there() {
    // Mistral Large takes a system prompt but cannot be forced to call a tool: text mode, with
    // the schema after the instructions in the system prompt.
    let mock = MockBedrock::start().await.unwrap();
    const MISTRAL: &str = "mistral.mistral-large-2407-v1:0";
    mock.script(MISTRAL, Script::answer(VALID).no_tools());
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let options = CallOptions {
        model_id: Some(MISTRAL.to_owned()),
        ..CallOptions::default()
    };
    let output = ticket_triage::handle()
        .invoke_with(&runtime, &NoVars, Some("charged twice"), &options)
        .await
        .unwrap()
        .output;
    assert_eq!(output, expected());
    let body = &mock.requests_for(MISTRAL)[0].body;
    let system = body["system"][0]["text"].as_str().unwrap();
    assert!(
        system.starts_with("You triage customer support tickets.\n\nTriage this ticket.\n\nAnswer with one JSON object"),
        "{system}"
    );
    assert_eq!(body["messages"][0]["content"][0]["text"], "charged twice");
}

#[tokio::test]
async fn invoke_model_uses_anthropics_native_tools() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(HAIKU, Script::answer(BROKEN).then(VALID));
    let runtime = bedrock_runtime(&mock, BedrockApi::InvokeModel);
    let output = triage(&runtime, &CallOptions::default()).await.unwrap();
    assert_eq!(output, expected());
    let requests = mock.requests_for(HAIKU);
    assert_eq!(requests.len(), 2);
    let body = &requests[1].body;
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "answer"})
    );
    assert_eq!(body["tools"][0]["input_schema"]["required"][0], "intent");
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[1]["content"][0]["type"], "tool_use");
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][0]["is_error"], true);
    assert_eq!(
        messages[2]["content"][0]["tool_use_id"],
        messages[1]["content"][0]["id"]
    );
}

#[tokio::test]
async fn the_local_model_answers_valid_records_and_can_be_told_to_slip() {
    let input = "I was charged twice for order #A-1234. Please refund me!";
    let call = |model: LocalModel| async move {
        let runtime = Runtime::new(Arc::new(model)).with_name("test");
        ticket_triage::handle()
            .invoke_with_input(&runtime, &NoVars, input)
            .await
    };
    let done = call(LocalModel::new()).await.unwrap();
    assert_eq!(done.output.intent, Intent::Billing);
    assert_eq!(done.output.order_id.as_deref(), Some("A-1234"));
    assert!((1..=5).contains(&done.output.urgency));
    assert_eq!(done.repair_turns, 0);
    assert_eq!(
        call(LocalModel::new()).await.unwrap().output,
        done.output,
        "deterministic"
    );

    for flaw in [OutputFlaw::InvalidJson, OutputFlaw::Violation] {
        let repaired = call(LocalModel::new().with_flawed_output(flaw, 1))
            .await
            .unwrap();
        assert_eq!(repaired.output, done.output, "{flaw:?}");
        assert_eq!(repaired.repair_turns, 1, "{flaw:?}");

        let err = call(LocalModel::new().with_flawed_output(flaw, u32::MAX))
            .await
            .unwrap_err();
        let InvokeError::OutputInvalid { output, .. } = &err else {
            panic!("{flaw:?}: expected OutputInvalid, got {err:?}");
        };
        let expected_pointer = match flaw {
            OutputFlaw::InvalidJson => "",
            OutputFlaw::Violation => "/urgency",
        };
        assert_eq!(output.violations[0].pointer, expected_pointer, "{flaw:?}");
    }
}

/// A structured prompt with a `sensitive` variable whose value the model echoes into a broken
/// answer: neither the error (raw answer, violations, message) nor any event carries it.
#[tokio::test]
async fn sensitive_values_in_an_invalid_answer_are_redacted() {
    use std::sync::LazyLock;

    use promptops_runtime::{DynVars, PromptDef, Schema, VarValue};

    use super::{support_reply, SECRET};

    static DEF: LazyLock<PromptDef> = LazyLock::new(|| {
        let mut def = support_reply::DEF.clone();
        def.id = "customer-support.reply-triage".into();
        def.output_schema = Some(Schema::parse(&ticket_triage::schema_json()).expect("schema"));
        def.refresh_contract_hash();
        def
    });
    let mock = MockBedrock::start().await.unwrap();
    let echo = format!(
        r#"{{"intent": "{SECRET}", "urgency": 9, "order_id": null, "summary": "account {SECRET}", "products": []}}"#
    );
    mock.script(&DEF.model_id, Script::answer(echo));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let vars = DynVars::new(
        &DEF,
        [
            ("customer_name", VarValue::String("Ada")),
            ("account_number", VarValue::String(SECRET)),
            ("message", VarValue::String("Where is my refund?")),
        ],
    )
    .expect("declared variables");
    let err = runtime
        .invoke_def(&DEF, &vars, None, &CallOptions::default())
        .await
        .unwrap_err();
    let InvokeError::OutputInvalid { output, .. } = &err else {
        panic!("expected OutputInvalid, got {err:?}");
    };
    assert!(!output.raw.contains(SECRET), "{}", output.raw);
    assert!(output.raw.contains("[redacted]"), "{}", output.raw);
    assert!(output
        .violations
        .iter()
        .all(|violation| !violation.message.contains(SECRET)));
    assert!(output.violations[0].message.contains("[redacted]"));
    assert!(!err.to_string().contains(SECRET), "{err}");
    let events = capture.text();
    assert!(events.contains("output_invalid"), "{events}");
    assert!(!events.contains(SECRET), "{events}");
    // The model was told, though: the repair turn carries the feedback as it is.
    assert_eq!(mock.requests_for(&DEF.model_id).len(), 2);
}

/// Two repair turns: the conversation grows by an answer and its feedback per turn, and tokens
/// and cost add up over every turn. More turns than the limit of three are not made.
#[tokio::test]
async fn repair_turns_add_up_and_are_capped() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(
        HAIKU,
        Script::answer(BROKEN)
            .then(BROKEN)
            .then(VALID)
            .usage(100, 20),
    );
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse).with_repair_turns(2);
    let done = ticket_triage::handle()
        .invoke_with_input(&runtime, &NoVars, "charged twice")
        .await
        .unwrap();
    assert_eq!(done.output, expected());
    assert_eq!((done.repair_turns, done.attempts), (2, 3));
    assert_eq!(
        (done.input_tokens, done.output_tokens),
        (Some(300), Some(60))
    );
    // claude-3-5-haiku: $0.0008 in / $0.004 out per 1k tokens, over the three turns.
    let cost = done.cost_usd.unwrap();
    assert!(
        (cost - (300.0 * 0.0008 + 60.0 * 0.004) / 1000.0).abs() < 1e-12,
        "{cost}"
    );
    let requests = mock.requests_for(HAIKU);
    let roles: Vec<Vec<String>> = requests
        .iter()
        .map(|r| {
            r.body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["role"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        roles,
        [
            vec!["user"],
            vec!["user", "assistant", "user"],
            vec!["user", "assistant", "user", "assistant", "user"],
        ]
    );

    // Asking for nine turns gets three: four answers in all, then OutputInvalid.
    mock.script(HAIKU, Script::answer(BROKEN));
    mock.clear_requests();
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse).with_repair_turns(9);
    let err = ticket_triage::handle()
        .invoke_with_input(&runtime, &NoVars, "charged twice")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            InvokeError::OutputInvalid {
                repair_turns: 3,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(mock.requests_for(HAIKU).len(), 4);
}
