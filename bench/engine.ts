// The engine benchmark: the rows the engine's targets are stated in, measured end to end through
// real `harness serve` processes and the real socket, so the same code measures any build. With
// `--baseline DIR` (another checkout, built), every row is measured for that build too, in the
// same run, interleaved run by run, so "before" and "after" see the same machine load.
//
// Rows: durable claim+complete tasks/s at 1/8/32 worker connections (10k tasks), the same at 8/32
// with one request per task (task_complete with `next`), and claim p99 at 8; plan import of 100k tasks over the socket (staged in pieces, as `harness plan import` does)
// and the server's RSS after; open of 100k tasks from a snapshot plus a journal tail (start to
// ready) and RSS after; claim p50 with 100k tasks queued against 1k; start-up of an empty
// workspace to ready.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { HarnessClient } from '../src/client/client';
import { importPlan as importWholePlan } from '../src/client/plan';
import { makePlan, scratchBase } from './core';
import type { BenchOptions, Section, SectionResult } from './section';
import { importPlan, processRssMb, startServe } from './serve';
import { runLoad, type LoadResult } from './socket';
import { count, fmt, num, summarize, type Summary, type Table } from './stats';

const CONNECTIONS = [1, 8, 32];
const NEXT_CONNECTIONS = [8, 32];
const TASKS = 10_000;
const BIG = 100_000;
const SMALL = 1_000;
/** Claim+complete pairs timed for the claim latency at 100k against 1k, and left in the journal before the reopen. */
const PROBE_TASKS = 500;
const QUICK = { tasks: 1_000, big: 10_000, small: 500, probe: 100 };

/** The targets of the engine issue, as [row key, comparison, value]. */
const TARGETS = {
  tps8: 6000,
  tps32: 8000,
  p99_8: 2,
  open_ms: 1000,
  import_ms: 1000,
  rss_mb: 200,
  p50_ratio: 1.2,
  empty_ms: 100,
} as const;

interface Build {
  name: string;
  root: string;
}

interface BuildRun {
  throughput: Record<number, LoadResult>;
  /** The same with one request per task (task_complete with `next`); null for a build without it. */
  throughput_next: Record<number, LoadResult> | null;
  empty_ready_ms: number;
  import_ms: number;
  import_rss_mb: number;
  snapshot_open_ms: number;
  snapshot_open_rss_mb: number;
  open_ms: number;
  open_rss_mb: number;
  open_records: number;
  claim_p50_big_ms: number;
  claim_p50_small_ms: number;
}

/** A whole plan over the socket the way the CLI sends one past the line cap: staged in pieces, imported at once. */
async function stagedImport(client: HarnessClient, tasks: ReturnType<typeof makePlan>): Promise<void> {
  await importWholePlan(client, { tasks });
}

async function stopClean(serve: Awaited<ReturnType<typeof startServe>>): Promise<void> {
  const code = await serve.stop('SIGTERM');
  if (code !== 0) throw new Error(`harness serve exited with ${code} on SIGTERM:\n${serve.stderr()}`);
}

async function oneRun(options: BenchOptions, build: Build, scratch: string, sizes: typeof QUICK): Promise<BuildRun> {
  const self = options.self;
  const fresh = (name: string) => {
    const dir = path.join(scratch, name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); // owner-only: the socket goes in it
    return dir;
  };
  const drain = async (c: number, next: boolean): Promise<LoadResult> => {
    const dir = fresh(`tps-${c}${next ? '-next' : ''}`);
    const serve = await startServe(build.root, dir, path.join(dir, 's.sock'));
    try {
      const client = await HarnessClient.connect(serve.socket);
      await importPlan(client, makePlan(sizes.tasks));
      client.close();
      const res = await runLoad(self, { socket: serve.socket, connections: c, mode: 'harness', tasks: sizes.tasks, next }, serve.pid);
      if (res.tasks !== sizes.tasks) throw new Error(`${build.name} C=${c}: ${res.tasks} tasks done, expected ${sizes.tasks}`);
      return res;
    } finally {
      await stopClean(serve);
    }
  };
  const throughput: Record<number, LoadResult> = {};
  for (const c of CONNECTIONS) throughput[c] = await drain(c, false);
  // A build from before task_complete took `next` refuses the field: its rows stay empty.
  let throughputNext: Record<number, LoadResult> | null = {};
  for (const c of NEXT_CONNECTIONS) {
    try {
      throughputNext[c] = await drain(c, true);
    } catch (e) {
      if (!/next: unknown field/.test(String(e))) throw e;
      throughputNext = null;
      break;
    }
  }

  // 100k: empty start, staged import, clean stop (snapshot), reopen, a few claims (journal tail), kill, reopen.
  const dir = fresh('big');
  const socket = path.join(dir, 's.sock');
  let serve = await startServe(build.root, dir, socket);
  const emptyReady = serve.ready_ms;
  let client = await HarnessClient.connect(socket);
  const plan = makePlan(sizes.big);
  let t = performance.now();
  await stagedImport(client, plan);
  const importMs = performance.now() - t;
  const importRss = processRssMb(serve.pid);
  client.close();
  await stopClean(serve);
  serve = await startServe(build.root, dir, socket);
  const snapshotOpen = serve.ready_ms;
  const snapshotRss = processRssMb(serve.pid);
  let probeBig: LoadResult;
  try {
    probeBig = await runLoad(self, { socket, connections: 1, mode: 'harness', tasks: sizes.big, limit: sizes.probe }, serve.pid);
  } catch (e) {
    await serve.stop('SIGKILL');
    throw e;
  }
  await serve.stop('SIGKILL');
  serve = await startServe(build.root, dir, socket);
  const openMs = serve.ready_ms;
  const openRss = processRssMb(serve.pid);
  client = await HarnessClient.connect(socket);
  const reply = await client.send('status');
  if (reply.status !== 'ok') throw new Error(`${build.name}: status failed: ${JSON.stringify(reply)}`);
  const status = reply.data as { counts: Record<string, number> };
  client.close();
  await stopClean(serve);
  if (status.counts.completed !== sizes.probe || status.counts.pending !== sizes.big - sizes.probe) {
    throw new Error(`${build.name}: unexpected counts after the reopen: ${JSON.stringify(status.counts)}`);
  }

  const smallDir = fresh('small');
  serve = await startServe(build.root, smallDir, path.join(smallDir, 's.sock'));
  let probeSmall: LoadResult;
  try {
    client = await HarnessClient.connect(serve.socket);
    await importPlan(client, makePlan(sizes.small));
    client.close();
    probeSmall = await runLoad(self, { socket: serve.socket, connections: 1, mode: 'harness', tasks: sizes.small, limit: sizes.probe }, serve.pid);
  } finally {
    await stopClean(serve);
  }
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(scratch, { recursive: true });
  return {
    throughput,
    throughput_next: throughputNext,
    empty_ready_ms: emptyReady,
    import_ms: importMs,
    import_rss_mb: importRss,
    snapshot_open_ms: snapshotOpen,
    snapshot_open_rss_mb: snapshotRss,
    open_ms: openMs,
    open_rss_mb: openRss,
    open_records: 2 * sizes.probe,
    claim_p50_big_ms: probeBig.claim.p50,
    claim_p50_small_ms: probeSmall.claim.p50,
  };
}

function pick<T>(values: T[], f: (v: T) => number): Summary {
  return summarize(values.map(f));
}

interface Row {
  what: string;
  target: string;
  value: (runs: BuildRun[]) => Summary;
  /** Whether a median meets the target. */
  met?: (median: number) => boolean;
}

function rows(sizes: typeof QUICK): Row[] {
  const tps = (c: number) => (runs: BuildRun[]) => pick(runs, (r) => r.throughput[c]!.tasks_per_s);
  const tpsNext = (c: number) => (runs: BuildRun[]) => summarize(runs.flatMap((r) => (r.throughput_next?.[c] ? [r.throughput_next[c].tasks_per_s] : [])));
  return [
    { what: `claim+complete tasks/s, C=1 (${count(sizes.tasks)} tasks)`, target: '-', value: tps(1) },
    { what: 'claim+complete tasks/s, C=8', target: `≥ ${num(TARGETS.tps8)}`, value: tps(8), met: (m) => m >= TARGETS.tps8 },
    { what: 'claim+complete tasks/s, C=32', target: `≥ ${num(TARGETS.tps32)}`, value: tps(32), met: (m) => m >= TARGETS.tps32 },
    { what: 'one request per task (complete with next) tasks/s, C=8', target: `≥ ${num(TARGETS.tps8)}`, value: tpsNext(8), met: (m) => m >= TARGETS.tps8 },
    { what: 'one request per task (complete with next) tasks/s, C=32', target: `≥ ${num(TARGETS.tps32)}`, value: tpsNext(32), met: (m) => m >= TARGETS.tps32 },
    { what: 'claim p99 ms, C=8', target: `< ${TARGETS.p99_8}`, value: (runs) => pick(runs, (r) => r.throughput[8]!.claim.p99), met: (m) => m < TARGETS.p99_8 },
    { what: `plan import ${count(sizes.big)} tasks ms (staged, over the socket)`, target: `< ${num(TARGETS.import_ms)}`, value: (runs) => pick(runs, (r) => r.import_ms), met: (m) => m < TARGETS.import_ms },
    { what: `server RSS MB after the import`, target: `< ${TARGETS.rss_mb}`, value: (runs) => pick(runs, (r) => r.import_rss_mb), met: (m) => m < TARGETS.rss_mb },
    { what: `open ${count(sizes.big)} tasks: snapshot only, start → ready ms`, target: '-', value: (runs) => pick(runs, (r) => r.snapshot_open_ms) },
    {
      what: `open ${count(sizes.big)} tasks: snapshot + ${count(2 * sizes.probe)} journal records, start → ready ms`,
      target: `< ${num(TARGETS.open_ms)}`,
      value: (runs) => pick(runs, (r) => r.open_ms),
      met: (m) => m < TARGETS.open_ms,
    },
    { what: 'server RSS MB after that open', target: `< ${TARGETS.rss_mb}`, value: (runs) => pick(runs, (r) => r.open_rss_mb), met: (m) => m < TARGETS.rss_mb },
    { what: `claim p50 ms, ${count(sizes.big)} tasks queued (C=1)`, target: '-', value: (runs) => pick(runs, (r) => r.claim_p50_big_ms) },
    { what: `claim p50 ms, ${count(sizes.small)} tasks queued (C=1)`, target: '-', value: (runs) => pick(runs, (r) => r.claim_p50_small_ms) },
    {
      what: `claim p50 ${count(sizes.big)} / ${count(sizes.small)}`,
      target: `≤ ${TARGETS.p50_ratio}`,
      value: (runs) => pick(runs, (r) => r.claim_p50_big_ms / r.claim_p50_small_ms),
      met: (m) => m <= TARGETS.p50_ratio,
    },
    { what: 'empty workspace: start → ready ms', target: `< ${TARGETS.empty_ms}`, value: (runs) => pick(runs, (r) => r.empty_ready_ms), met: (m) => m < TARGETS.empty_ms },
  ];
}

async function runEngine(options: BenchOptions): Promise<SectionResult> {
  const sizes = options.quick ? QUICK : { tasks: TASKS, big: BIG, small: SMALL, probe: PROBE_TASKS };
  const builds: Build[] = [{ name: 'this build', root: options.root }];
  if (options.baseline) {
    const cli = path.join(options.baseline, 'dist', 'cli.js');
    if (!fs.existsSync(cli)) throw new Error(`--baseline ${options.baseline}: ${cli} is missing (build that checkout first)`);
    builds.push({ name: `baseline ${path.basename(options.baseline)}`, root: options.baseline });
  }
  const { base, where } = scratchBase(options.root);
  const scratch = fs.mkdtempSync(path.join(base, 'harness-bench-'));
  const log = (m: string) => process.stderr.write(`[engine] ${m}\n`);
  const results = builds.map(() => [] as BuildRun[]);
  try {
    for (let r = 0; r < options.runs; r++) {
      for (const [i, build] of builds.entries()) {
        const res = await oneRun(options, build, path.join(scratch, `b${i}`), sizes);
        results[i]!.push(res);
        log(
          `run ${r + 1}/${options.runs} ${build.name}: ${CONNECTIONS.map((c) => `C=${c} ${num(res.throughput[c]!.tasks_per_s)}/s`).join(', ')}; ` +
            `import ${num(res.import_ms)} ms, open ${num(res.open_ms)} ms`,
        );
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const label = `median of ${options.runs} run${options.runs === 1 ? '' : 's'}${options.runs > 1 ? ' (min–max)' : ''}`;
  const table: Table = {
    title: `Engine targets, end to end through harness serve (${label})`,
    columns: ['row', 'target', ...builds.map((b) => b.name), ...(builds.length > 1 ? ['this / baseline'] : [])],
    rows: rows(sizes).map((row) => {
      const values = results.map((runs) => row.value(runs));
      const mine = values[0]!.median;
      const mark = row.met ? (row.met(mine) ? ' ✓' : ' ✗') : '';
      return [
        row.what,
        row.target,
        `${fmt(values[0])}${mark}`,
        ...values.slice(1).map((v) => fmt(v)),
        ...(values.length > 1 ? [values[1]!.n > 0 ? `${(mine / values[1]!.median).toFixed(2)}×` : '-'] : []),
      ];
    }),
    notes: [
      'every mutation durable before its reply (fdatasync); a fresh worktree per row group; the load generator is one child process (bench/socket.ts)',
      `${count(sizes.tasks)}-task rows: plan_import first, then C connections claim → complete until drained; "complete with next": each completion claims the next task in the same request (- for a build without it)`,
      `${count(sizes.big)} tasks: imported staged (plan_stage pieces, one plan_import), SIGTERM (snapshot), reopen, ${sizes.probe} claim+complete at C=1, SIGKILL, reopen`,
      '✓/✗: whether this build\'s median meets the target; RSS from /proc right after the reply or the ready line',
      `files under ${where}`,
    ],
  };
  return { tables: [table], data: { scratch: where, sizes, builds, results } };
}

export const engineSection: Section = {
  name: 'engine',
  description: 'the engine targets end to end (tasks/s at 1/8/32, claim p99, 100k import/open/RSS, claim p50 100k vs 1k, empty start); --baseline DIR measures another build beside it',
  run: runEngine,
};
