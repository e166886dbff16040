// The coordinator as a peers-section system: `harness serve` built from this worktree, in its own
// process, driven through a raw NDJSON connection (one JSON line out, one back, nothing else) so
// the figure is the server's, not a client library's.

import * as net from 'node:net';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { importPlan, startServe } from '../serve';
import type { ClaimedTask, PeerSystem, PeerWorker } from './system';

interface Waiter {
  resolve(reply: unknown): void;
  reject(error: Error): void;
}

/** A bare NDJSON connection: requests written as lines, replies matched in order (the server answers in order). */
class NdjsonConnection {
  private readonly waiters: Waiter[] = [];
  private rest: Buffer | undefined;
  private closed: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (data: Buffer) => this.onData(data));
    const fail = (e?: Error) => {
      this.closed ??= new Error(`coordinator connection closed${e ? `: ${e.message}` : ''}`);
      for (const w of this.waiters.splice(0)) w.reject(this.closed);
    };
    socket.on('error', fail);
    socket.on('close', () => fail());
  }

  static connect(socketPath: string): Promise<NdjsonConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new NdjsonConnection(s));
      });
    });
  }

  private onData(data: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, data]) : data;
    let start = 0;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      const reply = JSON.parse(buf.toString('utf8', start, nl)) as { status: string; data?: unknown; code?: string; message?: string };
      start = nl + 1;
      const w = this.waiters.shift();
      if (!w) continue;
      if (reply.status === 'ok') w.resolve(reply.data);
      else w.reject(new Error(`${reply.code}: ${reply.message}`));
    }
    this.rest = start < buf.length ? buf.subarray(start) : undefined;
  }

  /** Sends one request line (without its newline); resolves with the reply's data, rejects on an error reply. */
  request<T>(line: string): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<T>((resolve, reject) => {
      this.waiters.push({ resolve: resolve as (r: unknown) => void, reject });
      this.socket.write(`${line}\n`);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.end(resolve));
  }
}

interface Lease {
  id: string;
  fencing_token: number;
}

export const coordinatorSystem: PeerSystem = {
  name: 'coordinator',
  label: 'coordinator (harness serve)',
  oneRequest: 'task_complete with `next` (the completion and the next claim in one durable write)',
  durability: 'coordinator: "ok" only after its journal is fdatasync\'d (group commit across connections)',
  transport: 'coordinator: Unix socket, a raw NDJSON client (one JSON line each way, no client library)',
  unavailable: () => undefined,
  versions: () => 'coordinator: dist/cli.js built from this checkout (its commit is in the header)',

  async start(dir, options) {
    const serve = await startServe(options.root, dir, path.join(dir, 's.sock'));
    return {
      endpoint: { socket: serve.socket },
      pids: [serve.pid],
      async stop() {
        const code = await serve.stop('SIGTERM');
        if (code !== 0) throw new Error(`harness serve exited with ${code}:\n${serve.stderr()}`);
      },
    };
  },

  async preload(endpoint, tasks) {
    const client = await HarnessClient.connect(String(endpoint.socket));
    try {
      await importPlan(client, tasks);
    } finally {
      client.close();
    }
  },

  async connect(endpoint, index): Promise<PeerWorker> {
    const conn = await NdjsonConnection.connect(String(endpoint.socket));
    const workerId = `peer-w${index}`;
    await conn.request(JSON.stringify({ command: 'ping' }));
    const claimLine = JSON.stringify({ command: 'task_claim', worker_id: workerId });
    return {
      async claim(): Promise<ClaimedTask | null> {
        const { task } = await conn.request<{ task: Lease | null }>(claimLine);
        return task ? { id: task.id, handle: task.fencing_token } : null;
      },
      async complete(task) {
        await conn.request(
          JSON.stringify({ command: 'task_complete', worker_id: workerId, task_id: task.id, fencing_token: task.handle, result: { ok: true } }),
        );
      },
      async completeAndClaim(task) {
        const { next } = await conn.request<{ next: { task: Lease | null } }>(
          JSON.stringify({ command: 'task_complete', worker_id: workerId, task_id: task.id, fencing_token: task.handle, result: { ok: true }, next: {} }),
        );
        return next.task ? { id: next.task.id, handle: next.task.fencing_token } : null;
      },
      close: () => conn.close(),
    };
  },
};
