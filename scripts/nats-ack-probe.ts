// Diagnostic: does a 3-node JetStream cluster of nats-server (Debian's, found by
// test/support/nats-cluster.ts) lose ACKNOWLEDGED stream messages when a server is SIGKILLed
// under write load and started again after a short (default) or long downtime?
//
// A stream of 3 replicas on file storage (as src/cluster/provision.ts creates the log stream)
// gets serial writers imitating the coordinator's leader: each publishes with
// `expect.lastSequence` = the last sequence it knows and re-reads the stream's last sequence on
// any error. Every acknowledgement is recorded as seq -> unique id. Each round SIGKILLs a server
// (the stream leader in most rounds) while the writers go on, keeps it down for a random time,
// starts it again, lets the writers go on, then reads the whole stream back and checks that every
// acknowledged sequence still holds the id it was acknowledged with:
//   lost        = an acknowledged sequence is no longer in the stream
//   overwritten = it holds another message (the sequence was handed out twice)
//   double ack  = two publishes were acknowledged with the same sequence and different ids
// CPU burners (busy child processes) starve the machine, where the failure was first seen.
//
//   cd /work/main && npx tsx scripts/nats-ack-probe.ts [--rounds N] [--down-ms A-B] [--burn K]
//       [--writers W] [--leader-share F] [--write-ms A-B] [--settle-ms S]
// defaults: 20 rounds, down 1500-3000 ms, 2 burners, 4 writers, leader killed in 75% of rounds,
// writes for 1000-3000 ms before the kill, and for 2000 ms after JetStream answers again.
// Each round line says when the stream had a leader again (before or after the restart).
// Exit code 1 when an acknowledged message was lost or overwritten, 0 otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jetstream, jetstreamManager, DeliverPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsCluster, stopAllNats } from '../test/support/nats-cluster';

const STREAM = 'PROBE';
const SUBJECT = 'probe.log';
const PUBLISH_TIMEOUT_MS = 2000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const ROUNDS = Number(arg('rounds', '20'));
const [DOWN_MIN, DOWN_MAX] = arg('down-ms', '1500-3000').split('-').map(Number) as [number, number];
const BURNERS = Number(arg('burn', '2'));
const WRITERS = Number(arg('writers', '4'));
const LEADER_SHARE = Number(arg('leader-share', '0.75'));
const [WRITE_MIN, WRITE_MAX] = arg('write-ms', '1000-3000').split('-').map(Number) as [number, number];
const SETTLE_MS = Number(arg('settle-ms', '2000'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (a: number, b: number) => a + Math.floor(Math.random() * (b - a + 1));
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

interface Ack {
  id: string;
  at: number; // Date.now() of the acknowledgement
  round: number;
}

const acked = new Map<number, Ack>();
const doubleAcks: string[] = [];
let round = 0;
let ackCount = 0;
let writing = false;

// ---- CPU burners ----
const burners: ChildProcess[] = [];
function startBurners(k: number): void {
  for (let i = 0; i < k; i++) {
    burners.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  }
}
function stopBurners(): void {
  for (const b of burners) if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
}

// ---- writers ----
async function lastSeq(jsm: JetStreamManager): Promise<number> {
  for (;;) {
    try {
      return (await jsm.streams.info(STREAM)).state.last_seq;
    } catch {
      if (!writing) return -1;
      await sleep(100);
    }
  }
}

async function writer(chain: number, js: JetStreamClient, jsm: JetStreamManager): Promise<void> {
  let counter = 0;
  let last = await lastSeq(jsm);
  while (writing) {
    const id = `w${chain}-${++counter}`;
    try {
      const ack = await js.publish(SUBJECT, id, { expect: { lastSequence: last }, timeout: PUBLISH_TIMEOUT_MS });
      ackCount++;
      const prior = acked.get(ack.seq);
      if (prior && prior.id !== id) {
        doubleAcks.push(`seq ${ack.seq} acked to ${prior.id} (round ${prior.round}) and again to ${id} (round ${round})`);
        console.log(`${stamp()} DOUBLE ACK seq ${ack.seq}: ${prior.id} then ${id}`);
      }
      acked.set(ack.seq, { id, at: Date.now(), round });
      last = ack.seq;
    } catch {
      // Wrong last sequence (another writer went first), timeout, no leader: re-read and go on.
      const s = await lastSeq(jsm);
      if (s >= 0) last = s;
    }
  }
}

// ---- reading the stream back ----
/** seq -> id of every message in the stream, read with ordered consumers (retried until `deadline`). */
async function readStream(js: JetStreamClient, jsm: JetStreamManager, deadline: number): Promise<{ content: Map<number, string>; last: number; from?: string }> {
  for (;;) {
    try {
      const info = await jsm.streams.info(STREAM);
      const last = info.state.last_seq;
      const content = new Map<number, string>();
      let next = info.state.first_seq;
      while (next <= last) {
        const c = await js.consumers.get(STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next });
        const batch = await c.fetch({ max_messages: 2000, expires: 3000 });
        let got = 0;
        for await (const m of batch) {
          content.set(m.seq, m.string());
          next = m.seq + 1;
          got++;
          if (m.seq >= last) break;
        }
        await c.delete().catch(() => {});
        if (got === 0) throw new Error(`no messages from seq ${next} (last ${last})`);
      }
      return { content, last, from: info.cluster?.leader };
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`could not read stream ${STREAM} back: ${msg(e)}`);
      await sleep(500);
    }
  }
}

// ---- each replica's store, read from its files once the servers are stopped ----
/**
 * seq -> payload of every message in the stream's message blocks under a server's store dir
 * (nats-server 2.9 filestore records: u32 length (bit 31: has headers), u64 seq (bit 63: erased),
 * i64 time, u16 subject length, subject, [u32 header length, headers], payload, 8-byte hash).
 */
function readReplica(storeDir: string): Map<number, string> {
  const out = new Map<number, string>();
  const find = (dir: string): string | undefined => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name === STREAM && path.basename(dir) === 'streams') return path.join(p, 'msgs');
      if (e.isDirectory()) {
        const f = find(p);
        if (f) return f;
      }
    }
    return undefined;
  };
  const msgs = fs.existsSync(storeDir) ? find(storeDir) : undefined;
  if (!msgs) return out;
  const blocks = fs.readdirSync(msgs).filter((f) => f.endsWith('.blk'));
  blocks.sort((a, b) => parseInt(a) - parseInt(b));
  for (const f of blocks) {
    const b = fs.readFileSync(path.join(msgs, f));
    for (let off = 0; off + 22 <= b.length; ) {
      const raw = b.readUInt32LE(off);
      const rl = raw & 0x7fffffff;
      if (rl < 22 || off + rl > b.length) break;
      const seq = Number(b.readBigUInt64LE(off + 4) & ((1n << 63n) - 1n));
      const erased = (b.readBigUInt64LE(off + 4) >> 63n) === 1n;
      const slen = b.readUInt16LE(off + 20);
      let p = off + 22 + slen;
      if (raw & 0x80000000) p += 4 + b.readUInt32LE(p);
      const payload = b.subarray(p, off + rl - 8).toString();
      if (!erased && seq > 0) out.set(seq, payload);
      else out.delete(seq);
      off += rl;
    }
  }
  return out;
}

// ---- main ----
interface Finding {
  seq: number;
  ack: Ack;
  now: string | undefined;
}

async function main(): Promise<void> {
  console.log(`${stamp()} nats-ack-probe: rounds ${ROUNDS}, down ${DOWN_MIN}-${DOWN_MAX} ms, burners ${BURNERS}, writers ${WRITERS}, leader share ${LEADER_SHARE}, write ${WRITE_MIN}-${WRITE_MAX} ms, settle ${SETTLE_MS} ms`);
  const cluster = await NatsCluster.start(3);
  const nc: NatsConnection = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const jsm = await jetstreamManager(nc, { timeout: 2000 });
  const js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS });
  await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], storage: StorageType.File, retention: RetentionPolicy.Limits, num_replicas: 3 });
  startBurners(BURNERS);

  const reported = new Map<number, 'lost' | 'overwritten'>();
  const all: Finding[] = [];
  let roundsWithLoss = 0;
  for (round = 1; round <= ROUNDS; round++) {
    const ackBefore = ackCount;
    writing = true;
    const chains = Array.from({ length: WRITERS }, (_, c) => writer(c + 1, js, jsm));
    await sleep(rand(WRITE_MIN, WRITE_MAX));

    const info = await jsm.streams.info(STREAM).catch(() => undefined);
    const leaderName = info?.cluster?.leader;
    const leaderIdx = cluster.nodes.findIndex((n) => n.name === leaderName);
    const victim = leaderIdx >= 0 && Math.random() < LEADER_SHARE ? leaderIdx : rand(0, 2);
    const downMs = rand(DOWN_MIN, DOWN_MAX);
    const killAt = Date.now();
    await cluster.killNode(victim, 'SIGKILL');
    // When does the stream have a leader again, relative to the kill and to the restart?
    let polling = true;
    let elected: { name: string; ms: number } | undefined;
    const poller = (async () => {
      while (polling && !elected) {
        const l = await jsm.streams.info(STREAM).then((i) => i.cluster?.leader, () => undefined);
        if (l && (victim !== leaderIdx || l !== leaderName)) elected = { name: l, ms: Date.now() - killAt };
        else await sleep(200);
      }
    })();
    await sleep(downMs);
    const restartAt = Date.now() - killAt;
    await cluster.startNode(victim);
    await cluster.waitForJetStream(60_000).catch((e) => console.log(`${stamp()} waitForJetStream: ${msg(e)}`));
    // The poller goes on during the settling time, and up to 15 s after the restart at most.
    await sleep(SETTLE_MS);
    await Promise.race([poller, sleep(Math.max(0, killAt + restartAt + 15_000 - Date.now()))]);
    polling = false;
    await poller;
    writing = false;
    await Promise.all(chains);

    const { content, last, from } = await readStream(js, jsm, Date.now() + 60_000);
    const newFindings: Finding[] = [];
    let lostNow = 0;
    let overNow = 0;
    for (const [seq, ack] of acked) {
      const now = content.get(seq);
      const kind = now === undefined ? 'lost' : now !== ack.id ? 'overwritten' : undefined;
      if (kind === 'lost') lostNow++;
      if (kind === 'overwritten') overNow++;
      if (kind && reported.get(seq) !== kind) {
        reported.set(seq, kind);
        newFindings.push({ seq, ack, now });
      }
    }
    all.push(...newFindings);
    if (newFindings.length) roundsWithLoss++;
    const after = await jsm.streams.info(STREAM).catch(() => undefined);
    console.log(
      `${stamp()} round ${String(round).padStart(2)}: killed ${cluster.nodes[victim]!.name}${victim === leaderIdx ? ' (leader)' : ''} down ${downMs} ms; ` +
        `acks ${ackCount - ackBefore} (total ${ackCount}); last_seq ${last} read via ${from ?? '?'}; leader now ${after?.cluster?.leader ?? '?'}; ` +
        `new findings ${newFindings.length}; currently lost ${lostNow}, overwritten ${overNow}; ` +
        (victim === leaderIdx
          ? elected
            ? `stream leader ${elected.name} at +${elected.ms} ms (${elected.ms < restartAt ? 'before' : 'after'} the restart at +${restartAt} ms)`
            : 'no new stream leader seen within 15 s of the restart'
          : ''),
    );
    for (const f of newFindings.slice(0, 5)) {
      console.log(
        `        seq ${f.seq}: acked ${f.ack.id} (round ${f.ack.round}, ${killAt - f.ack.at} ms before the kill) -> now ${f.now === undefined ? 'MISSING' : f.now}`,
      );
    }
    if (newFindings.length > 5) console.log(`        ... and ${newFindings.length - 5} more`);
  }

  const lost = [...reported.values()].filter((k) => k === 'lost').length;
  const over = [...reported.values()].filter((k) => k === 'overwritten').length;
  console.log(
    `${stamp()} SUMMARY rounds ${ROUNDS}, down ${DOWN_MIN}-${DOWN_MAX} ms, burners ${BURNERS}: acked ${ackCount} (${acked.size} distinct seqs), ` +
      `lost ${lost}, overwritten ${over}, double acks ${doubleAcks.length}, rounds with new findings ${roundsWithLoss}`,
  );
  for (const d of doubleAcks.slice(0, 10)) console.log(`  double ack: ${d}`);
  await nc.close();

  // Each replica on its own: stop the servers gracefully (they flush) and read their stores.
  await sleep(3000);
  await Promise.all(cluster.nodes.map((_, i) => cluster.killNode(i, 'SIGTERM')));
  const replicas = cluster.nodes.map((n) => ({ name: n.name, content: readReplica(path.join(cluster.dir, n.name)) }));
  const bad = new Set<number>(reported.keys());
  for (const r of replicas) {
    let rLost = 0;
    let rOver = 0;
    for (const [seq, ack] of acked) {
      const v = r.content.get(seq);
      if (v === undefined) rLost++;
      else if (v !== ack.id) {
        rOver++;
        bad.add(seq);
      }
    }
    console.log(`${stamp()} replica ${r.name}: ${r.content.size} messages, last seq ${Math.max(0, ...r.content.keys())}; acked seqs missing ${rLost}, holding another id ${rOver}`);
  }
  let diverged = 0;
  const maxSeq = Math.max(0, ...replicas.flatMap((r) => [...r.content.keys()]));
  for (let seq = 1; seq <= maxSeq; seq++) {
    const vals = new Set(replicas.map((r) => r.content.get(seq) ?? '-'));
    if (vals.size > 1) {
      diverged++;
      bad.add(seq);
    }
  }
  console.log(`${stamp()} replicas disagree on ${diverged} sequence(s)`);
  for (const seq of [...bad].sort((a, b) => a - b).slice(0, 20)) {
    console.log(`        seq ${seq}: acked ${acked.get(seq)?.id ?? '(not acked)'}; ${replicas.map((r) => `${r.name}=${r.content.get(seq) ?? 'MISSING'}`).join(' ')}`);
  }
  process.exitCode = lost + over + doubleAcks.length > 0 ? 1 : 0;
}

async function cleanup(): Promise<void> {
  writing = false;
  stopBurners();
  await stopAllNats().catch(() => {});
}
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));
process.once('exit', stopBurners);
main()
  .catch((e) => {
    console.error(`${stamp()} nats-ack-probe failed: ${msg(e)}`);
    process.exitCode = 2;
  })
  .finally(() => cleanup().then(() => process.exit()));
