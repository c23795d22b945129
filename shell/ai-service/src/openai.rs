//! The `openai` provider: any endpoint speaking OpenAI's chat-completions API (OpenAI itself,
//! Ollama, llama.cpp's server, vLLM). Generated content is parsed as JSON and checked against
//! the request's schema; an answer that fails is asked for again once, with the reason, since
//! models usually fix a missing field when told. Transport failures (timeouts, connection
//! errors, 429, 5xx) are retried with exponential back-off, honouring `Retry-After`.
//!
//! The API key goes only into the `Authorization` header: it is never logged, never shown by
//! `Debug`, and removed from error texts an endpoint might echo it in.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use brain_plugin_api::{Answer, ContentGenerator, GenerateError, GenerationRequest, NoteHit};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::config::{AiConfigError, is_http_url};
use crate::schema::validate;

const NAME: &str = "openai";
/// Low, so that the same notes give much the same page, but not 0, which some local servers
/// treat as greedy decoding prone to repetition loops.
const TEMPERATURE: f64 = 0.2;
/// The first back-off; each retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A server asking for longer than this is waited on for this long only; the job queue's
/// own retries take over after that.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How much of an error body goes into an error message.
const ERROR_BODY_CHARS: usize = 300;

/// Where and how to reach an OpenAI-compatible endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// The API root, without `/chat/completions`: `https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1` (Ollama).
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer <key>` when set; local servers usually need none.
    pub api_key: Option<String>,
    /// The limit for one HTTP request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// How often a failed request is tried again (so at most `max_retries + 1` requests).
    pub max_retries: u32,
}

impl OpenAiConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_MAX_RETRIES: u32 = 3;

    /// A config with the default timeout and retries and no API key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Self::DEFAULT_TIMEOUT,
            max_retries: Self::DEFAULT_MAX_RETRIES,
        }
    }
}

// By hand, so that the API key never reaches a log through `{:?}`.
impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "(hidden)"))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// A generator backed by an OpenAI-compatible chat-completions endpoint.
#[derive(Debug)]
pub struct OpenAiGenerator {
    config: OpenAiConfig,
    /// `{base_url}/chat/completions`.
    endpoint: String,
    client: reqwest::Client,
}

impl OpenAiGenerator {
    /// Checks `config` and builds the HTTP client. Errors name the `ai.openai.*` key at fault.
    pub fn new(mut config: OpenAiConfig) -> Result<Self, AiConfigError> {
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        if !is_http_url(&config.base_url) {
            return Err(AiConfigError::invalid(
                "ai.openai.base_url",
                &Value::String(config.base_url),
                "an http:// or https:// URL, e.g. \"http://127.0.0.1:11434/v1\"",
            ));
        }
        if config.model.trim().is_empty() {
            return Err(AiConfigError::invalid(
                "ai.openai.model",
                &Value::String(config.model),
                "a non-empty model name",
            ));
        }
        if config.timeout.is_zero() {
            return Err(AiConfigError::invalid(
                "ai.openai.timeout_seconds",
                &json!(0),
                "a positive duration",
            ));
        }
        let endpoint = format!("{}/chat/completions", config.base_url);

        // reqwest is built without a rustls crypto provider (its default one, aws-lc-rs, needs
        // a C and CMake build); ring is installed as the process default unless something
        // else installed one first, which `install_default` reports as an error we can ignore.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| AiConfigError::Client {
                endpoint: endpoint.clone(),
                message: e.to_string(),
            })?;
        Ok(Self {
            config,
            endpoint,
            client,
        })
    }

    /// One chat completion, retried on transport failures; returns the message content.
    /// Each wait before a retry is told to `notice`; the final error names the setting to
    /// check.
    async fn complete(
        &self,
        body: &Value,
        cancel: &CancellationToken,
        notice: &(dyn for<'t> Fn(&'t str) + Send + Sync),
    ) -> Result<String, GenerateError> {
        let mut retries = 0;
        loop {
            let attempt = tokio::select! {
                () = cancel.cancelled() => return Err(GenerateError::Cancelled),
                attempt = self.post(body) => attempt,
            };
            let failure = match attempt {
                Ok(content) => return Ok(content),
                Err(failure) => failure,
            };
            if !failure.retryable || retries >= self.config.max_retries {
                // Redacted before the hint is added: the hint is ours, never a secret.
                let mut message = self.redact(failure.message);
                match (failure.retryable && retries > 0, failure.check) {
                    (true, Some(check)) => message.push_str(&format!(
                        " (gave up after {} attempts; check {check})",
                        retries + 1
                    )),
                    (true, None) => {
                        message.push_str(&format!(" (gave up after {} attempts)", retries + 1));
                    }
                    (false, Some(check)) => message.push_str(&format!(" (check {check})")),
                    (false, None) => {}
                }
                return Err(GenerateError::Unavailable {
                    message,
                    retryable: failure.retryable,
                });
            }
            let backoff = FIRST_BACKOFF
                .saturating_mul(2u32.saturating_pow(retries))
                .min(MAX_BACKOFF);
            let wait = failure
                .retry_after
                .map_or(backoff, |after| after.min(MAX_RETRY_AFTER));
            retries += 1;
            notice(&format!(
                "model {} at {} — retry {retries}/{} in {}",
                if failure.unreachable {
                    "unreachable"
                } else {
                    "failing"
                },
                self.config.base_url,
                self.config.max_retries,
                brain_plugin_api::format_short(wait)
            ));
            tracing::warn!(
                endpoint = %self.endpoint,
                error = %self.redact(failure.message),
                retry = retries,
                wait_ms = wait.as_millis() as u64,
                "chat completion failed; retrying"
            );
            tokio::select! {
                () = cancel.cancelled() => return Err(GenerateError::Cancelled),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One HTTP request.
    async fn post(&self, body: &Value) -> Result<String, Failure> {
        let mut request = self
            .client
            .post(&self.endpoint)
            .timeout(self.config.timeout)
            .json(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        tracing::debug!(endpoint = %self.endpoint, model = %self.config.model, "chat completion");
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_failure(&e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_failure(&e))?;
        if !status.is_success() {
            let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            let check = match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    Some("[ai.openai] api_key in brain.toml, or OPENAI_API_KEY")
                }
                StatusCode::NOT_FOUND => Some("[ai.openai] base_url and model in brain.toml"),
                _ => None,
            };
            return Err(Failure {
                message: format!(
                    "{} answered {status}: {}",
                    self.endpoint,
                    error_text(&bytes)
                ),
                retryable,
                retry_after,
                unreachable: false,
                check,
            });
        }
        let envelope: Value = serde_json::from_slice(&bytes).map_err(|e| Failure {
            message: format!(
                "{} answered {status} with a body that is not JSON: {e}",
                self.endpoint
            ),
            retryable: false,
            retry_after: None,
            unreachable: false,
            check: Some("[ai.openai] base_url in brain.toml (an OpenAI-compatible API)"),
        })?;
        match envelope
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
        {
            Some(content) => Ok(content.to_owned()),
            None => Err(Failure {
                message: format!(
                    "{} answered {status} without choices[0].message.content: {}",
                    self.endpoint,
                    error_text(&bytes)
                ),
                retryable: false,
                retry_after: None,
                unreachable: false,
                check: Some("[ai.openai] base_url in brain.toml (an OpenAI-compatible API)"),
            }),
        }
    }

    fn transport_failure(&self, error: &reqwest::Error) -> Failure {
        // reqwest's chain repeats the URL and its own layers ("error sending request for
        // url (…): client error (Connect): tcp connect error: …"); the innermost cause is
        // what a person can act on ("Connection refused (os error 111)").
        let (message, check) = if error.is_timeout() {
            (
                format!(
                    "{} did not answer within {:?}",
                    self.endpoint, self.config.timeout
                ),
                Some("that the model server runs, or [ai.openai] timeout_seconds in brain.toml"),
            )
        } else if error.is_connect() {
            (
                format!("cannot connect to {}: {}", self.endpoint, innermost(error)),
                Some("[ai.openai] base_url in brain.toml, and that the model server runs"),
            )
        } else {
            (
                format!("request to {} failed: {}", self.endpoint, innermost(error)),
                None,
            )
        };
        // A request that could not even be built will not build next time either.
        Failure {
            message,
            retryable: !error.is_builder(),
            retry_after: None,
            unreachable: error.is_timeout() || error.is_connect(),
            check,
        }
    }

    /// Removes the API key from text an endpoint or library produced.
    fn redact(&self, message: String) -> String {
        match &self.config.api_key {
            Some(key) if message.contains(key.as_str()) => {
                message.replace(key.as_str(), "(hidden)")
            }
            _ => message,
        }
    }

    fn body(&self, messages: &[Value], json_mode: bool) -> Value {
        let mut body =
            json!({ "model": self.config.model, "messages": messages, "temperature": TEMPERATURE });
        if json_mode {
            body["response_format"] = json!({ "type": "json_object" });
        }
        body
    }
}

#[async_trait]
impl ContentGenerator for OpenAiGenerator {
    fn name(&self) -> &str {
        NAME
    }

    /// A chat completion that writes a section of JSON: several seconds with common models.
    fn typical_duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs(6)
    }

    async fn generate(
        &self,
        request: &GenerationRequest,
        cancel: &CancellationToken,
    ) -> Result<Value, GenerateError> {
        self.generate_with_notices(request, cancel, &|_| {}).await
    }

    /// Asks the server for its models (`GET {base_url}/models`, one try): reachable, the
    /// key accepted, and the configured model among them when the server lists models.
    async fn check(&self) -> Result<String, String> {
        let url = format!("{}/models", self.config.base_url.trim_end_matches('/'));
        let mut request = self.client.get(&url).timeout(self.config.timeout);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let failure = self.transport_failure(&error);
                let message = self.redact(failure.message);
                return Err(match failure.check {
                    Some(check) => format!("{message} (check {check})"),
                    None => message,
                });
            }
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(format!(
                "{url} answered {status} (check [ai.openai] api_key in brain.toml, or \
                 OPENAI_API_KEY)"
            ));
        }
        let listed: Option<Vec<String>> = match response.json::<Value>().await {
            Ok(body) if status.is_success() => body["data"].as_array().map(|models| {
                models
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned))
                    .collect()
            }),
            _ => None,
        };
        match listed {
            Some(models) if !models.is_empty() && !models.contains(&self.config.model) => {
                Err(format!(
                    "{} does not serve model {:?} (it has {}; check [ai.openai] model in \
                     brain.toml)",
                    self.config.base_url,
                    self.config.model,
                    models.join(", ")
                ))
            }
            _ => Ok(format!(
                "openai: {} answers (model {})",
                self.config.base_url, self.config.model
            )),
        }
    }

    async fn generate_with_notices(
        &self,
        request: &GenerationRequest,
        cancel: &CancellationToken,
        notice: &(dyn for<'t> Fn(&'t str) + Send + Sync),
    ) -> Result<Value, GenerateError> {
        let schema = serde_json::to_string_pretty(&request.schema)
            .unwrap_or_else(|_| request.schema.to_string());
        let context = serde_json::to_string_pretty(&request.context)
            .unwrap_or_else(|_| request.context.to_string());
        let mut messages = vec![
            json!({ "role": "system", "content": format!(
                "You write content for a person's website from their notes. Answer with one JSON \
                 object only, no prose and no Markdown, matching this JSON schema:\n{schema}"
            ) }),
            json!({ "role": "user", "content": format!(
                "{}\n\nContent kind: {}\n\nContext (JSON):\n{context}",
                request.prompt, request.kind
            ) }),
        ];
        let content = self
            .complete(&self.body(&messages, true), cancel, notice)
            .await?;
        let reason = match parse_content(&content, &request.schema) {
            Ok(value) => return Ok(value),
            Err(reason) => reason,
        };
        tracing::info!(endpoint = %self.endpoint, kind = %request.kind, %reason, "generated content invalid; asking again");
        messages.push(json!({ "role": "assistant", "content": content }));
        messages.push(json!({ "role": "user", "content": format!(
            "That answer is not valid: {reason}. Reply again with only the corrected JSON object matching the schema."
        ) }));
        let content = self
            .complete(&self.body(&messages, true), cancel, notice)
            .await?;
        parse_content(&content, &request.schema).map_err(GenerateError::InvalidResponse)
    }

    async fn answer(
        &self,
        question: &str,
        passages: &[NoteHit],
        cancel: &CancellationToken,
    ) -> Result<Answer, GenerateError> {
        if passages.is_empty() {
            // Nothing to answer from: a model would only make something up.
            return Ok(Answer {
                text: format!("No note matches “{}”.", question.trim()),
                sources: Vec::new(),
            });
        }
        let notes = passages
            .iter()
            .enumerate()
            .map(|(i, hit)| {
                format!(
                    "{}. “{}” ({}): {}\n   Summary: {}",
                    i + 1,
                    hit.title,
                    hit.path,
                    hit.snippet,
                    hit.summary
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let messages = [
            json!({ "role": "system", "content":
                "Answer the question from the notes given, and from nothing else. Be brief: a few \
                 sentences. Cite the titles of the notes you use in quotes, like (“Title”). In the \
                 passages, matched words are marked with [ ]. If the notes do not answer the \
                 question, say so." }),
            json!({ "role": "user", "content": format!("Question: {question}\n\nNotes:\n{notes}") }),
        ];
        let text = self
            .complete(&self.body(&messages, false), cancel, &|_| {})
            .await?;
        let text = text.trim();
        if text.is_empty() {
            return Err(GenerateError::InvalidResponse(format!(
                "{} answered with empty content",
                self.endpoint
            )));
        }
        Ok(Answer {
            text: text.to_owned(),
            sources: passages.to_vec(),
        })
    }
}

/// Why one request failed.
struct Failure {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
    /// No answer came at all: nothing listens, or it never answered in time.
    unreachable: bool,
    /// The setting a person should look at when this is the last word.
    check: Option<&'static str>,
}

/// Parses a model's content as JSON and validates it. Tolerates a ```json fence and text
/// around the JSON object, which small local models add despite instructions.
fn parse_content(content: &str, schema: &Value) -> Result<Value, String> {
    let trimmed = unfence(content.trim());
    let value = match serde_json::from_str::<Value>(trimmed) {
        Ok(value) => value,
        Err(error) => {
            let embedded = trimmed
                .find('{')
                .zip(trimmed.rfind('}'))
                .and_then(|(start, end)| serde_json::from_str::<Value>(&trimmed[start..=end]).ok());
            match embedded {
                Some(value) => value,
                None => return Err(format!("the answer is not JSON ({error})")),
            }
        }
    };
    validate(schema, &value).map(|()| value)
}

/// The inside of a Markdown code fence (```json … ``` or ``` … ```), or the text as is.
fn unfence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    // Skip the info string (`json`) up to the end of the opening line.
    let Some(newline) = rest.find('\n') else {
        return text;
    };
    let inner = &rest[newline + 1..];
    inner.trim_end().strip_suffix("```").unwrap_or(inner).trim()
}

/// `Retry-After` in seconds; the HTTP-date form is rare from these APIs and falls back to
/// the back-off.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

/// The start of an error body: OpenAI-style `{"error": {"message": …}}` gives its message.
fn error_text(body: &[u8]) -> String {
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    match text.char_indices().nth(ERROR_BODY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The innermost cause of `error`: reqwest's own message is generic ("error sending
/// request") and its layers repeat the URL; the last source says what happened.
fn innermost(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_parsing_tolerates_fences_and_chatter() {
        let schema = json!({ "type": "object", "required": ["a"] });
        let cases: &[(&str, Result<Value, &str>)] = &[
            ("{\"a\": 1}", Ok(json!({ "a": 1 }))),
            ("```json\n{\"a\": 1}\n```", Ok(json!({ "a": 1 }))),
            ("```\n{\"a\": 2}\n```\n", Ok(json!({ "a": 2 }))),
            (
                "Sure! Here it is: {\"a\": 3} Hope that helps.",
                Ok(json!({ "a": 3 })),
            ),
            ("not json at all", Err("the answer is not JSON")),
            ("{\"b\": 1}", Err("missing required property \"a\"")),
        ];
        for (content, expected) in cases {
            match (parse_content(content, &schema), expected) {
                (Ok(value), Ok(want)) => assert_eq!(&value, want, "{content}"),
                (Err(reason), Err(part)) => assert!(reason.contains(part), "{content}: {reason}"),
                (got, want) => panic!("{content}: expected {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn retry_after_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn debug_hides_the_key() {
        let mut config = OpenAiConfig::new("http://127.0.0.1:1/v1", "m");
        config.api_key = Some("sk-secret".into());
        assert!(!format!("{config:?}").contains("sk-secret"));
    }
}
