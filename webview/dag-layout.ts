/** Lays the task graph out: positions only, no DOM, so it runs in plain Node too. */
import dagre from '@dagrejs/dagre';
import type { TaskView } from '../src/protocol/webview';

export const NODE_WIDTH = 150;
export const NODE_HEIGHT = 44;
const NODE_SEP = 14;
const RANK_SEP = 36;
const MARGIN = 12;
/**
 * Past this many tasks dagre's crossing minimisation grows to seconds (measured: ~0.3 s at 100
 * random-dependency tasks, ~1.3 s at 300, ~30 s at 1000), so bigger plans get the linear-time
 * layered layout below: fewer crossings avoided, but the panel stays responsive.
 */
export const DAGRE_MAX_NODES = 150;

export interface NodeBox {
  id: string;
  /** Centre. */
  x: number;
  y: number;
}

export interface EdgePath {
  from: string;
  to: string;
  /** Two points: a horizontal S-curve between them; more: a smoothed polyline through them. */
  points: { x: number; y: number }[];
}

export interface Layout {
  nodes: Map<string, NodeBox>;
  edges: EdgePath[];
  width: number;
  height: number;
  engine: 'dagre' | 'layered';
}

/** The edges worth drawing: known dependencies, no self-loops, each once. */
function edgesOf(tasks: readonly TaskView[]): { from: string; to: string }[] {
  const ids = new Set(tasks.map((t) => t.id));
  const out: { from: string; to: string }[] = [];
  for (const task of tasks) {
    // An unknown dependency has no node to point from; the task shows as blocked instead.
    for (const dep of new Set(task.dependencies)) if (ids.has(dep) && dep !== task.id) out.push({ from: dep, to: task.id });
  }
  return out;
}

/** Left to right, dependencies before dependents, as a plan reads. */
export function layoutTasks(tasks: readonly TaskView[], dagreMaxNodes = DAGRE_MAX_NODES): Layout {
  return tasks.length <= dagreMaxNodes ? dagreLayout(tasks) : layeredLayout(tasks);
}

function dagreLayout(tasks: readonly TaskView[]): Layout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: NODE_SEP, ranksep: RANK_SEP, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const task of tasks) g.setNode(task.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of edgesOf(tasks)) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const nodes = new Map<string, NodeBox>();
  for (const id of g.nodes()) {
    const n = g.node(id);
    nodes.set(id, { id, x: n.x ?? 0, y: n.y ?? 0 });
  }
  const edges = g.edges().map((e: { v: string; w: string }) => ({ from: e.v, to: e.w, points: (g.edge(e) as { points?: { x: number; y: number }[] }).points ?? [] }));
  const graph = g.graph();
  return { nodes, edges, width: Math.max(graph.width ?? 0, 1), height: Math.max(graph.height ?? 0, 1), engine: 'dagre' };
}

/**
 * Longest-path ranks, then a few barycenter sweeps to order each rank: O(sweeps × (V + E log V)).
 * A cycle (the coordinator refuses them, but the panel must not hang on one) is broken by putting
 * what is left after the topological pass in one last rank.
 */
export function layeredLayout(tasks: readonly TaskView[]): Layout {
  const edges = edgesOf(tasks);
  const preds = new Map<string, string[]>(tasks.map((t) => [t.id, []]));
  const succs = new Map<string, string[]>(tasks.map((t) => [t.id, []]));
  for (const e of edges) {
    preds.get(e.to)!.push(e.from);
    succs.get(e.from)!.push(e.to);
  }
  const rank = new Map<string, number>();
  const indegree = new Map(tasks.map((t) => [t.id, preds.get(t.id)!.length]));
  const queue = tasks.filter((t) => indegree.get(t.id) === 0).map((t) => t.id);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    const r = Math.max(-1, ...preds.get(id)!.map((p) => rank.get(p) ?? -1)) + 1;
    rank.set(id, r);
    for (const s of succs.get(id)!) {
      indegree.set(s, indegree.get(s)! - 1);
      if (indegree.get(s) === 0) queue.push(s);
    }
  }
  let leftover = 0; // no spread: Math.max(...) over 100k values overflows the stack
  for (const r of rank.values()) leftover = Math.max(leftover, r + 1);
  for (const t of tasks) if (!rank.has(t.id)) rank.set(t.id, leftover);

  const columns: string[][] = [];
  for (const t of tasks) (columns[rank.get(t.id)!] ??= []).push(t.id);
  const slot = new Map<string, number>();
  const place = (column: string[]) => column.forEach((id, i) => slot.set(id, i));
  columns.forEach(place);
  const sweep = (column: string[], neighbours: Map<string, string[]>) => {
    const key = new Map(
      column.map((id) => {
        const ns = neighbours.get(id)!.filter((n) => slot.has(n));
        return [id, ns.length ? ns.reduce((sum, n) => sum + slot.get(n)!, 0) / ns.length : slot.get(id)!];
      }),
    );
    column.sort((a, b) => key.get(a)! - key.get(b)!);
    place(column);
  };
  for (let pass = 0; pass < 4; pass++) {
    if (pass % 2 === 0) columns.slice(1).forEach((c) => sweep(c, preds));
    else columns.slice(0, -1).reverse().forEach((c) => sweep(c, succs));
  }

  const tallest = columns.reduce((max, c) => Math.max(max, c.length), 1);
  const pitch = NODE_HEIGHT + NODE_SEP;
  const nodes = new Map<string, NodeBox>();
  columns.forEach((column, r) => {
    const offset = ((tallest - column.length) * pitch) / 2; // centre short columns
    column.forEach((id, i) => {
      nodes.set(id, { id, x: MARGIN + r * (NODE_WIDTH + RANK_SEP) + NODE_WIDTH / 2, y: MARGIN + offset + i * pitch + NODE_HEIGHT / 2 });
    });
  });
  const paths = edges.map((e) => {
    const a = nodes.get(e.from)!;
    const b = nodes.get(e.to)!;
    return { ...e, points: [{ x: a.x + NODE_WIDTH / 2, y: a.y }, { x: b.x - NODE_WIDTH / 2, y: b.y }] };
  });
  const width = 2 * MARGIN + columns.length * NODE_WIDTH + Math.max(0, columns.length - 1) * RANK_SEP;
  return { nodes, edges: paths, width, height: 2 * MARGIN + tallest * pitch - NODE_SEP, engine: 'layered' };
}
