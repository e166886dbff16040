// The exec benchmark: what `harness exec` adds to running a command, and how fast a command's
// output reaches a subscriber of the coordinator (`run:output` events).
//
// Overhead: `true` spawned directly, `node -e 0` (the floor of any Node CLI), and
// `node dist/cli.js exec -- true` without a coordinator and with one (the run is registered and
// finished over the socket), interleaved, ~20 of each, in the same run.
// Streaming: a child printing PRINT_MB through `harness exec` while a HarnessClient subscribed to
// the coordinator counts the `run:output` bytes it receives. Also the same child printing into a
// plain pipe (no harness) as the floor.

import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { HarnessClient } from '../src/client/client';
import { scratchBase } from './core';
import type { BenchOptions, Section, SectionResult } from './section';
import { cleanEnv, processCpuMs, processRssMb, startServe } from './serve';
import { fmt, num, summarize, type Summary, type Table } from './stats';
import { Ping } from '../src/protocol/meta';

const runFile = promisify(execFile);
const SPAWNS = 20;
const QUICK_SPAWNS = 5;
const PRINT_MB = 100;
const QUICK_PRINT_MB = 10;
const MB = 1024 * 1024;

/** A child that writes `mb` MB of 100-byte text lines to stdout as fast as the pipe takes them. */
function printer(mb: number): string[] {
  const script = `
const line = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3).slice(0, 99) + '\\n';
const chunk = Buffer.from(line.repeat(655)); // ~64 KB
let left = ${mb} * 1048576;
function go() {
  while (left > 0) {
    const b = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= b.length;
    if (!process.stdout.write(b)) return process.stdout.once('drain', go);
  }
}
go();`;
  return [process.execPath, '-e', script];
}

async function timeSpawn(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t = performance.now();
  await runFile(argv[0]!, argv.slice(1), { env, maxBuffer: 16 * MB });
  return performance.now() - t;
}

interface StreamResult {
  bytes_expected: number;
  bytes_received: number;
  events: number;
  /** run:output events the server skipped for this subscriber (it fell behind), as it reported. */
  events_skipped: number;
  /** From spawning `harness exec` to the subscriber receiving run:finished (or giving up 3 s after exec exited). */
  wall_ms: number;
  /** Bytes received / (spawn → the last run:output event received). */
  mb_per_s: number;
  exec_exit: number | null;
  server_cpu_ms: number;
  server_rss_after_mb: number;
  /** The same printer into a pipe read by this process, no harness. */
  direct_ms: number;
  direct_mb_per_s: number;
  subscriber_dropped: boolean;
}

async function stream(options: BenchOptions, socket: string, serverPid: number, mb: number): Promise<StreamResult> {
  // The floor: the printer into a pipe, read and dropped.
  let t = performance.now();
  await new Promise<void>((resolve, reject) => {
    const argv = printer(mb);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.on('data', () => {});
    child.once('error', reject);
    child.once('close', () => resolve());
  });
  const directMs = performance.now() - t;

  const sub = await HarnessClient.connect(socket);
  let bytes = 0;
  let events = 0;
  let lastAt = 0;
  let runId: string | undefined;
  let dropped = false;
  let skipped = 0;
  sub.onClose(() => (dropped = true));
  const finished = new Promise<void>((resolve) => {
    void sub.subscribe(['run:started', 'run:output', 'run:finished'], (e) => {
      const d = e.data as { run_id?: string; data?: string; run?: { run_id: string } };
      if (e.event === 'run:started') runId ??= d.run!.run_id;
      // The server skips live output to a subscriber that fell far behind, and says how much.
      else if (e.event === 'events:dropped') skipped += (e.data as { count: number }).count;
      else if (e.event === 'run:output') {
        events++;
        bytes += Buffer.byteLength(d.data ?? '');
        lastAt = performance.now();
      } else if (e.event === 'run:finished' && d.run?.run_id === runId) resolve();
    });
  });
  await sub.call(Ping); // the subscription is in place
  const cpu0 = processCpuMs(serverPid);
  t = performance.now();
  const exec = spawn(process.execPath, [path.join(options.root, 'dist', 'cli.js'), 'exec', '--', ...printer(mb)], {
    env: cleanEnv({ HARNESS_SOCKET: socket }),
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const exit = new Promise<number | null>((resolve) => exec.once('exit', (code) => resolve(code)));
  // Finished, or the exec gone and nothing more coming for a while.
  await Promise.race([finished, exit.then(() => new Promise((r) => setTimeout(r, 3000)))]);
  const wall = performance.now() - t;
  const receiving = (lastAt || performance.now()) - t;
  const code = await exit;
  const serverCpu = processCpuMs(serverPid) - cpu0;
  sub.close();
  return {
    bytes_expected: mb * MB,
    bytes_received: bytes,
    events,
    events_skipped: skipped,
    wall_ms: wall,
    mb_per_s: bytes / MB / (receiving / 1000),
    exec_exit: code,
    server_cpu_ms: serverCpu,
    server_rss_after_mb: processRssMb(serverPid),
    direct_ms: directMs,
    direct_mb_per_s: mb / (directMs / 1000),
    subscriber_dropped: dropped,
  };
}

interface ExecData {
  spawn: Record<string, number[]>;
  streams: StreamResult[];
}

async function runExec(options: BenchOptions): Promise<SectionResult> {
  const { base, where } = scratchBase(options.root);
  const scratch = fs.mkdtempSync(path.join(base, 'harness-bench-'));
  const cli = path.join(options.root, 'dist', 'cli.js');
  const n = options.quick ? QUICK_SPAWNS : SPAWNS;
  const mb = options.quick ? QUICK_PRINT_MB : PRINT_MB;
  const data: ExecData = { spawn: { direct: [], node: [], exec_alone: [], exec_coordinator: [] }, streams: [] };
  const serve = await startServe(options.root, scratch, path.join(scratch, 's.sock'));
  try {
    const noCoordinator = cleanEnv({ HARNESS_SOCKET: path.join(scratch, 'nobody.sock'), HARNESS_WORKER_ID: 'bench' });
    const withCoordinator = cleanEnv({ HARNESS_SOCKET: serve.socket, HARNESS_WORKER_ID: 'bench' });
    // Warm the page cache and node's compile cache paths once, unmeasured.
    await timeSpawn([process.execPath, cli, 'exec', '--', 'true'], noCoordinator);
    for (let i = 0; i < n; i++) {
      data.spawn.direct!.push(await timeSpawn(['true'], noCoordinator));
      data.spawn.node!.push(await timeSpawn([process.execPath, '-e', '0'], noCoordinator));
      data.spawn.exec_alone!.push(await timeSpawn([process.execPath, cli, 'exec', '--', 'true'], noCoordinator));
      data.spawn.exec_coordinator!.push(await timeSpawn([process.execPath, cli, 'exec', '--', 'true'], withCoordinator));
    }
    for (let r = 0; r < options.runs; r++) {
      const s = await stream(options, serve.socket, serve.pid, mb);
      data.streams.push(s);
      process.stderr.write(`[exec] stream run ${r + 1}/${options.runs}: ${num(s.bytes_received / MB)} of ${mb} MB at the subscriber, ${num(s.mb_per_s)} MB/s\n`);
    }
  } finally {
    await serve.stop('SIGTERM');
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return { tables: tables(data, n, mb, where, options), data: { scratch: where, ...data } };
}

function tables(data: ExecData, n: number, mb: number, where: string, options: BenchOptions): Table[] {
  const s = (k: string): Summary => summarize(data.spawn[k]!);
  const base = s('direct').median;
  const row = (label: string, k: string) => [label, fmt(s(k)), num(s(k).median - base)];
  const overhead: Table = {
    title: `exec overhead: spawn → exit, ${n} of each, interleaved (median (min–max))`,
    columns: ['command', 'ms', '+ms vs true'],
    rows: [
      row('true (spawned directly)', 'direct'),
      row('node -e 0 (the floor of any Node CLI)', 'node'),
      row('harness exec -- true (no coordinator)', 'exec_alone'),
      row('harness exec -- true (coordinator: run_start/run_finish)', 'exec_coordinator'),
    ],
    notes: [`each spawned from this process with execFile; harness = node dist/cli.js; scratch under ${where}`],
  };
  const st = data.streams;
  const pick = (f: (x: StreamResult) => number) => summarize(st.map(f));
  const streaming: Table = {
    title: `exec output streaming: a child printing ${mb} MB (100-byte lines) through harness exec, subscriber on the coordinator (median of ${options.runs})`,
    columns: ['MB at subscriber', 'of', 'MB/s at subscriber', 'run:output events', 'wall s', 'server CPU s', 'server RSS MB', 'direct pipe MB/s'],
    rows: [
      [
        fmt(pick((x) => x.bytes_received / MB)),
        String(mb),
        fmt(pick((x) => x.mb_per_s)),
        fmt(pick((x) => x.events)),
        fmt(pick((x) => x.wall_ms / 1000)),
        fmt(pick((x) => x.server_cpu_ms / 1000)),
        fmt(pick((x) => x.server_rss_after_mb)),
        fmt(pick((x) => x.direct_mb_per_s)),
      ],
    ],
    notes: [
      'MB/s at subscriber = run:output bytes received / (spawn of harness exec → last run:output event received); harness exec\'s own stderr echo goes to /dev/null',
      'the subscriber is a HarnessClient in the bench process (JSON-parses every event); printer, harness exec, server and subscriber share 2 cores',
      'direct pipe = the same printer into a pipe read by node, no harness: the floor',
      ...(st.some((x) => x.events_skipped > 0)
        ? [`skipped: the subscriber fell over 4 MiB behind, so the server skipped live output to it and told it (events:dropped: ${st.map((x) => x.events_skipped).join(', ')} events); the run's log keeps the output for run_log`]
        : []),
      ...(st.some((x) => x.bytes_received < x.bytes_expected && x.events_skipped === 0)
        ? [`LOSS: the subscriber received less than was printed, with nothing reported skipped, in ${st.filter((x) => x.bytes_received < x.bytes_expected && x.events_skipped === 0).length} of ${st.length} runs` +
            `${st.some((x) => x.subscriber_dropped) ? ' (the server dropped the subscriber as a slow consumer: its unsent events passed the 16 MB cap)' : ''}`]
        : st.every((x) => x.bytes_received === x.bytes_expected)
          ? ['every byte printed reached the subscriber']
          : []),
    ],
  };
  return [overhead, streaming];
}

export const execSection: Section = {
  name: 'exec',
  description: 'harness exec overhead vs spawning directly; output streaming MB/s to a run:output subscriber',
  run: runExec,
};
