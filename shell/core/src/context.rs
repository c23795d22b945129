//! The shell's side of [`PluginContext`]: what a plugin may ask at run time, scoped to the
//! plugin (it enqueues only its own job types and reads only its own config section).

use async_trait::async_trait;
use brain_job_queue::Queue;
use brain_plugin_api::engine::Bus;
use brain_plugin_api::{
    AsyncToolResponse, BrainDirs, ContentGenerator, Event, JobStatusEntry, NewBatch, NewJob,
    NoteHit, NoteText, PluginContext, PluginEvent, Subscription, Target, ToolError,
};
use serde_json::Value;
use std::sync::Arc;

use crate::builtin::{queue_error, status_entry};
use crate::config::Config;
use crate::notes::Notes;

/// What a plugin's `reload_config` reads again: `brain.toml` in the brain's folder, with
/// these environment overrides (`None`: the process's own).
#[derive(Debug, Clone)]
pub(crate) struct ConfigSource {
    pub(crate) env: Option<Vec<(String, String)>>,
}

pub(crate) struct PluginCtx {
    pub(crate) plugin_id: String,
    pub(crate) queue: Queue,
    pub(crate) bus: Bus<Event>,
    pub(crate) dirs: BrainDirs,
    pub(crate) config: Value,
    /// The plugin's section of `brain.toml`.
    pub(crate) section: String,
    pub(crate) source: ConfigSource,
    pub(crate) notes: Notes,
    pub(crate) generator: Arc<dyn ContentGenerator>,
}

impl PluginCtx {
    fn own_type(&self, job_type: &str) -> Result<(), ToolError> {
        match job_type.split_once(':') {
            Some((plugin, _)) if plugin == self.plugin_id => Ok(()),
            _ => Err(ToolError::failed(format!(
                "plugin {:?} may only enqueue its own job types (`{}:<name>`), not {job_type:?}",
                self.plugin_id, self.plugin_id
            ))),
        }
    }
}

#[async_trait]
impl PluginContext for PluginCtx {
    fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    async fn enqueue(&self, job: NewJob, message: &str) -> Result<AsyncToolResponse, ToolError> {
        self.own_type(&job.job_type)?;
        let enqueued = self.queue.enqueue(job).await.map_err(queue_error)?;
        Ok(enqueued.response(message))
    }

    async fn enqueue_batch(
        &self,
        batch: NewBatch,
        message: &str,
    ) -> Result<AsyncToolResponse, ToolError> {
        for job in &batch.jobs {
            self.own_type(&job.job_type)?;
        }
        let enqueued = self.queue.enqueue_batch(batch).await.map_err(queue_error)?;
        Ok(enqueued.response(message))
    }

    async fn job_status(&self, id: &str) -> Result<JobStatusEntry, ToolError> {
        status_entry(&self.queue, id).await.map(|(_, entry)| entry)
    }

    async fn active_operations(&self, job_type: &str) -> Result<Vec<String>, ToolError> {
        self.own_type(job_type)?;
        self.queue
            .active_of_type(job_type)
            .await
            .map_err(queue_error)
    }

    async fn cancel(&self, id: &str) -> Result<(), ToolError> {
        self.queue.cancel(id).await.map(|_| ()).map_err(queue_error)
    }

    fn subscribe(&self, filter: Box<dyn Fn(&Event) -> bool + Send + Sync>) -> Subscription<Event> {
        self.bus.subscribe(filter)
    }

    fn publish(&self, name: &str, target: Target, payload: Value) {
        self.bus.publish(Event::Plugin(PluginEvent {
            plugin: self.plugin_id.clone(),
            name: name.to_owned(),
            target,
            payload,
        }));
    }

    fn generator(&self) -> Arc<dyn ContentGenerator> {
        self.generator.clone()
    }

    async fn search_notes(&self, query: &str, limit: usize) -> Result<Vec<NoteHit>, ToolError> {
        self.notes.search(query, limit).await
    }

    async fn notes_tagged(&self, tag: &str, limit: usize) -> Result<Vec<NoteHit>, ToolError> {
        self.notes.tagged(tag, limit).await
    }

    async fn published_notes(&self, publish_tags: &[String]) -> Result<Vec<NoteText>, ToolError> {
        self.notes.published(publish_tags).await
    }

    fn config(&self) -> Value {
        self.config.clone()
    }

    fn reload_config(&self) -> Result<Value, ToolError> {
        let config = match &self.source.env {
            Some(env) => Config::load_with_env(&self.dirs.root, env.clone()),
            None => Config::load(&self.dirs.root),
        };
        config
            .map(|config| config.section_json(&self.section))
            .map_err(|e| ToolError::failed(e.to_string()))
    }

    fn dirs(&self) -> &BrainDirs {
        &self.dirs
    }
}
