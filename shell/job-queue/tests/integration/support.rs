//! Test handlers and a queue on a temporary SQLite file.

use async_trait::async_trait;
use brain_job_queue::{Queue, QueueConfig};
use brain_plugin_utils::{Bus, JobContext, JobError, JobHandler};
use serde_json::Value;

/// Returns its input.
pub struct Echo;

#[async_trait]
impl JobHandler for Echo {
    type Input = Value;
    type Output = Value;
    async fn run(&self, input: Value, _ctx: JobContext) -> Result<Value, JobError> {
        Ok(input)
    }
}

pub struct TestQueue {
    pub dir: tempfile::TempDir,
    pub queue: Queue,
}

impl TestQueue {
    pub fn new() -> Self {
        Self::with_config(QueueConfig::default())
    }

    pub fn with_config(config: QueueConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path().join("queue.db"), config, Bus::new()).unwrap();
        queue.register("test:echo", Echo).unwrap();
        Self { dir, queue }
    }
}
