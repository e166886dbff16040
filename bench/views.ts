// The views' costs. The task graph: building what is drawn (filters, folding, bundling, the
// transitive reduction) and ELK's layered layout, at 40, 150 and 500 tasks, in Node (the panel
// runs the same ELK build in a Web Worker). The TaskCache at 100,000 tasks: the one listing,
// applying a coordinator event, and what a redraw reads (a summary state, a sidebar group).

import * as fs from 'node:fs';
import * as path from 'node:path';
import ELK from 'elkjs/lib/elk.bundled.js';
import { Coordinator, DEFAULT_CONFIG } from '../src/core/coordinator';
import { MemoryStore } from '../src/core/memory-store';
import type { TaskView } from '../src/protocol/webview';
import { taskState } from '../src/ui/panel-state';
import { TaskCache } from '../src/ui/task-cache';
import { midRun, syntheticPlan, type PlanTask } from '../test/support/plans';
import { buildGraph, NO_FILTER } from '../webview/graph-model';
import { chooseDirection, toElkGraph } from '../webview/layout';
import { displayStatuses } from '../webview/model';
import type { BenchOptions, Section, SectionResult } from './section';
import { count, fmt, latency, num, summarize, type Table } from './stats';

function views(plan: readonly PlanTask[], done: number, running: number): TaskView[] {
  const statuses = midRun(plan, done, running);
  return plan.map((t) => ({
    id: t.id, description: t.description, dependencies: t.dependencies, status: statuses.get(t.id)!, claimed_by: null,
    attempts: 0, max_attempts: 3, priority: t.priority, error: null, group: t.group ?? null, capabilities: [],
    started_at: null, lease_expires_at: null, completed_at: null, progress: null, result_preview: null, display_status: null,
  }));
}

async function graphTable(options: BenchOptions): Promise<{ table: Table; data: unknown }> {
  const elk = new ELK();
  const shop = JSON.parse(fs.readFileSync(path.join(options.root, 'examples', 'shop-plan.json'), 'utf8')).tasks as PlanTask[];
  const expand = (p: PlanTask[]) =>
    p.map((t) => ({ ...t, dependencies: (t.dependencies ?? []).flatMap((d) => (d.startsWith('group:') ? p.filter((m) => m.group === d.slice(6)).map((m) => m.id) : [d])) }));
  const cases: Array<[string, TaskView[]]> = [['40 (examples/shop-plan.json)', views(expand(shop), 10, 4)]];
  for (const n of options.quick ? [150] : [150, 500]) cases.push([`${n} (synthetic, with groups)`, views(syntheticPlan(n, 5), Math.floor(n / 5), Math.floor(n / 25))]);
  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  for (const [name, tasks] of cases) {
    const statuses = displayStatuses(tasks);
    const model: number[] = [];
    const layout: number[] = [];
    let size = '';
    let drawn = 0;
    for (let run = 0; run <= options.runs; run++) {
      let t = performance.now();
      const g = buildGraph(tasks, statuses, { filter: NO_FILTER, collapseCompleted: false });
      const modelMs = performance.now() - t;
      const direction = chooseDirection(g, 1200, 600);
      t = performance.now();
      const result = await elk.layout(toElkGraph(g, direction, 2));
      const layoutMs = performance.now() - t;
      if (run === 0) continue; // the first run warms the JIT up, as the panel's first layout does
      model.push(modelMs);
      layout.push(layoutMs);
      size = `${num(result.width ?? 0)} × ${num(result.height ?? 0)} (${direction === 'RIGHT' ? 'left to right' : 'top to bottom'})`;
      drawn = g.edges.length;
    }
    const deps = tasks.reduce((n, t) => n + t.dependencies.length, 0);
    rows.push([name, fmt(summarize(model), ' ms'), fmt(summarize(layout), ' ms'), `${drawn} of ${deps}`, size]);
    data[name] = { model_ms: model, layout_ms: layout, edges_drawn: drawn, dependencies: deps, size };
  }
  return {
    table: {
      title: `Task graph: what is drawn, and ELK's layout in a 1200 × 600 view (median of ${options.runs} after a warm-up (min–max))`,
      columns: ['tasks', 'graph model', 'ELK layout', 'edges drawn / dependencies', 'layout size'],
      rows,
      notes: ['edges drawn: after bundling (one edge to or from a whole group) and the transitive reduction'],
    },
    data,
  };
}

async function cacheTable(options: BenchOptions): Promise<{ table: Table; data: unknown }> {
  const n = options.quick ? 10_000 : 100_000;
  const coordinator = new Coordinator(new MemoryStore(), DEFAULT_CONFIG);
  const plan = syntheticPlan(n, 11);
  for (let i = 0; i < plan.length; i += 10_000) await coordinator.addTasks(plan.slice(i, i + 10_000));
  const cache = new TaskCache();
  const applyUs: number[] = [];
  coordinator.events.onAny((event, data) => {
    const t = performance.now();
    cache.applyEvent({ event, data, ts: '' });
    applyUs.push((performance.now() - t) * 1000);
  });
  const loads: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    const t = performance.now();
    await cache.reload({ mode: 'in-process', call: (async () => ({ tasks: coordinator.listTasks(), next_cursor: null })) as never });
    loads.push(performance.now() - t);
  }
  const stateMs: number[] = [];
  const groupMs: number[] = [];
  const rounds = options.quick ? 50 : 200;
  for (let i = 0; i < rounds; i++) {
    const { task } = await coordinator.claim({ worker_id: `w${i % 8}` });
    if (!task) break;
    let t = performance.now();
    taskState(cache, null);
    stateMs.push(performance.now() - t);
    await coordinator.complete({ worker_id: `w${i % 8}`, task_id: task.id, fencing_token: task.fencing_token });
    t = performance.now();
    cache.list('ready', 200);
    cache.list('blocked', 200);
    groupMs.push(performance.now() - t);
  }
  const apply = latency(applyUs);
  const rows = [
    [`list every task once (a new connection)`, fmt(summarize(loads), ' ms')],
    [`apply one event (claim or completion), p50 / p99`, `${num(apply.p50)} µs / ${num(apply.p99)} µs`],
    [`the panel's state: summary, ready frontier, running tasks`, fmt(summarize(stateMs), ' ms')],
    [`reading the Ready and Blocked groups' first 200 each after a completion (kept in order as events come)`, fmt(summarize(groupMs), ' ms')],
  ];
  return {
    table: { title: `TaskCache with ${count(n)} tasks, ${rounds} claims and completions (median (min–max))`, columns: ['what', 'time'], rows },
    data: { tasks: n, load_ms: loads, apply_us: apply, state_ms: stateMs, groups_ms: groupMs },
  };
}

export const viewsSection: Section = {
  name: 'views',
  description: "the task graph's model and ELK layout at 40/150/500 tasks; the TaskCache at 100k tasks",
  async run(options: BenchOptions): Promise<SectionResult> {
    const graph = await graphTable(options);
    const cache = await cacheTable(options);
    return { tables: [graph.table, cache.table], data: { graph: graph.data, cache: cache.data } };
  },
};
