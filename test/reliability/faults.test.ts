// Faults: the disk failing under the store (injected at its file layer, FileOps, through a real
// socket), the state directory deleted while running, damaged state at start, a client that never
// reads, and thousands of connections opened and dropped.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { listAllTasks } from '../../src/client/paging';
import { nodeFileOps, type FileOps } from '../../src/core/files';
import { silentLogger } from '../../src/core/log';
import type { Task } from '../../src/core/model';
import { JOURNAL_FILE, SNAPSHOT_FILE } from '../../src/core/file-store';
import type { Reply } from '../../src/protocol/messages';
import { startService, type CoordinatorService } from '../../src/server/service';
import { cleanupAll, ensureCliBuilt, oneJsonDoc, RawConnection, ServeProcess, tempDir, within } from '../support/harness-process';
import { fdCount, rssMb, scale, sleep } from '../support/reliability';
import { Ping } from '../../src/protocol/meta';
import { RunOutput, RunStart } from '../../src/protocol/runs';
import { PlanImport, Status, TaskAdd, TaskClaim, TaskComplete, TaskGet, TaskList } from '../../src/protocol/tasks';

type Fault = 'ENOSPC' | 'EIO' | 'EROFS' | 'EACCES';

/** nodeFileOps with switchable faults: a failing write first writes half its bytes, as a full disk does. */
function faultyFiles() {
  const faults: Partial<Record<keyof FileOps, Fault>> = {};
  const fail = (code: Fault, what: string) => Object.assign(new Error(`${code}: ${what} failed (injected)`), { code });
  const files: FileOps = {
    ...nodeFileOps,
    openAppend: (file) => {
      if (faults.openAppend) throw fail(faults.openAppend, `open ${file}`);
      return nodeFileOps.openAppend(file);
    },
    async write(fd, data) {
      const code = faults.write;
      if (code) {
        await nodeFileOps.write(fd, data.subarray(0, data.length >> 1));
        throw fail(code, 'write');
      }
      return nodeFileOps.write(fd, data);
    },
    async datasync(fd) {
      if (faults.datasync) throw fail(faults.datasync, 'fdatasync');
      return nodeFileOps.datasync(fd);
    },
    truncate(fd, length) {
      if (faults.truncate) throw fail(faults.truncate, 'ftruncate');
      nodeFileOps.truncate(fd, length);
    },
    writeAtomic(file, data) {
      if (faults.writeAtomic) throw fail(faults.writeAtomic, `write ${file}`);
      nodeFileOps.writeAtomic(file, data);
    },
  };
  return { files, faults };
}

const services: CoordinatorService[] = [];
async function service(dir: string, files?: FileOps): Promise<CoordinatorService> {
  const s = await startService({ workspace: dir, socketPath: path.join(dir, 'h.sock'), log: silentLogger, config: { instanceLimit: 0 }, ...(files ? { files } : {}) });
  services.push(s);
  return s;
}

function expectStorageError(reply: Reply, what: string, fault: string): void {
  assert.equal(reply.status, 'error', `${what} must not be acknowledged while the disk fails: ${JSON.stringify(reply)}`);
  assert.equal(reply.code, 'STORAGE_ERROR', `${what}: ${JSON.stringify(reply)}`);
  assert.match(reply.message, new RegExp(fault), `${what}: the message names the cause`);
}

const hashDir = (dir: string) =>
  Object.fromEntries(
    [SNAPSHOT_FILE, JOURNAL_FILE]
      .filter((f) => fs.existsSync(path.join(dir, f)))
      .map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')]),
  );

describe('reliability: faults', function () {
  this.timeout(scale(120_000, 300_000));
  before(() => ensureCliBuilt());
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close().catch(() => {});
    await cleanupAll();
  });

  describe('disk errors at the store file layer, through the socket', () => {
    for (const [op, fault] of [
      ['write', 'ENOSPC'],
      ['datasync', 'EIO'],
    ] as const) {
      it(`${fault} on ${op}: a clear STORAGE_ERROR, no acknowledgement, nothing applied; recovers when the disk is back`, async () => {
        const dir = tempDir('hrel-');
        const { files, faults } = faultyFiles();
        const s = await service(dir, files);
        const client = await HarnessClient.connect(s.socketPath);
        await client.call(PlanImport, { tasks: [{ id: 'a' }, { id: 'b' }] });
        const a = { task: (await client.call(TaskClaim, { worker_id: 'w1' })).task! };

        faults[op] = fault;
        expectStorageError(await client.send('task_add', { task_id: 'lost' }), 'task_add', fault);
        expectStorageError(
          await client.send('task_complete', { worker_id: 'w1', task_id: a.task.id, fencing_token: a.task.fencing_token }),
          'task_complete',
          fault,
        );
        // Several clients at once: one batch, one failure, every one of them refused.
        const others = await Promise.all([1, 2, 3].map(() => HarnessClient.connect(s.socketPath)));
        const replies = await Promise.all(others.map((c, i) => c.send('task_add', { task_id: `lost-${i}` })));
        replies.forEach((r, i) => expectStorageError(r, `concurrent task_add ${i}`, fault));
        // Nothing of it is visible: memory went back to what the disk holds.
        assert.equal((await client.send('task_get', { task_id: 'lost' })).status, 'error');
        assert.equal((await client.call(TaskGet, { task_id: a.task.id })).task.status, 'running');

        delete faults[op];
        await client.call(TaskComplete, { worker_id: 'w1', task_id: a.task.id, fencing_token: a.task.fencing_token });
        await client.call(TaskAdd, { task_id: 'after' });
        for (const c of [client, ...others]) c.close();
        await s.close();

        const again = await service(dir);
        const c2 = await HarnessClient.connect(again.socketPath);
        const { tasks } = await c2.call(TaskList);
        assert.deepEqual(
          tasks.map((t) => `${t.id}:${t.status}`),
          [`a:completed`, `b:pending`, `after:pending`],
          'after a restart: everything acknowledged, nothing refused',
        );
        c2.close();
      });
    }

    it('faults switching on and off under concurrent load: durable exactly when acknowledged', async () => {
      const dir = tempDir('hrel-');
      const { files, faults } = faultyFiles();
      const s = await service(dir, files);
      const admin = await HarnessClient.connect(s.socketPath);
      const n = scale(300, 2000);
      await admin.call(PlanImport, { tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}` })) });
      const acked = new Map<string, number>(); // task → token of the acked complete
      const claimed = new Map<string, number>(); // task → highest acked claim token
      let refused = 0;
      let stop = false;
      const toggler = (async () => {
        const ops = ['write', 'datasync'] as const;
        for (let i = 0; !stop; i++) {
          const op = ops[i % 2]!;
          faults[op] = i % 4 < 2 ? 'ENOSPC' : 'EIO';
          await sleep(2 + Math.random() * 10);
          delete faults[op];
          await sleep(5 + Math.random() * 20);
        }
      })();
      const worker = async (k: number) => {
        const c = await HarnessClient.connect(s.socketPath);
        const id = `w${k}`;
        for (;;) {
          const r = await c.send('task_claim', { worker_id: id });
          if (r.status === 'error') {
            assert.equal(r.code, 'STORAGE_ERROR', JSON.stringify(r));
            refused++;
            continue;
          }
          const task = (r.data as { task: Task | null }).task;
          if (!task) break;
          claimed.set(task.id, Math.max(claimed.get(task.id) ?? 0, task.fencing_token));
          for (;;) {
            const done = await c.send('task_complete', { worker_id: id, task_id: task.id, fencing_token: task.fencing_token });
            if (done.status === 'ok') {
              assert.ok(!acked.has(task.id), `${task.id} acknowledged twice`);
              acked.set(task.id, task.fencing_token);
              break;
            }
            assert.equal(done.code, 'STORAGE_ERROR', JSON.stringify(done));
            refused++;
          }
        }
        c.close();
      };
      await Promise.all(Array.from({ length: 8 }, (_, k) => worker(k)));
      stop = true;
      await toggler;
      for (const k of Object.keys(faults)) delete faults[k as keyof FileOps];
      admin.close();
      await s.close();

      const again = await service(dir);
      const c2 = await HarnessClient.connect(again.socketPath);
      const tasks = await listAllTasks(c2); // past one page (1,000) in the full form
      c2.close();
      assert.equal(tasks.length, n);
      for (const t of tasks) {
        assert.equal(t.status, 'completed', `${t.id} is ${t.status}`);
        assert.equal(acked.get(t.id), t.fencing_token, `${t.id}: completed under ${t.fencing_token}, acked under ${acked.get(t.id)}`);
        assert.equal(claimed.get(t.id), t.fencing_token, `${t.id}: an unacknowledged claim became durable (token ${t.fencing_token} > ${claimed.get(t.id)})`);
      }
      assert.ok(refused > 0, 'no fault was hit: the test did not test anything');
      console.log(`      ${n} tasks, ${refused} requests refused with STORAGE_ERROR, all acknowledged work durable, nothing else`);
    });

    it('a read-only state directory (EROFS from the file layer): clear errors at start and on every write', async () => {
      const dir = tempDir('hrel-');
      const { files, faults } = faultyFiles();
      faults.openAppend = 'EROFS';
      await assert.rejects(service(dir, files), /EROFS/, 'start-up names the cause');
      delete faults.openAppend;

      const s = await service(dir, files);
      const client = await HarnessClient.connect(s.socketPath);
      await client.call(TaskAdd, { task_id: 'kept' });
      faults.write = 'EROFS';
      faults.openAppend = 'EROFS'; // recovery re-opens the journal: the file system stays read-only
      for (let i = 0; i < 3; i++) expectStorageError(await client.send('task_add', { task_id: `ro-${i}` }), `write ${i}`, 'EROFS');
      // Reads still work, and show only what is on disk.
      const { tasks } = await client.call(TaskList);
      assert.deepEqual(tasks.map((t) => t.id), ['kept']);
      assert.equal((await client.call(Ping)).pong, true);
      delete faults.write;
      delete faults.openAppend;
      await client.call(TaskAdd, { task_id: 'writable-again' });
      client.close();
      await s.close();
      const again = await service(dir);
      const c2 = await HarnessClient.connect(again.socketPath);
      assert.deepEqual((await c2.call(TaskList)).tasks.map((t) => t.id), ['kept', 'writable-again']);
      c2.close();
    });

    it('the snapshot at shutdown failing (ENOSPC): close reports it, the journal keeps everything', async () => {
      const dir = tempDir('hrel-');
      const { files, faults } = faultyFiles();
      const s = await service(dir, files);
      const client = await HarnessClient.connect(s.socketPath);
      await client.call(PlanImport, { tasks: Array.from({ length: 50 }, (_, i) => ({ id: `s${i}` })) });
      client.close();
      faults.writeAtomic = 'ENOSPC';
      await assert.rejects(s.close(), /ENOSPC/);
      assert.equal(fs.existsSync(path.join(dir, '.harness', SNAPSHOT_FILE)), false);
      delete faults.writeAtomic;
      const again = await service(dir);
      const c2 = await HarnessClient.connect(again.socketPath);
      assert.equal((await c2.call(TaskList)).tasks.length, 50);
      c2.close();
    });
  });

  describe('the state directory deleted while running (harness serve)', () => {
    it('refuses every later write with a clear error instead of acknowledging into a deleted file', async () => {
      const dir = tempDir('hrel-');
      const socket = path.join(dir, 'h.sock');
      const serve = await ServeProcess.start(dir, socket);
      const c = await RawConnection.connect(socket);
      await c.ok({ command: 'task_add', task_id: 'before' });
      fs.rmSync(path.join(dir, '.harness'), { recursive: true, force: true });

      for (const id of ['after-1', 'after-2']) {
        const reply = await c.request({ command: 'task_add', task_id: id });
        assert.equal(reply.status, 'error', `a write after the state directory was deleted was acknowledged: ${JSON.stringify(reply)}`);
        assert.equal(reply.code, 'STORAGE_ERROR');
        assert.match(reply.message, /deleted|ENOENT|no such file/i, reply.message);
      }
      // Still alive and answering.
      assert.equal((await c.ok({ command: 'ping' })).pong, true);
      c.close();
      await serve.stop('SIGKILL');
      const again = await ServeProcess.start(dir, socket);
      const c2 = await RawConnection.connect(socket);
      const ids = (await c2.ok({ command: 'task_list' })).tasks.map((t: Task) => t.id);
      assert.ok(!ids.includes('after-1') && !ids.includes('after-2'), `unacknowledged tasks appeared: ${ids.join(' ')}`);
      c2.close();
      await again.stop();
    });
  });

  describe('damaged state at start (harness serve): a clear error, files kept, never a silent empty start', () => {
    /** A worktree whose .harness holds a snapshot (3 tasks) and a journal of 3 more records after it. */
    async function stateWithSnapshotAndJournal(): Promise<{ dir: string; socket: string; state: string }> {
      const dir = tempDir('hrel-');
      const socket = path.join(dir, 'h.sock');
      let serve = await ServeProcess.start(dir, socket);
      let c = await RawConnection.connect(socket);
      for (const id of ['a', 'b', 'c']) await c.ok({ command: 'task_add', task_id: id, description: `task ${id}` });
      c.close();
      await serve.stop('SIGTERM'); // snapshot
      serve = await ServeProcess.start(dir, socket);
      c = await RawConnection.connect(socket);
      for (const id of ['d', 'e', 'f']) await c.ok({ command: 'task_add', task_id: id, description: `task ${id}` });
      c.close();
      await serve.stop('SIGKILL'); // journal only
      return { dir, socket, state: path.join(dir, '.harness') };
    }

    async function refusesToStart(dir: string, socket: string, file: RegExp): Promise<void> {
      const state = path.join(dir, '.harness');
      const before = hashDir(state);
      const serve = ServeProcess.spawn(['--worktree', dir, '--socket', socket]);
      const exit = await within(serve.exited, 20_000, 'harness serve to refuse');
      assert.notEqual(exit.code, 0, `harness serve started on damaged state:\n${serve.stdout}${serve.stderr}`);
      const doc = oneJsonDoc(serve.stdout, 'harness serve');
      assert.equal(doc.status, 'error');
      assert.equal(doc.code, 'STATE_CORRUPT', JSON.stringify(doc));
      assert.match(doc.message, file);
      assert.match(doc.message, /left as they are/);
      assert.match(serve.stderr, file, 'the message is on stderr too');
      assert.deepEqual(hashDir(state), before, 'the damaged files were changed');
      // (the dead coordinator's socket file may still be there; nobody listens on it)
      await assert.rejects(RawConnection.connect(socket), /ECONNREFUSED|ENOENT/, 'nothing listens for a coordinator that did not start');
    }

    const damage: Array<[string, (state: string) => void, RegExp]> = [
      ['a snapshot of garbage', (s) => fs.writeFileSync(path.join(s, SNAPSHOT_FILE), 'this is not a database'), /state\.db/],
      ['an empty (0-byte) snapshot', (s) => fs.writeFileSync(path.join(s, SNAPSHOT_FILE), ''), /state\.db/],
      [
        'a truncated snapshot',
        (s) => {
          const f = path.join(s, SNAPSHOT_FILE);
          fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
        },
        /state\.db/,
      ],
      [
        // Before snapshots carried a checksum, this one started and served the changed description.
        'a snapshot with one byte changed inside a row',
        (s) => {
          const f = path.join(s, SNAPSHOT_FILE);
          const bytes = fs.readFileSync(f);
          const at = bytes.indexOf('task b');
          assert.ok(at > 0, 'the row is in the snapshot');
          bytes[at + 5] = 'B'.charCodeAt(0);
          fs.writeFileSync(f, bytes);
        },
        /state\.db.*checksum mismatch/,
      ],
      [
        // Before: started, then status, task list and claims failed with INTERNAL while adds answered ok.
        'a snapshot with 4 bytes overwritten at the start of the page holding the tasks',
        (s) => {
          const f = path.join(s, SNAPSHOT_FILE);
          const bytes = fs.readFileSync(f);
          const pageSize = bytes.readUInt16BE(16);
          const page = Math.floor(bytes.indexOf('task b') / pageSize);
          bytes.writeUInt32BE(0xdeadbeef, page * pageSize);
          fs.writeFileSync(f, bytes);
        },
        /state\.db.*checksum mismatch/,
      ],
      [
        'a journal damaged in the middle',
        (s) => {
          const f = path.join(s, JOURNAL_FILE);
          const lines = fs.readFileSync(f, 'utf8').split('\n');
          lines[0] = lines[0]!.replace('task d', 'task D'); // checksum no longer matches
          fs.writeFileSync(f, lines.join('\n'));
        },
        /journal\.log/,
      ],
      [
        'a journal with a record missing from the middle',
        (s) => {
          const f = path.join(s, JOURNAL_FILE);
          const lines = fs.readFileSync(f, 'utf8').split('\n');
          lines.splice(1, 1); // every remaining record intact: only the sequence tells
          fs.writeFileSync(f, lines.join('\n'));
        },
        /journal\.log/,
      ],
    ];
    for (const [what, harm, file] of damage) {
      it(`refuses ${what}`, async () => {
        const { dir, socket, state } = await stateWithSnapshotAndJournal();
        harm(state);
        await refusesToStart(dir, socket, file);
      });
    }

    it('drops only a torn last journal record (a crash mid-write), says so, keeps the rest', async () => {
      const { dir, socket, state } = await stateWithSnapshotAndJournal();
      const f = path.join(state, JOURNAL_FILE);
      fs.truncateSync(f, fs.statSync(f).size - 10);
      const serve = await ServeProcess.start(dir, socket);
      const c = await RawConnection.connect(socket);
      const ids = (await c.ok({ command: 'task_list' })).tasks.map((t: Task) => t.id);
      assert.deepEqual(ids, ['a', 'b', 'c', 'd', 'e']);
      assert.match(serve.stderr, /dropped \d+ bytes of an incomplete last journal record/);
      c.close();
      await serve.stop();
    });
  });

  describe('clients that misbehave', () => {
    it('a subscriber that never reads cannot stall the others, and is dropped', async () => {
      const dir = tempDir('hrel-');
      const socket = path.join(dir, 'h.sock');
      const serve = await ServeProcess.start(dir, socket);
      const rss0 = rssMb(serve.pid);
      // The slow consumer: subscribes to everything, then never reads a byte.
      const slow = net.connect(socket);
      await new Promise((r) => slow.once('connect', r));
      slow.write('{"command":"subscribe"}\n');
      slow.pause();
      let slowClosed = false;
      slow.on('close', () => (slowClosed = true));
      slow.on('error', () => {});
      await sleep(100);

      const producer = await HarnessClient.connect(socket);
      const prober = await HarnessClient.connect(socket);
      const { run } = await producer.call(RunStart, { argv: ['flood'] });
      const chunk = 'x'.repeat(256 * 1024);
      const latencies: number[] = [];
      let flooding = true;
      const probing = (async () => {
        while (flooding) {
          const t = performance.now();
          await prober.call(Status);
          latencies.push(performance.now() - t);
          await sleep(5);
        }
      })();
      const total = scale(40, 120) * 1024 * 1024;
      for (let sent = 0; sent < total; sent += chunk.length) {
        // A notification has no reply: a ping after it paces the producer as a reply would.
        producer.notify(RunOutput, { run_id: run.run_id, stream: 'stdout', data: chunk });
        await producer.call(Ping);
      }
      flooding = false;
      await probing;
      await within(
        (async () => {
          while (!/slow consumer/.test(serve.stderr)) await sleep(50);
        })(),
        10_000,
        'the server to drop the slow consumer',
      );
      latencies.sort((a, b) => a - b);
      const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
      const rss = rssMb(serve.pid);
      console.log(`      ${latencies.length} probes during a ${total / 1024 / 1024} MB event flood: p50 ${latencies[latencies.length >> 1]!.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; server RSS ${rss0.toFixed(0)} → ${rss.toFixed(0)} MB`);
      assert.ok(p99 < 250, `other clients stalled: status p99 ${p99.toFixed(1)} ms`);
      assert.ok(rss - rss0 < 400, `the server buffered without bound: RSS ${rss0.toFixed(0)} → ${rss.toFixed(0)} MB`);
      slow.resume(); // let the close arrive
      await within((async () => { while (!slowClosed) await sleep(20); })(), 10_000, 'the slow connection to be closed');
      assert.equal((await prober.call(Ping)).pong, true);
      producer.close();
      prober.close();
      await serve.stop();
    });

    it('thousands of connections opened and dropped: still answering, no descriptor leak', async () => {
      const dir = tempDir('hrel-');
      const socket = path.join(dir, 'h.sock');
      const serve = await ServeProcess.start(dir, socket);
      const probe = await RawConnection.connect(socket);
      await probe.ok({ command: 'task_add', task_id: 'x' });
      const fds0 = fdCount(serve.pid);
      const rss0 = rssMb(serve.pid);
      const total = scale(3000, 10_000);
      const wave = 250;
      for (let done = 0; done < total; done += wave) {
        await Promise.all(
          Array.from({ length: wave }, async (_, i) => {
            const s = net.connect(socket);
            s.on('error', () => {});
            await new Promise<void>((resolve) => {
              s.once('connect', () => resolve());
              s.once('error', () => resolve());
            });
            switch ((done + i) % 5) {
              case 0: // open and drop
                break;
              case 1: // half a line, then drop
                s.write('{"command":"task_li');
                break;
              case 2: // a request, dropped before its reply
                s.write('{"command":"task_list"}\n');
                break;
              case 3: // a subscription, dropped
                s.write('{"command":"subscribe"}\n');
                await sleep(5);
                break;
              case 4: // a full exchange
                s.write('{"command":"ping"}\n');
                await new Promise((r) => s.once('data', r));
                break;
            }
            s.destroy();
          }),
        );
        assert.equal((await probe.ok({ command: 'ping' })).pong, true, `after ${done + wave} connections`);
      }
      let fds = fdCount(serve.pid);
      for (let i = 0; i < 50 && fds > fds0; i++) {
        await sleep(100);
        fds = fdCount(serve.pid);
      }
      const rss = rssMb(serve.pid);
      console.log(`      ${total} connections: server fds ${fds0} → ${fds}, RSS ${rss0.toFixed(0)} → ${rss.toFixed(0)} MB`);
      assert.ok(fds <= fds0, `descriptors leaked: ${fds0} before, ${fds} after ${total} connections`);
      assert.equal((await probe.ok({ command: 'task_get', task_id: 'x' })).task.id, 'x');
      probe.close();
      await serve.stop();
    });
  });
});
