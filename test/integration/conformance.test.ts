// Conformance of the wire to the catalog: every command is sent to a real `harness serve` over its
// socket, and every reply's data must parse against the command's result schema and come out of
// it unchanged (no field the schema does not know, no value it would coerce). Every event line a
// subscriber receives meanwhile must parse against its event schema. Each command of the catalog
// is covered at least once, errors included.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { CATALOG } from '../../src/protocol/catalog';
import type { AnyCommand, ParamsOf, ResultOf } from '../../src/protocol/command';
import { EVENTS, isEventName } from '../../src/protocol/events';
import { InstanceDeregister, InstanceHeartbeat, InstanceList, InstanceRegister } from '../../src/protocol/instances';
import { Isolate, IsolateCleanup, IsolateList, Merge } from '../../src/protocol/isolation';
import { LockAcquire, LockList, LockRelease, LockRenew } from '../../src/protocol/locks';
import { MessageAck, MessageDrop, MessageList, MessageReceive, MessageSend, TopicSubscribe, TopicUnsubscribe } from '../../src/protocol/mailbox';
import type { EventLine, Reply } from '../../src/protocol/messages';
import { Ping, Subscribe } from '../../src/protocol/meta';
import { PoolList, PoolSet, ResourceAcquire, ResourceRelease, ResourceRenew } from '../../src/protocol/pools';
import { RunFinish, RunList, RunLog, RunOutput, RunStart } from '../../src/protocol/runs';
import { StateDelete, StateGet, StateHistory, StateList, StatePut } from '../../src/protocol/shared-state';
import {
  CheckpointList,
  CheckpointRecord,
  GroupStatusCommand,
  PlanImport,
  PlanStage,
  Status,
  TaskAdd,
  TaskCancel,
  TaskClaim,
  TaskComplete,
  TaskFail,
  TaskGet,
  TaskHeartbeat,
  TaskList,
  TaskProgressCommand,
  TaskRelease,
  TaskRetry,
} from '../../src/protocol/tasks';
import { cleanupAll, ensureCliBuilt, pollUntil, ServeProcess, tempDir } from '../support/harness-process';

/** Checks `data` against the command's result schema: it parses, and parsing changes nothing. */
function conforms(command: AnyCommand, data: unknown): void {
  const parsed = command.result.safeParse(data);
  assert.ok(parsed.success, `${command.name}: the reply does not parse against its result schema: ${parsed.error?.message}\n${JSON.stringify(data).slice(0, 500)}`);
  assert.deepEqual(parsed.data, data, `${command.name}: the reply carries fields (or values) its result schema does not describe`);
}

describe('wire conformance: every reply and event parses against the catalog (real harness serve)', function () {
  this.timeout(120_000);
  let serve: ServeProcess;
  let client: HarnessClient;
  let watcher: HarnessClient;
  const covered = new Set<string>();
  const events: EventLine[] = [];
  /** Event lines on the requesting connection itself (a refused notification's, without subscribing). */
  const own: EventLine[] = [];
  let dir: string;

  /** Sends a command over the socket; an ok reply is checked against its schema, an error returned as is. */
  async function send<D extends AnyCommand>(command: D, params: ParamsOf<D>): Promise<Reply<ResultOf<D>>> {
    const reply = (await client.send(command.name, params as Record<string, unknown>)) as Reply<ResultOf<D>>;
    covered.add(command.name);
    if (reply.status === 'ok') conforms(command, reply.data);
    else assert.equal(typeof reply.code, 'string');
    return reply;
  }
  async function ok<D extends AnyCommand>(command: D, params: ParamsOf<D>): Promise<ResultOf<D>> {
    const reply = await send(command, params);
    assert.equal(reply.status, 'ok', `${command.name}: ${reply.status === 'error' ? `${reply.code} ${reply.message}` : ''}`);
    return (reply as { data: ResultOf<D> }).data;
  }

  before(async () => {
    ensureCliBuilt();
    dir = fs.realpathSync(tempDir('hconf-'));
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'init');
    const socket = path.join(dir, 'h.sock');
    serve = await ServeProcess.start(dir, socket);
    client = await HarnessClient.connect(socket);
    client.onEvent((e) => own.push(e));
    watcher = await HarnessClient.connect(socket);
    const reply = await watcher.send(Subscribe.name, {});
    conforms(Subscribe, (reply as { data: unknown }).data);
    covered.add(Subscribe.name);
    watcher.onEvent((e) => events.push(e));
  });
  after(async () => {
    client?.close();
    watcher?.close();
    await serve?.stop();
    await cleanupAll();
  });

  it('tasks, plans and groups', async () => {
    assert.equal((await ok(Ping, {})).pong, true);
    await ok(PlanStage, { data: '{"tasks": [{"id": "staged"}]' }).then((s) => ok(PlanStage, { stage_id: s.stage_id, data: '}' })).then((s) => ok(PlanImport, { stage_id: s.stage_id }));
    await ok(PlanImport, {
      tasks: [
        { id: 'a', description: 'first', group: 'g', resources: { gpu: 1 }, payload: { n: 1 } },
        { id: 'b', dependencies: ['a'], group: 'g', capabilities: ['x'] },
        { id: 'c', priority: 5 },
      ],
      resources: { gpu: 2 },
    });
    await ok(TaskAdd, { task_id: 'd', description: 'flat', max_attempts: 1 });
    await ok(TaskAdd, { task: { id: 'e', timeout_seconds: 30 } });
    const first = await ok(TaskClaim, { worker_id: 'w-none', capabilities: ['nothing'] });
    assert.equal(first.task?.id, 'c', 'highest priority first');
    await ok(TaskComplete, { worker_id: 'w-none', task_id: 'c', result: { out: [1, 'two', null] } });
    const a = (await ok(TaskClaim, { worker_id: 'w1' })).task!;
    await ok(TaskHeartbeat, { worker_id: 'w1', task_id: a.id, fencing_token: a.fencing_token });
    await ok(TaskProgressCommand, { worker_id: 'w1', task_id: a.id, percent: 40, message: 'going' });
    const stale = await send(TaskComplete, { worker_id: 'w1', task_id: a.id, fencing_token: a.fencing_token + 7 });
    assert.deepEqual([stale.status, stale.status === 'error' && stale.code], ['error', 'STALE_FENCING_TOKEN']);
    await ok(TaskRelease, { worker_id: 'w1', task_id: a.id });
    const again = (await ok(TaskClaim, { worker_id: 'w1' })).task!;
    await ok(TaskFail, { worker_id: 'w1', task_id: again.id, error: 'flaky', retry: true });
    const d = (await ok(TaskClaim, { worker_id: 'w2' })).task!;
    await ok(TaskFail, { worker_id: 'w2', task_id: d.id, error: 'broken', retry: false });
    const dead = await ok(TaskGet, { task_id: d.id });
    assert.equal(dead.task.status, 'dead_letter');
    await ok(TaskRetry, { task_id: d.id });
    await ok(TaskCancel, { task_id: 'e' });
    const page = await ok(TaskList, { limit: 2 });
    assert.equal(page.tasks.length, 2);
    assert.ok(page.next_cursor);
    await ok(TaskList, { cursor: page.next_cursor!, status: 'pending', group: 'g' });
    const status = await ok(Status, {});
    assert.equal(status.groups.g!.pending + status.groups.g!.running + status.groups.g!.completed, 2);
    await ok(GroupStatusCommand, { group: 'g' });
    await ok(CheckpointRecord, { group: 'g' });
    assert.equal((await ok(CheckpointList, { group: 'g' })).checkpoints.length, 1);
    const missing = await send(TaskGet, { task_id: 'ghost' });
    assert.deepEqual([missing.status === 'error' && missing.code, missing.status === 'error' && missing.details], ['NOT_FOUND', { task_id: 'ghost' }]);
  });

  it('instances', async () => {
    await ok(InstanceRegister, { worker_id: 'w9', name: 'nine', capabilities: ['x'], pid: process.pid });
    await ok(InstanceHeartbeat, { worker_id: 'w9' });
    const listed = await ok(InstanceList, {});
    assert.ok(listed.instances.some((i) => i.worker_id === 'w9'));
    await ok(InstanceDeregister, { worker_id: 'w9' });
  });

  it('runs: run_output is a notification (no reply), a refused one comes back as an event', async () => {
    const { run } = await ok(RunStart, { argv: ['echo', 'hi'], worker_id: 'w1', task_id: 'a', cwd: dir });
    client.notify(RunOutput, { run_id: run.run_id, stream: 'stdout', data: 'hi\n' });
    client.notify(RunOutput, { run_id: 'no-such-run', stream: 'stderr', data: 'lost\n' });
    covered.add(RunOutput.name);
    await ok(RunFinish, { run_id: run.run_id, result: { returncode: 0 } });
    const log = await ok(RunLog, { run_id: run.run_id });
    assert.deepEqual(log.output, [{ stream: 'stdout', data: 'hi\n' }]);
    assert.ok((await ok(RunList, {})).runs.length >= 1);
  });

  it('locks, state, pools, messages', async () => {
    fs.writeFileSync(path.join(dir, 'f.txt'), 'x');
    const grant = await ok(LockAcquire, { worker_id: 'w1', path: path.join(dir, 'f.txt'), mode: 'write', ttl_seconds: 30 });
    await ok(LockRenew, { worker_id: 'w1', token: grant.lock.token });
    const busy = await send(LockAcquire, { worker_id: 'w2', path: 'f.txt', wait_ms: 10 });
    assert.equal(busy.status === 'error' && busy.code, 'TIMEOUT');
    await ok(LockList, {});
    await ok(LockRelease, { worker_id: 'w1', path: 'f.txt' });

    await ok(StatePut, { key: 'k', value: { a: 1 }, worker_id: 'w1' });
    await ok(StatePut, { key: 'k', value: 2, expected_version: 1 });
    await ok(StateGet, { key: 'k' });
    await ok(StateList, { prefix: 'k' });
    await ok(StateDelete, { key: 'k' });
    await ok(StateHistory, { key: 'k' });

    await ok(PoolSet, { name: 'cpu', capacity: 4 });
    const hold = await ok(ResourceAcquire, { worker_id: 'w1', amounts: { cpu: 2 } });
    await ok(PoolList, {});
    await ok(ResourceRenew, { worker_id: 'w1', hold_id: hold.hold.id });
    await ok(ResourceRelease, { worker_id: 'w1', hold_id: hold.hold.id });

    await ok(TopicSubscribe, { worker_id: 'w3', topic: 'news' });
    const sent = await ok(MessageSend, { to: 'topic:news', body: { hello: true }, from: 'w1' });
    await ok(MessageSend, { to: 'w4', body: 'direct' });
    await ok(MessageList, {});
    const got = await ok(MessageReceive, { worker_id: 'w3', wait_ms: 0, max: 10 });
    assert.equal(got.messages[0]!.id, sent.message_id);
    await ok(MessageAck, { worker_id: 'w3', message_id: sent.message_id });
    await ok(MessageDrop, { message_id: (await ok(MessageList, { recipient: 'w4' })).messages[0]!.id });
    await ok(TopicUnsubscribe, { worker_id: 'w3', topic: 'topic:news' });
  });

  it('isolation (real git)', async () => {
    const iso = await ok(Isolate, { worker_id: 'iso1' });
    fs.writeFileSync(path.join(iso.path, 'work.txt'), 'done\n');
    execFileSync('git', ['add', 'work.txt'], { cwd: iso.path, stdio: 'pipe' });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'work'], { cwd: iso.path, stdio: 'pipe' });
    assert.equal((await ok(IsolateList, {})).workers[0]!.unmerged_commits, 1);
    const merged = await ok(Merge, { worker_id: 'iso1' });
    assert.equal(merged.git && merged.merged.length, 1);
    assert.equal((await ok(IsolateCleanup, { worker_ids: ['iso1'] })).removed.length, 1);
  });

  it('covered every command of the catalog, and every event line parsed against its schema', async () => {
    assert.deepEqual(CATALOG.map((c) => c.name).filter((n) => !covered.has(n)), [], 'commands not covered');
    const refused = await pollUntil(async () => own.find((e) => e.event === 'notification:failed'), 5000, 'the refused notification');
    assert.deepEqual(own, [refused], 'one event for the refused notification, nothing for the accepted one');
    assert.deepEqual([(refused.data as { command: string }).command, (refused.data as { code: string }).code], ['run_output', 'NOT_FOUND']);
    await ok(Ping, {}); // the watcher's events up to here have been written
    await pollUntil(async () => (events.some((e) => e.event === 'run:finished') ? true : undefined), 5000, 'the events');
    const seen = new Set<string>();
    for (const e of [...events, ...own]) {
      assert.ok(isEventName(e.event), `an event the catalog does not know: ${e.event}`);
      const parsed = EVENTS[e.event as keyof typeof EVENTS].data.safeParse(e.data);
      assert.ok(parsed.success, `${e.event}: ${parsed.error?.message}\n${JSON.stringify(e.data).slice(0, 300)}`);
      assert.deepEqual(parsed.data, e.data, `${e.event} carries fields its schema does not describe`);
      assert.match(e.ts, /^\d{4}-\d\d-\d\dT/);
      seen.add(e.event);
    }
    for (const expected of ['task:added', 'task:claimed', 'task:completed', 'task:failed', 'task:dead_letter', 'run:output', 'lock:acquired', 'pool:changed', 'message:sent', 'state:changed']) {
      assert.ok(seen.has(expected), `no ${expected} event was seen`);
    }
  });
});
