// The peers section: the coordinator against established job queues in the same run, on the same
// workload (10k tasks pre-loaded, then claim → complete until drained, at 1 / 8 / 32 worker
// connections held by ONE load process, every acknowledgement as durable as the system offers).
//
// Every measurement gets fresh servers and fresh state; each round measures every system at
// every worker count, so the systems share whatever else the machine is doing, and the ratios
// are taken round by round. Only ratios within one run mean anything on a shared machine.
//
// A system is one entry of PEER_SYSTEMS (see bench/peers/system.ts). One whose server is not
// installed, or does not start, is reported as skipped and the rest of the section still runs.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diskFloor, scratchBase, type FloorResult } from './core';
import { bullmqSystem } from './peers/bullmq';
import { clusterSystem, measureFailover, type FailoverResult } from './peers/cluster';
import { coordinatorSystem } from './peers/coordinator';
import { jetstreamSystem } from './peers/jetstream';
import { peerLoad, type PeerLoadArgs, type PeerLoadResult } from './peers/load';
import type { PeerSystem } from './peers/system';
import type { BenchOptions, Section, SectionResult } from './section';
import { print, runLoadChild } from './serve';
import { count, fmt, num, summarize, type Summary, type Table } from './stats';

/** The systems measured; the first is the one the ratios are of. */
export const PEER_SYSTEMS: PeerSystem[] = [coordinatorSystem, bullmqSystem, jetstreamSystem, clusterSystem];
/** Leader kills timed after the rounds, when the cluster was measured. */
const FAILOVER_KILLS = 10;
const QUICK_FAILOVER_KILLS = 3;
const WORKERS = [1, 8, 32];
const TASKS = 10_000;
const QUICK_TASKS = 1_000;
/** Appends + fdatasyncs timed at the start of each round: how fast the disk syncs just then. */
const FLOOR_OPS = 500;

/** Two requests per task (claim, then complete), or one (complete and take the next). */
type Mode = 'two' | 'one';

interface SystemResults {
  system: PeerSystem;
  mode: Mode;
  /** The row's label: the system's, and the mode for one-request rows. */
  label: string;
  /** Why it was not (or not fully) measured. */
  skipped?: string;
  /** Per worker count, one result per round, in round order (undefined where that round failed to start it). */
  runs: Map<number, Array<PeerLoadResult | undefined>>;
}

const workerCounts = (s: PeerSystem) => s.workers ?? WORKERS;
const rotate = <T>(xs: T[], by: number): T[] => xs.map((_, i) => xs[(i + by) % xs.length]!);

async function measure(options: BenchOptions, entry: SystemResults, dir: string, workers: number, tasks: number): Promise<PeerLoadResult | undefined> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); // owner-only: the coordinator's socket goes in it
  try {
    let started;
    try {
      started = await entry.system.start(dir, options);
    } catch (e) {
      entry.skipped = `could not be started: ${(e instanceof Error ? e.message : String(e)).split('\n').slice(0, 3).join(' / ')}`;
      return undefined;
    }
    let run;
    try {
      const args: PeerLoadArgs = { system: entry.system.name, endpoint: started.endpoint, workers, tasks, one_request: entry.mode === 'one' };
      run = await runLoadChild<PeerLoadResult>(options.self, 'peers-load', args, started.pids);
    } finally {
      await started.stop();
    }
    if (run.result.tasks !== tasks) throw new Error(`${entry.label}, ${workers} workers: ${run.result.tasks} tasks completed, expected ${tasks}`);
    return { ...run.result, server_cpu_ms: run.server_cpu_ms, machine_cpu_ms: run.machine_cpu_ms };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function runPeers(options: BenchOptions): Promise<SectionResult> {
  const tasks = options.quick ? QUICK_TASKS : TASKS;
  const log = (m: string) => process.stderr.write(`[peers] ${m}\n`);
  const { base, where } = scratchBase(options.root);
  const scratch = fs.mkdtempSync(path.join(base, 'harness-peers-'));
  const loadStart = os.loadavg();
  const entry = (system: PeerSystem, mode: Mode): SystemResults => ({
    system,
    mode,
    label: mode === 'one' ? `${system.label}, one request per task` : system.label,
    skipped: system.unavailable(options),
    runs: new Map(),
  });
  // Every system in the two-request mode first, then those that can in the one-request mode.
  const results: SystemResults[] = [
    ...PEER_SYSTEMS.map((s) => entry(s, 'two')),
    ...PEER_SYSTEMS.filter((s) => s.oneRequest).map((s) => entry(s, 'one')),
  ];
  for (const r of results) if (r.skipped) log(`${r.label}: SKIPPED, ${r.skipped}`);
  const floors: FloorResult[] = [];
  let failover: FailoverResult | undefined;
  let failoverError: string | undefined;
  try {
    for (let round = 0; round < options.runs; round++) {
      floors.push(await diskFloor(scratch, FLOOR_OPS));
      for (const w of WORKERS) {
        // Each round starts with another system, so none is always measured first (or last) after a server start-up.
        for (const entry of rotate(results, round)) {
          if (entry.skipped || !workerCounts(entry.system).includes(w)) continue;
          const res = await measure(options, entry, path.join(scratch, `${entry.system.name}-${entry.mode}-w${w}-r${round}`), w, tasks);
          if (!res) {
            log(`${entry.label}: SKIPPED, ${entry.skipped}`);
            continue;
          }
          if (!entry.runs.has(w)) entry.runs.set(w, []);
          entry.runs.get(w)![round] = res;
          log(`round ${round + 1}/${options.runs} W=${w} ${entry.label}: ${num(res.tasks_per_s)} tasks/s (claim p99 ${num(res.claim.p99)} ms)`);
        }
      }
    }
    const cluster = results.find((r) => r.system === clusterSystem);
    if (cluster && !cluster.skipped && cluster.runs.size > 0) {
      const kills = options.quick ? QUICK_FAILOVER_KILLS : FAILOVER_KILLS;
      const dir = path.join(scratch, 'failover');
      fs.mkdirSync(dir, { recursive: true });
      try {
        failover = await measureFailover(options, dir, kills, log);
      } catch (e) {
        failoverError = e instanceof Error ? e.message : String(e);
        log(`cluster take-over: FAILED, ${failoverError}`);
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const loadEnd = os.loadavg();
  const data = {
    tasks,
    scratch: where,
    load_avg: { start: loadStart, end: loadEnd },
    fsync_floor: floors,
    cluster_failover_ms: failover?.ms,
    cluster_failover_error: failoverError,
    systems: results.map((r) => ({
      name: r.system.name,
      mode: r.mode,
      label: r.label,
      versions: r.runs.size > 0 ? r.system.versions(options) : undefined,
      skipped: r.skipped,
      runs: Object.fromEntries(r.runs),
    })),
  };
  const out = tables(results, tasks, options, { start: loadStart, end: loadEnd }, floors);
  if (failover || failoverError) out.push(failoverTable(failover, failoverError));
  return { tables: out, data };
}

function failoverTable(failover: FailoverResult | undefined, error: string | undefined): Table {
  return {
    title: 'Cluster take-over: the leading coordinator SIGKILLed, until a write is acknowledged through another (ms)',
    columns: ['kills', 'median', 'max', 'min'],
    rows: failover ? [[String(failover.ms.length), num(failover.summary.median), num(failover.summary.max), num(failover.summary.min)]] : [['-', 'failed', '', '']],
    notes: [
      '3 nats-servers (JetStream, replicas 3) and 3 coordinators on this machine; the killed one is restarted as a standby after each kill',
      'the leader key lives 3 s without a renewal: a take-over waits for it to lapse, then the new leader reads the log to its end and appends its first record',
      'target: a new leader acknowledging writes within 5 s of the old one\'s death',
      ...(error ? [`FAILED: ${error}`] : []),
    ],
  };
}

// ---- tables ----

const done = (runs: Array<PeerLoadResult | undefined> | undefined): PeerLoadResult[] => (runs ?? []).filter((x): x is PeerLoadResult => !!x);
const pick = (runs: PeerLoadResult[], f: (r: PeerLoadResult) => number): Summary => summarize(runs.map(f));

/** Baseline ÷ other, round by round (both measured in that round), as median with min–max. */
function ratios(baseline: SystemResults, other: SystemResults, w: number): Summary {
  const a = baseline.runs.get(w) ?? [];
  const b = other.runs.get(w) ?? [];
  const per: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] && b[i]) per.push(a[i]!.tasks_per_s / b[i]!.tasks_per_s);
  return summarize(per);
}

/**
 * CPU used by everything but the measured processes while the clock ran, as a share of all cores.
 * The three figures come from slightly different windows and 10 ms ticks: a few % of jitter, so
 * nothing below 0.
 */
function othersCpuPercent(x: PeerLoadResult, cpus: number): number {
  const others = (x.machine_cpu_ms ?? NaN) - (x.server_cpu_ms ?? NaN) - x.loadgen_cpu_ms;
  return Math.max(0, (100 * others) / (x.wall_ms * cpus));
}

function tables(results: SystemResults[], tasks: number, options: BenchOptions, load: { start: number[]; end: number[] }, floors: FloorResult[]): Table[] {
  const rounds = `median of ${options.runs} round${options.runs === 1 ? '' : 's'}${options.runs > 1 ? ', min–max' : ''}`;
  const cell = (r: SystemResults, w: number): string => {
    if (!workerCounts(r.system).includes(w)) return '';
    const runs = done(r.runs.get(w));
    return runs.length ? fmt(pick(runs, (x) => x.tasks_per_s)) : 'skipped';
  };
  const skippedNotes = results.filter((r) => r.skipped).map((r) => `SKIPPED ${r.label}: ${r.skipped}`);
  const measured = results.filter((r) => r.runs.size > 0);
  const measuredSystems = [...new Set(measured.map((r) => r.system))];
  const cpus = os.cpus().length;
  const throughput: Table = {
    title: `Peers in the same run: claim → complete, ${count(tasks)} tasks pre-loaded, tasks/s (${rounds})`,
    columns: ['system', ...WORKERS.map((w) => `W=${w}`)],
    rows: results.map((r) => [r.label, ...WORKERS.map((w) => cell(r, w))]),
    notes: [
      'W = worker connections, all held by ONE load process (a child of the bench), each looping claim → complete until the queue is empty;',
      '    the servers run in their own processes; every measurement starts fresh servers on fresh state, and each round measures every',
      '    system at every W, so all systems share whatever else the machine was doing',
      'tasks/s = tasks / the time from the first claim to the acknowledgement of the last completion (every task checked completed exactly once)',
      ...measuredSystems.map((s) => s.durability),
      ...measuredSystems.map((s) => s.transport),
      ...measuredSystems.map((s) => s.versions(options)),
      ...measuredSystems.filter((s) => s.oneRequest).map((s) => `one request per task, ${s.label}: ${s.oneRequest}`),
      ...skippedNotes,
    ],
  };
  // In each mode, the first system (the coordinator) against the others in that mode.
  const ratioRows = (['two', 'one'] as const).flatMap((mode) => {
    const [baseline, ...others] = results.filter((r) => r.mode === mode);
    return others.map((o) => [
      `${baseline!.label} ÷ ${o.label}`,
      ...WORKERS.map((w) => {
        if (!workerCounts(o.system).includes(w)) return '';
        const s = ratios(baseline!, o, w);
        return s.n ? fmt(s, '×') : 'skipped';
      }),
    ]);
  });
  const ratioTable: Table = {
    title: `${results[0]!.label} ÷ each peer, tasks/s (ratio per round, ${rounds})`,
    columns: ['', ...WORKERS.map((w) => `W=${w}`)],
    rows: ratioRows,
    notes: ['> 1 means the coordinator completed more tasks per second than that peer in the same rounds, in the same mode'],
  };
  const detail: Table = {
    title: `Peers: latencies and CPU (medians of ${options.runs} round${options.runs === 1 ? '' : 's'}; the JSON report has every run)`,
    columns: ['system', 'W', 'tasks/s', 'claim p50', 'claim p99', 'compl. p50', 'compl. p99', 'server CPU ms/task', 'load CPU ms/task', 'others CPU %', 'preload ms'],
    rows: [],
    notes: [
      'latencies in ms per request as the load process saw it (reply received); claim includes the last, empty claims where a system answers them',
      'server CPU = utime+stime of the system\'s server processes while the clock ran (from /proc); load CPU = the load process\'s own, per task',
      `others CPU % = CPU used by everything else on the machine while the clock ran (all ${cpus} cores = 100%; ± a few %): how busy the machine was`,
      `preload = loading the ${count(tasks)} tasks before the clock (plan_import / addBulk / publish), not part of tasks/s`,
      `fsync floor at the start of each round (append + fdatasync of 200 bytes, one at a time, ${FLOOR_OPS} times): ` +
        `${fmt(summarize(floors.map((f) => f.ops_per_s)))} ops/s, p99 ${fmt(summarize(floors.map((f) => f.latency.p99)))} ms; a busy disk slows the two systems that fsync`,
      `load average at the section's start ${load.start.map((x) => x.toFixed(2)).join(' ')}, at its end ${load.end.map((x) => x.toFixed(2)).join(' ')} (${cpus} CPUs)`,
    ],
  };
  for (const w of WORKERS) {
    for (const r of measured) {
      const runs = done(r.runs.get(w));
      if (runs.length === 0) continue;
      const med = (f: (r: PeerLoadResult) => number) => num(pick(runs, f).median);
      detail.rows.push([
        r.label,
        String(w),
        med((x) => x.tasks_per_s),
        med((x) => x.claim.p50),
        med((x) => x.claim.p99),
        med((x) => x.complete.p50),
        med((x) => x.complete.p99),
        med((x) => (x.server_cpu_ms ?? NaN) / x.tasks),
        med((x) => x.loadgen_cpu_ms / x.tasks),
        med((x) => othersCpuPercent(x, cpus)),
        med((x) => x.preload_ms),
      ]);
    }
  }
  return [throughput, ratioTable, detail];
}

export const peersSection: Section = {
  name: 'peers',
  description: 'claim → complete against BullMQ on Redis (AOF always), NATS JetStream and a coordinator cluster in the same run, at 1/8/32 connections; cluster take-over time',
  run: runPeers,
  commands: {
    'peers-load': async ([json]) => {
      const args = JSON.parse(json ?? '{}') as PeerLoadArgs;
      const system = PEER_SYSTEMS.find((s) => s.name === args.system);
      if (!system) throw new Error(`peers-load: no system named ${args.system}`);
      print(await peerLoad(system, args));
    },
  },
};
