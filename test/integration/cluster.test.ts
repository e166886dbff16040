// Coordinators of one cluster as real `harness serve --nats` processes over a real nats-server:
// forwarding, hot standbys, take-over after a SIGKILL, snapshots and the trimmed log, a deposed
// leader that was paused past its lease, credentials. The long form with a 3-node JetStream
// cluster under load is test/reliability/cluster-load.test.ts.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, nkeyAuthenticator, nkeys } from '@nats-io/transport-node';
import { clusterNames } from '../../src/cluster/names';
import { CoordinatorCluster } from '../support/coordinator-cluster';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { childEnv, cleanupAll, CLI, ensureCliBuilt, pollUntil, RawConnection, runCli, ServeProcess, tempDir, within } from '../support/harness-process';
import { killMcpWorkers, startMcpWorker } from '../support/mcp';
import { NatsCluster, stopAllNats } from '../support/nats-cluster';

/** Every message of a cluster's log stream: which node wrote it and the records it holds. */
async function logMessages(nats: NatsCluster, cluster: string): Promise<Array<{ seq: number; node: string; text: string }>> {
  const nc = await connect({ servers: nats.url.split(',') });
  try {
    const jsm = await jetstreamManager(nc);
    const names = clusterNames(cluster);
    const info = await jsm.streams.info(names.stream);
    const out: Array<{ seq: number; node: string; text: string }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(names.stream, { seq });
      if (m) out.push({ seq, node: m.header.get('Harness-Node'), text: m.string() });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** The log stream's state now (first and last message, how many). */
async function logState(nats: NatsCluster, cluster: string): Promise<{ first_seq: number; last_seq: number; messages: number }> {
  const nc = await connect({ servers: nats.url.split(',') });
  try {
    return (await (await jetstreamManager(nc)).streams.info(clusterNames(cluster).stream)).state;
  } finally {
    await nc.close();
  }
}

/** Waits for member `i` to lead, then checks that it holds exactly `tasks`. */
async function takesOverWith(cluster: CoordinatorCluster, i: number, tasks: unknown): Promise<void> {
  await pollUntil(async () => ((await cluster.ping(i))?.cluster.role === 'leader' ? true : undefined), 30_000, `coordinator ${i} to take over`);
  const d = await RawConnection.connect(cluster.members[i]!.socket);
  assert.deepEqual((await d.ok({ command: 'task_list' })).tasks, tasks);
}

describe('cluster: coordinators on NATS JetStream (real nats-server, real processes)', function () {
  this.timeout(120_000);
  let nats: NatsCluster;

  before(async function () {
    this.timeout(300_000);
    ensureCliBuilt();
    nats = await NatsCluster.start(1);
  });
  after(stopAllNats);
  afterEach(async () => {
    // Coordinators and temp dirs of the test; the NATS server stays for the next (each test has a cluster name of its own).
    await cleanupAll();
  });

  it('a standby forwards to the leader, and every coordinator holds the same state', async () => {
    const cluster = await CoordinatorCluster.start(nats, 2);
    const leader = await cluster.leader();
    const standby = 1 - leader;
    const c = await RawConnection.connect(cluster.members[standby]!.socket);
    await c.ok({ command: 'task_add', task: { id: 't1' } });
    await c.ok({ command: 'task_add', task: { id: 't2', dependencies: ['t1'] } });
    const claimed = await c.ok({ command: 'task_claim', worker_id: 'w1' });
    assert.equal(claimed.task.id, 't1');
    await c.ok({ command: 'task_complete', worker_id: 'w1', task_id: 't1', fencing_token: claimed.task.fencing_token });
    const refused = await c.request({ command: 'task_complete', worker_id: 'w1', task_id: 't1', fencing_token: claimed.task.fencing_token });
    assert.equal(refused.status, 'error', 'a second complete is refused through the forwarder as on one machine');
    const viaLeader = await RawConnection.connect(cluster.members[leader]!.socket);
    const t1 = (await viaLeader.ok({ command: 'task_get', task_id: 't1' })).task;
    assert.deepEqual([t1.status, t1.claimed_by], ['completed', 'w1']);
    // The standby applied every record the leader appended: both are at the same record.
    const records = await pollUntil(
      async () => {
        const [a, b] = await Promise.all([cluster.ping(0), cluster.ping(1)]);
        return a && b && a.cluster.record === b.cluster.record ? a.cluster.record : undefined;
      },
      10_000,
      'the standby to reach the leader’s record',
    );
    assert.ok(records >= 5, `records: ${records}`);
  });

  it('SIGKILL of the leader: the standby takes over and has every acknowledged change', async () => {
    const cluster = await CoordinatorCluster.start(nats, 2);
    const leader = await cluster.leader();
    const standby = 1 - leader;
    const c = await RawConnection.connect(cluster.members[standby]!.socket);
    for (let i = 0; i < 50; i++) await c.ok({ command: 'state_put', key: `k${i}`, value: i });
    await cluster.stopMember(leader, 'SIGKILL');
    const killed = Date.now();
    // Writes through the surviving coordinator succeed again once it leads. On a starved machine
    // a first leadership may be cut short under the request (UNAVAILABLE, outcome unknown): the
    // put is sent again, as a client does with an idempotent change.
    let reply = await c.request({ command: 'state_put', key: 'after', value: true });
    while (reply.status === 'error' && reply.code === 'UNAVAILABLE' && Date.now() - killed < 30_000) {
      reply = await c.request({ command: 'state_put', key: 'after', value: true });
    }
    const failover = Date.now() - killed;
    assert.equal(reply.status, 'ok', JSON.stringify(reply));
    assert.equal(await cluster.leader(), standby);
    for (let i = 0; i < 50; i++) assert.equal((await c.ok({ command: 'state_get', key: `k${i}` })).value, i);
    assert.ok(failover < 10_000, `failover took ${failover} ms`);
  });

  it('snapshots go to the object store and the log is trimmed; a coordinator started later loads them', async () => {
    const cluster = await CoordinatorCluster.start(nats, 1, { config: { snapshot_after_bytes: 8192 } });
    const c = await RawConnection.connect(cluster.members[0]!.socket);
    for (let i = 0; i < 200; i++) await c.ok({ command: 'task_add', task: { id: `t${i}`, description: 'x'.repeat(100) } });
    const claimed = await c.ok({ command: 'task_claim', worker_id: 'w' });
    // The leader snapshots off the request path once 8 KiB were appended; wait for the trim.
    const nc = await connect({ servers: nats.url.split(',') });
    const names = clusterNames(cluster.name);
    try {
      const jsm = await jetstreamManager(nc);
      await pollUntil(async () => ((await jsm.streams.info(names.stream)).state.first_seq > 1 ? true : undefined), 20_000, 'the log to be trimmed');
      const pointer = await (await new Kvm(nc).open(names.metaBucket)).get('snapshot');
      assert.ok(pointer && pointer.json<{ seq: number }>().seq > 0, 'the snapshot pointer names a record');
    } finally {
      await nc.close();
    }
    for (let i = 200; i < 210; i++) await c.ok({ command: 'task_add', task: { id: `t${i}` } });
    const before = (await c.ok({ command: 'task_list' })).tasks;
    c.close();
    // A new coordinator reads the snapshot and the rest of the log; then it is the only one.
    cluster.members.push({ dir: tempDir('hcl-'), socket: '', serve: undefined });
    cluster.members[1]!.socket = path.join(cluster.members[1]!.dir, 'h.sock');
    await cluster.startMember(1);
    assert.match(cluster.members[1]!.serve!.stderr, /state at record \d+ \(snapshot [1-9]\d* bytes/);
    await cluster.stopMember(0, 'SIGKILL');
    assert.equal(await cluster.leader(), 1);
    const d = await RawConnection.connect(cluster.members[1]!.socket);
    assert.deepEqual((await d.ok({ command: 'task_list' })).tasks, before);
    const again = await d.ok({ command: 'task_claim', worker_id: 'w' });
    assert.deepEqual([again.task.id, again.is_retry], [claimed.task.id, true], 'the lease survived the snapshot');
  });

  it('a standby that fell behind a trim of the log (paused meanwhile) loads the state again and can take over', async () => {
    const cluster = await CoordinatorCluster.start(nats, 2, { config: { snapshot_after_bytes: 8192 } });
    const leader = await cluster.leader();
    const standby = 1 - leader;
    const c = await RawConnection.connect(cluster.members[leader]!.socket);
    await c.ok({ command: 'task_add', task: { id: 'first' } });
    const paused = cluster.members[standby]!.serve!.child;
    paused.kill('SIGSTOP');
    try {
      const trimmedFrom = (await logState(nats, cluster.name)).last_seq;
      // Trimmed well past what the paused standby had read, and past what the server may have
      // pushed to it ahead of time (its pulls ask for 256 messages): those it must fetch, and they are gone.
      const trimmedPast = async () => (await logState(nats, cluster.name)).first_seq > trimmedFrom + 300;
      for (let i = 0; i < 5000 && !(i % 50 === 0 && (await trimmedPast())); i++) {
        await c.ok({ command: 'task_add', task: { id: `t${i}`, description: 'x'.repeat(200) } });
      }
      assert.ok(await trimmedPast(), 'the log was trimmed past what the standby had');
    } finally {
      paused.kill('SIGCONT');
    }
    await pollUntil(async () => (/fell behind the trimmed log/.test(cluster.members[standby]!.serve!.stderr) ? true : undefined), 20_000, 'the standby to notice');
    const expected = (await c.ok({ command: 'task_list' })).tasks;
    await cluster.stopMember(leader, 'SIGKILL');
    await takesOverWith(cluster, standby, expected);
  });

  it('a standby paused through a clean stop of the leader (its last snapshot trims the whole log) loads the state again and takes over', async () => {
    const cluster = await CoordinatorCluster.start(nats, 2);
    const leader = await cluster.leader();
    const standby = 1 - leader;
    const c = await RawConnection.connect(cluster.members[leader]!.socket);
    await c.ok({ command: 'task_add', task: { id: 'first' } });
    await pollUntil(async () => ((await cluster.ping(standby))?.cluster.record === (await cluster.ping(leader))?.cluster.record ? true : undefined), 10_000, 'the standby to follow');
    const paused = cluster.members[standby]!.serve!.child;
    paused.kill('SIGSTOP');
    let expected: unknown;
    try {
      // More messages than the server may push to the paused standby ahead of time (its pulls ask for 256).
      for (let i = 0; i < 400; i++) await c.ok({ command: 'task_add', task: { id: `t${i}` } });
      expected = (await c.ok({ command: 'task_list' })).tasks;
      c.close();
      await cluster.stopMember(leader, 'SIGTERM');
      assert.match(cluster.members[leader]!.serve!.stderr, /snapshot of record \d+ stored/);
    } finally {
      paused.kill('SIGCONT');
    }
    assert.equal((await logState(nats, cluster.name)).messages, 0, 'the last snapshot stands for the whole log');
    await takesOverWith(cluster, standby, expected);
    assert.match(cluster.members[standby]!.serve!.stderr, /trimmed past message/);
  });

  it('a deposed leader (SIGSTOP past its lease, then SIGCONT) writes nothing more; a complete sent to it is applied once', async () => {
    const cluster = await CoordinatorCluster.start(nats, 2);
    const leader = await cluster.leader();
    const standby = 1 - leader;
    const oldNode = (await cluster.ping(leader))!.cluster.node;
    const onOld = await RawConnection.connect(cluster.members[leader]!.socket);
    await onOld.ok({ command: 'task_add', task: { id: 't', timeout_seconds: 600 } });
    const claimed = await onOld.ok({ command: 'task_claim', worker_id: 'w1' });
    const watcher = await RawConnection.connect(cluster.members[standby]!.socket);
    await watcher.ok({ command: 'subscribe', events: ['task:completed'] });

    const paused = cluster.members[leader]!.serve!.child;
    paused.kill('SIGSTOP');
    try {
      await pollUntil(async () => ((await cluster.ping(standby))?.cluster.role === 'leader' ? true : undefined), 20_000, 'the standby to take over');
      // Sent while the old leader is paused: it reads it only after it resumes.
      onOld.write({ command: 'task_complete', worker_id: 'w1', task_id: 't', fencing_token: claimed.task.fencing_token, id: 'late' });
    } finally {
      paused.kill('SIGCONT');
    }
    const reply = await onOld.next(30_000);
    assert.equal(reply.id, 'late');
    assert.ok(reply.status === 'ok' || ['NOT_LEADER', 'UNAVAILABLE'].includes(reply.code), JSON.stringify(reply));
    // The same complete again, now through the new leader: refused if the first was applied.
    const onNew = await RawConnection.connect(cluster.members[standby]!.socket);
    const second = await onNew.request({ command: 'task_complete', worker_id: 'w1', task_id: 't', fencing_token: claimed.task.fencing_token });
    assert.ok(reply.status === 'ok' ? second.status === 'error' : second.status === 'ok', `first ${JSON.stringify(reply)}, second ${JSON.stringify(second)}`);
    const completed = await watcher.next(10_000);
    assert.equal(completed.event, 'task:completed');
    await assert.rejects(watcher.next(1_000), /timed out/, 'the task was completed once');

    // At the log: once the new leader's first record is in, nothing more from the old one.
    const messages = await logMessages(nats, cluster.name);
    const takeover = messages.findIndex((m) => m.node !== oldNode);
    assert.ok(takeover > 0, 'the new leader wrote');
    assert.match(messages[takeover]!.text, /cluster_leader/, 'its first record names it');
    const after = messages.slice(takeover).filter((m) => m.node === oldNode);
    assert.deepEqual(after, [], 'the deposed leader appended nothing after the take-over');
    assert.match(cluster.members[leader]!.serve!.stderr, /no longer leading|leadership lost/);
  });

  it('harness --nats: a host with no coordinator talks to the cluster; harness watch follows all of it, a change of leader included', async () => {
    const cluster = await CoordinatorCluster.start(nats, 2);
    const leader = await cluster.leader();
    const standby = 1 - leader;
    const host = tempDir('hdirect-'); // no coordinator here: only the NATS address
    fs.mkdirSync(path.join(host, 'sub'));
    const env = childEnv({ HARNESS_NATS_URL: nats.url, HARNESS_CLUSTER: cluster.name, HARNESS_WORKER_ID: 'direct-w', HARNESS_WORKSPACE: host });
    const watch = spawn(process.execPath, [CLI, 'watch', '--format', 'json'], { env, cwd: host, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const events: Array<{ event: string; data: any }> = [];
      createInterface({ input: watch.stdout! }).on('line', (l) => events.push(JSON.parse(l)));
      let err = '';
      watch.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await pollUntil(async () => (/watching/.test(err) ? true : undefined), 20_000, 'harness watch to subscribe');

      const ok = async (args: string[]) => {
        const r = await runCli(args, env, host);
        assert.equal(r.code, 0, `harness ${args.join(' ')}: ${r.stdout}${r.stderr}`);
        return r.json.data;
      };
      await ok(['task', 'add', '--id', 'd1']);
      const claimed = await ok(['task', 'claim']);
      assert.deepEqual([claimed.task.id, claimed.task.claimed_by], ['d1', 'direct-w']);
      await ok(['task', 'complete', '--id', 'd1']);
      const lock = await ok(['lock', 'acquire', path.join(host, 'sub', 'file.txt')]);
      assert.equal(lock.lock.path, 'sub/file.txt', 'the lock path is workspace-relative, the same on every host');
      const ping = await ok(['ping']);
      assert.equal(ping.cluster.role, 'leader', 'the leader answers');
      const isolate = await runCli(['isolate'], env, host);
      assert.equal(isolate.code, 1);
      assert.match(isolate.json.message, /isolate works on one host's repository/);

      await cluster.stopMember(leader, 'SIGKILL');
      const standbyNode = (await cluster.ping(standby))!.cluster.node;
      await pollUntil(async () => (events.some((e) => e.event === 'cluster:leader' && e.data.leader.node === standbyNode) ? true : undefined), 20_000, 'the leader change in harness watch');
      assert.ok(events.some((e) => e.event === 'task:added' && e.data.tasks[0].id === 'd1'));
      assert.ok(events.some((e) => e.event === 'task:completed' && e.data.task.id === 'd1'));
      // The new leader takes requests from the same host, still without a coordinator there.
      assert.equal((await ok(['task', 'show', '--id', 'd1'])).task.status, 'completed');
    } finally {
      watch.kill('SIGKILL');
    }
    const none = await runCli(['task', 'list'], childEnv({ HARNESS_NATS_URL: nats.url, HARNESS_CLUSTER: 'never_started' }), host);
    assert.equal(none.code, 1);
    assert.match(none.json.message, /no coordinator of cluster never_started on nats:\/\/127\.0\.0\.1:\d+ has started/);
  });

  it('harness mcp on a standby and through --nats: an agent claims, the leader dies, its complete is applied once by the next leader', async () => {
    const cluster = await CoordinatorCluster.start(nats, 2);
    const leader = await cluster.leader();
    const standby = 1 - leader;
    const c = await RawConnection.connect(cluster.members[standby]!.socket);
    for (const id of ['m1', 'm2']) await c.ok({ command: 'task_add', task: { id } });
    const host = tempDir('hmcp-');
    try {
      // One agent on the standby's socket (every call forwarded), one on a host without a coordinator.
      const onStandby = await startMcpWorker({ socket: cluster.members[standby]!.socket, workerId: 'mcp-standby', cwd: host });
      const direct = await startMcpWorker({ socket: path.join(host, 'none.sock'), workerId: 'mcp-direct', cwd: host, args: ['--nats', nats.url, '--cluster', cluster.name] });
      const first = (await onStandby.ok('task_claim')).task;
      const second = (await direct.ok('task_claim')).task;
      assert.deepEqual([first.id, second.id].sort(), ['m1', 'm2']);
      await cluster.stopMember(leader, 'SIGKILL');
      // Sent while no coordinator leads: held and sent again until the standby takes over.
      assert.equal((await onStandby.ok('task_complete', { task_id: first.id })).task.status, 'completed');
      assert.equal((await direct.ok('task_complete', { task_id: second.id })).task.status, 'completed');
      assert.equal(await cluster.leader(), standby);
      const tasks = (await c.ok({ command: 'task_list' })).tasks as Array<{ id: string; status: string; attempts: number }>;
      assert.deepEqual(
        tasks.map((t) => [t.id, t.status, t.attempts]),
        [
          ['m1', 'completed', 1],
          ['m2', 'completed', 1],
        ],
      );
    } finally {
      await killMcpWorkers();
    }
  });

  describe('credentials', () => {
    let secured: NatsCluster;
    before(async function () {
      this.timeout(60_000);
      secured = await NatsCluster.start(1, {
        extraConfig: 'authorization { user: "harness", password: "s3cret-Pa55" }',
        client: { user: 'harness', pass: 's3cret-Pa55' },
      });
    });
    after(() => secured?.stop());

    it('user and password from the environment; a wrong password is a clear error that does not print it', async () => {
      const ok = await CoordinatorCluster.start(secured, 1, { env: { HARNESS_NATS_USER: 'harness', HARNESS_NATS_PASSWORD: 's3cret-Pa55' } });
      assert.equal(await ok.leader(), 0);
      const dir = tempDir('hcl-');
      const bad = ServeProcess.spawn(['--worktree', dir, '--socket', path.join(dir, 'h.sock'), '--nats', secured.url, '--cluster', 'bad'], childEnv({ HARNESS_NATS_USER: 'harness', HARNESS_NATS_PASSWORD: 'wrong-Pa55' }));
      const exit = await within(bad.exited, 30_000, 'serve with a wrong password to exit');
      assert.notEqual(exit.code, 0);
      const out = bad.stdout + bad.stderr;
      assert.match(out, /could not connect to NATS for cluster bad on nats:\/\/127\.0\.0\.1:\d+: .*(Authorization|authorization|auth)/i);
      assert.doesNotMatch(out, /wrong-Pa55|s3cret-Pa55/);
    });

    it('a token, and an nkey seed file (refused while others may read it)', async () => {
      const token = 'T0ken-of-the-cluster';
      const withToken = await NatsCluster.start(1, { extraConfig: `authorization { token: "${token}" }`, client: { token } });
      const user = nkeys.createUser();
      const withNkey = await NatsCluster.start(1, {
        extraConfig: `authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }`,
        client: { authenticator: nkeyAuthenticator(user.getSeed()) },
      });
      try {
        const a = await CoordinatorCluster.start(withToken, 1, { env: { HARNESS_NATS_TOKEN: token } });
        assert.equal(await a.leader(), 0);
        assert.doesNotMatch(a.logs(), new RegExp(token));
        const seedFile = path.join(tempDir('hcl-'), 'user.nk');
        fs.writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()) + '\n', { mode: 0o644 });
        fs.chmodSync(seedFile, 0o644);
        const dir = tempDir('hcl-');
        const refused = ServeProcess.spawn(['--workspace', dir, '--socket', path.join(dir, 'h.sock'), '--nats', withNkey.url, '--cluster', 'nk'], childEnv({ HARNESS_NATS_NKEY: seedFile }));
        await within(refused.exited, 30_000, 'serve to exit');
        assert.match(refused.stdout, /the nkey seed file .*user\.nk may be read by others \(mode 0644\)/);
        fs.chmodSync(seedFile, 0o600);
        const b = await CoordinatorCluster.start(withNkey, 1, { env: { HARNESS_NATS_NKEY: seedFile } });
        assert.equal(await b.leader(), 0);
        assert.doesNotMatch(b.logs(), /SU[A-Z2-7]{50,}/, 'the seed is never printed');
      } finally {
        await withToken.stop();
        await withNkey.stop();
      }
    });

    it('a creds file others may read is refused, naming the fix', async () => {
      const dir = tempDir('hcl-');
      const creds = path.join(dir, 'user.creds');
      fs.writeFileSync(creds, '-----BEGIN NATS USER JWT-----\nx\n------END NATS USER JWT------\n', { mode: 0o644 });
      fs.chmodSync(creds, 0o644);
      const serve = ServeProcess.spawn(['--worktree', dir, '--socket', path.join(dir, 'h.sock'), '--nats', secured.url, '--cluster', 'c'], childEnv({ HARNESS_NATS_CREDS: creds }));
      await within(serve.exited, 30_000, 'serve to exit');
      assert.match(serve.stdout, /the creds file .*user\.creds may be read by others \(mode 0644\).*chmod 600/);
    });
  });
});
