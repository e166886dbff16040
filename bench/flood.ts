// The pipelining flood (issue 19): one connection writes thousands of `task_list` requests for a
// plan of 400 tasks with 1000-byte descriptions (about 450 KB per reply) in one go and does not
// read; meanwhile other clients claim and release tasks. Then the flooder starts reading.
// Measured: the other clients' claim latency while the flooder holds its replies and while it
// drains them, the coordinator's resident memory (peak), how long the flooder takes to drain,
// and whether it got every reply, in order. The reliability suite (test/reliability/
// hostile-load.test.ts) runs the same scenario and asserts the targets on these figures.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { HarnessClient } from '../src/client/client';
import { Ping } from '../src/protocol/meta';
import { TaskClaim, TaskRelease } from '../src/protocol/tasks';
import type { BenchOptions, Section, SectionResult } from './section';
import { cleanEnv, importPlan, processCpuMs, processRssMb, startServe } from './serve';
import { fmt, latency, num, summarize, type LatencyStats, type Table } from './stats';

export interface FloodOptions {
  /** The repository root (dist/cli.js is started from there). */
  root: string;
  /** task_list requests the flooder writes at once. */
  requests: number;
  /** How long the flooder holds its replies (does not read) while the others claim. */
  holdMs: number;
  /** Other clients, each claiming and releasing in a loop. */
  claimers?: number;
  /** Tasks in the plan, and the bytes of each description. */
  tasks?: number;
  descriptionBytes?: number;
  /** Where the worktree goes (a temp directory when absent). */
  scratch?: string;
  /** Pings pipelined in one write before the flood (the throughput of a legitimate pipeline). */
  pings?: number;
}

/** What the flooding connection saw once it read. */
export interface FloodClientResult {
  sent: number;
  replies: number;
  /** Every reply carried the id of the next request, 0, 1, 2, ... */
  in_order: boolean;
  /** The first out-of-order reply: which position, and the id it carried. */
  first_bad: { at: number; id: number | null } | null;
  /** Replies that were not `"status":"ok"`. */
  errors: number;
  bytes: number;
  /** From "read" to the last reply (or to the close). */
  drain_ms: number;
  /** The server closed the connection before every reply came. */
  closed_early: boolean;
}

export interface FloodResult {
  requests: number;
  reply_bytes_each: number;
  baseline_rss_mb: number;
  /** The coordinator's peak resident memory from the flood's start to the drain's end (sampled, and VmHWM). */
  peak_rss_mb: number;
  /** The others' claims before the flood: the machine's own noise, measured in the same run. */
  quiet: LatencyStats;
  held: LatencyStats;
  draining: LatencyStats;
  all: LatencyStats;
  flooder: FloodClientResult;
  pipeline: PipelineResult;
}

/**
 * The flooding client, a child process (`node -e`), so reading 1-2 GB of replies does not slow the
 * claimers' measurements: it connects, stops reading, writes `N` task_list requests (ids 0..N-1)
 * in one write and says `sent`; on the line `read` from stdin it reads every reply, checking the
 * ids come back in order from the last bytes of each line (a reply ends `"id":N}`) without
 * parsing 450 KB of JSON per reply, and prints its result as one JSON line.
 */
const FLOOD_CLIENT = String.raw`
const net = require('node:net');
const [socketPath, count] = [process.argv[1], Number(process.argv[2])];
const s = net.connect(socketPath);
const result = { sent: 0, replies: 0, in_order: true, first_bad: null, errors: 0, bytes: 0, drain_ms: 0, closed_early: false };
let t0 = 0;
let head = '';
let tail = '';
let done = false;
const finish = (closedEarly) => {
  if (done) return;
  done = true;
  result.closed_early = closedEarly;
  result.drain_ms = t0 ? performance.now() - t0 : 0;
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
};
s.on('connect', () => {
  s.pause();
  let text = '';
  for (let i = 0; i < count; i++) text += JSON.stringify({ command: 'task_list', id: i }) + '\n';
  s.write(text);
  result.sent = count;
  process.stdout.write('sent\n');
});
const take = (piece) => {
  if (head.length < 16) head += piece.subarray(0, 16).toString('latin1');
  tail = piece.length >= 48 ? piece.subarray(piece.length - 48).toString('latin1') : (tail + piece.toString('latin1')).slice(-48);
};
s.on('data', (chunk) => {
  result.bytes += chunk.length;
  let start = 0;
  for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
    take(chunk.subarray(start, nl));
    start = nl + 1;
    const m = /"id":(\d+)\}$/.exec(tail);
    const id = m ? Number(m[1]) : null;
    if (id !== result.replies && result.in_order) {
      result.in_order = false;
      result.first_bad = { at: result.replies, id };
    }
    if (!head.startsWith('{"status":"ok"')) result.errors++;
    result.replies++;
    head = '';
    tail = '';
    if (result.replies === count) return finish(false);
  }
  if (start < chunk.length) take(chunk.subarray(start));
});
s.on('error', () => {});
s.on('close', () => finish(true));
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'read' || t0) return;
  t0 = performance.now();
  s.resume();
});
`;

/** Peak resident memory of a process so far (VmHWM), MB; NaN where /proc has none. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Claims and releases in a loop until `stop()` says so; each claim's latency goes to the current phase. */
async function claimLoop(client: HarnessClient, workerId: string, phase: () => number[] | undefined): Promise<void> {
  for (let samples = phase(); samples; samples = phase()) {
    const t = performance.now();
    const { task } = await client.call(TaskClaim, { worker_id: workerId });
    samples.push(performance.now() - t);
    if (task) await client.call(TaskRelease, { worker_id: workerId, task_id: task.id, fencing_token: task.fencing_token });
    // A worker does some work between claims; without a pause the claimers alone would saturate a core.
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Small requests pipelined: `count` pings in one write, read as they come. */
export interface PipelineResult {
  count: number;
  wall_ms: number;
  replies_per_s: number;
  /** The server's CPU time per reply, µs. */
  server_us_per_reply: number;
}

/**
 * The other side of the flood: a client with a legitimate pipeline of small requests (a runner
 * streaming output, a script importing in pieces) must still get them through quickly; this is
 * where writing a turn's replies in one write shows.
 */
export async function pipelinedPings(socketPath: string, serverPid: number, count: number): Promise<PipelineResult> {
  const s = net.connect(socketPath);
  await new Promise((r) => s.once('connect', r));
  let replies = 0;
  const cpu0 = processCpuMs(serverPid);
  const t0 = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    s.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) replies++;
      if (replies >= count) resolve();
    });
    s.once('close', () => reject(new Error(`closed after ${replies} of ${count} replies`)));
  });
  s.write('{"command":"ping"}\n'.repeat(count));
  await done;
  const wall = performance.now() - t0;
  const cpu = processCpuMs(serverPid) - cpu0;
  s.destroy();
  return { count, wall_ms: wall, replies_per_s: (count / wall) * 1000, server_us_per_reply: (cpu * 1000) / count };
}

/** Runs the flood against a fresh `harness serve` and returns what was measured; the server is stopped after. */
export async function runFlood(options: FloodOptions): Promise<FloodResult> {
  const tasks = options.tasks ?? 400;
  const descriptionBytes = options.descriptionBytes ?? 1000;
  const claimers = options.claimers ?? 4;
  const scratch = options.scratch ?? fs.mkdtempSync(path.join(os.tmpdir(), 'harness-flood-'));
  const worktree = path.join(scratch, 'wt');
  fs.mkdirSync(worktree, { recursive: true });
  const serve = await startServe(options.root, worktree, path.join(scratch, 'h.sock'));
  const clients: HarnessClient[] = [];
  let flooder: ChildProcess | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const setup = await HarnessClient.connect(serve.socket);
    clients.push(setup);
    const plan = Array.from({ length: tasks }, (_, i) => ({ id: `s${i}`, description: 'd'.repeat(descriptionBytes) }));
    await importPlan(setup, plan);
    const replyBytes = Buffer.byteLength(JSON.stringify(await setup.send('task_list')));
    for (let i = 0; i < claimers; i++) clients.push(await HarnessClient.connect(serve.socket));
    await Promise.all(clients.map((c) => c.call(Ping)));
    const pipeline = await pipelinedPings(serve.socket, serve.pid, options.pings ?? 20_000);
    const baseline = processRssMb(serve.pid);

    // The same claims first without a flood: what this machine gives them right now.
    const quiet: number[] = [];
    const held: number[] = [];
    const draining: number[] = [];
    let phase: number[] | undefined = quiet;
    const loops = clients.slice(1).map((c, i) => claimLoop(c, `flood-claimer-${i}`, () => phase));
    await new Promise((r) => setTimeout(r, options.holdMs));

    flooder = spawn(process.execPath, ['-e', FLOOD_CLIENT, serve.socket, String(options.requests)], {
      env: cleanEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    flooder.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const lines = createInterface({ input: flooder.stdout! });
    const sent = new Promise<void>((resolve) => lines.once('line', () => resolve()));
    const finished = new Promise<FloodClientResult>((resolve, reject) => {
      lines.on('line', (line) => line.startsWith('{') && resolve(JSON.parse(line) as FloodClientResult));
      flooder!.once('exit', (code) => reject(new Error(`the flooding client exited (${code}) without a result: ${stderr}`)));
    });
    finished.catch(() => {});
    await sent;
    phase = held;
    let peak = processRssMb(serve.pid);
    sampler = setInterval(() => (peak = Math.max(peak, processRssMb(serve.pid))), 20);

    await new Promise((r) => setTimeout(r, options.holdMs));
    phase = draining;
    flooder.stdin!.write('read\n');
    const flood = await finished;
    phase = undefined;
    await Promise.all(loops);
    clearInterval(sampler);
    peak = Math.max(peak, peakRssMb(serve.pid) || 0);
    return {
      requests: options.requests,
      reply_bytes_each: replyBytes,
      baseline_rss_mb: baseline,
      peak_rss_mb: peak,
      quiet: latency(quiet),
      held: latency(held),
      draining: latency(draining),
      all: latency([...held, ...draining]),
      flooder: flood,
      pipeline,
    };
  } finally {
    clearInterval(sampler);
    flooder?.kill('SIGKILL');
    for (const c of clients) c.close();
    const code = await serve.stop('SIGTERM');
    if (!options.scratch) fs.rmSync(scratch, { recursive: true, force: true });
    if (code !== 0) throw new Error(`harness serve exited with ${code}:\n${serve.stderr()}`);
  }
}

// ---- the bench section ----

const REQUESTS = 5000;
const QUICK_REQUESTS = 1000;
const HOLD_MS = 3000;
const TARGET_CLAIM_P99_MS = 50;
const TARGET_RSS_MB = 300;

async function runFloodSection(options: BenchOptions): Promise<SectionResult> {
  const runs: FloodResult[] = [];
  for (let r = 0; r < options.runs; r++) {
    const result = await runFlood({ root: options.root, requests: options.quick ? QUICK_REQUESTS : REQUESTS, holdMs: options.quick ? 1000 : HOLD_MS });
    process.stderr.write(
      `[flood] run ${r + 1}/${options.runs}: claim p99 ${num(result.all.p99)} ms, peak RSS ${num(result.peak_rss_mb)} MB, drain ${num(result.flooder.drain_ms)} ms\n`,
    );
    runs.push(result);
  }
  const pick = (f: (x: FloodResult) => number) => fmt(summarize(runs.map(f)));
  const first = runs[0]!;
  const table: Table = {
    title: `Pipelining flood: ${first.requests} task_list requests written at once, ${num(first.reply_bytes_each / 1024)} KB per reply (median of ${options.runs} run${options.runs === 1 ? '' : 's'})`,
    columns: ['figure', 'value', 'target'],
    rows: [
      ['other clients, claim p50 before the flood (ms)', pick((x) => x.quiet.p50), ''],
      ['other clients, claim p99 before the flood (ms)', pick((x) => x.quiet.p99), ''],
      ['other clients, claim p50 while held (ms)', pick((x) => x.held.p50), ''],
      ['other clients, claim p99 while held (ms)', pick((x) => x.held.p99), `< ${TARGET_CLAIM_P99_MS}`],
      ['other clients, claim p50 while draining (ms)', pick((x) => x.draining.p50), ''],
      ['other clients, claim p99 while draining (ms)', pick((x) => x.draining.p99), `< ${TARGET_CLAIM_P99_MS}`],
      ['claims measured', pick((x) => x.all.n), ''],
      [`${first.pipeline.count} pings pipelined in one write: replies/s`, pick((x) => x.pipeline.replies_per_s), ''],
      ['  the server\'s CPU per ping (µs)', pick((x) => x.pipeline.server_us_per_reply), ''],
      ['server RSS before the flood (MB)', pick((x) => x.baseline_rss_mb), ''],
      ['server peak RSS (MB)', pick((x) => x.peak_rss_mb), `< ${TARGET_RSS_MB}`],
      ['flooder: time to drain every reply (ms)', pick((x) => x.flooder.drain_ms), ''],
      [
        'flooder: replies received, in order',
        runs.map((x) => `${x.flooder.replies}${x.flooder.in_order ? '' : ' OUT OF ORDER'}${x.flooder.closed_early ? ' (dropped)' : ''}`).join(', '),
        `${first.requests}`,
      ],
    ],
    notes: [
      `the claimers are 4 other connections, each claiming and releasing a task in a loop (5 ms apart): for ${options.quick ? 1000 : HOLD_MS} ms`,
      `  before the flood, then while the flooder does not read (${options.quick ? 1000 : HOLD_MS} ms, "held"), then while it reads everything ("draining")`,
    ],
  };
  return { tables: [table], data: { runs } };
}

export const floodSection: Section = {
  name: 'flood',
  description: 'one connection pipelining thousands of task_list requests without reading; the others’ claim latency, server memory',
  run: runFloodSection,
};
