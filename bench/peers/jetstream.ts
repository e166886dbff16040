// NATS JetStream as a peers-section system: Debian's nats-server with JetStream on, a file-stored
// work-queue stream (a message is deleted once acknowledged), one durable pull consumer with
// explicit acks shared by every worker connection. Claim = `consumer.next()` (a pull of one
// message); complete = `msg.ackAck()` (the ack, then the server's confirmation of it).
//
// JetStream does not fsync each write: its file store leaves the flush to the OS and syncs on a
// timer, and nats-server 2.9.10 has no setting to make it do otherwise (`sync_interval: always`
// came later). Its acknowledgements survive a killed server, not a power cut.

import { jetstream, jetstreamManager, AckPolicy, RetentionPolicy, StorageType, type JsMsg } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { freePort, startDaemon } from './daemon';
import { findServer, firstLineOf, missingServer, packageVersion } from './installed';
import type { Endpoint, PeerSystem } from './system';


const natsServer = () => findServer('nats-server', 'HARNESS_BENCH_NATS_SERVER');
const STREAM = 'PEERS';
const SUBJECT = 'peers.task';
const CONSUMER = 'workers';
/** Publishes in flight while preloading. */
const PUBLISH_WINDOW = 256;
/**
 * How long one pull waits for a message. An empty pull does not answer "none" at once (the shortest
 * wait the client allows is 1 s), so the load process ends a run when it has seen every task
 * completed rather than on an empty claim.
 */
const PULL_EXPIRES_MS = 30_000;

function servers(endpoint: Endpoint): string {
  return `127.0.0.1:${endpoint.port}`;
}

/** Starts one nats-server with JetStream, its store under `dir`, on a free loopback port. */
export async function startNatsServer(dir: string): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const nats = await startDaemon('nats-server', natsServer()!, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], /Server is ready/);
  return { port, pid: nats.pid, stop: () => nats.stop() };
}

export const jetstreamSystem: PeerSystem = {
  name: 'jetstream',
  label: 'NATS JetStream (work queue)',
  durability:
    'JetStream: file storage, but NO fsync per write (the OS flushes; nats-server 2.9.10 cannot be told to sync each write): an ack survives a killed server, not a power cut',
  transport: 'JetStream: TCP loopback, @nats-io/transport-node + @nats-io/jetstream',
  unavailable: () => (natsServer() ? undefined : missingServer('nats-server', 'HARNESS_BENCH_NATS_SERVER')),
  versions: (options) =>
    `JetStream: nats-server ${firstLineOf(natsServer()!, ['--version'])?.replace(/^nats-server:?\s*/, '') ?? '?'}; ` +
    `@nats-io/transport-node ${packageVersion(options.root, '@nats-io/transport-node')}, @nats-io/jetstream ${packageVersion(options.root, '@nats-io/jetstream')}`,

  async start(dir) {
    const nats = await startNatsServer(dir);
    return { endpoint: { port: nats.port }, pids: [nats.pid], stop: () => nats.stop() };
  },

  async preload(endpoint, tasks) {
    const nc = await connect({ servers: servers(endpoint) });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], retention: RetentionPolicy.Workqueue, storage: StorageType.File, num_replicas: 1 });
      await jsm.consumers.add(STREAM, { durable_name: CONSUMER, ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000) });
      const js = jetstream(nc);
      for (let i = 0; i < tasks.length; i += PUBLISH_WINDOW) {
        await Promise.all(tasks.slice(i, i + PUBLISH_WINDOW).map((t) => js.publish(SUBJECT, JSON.stringify(t))));
      }
      const { state } = await jsm.streams.info(STREAM);
      if (state.messages !== tasks.length) throw new Error(`JetStream preload: ${state.messages} messages stored, expected ${tasks.length}`);
    } finally {
      await nc.close();
    }
  },

  async connect(endpoint) {
    const nc: NatsConnection = await connect({ servers: servers(endpoint) });
    const consumer = await jetstream(nc).consumers.get(STREAM, CONSUMER);
    return {
      async claim() {
        const msg = await consumer.next({ expires: PULL_EXPIRES_MS });
        return msg ? { id: msg.json<{ id: string }>().id, handle: msg } : null;
      },
      async complete(task) {
        if (!(await (task.handle as JsMsg).ackAck())) throw new Error(`JetStream did not confirm the ack of ${task.id}`);
      },
      close: () => nc.close(),
    };
  },
};
