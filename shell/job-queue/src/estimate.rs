//! The progress monitor's timing maths: how long a job or batch will take before it starts,
//! how long it has left while it runs, and when a polling client should look again.
//!
//! Each job type keeps an exponentially weighted mean and variance of its past durations
//! ([`DurationStats`]); with no history the handler's default stands in. Before a job starts
//! that gives an [`Estimate`] (expected time and a range). While it runs, two estimates of the
//! time left are combined: the history one (what the job type usually takes, minus what has
//! passed) and the observed one (the job's own progress rate extrapolated to the work left).
//! The further along the job is, the more the observed rate is trusted. Everything here is a
//! pure function of its arguments; all results are finite, non-negative and at most
//! [`ETA_CAP`], whatever a caller or a stored row passes in.

use std::time::Duration;

use brain_plugin_api::format_range;

/// The largest time left ever reported: beyond a month an estimate means "unknown", and the
/// cap keeps garbage inputs from producing absurd or overflowing durations.
const ETA_CAP: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What a job that reports all its work done but has not returned yet has left: it is
/// finishing up, which is quick but not nothing.
const FINISHING: Duration = Duration::from_secs(1);

/// The least time left reported for a running job without progress: it is still running,
/// so it is not done.
const MIN_TAIL_SECS: f64 = 1.0;

/// Share of the elapsed time assumed to remain once a job without progress has (nearly)
/// outrun its expected duration: the longer it has overrun, the less its history says.
const TAIL_SHARE: f64 = 0.25;

/// Below this many samples the range of a per-job estimate is widened: a mean and spread
/// from one to four durations are little to go on.
const FEW_SAMPLES: u64 = 5;

/// The smallest duration, in seconds, that enters the logarithmic blend (`ln 0` is -inf).
const BLEND_FLOOR_SECS: f64 = 0.001;

/// History is tight enough to aim a check just after the expected end when its spread is
/// at most this share of its mean; a running job or batch is steady while its observed
/// pace is within this factor of the history's.
const TIGHT: f64 = 0.25;

/// Checks are never sooner than this: a client polling faster learns nothing new.
const CHECK_FLOOR: Duration = Duration::from_secs(1);

/// A check aimed at the expected end comes this share of the time left after it…
const AIM_MARGIN_SHARE: f64 = 0.05;

/// …and at least this long after it: the time for the end to be written and read.
const AIM_MARGIN_MIN: Duration = Duration::from_millis(150);

/// When the estimate is not confident, checks come at half the time left, at most this
/// far apart.
const UNSURE_CHECK_MAX: Duration = Duration::from_secs(60);

/// Exponentially weighted mean and spread of one job type's durations, persisted per type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationStats {
    pub mean_ms: f64,
    pub var_ms2: f64,
    pub samples: u64,
}

impl DurationStats {
    /// Weight of the newest duration: about the last ten runs shape the mean, so a job type
    /// that got slower (bigger inputs, a slower backend) is tracked within a few runs.
    pub const ALPHA: f64 = 0.2;

    /// Statistics of a single observed duration: that mean, no spread.
    pub fn new(first: Duration) -> Self {
        Self {
            mean_ms: ms_f64(first),
            var_ms2: 0.0,
            samples: 1,
        }
    }

    /// Folds in one more duration with West's incremental exponentially weighted mean and
    /// variance (Finch 2009, "Incremental calculation of weighted mean and variance"):
    /// `diff = x - mean; mean += α·diff; var = (1-α)·(var + α·diff²)`. The first sample (or
    /// one following unusable stored values) sets the mean with no spread.
    pub fn observe(&mut self, duration: Duration) {
        if !self.usable() {
            *self = Self::new(duration);
            return;
        }
        let x = ms_f64(duration);
        let diff = x - self.mean_ms;
        let step = Self::ALPHA * diff;
        // The new mean is a convex combination of the old mean and `x`; clamping keeps
        // floating-point rounding from stepping past either, so the mean always lies
        // within the durations seen.
        self.mean_ms = (self.mean_ms + step).clamp(self.mean_ms.min(x), self.mean_ms.max(x));
        self.var_ms2 = (1.0 - Self::ALPHA) * (self.var_ms2 + diff * step);
        self.samples = self.samples.saturating_add(1);
    }

    /// The standard deviation of the durations.
    pub fn spread(&self) -> Duration {
        duration_from_secs(self.var_ms2.max(0.0).sqrt() / 1000.0)
    }

    /// Whether these statistics say anything: at least one sample and sane numbers (a
    /// corrupt stored row counts as no history rather than poisoning every estimate).
    fn usable(&self) -> bool {
        self.samples >= 1
            && self.mean_ms.is_finite()
            && self.mean_ms >= 0.0
            && self.var_ms2.is_finite()
            && self.var_ms2 >= 0.0
    }
}

/// An estimate of how long something will take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub expected: Duration,
    pub min: Duration,
    pub max: Duration,
    /// The job type's history is tight (spread at most a quarter of the mean): a check can
    /// aim just after the expected end.
    pub confident: bool,
}

impl Estimate {
    /// The range as a person says it, e.g. "30-60 seconds".
    pub fn human_range(&self) -> String {
        format_range(self.min, self.max)
    }

    /// When a client should first look at something that has not started yet.
    pub fn check_in(&self) -> Duration {
        check_again_in(self.expected, self.confident)
    }
}

/// Per-job expected duration: history when present (samples >= 1), else the handler's default.
///
/// With history the range is `mean - spread` (but at least half the mean: a lucky fast run
/// is not a promise) to `mean + 2·spread` (slow outliers are likelier than fast ones), and
/// at least `1.5·mean` while there are fewer than five samples. Without history it is half
/// to twice the default. Always `min <= expected <= max`.
pub(crate) fn per_job(stats: Option<&DurationStats>, default: Duration) -> Estimate {
    let Some(stats) = stats.filter(|s| s.usable()) else {
        return Estimate {
            expected: default,
            min: default / 2,
            max: default.saturating_mul(2),
            confident: false,
        };
    };
    let mean = stats.mean_ms;
    let spread = stats.var_ms2.sqrt();
    let min = (mean - spread).max(mean / 2.0);
    let mut max = mean + 2.0 * spread;
    if stats.samples < FEW_SAMPLES {
        max = max.max(mean * 1.5);
    }
    let expected = duration_from_secs(mean / 1000.0);
    Estimate {
        expected,
        // Clamped again after the conversion so rounding can never invert the order.
        min: duration_from_secs(min / 1000.0).min(expected),
        max: duration_from_secs(max / 1000.0).max(expected),
        confident: spread <= TIGHT * mean,
    }
}

/// Estimate for `jobs` new jobs of one type run by `concurrency` workers (a batch): the jobs
/// run in `ceil(jobs / concurrency)` waves of one job's duration each. A concurrency of 0
/// counts as 1; no jobs take no time.
pub(crate) fn for_batch(per_job: Estimate, jobs: u64, concurrency: u32) -> Estimate {
    let waves = jobs.div_ceil(u64::from(concurrency.max(1)));
    Estimate {
        expected: times(per_job.expected, waves),
        min: times(per_job.min, waves),
        max: times(per_job.max, waves),
        confident: per_job.confident,
    }
}

/// Time left for a running job that has run for `elapsed` and reported `progress` as
/// `(current, total)` units of work, if it reports any.
///
/// Without usable progress (none, `total == 0`, `current == 0`, or no time elapsed to
/// measure a rate over) it is the history estimate: `expected - elapsed`, but never less
/// than a tail of a quarter of `elapsed` (at least 1 s). The tail takes over once the job
/// has run 80% of its expected time, so the estimate flattens out and then grows gently
/// instead of dropping to nothing and jumping back when the job overruns; a running job is
/// never reported as done.
///
/// With progress, two estimates of the time left are blended by the fraction done `w`:
/// the observed one, `(total - current) / (current / elapsed)`, and the history one,
/// `expected · (1 - w)`: the job type's usual time for the work that is left. (Once the
/// work done is known, `expected - elapsed` would count a slow job's slowness twice.) The
/// blend is a weighted geometric mean, `observed^w · history^(1-w)`, so an error by a
/// factor `f` in the history shrinks to `f^(1-w)`: with history 5× off, the estimate is
/// within 18% at 90% done, where an arithmetic blend would still be 40% off.
///
/// `current >= total` means the work is done and the job is finishing: 1 s.
pub(crate) fn eta_job(
    per_job: Estimate,
    elapsed: Duration,
    progress: Option<(u64, u64)>,
) -> Duration {
    let expected = per_job.expected.as_secs_f64();
    let elapsed_secs = elapsed.as_secs_f64();
    let left = match progress {
        Some((current, total)) if total > 0 && current >= total => return FINISHING,
        Some((current, total)) if total > 0 && current > 0 && elapsed_secs > 0.0 => {
            let done = current as f64 / total as f64;
            let observed = (total - current) as f64 * elapsed_secs / current as f64;
            blend(observed, expected * (1.0 - done), done)
        }
        _ => {
            let tail = (elapsed_secs * TAIL_SHARE).max(MIN_TAIL_SECS);
            (expected - elapsed_secs).max(tail)
        }
    };
    capped(left)
}

/// What is known about a running batch beyond its counts: the workers it may use, how long
/// each running item has run, and the durations of (a sample of) its completed items.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ItemTimes {
    /// The workers that may run its items (0 counts as 1).
    pub(crate) concurrency: u32,
    /// How long each running item has run; running items not listed count as just started.
    pub(crate) running: Vec<Duration>,
    /// The summed durations of the `done` completed items sampled.
    pub(crate) done_total: Duration,
    pub(crate) done: u64,
}

/// Time left for a batch of `total` jobs, of which `finished` are done (whatever their
/// outcome) and `running` are running, on `items.concurrency` workers.
///
/// The duration of one item is the job type's history, blended (as in [`eta_job`]) with the
/// mean duration of the batch's own completed items, trusted by `n / (n + 1)` after `n`: one
/// item the batch ran says as much as the history. Each running item has that duration
/// minus what it has run left — in-flight work counts by what remains of it, not as whole
/// or half items — and one that has overrun has a quarter of its overrun left, so the
/// estimate grows gently instead of reporting it done. The waiting items are then dealt to
/// the workers as they come free, each taking one item duration; the time left is when the
/// last worker finishes. So when items take what is expected, the estimate is exact and
/// falls steadily: it never rises while the work keeps the expected pace.
///
/// The workers are `concurrency` or the items running, whichever is more (a batch can run
/// in several processes at once). A concurrency of 0 counts as 1; more running jobs than
/// are left count as the jobs left; a finished batch (`finished >= total`) has nothing left.
pub(crate) fn eta_batch(
    per_job: Estimate,
    total: u64,
    finished: u64,
    running: u64,
    items: &ItemTimes,
) -> Duration {
    if finished >= total {
        return Duration::ZERO;
    }
    let left = total - finished;
    let running = running.min(left);
    let history = per_job.expected.as_secs_f64();
    let item = if items.done > 0 {
        let mean = items.done_total.as_secs_f64() / items.done as f64;
        let n = items.done as f64;
        blend(mean, history, n / (n + 1.0))
    } else {
        history
    };
    // More workers than items left change nothing; the cap bounds the work done here
    // whatever a caller passes.
    let workers = u64::from(items.concurrency.max(1))
        .max(running)
        .min(left)
        .min(MAX_WORKERS);
    // When each worker comes free: the running items' remaining times, then idle workers.
    let free: Vec<f64> = (0..workers)
        .map(|i| {
            if i >= running {
                return 0.0;
            }
            let ran = usize::try_from(i)
                .ok()
                .and_then(|i| items.running.get(i))
                .map_or(0.0, Duration::as_secs_f64);
            if ran < item {
                item - ran
            } else {
                TAIL_SHARE * (ran - item)
            }
        })
        .collect();
    capped(finish_time(free, left - running.min(workers), item))
}

/// The most workers [`eta_batch`] deals items to.
const MAX_WORKERS: u64 = 65_536;

/// When the last of `waiting` items of `item` seconds each ends, dealt to workers that
/// come free at the times in `free`, each taking the next item as soon as it is free (the
/// earliest free first). In O(workers), whatever `waiting` is: while a worker would end
/// an item before the latest-busy one comes free, it takes items (that raises nothing);
/// once all are within one item of each other, they take the rest in turns.
fn finish_time(mut free: Vec<f64>, waiting: u64, item: f64) -> f64 {
    let latest = free.iter().copied().fold(0.0, f64::max);
    if free.is_empty() || waiting == 0 || item <= 0.0 {
        return latest;
    }
    let mut left = waiting;
    for at in &mut free {
        // `as` saturates: a tiny item against a long wait is "as many as are left".
        let fits = ((latest - *at) / item).floor().max(0.0) as u64;
        let take = fits.min(left);
        left -= take;
        *at += take as f64 * item;
    }
    if left == 0 {
        return latest;
    }
    free.sort_by(f64::total_cmp);
    let workers = free.len() as u64;
    free.iter()
        .enumerate()
        .map(|(j, at)| {
            let j = j as u64;
            let more = if j < left {
                (left - j).div_ceil(workers)
            } else {
                0
            };
            at + more as f64 * item
        })
        .fold(latest, f64::max)
}

/// When a client should look again, given the time left `eta` and whether the estimate is
/// `confident` (tight history and, once running, a steady pace).
///
/// Confident: just after the expected end — `eta` plus 5% of it, at least 150 ms — so one
/// look finds it done, at most a twentieth late. Otherwise half the time left (at most a
/// minute): a second look then has the work's own pace to go on. Never under a second;
/// monotone in `eta` for either kind.
pub(crate) fn check_again_in(eta: Duration, confident: bool) -> Duration {
    let eta = eta.min(ETA_CAP);
    let check = if confident {
        eta + eta.mul_f64(AIM_MARGIN_SHARE).max(AIM_MARGIN_MIN)
    } else {
        (eta / 2).min(UNSURE_CHECK_MAX)
    };
    check.clamp(CHECK_FLOOR, ETA_CAP)
}

/// Whether a running job keeps the pace its history predicts: with progress, the duration
/// its own rate projects is within a factor [`TIGHT`]`+1` of the expected one; without,
/// it has not overrun the expected duration by more than that.
pub(crate) fn steady_job(
    per_job: Estimate,
    elapsed: Duration,
    progress: Option<(u64, u64)>,
) -> bool {
    let expected = per_job.expected.as_secs_f64();
    let elapsed = elapsed.as_secs_f64();
    let projected = match progress {
        Some((current, total)) if total > 0 && current > 0 && current < total => {
            elapsed * total as f64 / current as f64
        }
        _ => elapsed,
    };
    within_pace(
        projected,
        expected,
        progress.is_some_and(|(c, t)| t > 0 && c > 0),
    )
}

/// Whether a running batch keeps the pace its job type's history predicts: once items have
/// finished, the duration its own rate projects is within a factor [`TIGHT`]`+1` of the
/// history's; before, its first wave has not overrun.
pub(crate) fn steady_batch(
    per_job: Estimate,
    total: u64,
    finished: u64,
    concurrency: u32,
    elapsed: Duration,
) -> bool {
    let expected = per_job.expected.as_secs_f64();
    let elapsed = elapsed.as_secs_f64();
    if finished == 0 || total == 0 {
        return within_pace(elapsed, expected, false);
    }
    let waves = total.div_ceil(u64::from(concurrency.max(1)));
    let projected = elapsed * total as f64 / finished.min(total) as f64;
    within_pace(projected, waves as f64 * expected, true)
}

/// `projected` against `expected` (seconds): within a factor both ways when it is a
/// projection, only "not overrun" when it is the time so far.
fn within_pace(projected: f64, expected: f64, is_projection: bool) -> bool {
    let slow = projected <= expected * (1.0 + TIGHT);
    if is_projection {
        slow && projected * (1.0 + TIGHT) >= expected
    } else {
        slow
    }
}

/// Whole milliseconds of `d`, saturating at `u64::MAX` (which `Duration::MAX` exceeds).
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `d` in milliseconds, with the sub-millisecond part kept.
fn ms_f64(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `secs` as a duration: NaN and negative values are zero, too large ones `Duration::MAX`.
fn duration_from_secs(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// A time left in seconds as a duration of at most [`ETA_CAP`].
fn capped(secs: f64) -> Duration {
    duration_from_secs(secs).min(ETA_CAP)
}

/// `d · n`, saturating at `Duration::MAX`.
fn times(d: Duration, n: u64) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let nanos = d.as_nanos().saturating_mul(u128::from(n));
    match (
        u64::try_from(nanos / NANOS_PER_SEC),
        u32::try_from(nanos % NANOS_PER_SEC),
    ) {
        (Ok(secs), Ok(subsec)) => Duration::new(secs, subsec),
        _ => Duration::MAX,
    }
}

/// The weighted geometric mean `observed^w · history^(1-w)` of two times left in seconds,
/// `w` in [0, 1]: errors are by factors (history 3× too slow, a rate twice too fast), and a
/// geometric blend shrinks a factor `f` to `f^(1-w)` whichever way it errs, where an
/// arithmetic one lets an overestimate dominate. Both are floored at a millisecond so a zero
/// cannot swallow the other.
fn blend(observed: f64, history: f64, w: f64) -> f64 {
    let w = w.clamp(0.0, 1.0);
    let observed = observed.max(BLEND_FLOOR_SECS).ln();
    let history = history.max(BLEND_FLOOR_SECS).ln();
    (w * observed + (1.0 - w) * history).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    fn est(expected: f64, min: f64, max: f64) -> Estimate {
        Estimate {
            expected: s(expected),
            min: s(min),
            max: s(max),
            confident: false,
        }
    }

    /// An estimate whose only meaningful part is the expected duration, in seconds.
    fn expecting(secs: f64) -> Estimate {
        est(secs, secs / 2.0, secs * 2.0)
    }

    #[track_caller]
    fn assert_secs(actual: Duration, expected_secs: f64, what: &str) {
        let diff = (actual.as_secs_f64() - expected_secs).abs();
        assert!(
            diff < 1e-3,
            "{what}: got {actual:?}, expected {expected_secs} s"
        );
    }

    #[test]
    fn duration_stats_table() {
        #[track_caller]
        fn check(observed_secs: &[f64], mean_ms: f64, var_ms2: f64, samples: u64) {
            let mut stats = DurationStats::new(s(observed_secs[0]));
            for &x in &observed_secs[1..] {
                stats.observe(s(x));
            }
            let what = format!("{observed_secs:?} gave {stats:?}");
            assert!((stats.mean_ms - mean_ms).abs() < 1e-6, "{what}");
            assert!((stats.var_ms2 - var_ms2).abs() < 1e-3, "{what}");
            assert_eq!(stats.samples, samples, "{what}");
        }
        check(&[10.0], 10_000.0, 0.0, 1);
        check(&[10.0, 10.0], 10_000.0, 0.0, 2);
        // diff 10 000, step 2 000: mean 12 000, var 0.8 · (0 + 10 000 · 2 000).
        check(&[10.0, 20.0], 12_000.0, 16e6, 2);
        // diff -12 000, step -2 400: mean 9 600, var 0.8 · (16e6 + 28.8e6).
        check(&[10.0, 20.0, 0.0], 9_600.0, 35.84e6, 3);
    }

    #[test]
    fn duration_stats_spread_and_reset() {
        let mut stats = DurationStats::new(s(10.0));
        stats.observe(s(20.0));
        assert_secs(stats.spread(), 4.0, "spread of var 16e6 ms²");

        // An empty or corrupt stored row starts afresh with the next duration.
        for start in [
            DurationStats {
                mean_ms: 0.0,
                var_ms2: 0.0,
                samples: 0,
            },
            DurationStats {
                mean_ms: f64::NAN,
                var_ms2: 1.0,
                samples: 7,
            },
            DurationStats {
                mean_ms: 5.0,
                var_ms2: -1.0,
                samples: 7,
            },
        ] {
            let mut stats = start;
            stats.observe(s(3.0));
            assert_eq!(stats, DurationStats::new(s(3.0)), "from {start:?}");
        }
    }

    #[test]
    fn per_job_table() {
        #[track_caller]
        fn check(stats: Option<DurationStats>, default: f64, expected: (f64, f64, f64)) {
            let e = per_job(stats.as_ref(), s(default));
            let what = format!("per_job({stats:?}, {default}) = {e:?}");
            assert_secs(e.expected, expected.0, &what);
            assert_secs(e.min, expected.1, &what);
            assert_secs(e.max, expected.2, &what);
        }
        let stats = |mean_s: f64, spread_s: f64, samples| {
            let spread_ms: f64 = spread_s * 1000.0;
            Some(DurationStats {
                mean_ms: mean_s * 1000.0,
                var_ms2: spread_ms.powi(2),
                samples,
            })
        };
        check(None, 60.0, (60.0, 30.0, 120.0));
        check(None, 0.0, (0.0, 0.0, 0.0));
        check(stats(60.0, 10.0, 0), 60.0, (60.0, 30.0, 120.0));
        // One sample: no spread, but widened to 1.5 · mean.
        check(stats(60.0, 0.0, 1), 30.0, (60.0, 60.0, 90.0));
        check(stats(60.0, 5.0, 4), 30.0, (60.0, 55.0, 90.0));
        check(stats(60.0, 20.0, 4), 30.0, (60.0, 40.0, 100.0));
        check(stats(60.0, 10.0, 5), 30.0, (60.0, 50.0, 80.0));
        check(stats(60.0, 0.0, 50), 30.0, (60.0, 60.0, 60.0));
        // A wide spread: min stops at half the mean.
        check(stats(60.0, 40.0, 10), 30.0, (60.0, 30.0, 140.0));
        // A corrupt row is no history.
        check(stats(f64::NAN, 1.0, 10), 30.0, (30.0, 15.0, 60.0));
        check(stats(-5.0, 1.0, 10), 30.0, (30.0, 15.0, 60.0));
    }

    #[test]
    fn for_batch_table() {
        #[track_caller]
        fn check(jobs: u64, concurrency: u32, expected: (f64, f64, f64)) {
            let e = for_batch(est(10.0, 5.0, 20.0), jobs, concurrency);
            let what = format!("for_batch(10/5/20 s, {jobs}, {concurrency}) = {e:?}");
            assert_secs(e.expected, expected.0, &what);
            assert_secs(e.min, expected.1, &what);
            assert_secs(e.max, expected.2, &what);
        }
        check(0, 4, (0.0, 0.0, 0.0));
        check(1, 4, (10.0, 5.0, 20.0));
        check(4, 4, (10.0, 5.0, 20.0));
        check(10, 4, (30.0, 15.0, 60.0));
        check(3, 0, (30.0, 15.0, 60.0));
        check(3, 1, (30.0, 15.0, 60.0));
        let huge = for_batch(est(1e9, 1e9, 1e9), u64::MAX, 1);
        assert_eq!(huge.expected, Duration::MAX);
    }

    #[test]
    fn eta_job_table() {
        #[track_caller]
        fn check(expected: f64, elapsed: f64, progress: Option<(u64, u64)>, left: f64) {
            let eta = eta_job(expecting(expected), s(elapsed), progress);
            assert_secs(
                eta,
                left,
                &format!("eta_job({expected}, {elapsed}, {progress:?})"),
            );
        }
        // History alone.
        check(60.0, 0.0, None, 60.0);
        check(60.0, 20.0, None, 40.0);
        check(60.0, 48.0, None, 12.0);
        // From 80% of the expected time on, a quarter of the elapsed time.
        check(60.0, 50.0, None, 12.5);
        check(60.0, 60.0, None, 15.0);
        check(60.0, 200.0, None, 50.0);
        // Never below a second.
        check(0.0, 0.0, None, 1.0);
        check(0.5, 0.2, None, 1.0);
        // Progress that says nothing yet: history alone.
        check(60.0, 20.0, Some((0, 10)), 40.0);
        check(60.0, 20.0, Some((5, 0)), 40.0);
        check(60.0, 0.0, Some((5, 10)), 60.0);
        // History and rate agree: 30 s for the second half.
        check(60.0, 30.0, Some((5, 10)), 30.0);
        // History says 60 s for the second half, the rate 30 s: sqrt(30 · 60).
        check(120.0, 30.0, Some((5, 10)), 1800f64.sqrt());
        // 9/10 done in 90 s, history 2× too slow: 10^0.9 · 20^0.1.
        check(
            200.0,
            90.0,
            Some((9, 10)),
            10f64.powf(0.9) * 20f64.powf(0.1),
        );
        // Done, or past done: finishing.
        check(60.0, 30.0, Some((10, 10)), 1.0);
        check(60.0, 30.0, Some((12, 10)), 1.0);
    }

    #[test]
    fn eta_batch_table() {
        #[track_caller]
        fn check(
            (total, finished, running, concurrency): (u64, u64, u64, u32),
            ran: &[f64],
            done: &[f64],
            left: f64,
        ) {
            let items = ItemTimes {
                concurrency,
                running: ran.iter().map(|r| s(*r)).collect(),
                done_total: s(done.iter().sum()),
                done: done.len() as u64,
            };
            let eta = eta_batch(expecting(10.0), total, finished, running, &items);
            let what = format!(
                "eta_batch(10 s, {total}, {finished}, {running}, {concurrency}, {items:?})"
            );
            assert_secs(eta, left, &what);
        }
        check((0, 0, 0, 4), &[], &[], 0.0);
        check((10, 10, 0, 4), &[], &[10.0], 0.0);
        check((10, 12, 0, 4), &[], &[], 0.0);
        // Not started: three waves of 4, 4, 2.
        check((10, 0, 0, 4), &[], &[], 30.0);
        check((3, 0, 0, 0), &[], &[], 30.0);
        // Four just started (or their times unknown), then 4 and 2 more.
        check((10, 0, 4, 4), &[], &[], 30.0);
        // Four 6 s in: 4 s left, then two waves.
        check((10, 0, 4, 4), &[6.0; 4], &[], 24.0);
        // More running than left: the two left run, nothing waits.
        check((10, 8, 4, 4), &[5.0, 5.0], &[10.0; 8], 5.0);
        // Uneven: the item nearly done frees its worker for the next waiting one (done at
        // 11 s); the other worker's item ends at 9 s, then the last one at 19 s.
        check((4, 0, 2, 2), &[9.0, 1.0], &[], 19.0);
        check((3, 0, 2, 2), &[9.0, 1.0], &[], 11.0);
        // One has overrun by 8 s: 2 s more (a quarter of it); the other worker takes both
        // waiting items (done at 20 s).
        check((4, 0, 2, 2), &[18.0, 0.0], &[], 20.0);
        // The batch's items took 40 s, not 10: after one, each is sqrt(40·10) = 20 s; after
        // four, 40^0.8 · 10^0.2 = 30.3 s.
        check((10, 1, 0, 9), &[], &[40.0], 20.0);
        check(
            (10, 4, 0, 6),
            &[],
            &[40.0; 4],
            40f64.powf(0.8) * 10f64.powf(0.2),
        );
        // History and rate agree: 5 left at one per 10 s.
        check((10, 5, 0, 1), &[], &[10.0; 5], 50.0);
        // A batch running on more workers than this process's: the running items count.
        check((16, 0, 8, 4), &[0.0; 8], &[], 20.0);
    }

    /// The case, on a fake clock: 5 items of 3 s (as the history says) on 1 and on
    /// 4 workers. At every tenth of a second the estimate is within 20% of the true time
    /// left, and it never rises.
    #[test]
    fn a_few_long_items_on_a_fake_clock() {
        for workers in [1u32, 4] {
            let (items, item) = (5u64, 3.0);
            let per_job = expecting(item);
            // Item k starts when a worker frees up: at `item · (k / workers)`.
            let start = |k: u64| item * (k / u64::from(workers)) as f64;
            let end_all = start(items - 1) + item;
            let mut last = f64::INFINITY;
            let mut t = 0.0;
            while t < end_all - 1e-9 {
                let started: Vec<u64> = (0..items).filter(|k| start(*k) <= t + 1e-9).collect();
                let finished: Vec<u64> = started
                    .iter()
                    .copied()
                    .filter(|k| start(*k) + item <= t + 1e-9)
                    .collect();
                let running: Vec<Duration> = started
                    .iter()
                    .filter(|k| !finished.contains(k))
                    .map(|k| s((t - start(*k)).max(0.0)))
                    .collect();
                let times = ItemTimes {
                    concurrency: workers,
                    done_total: s(item * finished.len() as f64),
                    done: finished.len() as u64,
                    running,
                };
                let eta = eta_batch(
                    per_job,
                    items,
                    finished.len() as u64,
                    times.running.len() as u64,
                    &times,
                )
                .as_secs_f64();
                let truth = end_all - t;
                assert!(
                    (eta / truth - 1.0).abs() <= 0.2,
                    "{workers} workers at {t:.1} s: ETA {eta:.2} s, truth {truth:.2} s"
                );
                assert!(
                    eta <= last + 1e-6,
                    "{workers} workers at {t:.1} s: rose to {eta}"
                );
                last = eta;
                t += 0.1;
            }
        }
    }

    #[test]
    fn check_again_in_table() {
        #[track_caller]
        fn check(eta: f64, confident: bool, every: f64) {
            assert_secs(
                check_again_in(s(eta), confident),
                every,
                &format!("check_again_in({eta}, {confident})"),
            );
        }
        // Unsure: half the time left, between 1 s and a minute.
        check(0.0, false, 1.0);
        check(1.5, false, 1.0);
        check(3.0, false, 1.5);
        check(10.0, false, 5.0);
        check(90.0, false, 45.0);
        check(3600.0, false, 60.0);
        // Confident: just after the expected end.
        check(0.1, true, 1.0);
        check(2.0, true, 2.15);
        check(3.0, true, 3.15);
        check(8.0, true, 8.4);
        check(40.0, true, 42.0);
        check(600.0, true, 630.0);
    }

    #[test]
    fn pace_table() {
        let e = est(10.0, 5.0, 20.0);
        // A job: its own rate, or not overrunning without progress.
        assert!(steady_job(e, s(5.0), Some((5, 10))));
        assert!(!steady_job(e, s(5.0), Some((2, 10))), "projects 25 s");
        assert!(!steady_job(e, s(5.0), Some((9, 10))), "projects 5.6 s");
        assert!(steady_job(e, s(12.0), None));
        assert!(!steady_job(e, s(13.0), None));
        // A batch of 10 on 2 workers: 5 waves of 10 s.
        assert!(steady_batch(e, 10, 4, 2, s(20.0)));
        assert!(!steady_batch(e, 10, 2, 2, s(20.0)), "projects 100 s");
        assert!(steady_batch(e, 10, 0, 2, s(12.0)));
        assert!(!steady_batch(e, 10, 0, 2, s(13.0)));
    }

    #[test]
    fn confidence_comes_from_tight_history() {
        let stats = |mean_ms: f64, spread_ms: f64| DurationStats {
            mean_ms,
            var_ms2: spread_ms * spread_ms,
            samples: 5,
        };
        assert!(!per_job(None, s(5.0)).confident);
        assert!(per_job(Some(&stats(1000.0, 0.0)), s(5.0)).confident);
        assert!(per_job(Some(&stats(1000.0, 250.0)), s(5.0)).confident);
        assert!(!per_job(Some(&stats(1000.0, 300.0)), s(5.0)).confident);
        let mut e = per_job(Some(&stats(1000.0, 0.0)), s(5.0));
        assert!(for_batch(e, 5, 1).confident);
        assert_secs(e.check_in(), 1.15, "confident: just after the end");
        e.confident = false;
        assert_secs(e.check_in(), 1.0, "unsure: half, at least a second");
    }

    #[test]
    fn estimate_methods() {
        let e = est(60.0, 30.0, 120.0);
        assert_eq!(e.human_range(), "30 seconds-2 minutes");
        assert_eq!(e.check_in(), s(30.0));
        assert_eq!(est(60.0, 60.0, 60.0).human_range(), "about 1 minute");
        assert_eq!(est(30.0, 45.0, 20.0).human_range(), "20-45 seconds");
    }

    #[test]
    fn millis_table() {
        #[track_caller]
        fn check(d: Duration, ms: u64) {
            assert_eq!(millis(d), ms, "millis({d:?})");
        }
        check(Duration::ZERO, 0);
        check(Duration::from_micros(1_999), 1);
        check(s(1.5), 1_500);
        check(Duration::MAX, u64::MAX);
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            (0u64..100_000_000).prop_map(Duration::from_millis),
            any::<u64>().prop_map(Duration::from_secs),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    fn any_estimate() -> impl Strategy<Value = Estimate> {
        (
            any_duration(),
            any_duration(),
            any_duration(),
            any::<bool>(),
        )
            .prop_map(|(expected, min, max, confident)| Estimate {
                expected,
                min,
                max,
                confident,
            })
    }

    fn any_count() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..20, any::<u64>()]
    }

    fn any_stats() -> impl Strategy<Value = DurationStats> {
        let float = prop_oneof![
            0.0..1e9f64,
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-1.0)
        ];
        (float.clone(), float, any_count()).prop_map(|(mean_ms, var_ms2, samples)| DurationStats {
            mean_ms,
            var_ms2,
            samples,
        })
    }

    /// A decimal count without sign or leading zeros.
    fn count(word: &str) -> Option<u128> {
        let digits = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
        let leading_zero = word.len() > 1 && word.starts_with('0');
        if digits && !leading_zero {
            word.parse().ok()
        } else {
            None
        }
    }

    /// "<n> <unit>", with the unit's number agreeing with n.
    fn counted(n: &str, unit: &str) -> bool {
        const UNITS: [&str; 8] = [
            "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days",
        ];
        count(n).is_some_and(|n| UNITS.contains(&unit) && (n == 1) != unit.ends_with('s'))
    }

    /// One duration as `format_duration` says it: "<n> <unit>", or "<n> hour(s) <n> minutes".
    fn phrase(text: &str) -> bool {
        match text.split(' ').collect::<Vec<_>>().as_slice() {
            [n, unit] => counted(n, unit),
            [h, hours, m, minutes] => {
                counted(h, hours)
                    && hours.starts_with("hour")
                    && counted(m, minutes)
                    && minutes.starts_with("minute")
            }
            _ => false,
        }
    }

    /// "<n>-<n> <unit>", "<phrase>-<phrase>" or "about <phrase>".
    fn range(text: &str) -> bool {
        if let Some(rest) = text.strip_prefix("about ") {
            return phrase(rest);
        }
        let Some((low, high)) = text.split_once('-') else {
            return false;
        };
        match count(low) {
            Some(low) => high.split_once(' ').is_some_and(|(n, unit)| {
                counted(n, unit) && count(n).is_some_and(|high| high > low)
            }),
            None => phrase(low) && phrase(high),
        }
    }

    #[test]
    fn range_parser_rejects_malformed() {
        for bad in [
            "",
            "about",
            "30-60",
            "30 seconds",
            "60-30 seconds",
            "1-1 seconds",
            "1-2 second",
            "about 1 hour 30",
            "a-b seconds",
            "1 hour-",
            "-1 hour",
        ] {
            assert!(!range(bad), "{bad:?}");
        }
        for good in [
            "30-60 seconds",
            "45 seconds-2 minutes",
            "about 1 hour 30 minutes",
            "1 hour-1 hour 30 minutes",
        ] {
            assert!(range(good), "{good:?}");
        }
    }

    /// The largest factor by which the history estimate is off in the convergence tests.
    const HISTORY_FACTOR: std::ops::RangeInclusive<f64> = 0.2..=5.0;

    proptest! {
        /// Property 1. A `Duration` cannot be negative, so the checks are: no panic, never
        /// above the cap, and a running job is never reported as done.
        #[test]
        fn eta_job_is_bounded(
            per_job in any_estimate(),
            elapsed in any_duration(),
            progress in proptest::option::of((any_count(), any_count())),
        ) {
            let eta = eta_job(per_job, elapsed, progress);
            prop_assert!(eta <= ETA_CAP);
            prop_assert!(eta > Duration::ZERO);
        }

        #[test]
        fn eta_batch_is_bounded(
            per_job in any_estimate(),
            total in any_count(),
            finished in any_count(),
            running in any_count(),
            concurrency in prop_oneof![0u32..20, any::<u32>()],
            ran in proptest::collection::vec(any_duration(), 0..20),
            done in any_count(),
            done_total in any_duration(),
        ) {
            let items = ItemTimes { concurrency, running: ran, done_total, done };
            let eta = eta_batch(per_job, total, finished, running, &items);
            prop_assert!(eta <= ETA_CAP);
            // Nothing left exactly when all have finished.
            if finished >= total {
                prop_assert_eq!(eta, Duration::ZERO);
            }
        }

        /// Property 2, one job. It does `total` units at a constant rate over `true_secs`;
        /// the history expects `factor · true_secs`. At 90% done (or just past it) the
        /// estimate must be within 25% of the true time left.
        ///
        /// Why 25% holds: with progress the history's time left is `factor` times the true
        /// one and the observed one is exact, so the geometric blend is off by exactly
        /// `factor^(1-w)`, at most 5^0.1 ≈ 1.175 and at least 0.2^0.1 ≈ 0.851 for w ≥ 0.9:
        /// within 18%, leaving margin for rounding. (An arithmetic blend would be off by
        /// up to `(1-w)·(factor-1)` = 40% here.)
        #[test]
        fn eta_job_converges(
            total in 10u64..1_000_000,
            true_secs in 1.0..1e6f64,
            factor in HISTORY_FACTOR,
        ) {
            let current = (9 * total).div_ceil(10);
            let rate = total as f64 / true_secs;
            let elapsed = s(current as f64 / rate);
            let true_left = (total - current) as f64 / rate;
            let eta = eta_job(expecting(factor * true_secs), elapsed, Some((current, total)));
            let error = eta.as_secs_f64() / true_left - 1.0;
            prop_assert!(error.abs() <= 0.25, "off by {:.1}%", error * 100.0);
        }

        /// Property 2, a batch. `total` jobs of `job_secs` each on `concurrency` workers,
        /// 90% finished, the running ones part-way; the history expects `factor · job_secs`
        /// per job. The estimate must be within 25% of the true time left.
        ///
        /// Why 25% holds: the item duration blends the batch's own mean (exact) with the
        /// history by `n / (n + 1)`, `n >= 9`, so it is off by `factor^(1/(n+1))`, between
        /// 0.2^0.1 ≈ 0.851 and 5^0.1 ≈ 1.175; dealing equal items to workers is exact. The
        /// worst case is no waiting items: the time left is the running items' rest,
        /// `(1 - into)·d`, against an error of at most 0.175·d — within 25% while `into` is
        /// under a quarter (0.175 / 0.75 ≈ 23%).
        #[test]
        fn eta_batch_converges(
            concurrency in 1u32..=16,
            waves in 10u64..200,
            extra in 0u64..16,
            job_secs in 0.1..3600.0f64,
            factor in HISTORY_FACTOR,
            into in 0.0..0.25f64,
        ) {
            let c = u64::from(concurrency);
            let total = waves * c + extra;
            let finished = (9 * total).div_ceil(10);
            let left = total - finished;
            let running = left.min(c);
            let items = ItemTimes {
                concurrency,
                running: vec![s(into * job_secs); running as usize],
                done_total: s(finished as f64 * job_secs),
                done: finished,
            };
            // The running ones end after the rest of theirs, then the waiting ones in waves.
            let waiting = left - running;
            let true_left = (1.0 - into) * job_secs
                + waiting.div_ceil(c) as f64 * job_secs;
            let eta = eta_batch(
                expecting(factor * job_secs), total, finished, running, &items,
            );
            let error = eta.as_secs_f64() / true_left - 1.0;
            prop_assert!(error.abs() <= 0.25, "off by {:.1}%", error * 100.0);
        }

        /// Property 3.
        #[test]
        fn check_again_in_is_bounded_and_monotone(
            a in any_duration(),
            b in any_duration(),
            confident in any::<bool>(),
        ) {
            let every = check_again_in(a, confident);
            prop_assert!(every >= s(1.0) && every <= ETA_CAP);
            if !confident {
                prop_assert!(every <= s(60.0));
            } else if a < ETA_CAP / 2 {
                // Aimed after the end: a confident check is never early.
                prop_assert!(every > a);
            }
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(check_again_in(low, confident) <= check_again_in(high, confident));
        }

        /// Property 4.
        #[test]
        fn human_range_is_well_formed(e in any_estimate()) {
            let text = e.human_range();
            prop_assert!(range(&text), "{text:?}");
        }

        /// Property 5: a constant duration is learned, whatever came before.
        #[test]
        fn duration_stats_learn_a_constant(first in any_duration(), d in any_duration()) {
            let mut stats = DurationStats::new(first);
            // After 1000 samples the first one's weight in the mean is 0.8^1000 ≈ 1e-97 and
            // in the spread about 0.8^500 ≈ 1e-48: negligible even from `Duration::MAX`
            // (2e22 ms) to a millisecond. The microsecond slack is for d = 0.
            for _ in 0..1000 {
                stats.observe(d);
            }
            let d_ms = ms_f64(d);
            prop_assert!((stats.mean_ms - d_ms).abs() <= 0.01 * d_ms + 0.001, "{stats:?}");
            prop_assert!(ms_f64(stats.spread()) <= 0.01 * d_ms + 0.001, "{stats:?}");
            prop_assert_eq!(stats.samples, 1001);
        }

        /// Property 5: the mean stays within the durations observed.
        #[test]
        fn duration_stats_mean_is_within_observed(
            ds in proptest::collection::vec(any_duration(), 1..50),
        ) {
            let mut stats = DurationStats::new(ds[0]);
            for &d in &ds[1..] {
                stats.observe(d);
            }
            let (lo, hi) = ds.iter().map(|&d| ms_f64(d)).fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            });
            prop_assert!(lo <= stats.mean_ms && stats.mean_ms <= hi, "{stats:?} of {ds:?}");
            prop_assert!(stats.var_ms2.is_finite() && stats.var_ms2 >= 0.0);
        }

        /// Whatever the stored statistics, a per-job estimate is ordered.
        #[test]
        fn per_job_is_ordered(stats in proptest::option::of(any_stats()), default in any_duration()) {
            let e = per_job(stats.as_ref(), default);
            prop_assert!(e.min <= e.expected && e.expected <= e.max, "{e:?}");
        }
    }
}
