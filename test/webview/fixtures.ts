/** A 12-task plan in every status, workers and runs: the panel's messages as the host sends them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstanceView, RunView, StateMessage, TaskView } from '../../src/protocol/webview';
import { midRun, syntheticPlan } from '../support/plans';

type Spec = [id: string, deps: string[], status: TaskView['status'], holder?: string];

export const PLAN: Spec[] = [
  ['setup', [], 'completed'],
  ['lint', ['setup'], 'completed'],
  ['build-core', ['setup'], 'completed'],
  ['build-ui', ['setup'], 'running', 'worker-a'],
  ['docs', ['setup'], 'running', 'worker-b'],
  ['test-core', ['build-core'], 'pending'], // ready: its one dependency is done
  ['bench', ['build-core'], 'dead_letter'],
  ['test-ui', ['build-ui'], 'pending'], // blocked
  ['e2e', ['test-core', 'test-ui'], 'pending'],
  ['package', ['e2e', 'lint'], 'pending'],
  ['publish', ['package', 'docs'], 'cancelled'],
  ['notify', ['publish'], 'pending'],
];
export const EDGE_COUNT = PLAN.reduce((n, [, deps]) => n + deps.length, 0);

export function task(id: string, dependencies: string[], status: TaskView['status'], claimed_by: string | null = null): TaskView {
  return {
    id,
    description: `Task ${id}`,
    dependencies,
    status,
    claimed_by,
    attempts: status === 'dead_letter' ? 3 : status === 'running' ? 1 : 0,
    max_attempts: 3,
    priority: 0,
    error: status === 'dead_letter' ? 'bench regressed by 12%' : null,
    group: null,
    capabilities: [],
    started_at: status === 'pending' ? null : '2025-01-01T10:00:00.000Z',
    lease_expires_at: status === 'running' ? new Date(Date.now() + 240_000).toISOString() : null,
    completed_at: status === 'completed' ? '2025-01-01T10:05:00.000Z' : null,
    progress: null,
    result_preview: status === 'completed' ? '{"ok":true}' : null,
    display_status: null,
  };
}

export const tasks = (): TaskView[] => PLAN.map(([id, deps, status, holder]) => task(id, deps, status, holder ?? null));

export const instances = (): InstanceView[] => [
  { worker_id: 'worker-a', name: 'claude-1', status: 'live', current_task: 'build-ui', last_seen_age_ms: 1200 },
  { worker_id: 'worker-b', name: 'codex-2', status: 'live', current_task: 'docs', last_seen_age_ms: 3400 },
  { worker_id: 'worker-c', name: 'script-3', status: 'stale', current_task: null, last_seen_age_ms: 95_000 },
];

export function run(run_id: string, task_id: string | null, argv: string[], started_at: string, result: Record<string, unknown> | null): RunView {
  return { run_id, worker_id: 'worker-a', task_id, argv, started_at, status: result ? 'finished' : 'running', result, output_bytes: 0 };
}

export const runs = (): RunView[] => [
  run('run-1', 'lint', ['npm', 'run', 'lint'], '2025-01-01T10:00:00.000Z', { returncode: 0, signal_name: null, timed_out: false }),
  run('run-2', 'bench', ['npm', 'run', 'bench'], '2025-01-01T10:01:00.000Z', { returncode: 1, signal_name: null, timed_out: false }),
  run('run-3', 'build-ui', ['npm', 'run', 'build:ui', '--', '--color'], '2025-01-01T10:02:00.000Z', null),
];

export const state = (overrides: Partial<StateMessage> = {}): StateMessage => ({
  type: 'state',
  seq: 0,
  summary: null,
  host_now: 0,
  tasks: tasks(),
  instances: instances(),
  runs: runs(),
  ...overrides,
});

/** A plan file's tasks (`group:NAME` dependencies expanded, as the coordinator stores them) as TaskViews. */
export function planTasks(
  plan: ReadonlyArray<{ id: string; description?: string; dependencies?: string[]; priority?: number; group?: string }>,
  statusOf: (id: string) => { status: TaskView['status']; holder?: string; percent?: number; error?: string } = () => ({ status: 'pending' }),
): TaskView[] {
  const members = (group: string) => plan.filter((t) => t.group === group).map((t) => t.id);
  return plan.map((p) => {
    const s = statusOf(p.id);
    const deps = (p.dependencies ?? []).flatMap((d) => (d.startsWith('group:') ? members(d.slice(6)) : [d]));
    return {
      ...task(p.id, deps, s.status, s.holder ?? null),
      description: p.description ?? '',
      priority: p.priority ?? 0,
      group: p.group ?? null,
      error: s.error ?? (s.status === 'dead_letter' ? 'exit code 1' : null),
      attempts: s.error ? 1 : s.status === 'dead_letter' ? 3 : s.status === 'pending' ? 0 : 1,
      progress: s.percent === undefined ? null : { percent: s.percent, message: 'halfway there', at: new Date().toISOString() },
    };
  });
}

/** examples/shop-plan.json, 40 tasks, mid-run: 12 done, 4 running (two report progress), one dead letter, one failed and retrying. */
export function shopMidRun(): TaskView[] {
  const plan = JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'shop-plan.json'), 'utf8')).tasks;
  const done = new Set(['spec', 'wireframes', 'api-contract', 'db-schema', 'design-tokens', 'migrations', 'seed-data', 'api-users', 'api-catalog', 'api-cart', 'ui-shell', 'feature-flags']);
  const running: Record<string, [string, number?]> = { 'api-orders': ['alice', 40], 'api-payments': ['bob'], 'search-index': ['carol'], 'ui-catalog': ['dave', 70] };
  return planTasks(plan, (id) =>
    done.has(id)
      ? { status: 'completed', holder: 'alice' }
      : running[id]
        ? { status: 'running', holder: running[id][0], percent: running[id][1] }
        : id === 'ui-account'
          ? { status: 'dead_letter' }
          : id === 'ui-cart'
            ? { status: 'pending', error: 'timeout after 300 s' }
            : { status: 'pending' },
  );
}

/** A synthetic plan of `n` tasks (test/support/plans.ts) with its first fifth done and some running. */
export function syntheticMidRun(n: number, seed = 5): TaskView[] {
  const plan = syntheticPlan(n, seed);
  const statuses = midRun(plan, Math.floor(n / 5), Math.max(2, Math.floor(n / 25)));
  return planTasks(plan, (id) => {
    const s = statuses.get(id)!;
    return s === 'running' ? { status: 'running', holder: `worker-${id.length % 4}` } : s === 'completed' ? { status: 'completed', holder: 'worker-0' } : { status: s };
  });
}
