//! Shared test fixtures: a brain in a temporary folder with the plugin registered against
//! a recording context, a generator that answers every template with fixed valid content,
//! and helpers to call tools and run job handlers directly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use brain_plugin_api::testing::ProgressCell;
use brain_plugin_api::testing::{self, RecordingContext};
use brain_plugin_api::{
    Answer, Caller, ContentGenerator, GenerateError, GenerationRequest, JobContext, JobError,
    NoteHit, NoteText, PluginContext, PluginError, Registration, ToolContext, ToolError,
    ToolResult,
};
use brain_site_builder::SiteBuilder;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The `[site]` table `brain init` scaffolds, as the shell hands it over (JSON).
pub(crate) fn scaffold_site() -> Value {
    json!({
        "title": "Test Site",
        "description": "A personal brain, published.",
        "base_url": "https://example.org",
        "routes": [
            {"id": "landing", "path": "/", "title": "Home", "sections": [
                {"id": "hero", "template": "hero"},
                {"id": "features", "template": "features"},
                {"id": "products", "template": "products"},
                {"id": "cta", "template": "cta"},
            ]},
            {"id": "about", "path": "/about", "title": "About", "sections": [
                {"id": "text", "template": "text"},
            ]},
        ],
    })
}

/// Notes the recording context searches.
pub(crate) fn notes() -> Vec<NoteHit> {
    let note = |path: &str, title: &str, tags: &[&str], summary: &str| NoteHit {
        path: path.into(),
        title: title.into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        summary: summary.into(),
        snippet: summary.into(),
        score: 1.0,
        hash: String::new(),
    };
    vec![
        note(
            "welcome.md",
            "Welcome home",
            &["welcome"],
            "The home of this brain.",
        ),
        note(
            "ideas.md",
            "Ideas and features",
            &["ideas"],
            "Features worth keeping.",
        ),
        note(
            "example-product.md",
            "Example product",
            &["product"],
            "Something on offer.",
        ),
    ]
}

/// What the test generator does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mode {
    /// Fixed valid content for every template.
    Valid,
    /// Content whose `items[1].title` (features) or `headline` (others) is a number.
    Invalid,
    /// `Unavailable { retryable }`.
    Unavailable(bool),
}

/// A generator answering each `site-section:<template>` request with fixed content,
/// recording the requests.
pub(crate) struct TestGenerator {
    pub(crate) mode: Mutex<Mode>,
    pub(crate) requests: Mutex<Vec<GenerationRequest>>,
    /// Replaces the fixed content of a kind (e.g. to inject `<script>`).
    pub(crate) overrides: Mutex<BTreeMap<String, Value>>,
}

impl TestGenerator {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            mode: Mutex::new(Mode::Valid),
            requests: Mutex::new(Vec::new()),
            overrides: Mutex::new(BTreeMap::new()),
        })
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub(crate) fn requests(&self) -> Vec<GenerationRequest> {
        self.requests.lock().unwrap().clone()
    }
}

/// Valid content for `kind`.
pub(crate) fn fixed_content(kind: &str) -> Option<Value> {
    Some(match kind {
        "site-section:hero" => json!({
            "headline": "Notes, published",
            "subheadline": "What I think about, written down.",
            "cta_text": "Read more",
            "cta_url": "/about",
        }),
        "site-section:features" => json!({
            "title": "What I work on",
            "items": [
                {"title": "Ideas", "description": "Features worth keeping.", "note": "ideas.md"},
                {"title": "Welcome", "description": "The home of this brain.", "note": null},
            ],
        }),
        "site-section:products" => json!({
            "title": "Products",
            "items": [{"name": "Example product", "description": "Something on offer.", "note": "example-product.md"}],
        }),
        "site-section:cta" => json!({
            "headline": "Get in touch",
            "text": "Write to me.",
            "button_text": "Email me",
            "button_url": "mailto:me@example.org",
        }),
        "site-section:text" => json!({
            "title": "About me",
            "body": "I keep notes.\n\n- one\n- two",
        }),
        "site-section:note-list" => json!({
            "title": "Recent notes",
            "notes": [{"title": "Ideas", "path": "ideas.md", "summary": "Features worth keeping."}],
        }),
        _ => return None,
    })
}

#[async_trait]
impl ContentGenerator for TestGenerator {
    fn name(&self) -> &str {
        "test"
    }

    async fn generate(
        &self,
        request: &GenerationRequest,
        cancel: &CancellationToken,
    ) -> Result<Value, GenerateError> {
        self.requests.lock().unwrap().push(request.clone());
        if cancel.is_cancelled() {
            return Err(GenerateError::Cancelled);
        }
        let mode = self.mode.lock().unwrap().clone();
        match mode {
            Mode::Unavailable(retryable) => Err(GenerateError::Unavailable {
                message: "503 from the endpoint".into(),
                retryable,
            }),
            Mode::Valid | Mode::Invalid => {
                let mut content = match self.overrides.lock().unwrap().get(&request.kind) {
                    Some(content) => content.clone(),
                    None => {
                        fixed_content(&request.kind).ok_or_else(|| GenerateError::Unsupported {
                            provider: "test".into(),
                            kind: request.kind.clone(),
                        })?
                    }
                };
                if mode == Mode::Invalid {
                    if request.kind == "site-section:features" {
                        content["items"][1]["title"] = json!(42);
                    } else {
                        content["headline"] = json!(42);
                    }
                }
                Ok(content)
            }
        }
    }

    async fn answer(
        &self,
        _question: &str,
        passages: &[NoteHit],
        _cancel: &CancellationToken,
    ) -> Result<Answer, GenerateError> {
        Ok(Answer {
            text: String::new(),
            sources: passages.to_vec(),
        })
    }
}

/// A brain in a temporary folder with the site builder registered.
pub(crate) struct Brain {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) recording: Arc<RecordingContext>,
    pub(crate) generator: Arc<TestGenerator>,
    pub(crate) registration: Registration,
}

impl Brain {
    /// The scaffolded site.
    pub(crate) fn new() -> Brain {
        Brain::with_config(scaffold_site())
    }

    pub(crate) fn with_config(config: Value) -> Brain {
        match Brain::try_with_config(config) {
            Ok(brain) => brain,
            Err(e) => panic!("registration failed: {e}"),
        }
    }

    pub(crate) fn try_with_config(config: Value) -> Result<Brain, PluginError> {
        let dir = tempfile::tempdir().unwrap();
        Brain::in_dir(dir, config)
    }

    /// Registers against `dir` (which may hold files the config refers to).
    pub(crate) fn in_dir(dir: tempfile::TempDir, config: Value) -> Result<Brain, PluginError> {
        let generator = TestGenerator::new();
        Brain::assemble(dir, config, notes(), generator.clone(), generator)
    }

    /// The scaffolded site with `notes` to search and another generator (`generator` is
    /// then an unused test generator).
    pub(crate) fn with_generator(notes: Vec<NoteHit>, other: Arc<dyn ContentGenerator>) -> Brain {
        let dir = tempfile::tempdir().unwrap();
        Brain::assemble(dir, scaffold_site(), notes, other, TestGenerator::new()).unwrap()
    }

    /// A site with these whole notes, public and private (their frontmatter says which).
    pub(crate) fn with_notes(config: Value, notes: Vec<NoteText>) -> Brain {
        Brain::with_notes_in(tempfile::tempdir().unwrap(), config, notes)
    }

    /// The same brain folder and site with other notes: the notes as they are after a
    /// person edited them.
    pub(crate) fn with_other_notes(self, notes: Vec<NoteText>) -> Brain {
        let config = self.recording.config();
        Brain::with_notes_in(self.dir, config, notes)
    }

    fn with_notes_in(dir: tempfile::TempDir, config: Value, notes: Vec<NoteText>) -> Brain {
        let generator = TestGenerator::new();
        let recording =
            RecordingContext::with_notes("site-builder", config, notes, generator.clone())
                .in_dir(dir.path());
        Brain::registered(dir, recording, generator).unwrap()
    }

    fn assemble(
        dir: tempfile::TempDir,
        config: Value,
        notes: Vec<NoteHit>,
        used: Arc<dyn ContentGenerator>,
        generator: Arc<TestGenerator>,
    ) -> Result<Brain, PluginError> {
        let recording =
            RecordingContext::with_content("site-builder", config, notes, used).in_dir(dir.path());
        Brain::registered(dir, recording, generator)
    }

    fn registered(
        dir: tempfile::TempDir,
        recording: Arc<RecordingContext>,
        generator: Arc<TestGenerator>,
    ) -> Result<Brain, PluginError> {
        let registration = recording.register(&SiteBuilder)?;
        Ok(Brain {
            dir,
            recording,
            generator,
            registration,
        })
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub(crate) fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub(crate) fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
    }

    pub(crate) fn exists(&self, relative: &str) -> bool {
        self.path(relative).exists()
    }

    /// Calls a tool as the CLI (the anchor).
    pub(crate) async fn call(&self, tool: &str, input: Value) -> Result<ToolResult, ToolError> {
        let spec = self
            .registration
            .tools
            .iter()
            .find(|t| t.name == tool)
            .unwrap_or_else(|| panic!("no tool {tool}"));
        spec.handler
            .call(input, ToolContext::new(Caller::cli()))
            .await
    }

    /// Runs a job handler directly, returning its result and its last progress report.
    pub(crate) async fn run_job_with(
        &self,
        job_type: &str,
        input: Value,
        ctx: JobContext,
    ) -> Result<Value, JobError> {
        let handler = self
            .registration
            .handlers
            .iter()
            .find(|(t, _)| t == job_type)
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| panic!("no handler {job_type}"));
        // As the queue does for a run whose completion commits: its staged effects apply.
        let staged = ctx.clone();
        let result = handler.run_json(&input.to_string(), ctx).await;
        if result.is_ok() {
            for effect in staged.take_staged() {
                effect.apply().unwrap();
            }
        }
        result
    }

    pub(crate) async fn run_job(&self, job_type: &str, input: Value) -> Result<Value, JobError> {
        let (ctx, _) = testing::job_context(job_type);
        self.run_job_with(job_type, input, ctx).await
    }

    /// Runs a job and returns its progress cell as well.
    pub(crate) async fn run_job_progress(
        &self,
        job_type: &str,
        input: Value,
    ) -> (Result<Value, JobError>, Arc<ProgressCell>) {
        let (ctx, cell) = testing::job_context(job_type);
        (self.run_job_with(job_type, input, ctx).await, cell)
    }

    /// Generates every section's preview content by running the generate handler.
    pub(crate) async fn generate_all(&self) {
        for (route, section) in [
            ("landing", "hero"),
            ("landing", "features"),
            ("landing", "products"),
            ("landing", "cta"),
            ("about", "text"),
        ] {
            self.run_job(
                "site-builder:generate",
                json!({"route": route, "section": section}),
            )
            .await
            .unwrap();
        }
    }

    pub(crate) async fn build(&self, environment: &str) -> Result<Value, JobError> {
        self.run_job("site-builder:build", json!({"environment": environment}))
            .await
    }

    /// Every file under `relative`, with its bytes: to compare folders.
    pub(crate) fn snapshot(&self, relative: &str) -> BTreeMap<String, Vec<u8>> {
        fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    let name = path.strip_prefix(base).unwrap().display().to_string();
                    out.insert(name, std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.path(relative), &self.path(relative), &mut out);
        out
    }
}

/// The field an invalid-input error names.
pub(crate) fn invalid_field(result: Result<ToolResult, ToolError>) -> (String, String) {
    match result {
        Err(ToolError::InvalidInput { field, message }) => (field, message),
        other => panic!("expected invalid input, got {other:?}"),
    }
}
