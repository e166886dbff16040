// Crash under load: a real `harness serve`, 32 worker connections (one per process in the full
// form, 8 per process in the short one) claiming and completing, the coordinator SIGKILLed at
// random moments and restarted on the same worktree and socket, round after round. A checker
// holds the invariants from what the clients saw acknowledged:
//  - no acknowledged change is lost (acked completes stay completed by their worker under their
//    token, acked claims' fencing tokens never go back, acked imports exist, a plan import is
//    all or nothing);
//  - never two live leases on one task (one fencing token is handed to one worker only; a task is
//    completed under one token, by one acknowledged complete, and no acked claim carries a later token);
//  - every task completed exactly once at the end, none stuck (all completed within a deadline).
// HARNESS_SEED=<n> repeats a run's random choices; HARNESS_RELIABILITY=full is the long form.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { HarnessClient } from '../../src/client/client';
import type { Task } from '../../src/core/model';
import { childEnv, cleanupAll, ensureCliBuilt, ServeProcess, tempDir, within } from '../support/harness-process';
import { bundleScript, FULL, rng, scale, seedFromEnv, sleep } from '../support/reliability';
import { listAllTasks } from '../../src/client/paging';
import { PlanImport, Status } from '../../src/protocol/tasks';

const PROCESSES = scale(4, 32);
const PER_PROCESS = scale(8, 1);
const ROUNDS = scale(4, 20);
const INITIAL_TASKS = scale(3000, 8000);
const TASKS_PER_ROUND = scale(500, 600);
const SLOW_FRACTION = 0.01;
const DRAIN_DEADLINE_MS = scale(60_000, 120_000);

interface Ack {
  kind: 'claim' | 'done' | 'late' | 'lost-complete';
  task: string;
  token: number;
  worker: string;
}

/** Everything the workers and the importer were told, in arrival order, and the rules over it. */
class Ledger {
  readonly log: Ack[] = [];
  readonly violations: string[] = [];
  readonly errors: string[] = [];
  readonly holders = new Map<string, Map<number, string>>();
  readonly done = new Map<string, Ack[]>();
  counts = { claim: 0, done: 0, reject: 0, late: 0, lostClaim: 0, lostComplete: 0 };

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

interface Import {
  ids: string[];
  acked: boolean;
  settled: boolean;
}

function makeBatch(prefix: string, n: number, rand: () => number): Array<Record<string, unknown>> {
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

async function taskMap(client: HarnessClient): Promise<Map<string, Task>> {
  return new Map((await listAllTasks(client)).map((t) => [t.id, t]));
}

describe('reliability: crash under load', function () {
  this.timeout(scale(240_000, 900_000));
  const workers: ChildProcess[] = [];

  afterEach(async () => {
    for (const w of workers.splice(0)) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await cleanupAll();
  });

  it(`holds its invariants over ${ROUNDS} SIGKILLs of the coordinator with ${PROCESSES * PER_PROCESS} worker connections`, async () => {
    ensureCliBuilt();
    const seed = seedFromEnv();
    const rand = rng(seed);
    const started = Date.now();
    const dir = tempDir('hrel-');
    const socket = path.join(dir, 'h.sock');
    let serve = await ServeProcess.start(dir, socket);
    const ledger = new Ledger();
    const imports: Import[] = [];
    const context = () => `seed ${seed} (HARNESS_SEED=${seed} to repeat)`;

    const importBatch = async (client: HarnessClient, ids: Array<Record<string, unknown>>) => {
      const record: Import = { ids: ids.map((t) => t.id as string), acked: false, settled: false };
      imports.push(record);
      try {
        await client.call(PlanImport, { tasks: ids });
        record.acked = true;
      } catch {
        // killed mid-import: all or nothing, checked after the restart
      } finally {
        record.settled = true;
      }
    };

    let admin = await HarnessClient.connect(socket);
    for (let i = 0; i < INITIAL_TASKS; i += 500) await importBatch(admin, makeBatch(`i${i}`, Math.min(500, INITIAL_TASKS - i), rand));

    // The workers.
    const script = bundleScript('reliability-worker');
    const exits: Array<Promise<number | null>> = [];
    for (let p = 0; p < PROCESSES; p++) {
      const child = spawn(process.execPath, [script, JSON.stringify({ socket, prefix: `w${p}`, connections: PER_PROCESS })], {
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      workers.push(child);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      createInterface({ input: child.stdout! }).on('line', (line) => ledger.ingest(line));
      exits.push(
        new Promise((resolve) =>
          child.once('exit', (code, signal) => {
            if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL') ledger.errors.push(`worker w${p} exited ${code ?? signal}: ${stderr}`);
            resolve(code);
          }),
        ),
      );
    }

    const kills: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const where = `round ${round}/${ROUNDS}, ${context()}`;
      const runFor = 150 + Math.floor(rand() * 1200);
      kills.push(runFor);
      // Imports at random moments of the round: some finish, some are cut by the kill.
      const batch = makeBatch(`r${round}`, TASKS_PER_ROUND, rand);
      const pieces = [batch.slice(0, TASKS_PER_ROUND / 2), batch.slice(TASKS_PER_ROUND / 2)];
      const importing = Promise.all(
        pieces.map(async (piece, k) => {
          await sleep(Math.floor(rand() * runFor * 1.2));
          if (admin.closed) return; // too late: the coordinator is already gone
          await importBatch(admin, piece.map((t) => ({ ...t, id: `${t.id as string}-${k}` })));
        }),
      );
      await sleep(runFor);
      const died = await serve.stop('SIGKILL');
      assert.equal(died.signal, 'SIGKILL', `${where}: harness serve should die of the SIGKILL:\n${serve.stderr}`);
      await importing;
      admin.close();

      serve = await ServeProcess.start(dir, socket);
      admin = await HarnessClient.connect(socket, { retryForMs: 10_000 });
      const mark = ledger.log.length; // acks that arrived so far are checked against a state read from now on
      const state = await taskMap(admin);
      ledger.checkDurable(state, mark, where);
      for (const imp of imports) {
        const present = imp.ids.filter((id) => state.has(id)).length;
        if (imp.acked && present !== imp.ids.length) ledger.violations.push(`${where}: acked import lost ${imp.ids.length - present} of ${imp.ids.length} tasks`);
        if (!imp.acked && present !== 0 && present !== imp.ids.length) ledger.violations.push(`${where}: an import was half applied (${present} of ${imp.ids.length})`);
      }
      assert.deepEqual(ledger.violations, [], `${where}: ${ledger.violations.slice(0, 20).join('\n')}`);
      assert.deepEqual(ledger.errors, [], `${where}: workers saw errors:\n${ledger.errors.slice(0, 20).join('\n')}`);
    }

    // Drain: every task completed within the deadline, no more kills.
    const deadline = Date.now() + DRAIN_DEADLINE_MS;
    let counts: Record<string, number> = {};
    for (;;) {
      ({ counts } = await admin.call(Status));
      const open = (counts.pending ?? 0) + (counts.running ?? 0);
      if (open === 0) break;
      if (Date.now() > deadline) break;
      await sleep(200);
    }
    for (const w of workers) w.kill('SIGTERM');
    await within(Promise.all(exits), 20_000, 'workers to exit');
    const mark = ledger.log.length;
    const final = await taskMap(admin);
    ledger.checkDurable(final, mark, `end, ${context()}`);
    ledger.checkFinal(final);
    admin.close();
    await serve.stop('SIGTERM');

    const summary =
      `${final.size} tasks, ${ROUNDS} kills after ${kills.join('/')} ms, acks: ${JSON.stringify(ledger.counts)}, ` +
      `imports ${imports.filter((i) => i.acked).length} acked / ${imports.length}, ${((Date.now() - started) / 1000).toFixed(1)} s, ${context()}`;
    console.log(`      ${summary}`);
    assert.deepEqual(ledger.violations, [], `${ledger.violations.slice(0, 30).join('\n')}\n${summary}`);
    assert.deepEqual(ledger.errors, [], `workers saw errors:\n${ledger.errors.slice(0, 20).join('\n')}`);
    assert.equal(counts.completed, final.size, `not all tasks completed within ${DRAIN_DEADLINE_MS} ms: ${JSON.stringify(counts)}`);
    assert.ok(ledger.counts.done > 0, 'the workers completed nothing');
    if (FULL) assert.ok(ledger.counts.reject > 0, 'no stale complete was refused: the fencing path was not exercised');
  });
});
