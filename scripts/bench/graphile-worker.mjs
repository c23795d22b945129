// The peer of `queue-bench --driver postgres`: graphile-worker 0.18 on the same PostgreSQL,
// the same figures measured the same way (../../shared/research/job-queues.md, Recipe A):
// N no-op jobs added with addJobs in chunks of 10,000, then one worker process runs them
// (batching on: localQueue 500, completeJobBatchDelay 0); jobs/s = N / (worker start -> Nth
// completion). Then the pickup latency of the idle worker: addJob, and the time until the
// task starts, 200 samples. Each figure is the median of RUNS runs.
// Usage: node graphile-worker.mjs URL [N] [RUNS] [CONCURRENCY]
import { run, makeWorkerUtils, Logger } from "graphile-worker";

// Silent: a line per job would cost the peer time ours does not spend.
const logger = new Logger(() => () => {});

const [url, nArg, runsArg, concurrencyArg] = process.argv.slice(2);
const N = Number(nArg ?? 100000);
const RUNS = Number(runsArg ?? 3);
const CONCURRENCY = Number(concurrencyArg ?? 24);
const SAMPLES = 200;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))];
};

async function once() {
  const utils = await makeWorkerUtils({ connectionString: url, logger });
  await utils.migrate();
  await utils.withPgClient((c) => c.query("delete from graphile_worker._private_jobs"));
  const specs = Array.from({ length: N }, (_, i) => ({ identifier: "noop", payload: { i } }));
  const addStart = performance.now();
  for (let i = 0; i < specs.length; i += 10000) {
    await utils.addJobs(specs.slice(i, i + 10000));
  }
  const enqueue = N / ((performance.now() - addStart) / 1000);

  let done = 0;
  let finish;
  const finished = new Promise((r) => (finish = r));
  let started = null;
  let wake;
  const start = performance.now();
  const runner = await run({
    connectionString: url,
    concurrency: CONCURRENCY,
    noHandleSignals: true,
    pollInterval: 1000,
    logger,
    preset: {
      worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
    },
    taskList: {
      noop: async () => {
        if (++done === N) finish(performance.now());
      },
      ping: async () => {
        started = performance.now();
        wake();
      },
    },
  });
  const end = await finished;
  const rate = N / ((end - start) / 1000);

  // Pickup latency of the idle worker.
  await new Promise((r) => setTimeout(r, 200));
  const samples = [];
  for (let i = 0; i < SAMPLES + 10; i++) {
    await new Promise((r) => setTimeout(r, 3));
    const picked = new Promise((r) => (wake = r));
    const t0 = performance.now();
    await utils.addJob("ping", { i });
    await picked;
    if (i >= 10) samples.push(started - t0);
  }
  await runner.stop();
  await utils.release();
  return { enqueue, rate, p50: pct(samples, 50), p99: pct(samples, 99) };
}

const results = [];
for (let i = 0; i < RUNS; i++) {
  const r = await once();
  console.error(
    `  .. graphile-worker run ${i + 1}/${RUNS}: enqueue ${Math.round(r.enqueue)} jobs/s, ` +
      `${Math.round(r.rate)} jobs/s, pickup p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms`,
  );
  results.push(r);
}
const row = (name, value, unit) =>
  console.log(`${name.padEnd(32)} ${value.padStart(14)}  ${unit}`);
row("graphile_throughput", Math.round(median(results.map((r) => r.rate))).toLocaleString("en"), "jobs/s");
row("graphile_throughput_enqueue", Math.round(median(results.map((r) => r.enqueue))).toLocaleString("en"), "jobs/s");
row("graphile_pickup_latency_p50", median(results.map((r) => r.p50)).toFixed(3), "ms");
row("graphile_pickup_latency_p99", median(results.map((r) => r.p99)).toFixed(3), "ms");
