//! The OpenAI-compatible client against the scripted loopback server: what it sends, how it
//! retries, re-asks and gives up, counted in requests the server saw.

use std::time::{Duration, Instant};

use brain_ai_service::{OpenAiConfig, OpenAiGenerator};
use brain_plugin_api::testing::capture_warnings;
use brain_plugin_api::{ContentGenerator, GenerateError, GenerationRequest, NoteHit};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{Reply, Server, closed_port_url};

const KEY: &str = "sk-test-secret";

fn generator(
    base_url: &str,
    key: Option<&str>,
    timeout: Duration,
    max_retries: u32,
) -> OpenAiGenerator {
    OpenAiGenerator::new(OpenAiConfig {
        base_url: base_url.to_owned(),
        model: "test-model".to_owned(),
        api_key: key.map(str::to_owned),
        timeout,
        max_retries,
    })
    .unwrap()
}

fn default_generator(server: &Server) -> OpenAiGenerator {
    generator(&server.base_url, Some(KEY), Duration::from_secs(5), 3)
}

/// A hero-section request whose schema mirrors what schemars emits (a `$ref` into `$defs`).
fn request() -> GenerationRequest {
    GenerationRequest {
        kind: "site-section:hero".into(),
        prompt: "Write the hero section.".into(),
        schema: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Hero",
            "type": "object",
            "required": ["headline", "cta"],
            "properties": {
                "headline": { "type": "string" },
                "cta": { "$ref": "#/$defs/Cta" }
            },
            "$defs": { "Cta": { "type": "object", "required": ["text"], "properties": { "text": { "type": "string" } } } }
        }),
        context: json!({ "site": { "title": "Ada's brain" } }),
    }
}

fn valid() -> Value {
    json!({ "headline": "Ada's brain", "cta": { "text": "Read" } })
}

fn hit(title: &str, path: &str, snippet: &str) -> NoteHit {
    NoteHit {
        path: path.into(),
        title: title.into(),
        tags: vec![],
        summary: format!("{title} in one sentence."),
        snippet: snippet.into(),
        score: 1.0,
        hash: String::new(),
    }
}

#[tokio::test]
async fn success_sends_model_schema_context_and_key() {
    let server = Server::start(vec![Reply::json(valid())]).await;
    let value = default_generator(&server)
        .generate(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(value, valid());

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.body["model"], "test-model");
    assert_eq!(
        sent.body["response_format"],
        json!({ "type": "json_object" })
    );
    assert!(sent.body["temperature"].as_f64().unwrap() <= 0.5);
    let messages = sent.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    assert!(
        system.contains("JSON") && system.contains("\"headline\"") && system.contains("$defs"),
        "{system}"
    );
    assert_eq!(messages[1]["role"], "user");
    let user = messages[1]["content"].as_str().unwrap();
    assert!(
        user.contains("Write the hero section.") && user.contains("Ada's brain"),
        "{user}"
    );
}

#[tokio::test]
async fn no_key_no_authorization_header_and_fences_tolerated() {
    let server = Server::start(vec![Reply::Content(format!("```json\n{}\n```", valid()))]).await;
    let generator = generator(&server.base_url, None, Duration::from_secs(5), 0);
    assert_eq!(
        generator
            .generate(&request(), &CancellationToken::new())
            .await
            .unwrap(),
        valid()
    );
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let server = Server::start(vec![
        Reply::Raw {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into())],
            body: "slow down".into(),
        },
        Reply::json(valid()),
    ])
    .await;
    let started = Instant::now();
    let value = default_generator(&server)
        .generate(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(value, valid());
    assert_eq!(server.calls(), 2);
    let requests = server.requests();
    // Retry-After (1 s) wins over the first back-off (0.5 s).
    assert!(
        requests[1].at - requests[0].at >= Duration::from_millis(950),
        "{:?}",
        requests[1].at - requests[0].at
    );
    assert!(started.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn server_errors_are_retried() {
    let server = Server::start(vec![
        Reply::status(500),
        Reply::status(503),
        Reply::json(valid()),
    ])
    .await;
    let value = default_generator(&server)
        .generate(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(value, valid());
    assert_eq!(server.calls(), 3);
    let requests = server.requests();
    // Exponential back-off: the second wait is longer than the first.
    let first = requests[1].at - requests[0].at;
    let second = requests[2].at - requests[1].at;
    assert!(
        first >= Duration::from_millis(450) && second >= Duration::from_millis(950),
        "{first:?} {second:?}"
    );
}

#[tokio::test]
async fn invalid_content_is_asked_for_again_with_the_reason() {
    let server = Server::start(vec![
        Reply::json(json!({ "headline": "no cta" })),
        Reply::json(valid()),
    ])
    .await;
    let value = default_generator(&server)
        .generate(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(value, valid());
    assert_eq!(server.calls(), 2);
    let messages = server.requests()[1].body["messages"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        messages.len(),
        4,
        "system, user, the invalid answer, the correction request"
    );
    assert_eq!(messages[2]["role"], "assistant");
    let follow_up = messages[3]["content"].as_str().unwrap();
    assert!(
        follow_up.contains("missing required property \"cta\""),
        "{follow_up}"
    );
}

#[tokio::test]
async fn not_json_then_valid_takes_exactly_two_calls() {
    let server = Server::start(vec![
        Reply::Content("Here is your hero section!".into()),
        Reply::json(valid()),
    ])
    .await;
    let value = default_generator(&server)
        .generate(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(value, valid());
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn invalid_twice_is_an_invalid_response() {
    let server = Server::start(vec![Reply::json(
        json!({ "headline": 3, "cta": { "text": "x" } }),
    )])
    .await;
    let error = default_generator(&server)
        .generate(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    match error {
        GenerateError::InvalidResponse(reason) => assert!(reason.contains("/headline"), "{reason}"),
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn timeouts_are_retried_then_unavailable() {
    // The server would answer only after a minute: far from what timeouts give.
    let server = Server::start(vec![Reply::Slow(Duration::from_secs(60))]).await;
    let generator = generator(&server.base_url, Some(KEY), Duration::from_millis(300), 2);
    let started = Instant::now();
    let error = tokio::time::timeout(
        Duration::from_secs(30),
        generator.generate(&request(), &CancellationToken::new()),
    )
    .await
    .expect("the client waited for the slow server instead of timing out")
    .unwrap_err();
    // 3 × 0.3 s timeouts and 0.5 + 1 s of back-off; waiting for the server instead would
    // take at least a minute.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(2300) && elapsed < Duration::from_secs(20),
        "{elapsed:?}"
    );
    match &error {
        GenerateError::Unavailable {
            message,
            retryable: true,
        } => {
            assert!(
                message.contains(&server.base_url) && message.contains("300ms"),
                "{message}"
            );
        }
        other => panic!("expected retryable Unavailable, got {other:?}"),
    }
    // The server's task may record the last request after the client gave up on it.
    let waited = Instant::now();
    while server.calls() < 3 && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.calls(), 3, "one request and two retries");
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_hides_the_key() {
    let server = Server::start(vec![Reply::Raw {
        status: 401,
        headers: vec![],
        body: json!({ "error": { "message": format!("Incorrect API key provided: {KEY}") } })
            .to_string(),
    }])
    .await;
    let error = default_generator(&server)
        .generate(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    match &error {
        GenerateError::Unavailable {
            message,
            retryable: false,
        } => {
            assert!(
                message.contains("/v1/chat/completions") && message.contains("401"),
                "{message}"
            );
            assert!(!message.contains(KEY), "{message}");
        }
        other => panic!("expected permanent Unavailable, got {other:?}"),
    }
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let base_url = closed_port_url().await;
    let generator = generator(&base_url, None, Duration::from_secs(2), 1);
    match generator
        .generate(&request(), &CancellationToken::new())
        .await
        .unwrap_err()
    {
        GenerateError::Unavailable {
            message,
            retryable: true,
        } => {
            assert!(
                message.contains("cannot connect") && message.contains(&base_url),
                "{message}"
            );
        }
        other => panic!("expected retryable Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn cancellation_interrupts_the_back_off() {
    let (_capture, mut warnings) = capture_warnings();
    let server = Server::start(vec![Reply::Raw {
        status: 503,
        headers: vec![("Retry-After".into(), "30".into())],
        body: String::new(),
    }])
    .await;
    let generator = default_generator(&server);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    // Cancel once the client is in its back-off: it logs the retry and then, awaiting
    // nothing else, starts its wait, before this task (on the same thread) runs again.
    let retry = tokio::spawn(async move {
        loop {
            let warning = warnings.recv().await.unwrap();
            if warning.field("retry").is_some() {
                trigger.cancel();
                return warning;
            }
        }
    });
    let started = Instant::now();
    let error = generator.generate(&request(), &cancel).await.unwrap_err();
    assert_eq!(error, GenerateError::Cancelled);
    let retry = retry.await.unwrap();
    // The wait it was in: the server's Retry-After, far longer than the test took.
    assert_eq!(
        (retry.field("retry"), retry.field("wait_ms")),
        (Some("1"), Some("30000")),
        "{retry:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn answer_cites_the_passages() {
    let server = Server::start(vec![Reply::Content("Use cargo (“Rust notes”).".into())]).await;
    let passages = [
        hit("Rust notes", "rust.md", "[cargo] builds it"),
        hit("Tools", "tools.md", "a [cargo] cult"),
    ];
    let answer = default_generator(&server)
        .answer("How do I build?", &passages, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(answer.text, "Use cargo (“Rust notes”).");
    assert_eq!(answer.sources, passages.to_vec());
    let sent = &server.requests()[0].body;
    assert!(sent.get("response_format").is_none(), "answers are prose");
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("How do I build?")
            && user.contains("“Rust notes”")
            && user.contains("“Tools”"),
        "{user}"
    );
}

#[tokio::test]
async fn answer_without_passages_asks_nothing() {
    let server = Server::start(vec![Reply::status(500)]).await;
    let answer = default_generator(&server)
        .answer("Anything?", &[], &CancellationToken::new())
        .await
        .unwrap();
    assert!(answer.text.contains("No note matches"), "{}", answer.text);
    assert!(answer.sources.is_empty());
    assert_eq!(server.calls(), 0);
}

#[test]
fn bad_configs_name_the_key() {
    let cases = [
        (
            OpenAiConfig::new("localhost:11434", "m"),
            "ai.openai.base_url",
        ),
        (
            OpenAiConfig::new("http://127.0.0.1:1/v1", " "),
            "ai.openai.model",
        ),
        (
            OpenAiConfig {
                timeout: Duration::ZERO,
                ..OpenAiConfig::new("http://127.0.0.1:1/v1", "m")
            },
            "ai.openai.timeout_seconds",
        ),
    ];
    for (config, key) in cases {
        let error = OpenAiGenerator::new(config).unwrap_err();
        assert!(error.to_string().contains(key), "{error}");
    }
}
