// The crash suites' ledger (crash-load.test.ts, cluster-load.test.ts): what the load workers
// (reliability-worker.ts) and the importer were told, in arrival order, and the invariants over it:
//  - no acknowledged change is lost (acked completes stay completed by their worker under their
//    token, acked claims' fencing tokens never go back, acked imports exist, a plan import is
//    all or nothing);
//  - never two live leases on one task (one fencing token is handed to one worker only; a task is
//    completed under one token, by one acknowledged complete, and no acked claim carries a later token);
//  - every task completed exactly once at the end, none stuck.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { HarnessClient } from '../../src/client/client';
import { listAllTasks } from '../../src/client/paging';
import type { Task } from '../../src/core/model';
import { PlanImport, Status } from '../../src/protocol/tasks';
import { childEnv, within } from './harness-process';
import { bundleScript, sleep } from './reliability';

export const SLOW_FRACTION = 0.01;

export interface Ack {
  kind: 'claim' | 'done' | 'late' | 'lost-complete';
  task: string;
  token: number;
  worker: string;
}

/** Everything the workers and the importer were told, in arrival order, and the rules over it. */
export class Ledger {
  readonly log: Ack[] = [];
  readonly violations: string[] = [];
  readonly errors: string[] = [];
  readonly holders = new Map<string, Map<number, string>>();
  readonly done = new Map<string, Ack[]>();
  counts = { claim: 0, done: 0, reject: 0, late: 0, lostClaim: 0, lostComplete: 0 };
  readonly imports: Import[] = [];

  /** Imports a plan, remembering whether it was acknowledged (a cut import must be all or nothing). */
  async importBatch(client: HarnessClient, tasks: Array<Record<string, unknown>>): Promise<void> {
    const record: Import = { ids: tasks.map((t) => t.id as string), acked: false, settled: false };
    this.imports.push(record);
    try {
      await client.call(PlanImport, { tasks });
      record.acked = true;
    } catch {
      // cut by a crash mid-import: all or nothing, checked afterwards
    } finally {
      record.settled = true;
    }
  }

  /** Every acknowledged import is wholly there; an unacknowledged one wholly or not at all. */
  checkImports(tasks: Map<string, Task>, where: string): void {
    for (const imp of this.imports) {
      const present = imp.ids.filter((id) => tasks.has(id)).length;
      if (imp.acked && present !== imp.ids.length) this.violations.push(`${where}: acked import lost ${imp.ids.length - present} of ${imp.ids.length} tasks`);
      if (!imp.acked && present !== 0 && present !== imp.ids.length) this.violations.push(`${where}: an import was half applied (${present} of ${imp.ids.length})`);
    }
  }

  ingest(line: string): void {
    const [kind, ...rest] = line.split(' ');
    switch (kind) {
      case 'claim':
      case 'done':
      case 'late':
      case 'lost-complete': {
        const [task, token, worker] = rest as [string, string, string];
        const ack: Ack = { kind, task, token: Number(token), worker };
        this.log.push(ack);
        if (kind === 'claim') {
          this.counts.claim++;
          let byToken = this.holders.get(task);
          if (!byToken) this.holders.set(task, (byToken = new Map()));
          const other = byToken.get(ack.token);
          if (other !== undefined && other !== worker) {
            this.violations.push(`two live leases: ${task} under fencing token ${ack.token} was handed to ${other} and to ${worker}`);
          }
          byToken.set(ack.token, worker);
        } else if (kind === 'done' || kind === 'late') {
          this.counts[kind]++;
          const list = this.done.get(task) ?? [];
          list.push(ack);
          this.done.set(task, list);
          if (list.length > 1) {
            this.violations.push(`${task} completed twice: ${list.map((a) => `${a.kind} by ${a.worker} under ${a.token}`).join(' and ')}`);
          }
        } else this.counts.lostComplete++;
        return;
      }
      case 'reject':
        this.counts.reject++;
        return;
      case 'lost-claim':
        this.counts.lostClaim++;
        return;
      case 'err':
        this.errors.push(line);
        return;
      default:
        if (line.trim()) this.errors.push(`unexpected line from a worker: ${line}`);
    }
  }

  /** Every acknowledgement that arrived before `mark` against a state read after it. */
  checkDurable(tasks: Map<string, Task>, mark: number, where: string): void {
    for (const ack of this.log.slice(0, mark)) {
      const t = tasks.get(ack.task);
      if (!t) {
        this.violations.push(`${where}: ${ack.kind} of ${ack.task} was acknowledged, the task is gone`);
        continue;
      }
      if (ack.kind === 'claim' && t.fencing_token < ack.token) {
        this.violations.push(`${where}: acked claim of ${ack.task} under token ${ack.token} lost (token now ${t.fencing_token})`);
      }
      if ((ack.kind === 'done' || ack.kind === 'late') && !(t.status === 'completed' && t.claimed_by === ack.worker && t.fencing_token === ack.token)) {
        this.violations.push(
          `${where}: acked complete of ${ack.task} by ${ack.worker} under ${ack.token} lost: now ${t.status}, ${t.claimed_by}, token ${t.fencing_token}`,
        );
      }
    }
  }

  /** At the end: each task completed under a token that was handed to its completer, by one complete. */
  checkFinal(tasks: Map<string, Task>): void {
    const lost = new Set(this.log.filter((a) => a.kind === 'lost-complete').map((a) => `${a.task} ${a.token} ${a.worker}`));
    for (const t of tasks.values()) {
      if (t.status !== 'completed') {
        this.violations.push(`stuck: ${t.id} is ${t.status} (held by ${t.claimed_by}, token ${t.fencing_token}, attempts ${t.attempts})`);
        continue;
      }
      const holder = this.holders.get(t.id)?.get(t.fencing_token);
      if (holder !== t.claimed_by) {
        this.violations.push(`${t.id} completed by ${t.claimed_by} under token ${t.fencing_token}, which was acked to ${holder ?? 'nobody'}`);
      }
      const maxToken = Math.max(...(this.holders.get(t.id)?.keys() ?? [0]));
      if (maxToken > t.fencing_token) {
        this.violations.push(`${t.id} completed under token ${t.fencing_token} after a claim under ${maxToken} was acknowledged (stale lease won)`);
      }
      const acks = this.done.get(t.id) ?? [];
      if (acks.length === 0 && !lost.has(`${t.id} ${t.fencing_token} ${t.claimed_by}`)) {
        this.violations.push(`${t.id} is completed but no complete by ${t.claimed_by} under ${t.fencing_token} was ever sent`);
      }
    }
  }
}

export interface Import {
  ids: string[];
  acked: boolean;
  settled: boolean;
}

export function makeBatch(prefix: string, n: number, rand: () => number): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => {
    const slow = rand() < SLOW_FRACTION;
    return {
      id: `${prefix}-${i}`,
      description: `reliability task ${prefix}-${i}`,
      max_attempts: 50,
      ...(slow ? { timeout_seconds: 1, payload: { slow: true, sleep_ms: 1200 } } : { payload: { n: i } }),
    };
  });
}

export async function taskMap(client: HarnessClient): Promise<Map<string, Task>> {
  return new Map((await listAllTasks(client)).map((t) => [t.id, t]));
}

/**
 * Starts `count` load worker processes (reliability-worker.ts), worker `p` with the arguments
 * `args(p)`; their report lines go into `ledger`. Resolves to the promises of their exits.
 */
export function spawnLoadWorkers(
  count: number,
  args: (p: number) => Record<string, unknown>,
  ledger: Ledger,
  children: ChildProcess[],
): Array<Promise<number | null>> {
  const script = bundleScript('reliability-worker');
  return Array.from({ length: count }, (_, p) => {
    const child = spawn(process.execPath, [script, JSON.stringify(args(p))], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    createInterface({ input: child.stdout! }).on('line', (line) => ledger.ingest(line));
    return new Promise<number | null>((resolve) =>
      child.once('exit', (code, signal) => {
        if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL') ledger.errors.push(`worker ${p} exited ${code ?? signal}: ${stderr}`);
        resolve(code);
      }),
    );
  });
}

/** Polls `status` until no task is pending or running, or the deadline; the last counts. */
export async function drain(admin: () => HarnessClient, deadlineMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { counts } = await admin().call(Status);
    if ((counts.pending ?? 0) + (counts.running ?? 0) === 0 || Date.now() > deadline) return counts;
    await sleep(200);
  }
}

/** Stops the load workers and waits for them. */
export async function stopLoadWorkers(children: ChildProcess[], exits: Array<Promise<number | null>>): Promise<void> {
  for (const w of children) w.kill('SIGTERM');
  await within(Promise.all(exits), 20_000, 'workers to exit');
}
