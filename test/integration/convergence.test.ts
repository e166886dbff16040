// Convergence of parallel streams through real processes: `harness work` workers, `harness wait`
// as barrier, progressive and checkpoint, and the recovery hook when heartbeats stop.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CLI, childEnv, cleanupAll, ensureCliBuilt, oneJsonDoc, pollUntil, runCli, ServeProcess, startDaemon, tempDir, within, type Daemon,
} from '../support/harness-process';

const followed = new Set<ReturnType<typeof spawn>>();

/** Kills what `follow` started and the test left running (a failed assertion skips its cleanup). */
async function killFollowed(): Promise<void> {
  const alive = [...followed].filter((c) => c.exitCode === null && c.signalCode === null);
  followed.clear();
  await Promise.all(alive.map((c) => new Promise((resolve) => (c.once('exit', resolve), c.kill('SIGKILL')))));
}

/** Starts a process and collects its stdout lines as they come. */
function follow(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  followed.add(child);
  const lines: string[] = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    lines.push(...parts.filter(Boolean));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

const worker = (d: Daemon, id: string, command: string) =>
  follow(['work', '--worker', id, '--idle-exit', '1', '--shell', '--', command], d.env);

describe('convergence: harness wait over real workers', function () {
  this.timeout(60_000);
  before(() => ensureCliBuilt());
  afterEach(async () => {
    await killFollowed();
    await cleanupAll();
  });

  it('progressive prints each result as its stream completes, in completion order; the barrier then returns them all', async () => {
    const d = await startDaemon();
    const plan = path.join(d.dir, 'plan.json');
    fs.writeFileSync(plan, JSON.stringify({
      tasks: [
        { id: 'slow', group: 'g', payload: 1.5 },
        { id: 'mid', group: 'g', payload: 0.7 },
        { id: 'fast', group: 'g', payload: 0.1 },
        { id: 'join', dependencies: ['group:g'], payload: 0 },
      ],
    }));
    assert.equal((await runCli(['plan', 'import', plan], d.env)).code, 0);
    const wait = follow(['wait', '--group', 'g', '--progressive'], d.env);
    const workers = ['w1', 'w2', 'w3'].map((w) => worker(d, w, 'sleep "$HARNESS_TASK_PAYLOAD"; echo "{\\"done\\":\\"$HARNESS_TASK_ID\\"}"'));
    assert.equal(await within(wait.exited, 30_000, 'harness wait'), 0, wait.lines.join('\n'));
    const finished = wait.lines.slice(0, -1).map((l) => JSON.parse(l));
    assert.deepEqual(finished.map((f) => f.task_id), ['fast', 'mid', 'slow']);
    assert.ok(finished.every((f) => f.event === 'stream_finished' && f.status === 'completed'));
    const barrier = oneJsonDoc(wait.lines.at(-1)! + '\n', 'barrier');
    assert.equal(barrier.status, 'ok');
    assert.equal(barrier.data.completed, 3);
    assert.match(JSON.stringify(barrier.data.results), /"done\\":\\"slow/);
    await Promise.all(workers.map((w) => w.exited));
    const join = (await runCli(['task', 'show', '--id', 'join'], d.env)).json;
    assert.equal(join.data.task.status, 'completed', 'the barrier task in the plan ran after the group');
  });

  it('checkpoints record every stream’s latest progress at the interval, durably', async () => {
    const d = await startDaemon();
    await runCli(['task', 'add', '--id', 'p1', '--description', 'reports progress'], d.env);
    const add = await d.connect();
    await add.request({ command: 'task_add', task: { id: 'p2', group: 'g' } });
    await add.request({ command: 'task_add', task: { id: 'p3', group: 'g' } });
    add.close();
    const progress = `node ${CLI} task progress --id "$HARNESS_TASK_ID" --percent 50 --message half >/dev/null && sleep 1.2`;
    const wait = follow(['wait', '--group', 'g', '--checkpoint-interval', '0.4'], d.env);
    const workers = ['w1', 'w2'].map((w) => worker(d, w, progress));
    assert.equal(await within(wait.exited, 30_000, 'harness wait'), 0, wait.lines.join('\n'));
    const checkpoints = wait.lines.map((l) => JSON.parse(l)).filter((l) => l.event === 'checkpoint');
    assert.ok(checkpoints.length >= 2, `checkpoints: ${wait.lines.join('\n')}`);
    const halfway = checkpoints.find((c) => c.streams.some((s: any) => s.progress?.percent === 50 && s.progress.message === 'half'));
    assert.ok(halfway, 'a checkpoint saw the progress report');
    const conn = await d.connect();
    const listed = await conn.request({ command: 'checkpoint_list', group: 'g' });
    conn.close();
    assert.equal(listed.data.checkpoints.length, Math.min(checkpoints.length, 10));
    await Promise.all(workers.map((w) => w.exited));
  });

  it('exits non-zero naming the streams that ended dead-lettered; --timeout ends a wait that does not converge', async () => {
    const d = await startDaemon();
    const conn = await d.connect();
    await conn.request({ command: 'plan_import', tasks: [{ id: 'ok', group: 'g' }, { id: 'bad', group: 'g', max_attempts: 1, priority: 5 }] });
    // Needs a capability no worker has: nobody ever takes it.
    await conn.request({ command: 'task_add', task: { id: 'lonely', group: 'never', capabilities: ['unobtainium'] } });
    conn.close();
    const w = worker(d, 'w1', '[ "$HARNESS_TASK_ID" = ok ]');
    const failed = await runCli(['wait', '--group', 'g'], d.env);
    assert.equal(failed.code, 1);
    assert.equal(failed.json.code, 'GROUP_FAILED');
    assert.match(failed.json.message, /1 of 2 tasks of group g did not complete: bad \(dead_letter\)/);
    const timedOut = await runCli(['wait', '--group', 'never', '--timeout', '0.5'], childEnv({ ...d.env, HARNESS_WORKER_ID: 'x' }));
    assert.equal(timedOut.code, 1);
    assert.equal(timedOut.json.code, 'TIMEOUT');
    assert.match(timedOut.json.message, /still open: lonely/);
    const usage = await runCli(['wait'], d.env);
    assert.equal(usage.code, 2);
    w.child.kill('SIGINT');
    await w.exited;
  });
});

describe('heartbeat recovery', function () {
  this.timeout(30_000);
  afterEach(() => cleanupAll());

  it('a worker that stops heartbeating is noticed within the stale timeout: its task is reclaimed and the recovery hook runs', async () => {
    const dir = tempDir();
    const socket = path.join(dir, 'h.sock');
    fs.mkdirSync(path.join(dir, '.harness'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, '.harness', 'config.json'),
      JSON.stringify({ recovery: { command: ['sh', '-c', 'echo "$HARNESS_STALE_WORKER $HARNESS_FREED_TASKS" > recovered.txt'] } }),
    );
    const serve = ServeProcess.spawn(['--worktree', dir, '--socket', socket, '--stale-timeout', '1']);
    await within(serve.ready, 20_000, 'serve ready');
    const env = childEnv({ HARNESS_SOCKET: socket });
    await runCli(['task', 'add', '--id', 'stream-1'], env);
    assert.equal((await runCli(['instance', 'register', '--worker', 'w-gone'], env)).code, 0);
    assert.equal((await runCli(['task', 'claim', '--worker', 'w-gone'], env)).json.data.task.id, 'stream-1');
    // w-gone now says nothing more.
    const hook = await pollUntil(async () => {
      try {
        return fs.readFileSync(path.join(dir, 'recovered.txt'), 'utf8');
      } catch {
        return undefined;
      }
    }, 10_000, 'the recovery hook to write its file');
    assert.equal(hook.trim(), 'w-gone stream-1');
    const reclaim = (await runCli(['task', 'claim', '--worker', 'w-next'], env)).json.data;
    assert.equal(reclaim.task.id, 'stream-1');
    assert.equal(reclaim.is_reclaim, true);
    await serve.stop();
  });
});
