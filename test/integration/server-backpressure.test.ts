// The socket's bounds per connection, in-process over a real Unix socket with small limits so
// they show at small sizes: a client that pipelines without reading has only so many of its
// requests run and is not read further; at most maxInFlight of its requests run at once; lines it
// sent that have not run when it goes away are never run; and once it reads, every reply comes,
// in order. (The full-size flood against `harness serve` is in test/reliability/hostile-load.)
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import { silentLogger } from '../../src/protocol/log';
import type { ConnectionLimits } from '../../src/server/connection';
import { PlanStaging } from '../../src/server/plan-staging';
import { RunRegistry } from '../../src/server/runs';
import { HarnessServer } from '../../src/server/server';
import { cleanupAll, pollUntil, RawConnection, tempDir } from '../support/harness-process';

const LIMITS: Partial<ConnectionLimits> = { replyHighWater: 64 * 1024, readAheadBytes: 4 * 1024, maxInFlight: 4, linesPerTurn: 4 };

interface Rig {
  coordinator: Coordinator;
  server: HarnessServer;
  socket: string;
  /** How many task_list requests the coordinator has answered. */
  listed(): number;
}

async function rig(): Promise<Rig> {
  const dir = tempDir('hbp-');
  const coordinator = new Coordinator(new MemoryStore(), DEFAULT_CONFIG);
  let listed = 0;
  const listTaskPage = coordinator.listTaskPage.bind(coordinator);
  coordinator.listTaskPage = (p) => {
    listed++;
    return listTaskPage(p);
  };
  const socket = path.join(dir, 'h.sock');
  const server = new HarnessServer({
    socketPath: socket,
    context: { coordinator, runs: new RunRegistry(path.join(dir, 'runs'), silentLogger), workspace: dir, stateDir: dir, staging: new PlanStaging(), log: silentLogger },
    limits: LIMITS,
  });
  await server.listen();
  return { coordinator, server, socket, listed: () => listed };
}

/** A few round trips on another connection: the server has taken several turns of its loop since. */
async function turnsPass(socket: string, n = 5): Promise<void> {
  const c = await RawConnection.connect(socket);
  for (let i = 0; i < n; i++) await c.ok({ command: 'ping' });
  c.close();
}

/** A raw connection that writes and does not read until told to; then collects `count` lines. */
async function nonReader(socket: string) {
  const s = net.connect(socket);
  await new Promise((r) => s.once('connect', r));
  s.pause();
  let rest = '';
  const lines: string[] = [];
  return {
    socket: s,
    write: (text: string) => s.write(text),
    read(count: number): Promise<string[]> {
      return new Promise((resolve, reject) => {
        s.setEncoding('utf8');
        s.on('data', (d: string) => {
          const parts = (rest + d).split('\n');
          rest = parts.pop()!;
          lines.push(...parts);
          if (lines.length >= count) resolve(lines);
        });
        s.once('close', () => reject(new Error(`closed after ${lines.length} lines`)));
        s.resume();
      });
    },
  };
}

describe('socket bounds per connection (in-process server, small limits)', function () {
  this.timeout(60_000);
  let r: Rig;
  beforeEach(async () => (r = await rig()));
  afterEach(async () => {
    await r.server.close();
    await r.coordinator.close();
    await cleanupAll();
  });

  it('a client that pipelines without reading has only a bounded number of requests run; once it reads, every reply comes in order', async () => {
    await r.coordinator.addTasks(Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, description: 'd'.repeat(1000) })));
    const requests = 500; // about 64 KB per reply: 32 MB if every one ran
    const flood = await nonReader(r.socket);
    flood.write(Array.from({ length: requests }, (_, i) => JSON.stringify({ command: 'task_list', id: i }) + '\n').join(''));
    while (r.listed() === 0) await new Promise((res) => setImmediate(res));
    await turnsPass(r.socket);
    const ranWhileHeld = r.listed();
    await turnsPass(r.socket);
    assert.equal(r.listed(), ranWhileHeld, 'nothing more runs while the client does not read');
    // Owed: the replyHighWater, what the kernel's socket buffers hold, and one turn's lines.
    assert.ok(ranWhileHeld < 40, `${ranWhileHeld} of ${requests} requests ran for a client that reads nothing`);
    const replies = await flood.read(requests);
    assert.deepEqual(
      replies.map((l) => JSON.parse(l).id),
      Array.from({ length: requests }, (_, i) => i),
    );
    assert.ok(replies.every((l) => JSON.parse(l).data.tasks.length === 60));
    console.log(`      ${ranWhileHeld} of ${requests} task_list requests ran while the client read nothing`);
  });

  it('at most maxInFlight requests of one connection run at once; the next run as earlier ones are answered', async () => {
    const holder = await RawConnection.connect(r.socket);
    await holder.ok({ command: 'lock_acquire', worker_id: 'holder', path: 'f.txt', ttl_seconds: 600 });
    const waiters = await nonReader(r.socket);
    const n = 10;
    waiters.write(
      Array.from({ length: n }, (_, i) => JSON.stringify({ command: 'lock_acquire', id: i, worker_id: `w${i}`, path: 'f.txt', mode: 'read', wait_ms: 60_000 }) + '\n').join(''),
    );
    const waiting = async () => (await holder.ok({ command: 'lock_list' })).waiting.length as number;
    while ((await waiting()) < 4) await new Promise((res) => setImmediate(res));
    await turnsPass(r.socket);
    assert.equal(await waiting(), 4, 'four requests wait on the lock; the other six have not run');
    // Released: the four readers get it, their slots free, the next ones run (and get it too).
    await holder.ok({ command: 'lock_release', worker_id: 'holder', path: 'f.txt' });
    const replies = (await waiters.read(n)).map((l) => JSON.parse(l));
    assert.deepEqual(replies.map((x) => [x.id, x.status]), Array.from({ length: n }, (_, i) => [i, 'ok']));
  });

  it('lines a client sent that have not run when it goes away are never run; the ones that ran are a prefix, in order', async () => {
    const requests = 3000;
    const flood = await nonReader(r.socket);
    flood.write(Array.from({ length: requests }, (_, i) => JSON.stringify({ command: 'task_add', id: i, task_id: `a${i}` }) + '\n').join(''));
    while (r.coordinator.listTasks().length === 0) await new Promise((res) => setImmediate(res));
    await turnsPass(r.socket);
    flood.socket.destroy();
    // Once the server has seen the connection close (not sooner: on a busy machine it may take
    // more turns than the other connection's round trips), nothing more of it runs.
    await pollUntil(async () => (r.server.connectionCount === 0 ? true : undefined), 10_000, 'the server to see the client go');
    const ran = r.coordinator.listTasks().length;
    await turnsPass(r.socket);
    assert.equal(r.coordinator.listTasks().length, ran, 'nothing more runs after the client is gone');
    assert.ok(ran < requests, `all ${requests} ran for a client that never read`);
    assert.deepEqual(
      r.coordinator.listTasks().map((t) => t.id).sort(),
      Array.from({ length: ran }, (_, i) => `a${i}`).sort(),
      'the requests that ran are the first ones, with no gap',
    );
    console.log(`      ${ran} of ${requests} task_add requests ran before the client went away`);
  });
});
