//! Content generation and the notes it draws from, as plugins see them. Providers (the
//! offline `local` one, OpenAI-compatible endpoints) implement [`ContentGenerator`] in
//! `shell/ai-service`; the shell picks one from `brain.toml` and hands it to plugins through
//! `PluginContext::generator`. The notes index lives in `shell/notes`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A request for structured content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// What to produce, e.g. `site-section:features`. Providers that compose content
    /// without a language model (the `local` one) dispatch on it.
    pub kind: String,
    /// Instructions for a language model.
    pub prompt: String,
    /// The JSON schema the answer must match.
    pub schema: Value,
    /// The facts to draw from (the site's settings, relevant notes, …); its shape per
    /// kind is documented by the provider that composes that kind.
    pub context: Value,
}

/// Why generation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The provider could not be reached or answered with an error; `retryable` when
    /// trying again later may help (timeouts, 429, 5xx).
    #[error("{message}")]
    Unavailable { message: String, retryable: bool },
    /// The provider answered, but not with content matching the schema.
    #[error("invalid generated content: {0}")]
    InvalidResponse(String),
    /// The provider cannot produce this kind of content.
    #[error("the {provider} generator cannot produce {kind:?}")]
    Unsupported { provider: String, kind: String },
    #[error("cancelled")]
    Cancelled,
}

/// A note found by a search, ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteHit {
    /// Path relative to the notes folder, e.g. `ideas/rust.md`.
    pub path: String,
    pub title: String,
    pub tags: Vec<String>,
    /// The note's first sentence, for summaries.
    pub summary: String,
    /// The matching passage, with the matched words in `[` `]`.
    pub snippet: String,
    /// Higher is more relevant.
    pub score: f64,
    /// A hash of the note's content (hex): what changed since content was made from it.
    #[serde(default)]
    pub hash: String,
}

/// An answer to a question, with the notes it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub text: String,
    pub sources: Vec<NoteHit>,
}

/// A content provider.
#[async_trait]
pub trait ContentGenerator: Send + Sync + 'static {
    /// The provider's name as configured (`local`, `openai`).
    fn name(&self) -> &str;

    /// How long one `generate` call usually takes: what a job type that calls it expects
    /// per item before it has a history of its own.
    fn typical_duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }

    /// Produces JSON matching `request.schema`.
    async fn generate(
        &self,
        request: &GenerationRequest,
        cancel: &CancellationToken,
    ) -> Result<Value, GenerateError>;

    /// Whether the provider can work now, for a health check (`brain doctor`): a line
    /// saying what it is (`local: offline, nothing to reach`), or what is wrong and which
    /// setting to check. By default it needs nothing.
    async fn check(&self) -> Result<String, String> {
        Ok(format!("{}: nothing to reach", self.name()))
    }

    /// [`generate`](Self::generate), telling `notice` what it is waiting for while it
    /// waits ("model unreachable at http://127.0.0.1:9/v1 — retry 2/3 in 1 s"): a job shows
    /// it as its progress message, so a person sees one line change instead of nothing.
    /// By default, a provider that never waits says nothing.
    async fn generate_with_notices(
        &self,
        request: &GenerationRequest,
        cancel: &CancellationToken,
        notice: &(dyn for<'t> Fn(&'t str) + Send + Sync),
    ) -> Result<Value, GenerateError> {
        let _ = notice;
        self.generate(request, cancel).await
    }

    /// Answers `question` from `passages` (the top notes of a search).
    async fn answer(
        &self,
        question: &str,
        passages: &[NoteHit],
        cancel: &CancellationToken,
    ) -> Result<Answer, GenerateError>;
}
