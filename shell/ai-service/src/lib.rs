//! Content generators for the brain: [`LocalGenerator`] composes site sections from notes
//! offline and deterministically, [`OpenAiGenerator`] asks any OpenAI-compatible
//! chat-completions endpoint (OpenAI, Ollama, llama.cpp's server, vLLM) and checks the answer
//! against the request's JSON schema. [`from_config`] builds the one the `[ai]` section of
//! `brain.toml` asks for; the shell hands it to plugins as an `Arc<dyn ContentGenerator>`.
//!
//! ```toml
//! [ai]
//! provider = "local"            # or "openai"; default "local"
//!
//! [ai.local]
//! delay_ms = 0                  # a pause per generate call, to pace jobs in tests and demos
//!
//! [ai.openai]
//! base_url = "http://127.0.0.1:11434/v1"   # default https://api.openai.com/v1
//! model = "llama3.2"            # required when provider = "openai"
//! api_key = "sk-..."            # optional; else the OPENAI_API_KEY environment variable
//! timeout_seconds = 60          # per HTTP request
//! max_retries = 3               # on 429, 5xx, timeouts and connection errors
//! ```

mod config;
mod local;
mod openai;
mod schema;

pub use config::{AiConfigError, from_config};
pub use local::LocalGenerator;
pub use openai::{OpenAiConfig, OpenAiGenerator};
pub use schema::validate;
