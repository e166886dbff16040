// `harness task list --format text` and `task show`: ready apart from blocked, aligned columns,
// group and needs, and a layout that still reads at 2,500 tasks (one line per task, bounded width).
import * as assert from 'node:assert/strict';
import type { Task, TaskStatus } from '../../src/protocol/model';
import { taskListText, taskText } from '../../src/cli/task-text';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (ms: number) => new Date(NOW + ms).toISOString();

/** A task as the coordinator makes it (created a minute before NOW), with `over` changed. */
let made: Task;
const task = (id: string, over: Partial<Task> = {}): Task => ({ ...made, id, ...over });

const lookup = (tasks: readonly Task[]) => {
  const byId = new Map(tasks.map((t) => [t.id, t.status]));
  return (id: string): TaskStatus | undefined => byId.get(id);
};

/** `task list --format text` of `tasks` at NOW is these lines. */
function expectList(tasks: Task[], lines: string[]): void {
  assert.equal(taskListText(tasks, lookup(tasks), NOW), lines.join('\n') + '\n');
}

/** The column each header cell starts at, and where each row's cells start: equal when aligned. */
function assertAligned(section: string[]): void {
  const [header, ...rows] = section;
  const starts = [...header!.matchAll(/(?<=^ {2}|  )\S/g)].map((m) => m.index);
  for (const row of rows) {
    for (const start of starts.slice(1)) {
      assert.equal(row[start! - 1], ' ', `a cell of "${row}" runs into column ${start}`);
      assert.notEqual(row[start!], ' ', `"${row}" has no cell at column ${start} (header: "${header}")`);
    }
  }
}

describe('task list --format text', () => {
  before(async () => {
    [made] = await new Coordinator(new MemoryStore(), DEFAULT_CONFIG, new ManualClock(NOW - 60_000)).addTasks([{ id: 'made' }]);
  });

  // The newcomer's scenario: 8 tasks, 3 workers, one dependency failed for good.
  const eightTasks = () => [
    task('fetch', { description: 'Fetch the data set', status: 'dead_letter', attempts: 3, error: 'network down' }),
    task('lint', { description: 'Lint the sources', capabilities: ['ts'] }),
    task('build', { description: 'Build the app', dependencies: ['fetch'], capabilities: ['ts'] }),
    task('train-a', { description: 'Train model A', dependencies: ['lint'], capabilities: ['gpu'], group: 'train', resources: { gpu: 1 } }),
    task('train-b', { description: 'Train model B', capabilities: ['gpu'], group: 'train', priority: 5 }),
    task('report', { description: 'Write the report', dependencies: ['train-a', 'train-b', 'build'] }),
    task('docs', { description: 'Build the docs', status: 'completed', claimed_by: 'w1', duration_ms: 4200, attempts: 1 }),
    task('deploy', {
      description: 'Deploy',
      status: 'running',
      claimed_by: 'w2',
      attempts: 1,
      fencing_token: 1,
      lease_expires_at: at(298_000),
      progress: { percent: 40, message: 'uploading', at: at(-1000) },
    }),
  ];

  it('shows ready apart from blocked, with what each waits for, group and needs, in aligned columns', () => {
    expectList(eightTasks(), [
      'COMPLETED: 1',
      '  ID    BY  TOOK  GROUP  DESCRIPTION',
      '  docs  w1  4 s   -      Build the docs',
      'DEAD LETTER (harness task retry --id ID puts one back): 1',
      '  ID     ATTEMPTS  GROUP  ERROR',
      '  fetch  3/3       -      network down',
      'BLOCKED (waiting for dependencies): 3',
      '  ID       WAITING FOR              GROUP  NEEDS      DESCRIPTION',
      '  build    fetch (dead letter)      -      ts         Build the app',
      '  train-a  lint                     train  gpu,gpu=1  Train model A',
      '  report   train-a, train-b, build  -      -          Write the report',
      'READY (in the order they are claimed): 2',
      '  ID       PRIORITY  ATTEMPT  GROUP  NEEDS  DESCRIPTION',
      '  train-b  5         0/3      train  gpu    Train model B',
      '  lint     0         0/3      -      ts     Lint the sources',
      'RUNNING: 1',
      '  ID      WORKER  ATTEMPT  LEASE ENDS     GROUP  NEEDS  DESCRIPTION',
      '  deploy  w2      1/3      in 4 min 58 s  -      -      Deploy [40% uploading]',
      '8 tasks: 1 running, 2 ready, 3 blocked, 1 dead letter, 1 completed',
    ]);
  });

  it('reads well at 2,500 tasks: every task on one line, once, aligned, no line wider than 200 columns', () => {
    const long = 'x'.repeat(300);
    const tasks: Task[] = [];
    for (let i = 0; i < 2500; i++) {
      const id = i % 97 === 0 ? `t-${i}-${'y'.repeat(80)}` : `t-${i}`;
      const kind = i % 5;
      tasks.push(
        task(id, {
          description: i % 7 === 0 ? long : `step ${i}`,
          status: kind === 0 ? 'completed' : kind === 1 ? 'running' : 'pending',
          claimed_by: kind <= 1 ? `worker-${i % 3}` : null,
          lease_expires_at: kind === 1 ? at(60_000) : null,
          duration_ms: kind === 0 ? i : null,
          // Every fourth pending task waits on the task before it (and on many others: a long list).
          dependencies: kind === 3 ? Array.from({ length: 30 }, (_, k) => tasks[Math.max(0, i - 1 - k)]!.id) : [],
          group: `g${i % 4}`,
          capabilities: i % 2 ? ['ts'] : [],
        }),
      );
    }
    const text = taskListText(tasks, lookup(tasks), NOW);
    const lines = text.trimEnd().split('\n');
    const rows = lines.filter((l) => l.startsWith('  ') && !/^ {2}ID /.test(l));
    assert.equal(rows.length, 2500, 'one line per task');
    const firstCells = rows.map((r) => r.trim().split(/\s+/)[0]!);
    assert.equal(new Set(firstCells).size, 2500, 'each task once');
    assert.ok(Math.max(...lines.map((l) => l.length)) <= 200, `widest line: ${Math.max(...lines.map((l) => l.length))}`);
    // Each section's rows line up with its header.
    const sections = text.split(/^(?=[A-Z])/m).map((s) => s.trimEnd().split('\n').filter((l) => l.startsWith('  ')));
    for (const section of sections.filter((s) => s.length > 1)) assertAligned(section);
    assert.equal(lines.at(-1), '2500 tasks: 500 running, 1000 ready, 500 blocked, 500 completed');
  });

  it('a dependency outside the list is looked up; a blocked task names what it waits for, with more as +N', () => {
    const t = task('late', { dependencies: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n'].map((x) => `dependency-${x}`) });
    const text = taskListText([t], (id) => (id === 'dependency-a' ? 'completed' : 'pending'), NOW);
    assert.match(text, /late {2}dependency-b, dependency-c \+11/);
    assert.equal(taskListText([], () => undefined), 'no tasks\n');
  });

  it('a failed task waiting out its retry backoff is shown apart, with its next attempt; once due, it is ready', () => {
    const failed = task('flaky', {
      attempts: 1,
      error: 'exit code 1: connection reset',
      retry_at: at(30_000),
      retry_backoff: { strategy: 'exponential', delay_seconds: 30, max_delay_seconds: 300 },
    });
    const tasks = [failed, task('other')];
    expectList(tasks, [
      'RETRYING (failed; the next attempt waits out its backoff): 1',
      '  ID     NEXT ATTEMPT  ATTEMPTS  GROUP  LAST ERROR',
      '  flaky  in 30 s       1/3       -      exit code 1: connection reset',
      'READY (in the order they are claimed): 1',
      '  ID     PRIORITY  ATTEMPT  GROUP  NEEDS  DESCRIPTION',
      '  other  0         0/3      -      -',
      '2 tasks: 1 ready, 1 retrying',
    ]);
    const shown = taskText(failed, lookup(tasks), NOW);
    assert.match(shown, /^status +pending, failed 1 of 3 attempts: the next one in 30 s$/m);
    assert.match(shown, /^retry backoff +exponential, 30 s after the first failure, at most 300 s$/m);
    assert.match(shown, /^next attempt +2026-01-01T12:00:30\.000Z \(in 30 s\)$/m);
    assert.match(taskListText(tasks, lookup(tasks), NOW + 30_000), /^READY .*: 2$/m, 'due: ready again');
  });

  it('a running task whose lease ran out (its worker went quiet) says the next claim takes it over', () => {
    const ghost = task('st1', { status: 'running', claimed_by: 'ghost', attempts: 1, lease_expires_at: at(-9_000), fencing_token: 1 });
    const live = task('ok1', { status: 'running', claimed_by: 'w1', attempts: 1, lease_expires_at: at(60_000), fencing_token: 1 });
    const text = taskListText([ghost, live], lookup([ghost, live]), NOW);
    assert.match(text, /^ {2}st1 +ghost +1\/3 +ran out 9 s ago: the next claim takes it over/m);
    assert.match(text, /^ {2}ok1 +w1 +1\/3 +in 1 min/m);
    assert.match(text, /^2 tasks: 2 running \(1 whose lease ran out: the next claim takes it over\)\n$/m);
    assert.match(taskText(ghost, lookup([ghost]), NOW), /^status +running, held by ghost, lease ran out 9 s ago: the next claim takes it over$/m);
    assert.match(taskText(live, lookup([live]), NOW), /^status +running, held by w1, lease ends in 1 min$/m);
  });

  it('task show: one field a line, the state in words, the dependencies with their status', () => {
    const eight = eightTasks();
    const text = taskText(eight[2]!, lookup(eight), NOW);
    assert.match(text, /^status +pending, blocked: waiting for fetch \(dead letter\)$/m);
    assert.match(text, /^depends on +fetch \(dead letter\)$/m);
    assert.match(text, /^needs +ts$/m);
    assert.doesNotMatch(text, /^error/m, 'empty fields are left out');
  });
});
