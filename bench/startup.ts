// The start-up benchmark, end to end through the real processes: `harness serve` from spawn to
// its ready line (empty worktree, 10k tasks replayed from the journal after a SIGKILL, 10k tasks
// from the snapshot a clean stop leaves), plan_import of 10k tasks over the socket, and what one
// CLI call costs. What FileStore.open costs alone (1k/10k/100k, snapshot vs journal) is the core
// section's Start-up table; it is not repeated here.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { HarnessClient } from '../src/client/client';
import { makePlan, scratchBase } from './core';
import type { BenchOptions, Section, SectionResult } from './section';
import { cleanEnv, importPlan, processRssMb, startServe } from './serve';
import { count, fmt, summarize, type Summary, type Table } from './stats';
import { Ping } from '../src/protocol/meta';
import { PlanImport, Status } from '../src/protocol/tasks';

const run = promisify(execFile);
const TASKS = 10_000;
const QUICK_TASKS = 2_000;
const CLI_CALLS = 10;

interface StartupRun {
  empty_ready_ms: number;
  first_ping_ms: number;
  import_ms: number;
  import_requests: number;
  import_bytes: number;
  minimal_import_ms: number;
  journal_ready_ms: number;
  journal_rss_mb: number;
  stop_ms: number;
  snapshot_ready_ms: number;
  snapshot_rss_mb: number;
  cli_status_ms: number[];
}

async function once(options: BenchOptions, dir: string, tasks: number): Promise<StartupRun> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); // owner-only: the socket goes in it
  const socket = path.join(dir, 's.sock');
  const plan = makePlan(tasks);

  // 1. An empty worktree: spawn → ready line, then connect + ping.
  let serve = await startServe(options.root, dir, socket);
  const emptyReady = serve.ready_ms;
  let t = performance.now();
  let client = await HarnessClient.connect(socket);
  await client.call(Ping);
  const firstPing = performance.now() - t;

  // 2. The plan over the socket: realistic tasks (split to fit the 1 MiB line cap), then the same
  //    count of minimal tasks ({"id"}) in one request.
  t = performance.now();
  const requests = await importPlan(client, plan);
  const importMs = performance.now() - t;
  t = performance.now();
  await client.call(PlanImport, { tasks: Array.from({ length: tasks }, (_, i) => ({ id: `m${i}` })) });
  const minimalMs = performance.now() - t;
  client.close();

  // 3. SIGKILL: the next start replays the journal (no snapshot was written).
  await serve.stop('SIGKILL');
  serve = await startServe(options.root, dir, socket);
  const journalReady = serve.ready_ms;
  const journalRss = processRssMb(serve.pid);

  // 4. A clean stop writes a snapshot; the next start loads it.
  t = performance.now();
  const code = await serve.stop('SIGTERM');
  const stopMs = performance.now() - t;
  if (code !== 0) throw new Error(`harness serve exited with ${code} on SIGTERM:\n${serve.stderr()}`);
  serve = await startServe(options.root, dir, socket);
  const snapshotReady = serve.ready_ms;
  const snapshotRss = processRssMb(serve.pid);

  // 5. One CLI call, start to exit: `harness status` against this coordinator.
  const cli: number[] = [];
  for (let i = 0; i < CLI_CALLS; i++) {
    t = performance.now();
    await run(process.execPath, [path.join(options.root, 'dist', 'cli.js'), 'status'], { env: cleanEnv({ HARNESS_SOCKET: socket }) });
    cli.push(performance.now() - t);
  }
  client = await HarnessClient.connect(socket);
  const status = await client.call(Status);
  client.close();
  await serve.stop('SIGTERM');
  if (status.counts.pending !== 2 * tasks) throw new Error(`expected ${2 * tasks} pending tasks after the restarts, got ${JSON.stringify(status.counts)}`);
  return {
    empty_ready_ms: emptyReady,
    first_ping_ms: firstPing,
    import_ms: importMs,
    import_requests: requests,
    import_bytes: Buffer.byteLength(JSON.stringify({ command: 'plan_import', tasks: plan })),
    minimal_import_ms: minimalMs,
    journal_ready_ms: journalReady,
    journal_rss_mb: journalRss,
    stop_ms: stopMs,
    snapshot_ready_ms: snapshotReady,
    snapshot_rss_mb: snapshotRss,
    cli_status_ms: cli,
  };
}

function pick<T>(values: T[], f: (v: T) => number): Summary {
  return summarize(values.map(f));
}

async function runStartup(options: BenchOptions): Promise<SectionResult> {
  const tasks = options.quick ? QUICK_TASKS : TASKS;
  const { base, where } = scratchBase(options.root);
  const scratch = fs.mkdtempSync(path.join(base, 'harness-bench-'));
  try {
    const runs: StartupRun[] = [];
    for (let r = 0; r < options.runs; r++) {
      runs.push(await once(options, path.join(scratch, `wt${r}`), tasks));
      process.stderr.write(`[startup] run ${r + 1}/${options.runs}: import ${Math.round(runs[r]!.import_ms)} ms, ready from snapshot ${Math.round(runs[r]!.snapshot_ready_ms)} ms\n`);
    }
    const n = count(tasks);
    const label = `median of ${options.runs} run${options.runs === 1 ? '' : 's'}${options.runs > 1 ? ' (min–max)' : ''}`;
    const table: Table = {
      title: `Start-up and plan import through harness serve (${label})`,
      columns: ['what', 'ms', 'RSS MB'],
      rows: [
        ['serve ready, empty worktree (spawn → ready line)', fmt(pick(runs, (r) => r.empty_ready_ms)), '-'],
        ['first connect + ping', fmt(pick(runs, (r) => r.first_ping_ms)), '-'],
        [`plan_import ${n} tasks over the socket, ${runs[0]!.import_requests} request(s)`, fmt(pick(runs, (r) => r.import_ms)), '-'],
        [`plan_import ${n} minimal tasks ({"id"}), 1 request`, fmt(pick(runs, (r) => r.minimal_import_ms)), '-'],
        [`serve ready after SIGKILL, ${n} tasks: journal replay`, fmt(pick(runs, (r) => r.journal_ready_ms)), fmt(pick(runs, (r) => r.journal_rss_mb))],
        ['SIGTERM → exit (writes the snapshot)', fmt(pick(runs, (r) => r.stop_ms)), '-'],
        [`serve ready, ${2 * tasks} tasks from the snapshot`, fmt(pick(runs, (r) => r.snapshot_ready_ms)), fmt(pick(runs, (r) => r.snapshot_rss_mb))],
        ['one CLI call: `harness status`, spawn → exit', fmt(summarize(runs.flatMap((r) => r.cli_status_ms))), '-'],
      ],
      notes: [
        `the realistic plan (bench/core.ts makePlan) is ${(runs[0]!.import_bytes / 1024 / 1024).toFixed(2)} MB of JSON: over the 1 MiB line cap, so it goes in ${runs[0]!.import_requests} plan_import requests (each atomic on its own)`,
        '  — `harness plan import FILE` stages a plan this size in pieces (plan_stage) and imports it in one atomic plan_import',
        'journal replay: the 2nd start, after a SIGKILL (no snapshot); snapshot: the 3rd start, after a clean SIGTERM',
        'FileStore.open alone (no process, no socket) at 1k/10k/100k tasks: see the core section\'s Start-up table',
        `RSS of the server right after its ready line; files under ${where}; CLI calls: ${CLI_CALLS} per run, median over all`,
      ],
    };
    return { tables: [table], data: { scratch: where, tasks, runs } };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export const startupSection: Section = {
  name: 'startup',
  description: 'harness serve start-up (empty, journal replay, snapshot), plan_import of 10k tasks over the socket, one CLI call',
  run: runStartup,
};
