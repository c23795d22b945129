//! `from_config`: the provider the `[ai]` section names, and errors that name the key.

use brain_ai_service::{AiConfigError, from_config};
use brain_plugin_api::GenerationRequest;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{Reply, Server};

fn error(ai: Value) -> AiConfigError {
    match from_config(&ai) {
        Err(error) => error,
        Ok(generator) => panic!("{ai} was accepted as {}", generator.name()),
    }
}

#[test]
fn defaults_to_local() {
    assert_eq!(from_config(&Value::Null).unwrap().name(), "local");
    assert_eq!(from_config(&json!({})).unwrap().name(), "local");
    assert_eq!(
        from_config(&json!({ "provider": "local", "local": { "delay_ms": 5 } }))
            .unwrap()
            .name(),
        "local"
    );
}

#[test]
fn bad_provider_names_the_key_and_choices() {
    let error = error(json!({ "provider": "gpt-5" }));
    assert_eq!(
        error,
        AiConfigError::Invalid {
            key: "ai.provider".into(),
            value: "\"gpt-5\"".into(),
            allowed: "\"local\" or \"openai\"".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "invalid value for `ai.provider`: \"gpt-5\" (allowed: \"local\" or \"openai\")"
    );
}

#[test]
fn bad_timeout_names_the_key() {
    for timeout in [json!(0), json!(-5), json!("60"), json!(1.5), json!(100_000)] {
        let ai =
            json!({ "provider": "openai", "openai": { "model": "m", "timeout_seconds": timeout } });
        match error(ai) {
            AiConfigError::Invalid { key, allowed, .. } => {
                assert_eq!(key, "ai.openai.timeout_seconds");
                assert_eq!(allowed, "an integer from 1 to 3600");
            }
            other => panic!("{timeout}: {other}"),
        }
    }
}

#[test]
fn unknown_keys_are_errors() {
    let cases = [
        (json!({ "provder": "local" }), "ai.provder"),
        (json!({ "local": { "delay": 1 } }), "ai.local.delay"),
        (
            json!({ "provider": "openai", "openai": { "model": "m", "temperature": 0 } }),
            "ai.openai.temperature",
        ),
    ];
    for (ai, expected) in cases {
        match error(ai) {
            AiConfigError::UnknownKey { key, .. } => assert_eq!(key, expected),
            other => panic!("{expected}: {other}"),
        }
    }
}

#[test]
fn openai_needs_a_model() {
    let message =
        error(json!({ "provider": "openai", "openai": { "base_url": "http://127.0.0.1:1/v1" } }))
            .to_string();
    assert!(
        message.contains("`ai.openai.model`: (missing)"),
        "{message}"
    );
}

#[tokio::test]
async fn openai_from_config_reaches_the_endpoint_with_the_key() {
    let server = Server::start(vec![Reply::json(json!({ "ok": true }))]).await;
    let generator = from_config(&json!({
        "provider": "openai",
        "openai": { "base_url": server.base_url, "model": "llama3.2", "api_key": "sk-cfg", "timeout_seconds": 5, "max_retries": 0 }
    }))
    .unwrap();
    assert_eq!(generator.name(), "openai");
    let request = GenerationRequest {
        kind: "anything".into(),
        prompt: "p".into(),
        schema: json!({ "type": "object", "required": ["ok"] }),
        context: json!({}),
    };
    assert_eq!(
        generator
            .generate(&request, &CancellationToken::new())
            .await
            .unwrap(),
        json!({ "ok": true })
    );
    let sent = &server.requests()[0];
    assert_eq!(sent.header("authorization"), Some("Bearer sk-cfg"));
    assert_eq!(sent.body["model"], "llama3.2");
}
