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
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { cleanupAll, ensureCliBuilt, ServeProcess, tempDir } from '../support/harness-process';
import { drain, Ledger, makeBatch, spawnLoadWorkers, stopLoadWorkers, taskMap } from '../support/ledger';
import { FULL, rng, scale, seedFromEnv, sleep } from '../support/reliability';

const PROCESSES = scale(4, 32);
const PER_PROCESS = scale(8, 1);
const ROUNDS = scale(4, 20);
const INITIAL_TASKS = scale(3000, 8000);
const TASKS_PER_ROUND = scale(500, 600);
const DRAIN_DEADLINE_MS = scale(60_000, 120_000);

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
    const context = () => `seed ${seed} (HARNESS_SEED=${seed} to repeat)`;

    let admin = await HarnessClient.connect(socket);
    for (let i = 0; i < INITIAL_TASKS; i += 500) await ledger.importBatch(admin, makeBatch(`i${i}`, Math.min(500, INITIAL_TASKS - i), rand));

    const exits = spawnLoadWorkers(PROCESSES, (p) => ({ socket, prefix: `w${p}`, connections: PER_PROCESS }), ledger, workers);

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
          await ledger.importBatch(admin, piece.map((t) => ({ ...t, id: `${t.id as string}-${k}` })));
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
      ledger.checkImports(state, where);
      assert.deepEqual(ledger.violations, [], `${where}: ${ledger.violations.slice(0, 20).join('\n')}`);
      assert.deepEqual(ledger.errors, [], `${where}: workers saw errors:\n${ledger.errors.slice(0, 20).join('\n')}`);
    }

    // Drain: every task completed within the deadline, no more kills.
    const counts = await drain(() => admin, DRAIN_DEADLINE_MS);
    await stopLoadWorkers(workers, exits);
    const mark = ledger.log.length;
    const final = await taskMap(admin);
    ledger.checkDurable(final, mark, `end, ${context()}`);
    ledger.checkFinal(final);
    admin.close();
    await serve.stop('SIGTERM');

    const summary =
      `${final.size} tasks, ${ROUNDS} kills after ${kills.join('/')} ms, acks: ${JSON.stringify(ledger.counts)}, ` +
      `imports ${ledger.imports.filter((i) => i.acked).length} acked / ${ledger.imports.length}, ${((Date.now() - started) / 1000).toFixed(1)} s, ${context()}`;
    console.log(`      ${summary}`);
    assert.deepEqual(ledger.violations, [], `${ledger.violations.slice(0, 30).join('\n')}\n${summary}`);
    assert.deepEqual(ledger.errors, [], `workers saw errors:\n${ledger.errors.slice(0, 20).join('\n')}`);
    assert.equal(counts.completed, final.size, `not all tasks completed within ${DRAIN_DEADLINE_MS} ms: ${JSON.stringify(counts)}`);
    assert.ok(ledger.counts.done > 0, 'the workers completed nothing');
    if (FULL) assert.ok(ledger.counts.reject > 0, 'no stale complete was refused: the fencing path was not exercised');
  });
});
