// A cluster under load and under fire: a real 3-node JetStream cluster (replicas 3) on loopback
// ports, 3 coordinators (`harness serve --nats`, each on a worktree and socket of its own), 32
// worker processes claiming and completing through them (each on one coordinator's socket, as a
// worker on that host would be). The leading coordinator is SIGKILLed round after round (and
// restarted, as a host's service manager would), a NATS server is SIGKILLed and restarted in some
// rounds, and the crash suite's checker (support/ledger.ts) holds its invariants over what the
// workers saw acknowledged: no acknowledged change lost, never two live leases on one task, every
// task completed exactly once, nothing stuck. Each take-over is timed: from the SIGKILL to the
// first write acknowledged through another coordinator.
// HARNESS_SEED=<n> repeats a run's random choices; HARNESS_RELIABILITY=full is the long form.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { HarnessClient } from '../../src/client/client';
import { CoordinatorCluster } from '../support/coordinator-cluster';
import { cleanupAll, ensureCliBuilt } from '../support/harness-process';
import { drain, Ledger, makeBatch, spawnLoadWorkers, stopLoadWorkers, taskMap } from '../support/ledger';
import { NatsCluster, stopAllNats } from '../support/nats-cluster';
import { FULL, rng, scale, seedFromEnv, sleep } from '../support/reliability';

const COORDINATORS = 3;
const WORKERS = 32;
const LEADER_KILLS = scale(10, 30);
const NATS_KILLS = scale(3, 6);
const INITIAL_TASKS = scale(2000, 6000);
const TASKS_PER_ROUND = scale(200, 400);
const DRAIN_DEADLINE_MS = scale(90_000, 180_000);
const SNAPSHOT_AFTER_BYTES = 256 * 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('reliability: a cluster under load, its leader and NATS servers killed', function () {
  this.timeout(scale(420_000, 1_800_000));
  const workers: ChildProcess[] = [];

  afterEach(async () => {
    for (const w of workers.splice(0)) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await cleanupAll();
    await stopAllNats();
  });

  it(`holds its invariants over ${LEADER_KILLS} SIGKILLs of the leader and ${NATS_KILLS} of a NATS server, ${WORKERS} workers`, async () => {
    ensureCliBuilt();
    const seed = seedFromEnv();
    const rand = rng(seed);
    const context = () => `seed ${seed} (HARNESS_SEED=${seed} to repeat)`;
    const started = Date.now();
    const nats = await NatsCluster.start(3);
    // Small snapshots: the leader snapshots and trims the log many times under the kills, and a
    // standby that falls behind a trim loads the state again.
    const cluster = await CoordinatorCluster.start(nats, COORDINATORS, { config: { snapshot_after_bytes: SNAPSHOT_AFTER_BYTES } });
    const ledger = new Ledger();

    // An admin client on a coordinator that is not about to be killed.
    let admin: HarnessClient | undefined;
    let adminOn = -1;
    const adminOnAnyBut = async (avoid: number) => {
      if (admin && !admin.closed && adminOn !== avoid) return admin;
      admin?.close();
      adminOn = (avoid + 1 + Math.floor(rand() * (COORDINATORS - 1))) % COORDINATORS;
      admin = await HarnessClient.connect(cluster.members[adminOn]!.socket, { retryForMs: 30_000 });
      return admin;
    };
    let leader = await cluster.leader();
    const first = await adminOnAnyBut(leader);
    for (let i = 0; i < INITIAL_TASKS; i += 500) await ledger.importBatch(first, makeBatch(`i${i}`, Math.min(500, INITIAL_TASKS - i), rand));

    const exits = spawnLoadWorkers(WORKERS, (p) => ({ socket: cluster.members[p % COORDINATORS]!.socket, prefix: `w${p}`, connections: 1 }), ledger, workers);

    const failovers: number[] = [];
    const natsRounds = new Set(Array.from({ length: NATS_KILLS }, (_, k) => Math.round(((k + 1) * LEADER_KILLS) / (NATS_KILLS + 1))));
    for (let round = 1; round <= LEADER_KILLS; round++) {
      const where = `round ${round}/${LEADER_KILLS}, ${context()}`;
      leader = await cluster.leader(60_000);
      const client = await adminOnAnyBut(leader);
      const runFor = 300 + Math.floor(rand() * 1200);
      // Imports at random moments of the round: some finish, some are cut by the kill.
      const batch = makeBatch(`r${round}`, TASKS_PER_ROUND, rand);
      const importing = ledger.importBatch(client, batch.map((t) => ({ ...t }))).catch(() => {});
      await sleep(runFor);

      await cluster.stopMember(leader, 'SIGKILL');
      const killed = Date.now();
      // The take-over, timed: the first write acknowledged through a surviving coordinator.
      const probe = await HarnessClient.connect(cluster.members[adminOn]!.socket, { retryForMs: 10_000 });
      for (let n = 0; ; n++) {
        const reply = await probe.send('state_put', { key: 'probe', value: { round, n } });
        if (reply.status === 'ok') break;
        if (Date.now() - killed > 60_000) assert.fail(`${where}: no write acknowledged within 60 s of the leader's death: ${JSON.stringify(reply)}`);
      }
      failovers.push(Date.now() - killed);
      probe.close();
      await importing;
      await cluster.startMember(leader).catch((e: Error) => assert.fail(`${where}: ${e.message}`));

      if (natsRounds.has(round)) {
        // A NATS server dies under load, the cluster carries on on two, then it comes back.
        const victim = Math.floor(rand() * nats.nodes.length);
        await nats.killNode(victim);
        await sleep(1500 + Math.floor(rand() * 1500));
        await nats.startNode(victim);
        await nats.waitForJetStream(60_000);
      }

      const check = await adminOnAnyBut(-1);
      const mark = ledger.log.length; // acks that arrived so far are checked against a state read from now on
      const state = await taskMap(check);
      ledger.checkDurable(state, mark, where);
      ledger.checkImports(state, where);
      if (ledger.violations.length > 0) {
        // The coordinators' logs go with the failure: which node led when, what the log refused.
        const file = path.join(os.tmpdir(), `harness-cluster-load-${seed}.log`);
        fs.writeFileSync(file, cluster.logs());
        assert.fail(`${where}: ${ledger.violations.slice(0, 20).join('\n')}\n(the coordinators' logs: ${file})`);
      }
      assert.deepEqual(ledger.errors, [], `${where}: workers saw errors:\n${ledger.errors.slice(0, 20).join('\n')}`);
    }

    const counts = await drain(() => admin!, DRAIN_DEADLINE_MS);
    await stopLoadWorkers(workers, exits);
    const mark = ledger.log.length;
    const final = await taskMap(admin!);
    ledger.checkDurable(final, mark, `end, ${context()}`);
    ledger.checkFinal(final);
    admin!.close();

    const logs = cluster.logs();
    const snapshots = (logs.match(/snapshot of record \d+ stored/g) ?? []).length;
    const reloads = (logs.match(/fell behind the trimmed log/g) ?? []).length;
    // What NATS lost after acknowledging it (put back by a coordinator), and copies found to differ.
    const restores = (logs.match(/this coordinator put back messages/g) ?? []).length;
    const divergences = (logs.match(/copy of the cluster log differs from the stream/g) ?? []).length;
    const snapshotFailures = logs.match(/could not write a snapshot.*/g) ?? [];
    const summary =
      `${snapshots} snapshots (${snapshotFailures.length} failed${snapshotFailures.length ? `: ${snapshotFailures[0]}` : ''}), ${reloads} standby reloads, ${restores} restores of messages NATS lost, ${divergences} diverged copies; ${final.size} tasks, ${LEADER_KILLS} leader kills, ${NATS_KILLS} NATS kills; failover median ${median(failovers)} ms, ` +
      `max ${Math.max(...failovers)} ms (${failovers.join('/')}); acks: ${JSON.stringify(ledger.counts)}, ` +
      `imports ${ledger.imports.filter((i) => i.acked).length} acked / ${ledger.imports.length}, ${((Date.now() - started) / 1000).toFixed(1)} s, ${context()}`;
    console.log(`      ${summary}`);
    assert.deepEqual(ledger.violations, [], `${ledger.violations.slice(0, 30).join('\n')}\n${summary}`);
    assert.deepEqual(ledger.errors, [], `workers saw errors:\n${ledger.errors.slice(0, 20).join('\n')}`);
    assert.equal(counts.completed, final.size, `not all tasks completed within ${DRAIN_DEADLINE_MS} ms: ${JSON.stringify(counts)}`);
    assert.ok(ledger.counts.done > 0, 'the workers completed nothing');
    if (FULL) assert.ok(ledger.counts.reject > 0, 'no stale complete was refused: the fencing path was not exercised');
    assert.ok(snapshots > 0, 'no snapshot was written: the trimmed log was not exercised');
  });
});
