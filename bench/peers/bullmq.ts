// BullMQ on Redis as a peers-section system: Debian's redis-server with the append-only file
// fsync'd on every write (`appendfsync always`, Redis's equivalent of our fdatasync before "ok"),
// and BullMQ's manual job processing: a Worker without a processor per connection,
// `getNextJob(token)` to claim, `job.moveToCompleted(result, token, false)` to complete (false:
// do not fetch the next job in the same call, so both systems make the same two round trips); in
// the one-request rows, `moveToCompleted(result, token, true)`, which takes the next job too.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { freePort, startDaemon } from './daemon';
import { findServer, firstLineOf, missingServer, packageVersion } from './installed';
import type { Endpoint, PeerSystem } from './system';


/** Worker.nextJobFromJobData, protected in BullMQ's types: what moveToCompleted's docs name for its result. */
interface NextJobFromData {
  nextJobFromJobData(jobData: unknown, jobId: unknown, token: string): Promise<Job | undefined>;
}

const redisServer = () => findServer('redis-server', 'HARNESS_BENCH_REDIS_SERVER');
const QUEUE = 'peers';
const ADD_BATCH = 1_000;

function connection(endpoint: Endpoint): ConnectionOptions {
  // maxRetriesPerRequest null: what BullMQ requires of a Worker's connection.
  return { path: String(endpoint.socket), maxRetriesPerRequest: null };
}

/**
 * The config of one measurement's redis-server. RDB snapshots are off: the AOF is the durability
 * being compared, and a background save forking in the middle of a run would be noise.
 */
function redisConfig(dir: string, port: number, socket: string): string {
  return [
    'bind 127.0.0.1',
    `port ${port}`,
    `unixsocket ${socket}`,
    'unixsocketperm 700',
    'protected-mode yes',
    `dir ${dir}`,
    'appendonly yes',
    'appendfsync always',
    'save ""',
    'daemonize no',
    'logfile ""',
    'maxmemory-policy noeviction',
    '',
  ].join('\n');
}

export const bullmqSystem: PeerSystem = {
  name: 'bullmq',
  label: 'BullMQ on Redis (AOF always)',
  oneRequest: 'moveToCompleted(result, token, fetchNext = true) (one Lua script completes the job and takes the next)',
  durability: 'BullMQ/Redis: appendonly yes + appendfsync always: Redis fsyncs the AOF before it sends the replies of each event-loop turn',
  transport: 'BullMQ/Redis: Unix socket (the coordinator\'s transport; Redis also listens on a loopback port), ioredis under BullMQ',
  unavailable: () => (redisServer() ? undefined : missingServer('redis-server', 'HARNESS_BENCH_REDIS_SERVER')),
  versions: (options) =>
    `BullMQ/Redis: redis-server ${/v=(\S+)/.exec(firstLineOf(redisServer()!, ['--version']) ?? '')?.[1] ?? '?'}; bullmq ${packageVersion(options.root, 'bullmq')}, ioredis ${packageVersion(options.root, 'ioredis')}`,

  async start(dir) {
    const port = await freePort();
    const socket = path.join(dir, 'redis.sock');
    const conf = path.join(dir, 'redis.conf');
    fs.writeFileSync(conf, redisConfig(dir, port, socket), { mode: 0o600 });
    const redis = await startDaemon('redis-server', redisServer()!, [conf], /Ready to accept connections/);
    return { endpoint: { socket, port }, pids: [redis.pid], stop: () => redis.stop() };
  },

  async preload(endpoint, tasks) {
    const queue = new Queue(QUEUE, { connection: connection(endpoint) });
    try {
      await queue.waitUntilReady();
      for (let i = 0; i < tasks.length; i += ADD_BATCH) {
        await queue.addBulk(tasks.slice(i, i + ADD_BATCH).map((data) => ({ name: 'task', data })));
      }
      const waiting = await queue.getWaitingCount();
      if (waiting !== tasks.length) throw new Error(`BullMQ preload: ${waiting} jobs waiting, expected ${tasks.length}`);
    } finally {
      await queue.close();
    }
  },

  async connect(endpoint, index) {
    // No processor: jobs are fetched by hand. autorun false: no main loop fetching on its own.
    const worker = new Worker(QUEUE, null, { connection: connection(endpoint), autorun: false });
    await worker.waitUntilReady();
    let n = 0;
    return {
      async claim() {
        // One token per job (the lock's owner), as BullMQ's docs suggest for manual processing.
        const token = `w${index}-${n++}`;
        const job = (await worker.getNextJob(token, { block: false })) as Job<{ id: string }> | undefined;
        return job ? { id: job.data.id, handle: { job, token } } : null;
      },
      async complete(task) {
        const { job, token } = task.handle as { job: Job; token: string };
        await job.moveToCompleted({ ok: true }, token, false);
      },
      async completeAndClaim(task) {
        // fetchNext: the same script moves the next job to active, locked with this token, and
        // returns its raw data, which the Worker turns into a Job (as its own processing loop does).
        const { job, token } = task.handle as { job: Job; token: string };
        const raw = await job.moveToCompleted({ ok: true }, token, true);
        if (!Array.isArray(raw) || !raw[0]) return null;
        const fromData = (worker as unknown as NextJobFromData).nextJobFromJobData.bind(worker);
        const next = (await fromData(raw[0], raw[1], token)) as Job<{ id: string }> | undefined;
        return next ? { id: next.data.id, handle: { job: next, token } } : null;
      },
      close: () => worker.close(),
    };
  },
};
