//! The Matrix interface: a bot that runs the shell's commands in Matrix rooms (encrypted or
//! not) as the person who sent them, and keeps one progress message per operation up to
//! date by editing it in place.
//!
//! Built on matrix-sdk 0.18 (the newest release that builds on the workspace's toolchain)
//! with end-to-end encryption and the SQLite store, which lives in `.brain/matrix/` next to
//! the saved session so that a restart keeps the same device.
// matrix-sdk's futures are deep: without this rustc stops with "queries overflow the depth
// limit" while computing the layout of async fns that await them.
#![recursion_limit = "256"]

mod bot;
pub mod command;
pub mod config;
pub mod echo;
pub mod edit;
pub mod lock;
pub mod render;
// Test support (a throwaway Synapse, a person's client): only for test builds that ask.
#[cfg(feature = "testing")]
pub mod testing;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use brain_plugin_api::{Interface, PluginError, ShellHandle};
use tokio::sync::Mutex;

pub use bot::{BotError, state_dir};
pub use config::{ConfigError, Login, MatrixConfig, SECTION};
pub use lock::{BotLock, LockError};

/// The Matrix interface as the shell starts and stops it.
pub struct MatrixInterface {
    config: MatrixConfig,
    dir: PathBuf,
    running: Mutex<Option<bot::Running>>,
    /// Held from [`MatrixInterface::claim`] (or the start) until this is dropped: one bot
    /// per brain.
    lock: std::sync::Mutex<Option<BotLock>>,
}

impl MatrixInterface {
    /// A bot for `config` keeping its state in `data_dir/matrix` (`data_dir` is the brain's
    /// `.brain`).
    pub fn new(config: MatrixConfig, data_dir: &Path) -> Self {
        Self {
            config,
            dir: state_dir(data_dir),
            running: Mutex::new(None),
            lock: std::sync::Mutex::new(None),
        }
    }

    /// Makes this the brain's only bot: takes the lock in `.brain/matrix/` now (a start
    /// takes it too if this was not called), so that a second bot is refused before its
    /// process starts anything else. The error names the process that runs the bot.
    pub fn claim(&self) -> Result<(), LockError> {
        let mut lock = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if lock.is_none() {
            *lock = Some(BotLock::acquire(&self.dir)?);
        }
        Ok(())
    }

    /// The device the bot runs as, once started.
    pub async fn device_id(&self) -> Option<String> {
        let running = self.running.lock().await;
        running
            .as_ref()
            .and_then(|r| r.client.device_id().map(ToString::to_string))
    }
}

#[async_trait]
impl Interface for MatrixInterface {
    fn name(&self) -> &str {
        "matrix"
    }

    async fn start(&self, shell: Arc<dyn ShellHandle>) -> Result<(), PluginError> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        self.claim().map_err(|e| PluginError::new(e.to_string()))?;
        // Boxed: keeps matrix-sdk's deep future out of the callers' layouts.
        let started = Box::pin(bot::start(self.config.clone(), &self.dir, shell))
            .await
            .map_err(|e| PluginError::new(e.to_string()))?;
        *running = Some(started);
        Ok(())
    }

    async fn stop(&self) -> Result<(), PluginError> {
        let Some(running) = self.running.lock().await.take() else {
            return Ok(());
        };
        // Progress messages get their last edit ("no more updates here") before the sync
        // stops; the editors may have to wait out their interval first.
        running.bot.stopping.cancel();
        let tasks = match running.bot.tasks.lock() {
            Ok(mut tasks) => std::mem::take(&mut *tasks),
            Err(_) => Vec::new(),
        };
        let patience = self.config.edit_interval + Duration::from_secs(3);
        let finish = async {
            for task in &tasks {
                while !task.is_finished() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        if tokio::time::timeout(patience, finish).await.is_err() {
            tracing::warn!("some progress messages did not get their last edit");
        }
        for task in &tasks {
            task.abort();
        }
        running.sync.abort();
        let _ = running.sync.await;
        for task in tasks {
            let _ = task.await;
        }
        Ok(())
    }
}
