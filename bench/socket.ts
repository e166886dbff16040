// The socket benchmark: claim + complete over the real Unix socket against a real, durable
// `harness serve` child process, at 1, 8 and 32 worker connections, next to two floors measured
// in the same run:
//  - the echo floor: a trivial NDJSON server on the same kind of socket, driven by the same
//    client code (HarnessClient, claim → complete) at the same connection counts;
//  - the fsync floor: the bare append + fdatasync loop of the core section (bench/core.ts).
//
// Process layout (2-core machines in mind): the server is one process, the load generator is ONE
// other child process holding every worker connection (each a HarnessClient looping claim →
// complete). The bench parent only waits. So the server gets a core to itself and the load
// generator the other; splitting the workers over two load-generator processes would put three
// busy processes on two cores and charge the server for the load generator's scheduling.
// The echo server runs in the same layout, so the two are comparable.
//
// When the targets (at C=8: ≥ half the echo floor's request rate, claim p99 < 2 ms) are not met,
// one more C=8 run is made with the server under `node --cpu-prof`, and its top costs are shown.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { HarnessClient } from '../src/client/client';
import { diskFloor, makePlan, scratchBase, type FloorResult } from './core';
import type { BenchOptions, Section, SectionResult } from './section';
import { cleanEnv, importPlan, print, runLoadChild, startServe } from './serve';
import { count, fmt, latency, num, summarize, type LatencyStats, type Summary, type Table } from './stats';
import { Ping } from '../src/protocol/meta';
import { TaskClaim, TaskComplete, type ClaimResult } from '../src/protocol/tasks';

const CONNECTIONS = [1, 8, 32];
const TASKS = 10_000;
const QUICK_TASKS = 1_000;
const FLOOR_OPS = 3_000;
const QUICK_FLOOR_OPS = 500;
/** The targets this section reports against (issue 9). */
const TARGET_C = 8;
const TARGET_ECHO_FRACTION = 0.5;
const TARGET_CLAIM_P99_MS = 2;

// ---- child: the echo server ----

/** A trivial NDJSON server: each line parsed and answered `{"status":"ok","data":<the request>}`. */
async function echoServer(socketPath: string): Promise<void> {
  fs.rmSync(socketPath, { force: true });
  const server = net.createServer((socket) => {
    let rest: Buffer | undefined;
    socket.on('data', (data: Buffer) => {
      const buf = rest ? Buffer.concat([rest, data]) : data;
      let start = 0;
      let out = '';
      for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
        const line = buf.subarray(start, nl).toString('utf8');
        start = nl + 1;
        let reply: unknown;
        try {
          reply = { status: 'ok', data: JSON.parse(line) };
        } catch {
          reply = { status: 'error', code: 'INVALID_ARGUMENT', message: 'malformed JSON' };
        }
        out += `${JSON.stringify(reply)}\n`;
      }
      rest = start < buf.length ? buf.subarray(start) : undefined;
      if (out) socket.write(out);
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  fs.chmodSync(socketPath, 0o600);
  process.stdout.write('ready\n');
  await new Promise(() => {}); // until killed
}

// ---- child: the load generator ----

interface LoadArgs {
  socket: string;
  connections: number;
  mode: 'harness' | 'echo';
  /** Echo mode: how many claim+complete pairs in all (the coordinator stops when its tasks run out). */
  tasks: number;
  /** Harness mode: stop after this many tasks in all, even if more are ready. */
  limit?: number;
  /**
   * Harness mode: each completion claims the worker's next task in the same request (task_complete
   * with `next`): one round trip and one durable write per task instead of two.
   */
  next?: boolean;
}

export interface LoadResult {
  connections: number;
  tasks: number;
  wall_ms: number;
  tasks_per_s: number;
  requests_per_s: number;
  claim: LatencyStats;
  complete: LatencyStats;
  loadgen_cpu_ms: number;
  /** Filled in by the parent: CPU the server used between "go" and "done". */
  server_cpu_ms?: number;
}

async function loadGenerator(args: LoadArgs): Promise<LoadResult> {
  const clients = await Promise.all(Array.from({ length: args.connections }, () => HarnessClient.connect(args.socket, { retryForMs: 5000 })));
  // One round trip each first: connections accepted and warm before the clock starts.
  await Promise.all(clients.map((c) => c.call(Ping)));
  const claimMs: number[] = [];
  const completeMs: number[] = [];
  let remaining = args.limit ?? args.tasks;
  let done = 0;
  const worker = async (client: HarnessClient, i: number) => {
    const workerId = `bench-w${i}`;
    let next: ClaimResult | undefined;
    for (let n = 0; ; n++) {
      if ((args.mode === 'echo' || args.limit !== undefined) && remaining-- <= 0) return;
      let t = performance.now();
      const claim = next ?? (await client.call(TaskClaim, { worker_id: workerId }));
      if (!next) claimMs.push(performance.now() - t);
      const task = args.mode === 'echo' ? { id: `echo-${i}-${n}`, fencing_token: 1 } : claim.task;
      if (!task) return;
      t = performance.now();
      const completed = await client.call(TaskComplete, {
        worker_id: workerId,
        task_id: task.id,
        fencing_token: task.fencing_token,
        result: { ok: true },
        ...(args.next ? { next: {} } : {}),
      });
      completeMs.push(performance.now() - t);
      next = completed.next;
      done++;
    }
  };
  process.stdout.write('go\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(clients.map((c, i) => worker(c, i)));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write('done\n');
  for (const c of clients) c.close();
  // The coordinator's last claim of each worker found nothing: a request, not a task.
  const requests = claimMs.length + completeMs.length;
  return {
    connections: args.connections,
    tasks: done,
    wall_ms: wall,
    tasks_per_s: (done / wall) * 1000,
    requests_per_s: (requests / wall) * 1000,
    claim: latency(claimMs),
    complete: latency(completeMs),
    loadgen_cpu_ms: (cpu.user + cpu.system) / 1000,
  };
}

/** Runs the load generator as a child and samples the server's CPU time between its "go" and "done". */
export async function runLoad(self: string, args: LoadArgs, serverPid: number): Promise<LoadResult> {
  const { result, server_cpu_ms } = await runLoadChild<LoadResult>(self, 'socket-load', args, [serverPid]);
  result.server_cpu_ms = server_cpu_ms;
  return result;
}

// ---- CPU profile summary ----

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface ProfileEntry {
  function: string;
  self_ms: number;
  self_pct: number;
}

/**
 * Where a line of an esbuild bundle came from: esbuild (not minified) starts every module with a
 * `// path/of/module.ts` comment, so the nearest one above a line names its module.
 */
function bundleModules(file: string): ((line: number) => string) | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const marks: Array<[number, string]> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ ((?:node_modules|src|bench)\/\S+)$/.exec(lines[i]!);
    if (m) marks.push([i, m[1]!]);
  }
  return (line) => {
    let lo = 0;
    let hi = marks.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid]![0] <= line) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return '(bundle prologue)';
    const mod = marks[found]![1];
    const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(mod);
    return pkg ? `${pkg[1]} (dependency)` : mod;
  };
}

/** Self time grouped: native and VM buckets by name, WebAssembly as sql.js, bundle code by source module. */
function category(frame: ProfileNode['callFrame'], moduleOf: Map<string, ((line: number) => string) | undefined>): string {
  const { functionName: fn, url } = frame;
  if (fn.startsWith('(')) return fn; // (garbage collector), (program), (root)
  if (fn.startsWith('wasm-function') || url.startsWith('wasm')) return 'sql.js (dependency) — WebAssembly';
  if (!url) return `native: ${fn}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5)}`;
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  if (!moduleOf.has(file)) moduleOf.set(file, file.endsWith('.js') ? bundleModules(file) : undefined);
  const lookup = moduleOf.get(file);
  return lookup ? lookup(frame.lineNumber) : path.basename(file);
}

/** The functions (and modules) with the most self time in a .cpuprofile; idle time left out. */
export function topOfProfile(file: string, n = 15): { busy_ms: number; top: ProfileEntry[]; modules: ProfileEntry[] } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] };
  const total = profile.samples.length;
  const msPerSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, total);
  const self = new Map<string, number>();
  const byModule = new Map<string, number>();
  const moduleOf = new Map<string, ((line: number) => string) | undefined>();
  let busy = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0 || node.callFrame.functionName === '(idle)') continue;
    busy += hits;
    const url = node.callFrame.url;
    const where = url ? `${path.basename(url)}:${node.callFrame.lineNumber + 1}` : '';
    const cat = category(node.callFrame, moduleOf);
    const key = `${node.callFrame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}${cat.startsWith('node_modules') || cat.startsWith('src') || cat.includes('(dependency)') ? ` [${cat.replace(' (dependency)', '')}]` : ''}`;
    self.set(key, (self.get(key) ?? 0) + hits);
    byModule.set(cat, (byModule.get(cat) ?? 0) + hits);
  }
  const entries = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([fn, hits]) => ({ function: fn, self_ms: hits * msPerSample, self_pct: (hits / Math.max(1, busy)) * 100 }));
  return { busy_ms: busy * msPerSample, top: entries(self, n), modules: entries(byModule, n) };
}

// ---- the section ----

type ServerProfile = ReturnType<typeof topOfProfile> & { wall_ms: number; tasks_per_s: number };

interface LevelResult {
  connections: number;
  coordinator: LoadResult[];
  echo: LoadResult[];
  import_ms: number[];
}

async function withEcho<T>(self: string, socketPath: string, fn: (pid: number) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, [self, 'socket-echo', socketPath], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', () => resolve());
      child.once('exit', (c) => reject(new Error(`echo server exited (${c})`)));
    });
    return await fn(child.pid!);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    fs.rmSync(socketPath, { force: true });
  }
}

/** A fresh worktree and `harness serve`, `tasks` imported over the socket, then `fn`; the server stopped after. */
async function withCoordinator<T>(
  options: BenchOptions,
  dir: string,
  tasks: number,
  nodeFlags: string[],
  fn: (pid: number, importMs: number) => Promise<T>,
): Promise<T> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); // owner-only: the socket goes in it
  const serve = await startServe(options.root, dir, path.join(dir, 's.sock'), nodeFlags);
  try {
    const client = await HarnessClient.connect(serve.socket);
    const t = performance.now();
    await importPlan(client, makePlan(tasks));
    const importMs = performance.now() - t;
    client.close();
    return await fn(serve.pid, importMs);
  } finally {
    const code = await serve.stop('SIGTERM');
    if (code !== 0) throw new Error(`harness serve exited with ${code}:\n${serve.stderr()}`);
  }
}

function pick<T>(values: T[], f: (v: T) => number): Summary {
  return summarize(values.map(f));
}

async function runSocket(options: BenchOptions): Promise<SectionResult> {
  const tasks = options.quick ? QUICK_TASKS : TASKS;
  const { base, where } = scratchBase(options.root);
  const scratch = fs.mkdtempSync(path.join(base, 'harness-bench-'));
  const log = (m: string) => process.stderr.write(`[socket] ${m}\n`);
  log(`scratch directory ${scratch}`);
  try {
    const floors: FloorResult[] = [];
    const levels: LevelResult[] = CONNECTIONS.map((c) => ({ connections: c, coordinator: [], echo: [], import_ms: [] }));
    for (let r = 0; r < options.runs; r++) {
      floors.push(await diskFloor(scratch, options.quick ? QUICK_FLOOR_OPS : FLOOR_OPS));
      for (const level of levels) {
        const c = level.connections;
        const echo = await withEcho(options.self, path.join(scratch, 'echo.sock'), (pid) =>
          runLoad(options.self, { socket: path.join(scratch, 'echo.sock'), connections: c, mode: 'echo', tasks }, pid),
        );
        level.echo.push(echo);
        const coord = await withCoordinator(options, path.join(scratch, `wt-${c}`), tasks, [], async (pid, importMs) => {
          level.import_ms.push(importMs);
          return runLoad(options.self, { socket: path.join(scratch, `wt-${c}`, 's.sock'), connections: c, mode: 'harness', tasks }, pid);
        });
        if (coord.tasks !== tasks) throw new Error(`C=${c}: ${coord.tasks} tasks done, expected ${tasks}`);
        level.coordinator.push(coord);
        log(`run ${r + 1}/${options.runs} C=${c}: coordinator ${num(coord.tasks_per_s)} tasks/s (claim p99 ${num(coord.claim.p99)} ms), echo ${num(echo.requests_per_s)} req/s`);
      }
    }

    const target = levels.find((l) => l.connections === TARGET_C)!;
    const coordReq = pick(target.coordinator, (x) => x.requests_per_s).median;
    const echoReq = pick(target.echo, (x) => x.requests_per_s).median;
    const claimP99 = pick(target.coordinator, (x) => x.claim.p99).median;
    const targets = {
      connections: TARGET_C,
      echo_fraction: coordReq / echoReq,
      echo_fraction_met: coordReq / echoReq >= TARGET_ECHO_FRACTION,
      claim_p99_ms: claimP99,
      claim_p99_met: claimP99 < TARGET_CLAIM_P99_MS,
    };

    let profile: ServerProfile | undefined;
    if (!(targets.echo_fraction_met && targets.claim_p99_met) || process.env.HARNESS_BENCH_PROFILE === '1') {
      const profDir = path.join(scratch, 'prof');
      const dir = path.join(scratch, 'wt-prof');
      log(`targets not met (or HARNESS_BENCH_PROFILE=1): one more C=${TARGET_C} run with the server under --cpu-prof`);
      const res = await withCoordinator(options, dir, tasks, ['--cpu-prof', `--cpu-prof-dir=${profDir}`], (pid) =>
        runLoad(options.self, { socket: path.join(dir, 's.sock'), connections: TARGET_C, mode: 'harness', tasks }, pid),
      );
      const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        profile = { ...topOfProfile(path.join(profDir, file)), wall_ms: res.wall_ms, tasks_per_s: res.tasks_per_s };
        const keep = path.join(options.root, 'bench-results', `socket-server-c${TARGET_C}.cpuprofile`);
        fs.mkdirSync(path.dirname(keep), { recursive: true });
        fs.copyFileSync(path.join(profDir, file), keep);
        log(`server profile kept in ${path.relative(process.cwd(), keep)} (open it in Chrome DevTools / VS Code)`);
      }
    }
    return { tables: tables(floors, levels, targets, profile, tasks, where, options), data: { scratch: where, floor: floors, levels, targets, profile } };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function tables(
  floors: FloorResult[],
  levels: LevelResult[],
  targets: { echo_fraction: number; echo_fraction_met: boolean; claim_p99_ms: number; claim_p99_met: boolean },
  profile: ServerProfile | undefined,
  tasks: number,
  where: string,
  options: BenchOptions,
): Table[] {
  const runs = `median of ${options.runs} run${options.runs === 1 ? '' : 's'}${options.runs > 1 ? ' (min–max)' : ''}`;
  const floorOps = pick(floors, (f) => f.ops_per_s);
  const main: Table = {
    title: `Claim + complete over the Unix socket: harness serve (durable) vs the echo floor, ${count(tasks)} tasks per run (${runs})`,
    columns: ['C', 'server', 'tasks/s', 'req/s', 'claim p50', 'claim p99', 'compl. p50', 'compl. p99', 'server CPU ms/task', 'loadgen CPU ms/task'],
    rows: [],
    notes: [
      'C = worker connections, all in ONE load-generator child process (HarnessClient each, claim → complete in a loop); the server is',
      '    another child: on 2 cores each gets one. Latencies in ms per request as the client saw it (reply received), each mutation durable',
      'coordinator = `node dist/cli.js serve` (FileStore: indexes in memory, journal + group-commit fdatasync), a fresh worktree per run and C, plan_import first',
      'echo = a trivial NDJSON server (JSON.parse each line, reply {"status":"ok","data":<request>}), same socket kind, same client code',
      'req/s = claim + complete requests per second (2 per task; the coordinator also counts each worker\'s last, empty claim)',
      `server CPU = utime+stime of the server process between the load generator's start and end (from /proc), per task`,
    ],
  };
  for (const l of levels) {
    for (const [name, res] of [['coordinator', l.coordinator], ['echo', l.echo]] as const) {
      main.rows.push([
        String(l.connections),
        name,
        fmt(pick(res, (x) => x.tasks_per_s)),
        fmt(pick(res, (x) => x.requests_per_s)),
        fmt(pick(res, (x) => x.claim.p50)),
        fmt(pick(res, (x) => x.claim.p99)),
        fmt(pick(res, (x) => x.complete.p50)),
        fmt(pick(res, (x) => x.complete.p99)),
        fmt(pick(res, (x) => (x.server_cpu_ms ?? NaN) / x.tasks)),
        fmt(pick(res, (x) => x.loadgen_cpu_ms / x.tasks)),
      ]);
    }
  }

  const ratios: Table = {
    title: `The coordinator against its floors (medians of ${options.runs} run${options.runs === 1 ? '' : 's'})`,
    columns: ['C', 'coord req/s', 'echo req/s', 'coord / echo', 'durable writes/s', 'fsync floor ops/s', 'coord / fsync floor'],
    rows: levels.map((l) => {
      const coordReq = pick(l.coordinator, (x) => x.requests_per_s).median;
      const echoReq = pick(l.echo, (x) => x.requests_per_s).median;
      const writes = pick(l.coordinator, (x) => x.tasks_per_s).median * 2;
      return [String(l.connections), num(coordReq), num(echoReq), `${(coordReq / echoReq).toFixed(3)}`, num(writes), num(floorOps.median), `${(writes / floorOps.median).toFixed(2)}`];
    }),
    notes: [
      `fsync floor = bare append + fdatasync of a 200-byte record, one at a time (bench/core.ts's loop), same run: ${fmt(floorOps)} ops/s, p99 ${fmt(pick(floors, (f) => f.latency.p99))} ms; files under ${where}`,
      'durable writes/s = claims + completes acknowledged per second (each a journal record, made durable by a shared fdatasync); > 1× the floor means group commit pays',
      `plan_import of ${count(tasks)} tasks before each run: ${fmt(summarize(levels.flatMap((l) => l.import_ms)))} ms`,
      `TARGET at C=${TARGET_C}: coordinator ≥ ${TARGET_ECHO_FRACTION} × echo req/s → ${targets.echo_fraction.toFixed(3)} × (${targets.echo_fraction_met ? 'MET' : 'NOT MET'}); ` +
        `claim p99 < ${TARGET_CLAIM_P99_MS} ms → ${num(targets.claim_p99_ms)} ms (${targets.claim_p99_met ? 'MET' : 'NOT MET'})`,
    ],
  };
  const out = [main, ratios];
  if (profile) {
    const note = `busy (non-idle) time sampled: ${num(profile.busy_ms)} ms over a ${num(profile.wall_ms)} ms load; the profile is kept under bench-results/`;
    out.push({
      title: `Server CPU profile, C=${TARGET_C} (node --cpu-prof, one run: ${num(profile.tasks_per_s)} tasks/s under the profiler): self time by module`,
      columns: ['module', 'self ms', '% of busy'],
      rows: profile.modules.map((e) => [e.function.slice(0, 90), num(e.self_ms), e.self_pct.toFixed(1)]),
      notes: [note, 'native: X = a C++ binding (its syscall included): writeUtf8String/writeBuffer = socket and file writes'],
    });
    out.push({
      title: `Server CPU profile, C=${TARGET_C}: top functions by self time`,
      columns: ['function (file:line) [module]', 'self ms', '% of busy'],
      rows: profile.top.map((e) => [e.function.slice(0, 100), num(e.self_ms), e.self_pct.toFixed(1)]),
    });
  }
  return out;
}

export const socketSection: Section = {
  name: 'socket',
  description: 'claim+complete over the real socket vs an echo server and the fsync floor, at 1/8/32 connections',
  run: runSocket,
  commands: {
    'socket-echo': async ([socketPath]) => {
      if (!socketPath) throw new Error('usage: bench.js socket-echo SOCKET');
      await echoServer(socketPath);
    },
    'socket-load': async ([json]) => print(await loadGenerator(JSON.parse(json ?? '{}') as LoadArgs)),
    'profile-top': async ([file, n]) => {
      if (!file) throw new Error('usage: bench.js profile-top FILE.cpuprofile [N]');
      const { busy_ms, top, modules } = topOfProfile(file, Number(n ?? 25));
      console.log(`busy ${num(busy_ms)} ms\n-- by module`);
      for (const e of modules) console.log(`${num(e.self_ms).padStart(8)} ms ${e.self_pct.toFixed(1).padStart(5)}%  ${e.function}`);
      console.log('-- by function');
      for (const e of top) console.log(`${num(e.self_ms).padStart(8)} ms ${e.self_pct.toFixed(1).padStart(5)}%  ${e.function}`);
    },
  },
};
