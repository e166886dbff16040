// Helpers shared by the sections that drive a real `harness serve` (socket, startup, exec): spawn
// it, wait for its ready line, read its CPU time, stop it; a tiny pipelining-free NDJSON caller.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { HarnessClient } from '../src/client/client';
import type { TaskInput } from '../src/protocol/model';
import { PlanImport } from '../src/protocol/tasks';

export interface ServeChild {
  child: ChildProcess;
  pid: number;
  socket: string;
  /** From spawn to the ready line on stdout, ms. */
  ready_ms: number;
  stderr(): string;
  /** Sends `signal` and waits for the exit; returns the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Every `harness serve` a section started and has not seen exit. */
const running = new Set<ChildProcess>();

/** SIGKILLs the `harness serve` processes still running (those a failed section left behind). */
export async function killServeChildren(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      return exited;
    }),
  );
}

/** The environment for children: ours without HARNESS_* / XDG_RUNTIME_DIR, so nothing reaches a real coordinator. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HARNESS_') && k !== 'XDG_RUNTIME_DIR') env[k] = v;
  return { ...env, ...extra };
}

/**
 * Starts `node [nodeFlags] dist/cli.js serve --worktree W --socket S` and resolves once it printed
 * its ready line. `nodeFlags` may carry e.g. `--cpu-prof --cpu-prof-dir=DIR`.
 */
export async function startServe(root: string, worktree: string, socket: string, nodeFlags: string[] = []): Promise<ServeChild> {
  const cli = path.join(root, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\``);
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeFlags, cli, 'serve', '--worktree', worktree, '--socket', socket], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const readyMs = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      try {
        if ((JSON.parse(line) as { data?: { ready?: boolean } }).data?.ready) return resolve(performance.now() - t0);
      } catch {
        // falls through
      }
      reject(new Error(`harness serve did not start: ${line}\n${stderr}`));
    });
    void exited.then((c) => reject(new Error(`harness serve exited (${c}) before it was ready\n${stderr}`)));
  });
  return {
    child,
    pid: child.pid!,
    socket,
    ready_ms: readyMs,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** CPU time (user + system) a live process has used so far, ms, from /proc (Linux only; NaN elsewhere). */
export function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11], fields[12] = utime, stime (stat fields 14 and 15), in clock ticks (100 Hz on Linux)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** CPU time (all states but idle and iowait) the whole machine has used so far, ms, from /proc/stat (NaN elsewhere). */
export function machineCpuMs(): number {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...; guest time is already inside user and nice
    const busy = fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]! + (fields[7] ?? 0);
    return (busy * 1000) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Runs a load generator, `node SELF COMMAND JSON`, which prints "go" when its clock starts, "done"
 * when it stops, then its result as the last line (JSON). Between "go" and "done" the CPU time of
 * `serverPids` and of the whole machine is sampled from /proc.
 */
export async function runLoadChild<T>(
  self: string,
  command: string,
  args: unknown,
  serverPids: number[],
): Promise<{ result: T; server_cpu_ms: number; machine_cpu_ms: number }> {
  const child = spawn(process.execPath, [self, command, JSON.stringify(args)], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const serverCpu = () => serverPids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  let go = { server: NaN, machine: NaN };
  let done = { server: NaN, machine: NaN };
  let last = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'go') go = { server: serverCpu(), machine: machineCpuMs() };
    else if (line === 'done') done = { server: serverCpu(), machine: machineCpuMs() };
    else last = line;
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`load generator ${command} failed (${code}):\n${stderr}`);
  return { result: JSON.parse(last) as T, server_cpu_ms: done.server - go.server, machine_cpu_ms: done.machine - go.machine };
}

/** Resident memory of a live process, MB, from /proc (NaN elsewhere). */
export function processRssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Imports `tasks` over the socket in as few plan_import requests as the line cap allows; returns the request count. */
export async function importPlan(client: HarnessClient, tasks: TaskInput[], maxLineBytes = 1024 * 1024): Promise<number> {
  let requests = 0;
  let batch: TaskInput[] = [];
  let bytes = 64;
  const flush = async () => {
    if (batch.length === 0) return;
    await client.call(PlanImport, { tasks: batch });
    requests++;
    batch = [];
    bytes = 64;
  };
  for (const t of tasks) {
    const size = Buffer.byteLength(JSON.stringify(t)) + 1;
    if (bytes + size > maxLineBytes - 1024) await flush();
    batch.push(t);
    bytes += size;
  }
  await flush();
  return requests;
}

export function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
