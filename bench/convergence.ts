// Parallel streams, measured: the same set of tasks (each sleeping a fixed time, as an agent
// waiting on a model or a test run does) run sequentially versus by N `harness work` workers,
// converged with a `harness wait --group` barrier. Reports the speedup and the coordination
// overhead = (parallel time - sequential time / N) / parallel time, with the bare commands run
// one after another (no harness at all) as the floor.

import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { HarnessClient } from '../src/client/client';
import { scratchBase } from './core';
import type { BenchOptions, Section, SectionResult } from './section';
import { cleanEnv, startServe } from './serve';
import { fmt, summarize, type Table } from './stats';
import { PlanImport } from '../src/protocol/tasks';

const runFile = promisify(execFile);
const TASK_SECONDS = 0.25;

function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Wall time from the plan being imported to the barrier returning, with `workers` workers. */
async function harnessRun(root: string, tasks: number, workers: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(scratchBase(root).base, 'converge-'));
  const socket = path.join(dir, 'h.sock');
  const serve = await startServe(root, dir, socket);
  const cli = path.join(root, 'dist', 'cli.js');
  const env = cleanEnv({ HARNESS_SOCKET: socket });
  try {
    const client = await HarnessClient.connect(socket);
    await client.call(PlanImport, {
      tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, group: 'g' })),
    });
    client.close();
    const started = performance.now();
    const wait = spawn(process.execPath, [cli, 'wait', '--group', 'g'], { env, stdio: 'ignore' });
    const children = Array.from({ length: workers }, (_, i) =>
      spawn(process.execPath, [cli, 'work', '--worker', `w${i}`, '--idle-exit', '0.5', '--', 'sleep', String(TASK_SECONDS)], {
        env,
        stdio: 'ignore',
      }),
    );
    const code = await exited(wait);
    const elapsed = performance.now() - started;
    if (code !== 0) throw new Error(`harness wait exited with ${code}`);
    await Promise.all(children.map(exited));
    return elapsed / 1000;
  } finally {
    await serve.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The same commands, one after another, without harness. */
async function bareRun(tasks: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < tasks; i++) await runFile('sleep', [String(TASK_SECONDS)]);
  return (performance.now() - started) / 1000;
}

export const convergenceSection: Section = {
  name: 'convergence',
  description: 'parallel streams vs sequential: speedup and coordination overhead',
  async run(options: BenchOptions): Promise<SectionResult> {
    const tasks = options.quick ? 8 : 24;
    const workerCounts = options.quick ? [4] : [2, 4, 8];
    const bare: number[] = [];
    const sequential: number[] = [];
    const parallel = new Map<number, number[]>(workerCounts.map((n) => [n, []]));
    for (let run = 0; run < options.runs; run++) {
      bare.push(await bareRun(tasks));
      sequential.push(await harnessRun(options.root, tasks, 1));
      for (const n of workerCounts) parallel.get(n)!.push(await harnessRun(options.root, tasks, n));
    }
    const seq = summarize(sequential);
    const rows: string[][] = [
      ['bare commands, one after another', '-', fmt(summarize(bare), ' s'), '-', '-'],
      ['1 harness worker', '1', fmt(seq, ' s'), '1.00', '-'],
    ];
    const data: Record<string, unknown> = { tasks, task_seconds: TASK_SECONDS, bare, sequential, parallel: Object.fromEntries(parallel) };
    for (const n of workerCounts) {
      const times = parallel.get(n)!;
      // Each run's ratio against the same run's sequential time: noise on the machine cancels out.
      const speedups = times.map((t, i) => sequential[i]! / t);
      const overheads = times.map((t, i) => (100 * (t - sequential[i]! / n)) / t);
      rows.push([`${n} harness workers`, String(n), fmt(summarize(times), ' s'), fmt(summarize(speedups), 'x'), fmt(summarize(overheads), ' %')]);
    }
    const perTask = summarize(sequential.map((s, i) => ((s - bare[i]!) / tasks) * 1000));
    const table: Table = {
      title: `Convergence: ${tasks} tasks of ${TASK_SECONDS} s each, barrier (harness wait --group) (median of ${options.runs} (min–max))`,
      columns: ['how', 'workers', 'wall time', 'speedup', 'overhead'],
      rows,
      notes: [
        'wall time: from the plan imported to `harness wait` returning (workers are started inside it: their start-up counts)',
        'speedup = sequential (1 worker) / parallel, per run; overhead = (parallel - sequential / N) / parallel',
        `harness cost per task, sequential: ${fmt(perTask, ' ms')} (1 worker's time minus the bare commands', per task: claim, spawn, complete)`,
        'the tasks sleep rather than compute: on this 2-core machine CPU-bound tasks could not go past 2x whatever the coordinator did',
      ],
    };
    return { tables: [table], data };
  },
};
