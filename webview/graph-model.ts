/**
 * What the graph draws, before any layout: the tasks a filter keeps, completed stretches folded
 * into one node when asked, task groups as clusters, and the edges between what is left. Pure
 * (no DOM), so unit tests run it in Node.
 */
import type { DisplayStatus, TaskView } from '../src/protocol/webview';

export interface GraphFilter {
  /** Empty: every status. */
  statuses: ReadonlySet<DisplayStatus>;
  group: string | null;
  holder: string | null;
}

export const NO_FILTER: GraphFilter = { statuses: new Set(), group: null, holder: null };

export function isFiltering(f: GraphFilter): boolean {
  return f.statuses.size > 0 || f.group !== null || f.holder !== null;
}

export type GraphNode =
  | { key: string; kind: 'task'; task: TaskView; cluster: string | null }
  /** Completed tasks connected to each other, drawn as one node. */
  | { key: string; kind: 'collapsed'; taskIds: string[]; cluster: string | null };

export interface GraphEdge {
  from: string;
  to: string;
}

export interface VisibleGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Group name → keys of its nodes, for the groups with a node shown. */
  clusters: Map<string, string[]>;
  /** Task id → key of the node it is drawn in (its own, or a collapsed one). */
  nodeOf: Map<string, string>;
  /** Changes only when nodes, clusters or edges do: the graph is laid out again only then. */
  structureKey: string;
}

// Keys carry a kind prefix: a task id may itself look like "c:x" (ids only exclude spaces).
export const taskKey = (id: string) => `t:${id}`;
export const clusterKey = (group: string) => `c:${group}`;

export function matches(task: TaskView, status: DisplayStatus, f: GraphFilter): boolean {
  if (f.statuses.size > 0 && !f.statuses.has(status)) return false;
  if (f.group !== null && task.group !== f.group) return false;
  if (f.holder !== null && task.claimed_by !== f.holder) return false;
  return true;
}

/** Case-insensitive match on the id or the description; '' matches nothing (no search). */
export function searchMatches(task: TaskView, text: string): boolean {
  const needle = text.trim().toLowerCase();
  return needle !== '' && (task.id.toLowerCase().includes(needle) || task.description.toLowerCase().includes(needle));
}

export function buildGraph(
  tasks: readonly TaskView[],
  statuses: ReadonlyMap<string, DisplayStatus>,
  options: { filter: GraphFilter; collapseCompleted: boolean },
): VisibleGraph {
  const kept = tasks.filter((t) => matches(t, statuses.get(t.id) ?? 'blocked', options.filter));
  const keptIds = new Set(kept.map((t) => t.id));
  const completed = (id: string) => keptIds.has(id) && statuses.get(id) === 'completed';

  // Completed tasks joined by a dependency become one component (union-find, path halving).
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let x = id;
    while (parent.get(x) !== x) {
      const up = parent.get(parent.get(x)!)!;
      parent.set(x, up);
      x = up;
    }
    return x;
  };
  if (options.collapseCompleted) {
    for (const t of kept) if (completed(t.id)) parent.set(t.id, t.id);
    for (const t of kept) {
      if (!completed(t.id)) continue;
      for (const d of t.dependencies) if (completed(d)) parent.set(find(d), find(t.id));
    }
  }
  const members = new Map<string, string[]>();
  for (const id of parent.keys()) {
    const root = find(id);
    (members.get(root) ?? members.set(root, []).get(root)!).push(id);
  }

  const nodes: GraphNode[] = [];
  const nodeOf = new Map<string, string>();
  const byId = new Map(kept.map((t) => [t.id, t]));
  const placed = new Set<string>();
  for (const t of kept) {
    const component = parent.has(t.id) ? members.get(find(t.id))! : undefined;
    if (component && component.length > 1) {
      const root = find(t.id);
      if (placed.has(root)) continue;
      placed.add(root);
      const taskIds = [...component].sort();
      const key = `k:${taskIds[0]}`; // stable while its first member stays in it
      const groups = new Set(taskIds.map((id) => byId.get(id)!.group));
      const cluster = groups.size === 1 ? [...groups][0]! : null;
      nodes.push({ key, kind: 'collapsed', taskIds, cluster });
      for (const id of taskIds) nodeOf.set(id, key);
      continue;
    }
    const key = taskKey(t.id);
    nodes.push({ key, kind: 'task', task: t, cluster: t.group });
    nodeOf.set(t.id, key);
  }

  const clusters = new Map<string, string[]>();
  for (const n of nodes) if (n.cluster !== null) (clusters.get(n.cluster) ?? clusters.set(n.cluster, []).get(n.cluster)!).push(n.key);

  // Edges as adjacency sets, so bundling below can replace them.
  const succ = new Map<string, Set<string>>();
  const pred = new Map<string, Set<string>>();
  const link = (from: string, to: string) => {
    if (from === to) return;
    (succ.get(from) ?? succ.set(from, new Set()).get(from)!).add(to);
    (pred.get(to) ?? pred.set(to, new Set()).get(to)!).add(from);
  };
  const unlink = (from: string, to: string) => {
    succ.get(from)?.delete(to);
    pred.get(to)?.delete(from);
  };
  for (const t of kept) {
    const to = nodeOf.get(t.id)!;
    for (const d of t.dependencies) {
      const from = nodeOf.get(d); // unknown or filtered out: no node to point from
      if (from) link(from, to);
    }
  }
  // Edge bundling. Parallel streams share their inputs and outputs: every task of a group waits
  // for the same setup task, and a later task waits for the whole group (a plan's `group:NAME`,
  // stored as the group's ids). One edge to or from the cluster then stands for one per task.
  const bundled = [...clusters].filter(([, keys]) => keys.length >= 2);
  for (const [group, keys] of bundled) {
    const inside = new Set(keys);
    for (const from of [...(pred.get(keys[0]!) ?? [])]) {
      if (inside.has(from) || !keys.every((k) => pred.get(k)?.has(from))) continue;
      for (const k of keys) unlink(from, k);
      link(from, clusterKey(group));
    }
  }
  for (const [group, keys] of bundled) {
    const inside = new Set(keys);
    const self = clusterKey(group);
    for (const to of [...(succ.get(keys[0]!) ?? [])]) {
      if (inside.has(to) || to === self || !keys.every((k) => succ.get(k)?.has(to))) continue;
      for (const k of keys) unlink(k, to);
      link(self, to);
    }
  }
  reduce(nodes, bundled, succ, unlink);
  const edges: GraphEdge[] = [];
  for (const [from, tos] of succ) for (const to of tos) edges.push({ from, to });

  const structureKey = [
    nodes.map((n) => `${n.key}@${n.cluster ?? ''}${n.kind === 'collapsed' ? `#${n.taskIds.length}` : ''}`).join('|'),
    edges.map((e) => `${e.from}>${e.to}`).join('|'),
  ].join('\n');
  return { nodes, edges, clusters, nodeOf, structureKey };
}

/**
 * Drops the edges a path already implies. A cluster is two extra points for this: its edges in
 * arrive at one that leads to each of its nodes, its edges out leave from one each node leads to.
 */
function reduce(nodes: readonly GraphNode[], clusters: readonly [string, string[]][], succ: Map<string, Set<string>>, unlink: (from: string, to: string) => void): void {
  const into = (group: string) => `in\n${group}`;
  const outOf = (group: string) => `out\n${group}`;
  const keys = nodes.map((n) => n.key);
  const expanded = new Map<string, Set<string>>();
  const add = (a: string, b: string) => (expanded.get(a) ?? expanded.set(a, new Set()).get(a)!).add(b);
  const end = (key: string, side: 'from' | 'to') => (key.startsWith('c:') ? (side === 'from' ? outOf(key.slice(2)) : into(key.slice(2))) : key);
  for (const [from, tos] of succ) for (const to of tos) add(end(from, 'from'), end(to, 'to'));
  for (const [group, members] of clusters) {
    keys.push(into(group), outOf(group));
    for (const m of members) {
      add(into(group), m);
      add(m, outOf(group));
    }
  }
  const real = new Map<string, [string, string]>();
  for (const [from, tos] of succ) for (const to of tos) real.set(`${end(from, 'from')}\u0000${end(to, 'to')}`, [from, to]);
  for (const [a, b] of redundantEdges(keys, expanded)) {
    const edge = real.get(`${a}\u0000${b}`);
    if (edge) unlink(edge[0], edge[1]);
  }
}

/**
 * The transitive reduction's leftovers: an edge a→c is redundant when a reaches c through another
 * path (a→b→c), since the arrow adds nothing a reader needs: what waits for what stays visible, the
 * details list every direct dependency, and a plan's graph loses most of its clutter. Reachability
 * as bitsets in reverse topological order: O(E·V/32). Nodes on a cycle (the coordinator refuses
 * cycles, but the panel must not hang on one) keep their edges.
 */
export function redundantEdges(keys: readonly string[], succ: ReadonlyMap<string, ReadonlySet<string>>): [string, string][] {
  const index = new Map(keys.map((k, i) => [k, i]));
  const words = Math.ceil(keys.length / 32);
  const indegree = new Int32Array(keys.length);
  for (const tos of succ.values()) for (const to of tos) indegree[index.get(to)!]!++;
  const order: number[] = [];
  for (let i = 0; i < keys.length; i++) if (indegree[i] === 0) order.push(i);
  for (let i = 0; i < order.length; i++) {
    for (const to of succ.get(keys[order[i]!]!) ?? []) {
      const j = index.get(to)!;
      if (--indegree[j]! === 0) order.push(j);
    }
  }
  if (order.length < keys.length) return []; // a cycle: leave every edge
  const reach = keys.map(() => new Uint32Array(words)); // nodes reachable in one step or more
  const out: [string, string][] = [];
  for (let o = order.length - 1; o >= 0; o--) {
    const u = order[o]!;
    const targets = [...(succ.get(keys[u]!) ?? [])].map((k) => index.get(k)!);
    const mine = reach[u]!;
    for (const v of targets) {
      const theirs = reach[v]!;
      for (let w = 0; w < words; w++) mine[w]! |= theirs[w]!;
    }
    // Only now, so a direct edge does not make itself redundant: reached through another target.
    for (const v of targets) if (mine[v >> 5]! & (1 << (v & 31))) out.push([keys[u]!, keys[v]!]);
    for (const v of targets) mine[v >> 5]! |= 1 << (v & 31);
  }
  return out;
}

/** The nodes an edge end stands for: a cluster's end stands for each of its nodes. */
export function nodesAt(graph: VisibleGraph, key: string): readonly string[] {
  return key.startsWith('c:') ? (graph.clusters.get(key.slice(2)) ?? []) : [key];
}

/** Every node upstream (what it waits for) and downstream (what waits for it) of `key`. */
export function lineage(graph: VisibleGraph, key: string): { upstream: Set<string>; downstream: Set<string> } {
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  const link = (map: Map<string, string[]>, a: string, b: string) => (map.get(a) ?? map.set(a, []).get(a)!).push(b);
  for (const e of graph.edges) {
    for (const from of nodesAt(graph, e.from)) {
      for (const to of nodesAt(graph, e.to)) {
        link(succs, from, to);
        link(preds, to, from);
      }
    }
  }
  const walk = (start: string, next: Map<string, string[]>) => {
    const out = new Set<string>();
    const stack = [...(next.get(start) ?? [])];
    while (stack.length) {
      const k = stack.pop()!;
      if (out.has(k) || k === start) continue;
      out.add(k);
      stack.push(...(next.get(k) ?? []));
    }
    return out;
  };
  return { upstream: walk(key, preds), downstream: walk(key, succs) };
}
