// One measurement of a Node peer on a fresh database; prints one JSON line. Used by benchmarks/jobs/run.sh.
//   node bench.mjs <graphile|pgboss> <bulk|single|process|latency> <connection-url> <N> <C>
import pg from "pg";
import { performance } from "node:perf_hooks";

const LATENCY_WARMUP = 20; // untimed pickup-latency samples before the measured ones, as in the .NET harnesses

const [peer, scenario, url, nArg, cArg] = process.argv.slice(2);
const N = Number(nArg);
const C = Number(cArg);
const client = new pg.Client({ connectionString: url });
await client.connect();
const scalar = async (sql) => Number((await client.query(sql)).rows[0].v);
const checkpoint = () => client.query("CHECKPOINT");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Bulk enqueue measures a warm process (steady-state throughput, not a cold start): every peer first enqueues
// WARMUP_ROUNDS untimed batches of WARMUP jobs the same way, 50 ms apart (time for the JIT's optimizing tier).
const WARMUP = 500;
const WARMUP_ROUNDS = 40;
// Processing measures warm code too: every peer first processes PROCESS_WARMUP rounds (default 1) of N jobs untimed, with
// the same settings, by a worker that then stops (each round bounded at WARMUP_CAP_MS), in the database WARM_URL (the
// connection URL with "_warm" appended), so the timed run's tables are new, as without the warm-up.
const PROCESS_WARMUP = Number(process.env.PROCESS_WARMUP ?? 1);
const WARMUP_CAP_MS = 20000;
const WARM_URL = url + "_warm";
const out = (o) => { console.log(JSON.stringify({ peer, scenario, n: N, c: C, ...o })); };

async function untilDone(countSql, counter) {
  while (counter() < N) await sleep(1);
  while ((await scalar(countSql)) > 0) await sleep(5);
}

function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] };
}

if (peer === "graphile") {
  const { makeWorkerUtils, run, Logger } = await import("graphile-worker");
  const logger = new Logger(() => () => {});
  const utils = await makeWorkerUtils({ connectionString: url, logger });
  await utils.migrate();
  const specs = Array.from({ length: N }, (_, i) => ({ identifier: "t", payload: { i } }));
  if (scenario === "bulk") {
    for (let w = 0; w < WARMUP_ROUNDS; w++) {
      await utils.addJobs(Array.from({ length: WARMUP }, (_, i) => ({ identifier: "t", payload: { i: -1 - i } })));
      await sleep(50);
    }
    await checkpoint();
    const t0 = performance.now();
    await utils.addJobs(specs);
    out({ value: N / ((performance.now() - t0) / 1000) });
  } else if (scenario === "single") {
    await checkpoint();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await utils.addJob("t", { i });
    out({ value: N / ((performance.now() - t0) / 1000) });
  } else if (scenario === "process") {
    let done = 0;
    const start = (connectionString) => run({
      preset: { worker: { connectionString, concurrentJobs: C, maxPoolSize: Math.max(10, C + 2), pollInterval: 2000,
        localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      noHandleSignals: true,
      logger,
      taskList: { t: async () => { done++; } },
    });
    if (PROCESS_WARMUP > 0) {
      const warmUtils = await makeWorkerUtils({ connectionString: WARM_URL, logger });
      await warmUtils.migrate();
      for (let w = 0; w < PROCESS_WARMUP; w++) {
        await warmUtils.addJobs(specs);
        done = 0;
        const warm = await start(WARM_URL);
        const t = performance.now();
        while (done < N && performance.now() - t < WARMUP_CAP_MS) await sleep(1);
        await warm.stop();
      }
      await warmUtils.release();
    }
    await utils.addJobs(specs);
    await checkpoint();
    done = 0;
    const t0 = performance.now();
    const runner = await start(url);
    await untilDone("SELECT count(*) AS v FROM graphile_worker._private_jobs", () => done);
    out({ value: N / ((performance.now() - t0) / 1000) });
    await runner.stop();
  } else if (scenario === "latency") {
    let resolveStart;
    const runner = await run({
      preset: { worker: { connectionString: url, concurrentJobs: 1, pollInterval: 2000 } },
      noHandleSignals: true,
      logger,
      taskList: { t: async () => { resolveStart(performance.now()); } },
    });
    await sleep(500);
    const samples = [], enq = [];
    // LATENCY_WARMUP untimed samples first, the same way (as the other harnesses): the measured ones run warm code.
    for (let i = -LATENCY_WARMUP; i < N; i++) {
      const started = new Promise((r) => { resolveStart = r; });
      const t0 = performance.now();
      await utils.addJob("t", { i });
      const enqueued = performance.now() - t0;
      const pickedUp = (await started) - t0;
      if (i >= 0) { enq.push(enqueued); samples.push(pickedUp); }
      await sleep(20 + Math.random() * 30);
    }
    out({ ...percentiles(samples), enqueueP50: percentiles(enq).p50 });
    await runner.stop();
  }
  await utils.release();
} else if (peer === "pgboss") {
  const { PgBoss } = await import("pg-boss");
  const boss = new PgBoss({ connectionString: url, useListenNotify: scenario === "latency", max: Math.max(10, C + 2) });
  boss.on("error", () => {});
  await boss.start();
  await boss.createQueue("q", scenario === "latency" ? { notify: true } : {});
  const jobs = Array.from({ length: N }, (_, i) => ({ data: { i } }));
  if (scenario === "bulk") {
    for (let w = 0; w < WARMUP_ROUNDS; w++) {
      await boss.insert("q", Array.from({ length: WARMUP }, (_, i) => ({ data: { i: -1 - i } })));
      await sleep(50);
    }
    await checkpoint();
    const t0 = performance.now();
    await boss.insert("q", jobs);
    out({ value: N / ((performance.now() - t0) / 1000) });
  } else if (scenario === "single") {
    await checkpoint();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await boss.send("q", { i });
    out({ value: N / ((performance.now() - t0) / 1000) });
  } else if (scenario === "process") {
    let done = 0;
    const work = (b) => b.work("q", { localConcurrency: 1, batchSize: C, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
      async (batch) => { done += batch.length; });
    const left = "SELECT count(*) AS v FROM pgboss.job WHERE name = 'q' AND state <> 'completed'";
    if (PROCESS_WARMUP > 0) {
      const warmBoss = new PgBoss({ connectionString: WARM_URL, useListenNotify: false, max: Math.max(10, C + 2) });
      warmBoss.on("error", () => {});
      await warmBoss.start();
      await warmBoss.createQueue("q", {});
      for (let w = 0; w < PROCESS_WARMUP; w++) {
        await warmBoss.insert("q", jobs);
        done = 0;
        await work(warmBoss);
        const t = performance.now();
        while (done < N && performance.now() - t < WARMUP_CAP_MS) await sleep(1);
        await warmBoss.offWork("q");
      }
      await warmBoss.stop({ graceful: false, wait: false }).catch(() => {});
    }
    await boss.insert("q", jobs);
    await checkpoint();
    done = 0;
    const t0 = performance.now();
    await work(boss);
    const cap = setTimeout(() => { out({ value: done / 15, capped: true }); process.exit(0); }, 15000);
    await untilDone(left, () => done);
    clearTimeout(cap);
    out({ value: N / ((performance.now() - t0) / 1000) });
  } else if (scenario === "latency") {
    let resolveStart;
    await boss.work("q", { localConcurrency: 1, batchSize: 1, notifyPollingIntervalSeconds: 30 }, async () => { resolveStart(performance.now()); });
    await sleep(1000);
    const samples = [], enq = [];
    // LATENCY_WARMUP untimed samples first, the same way (as the other harnesses): the measured ones run warm code.
    for (let i = -LATENCY_WARMUP; i < N; i++) {
      const started = new Promise((r) => { resolveStart = r; });
      const t0 = performance.now();
      await boss.send("q", { i });
      const enqueued = performance.now() - t0;
      const pickedUp = (await started) - t0;
      if (i >= 0) { enq.push(enqueued); samples.push(pickedUp); }
      await sleep(20 + Math.random() * 30);
    }
    out({ ...percentiles(samples), enqueueP50: percentiles(enq).p50 });
  }
  await boss.stop({ graceful: false, wait: false }).catch(() => {});
}
await client.end();
process.exit(0);
