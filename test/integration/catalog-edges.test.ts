// The edges on the catalog, with real processes: notifications never take a reply slot of a
// pipelined client, a plan's unknown field is refused by the CLI, and the workspace is named
// --workspace / HARNESS_WORKSPACE with --worktree / HARNESS_WORKTREE still working.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import type { EventLine } from '../../src/protocol/messages';
import { Ping } from '../../src/protocol/meta';
import { RunOutput, RunStart } from '../../src/protocol/runs';
import { PlanImport, TaskAdd, TaskGet, TaskList } from '../../src/protocol/tasks';
import { childEnv, cleanupAll, ensureCliBuilt, pollUntil, runCli, ServeProcess, startDaemon, tempDir, within } from '../support/harness-process';

describe('the catalog at the edges (real processes)', function () {
  this.timeout(60_000);
  before(() => ensureCliBuilt());
  afterEach(cleanupAll);

  it('pipelined requests and notifications: every reply reaches its own request; a refused notification is an event', async () => {
    const d = await startDaemon();
    const client = await HarnessClient.connect(d.socket);
    const events: EventLine[] = [];
    client.onEvent((e) => events.push(e));
    const { run } = await client.call(RunStart, { argv: ['x'] });
    // Written back to back without waiting: if a notification got a reply, every later call would
    // take the reply meant for the one before it.
    const calls: Array<Promise<{ task: { id: string } }>> = [];
    for (let i = 0; i < 20; i++) {
      calls.push(client.call(TaskAdd, { task_id: `t${i}` }));
      client.notify(RunOutput, { run_id: run.run_id, stream: 'stdout', data: `line ${i}\n` });
      client.notify(RunOutput, { run_id: 'no-such-run', stream: 'stderr', data: 'x' });
      calls.push(client.call(TaskGet, { task_id: `t${i}` }));
    }
    const replies = await within(Promise.all(calls), 10_000, 'the replies');
    assert.deepEqual(
      replies.map((r) => r.task.id),
      Array.from({ length: 20 }, (_, i) => [`t${i}`, `t${i}`]).flat(),
    );
    assert.equal((await client.call(Ping)).pong, true);
    await pollUntil(async () => (events.length >= 20 ? true : undefined), 5000, 'the refusals');
    assert.deepEqual(new Set(events.map((e) => `${e.event} ${(e.data as { code: string }).code}`)), new Set(['notification:failed NOT_FOUND']));
    assert.equal(events.length, 20);
    const log = await runCli(['task', 'list'], d.env);
    assert.equal(log.json.data.tasks.length, 20);
    client.close();
  });

  it('plan import refuses a plan with an unknown field anywhere, naming it, and stores nothing', async () => {
    const d = await startDaemon();
    const file = path.join(d.dir, 'plan.json');
    // A misspelt "resources": silently dropped before, so both GPU tasks ran at once.
    fs.writeFileSync(file, JSON.stringify({ resource: { 'cap:gpu': 1 }, tasks: [{ id: 'g1', capabilities: ['gpu'] }, { id: 'g2', capabilities: ['gpu'] }] }));
    const r = await runCli(['plan', 'import', file], d.env);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.json.code, 'INVALID_ARGUMENT');
    assert.match(r.json.message, /plan\.json: resource: unknown field/);
    assert.equal(r.json.details.field, 'resource');
    assert.match(r.stderr, /resource: unknown field \(fix the named field and send it again\)/, 'stderr says what to do');
    const yaml = path.join(d.dir, 'plan.yaml');
    fs.writeFileSync(yaml, 'tasks:\n  - id: y1\n    timeout: 5\n');
    assert.match((await runCli(['plan', 'import', yaml], d.env)).json.message, /tasks\[0\]\.timeout: unknown field/);
    assert.deepEqual((await runCli(['task', 'list'], d.env)).json.data.tasks, []);
  });

  it('serve --workspace names the workspace; --worktree and HARNESS_WORKTREE still work; the CLI finds it by HARNESS_WORKSPACE', async () => {
    const runtime = tempDir('hrt-');
    fs.chmodSync(runtime, 0o700);
    const workspace = fs.realpathSync(tempDir('hws-'));
    const env = childEnv({ XDG_RUNTIME_DIR: runtime });
    const serve = ServeProcess.spawn(['--workspace', workspace], env);
    const ready = await within(serve.ready, 20_000, 'serve');
    assert.deepEqual([ready.workspace, ready.worktree], [workspace, workspace]);
    const viaNew = await runCli(['ping'], { ...env, HARNESS_WORKSPACE: workspace });
    assert.deepEqual([viaNew.code, viaNew.json.data.workspace, viaNew.json.data.worktree], [0, workspace, workspace]);
    const viaOld = await runCli(['ping'], { ...env, HARNESS_WORKTREE: workspace });
    assert.equal(viaOld.json.data.workspace, workspace, 'the old variable still finds the coordinator');
    await serve.stop();

    const old = ServeProcess.spawn(['--worktree', workspace], env);
    assert.equal((await within(old.ready, 20_000, 'serve --worktree')).workspace, workspace, '--worktree is the old name of --workspace');
    await old.stop();
    const fromEnv = ServeProcess.spawn([], { ...env, HARNESS_WORKTREE: workspace });
    assert.equal((await within(fromEnv.ready, 20_000, 'serve from HARNESS_WORKTREE')).workspace, workspace);
    await fromEnv.stop();

    const both = await runCli(['serve', '--workspace', workspace, '--worktree', workspace], env);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--worktree is the old name of --workspace/);
  });

  it('the CLI finds the coordinator of the workspace from a subfolder and from an isolated worktree under .harness, as git finds its repository', async () => {
    const runtime = tempDir('hrt-');
    fs.chmodSync(runtime, 0o700);
    const workspace = fs.realpathSync(tempDir('hws-'));
    const env = childEnv({ XDG_RUNTIME_DIR: runtime });
    delete env.HARNESS_SOCKET;
    delete env.HARNESS_WORKSPACE;
    const serve = ServeProcess.spawn(['--workspace', workspace], env);
    await within(serve.ready, 20_000, 'serve');
    try {
      for (const where of [path.join(workspace, 'src', 'deep'), path.join(workspace, '.harness', 'worktrees', 'agent-1')]) {
        fs.mkdirSync(where, { recursive: true });
        const r = await runCli(['ping'], env, where);
        assert.deepEqual([r.code, r.json.data?.workspace], [0, workspace], `from ${where}: ${r.stdout}${r.stderr}`);
      }
      // A folder outside it is not its workspace: no coordinator there.
      const outside = fs.realpathSync(tempDir('hout-'));
      assert.equal((await runCli(['ping'], env, outside)).code, 1);
    } finally {
      await serve.stop();
    }
  });

  it('a task_list reply is one bounded page; harness task list pages through every task', async () => {
    const d = await startDaemon();
    const client = await HarnessClient.connect(d.socket);
    await client.call(PlanImport, { tasks: Array.from({ length: 2500 }, (_, i) => ({ id: `t-${i}` })) });
    const page = await client.call(TaskList);
    assert.deepEqual([page.tasks.length, typeof page.next_cursor], [1000, 'string']);
    const all = await runCli(['task', 'list', '--format', 'text'], d.env);
    // One READY section: its title, its header, a row per task in claim order, then the summary.
    const lines = all.stdout.trim().split('\n');
    assert.equal(lines.length, 2503);
    assert.deepEqual([lines[0], lines.at(-1)], ['READY (in the order they are claimed): 2500', '2500 tasks: 2500 ready']);
    assert.deepEqual(lines.slice(2, -1).map((l) => l.trim().split(/\s+/)[0]), Array.from({ length: 2500 }, (_, i) => `t-${i}`));
    client.close();
  });
});
