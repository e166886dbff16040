// task_list in bounded pages and status in one pass, over every store.
import * as assert from 'node:assert/strict';
import { listAllTasks } from '../../src/client/paging';
import type { Caller } from '../../src/protocol/api';
import type { TaskInput } from '../../src/protocol/model';
import { STATUS_MAX_GROUPS, TASK_PAGE_DEFAULT, TaskList } from '../../src/protocol/tasks';
import { dataOf } from '../../src/protocol/messages';
import { forEachStore, rejects } from '../support/primitives';

forEachStore('task pages and status', (f) => {
  const caller = (): Caller & { pages: number } => {
    const c = {
      pages: 0,
      call: async (command: { name: string }, params?: unknown) => {
        if (command.name === 'task_list') c.pages++;
        return dataOf(await f.d.send(command.name, (params ?? {}) as Record<string, unknown>)) as never;
      },
    };
    return c;
  };
  const plan = (n: number, at = 0, extra: (i: number) => Partial<TaskInput> = () => ({})): TaskInput[] =>
    Array.from({ length: n }, (_, i) => ({ id: `t${String(at + i).padStart(5, '0')}`, ...extra(at + i) }));

  it(`a page holds at most ${TASK_PAGE_DEFAULT} tasks by default; next_cursor leads through all, oldest first, each once`, async () => {
    await f.c.addTasks(plan(2500));
    const first = await f.d.call(TaskList, {});
    assert.equal(first.tasks.length, TASK_PAGE_DEFAULT);
    assert.ok(first.next_cursor);
    const api = caller();
    const all = await listAllTasks(api);
    assert.equal(api.pages, 3);
    assert.deepEqual(all.map((t) => t.id), plan(2500).map((t) => t.id));
    const small = await f.d.call(TaskList, { limit: 1000, cursor: (await f.d.call(TaskList, { limit: 2000 })).next_cursor! });
    assert.deepEqual([small.tasks.length, small.tasks[0]!.id, small.next_cursor], [500, 't02000', null], 'the last page says so');
  });

  it('filters by status and group, and a task added while paging shows on a later page', async () => {
    await f.c.addTasks(plan(30, 0, (i) => (i % 3 === 0 ? { group: 'g' } : {})));
    await f.c.claim({ worker_id: 'w' }); // t00000 runs
    const page1 = await f.d.call(TaskList, { limit: 4, group: 'g' });
    assert.deepEqual(page1.tasks.map((t) => t.id), ['t00000', 't00003', 't00006', 't00009']);
    await f.c.addTasks([{ id: 'late', group: 'g' }]);
    const rest = await listAllTasks(caller(), { group: 'g', status: 'pending' });
    assert.equal(rest.at(-1)!.id, 'late');
    assert.ok(!rest.some((t) => t.id === 't00000'), 'the running one is filtered out');
    assert.equal(rest.length, 10);
  });

  it('refuses a cursor it did not give and a limit past the cap, naming the field', async () => {
    await rejects(f.d.raw(TaskList, { cursor: 'abc' }), 'INVALID_ARGUMENT', 'cursor: must be a next_cursor that task_list returned');
    await rejects(f.d.raw(TaskList, { limit: 10_001 }), 'INVALID_ARGUMENT', 'limit');
    await rejects(f.d.raw(TaskList, { limit: 0 }), 'INVALID_ARGUMENT', 'limit');
  });

  it('status counts by status, ready, live workers and per group, in one pass', async () => {
    await f.c.addTasks([
      { id: 'a', group: 'build' },
      { id: 'b', group: 'build', dependencies: ['a'] },
      { id: 'c', group: 'test' },
      { id: 'd' },
    ]);
    await f.c.registerInstance({ worker_id: 'w' });
    await f.c.claim({ worker_id: 'w' });
    const s = f.c.summary();
    assert.deepEqual(s.counts, { pending: 3, running: 1, completed: 0, dead_letter: 0, cancelled: 0 });
    assert.equal(s.ready, 2, 'c and d are ready; b waits for a');
    assert.equal(s.instances, 1);
    assert.deepEqual(s.groups, {
      build: { pending: 1, running: 1, completed: 0, dead_letter: 0, cancelled: 0, ready: 0 },
      test: { pending: 1, running: 0, completed: 0, dead_letter: 0, cancelled: 0, ready: 1 },
    });
    assert.equal(s.groups_truncated, false);
  });

  it(`status lists at most ${STATUS_MAX_GROUPS} groups (the first by name) and says it cut the rest`, async () => {
    await f.c.addTasks(plan(STATUS_MAX_GROUPS + 5, 0, (i) => ({ group: `g${String(i).padStart(5, '0')}` })));
    const s = f.c.summary();
    assert.equal(Object.keys(s.groups).length, STATUS_MAX_GROUPS);
    assert.equal(s.groups_truncated, true);
    assert.equal(Object.keys(s.groups)[0], 'g00000');
    assert.equal(s.counts.pending, STATUS_MAX_GROUPS + 5);
  });
});
