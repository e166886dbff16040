// The JetStream durability log against a real nats-server: fencing at the log (an append that
// does not follow the stream's last message is refused and stores nothing), the leadership
// lease checked around each append, records larger than a message, a record torn by a leader
// that died mid-append, and the damage rules (a gap, a newer format) shared with the file log.
// NATS losing acknowledged messages (a nats-server 2.9 SIGKILLed and restarted at the wrong
// moment) is played by cutting the stream's tail: deleting it and storing its first messages again.
import { strict as assert } from 'node:assert';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { LogEntry } from '../../src/core/durability';
import { ErrorCode, type HarnessError } from '../../src/core/errors';
import { recordJson } from '../../src/core/journal';
import type { Change } from '../../src/core/store';
import { JetStreamLog, type JetStreamLogOptions } from '../../src/cluster/jetstream-log';
import { clusterNames, type ClusterNames } from '../../src/cluster/names';
import { provision, type ClusterResources } from '../../src/cluster/provision';
import { SnapshotStore } from '../../src/cluster/snapshots';
import { NatsCluster, stopAllNats } from '../support/nats-cluster';
import { cleanupTempDirs } from '../support/harness-process';

const meta = (key: string, value: string): Change => ({ op: 'meta', key, value });
const entry = (seq: number, ...changes: Change[]): LogEntry => ({ seq, json: recordJson(seq, changes), changes: changes.length });

describe('JetStream log (real nats-server)', function () {
  this.timeout(60_000);
  let nats: NatsCluster;
  let nc: NatsConnection;
  let n = 0;
  let names: ClusterNames;
  let resources: ClusterResources;

  before(async function () {
    this.timeout(300_000);
    nats = await NatsCluster.start(1);
    nc = await connect({ servers: nats.url.split(',') });
  });
  after(async () => {
    await nc?.close();
    await stopAllNats();
    cleanupTempDirs();
  });
  beforeEach(async () => {
    names = clusterNames(`log${process.pid}_${++n}`);
    resources = await provision(nc, names, { leaderTtlMs: 3000 });
  });

  function makeLog(options: Partial<JetStreamLogOptions> = {}): { log: JetStreamLog; failures: string[] } {
    const failures: string[] = [];
    const log = new JetStreamLog({
      js: resources.js,
      jsm: resources.jsm,
      names,
      node: 'test',
      snapshots: new SnapshotStore(resources.metaKv, resources.snapshots),
      maxMessageBytes: 64 * 1024,
      publishTimeoutMs: 5000,
      mayWrite: () => true,
      onWriteFailure: (kind) => failures.push(kind),
      log: () => {},
      ...options,
    });
    return { log, failures };
  }

  async function loaded(options: Partial<JetStreamLogOptions> = {}) {
    const made = makeLog(options);
    const changes: Change[] = [];
    const result = await made.log.load((c) => changes.push(c));
    return { ...made, changes, seq: result.seq };
  }

  async function streamMessages(): Promise<number> {
    return (await resources.jsm.streams.info(names.stream)).state.messages;
  }

  /** The stream as NATS might bring it back after losing acknowledged messages: its first `keep` messages only. */
  async function loseTail(keep: number): Promise<void> {
    const kept = [];
    for (let seq = 1; seq <= keep; seq++) kept.push((await resources.jsm.streams.getMessage(names.stream, { seq }))!);
    await resources.jsm.streams.delete(names.stream);
    resources = await provision(nc, names, { leaderTtlMs: 3000 });
    for (const m of kept) await resources.js.publish(names.logSubject, m.data, { headers: m.header });
    assert.equal(await streamMessages(), keep);
  }

  const ids = async () => {
    const out: string[] = [];
    const { state } = await resources.jsm.streams.info(names.stream);
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) out.push((await resources.jsm.streams.getMessage(names.stream, { seq }))!.header.get('Harness-Id'));
    return out;
  };

  it('fences at the log: once another coordinator appended, an append that expects the old end is refused and stores nothing', async () => {
    const a = await loaded();
    a.log.startWriting();
    await a.log.append([entry(1, meta('a', '1')), entry(2, meta('a', '2'))]);
    await a.log.append([entry(3, meta('a', '3'))]);

    const b = await loaded();
    assert.equal(b.seq, 3);
    assert.deepEqual(b.changes, [meta('a', '1'), meta('a', '2'), meta('a', '3')]);
    b.log.startWriting();
    await b.log.append([entry(4, meta('leader', 'b'))]);

    await assert.rejects(a.log.append([entry(4, meta('a', '4'))]), (e: HarnessError) => e.code === ErrorCode.NotLeader && /nothing was applied/.test(e.message));
    assert.deepEqual(a.failures, ['fenced']);
    assert.equal(await streamMessages(), 3, 'the refused append stored nothing');
    // A fenced log takes no more appends until it has caught up and is told to write again.
    await assert.rejects(a.log.append([entry(4, meta('a', '4'))]), (e: HarnessError) => e.code === ErrorCode.NotLeader);
    const followed: number[] = [];
    await a.log.catchUp((r) => followed.push(r.s));
    assert.deepEqual(followed, [4]);
  });

  it('checks the leadership lease before sending: a leader whose lease ran out sends nothing', async () => {
    let valid = true;
    const a = await loaded({ mayWrite: () => valid });
    a.log.startWriting();
    await a.log.append([entry(1, meta('k', 'v'))]);
    valid = false;
    await assert.rejects(a.log.append([entry(2, meta('k', 'w'))]), (e: HarnessError) => e.code === ErrorCode.NotLeader && /lease ran out/.test(e.message));
    assert.equal(await streamMessages(), 1);
  });

  it('a lease that runs out while the append is in flight: the record is in the log, but the leader does not acknowledge it', async () => {
    let checks = 0;
    // Valid when checked before sending, run out when checked after JetStream's acknowledgement:
    // what a leader paused mid-append (SIGSTOP past its lease) finds when it resumes.
    const a = await loaded({ mayWrite: () => checks++ % 2 === 0 });
    a.log.startWriting();
    await assert.rejects(
      a.log.append([entry(1, meta('k', 'v'))]),
      (e: HarnessError) => e.code === ErrorCode.Unavailable && e.details?.outcome === 'unknown' && /lost its leadership lease/.test(e.message),
    );
    assert.deepEqual(a.failures, ['unknown']);
    const b = await loaded();
    assert.deepEqual(b.changes, [meta('k', 'v')], 'the record is valid in the log: the next leader has it');
    // The store undid the transaction it was not told was durable: reading on from where the log
    // stands must bring the record back, or this coordinator's memory would lack it for good.
    const followed: number[] = [];
    await a.log.catchUp((r) => followed.push(r.s));
    assert.deepEqual(followed, [1]);
  });

  it('carries records larger than a message in parts, and many small ones in one message', async () => {
    const a = await loaded({ maxMessageBytes: 1000 });
    a.log.startWriting();
    const big = 'x'.repeat(5000);
    await a.log.append([entry(1, meta('small', '1')), entry(2, meta('big', big)), entry(3, meta('small', '3')), entry(4, meta('small', '4'))]);
    assert.equal(await streamMessages(), 1 + 6 + 1, 'one message before, six parts, one after');
    const b = await loaded();
    assert.equal(b.seq, 4);
    assert.deepEqual(b.changes, [meta('small', '1'), meta('big', big), meta('small', '3'), meta('small', '4')]);
  });

  it('drops a record torn by a leader that died mid-append; the next leader’s record of that number counts', async () => {
    const a = await loaded();
    a.log.startWriting();
    await a.log.append([entry(1, meta('k', '1'))]);
    // What a leader leaves when it dies after the first of three parts of record 2.
    const h = headers();
    h.set('Harness-Records', '2-2');
    h.set('Harness-Part', '1/3');
    await jetstream(nc).publish(names.logSubject, new TextEncoder().encode(recordJson(2, [meta('torn', 'x')]).slice(0, 10)), { headers: h });
    const b = await loaded();
    assert.equal(b.seq, 1);
    b.log.startWriting();
    await b.log.append([entry(2, meta('k', '2'))]);
    const c = await loaded();
    assert.equal(c.seq, 2);
    assert.deepEqual(c.changes, [meta('k', '1'), meta('k', '2')]);
  });

  it('refuses a gap in the record numbers and a record of a newer format (STATE_CORRUPT)', async () => {
    const js = jetstream(nc);
    const h = headers();
    h.set('Harness-Records', '1-1');
    await js.publish(names.logSubject, recordJson(1, [meta('k', '1')]), { headers: h });
    await js.publish(names.logSubject, recordJson(3, [meta('k', '3')]));
    await assert.rejects(loaded(), (e: HarnessError) => e.code === ErrorCode.StateCorrupt && /skips from record 1 to 3/.test(e.message));

    names = clusterNames(`log${process.pid}_${++n}`);
    resources = await provision(nc, names, { leaderTtlMs: 3000 });
    await js.publish(names.logSubject, JSON.stringify({ v: 99, s: 1, c: [] }));
    await assert.rejects(loaded(), (e: HarnessError) => e.code === ErrorCode.StateCorrupt && /format 99, newer than this program reads/.test(e.message));
  });

  it('puts back messages NATS acknowledged and then lost: the leader at its next append, a standby before it reads on', async () => {
    const a = await loaded();
    a.log.startWriting();
    for (let i = 1; i <= 3; i++) await a.log.append([entry(i, meta('k', String(i)))]);
    const written = await ids();
    const b = await loaded();
    assert.equal(b.seq, 3);

    await loseTail(1);
    // The leader's next append expects message 3: refused; the stream ends at 1, so the leader puts 2 and 3 back, then steps down.
    await assert.rejects(a.log.append([entry(4, meta('k', '4'))]), (e: HarnessError) => e.code === ErrorCode.NotLeader && /lost messages.*put back/.test(e.message));
    assert.deepEqual(await ids(), written, 'the same messages under the same numbers');
    assert.deepEqual((await loaded()).changes, [meta('k', '1'), meta('k', '2'), meta('k', '3')]);
    await a.log.catchUp(() => assert.fail('nothing new to read'));
    a.log.startWriting();
    await a.log.append([entry(4, meta('k', '4'))]);

    // A standby that read further than the stream now goes puts the rest back before it reads on.
    const followed: number[] = [];
    await b.log.catchUp((r) => followed.push(r.s));
    assert.deepEqual(followed, [4]);
    await loseTail(2);
    await b.log.catchUp(() => assert.fail('nothing new to read'));
    assert.equal(await streamMessages(), 4, 'messages 3 and 4 put back by the standby');
    assert.deepEqual((await loaded()).changes.map((c) => (c as { value: string }).value), ['1', '2', '3', '4']);
  });

  it('a copy of the log that differs from the stream is noticed: a standby stops (to load again), a fresh load skips what does not follow', async () => {
    const a = await loaded();
    a.log.startWriting();
    for (let i = 1; i <= 3; i++) await a.log.append([entry(i, meta('k', String(i)))]);
    const b = await loaded();

    // NATS lost messages 2 and 3, and before anyone put them back another leader wrote 2' and 3' under the same numbers.
    await loseTail(1);
    const c = await loaded();
    c.log.startWriting();
    await c.log.append([entry(2, meta('k', "2'"))]);
    await c.log.append([entry(3, meta('k', "3'"))]);

    await assert.rejects(
      b.log.catchUp(() => assert.fail('a diverged copy must not apply what follows')),
      (e: HarnessError) => e.code === ErrorCode.StateCorrupt && e.details?.diverged === true && e.details?.gap === true && /message 3 is .* this coordinator read .* there/.test(e.message),
    );
    // The old leader, still believing it leads, appends after its own message 3: JetStream only
    // checks the number, so it is stored; every reader skips it (it was built on another message 3).
    await a.log.append([entry(4, meta('k', '4 on the lost 3'))]);
    const d = await loaded();
    assert.deepEqual(d.changes.map((x) => (x as { value: string }).value), ['1', "2'", "3'"]);
    assert.equal(d.log.skipped, 1);
    d.log.startWriting();
    await d.log.append([entry(4, meta('k', "4'"))]);
    assert.deepEqual((await loaded()).changes.map((x) => (x as { value: string }).value), ['1', "2'", "3'", "4'"]);
  });

  it('a snapshot whose parts are gone while it is read: the read gives up (NOT_FOUND, the load tries again) instead of waiting forever', async () => {
    const image = new Uint8Array(300_000).map((_, i) => i % 251);
    const store = new SnapshotStore(resources.metaKv, resources.snapshots, 600);
    assert.ok(await store.publish(image, 7, 'test'));
    const { pointer } = (await store.current())!;
    assert.equal(Buffer.compare(Buffer.from(await store.read(pointer)), Buffer.from(image)), 0);

    // The parts purged, the object's entry still there: what a reader meets while an image is deleted under it.
    const info = (await resources.snapshots.info(pointer.object))!;
    await resources.jsm.streams.purge(`OBJ_${names.snapshotStore}`, { filter: `$O.${names.snapshotStore}.C.${info.nuid}` });
    await assert.rejects(store.read(pointer), (e: HarnessError) => e.code === ErrorCode.NotFound && /no part of it arrived for 0.6 s/.test(e.message));

    // Deleted while a patient reader waits: it gives up as soon as it sees.
    const patient = new SnapshotStore(resources.metaKv, resources.snapshots, 60_000);
    const started = Date.now();
    const reading = patient.read(pointer);
    await new Promise((r) => setTimeout(r, 300));
    await resources.snapshots.delete(pointer.object);
    await assert.rejects(reading, (e: HarnessError) => e.code === ErrorCode.NotFound && /a newer one replaced it/.test(e.message));
    assert.ok(Date.now() - started < 10_000);
  });

  it('a load told of messages that never come (the stream lost them between its look and its read) finishes instead of waiting forever', async () => {
    const a = await loaded();
    a.log.startWriting();
    await a.log.append([entry(1, meta('k', '1'))]);
    // The first look at the stream says it goes 5 messages further than it does.
    let ahead = true;
    const streams = new Proxy(resources.jsm.streams, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (key !== 'info') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<typeof target.info>) => {
          const info = await target.info(...args);
          if (!ahead) return info;
          ahead = false;
          return { ...info, state: { ...info.state, last_seq: info.state.last_seq + 5 } };
        };
      },
    });
    const jsm = new Proxy(resources.jsm, { get: (target, key) => (key === 'streams' ? streams : Reflect.get(target, key)) });
    const b = await loaded({ jsm });
    assert.deepEqual(b.changes, [meta('k', '1')]);
  });
});
