// The core benchmark: the Coordinator over the durable FileStore (state and indexes in memory, fdatasync'd
// journal with group commit, atomic snapshots), at several plan sizes.
//
// Every (size, run) is measured in a fresh child process (`core-run`), so memory figures and
// sql.js's WebAssembly heap (which never shrinks) do not carry over from one size to the next.
// Start-up is measured in another fresh child (`open-probe DIR`) per directory.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Coordinator, DEFAULT_CONFIG } from '../src/core/coordinator';
import { compact } from '../src/core/compaction';
import { nodeFileOps, type FileOps } from '../src/core/files';
import type { TaskInput } from '../src/core/model';
import { FileStore, JOURNAL_FILE, SNAPSHOT_FILE } from '../src/core/file-store';
import type { BenchOptions, Section, SectionResult } from './section';
import { count, fmt, latency, num, summarize, type LatencyStats, type Summary, type Table } from './stats';

const run = promisify(execFile);

const SIZES = [1_000, 10_000, 100_000];
const QUICK_SIZES = [1_000, 5_000];
/** Claim+complete operations measured per concurrency level, at most (and at most half the plan). */
const OPS_CAP = 5_000;
const QUICK_OPS_CAP = 500;
const CONCURRENCY = [1, 8];
const SNAPSHOTS_PER_RUN = 3;
const FLOOR_OPS = 3_000;
const QUICK_FLOOR_OPS = 500;
const FLOOR_RECORD_BYTES = 200;

const MB = 1024 * 1024;

/**
 * Resident memory, in MB. `collect` forces a full GC first (needs --expose-gc): only where the
 * process ends right after, because a forced GC resets V8's heap sizing and the frequent
 * incremental GCs that follow cost the next measurement up to 20% throughput and 3× its p99.
 */
function rssMb(collect: boolean): number {
  if (collect) (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / MB;
}

// ---- the workload ----

/** A plan of independent tasks, shaped like a real one: an id, a sentence, a small payload. */
export function makePlan(n: number): TaskInput[] {
  const plan: TaskInput[] = [];
  for (let i = 0; i < n; i++) {
    plan.push({
      id: `t${i}`,
      description: `Benchmark task ${i}: refactor module ${i % 97} and update its tests accordingly`,
      payload: { file: `src/module-${i % 97}/part-${i}.ts`, lines: [i % 500, (i % 500) + 40] },
    });
  }
  return plan;
}

/** nodeFileOps, counting fdatasyncs and journal bytes: shows how many commits share a sync. */
function countingFiles(): { files: FileOps; syncs: () => number } {
  let syncs = 0;
  return {
    files: {
      ...nodeFileOps,
      datasync: (fd) => {
        syncs++;
        return nodeFileOps.datasync(fd);
      },
    },
    syncs: () => syncs,
  };
}

export interface WorkersResult {
  concurrency: number;
  ops: number;
  wall_ms: number;
  tasks_per_s: number;
  claim: LatencyStats;
  complete: LatencyStats;
  /** Claim p50 over the first and the last 10% of claims: does a claim get slower as work is done? */
  claim_p50_first10: number;
  claim_p50_last10: number;
  syncs_per_task: number;
}

/** `concurrency` async loops, each claiming then completing, until `ops` tasks are done. */
async function runWorkers(
  coord: Coordinator,
  concurrency: number,
  ops: number,
  syncs: () => number,
): Promise<WorkersResult> {
  const claimMs: number[] = [];
  const completeMs: number[] = [];
  let started = 0;
  const worker = async (workerId: string) => {
    while (started < ops) {
      started++;
      let t = performance.now();
      const { task } = await coord.claim({ worker_id: workerId });
      claimMs.push(performance.now() - t);
      if (!task) throw new Error(`${workerId}: claim returned no task (plan too small for ${ops} operations)`);
      t = performance.now();
      await coord.complete({ worker_id: workerId, task_id: task.id, fencing_token: task.fencing_token, result: { ok: true } });
      completeMs.push(performance.now() - t);
    }
  };
  const syncsBefore = syncs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(`bench-w${i}`)));
  const wall = performance.now() - t0;
  const tenth = Math.max(1, Math.floor(claimMs.length / 10));
  return {
    concurrency,
    ops,
    wall_ms: wall,
    tasks_per_s: (ops / wall) * 1000,
    claim: latency(claimMs),
    complete: latency(completeMs),
    claim_p50_first10: latency(claimMs.slice(0, tenth)).p50,
    claim_p50_last10: latency(claimMs.slice(-tenth)).p50,
    syncs_per_task: (syncs() - syncsBefore) / ops,
  };
}

// ---- child: one run at one size ----

interface CoreRunArgs {
  n: number;
  ops: number;
  dir: string;
}

export interface CoreRunResult {
  n: number;
  import_ms: number;
  import_journal_bytes: number;
  rss_before_mb: number;
  rss_after_import_mb: number;
  workers: WorkersResult[];
  rss_after_workers_mb: number;
  /** The journal copied aside before snapshotting: the plan import plus every claim/complete. */
  replay_journal_bytes: number;
  snapshot_ms: number[];
  snapshot_bytes: number;
}

/**
 * In `dir`: `store/` ends as a closed store (snapshot, empty journal); `replay/` gets a copy of
 * the journal taken before any snapshot, so opening it replays everything.
 */
async function coreRun({ n, ops, dir }: CoreRunArgs): Promise<CoreRunResult> {
  const storeDir = path.join(dir, 'store');
  const replayDir = path.join(dir, 'replay');
  const counting = countingFiles();
  // No automatic snapshot in the middle of a measurement: snapshot cost is measured on its own.
  const store = await FileStore.open({ dir: storeDir, files: counting.files, snapshotAfterBytes: Number.POSITIVE_INFINITY });
  const coord = new Coordinator(store, { ...DEFAULT_CONFIG, instanceLimit: 0 });
  const rssBefore = rssMb(false);
  const plan = makePlan(n);

  let t = performance.now();
  await coord.addTasks(plan);
  const importMs = performance.now() - t;
  const importJournalBytes = fs.statSync(path.join(storeDir, JOURNAL_FILE)).size;
  const rssAfterImport = rssMb(false);

  const workers: WorkersResult[] = [];
  for (const c of CONCURRENCY) workers.push(await runWorkers(coord, c, ops, counting.syncs));
  const rssAfterWorkers = rssMb(false);
  const counts = coord.countTasks();
  if (counts.completed !== ops * CONCURRENCY.length || counts.pending !== n - ops * CONCURRENCY.length) {
    throw new Error(`unexpected task counts after the run: ${JSON.stringify(counts)}`);
  }

  fs.mkdirSync(replayDir, { recursive: true });
  fs.copyFileSync(path.join(storeDir, JOURNAL_FILE), path.join(replayDir, JOURNAL_FILE));
  const replayJournalBytes = fs.statSync(path.join(replayDir, JOURNAL_FILE)).size;

  // A snapshot is a compaction: the journal folded into state.db (what the worker thread does off
  // the request path). Measured on copies of the journal, in this process.
  const snapshotMs: number[] = [];
  let snapshotBytes = 0;
  for (let i = 0; i < SNAPSHOTS_PER_RUN; i++) {
    const copy = path.join(dir, `snapshot-${i}`);
    fs.mkdirSync(copy, { recursive: true });
    fs.copyFileSync(path.join(storeDir, JOURNAL_FILE), path.join(copy, JOURNAL_FILE));
    t = performance.now();
    await compact(copy, nodeFileOps, { includeActive: true });
    snapshotMs.push(performance.now() - t);
    snapshotBytes = fs.statSync(path.join(copy, SNAPSHOT_FILE)).size;
    fs.rmSync(copy, { recursive: true, force: true });
  }
  await coord.close();

  return {
    n,
    import_ms: importMs,
    import_journal_bytes: importJournalBytes,
    rss_before_mb: rssBefore,
    rss_after_import_mb: rssAfterImport,
    workers,
    rss_after_workers_mb: rssAfterWorkers,
    replay_journal_bytes: replayJournalBytes,
    snapshot_ms: snapshotMs,
    snapshot_bytes: snapshotBytes,
  };
}

// ---- child: open a directory in a fresh process ----

export interface OpenProbeResult {
  open_ms: number;
  rss_mb: number;
  journal_records: number;
  snapshot_bytes: number;
  tasks: number;
}

async function openProbe(dir: string): Promise<OpenProbeResult> {
  const store = await FileStore.open({ dir });
  const rss = rssMb(true);
  const tasks = Object.values(store.countTasks()).reduce((a, b) => a + b, 0);
  // Not closed: close() would write a snapshot and change the directory being measured.
  return { open_ms: store.stats.open_ms, rss_mb: rss, journal_records: store.stats.journal_records, snapshot_bytes: store.stats.snapshot_bytes, tasks };
}

/** Runs a child command of this bundle; node flags given to us (e.g. --cpu-prof) are passed on. */
async function child<T>(self: string, args: string[]): Promise<T> {
  const flags = [...new Set([...process.execArgv, '--expose-gc'])];
  const { stdout } = await run(process.execPath, [...flags, self, ...args], { maxBuffer: 64 * MB });
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

// ---- the disk floor ----

export interface FloorResult {
  ops: number;
  ops_per_s: number;
  latency: LatencyStats;
}

const fsWrite = promisify(fs.write);
const fsDatasync = promisify(fs.fdatasync);

/** Append + fdatasync of a ~200-byte record, one at a time, the way the store's flush does it. */
export async function diskFloor(dir: string, ops: number): Promise<FloorResult> {
  const file = path.join(dir, 'floor.log');
  const fd = fs.openSync(file, 'a', 0o600);
  const record = Buffer.from(`${'x'.repeat(FLOOR_RECORD_BYTES - 1)}\n`);
  const ms: number[] = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < ops; i++) {
      const t = performance.now();
      await fsWrite(fd, record, 0, record.length);
      await fsDatasync(fd);
      ms.push(performance.now() - t);
    }
    const wall = performance.now() - t0;
    return { ops, ops_per_s: (ops / wall) * 1000, latency: latency(ms) };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

// ---- the section ----

/** A scratch directory on the same disk as the project: os.tmpdir() if it is, else `.run/bench`. */
export function scratchBase(root: string): { base: string; where: string } {
  const tmp = fs.realpathSync(os.tmpdir());
  if (fs.statSync(tmp).dev === fs.statSync(root).dev) return { base: tmp, where: `${tmp} (same device as the project)` };
  const base = path.join(root, '.run', 'bench');
  fs.mkdirSync(base, { recursive: true });
  return { base, where: `${base} (${tmp} is on another device)` };
}

interface SizeResult {
  n: number;
  ops: number;
  runs: CoreRunResult[];
  open_snapshot: OpenProbeResult[];
  open_journal: OpenProbeResult[];
}

function pick<T>(values: T[], f: (v: T) => number): Summary {
  return summarize(values.map(f));
}

async function runCore(options: BenchOptions): Promise<SectionResult> {
  const sizes = options.quick ? QUICK_SIZES : SIZES;
  const cap = options.quick ? QUICK_OPS_CAP : OPS_CAP;
  const { base, where } = scratchBase(options.root);
  const scratch = fs.mkdtempSync(path.join(base, 'harness-bench-'));
  const log = (m: string) => process.stderr.write(`[core] ${m}\n`);
  log(`scratch directory ${scratch}`);
  const started = performance.now();

  try {
    // The floor first, on an idle disk.
    const floors: FloorResult[] = [];
    for (let r = 0; r < options.runs; r++) floors.push(await diskFloor(scratch, options.quick ? QUICK_FLOOR_OPS : FLOOR_OPS));
    log(`disk floor: ${num(summarize(floors.map((f) => f.ops_per_s)).median)} fdatasyncs/s`);

    // What a fresh process costs before holding any task: node + an empty store.
    const emptyDir = path.join(scratch, 'empty');
    const empty: OpenProbeResult[] = [];
    for (let r = 0; r < options.runs; r++) {
      fs.rmSync(emptyDir, { recursive: true, force: true });
      empty.push(await child<OpenProbeResult>(options.self, ['open-probe', emptyDir]));
    }

    const results: SizeResult[] = [];
    for (const n of sizes) {
      const ops = Math.min(cap, Math.floor(n / CONCURRENCY.length));
      const size: SizeResult = { n, ops, runs: [], open_snapshot: [], open_journal: [] };
      for (let r = 0; r < options.runs; r++) {
        const dir = path.join(scratch, `n${n}-r${r}`);
        const t = performance.now();
        const res = await child<CoreRunResult>(options.self, ['core-run', JSON.stringify({ n, ops, dir } satisfies CoreRunArgs)]);
        size.runs.push(res);
        size.open_snapshot.push(await child<OpenProbeResult>(options.self, ['open-probe', path.join(dir, 'store')]));
        size.open_journal.push(await child<OpenProbeResult>(options.self, ['open-probe', path.join(dir, 'replay')]));
        fs.rmSync(dir, { recursive: true, force: true });
        const w = res.workers.map((x) => `C=${x.concurrency} ${num(x.tasks_per_s)}/s`).join(', ');
        log(`${count(n)} tasks, run ${r + 1}/${options.runs}: import ${num(res.import_ms)} ms, ${w} (${num((performance.now() - t) / 1000)} s)`);
      }
      results.push(size);
    }
    const totalS = (performance.now() - started) / 1000;
    return { tables: tables(floors, empty, results, where, options), data: { scratch: where, total_s: totalS, floor: floors, empty_open: empty, sizes: results } };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function tables(floors: FloorResult[], empty: OpenProbeResult[], sizes: SizeResult[], where: string, options: BenchOptions): Table[] {
  const runs = `median of ${options.runs} run${options.runs === 1 ? '' : 's'}${options.runs > 1 ? ' (min–max)' : ''}`;
  const floor: Table = {
    title: `Disk floor: append + fdatasync of a ${FLOOR_RECORD_BYTES}-byte record, one at a time (${runs})`,
    columns: ['ops', 'ops/s', 'p50 ms', 'p99 ms'],
    rows: [
      [
        String(floors[0]?.ops ?? 0),
        fmt(pick(floors, (f) => f.ops_per_s)),
        fmt(pick(floors, (f) => f.latency.p50)),
        fmt(pick(floors, (f) => f.latency.p99)),
      ],
    ],
    notes: [`state and floor files under ${where}`],
  };

  const throughput: Table = {
    title: `Claim + complete through Coordinator + FileStore, durable (${runs})`,
    columns: ['tasks', 'C', 'measured', 'tasks/s', 'claim p50', 'claim p99', 'compl. p50', 'compl. p99', 'claim p50 1st→last 10%', 'syncs/task'],
    rows: [],
    notes: [
      'tasks = tasks in the store; measured = claim+complete operations timed at that C (C=1 first, then C=8 on the same store)',
      'C = concurrent in-process workers (async loops: claim, then complete); latencies in ms, each call until durable',
      'claim p50 1st→last 10% = median claim latency over the first and the last tenth of the claims measured (medians over runs)',
      'syncs/task = fdatasyncs per claimed+completed task (2.0 means no group commit; lower means commits shared a sync)',
    ],
  };
  for (const s of sizes) {
    for (let i = 0; i < CONCURRENCY.length; i++) {
      const w = s.runs.map((r) => r.workers[i]!);
      throughput.rows.push([
        count(s.n),
        String(CONCURRENCY[i]),
        s.ops < s.n ? `${count(s.ops)} of ${count(s.n)}` : count(s.ops),
        fmt(pick(w, (x) => x.tasks_per_s)),
        fmt(pick(w, (x) => x.claim.p50)),
        fmt(pick(w, (x) => x.claim.p99)),
        fmt(pick(w, (x) => x.complete.p50)),
        fmt(pick(w, (x) => x.complete.p99)),
        `${num(pick(w, (x) => x.claim_p50_first10).median)} → ${num(pick(w, (x) => x.claim_p50_last10).median)}`,
        fmt(pick(w, (x) => x.syncs_per_task)),
      ]);
    }
  }

  const load: Table = {
    title: `Plan import, memory and snapshot (${runs})`,
    columns: ['tasks', 'addTasks ms', 'import journal MB', 'RSS after import MB', 'snapshot ms', 'snapshot MB'],
    rows: sizes.map((s) => [
      count(s.n),
      fmt(pick(s.runs, (r) => r.import_ms)),
      fmt(pick(s.runs, (r) => r.import_journal_bytes / MB)),
      fmt(pick(s.runs, (r) => r.rss_after_import_mb)),
      fmt(summarize(s.runs.flatMap((r) => r.snapshot_ms))),
      fmt(pick(s.runs, (r) => r.snapshot_bytes / MB)),
    ]),
    notes: [
      'addTasks = the whole plan in one call, until durable (validation, one transaction, one journal record, fdatasync)',
      `RSS after import: in a fresh process per run, no forced GC (it would perturb the throughput measured next); the same process before the plan was built: ${fmt(summarize(sizes.flatMap((s) => s.runs.map((r) => r.rss_before_mb))))} MB`,
      `snapshot = store.snapshot() (export + write + fsync + rename), ${SNAPSHOTS_PER_RUN} per run, median over all of them`,
    ],
  };

  const startup: Table = {
    title: `Start-up: FileStore.open in a fresh process (${runs})`,
    columns: ['tasks', 'from snapshot ms', 'RSS MB', 'journal replay ms', 'records', 'journal MB', 'RSS MB'],
    rows: sizes.map((s) => [
      count(s.n),
      fmt(pick(s.open_snapshot, (o) => o.open_ms)),
      fmt(pick(s.open_snapshot, (o) => o.rss_mb)),
      fmt(pick(s.open_journal, (o) => o.open_ms)),
      fmt(pick(s.open_journal, (o) => o.journal_records)),
      fmt(pick(s.runs, (r) => r.replay_journal_bytes / MB)),
      fmt(pick(s.open_journal, (o) => o.rss_mb)),
    ]),
    notes: [
      `from snapshot = state.db + empty journal (as close() leaves it); journal replay = no snapshot, the journal of the plan import + every claim/complete above`,
      `RSS after open: after a forced GC; open includes reading the snapshot with sql.js in a worker thread; an empty directory: ${fmt(pick(empty, (o) => o.open_ms))} ms, RSS ${fmt(pick(empty, (o) => o.rss_mb))} MB`,
    ],
  };
  return [floor, throughput, load, startup];
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export const coreSection: Section = {
  name: 'core',
  description: 'Coordinator + FileStore: claim/complete throughput and latency, import, snapshot, start-up, disk floor',
  run: runCore,
  commands: {
    'core-run': async ([json]) => print(await coreRun(JSON.parse(json ?? '{}') as CoreRunArgs)),
    'open-probe': async ([dir]) => {
      if (!dir) throw new Error('usage: bench.js open-probe DIR');
      print(await openProbe(dir));
    },
  },
};
