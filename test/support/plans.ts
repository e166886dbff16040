/**
 * Plans shaped like real ones, of any size, the same for the same seed: the graph tests, the
 * layout benchmark and the 100k-task extension-host test draw from here.
 *
 * The shape: stages of work (design, build, test, ship...) where each task depends on one to
 * three tasks of the stages just before it, mostly its neighbours, now and then a task far back
 * (a long edge), and whole stretches of a stage belong to one task group, as parallel streams do.
 */
import { rng } from './rng';

export interface PlanTask {
  id: string;
  description: string;
  dependencies: string[];
  priority: number;
  group?: string;
}

const AREAS = ['api', 'ui', 'db', 'auth', 'search', 'billing', 'infra', 'docs', 'tests', 'perf'] as const;
const VERBS = ['design', 'build', 'wire', 'test', 'review', 'ship'] as const;

/**
 * `n` tasks in about sqrt(n)/1.5 stages (a 40-task plan has 4-5 stages of 8-10, a 500-task plan
 * 15 of about 33): wide rather than deep, as plans that many workers run in parallel are.
 */
export function syntheticPlan(n: number, seed = 1, options: { groups?: boolean } = {}): PlanTask[] {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const stageCount = Math.max(1, Math.round(Math.sqrt(n) / 1.5));
  const stages: PlanTask[][] = [];
  const tasks: PlanTask[] = [];
  for (let i = 0; i < n; i++) {
    const s = Math.min(stageCount - 1, Math.floor((i * stageCount) / n));
    const stage = (stages[s] ??= []);
    const area = AREAS[Math.floor((stage.length / 4) % AREAS.length)]!;
    const verb = VERBS[Math.min(VERBS.length - 1, Math.floor((s * VERBS.length) / stageCount))]!;
    const id = `${verb}-${area}-${i}`;
    const dependencies = new Set<string>();
    if (s > 0) {
      const previous = stages[s - 1]!;
      // Mostly the neighbours in the stage before (the work this one builds on)...
      const at = Math.floor((stage.length / Math.max(1, Math.ceil(n / stageCount))) * previous.length);
      const fanIn = 1 + Math.floor(random() * 3);
      for (let k = 0; k < fanIn; k++) {
        const j = Math.max(0, Math.min(previous.length - 1, at + Math.floor((random() - 0.5) * 6)));
        dependencies.add(previous[j]!.id);
      }
      // ...now and then a task two or more stages back: the long edges a layout must route.
      if (s > 1 && random() < 0.15) dependencies.add(pick(stages[Math.floor(random() * (s - 1))]!).id);
    }
    const task: PlanTask = {
      id,
      description: `${verb[0]!.toUpperCase()}${verb.slice(1)} the ${area} part (${i + 1} of ${n})`,
      dependencies: [...dependencies],
      priority: stageCount - s,
    };
    // A stretch of four tasks of one area in a stage is one group of parallel streams.
    if (options.groups !== false && stage.length % 8 < 4 && s > 0) task.group = `${area}-${s}`;
    stage.push(task);
    tasks.push(task);
  }
  return tasks;
}

/** Where a plan stands mid-run: the first stages done, the next one being worked on. */
export type RunStatus = 'pending' | 'running' | 'completed' | 'dead_letter' | 'cancelled';

export function midRun(plan: readonly PlanTask[], done: number, running: number, seed = 2): Map<string, RunStatus> {
  const random = rng(seed);
  const status = new Map<string, RunStatus>();
  plan.forEach((t, i) => status.set(t.id, i < done ? 'completed' : 'pending'));
  // Running: ready tasks (every dependency completed) right after the completed ones.
  let started = 0;
  for (const t of plan.slice(done)) {
    if (started >= running) break;
    if (t.dependencies.every((d) => status.get(d) === 'completed') && random() < 0.8) {
      status.set(t.id, 'running');
      started++;
    }
  }
  return status;
}
