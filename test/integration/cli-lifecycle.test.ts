// The CLI's long-running commands (work, serve, wait, watch) as a new user meets them, as real
// processes: they stop promptly when told to, refuse a bad command line before doing anything,
// and say what they are waiting for.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  childEnv,
  cleanupAll,
  CLI,
  ensureCliBuilt,
  ROOT,
  runCli,
  ServeProcess,
  tempDir,
  useDaemon,
  within,
  type Daemon,
  type Exit,
  type RawConnection,
} from '../support/harness-process';

/** A long-running `harness` command: its output so far, and waits on what it prints and on its exit. */
class Running {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;

  constructor(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT) {
    this.child = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => running.delete(this));
  }

  /** Resolves once stdout or stderr (`on`) matches `pattern`; fails if the process exits first. */
  shows(pattern: RegExp, on: 'stdout' | 'stderr' = 'stderr'): Promise<void> {
    const seen = new Promise<void>((resolve, reject) => {
      const look = () => pattern.test(this[on]) && resolve();
      this.child[on]!.on('data', () => setImmediate(look));
      look();
      void this.exited.then(() => (pattern.test(this[on]) ? resolve() : reject(new Error(`exited before printing ${pattern}:\n${this.stdout}${this.stderr}`))));
    });
    return within(seen, 30_000, `${pattern} on ${on}:\n${this.stdout}${this.stderr}`);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

const running = new Set<Running>();
async function killRunning(): Promise<void> {
  for (const r of running) if (r.alive) r.kill('SIGKILL');
  await Promise.all([...running].map((r) => r.exited));
}

/**
 * Bounds a stop that must be prompt: the defect it guards against kept the process for 10
 * minutes, so a generous bound tells the two apart on a loaded machine without timing anything.
 */
const PROMPT_MS = 10_000;

describe('harness work, serve, wait, watch: lifecycle and bad command lines (real processes)', function () {
  this.timeout(120_000);

  describe('without a coordinator', () => {
    before(function () {
      this.timeout(180_000);
      ensureCliBuilt();
    });
    afterEach(async () => {
      await killRunning();
      await cleanupAll();
    });

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      it(`work stops promptly on ${signal} while it waits for a coordinator that is not there (it used to go on for 10 minutes)`, async () => {
        const dir = tempDir();
        const env = childEnv({ HARNESS_SOCKET: path.join(dir, 'none.sock'), HARNESS_WORKER_ID: 'w1' });
        const work = new Running(['work', '--', 'true'], env, dir);
        await work.shows(/coordinator unreachable .*reconnecting/);
        work.kill(signal);
        const exit = await within(work.exited, PROMPT_MS, `harness work to stop on ${signal}:\n${work.stderr}`);
        assert.deepEqual(exit, { code: 0, signal: null }, work.stderr);
        assert.match(work.stderr, /stopped without a coordinator to release a task to or deregister from/);
        assert.equal(work.stdout, '', 'no CLOSED error document: the stop was asked for');
      });
    }

    it('serve --workspace naming a folder that does not exist is a usage error naming it; nothing is created', async () => {
      const missing = path.join(tempDir(), 'no', 'such', 'dir');
      const serve = ServeProcess.spawn(['--workspace', missing, '--socket', path.join(tempDir(), 's.sock')]);
      const exit = await within(serve.exited, 30_000, 'harness serve to refuse');
      assert.equal(exit.code, 2, serve.stdout + serve.stderr);
      assert.equal(JSON.parse(serve.stdout).code, 'USAGE');
      assert.match(serve.stderr, new RegExp(`--workspace ${missing}: no such folder: ${missing}`));
      assert.doesNotMatch(serve.stderr, /opening the state/);
      assert.equal(fs.existsSync(path.dirname(path.dirname(missing))), false, 'no part of the path was created');
    });

    it('recover and mcp read --workspace the same way: a missing folder or a file is a usage error, exit 2', async () => {
      const dir = tempDir();
      const missing = path.join(dir, 'missing');
      const file = path.join(dir, 'a-file');
      fs.writeFileSync(file, '');
      const recover = await runCli(['recover', '--workspace', missing], childEnv(), dir);
      assert.equal(recover.code, 2, recover.stdout + recover.stderr);
      assert.equal(recover.json.code, 'USAGE');
      assert.match(recover.json.message, /no such folder: .*missing/);
      const old = await runCli(['recover', '--worktree', file], childEnv(), dir);
      assert.equal(old.code, 2, old.stdout + old.stderr);
      assert.match(old.json.message, /^--worktree .*a-file: not a folder: /);
      const mcp = await runCli(['mcp', '--workspace', missing], childEnv(), dir);
      assert.equal(mcp.code, 2, mcp.stdout + mcp.stderr);
      assert.equal(mcp.stdout, '', "stdout is the MCP client's channel");
      assert.match(mcp.stderr, /--workspace .*missing: no such folder/);
      const fromEnv = await runCli(['serve'], childEnv({ HARNESS_WORKSPACE: missing }), dir);
      assert.equal(fromEnv.code, 2, fromEnv.stdout + fromEnv.stderr);
      assert.match(fromEnv.json.message, /^HARNESS_WORKSPACE: no such folder: /);
      assert.equal(fs.existsSync(missing), false);
    });

    it('serve --nats without --cluster is a usage error (exit 2) before anything is opened', async () => {
      const dir = tempDir();
      const serve = ServeProcess.spawn(['--workspace', dir, '--socket', path.join(dir, 's.sock'), '--nats', 'nats://127.0.0.1:4222']);
      const exit = await within(serve.exited, 30_000, 'harness serve to refuse');
      assert.equal(exit.code, 2, serve.stdout + serve.stderr);
      assert.equal(JSON.parse(serve.stdout).code, 'USAGE');
      assert.match(serve.stderr, /--nats needs a cluster name: --cluster NAME/);
      assert.doesNotMatch(serve.stderr, /opening the state/);
      assert.equal(fs.existsSync(path.join(dir, '.harness')), false, 'no state directory');
    });

    it('serve stopped by SIGTERM while the CLI is still loading exits 0 and leaves nothing behind', async () => {
      const dir = tempDir();
      const socket = path.join(dir, 's.sock');
      const preload = path.join(ROOT, 'test', 'support', 'sigterm-while-loading.js');
      const serve = ServeProcess.spawn(['--workspace', dir, '--socket', socket], childEnv({ NODE_OPTIONS: `--require ${preload}` }));
      const exit = await within(serve.exited, 30_000, 'harness serve to stop');
      assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr);
      assert.equal(serve.stdout, '', 'no ready line');
      assert.match(serve.stderr, /SIGTERM: stopped before opening the state of/);
      assert.equal(fs.existsSync(socket), false, 'no socket');
      assert.equal(fs.existsSync(path.join(dir, '.harness', 'owner.pid')), false, 'no owner.pid');
      // The early signal is not kept from the commands that do not stop cleanly on it: they end as they always did.
      const list = new Running(['task', 'list'], childEnv({ NODE_OPTIONS: `--require ${preload}`, HARNESS_SOCKET: socket }), dir);
      assert.deepEqual(await within(list.exited, 30_000, 'harness task list to end'), { code: null, signal: 'SIGTERM' });
    });
  });

  describe('with a coordinator', () => {
    let d: Daemon;
    let c: RawConnection;
    useDaemon((daemon, connection) => ((d = daemon), (c = connection)));
    afterEach(killRunning);

    it('work stops promptly on SIGTERM while it reconnects to a coordinator that went away', async () => {
      const work = new Running(['work', '--worker', 'w1', '--', 'true'], d.env, d.dir);
      await work.shows(/\[w1\] registered/);
      await d.serve.stop('SIGKILL');
      await work.shows(/coordinator unreachable .*reconnecting/);
      work.kill('SIGTERM');
      const exit = await within(work.exited, PROMPT_MS, `harness work to stop:\n${work.stderr}`);
      assert.deepEqual(exit, { code: 0, signal: null }, work.stderr);
    });

    it('work --shell with several command words is refused up front (exit 2) and claims nothing', async () => {
      await c.ok({ command: 'task_add', task_id: 't1', description: 'd' });
      const r = await runCli(['work', '--worker', 'w1', '--shell', '--idle-exit', '0', '--', 'echo', 'task {id}: {description}'], d.env, d.dir);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.json.code, 'USAGE');
      assert.equal(r.json.message, '--shell takes exactly one command line, quoted as one argument; got 2 arguments');
      const { task } = await c.ok({ command: 'task_get', task_id: 't1' });
      assert.deepEqual([task.status, task.attempts], ['pending', 0], 'nothing was claimed');
      // One command line is still what --shell runs.
      const ok = await runCli(['work', '--worker', 'w1', '--shell', '--idle-exit', '0', '--max-tasks', '1', '--', 'echo "task {id}: {description}"'], d.env, d.dir);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /task t1: d/);
    });

    it('wait --group with no tasks says so once on stderr and keeps waiting for tasks to come', async () => {
      const wait = new Running(['wait', '--group', 'later'], d.env, d.dir);
      await wait.shows(/group later has no tasks yet; waiting for tasks to be added to it and to finish \(with no time limit: Ctrl\+C stops it, --timeout S gives up after S seconds\)/);
      assert.ok(wait.alive, 'still waiting');
      // A task added to the group afterwards is waited for, and its completion ends the wait.
      await c.ok({ command: 'task_add', task_id: 'late', group: 'later' });
      await c.ok({ command: 'task_claim', worker_id: 'w1' });
      const { task } = await c.ok({ command: 'task_get', task_id: 'late' });
      await c.ok({ command: 'task_complete', worker_id: 'w1', task_id: 'late', fencing_token: task.fencing_token });
      const exit = await within(wait.exited, 30_000, `harness wait to end:\n${wait.stderr}`);
      assert.equal(exit.code, 0, wait.stdout + wait.stderr);
      assert.equal(JSON.parse(wait.stdout).data.completed, 1);
      assert.equal(wait.stderr.match(/has no tasks yet/g)?.length, 1, 'said once');
      // --timeout 0 answers at once, as before.
      const now = await runCli(['wait', '--group', 'none', '--timeout', '0'], d.env, d.dir);
      assert.equal(now.code, 1);
      assert.equal(now.json.message, 'group none did not converge within 0 s: it has no tasks');
    });

    it('watch says when the coordinator goes away, and follows it again once it is back', async () => {
      const watch = new Running(['watch', '--format', 'json'], d.env, d.dir);
      await watch.shows(/watching .* \(Ctrl\+C to stop\)/);
      await d.serve.stop('SIGTERM');
      await watch.shows(/the coordinator went away; reconnecting/);
      assert.ok(watch.alive, 'watch goes on');
      await ServeProcess.start(d.dir, d.socket);
      await watch.shows(/watching .* again/);
      const again = await d.connect();
      await again.ok({ command: 'task_add', task_id: 'after-restart' });
      await watch.shows(/"after-restart"/, 'stdout');
      watch.kill('SIGINT');
      assert.deepEqual(await within(watch.exited, PROMPT_MS, 'harness watch to stop'), { code: 0, signal: null });
    });
  });
});
