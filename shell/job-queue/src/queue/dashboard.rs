//! What a dashboard reads of the queue: pages of the operations history, the queue's
//! counts and last hour, the learned durations, and one operation's whole record. Every
//! read comes from the database, so work of every process and host counts.

use brain_plugin_api::{
    EstimateEntry, EstimatedRun, HistoryPage, HistoryQuery, JobRecordView, JobStatus, MinuteCount,
    OperationDetail, QueueStats, StateCount, WorkerEntry,
};

use super::{MAX_LOGGED_ITEMS, Queue, invalid};
use crate::error::{QueueError, Result};
use crate::store::history::{cursor, valid_cursor};
use crate::store::{BatchRow, JobRecord};
use crate::util::{now_ms, to_datetime};

/// The most a history page holds.
const MAX_PAGE: usize = 500;

/// Completed runs per job type the estimates page compares with their estimates.
const RECENT_RUNS: usize = 50;

/// A history row of either table.
enum Row {
    Batch(Box<BatchRow>),
    Job(Box<JobRecord>),
}

/// The longest search text.
const MAX_SEARCH_CHARS: usize = 200;

impl Queue {
    /// A page of the operations history — jobs outside batches, and batches — newest
    /// first. A value out of range is refused, naming its field.
    pub async fn history(&self, mut query: HistoryQuery) -> Result<HistoryPage> {
        if query.limit == 0 {
            query.limit = 50;
        }
        if query.limit > MAX_PAGE {
            return Err(invalid(
                "limit",
                format!("must be between 1 and {MAX_PAGE}, got {}", query.limit),
            ));
        }
        if let Some(before) = &query.before
            && !valid_cursor(before)
        {
            return Err(invalid(
                "before",
                format!("{before:?} is not a page cursor (the `next` of an earlier page)"),
            ));
        }
        if let Some(kind) = &query.source
            && brain_plugin_api::Source::with_detail(kind, "x").is_err()
        {
            return Err(invalid(
                "source",
                format!("{kind:?} is not a source kind (cli, mcp, matrix, web, system, …)"),
            ));
        }
        if let Some(text) = &query.search
            && text.chars().count() > MAX_SEARCH_CHARS
        {
            return Err(invalid(
                "search",
                format!("is longer than {MAX_SEARCH_CHARS} characters"),
            ));
        }
        if let (Some(since), Some(until)) = (query.since, query.until)
            && since >= until
        {
            return Err(invalid("until", "must be later than since"));
        }
        query.search = query.search.filter(|t| !t.trim().is_empty());
        let limit = query.limit;
        let rows = self.inner.driver.history(&query).await?;
        // Both tables' ids order by time after their prefix: the page is the newest
        // `limit` of both, chosen before any state is built for them.
        let mut page: Vec<(String, Row)> = rows
            .batches
            .into_iter()
            .map(|b| (b.id.clone(), Row::Batch(Box::new(b))))
            .chain(
                rows.jobs
                    .into_iter()
                    .map(|j| (j.id.clone(), Row::Job(Box::new(j)))),
            )
            .collect();
        page.sort_by_key(|(id, _)| std::cmp::Reverse(cursor(id)));
        let more = page.len() > limit;
        page.truncate(limit);
        let next = more
            .then(|| page.last().and_then(|(id, _)| cursor(id)))
            .flatten();
        let mut states = Vec::with_capacity(page.len());
        for (_, row) in page {
            let mut state = match row {
                Row::Batch(batch) => self.batch_state(*batch).await?,
                Row::Job(job) => self.job_state(*job).await,
            };
            if state.event.status == JobStatus::Pending {
                state.waiting_for = self.waiting_for(&state.event.id).await?;
            }
            states.push(state);
        }
        Ok(HistoryPage {
            ops: states.iter().map(super::JobState::listed).collect(),
            next,
        })
    }

    /// The queue's counts now, the last hour a minute at a time, and its live workers.
    pub async fn stats(&self) -> Result<QueueStats> {
        let now = now_ms();
        let this_minute = now.div_euclid(60_000);
        let first = this_minute - 59;
        let rows = self.inner.driver.stats(now, first * 60_000).await?;
        let mut minutes: Vec<MinuteCount> = (first..=this_minute)
            .map(|m| MinuteCount {
                minute: to_datetime(m * 60_000),
                completed: 0,
                failed: 0,
                cancelled: 0,
            })
            .collect();
        for (minute, status, count) in rows.minutes {
            let Some(slot) = usize::try_from(minute - first)
                .ok()
                .and_then(|i| minutes.get_mut(i))
            else {
                continue;
            };
            match status {
                JobStatus::Completed => slot.completed += count,
                JobStatus::Failed => slot.failed += count,
                JobStatus::Cancelled => slot.cancelled += count,
                JobStatus::Pending | JobStatus::Processing => {}
            }
        }
        Ok(QueueStats {
            active: rows
                .active
                .into_iter()
                .map(|(job_type, status, count)| StateCount {
                    job_type,
                    status,
                    count,
                })
                .collect(),
            oldest_available_at: rows.oldest_available.map(to_datetime),
            minutes,
            workers: self.worker_entries().await?,
        })
    }

    /// This process's counters: per job type, rescued runs, and the bus's coalescing.
    pub fn process_metrics(&self) -> brain_plugin_api::ProcessMetrics {
        let counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        brain_plugin_api::ProcessMetrics {
            types: counters.snapshot(),
            rescued: counters.rescued,
            bus_coalesced: self.inner.bus.coalesced(),
            bus_dropped: 0,
        }
    }

    /// The live processes that run workers, with when they started and were last seen.
    pub async fn worker_entries(&self) -> Result<Vec<WorkerEntry>> {
        let mut workers: Vec<WorkerEntry> = self
            .live_worker_rows()
            .await?
            .into_iter()
            .map(|w| WorkerEntry {
                id: w.id,
                pid: w.pid,
                // The host's name; the rest of the stored identity (boot and pid
                // namespace) tells processes apart, not people.
                host: w.host.split(" boot=").next().unwrap_or_default().to_owned(),
                concurrency: w.concurrency,
                job_types: w.job_types,
                started_at: to_datetime(w.started_at),
                last_seen_at: to_datetime(w.heartbeat_at),
            })
            .collect();
        workers.sort_by(|a, b| (&a.host, a.pid).cmp(&(&b.host, b.pid)));
        Ok(workers)
    }

    /// Each job type's learned duration, as saved (by every process) in the database,
    /// with its latest completed runs beside the estimates they were given.
    pub async fn estimates(&self) -> Result<Vec<EstimateEntry>> {
        let driver = &self.inner.driver;
        let mut entries = Vec::new();
        for (job_type, mean, var, samples) in driver.estimates().await? {
            let mut recent: Vec<EstimatedRun> = driver
                .recent_runs(&job_type, RECENT_RUNS)
                .await?
                .into_iter()
                .map(|(id, finished, estimated, took)| EstimatedRun {
                    id,
                    finished_at: to_datetime(finished),
                    estimated_ms: estimated.map(|ms| ms.max(0) as u64),
                    took_ms: took.max(0) as u64,
                })
                .collect();
            recent.reverse();
            entries.push(EstimateEntry {
                job_type,
                mean_ms: mean.max(0.0).round() as u64,
                spread_ms: var.max(0.0).sqrt().round() as u64,
                samples,
                recent,
            });
        }
        entries.sort_by(|a, b| a.job_type.cmp(&b.job_type));
        Ok(entries)
    }

    /// Everything stored about job or batch `id` (or a unique start of its id): the job's
    /// record, or the batch's items (the first thousand), and the log.
    pub async fn detail(&self, id: &str) -> Result<OperationDetail> {
        let id = self.resolve(id).await?;
        let log = self.logs(&id).await?.lines;
        let driver = &self.inner.driver;
        if id.starts_with("batch_") {
            let mut items = driver.batch_items(&id, MAX_LOGGED_ITEMS + 1).await?;
            let items_truncated = items.len() > MAX_LOGGED_ITEMS;
            items.truncate(MAX_LOGGED_ITEMS);
            Ok(OperationDetail {
                job: None,
                items: Some(items.into_iter().map(Self::record_view).collect()),
                items_truncated,
                log,
            })
        } else {
            let record = driver
                .job(&id)
                .await?
                .ok_or_else(|| QueueError::NotFound { id: id.clone() })?;
            Ok(OperationDetail {
                job: Some(Self::record_view(record)),
                items: None,
                items_truncated: false,
                log,
            })
        }
    }

    fn record_view(r: JobRecord) -> JobRecordView {
        JobRecordView {
            estimated_ms: r.estimated_ms.map(|ms| ms.max(0) as u64),
            id: r.id,
            job_type: r.job_type,
            status: r.status,
            source: r.source.to_string(),
            label: r.label,
            batch_id: r.batch_id,
            input: r.input,
            result: r.result,
            error: r.last_error,
            attempt: r.attempt,
            max_attempts: r.max_attempts,
            created_at: to_datetime(r.created_at),
            scheduled_at: to_datetime(r.scheduled_at),
            started_at: r.started_at.map(to_datetime),
            finished_at: r.finished_at.map(to_datetime),
            worker_id: r.worker_id,
        }
    }
}
