/**
 * The graph's layout, by ELK's layered algorithm (elkjs): ranks in the direction that fits the
 * panel's shape, orthogonal edges routed between the nodes (a long edge runs in its own lane
 * instead of cutting across the graph), task groups laid out as clusters. This file turns a
 * VisibleGraph into ELK's JSON and ELK's answer into boxes and paths: no DOM, so it runs in Node.
 *
 * Why ELK and not dagre (which the panel used before): dagre's compound graphs, needed for the
 * clusters, took 18 s for 500 tasks in Chromium and threw on some plans; ELK lays the same
 * 500 tasks out with clusters in about 1 s. ELK is big (1.6 MB) and runs in a Web Worker
 * (layout-worker.ts), so it is parsed off the main thread and a long layout never freezes the
 * panel; the main bundle only carries its 10 kB API.
 */
import type { ElkExtendedEdge, ElkNode, ElkPoint } from 'elkjs/lib/elk-api';
import { type GraphNode, type VisibleGraph, clusterKey, nodesAt } from './graph-model';

export const NODE_HEIGHT = 44;
export const NODE_GAP = 16;
export const LAYER_GAP = 30;
/** Node widths: wide enough for the longest id shown (13 px semibold), within these bounds. */
export const NODE_MIN_WIDTH = 132;
export const NODE_MAX_WIDTH = 220;
/** Average advance of a 13 px semibold character, and the room around the text in a node. */
export const ID_CHAR_PX = 7.6;
const META_CHAR_PX = 6.2;
const TEXT_PADDING = 26;

/** One width for every node of a graph: its longest id's (a 12-character plan gets narrow nodes). */
export function nodeWidthFor(graph: VisibleGraph): number {
  let chars = 16; // the status line ("retry · failed 1/3") needs about this much
  for (const n of graph.nodes) if (n.kind === 'task') chars = Math.max(chars, n.task.id.length);
  return Math.round(Math.max(NODE_MIN_WIDTH, Math.min(NODE_MAX_WIDTH, chars * ID_CHAR_PX + TEXT_PADDING)));
}

/** How many characters of an id fit in a node `width` wide. */
export function idCharsFor(width: number): number {
  return Math.max(8, Math.floor((width - TEXT_PADDING) / ID_CHAR_PX));
}

/** The same for the status line under it (11 px regular). */
export function metaCharsFor(width: number): number {
  return Math.max(10, Math.floor((width - TEXT_PADDING) / META_CHAR_PX));
}
export const CLUSTER_PADDING = { top: 26, side: 10, bottom: 10 };
/** Up to this many nodes the layout takes its time for straighter edges (measured: ~0.3 s at 40). */
const SMALL_GRAPH = 120;

export type Direction = 'RIGHT' | 'DOWN';

export interface Box {
  /** Top-left corner, in graph coordinates. */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Layout {
  /** Node key → its box. */
  nodes: Map<string, Box>;
  edges: { from: string; to: string; points: ElkPoint[] }[];
  /** Group name → its cluster's box. */
  clusters: Map<string, Box>;
  width: number;
  height: number;
  direction: Direction;
}

/** The longest-path rank of each node; a cycle's leftovers go in one last rank. */
function ranks(graph: VisibleGraph): Map<string, number> {
  const preds = new Map<string, string[]>(graph.nodes.map((n) => [n.key, []]));
  const succs = new Map<string, string[]>(graph.nodes.map((n) => [n.key, []]));
  for (const e of graph.edges) {
    for (const from of nodesAt(graph, e.from)) {
      for (const to of nodesAt(graph, e.to)) {
        preds.get(to)?.push(from);
        succs.get(from)?.push(to);
      }
    }
  }
  const indegree = new Map([...preds].map(([k, v]) => [k, v.length]));
  const queue = graph.nodes.filter((n) => indegree.get(n.key) === 0).map((n) => n.key);
  const rank = new Map<string, number>();
  for (let i = 0; i < queue.length; i++) {
    const k = queue[i]!;
    let r = 0;
    for (const p of preds.get(k)!) r = Math.max(r, (rank.get(p) ?? -1) + 1);
    rank.set(k, r);
    for (const s of succs.get(k)!) {
      indegree.set(s, indegree.get(s)! - 1);
      if (indegree.get(s) === 0) queue.push(s);
    }
  }
  let last = 0;
  for (const r of rank.values()) last = Math.max(last, r + 1);
  for (const n of graph.nodes) if (!rank.has(n.key)) rank.set(n.key, last);
  return rank;
}

/**
 * Left-to-right or top-to-bottom, whichever shows the graph bigger in a `width` × `height`
 * view: a plan of few long chains reads across a wide panel, a wide plan down a tall one.
 * Estimated from the ranks (the layout proper is too slow to run twice).
 */
export function chooseDirection(graph: VisibleGraph, width: number, height: number): Direction {
  if (graph.nodes.length === 0 || width <= 0 || height <= 0) return 'RIGHT';
  const perRank = new Map<number, number>();
  for (const r of ranks(graph).values()) perRank.set(r, (perRank.get(r) ?? 0) + 1);
  const depth = perRank.size;
  let breadth = 1;
  for (const n of perRank.values()) breadth = Math.max(breadth, n);
  const nodeWidth = nodeWidthFor(graph);
  const across = (count: number, size: number, gap: number) => count * size + Math.max(0, count - 1) * gap;
  const fit = (w: number, h: number) => Math.min(width / w, height / h);
  const right = fit(across(depth, nodeWidth, LAYER_GAP), across(breadth, NODE_HEIGHT, NODE_GAP));
  const down = fit(across(breadth, nodeWidth, NODE_GAP), across(depth, NODE_HEIGHT, LAYER_GAP));
  return down > right * 1.05 ? 'DOWN' : 'RIGHT'; // a tie reads left to right, as plans are written
}

/** ELK's input for `graph`. `aspect` (width / height of the view) packs disconnected parts. */
export function toElkGraph(graph: VisibleGraph, direction: Direction, aspect: number): ElkNode {
  // Small graphs get the placement with the straightest edges (network simplex); it grows
  // quadratic-ish, so bigger ones get the simple placement, which is also the most compact.
  const big = graph.nodes.length > SMALL_GRAPH;
  const width = nodeWidthFor(graph);
  const leaf = (n: GraphNode): ElkNode => ({ id: n.key, width, height: NODE_HEIGHT });
  const children: ElkNode[] = [];
  const clusterNodes = new Map<string, ElkNode>();
  for (const n of graph.nodes) {
    if (n.cluster === null) {
      children.push(leaf(n));
      continue;
    }
    let cluster = clusterNodes.get(n.cluster);
    if (!cluster) {
      const { top, side, bottom } = CLUSTER_PADDING;
      cluster = { id: clusterKey(n.cluster), children: [], layoutOptions: { 'elk.padding': `[top=${top},left=${side},bottom=${bottom},right=${side}]` } };
      clusterNodes.set(n.cluster, cluster);
      children.push(cluster);
    }
    cluster.children!.push(leaf(n));
  }
  const edges: ElkExtendedEdge[] = graph.edges.map((e, i) => ({ id: `e${i}`, sources: [e.from], targets: [e.to] }));
  return {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': direction,
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
      'elk.spacing.nodeNode': String(NODE_GAP),
      'elk.layered.spacing.nodeNodeBetweenLayers': String(LAYER_GAP),
      'elk.spacing.edgeNode': '10',
      'elk.spacing.edgeEdge': '6',
      'elk.layered.spacing.edgeNodeBetweenLayers': '8',
      'elk.layered.spacing.edgeEdgeBetweenLayers': '4',
      'elk.layered.nodePlacement.strategy': big ? 'SIMPLE' : 'NETWORK_SIMPLEX',
      // The plan's order breaks ties: the same plan comes out the same way every time.
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      // Fewer crossing-minimisation passes on big graphs: seconds saved, a few crossings more.
      'elk.layered.thoroughness': big ? '1' : '7',
      'elk.aspectRatio': String(Math.max(0.2, Math.min(5, aspect))),
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
    },
    children,
    edges,
  };
}

/** Boxes and paths out of ELK's answer (coordinates are absolute: shapeCoords/edgeCoords ROOT). */
export function fromElkLayout(graph: VisibleGraph, result: ElkNode, direction: Direction): Layout {
  const nodes = new Map<string, Box>();
  const clusters = new Map<string, Box>();
  const box = (n: ElkNode): Box => ({ x: n.x ?? 0, y: n.y ?? 0, w: n.width ?? 0, h: n.height ?? 0 });
  for (const child of result.children ?? []) {
    if (child.children) {
      clusters.set(child.id.slice(2), box(child));
      for (const inner of child.children) nodes.set(inner.id, box(inner));
    } else nodes.set(child.id, box(child));
  }
  const edges = (result.edges ?? []).flatMap((e) => {
    const edge = graph.edges[Number(e.id.slice(1))]; // ids are e<index> (toElkGraph)
    const s = (e as ElkExtendedEdge).sections?.[0];
    return edge ? [{ from: edge.from, to: edge.to, points: s ? [s.startPoint, ...(s.bendPoints ?? []), s.endPoint] : [] }] : [];
  });
  return { nodes, edges, clusters, width: Math.max(1, result.width ?? 1), height: Math.max(1, result.height ?? 1), direction };
}

/** An orthogonal path with its corners rounded (radius 5, less on short legs). */
export function pathFor(points: readonly ElkPoint[]): string {
  if (points.length < 2) return '';
  const f = (n: number) => Math.round(n * 10) / 10;
  let d = `M${f(points[0]!.x)},${f(points[0]!.y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const [a, p, b] = [points[i - 1]!, points[i]!, points[i + 1]!];
    const r = Math.min(5, Math.hypot(p.x - a.x, p.y - a.y) / 2, Math.hypot(b.x - p.x, b.y - p.y) / 2);
    const toward = (q: ElkPoint) => {
      const len = Math.hypot(q.x - p.x, q.y - p.y) || 1;
      return { x: p.x + ((q.x - p.x) / len) * r, y: p.y + ((q.y - p.y) / len) * r };
    };
    const [enter, leave] = [toward(a), toward(b)];
    d += ` L${f(enter.x)},${f(enter.y)} Q${f(p.x)},${f(p.y)} ${f(leave.x)},${f(leave.y)}`;
  }
  const last = points[points.length - 1]!;
  return `${d} L${f(last.x)},${f(last.y)}`;
}
