// The one dispatcher: parameters checked once against the catalog, errors turned into replies in
// one place (code, message, details), notifications answered with nothing (or a refusal event).
import * as assert from 'node:assert/strict';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import type { Logger } from '../../src/protocol/log';
import { TaskAdd, TaskClaim, TaskGet, TaskList } from '../../src/protocol/tasks';
import { InProcessApi } from '../../src/server/in-process-api';
import type { CoordinatorService } from '../../src/server/service';
import { HarnessError } from '../../src/protocol/errors';
import type { EventLine } from '../../src/protocol/messages';
import { RunOutput, RunStart } from '../../src/protocol/runs';
import { explainError } from '../../src/protocol/error-words';
import { dispatcher } from '../support/dispatch';
import { tempDir } from '../support/stores';

function recordingLog(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, debug() {}, info() {}, warn() {}, error: (m) => errors.push(m) };
}

describe('dispatch', () => {
  const coordinator = () => new Coordinator(new MemoryStore(), DEFAULT_CONFIG);

  it('an unknown command is INVALID_ARGUMENT naming it', async () => {
    const reply = await dispatcher(coordinator()).send('task_clam', {});
    assert.deepEqual(reply, { status: 'error', code: 'INVALID_ARGUMENT', message: 'unknown command "task_clam"' });
  });

  it('checks parameters against the catalog once, naming the field; an unknown field is an error too', async () => {
    const d = dispatcher(coordinator());
    assert.deepEqual(await d.send('task_claim', { worker_id: 'w', capability: ['gpu'] }), {
      status: 'error',
      code: 'INVALID_ARGUMENT',
      message: 'invalid task_claim: capability: unknown field',
      details: { field: 'capability' },
    });
    const missing = await d.send('task_complete', { task_id: 'a' });
    assert.equal(missing.status === 'error' && missing.message, 'invalid task_complete: worker_id: Invalid input: expected string, received undefined');
  });

  it('task_add takes the fields at the top level (id as task_id) or the whole task, not both', async () => {
    const d = dispatcher(coordinator());
    const flat = await d.call(TaskAdd, { task_id: 'a', description: 'flat', priority: 2 });
    const whole = await d.call(TaskAdd, { task: { id: 'b', description: 'whole', priority: 2 } });
    assert.deepEqual([flat.task.id, flat.task.description, whole.task.id, whole.task.priority], ['a', 'flat', 'b', 2]);
    const both = await d.send('task_add', { task: { id: 'c' }, description: 'also' });
    assert.equal(both.status === 'error' && both.message, 'invalid task_add: description: give the task either as "task" or as top-level fields, not both');
  });

  it('a HarnessError keeps its code, message and details; anything else is INTERNAL, its stack logged', async () => {
    const log = recordingLog();
    const d = dispatcher(coordinator(), { log });
    assert.deepEqual(await d.send('task_get', { task_id: 'ghost' }), {
      status: 'error',
      code: 'NOT_FOUND',
      message: 'task ghost does not exist',
      details: { task_id: 'ghost' },
    });
    const broken = { claim: () => Promise.reject(new TypeError('x is undefined')) } as unknown as Coordinator;
    const bug = await dispatcher(broken, { log }).send('task_claim', { worker_id: 'w' });
    assert.deepEqual(bug, { status: 'error', code: 'INTERNAL', message: 'internal error: x is undefined' });
    assert.match(log.errors[0]!, /internal error: TypeError: x is undefined\n\s+at /);
  });

  it('the edges say what to do from the code, through one table', () => {
    assert.equal(
      explainError({ code: 'STALE_FENCING_TOKEN', message: 'task a: fencing token 1 is stale (current 2); the lease was taken over' }),
      'task a: fencing token 1 is stale (current 2); the lease was taken over (another worker holds the task now; stop working on it and claim the next task)',
    );
    assert.equal(explainError({ code: 'SOME_NEWER_CODE', message: 'as is' }), 'as is');
  });
});

describe('the in-process API: the same dispatcher as the socket', () => {
  let api: InProcessApi;
  const events: EventLine[] = [];
  beforeEach(() => {
    const log = recordingLog();
    const d = dispatcher(new Coordinator(new MemoryStore(), DEFAULT_CONFIG), { runsDir: tempDir(), log });
    const service = { coordinator: d.ctx.coordinator, runs: d.ctx.runs, context: d.ctx, socketPath: '', close: async () => {} } as unknown as CoordinatorService;
    api = new InProcessApi(service);
    events.length = 0;
    api.onEvent((e) => events.push(e));
  });

  it('throws error replies as HarnessErrors with their details (they used to be dropped)', async () => {
    await assert.rejects(api.call(TaskGet, { task_id: 'ghost' }), (e: HarnessError) => {
      assert.deepEqual([e.code, e.details], ['NOT_FOUND', { task_id: 'ghost' }]);
      return true;
    });
    await assert.rejects(api.call(TaskClaim, { worker_id: 'has space' }), /invalid task_claim: worker_id: must not contain spaces/);
  });

  it('a notification is carried out without a reply; a refused one is told as a notification:failed event', async () => {
    await api.call(TaskAdd, { task_id: 'a' });
    const { run } = await api.call(RunStart, { argv: ['x'] });
    api.notify(RunOutput, { run_id: run.run_id, stream: 'stdout', data: 'out' });
    api.notify(RunOutput, { run_id: 'nope', stream: 'stdout', data: 'lost' });
    await api.call(TaskList); // notifications run in order before it
    assert.deepEqual(
      events.filter((e) => e.event === 'run:output' || e.event === 'notification:failed').map((e) => [e.event, e.data]),
      [
        ['run:output', { run_id: run.run_id, task_id: null, stream: 'stdout', data: 'out' }],
        ['notification:failed', { command: 'run_output', code: 'NOT_FOUND', message: 'run nope does not exist', details: { run_id: 'nope' } }],
      ],
    );
  });
});
