// The `harness serve` daemon's life as a real process: where its socket goes and who may use it,
// refusing a second daemon, recovering from a SIGKILLed one, and restarts with state intact.
// The protocol and CLI behaviour are in server-cli.test.ts.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  childEnv,
  cleanupAll,
  ensureCliBuilt,
  oneJsonDoc,
  RawConnection,
  runCli,
  ServeProcess,
  tempDir,
  within,
} from '../support/harness-process';

describe('harness serve: daemon lifecycle (real processes)', function () {
  this.timeout(60_000);

  before(function () {
    this.timeout(180_000);
    ensureCliBuilt();
  });
  afterEach(cleanupAll);

  /** A temp worktree and a socket path inside it. */
  const workspace = () => {
    const dir = tempDir();
    return { dir, socket: path.join(dir, 'h.sock'), lockFile: path.join(dir, '.harness', 'owner.pid') };
  };

  const ping = async (socket: string) => {
    const c = await RawConnection.connect(socket);
    try {
      return await c.ok({ command: 'ping' });
    } finally {
      c.close();
    }
  };

  /** Every line until the server closes the connection. */
  const drain = async (c: RawConnection): Promise<any[]> => {
    const lines = [];
    for (;;) {
      try {
        lines.push(await c.next());
      } catch {
        return lines;
      }
    }
  };

  describe('the default socket path', () => {
    it('is a 0600 socket in a 0700 directory under XDG_RUNTIME_DIR, found by the CLI from HARNESS_WORKTREE', async () => {
      const runtime = tempDir();
      const { dir } = workspace();
      const env = childEnv({ XDG_RUNTIME_DIR: runtime });
      const serve = ServeProcess.spawn([], { ...env, HARNESS_WORKTREE: dir });
      const ready = await within(serve.ready, 20_000, 'ready line');
      assert.equal(path.dirname(ready.socket), path.join(runtime, 'agent-harness'));
      assert.match(path.basename(ready.socket), /^[0-9a-f]{16}\.sock$/);
      const sock = fs.statSync(ready.socket);
      assert.ok(sock.isSocket());
      assert.equal((sock.mode & 0o777).toString(8), '600');
      assert.equal((fs.statSync(path.dirname(ready.socket)).mode & 0o777).toString(8), '700');

      const r = await runCli(['ping'], { ...env, HARNESS_WORKTREE: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual([r.json.data.pid, r.json.data.worktree], [serve.pid, dir]);
    });

    it('tightens an existing socket directory that others could enter to 0700', async () => {
      const runtime = tempDir();
      fs.mkdirSync(path.join(runtime, 'agent-harness'), { mode: 0o755 });
      fs.chmodSync(path.join(runtime, 'agent-harness'), 0o755);
      const { dir } = workspace();
      const serve = ServeProcess.spawn(['--worktree', dir], childEnv({ XDG_RUNTIME_DIR: runtime }));
      const ready = await within(serve.ready, 20_000, 'ready line');
      assert.equal((fs.statSync(path.dirname(ready.socket)).mode & 0o777).toString(8), '700');
    });
  });

  describe('a second serve', () => {
    it('on the same worktree fails with a clear error, and the first keeps serving', async () => {
      const { dir, socket, lockFile } = workspace();
      const first = await ServeProcess.start(dir, socket);

      for (const args of [['--socket', socket], ['--socket', path.join(dir, 'other.sock')]]) {
        const second = ServeProcess.spawn(['--worktree', dir, ...args]);
        const exit = await within(second.exited, 20_000, 'the second serve to give up');
        assert.equal(exit.code, 1, second.stderr);
        const reply = oneJsonDoc(second.stdout, 'second serve');
        assert.equal(reply.code, 'STATE_LOCKED');
        assert.match(reply.message, new RegExp(`state directory .* is in use by another coordinator \\(pid ${first.pid}\\)`));
        assert.match(second.stderr, /in use by another coordinator/);
      }
      assert.ok(!fs.existsSync(path.join(dir, 'other.sock')), 'the refused serve left no socket');
      assert.equal(fs.readFileSync(lockFile, 'utf8').trim(), String(first.pid), 'the lock is still the first one');
      assert.equal((await ping(socket)).pid, first.pid);
    });

    it('on another worktree but the same socket fails: a coordinator is already listening', async () => {
      const { dir, socket } = workspace();
      const first = await ServeProcess.start(dir, socket);
      const other = workspace();
      const second = ServeProcess.spawn(['--worktree', other.dir, '--socket', socket]);
      assert.equal((await within(second.exited, 20_000, 'the second serve to give up')).code, 1);
      const reply = oneJsonDoc(second.stdout, 'second serve');
      assert.equal(reply.code, 'STATE_LOCKED');
      assert.match(reply.message, /a coordinator is already listening on .*h\.sock/);
      assert.ok(!fs.existsSync(other.lockFile), 'the refused serve released its own state lock');
      assert.equal((await ping(socket)).pid, first.pid, 'the first still answers on its socket');
    });
  });

  describe('stopping and restarting', () => {
    it('a stale socket file left by a SIGKILLed serve is removed and serve starts', async () => {
      const { dir, socket, lockFile } = workspace();
      const first = await ServeProcess.start(dir, socket);
      assert.equal((await first.stop('SIGKILL')).signal, 'SIGKILL');
      assert.ok(fs.existsSync(socket), 'SIGKILL leaves the socket file behind');
      assert.ok(fs.existsSync(lockFile), 'and the lock file');

      const second = await ServeProcess.start(dir, socket);
      assert.equal((await ping(socket)).pid, second.pid);
      assert.equal(fs.readFileSync(lockFile, 'utf8').trim(), String(second.pid));
    });

    it('SIGTERM: clean exit 0, socket and lock removed; a restart has the state, leases included', async () => {
      const { dir, socket, lockFile } = workspace();
      const first = await ServeProcess.start(dir, socket);
      const c = await RawConnection.connect(socket);
      await c.ok({ command: 'plan_import', tasks: [{ id: 'a' }, { id: 'b', timeout_seconds: 600 }, { id: 'c', dependencies: ['b'] }] });
      await c.ok({ command: 'task_claim', worker_id: 'w1' });
      await c.ok({ command: 'task_complete', worker_id: 'w1', task_id: 'a', result: { sum: 3 } });
      const held = await c.ok({ command: 'task_claim', worker_id: 'w2' });
      assert.equal(held.task.id, 'b');

      // In flight at the signal: a request the daemon took is answered before it goes, and is kept.
      c.socket.write(Array.from({ length: 20 }, (_, i) => JSON.stringify({ command: 'task_add', task: { id: `late${i}`, capabilities: ['late'] } }) + '\n').join(''));
      first.child.kill('SIGTERM');
      const acknowledged = (await drain(c)).filter((r) => r.status === 'ok').map((r) => r.data.task.id as string);
      const exit = await within(first.exited, 15_000, 'serve to exit on SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, first.stderr);
      assert.match(first.stderr, /SIGTERM: finishing in-flight requests/);
      assert.ok(!fs.existsSync(socket), 'the socket is removed');
      assert.ok(!fs.existsSync(lockFile), 'the state lock is released');

      await ServeProcess.start(dir, socket);
      const c2 = await RawConnection.connect(socket);
      const byId = new Map<string, any>((await c2.ok({ command: 'task_list' })).tasks.map((t: { id: string }) => [t.id, t]));
      assert.deepEqual([byId.get('a').status, byId.get('a').result], ['completed', { sum: 3 }]);
      assert.deepEqual([byId.get('b').status, byId.get('b').claimed_by, byId.get('b').fencing_token], ['running', 'w2', 1]);
      assert.equal(byId.get('c').status, 'pending');
      const stored = [...byId.keys()].filter((id) => id.startsWith('late'));
      assert.deepEqual(stored.sort(), acknowledged.sort(), 'each request was either run and answered, or not run');

      const again = await c2.ok({ command: 'task_claim', worker_id: 'w2' });
      assert.deepEqual([again.task.id, again.is_retry], ['b', true], 'the lease survived the restart');
      assert.equal((await c2.ok({ command: 'task_claim', worker_id: 'w3' })).task, null, 'c still waits for b');
    });

    it('SIGKILL, then a restart: every acknowledged change is there', async () => {
      const { dir, socket } = workspace();
      const first = await ServeProcess.start(dir, socket);
      const c = await RawConnection.connect(socket);
      const n = 60;
      c.socket.write(Array.from({ length: n }, (_, i) => JSON.stringify({ command: 'task_add', task: { id: `k${i}`, timeout_seconds: 600 } }) + '\n').join(''));
      for (let i = 0; i < n; i++) assert.equal((await c.next()).status, 'ok');
      c.socket.write(Array.from({ length: 20 }, (_, i) => JSON.stringify({ command: 'task_claim', worker_id: `w${i}` }) + '\n').join(''));
      const claims: Array<{ worker: string; id: string; token: number }> = [];
      for (let i = 0; i < 20; i++) {
        const { task } = (await c.next()).data;
        claims.push({ worker: `w${i}`, id: task.id, token: task.fencing_token });
      }
      const completed = claims.slice(0, 10);
      c.socket.write(completed.map((k) => JSON.stringify({ command: 'task_complete', worker_id: k.worker, task_id: k.id, result: k.worker }) + '\n').join(''));
      for (const k of completed) assert.equal((await c.next()).data.task.id, k.id);
      assert.equal((await first.stop('SIGKILL')).signal, 'SIGKILL'); // right after the last acknowledgement

      await ServeProcess.start(dir, socket);
      const c2 = await RawConnection.connect(socket);
      const tasks: any[] = (await c2.ok({ command: 'task_list' })).tasks;
      assert.equal(tasks.length, n);
      const byId = new Map(tasks.map((t) => [t.id, t]));
      for (const k of completed) assert.deepEqual([byId.get(k.id).status, byId.get(k.id).result], ['completed', k.worker]);
      for (const k of claims.slice(10)) {
        const t = byId.get(k.id);
        assert.deepEqual([t.status, t.claimed_by, t.fencing_token], ['running', k.worker, k.token]);
      }
      assert.equal(tasks.filter((t) => t.status === 'pending').length, n - 20);
    });
  });

  describe('the live-instance limit', () => {
    /** Registers three live workers over the socket, then runs a fourth `harness work`. */
    const fourthWorker = async (socket: string) => {
      const c = await RawConnection.connect(socket);
      for (const w of ['w1', 'w2', 'w3']) await c.ok({ command: 'instance_register', worker_id: w });
      c.close();
      return runCli(['work', '--worker', 'w4', '--max-tasks', '0', '--', 'true'], childEnv({ HARNESS_SOCKET: socket }));
    };

    it('is none by default: a fourth worker registers', async () => {
      const { dir, socket } = workspace();
      await ServeProcess.start(dir, socket);
      const fourth = await fourthWorker(socket);
      assert.equal(fourth.code, 0, fourth.stdout + fourth.stderr);
      assert.match(fourth.stderr, /\[w4\] registered/);
    });

    it('--instance-limit 3 refuses the fourth, and the error says how to raise it in harness serve and in VS Code', async () => {
      const { dir, socket } = workspace();
      const serve = ServeProcess.spawn(['--worktree', dir, '--socket', socket, '--instance-limit', '3']);
      await within(serve.ready, 20_000, 'harness serve ready line');
      const fourth = await fourthWorker(socket);
      assert.equal(fourth.code, 1);
      assert.equal(fourth.json.code, 'INSTANCE_LIMIT');
      assert.match(fourth.json.message, /instance limit reached: 3 of 3 live instances \(w1, w2, w3\)/);
      assert.match(fourth.json.message, /harness serve --instance-limit N/);
      assert.match(fourth.json.message, /agentHarness\.instanceLimit/);
    });
  });

  describe('signals', () => {
    /** Resolves once `serve` wrote `pattern` to stderr. */
    const stderrShows = (serve: ServeProcess, pattern: RegExp) =>
      within(
        new Promise<void>((resolve) => {
          const look = () => pattern.test(serve.stderr) && resolve();
          serve.child.stderr!.on('data', look);
          look();
        }),
        20_000,
        `harness serve to log ${pattern}`,
      );

    it('SIGTERM while the state is being opened is a clean stop: exit 0, no ready line, nothing lost', async () => {
      const { dir, socket } = workspace();
      const n = 10_000; // a journal that takes a while to replay
      const first = await ServeProcess.start(dir, socket);
      const c = await RawConnection.connect(socket);
      await c.ok({ command: 'plan_import', tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}` })) });
      c.close();
      assert.equal((await first.stop('SIGKILL')).signal, 'SIGKILL'); // no snapshot: the next start replays the journal

      const opening = ServeProcess.spawn(['--worktree', dir, '--socket', socket]);
      await stderrShows(opening, /opening the state of/);
      opening.child.kill('SIGTERM');
      const exit = await within(opening.exited, 30_000, 'harness serve to stop');
      assert.deepEqual(exit, { code: 0, signal: null }, opening.stderr);
      assert.equal(opening.stdout, '', 'stopped before it was ready: no ready line');
      assert.match(opening.stderr, /SIGTERM: finishing in-flight requests and shutting down[\s\S]*stopped/);

      await ServeProcess.start(dir, socket);
      const c2 = await RawConnection.connect(socket);
      assert.equal((await c2.ok({ command: 'status' })).counts.pending, n);
    });

    it('SIGTERM right after the ready line, and again while stopping, is one clean stop', async () => {
      const { dir, socket } = workspace();
      const serve = ServeProcess.spawn(['--worktree', dir, '--socket', socket]);
      await within(serve.ready, 20_000, 'harness serve ready line');
      serve.child.kill('SIGTERM');
      serve.child.kill('SIGTERM');
      const exit = await within(serve.exited, 15_000, 'harness serve to stop');
      assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr);
    });
  });
});
