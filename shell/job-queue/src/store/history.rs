//! The operations history a dashboard pages through — jobs outside batches, and batches —
//! newest first, by id: ids begin with their creation time, so a page (and a time range)
//! is a range of the id index whatever the size of the history. The conditions are the same
//! on both drivers; each adds its own batch-state test and binds the values.

use brain_plugin_api::{HistoryQuery, JobStatus};

use crate::util::ID_TIME_CHARS;

/// A value a history statement binds, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// What the queue's counts come from: unfinished jobs by type and state, when the
/// longest-waiting runnable job was queued, and the jobs that ended per minute.
#[derive(Debug, Default)]
pub(crate) struct StatsRows {
    pub(crate) active: Vec<(String, JobStatus, u64)>,
    pub(crate) oldest_available: Option<i64>,
    /// (minute since the epoch, how it ended, how many).
    pub(crate) minutes: Vec<(i64, JobStatus, u64)>,
}

/// A completed run: (id, finished at, the estimate it was given in ms, what it took in ms).
pub(crate) type RunRow = (String, i64, Option<i64>, i64);

/// The statement behind [`crate::store::Driver::recent_runs`], the same on both drivers:
/// it walks the finished-jobs index from the newest end.
pub(crate) const RECENT_RUNS_SQL: &str = "SELECT id, finished_at, estimated_ms, finished_at - started_at \
     FROM jobs WHERE finished_at IS NOT NULL AND status = 'completed' AND job_type = $1 \
     AND started_at IS NOT NULL ORDER BY finished_at DESC LIMIT $2";

/// The jobs that ended since `$1`, per minute since the epoch and outcome: the same on both
/// drivers, along the finished-jobs index.
pub(crate) const MINUTES_SQL: &str = "SELECT finished_at / 60000, status, count(*) FROM jobs \
     WHERE finished_at IS NOT NULL AND finished_at >= $1 GROUP BY 1, 2";

/// One page's rows: at most `limit + 1` of each (the extra one says another page follows).
#[derive(Debug, Default)]
pub(crate) struct HistoryRows {
    pub(crate) jobs: Vec<crate::store::JobRecord>,
    pub(crate) batches: Vec<crate::store::BatchRow>,
}

/// The `WHERE` conditions (without the keyword) for the rows of table `prefix` (`job_` or
/// `batch_`) that `query` asks for, with `mark` (`?` or `$`) before each placeholder's
/// number. `id` is how the driver compares ids bytewise; `alias` prefixes column names.
pub(crate) fn conditions(
    query: &HistoryQuery,
    prefix: &str,
    mark: char,
    id: &str,
    alias: &str,
    params: &mut Vec<Param>,
) -> String {
    let mut next = |value: Param| {
        params.push(value);
        format!("{mark}{}", params.len())
    };
    let low = match query.since {
        Some(ms) => format!("{prefix}{}", crate::util::id_time(ms)),
        None => prefix.to_owned(),
    };
    // `~` sorts after every id character.
    let mut high = format!("{prefix}~");
    if let Some(ms) = query.until {
        high = format!("{prefix}{}", crate::util::id_time(ms));
    }
    if let Some(before) = &query.before {
        high = high.min(format!("{prefix}{before}"));
    }
    let mut sql = format!(
        "{id} >= {} AND {id} < {}",
        next(Param::Text(low)),
        next(Param::Text(high))
    );
    if let Some(job_type) = &query.job_type {
        sql.push_str(&format!(
            " AND {alias}job_type = {}",
            next(Param::Text(job_type.clone()))
        ));
    }
    if let Some(kind) = &query.source {
        let exact = next(Param::Text(kind.clone()));
        let detailed = next(Param::Text(format!("{kind}:%")));
        sql.push_str(&format!(
            " AND ({alias}source = {exact} OR {alias}source LIKE {detailed})"
        ));
    }
    if let Some(text) = &query.search {
        let pattern = next(Param::Text(format!("%{}%", like_escaped(text))));
        let errors = if prefix == "batch_" {
            format!(
                "EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = {alias}id AND j.status = 'failed' \
                 AND lower(j.last_error) LIKE {pattern} ESCAPE '\\')"
            )
        } else {
            format!("lower({alias}last_error) LIKE {pattern} ESCAPE '\\'")
        };
        sql.push_str(&format!(
            " AND (lower({alias}label) LIKE {pattern} ESCAPE '\\' OR {errors})"
        ));
    }
    sql
}

/// `text` lowered, with LIKE's wildcards and the escape character taken literally.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The cursor of the page after one whose oldest row has `id`: its time-ordered part.
pub(crate) fn cursor(id: &str) -> Option<String> {
    let suffix = id
        .strip_prefix("batch_")
        .or_else(|| id.strip_prefix("job_"))?;
    Some(suffix.to_owned())
}

/// Whether `cursor` is one [`cursor`] made.
pub(crate) fn valid_cursor(cursor: &str) -> bool {
    cursor.len() == ID_TIME_CHARS
        && cursor
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_literal() {
        assert_eq!(like_escaped("50%_Off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn conditions_number_their_placeholders_in_order() {
        let query = HistoryQuery {
            job_type: Some("t".into()),
            source: Some("mcp".into()),
            search: Some("x".into()),
            before: Some("0".repeat(ID_TIME_CHARS)),
            ..HistoryQuery::default()
        };
        let mut params = Vec::new();
        let sql = conditions(&query, "job_", '$', "id", "", &mut params);
        let positions: Vec<usize> = (1..=params.len())
            .map(|n| sql.find(&format!("${n}")).unwrap_or(usize::MAX))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{sql}");
        assert_eq!(
            params[1],
            Param::Text(format!("job_{}", "0".repeat(ID_TIME_CHARS)))
        );
        assert_eq!(params[4], Param::Text("mcp:%".into()));
    }

    #[test]
    fn cursors_are_the_time_ordered_part() {
        let id = crate::util::random_id("batch_");
        let next = cursor(&id).unwrap_or_default();
        assert!(valid_cursor(&next));
        assert!(!valid_cursor("batch_x"));
        assert!(!valid_cursor(&next.to_uppercase()));
    }
}
