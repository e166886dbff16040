/** Moving between the graph's nodes with the arrow keys: pure, so unit tests run it in Node. */
import { type VisibleGraph, lineage, nodesAt } from './graph-model';
import type { Layout } from './layout';

const ARROWS: Record<string, [number, number]> = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] };

/**
 * The node an arrow key moves to from `key`. Arrows along the flow (right or down, as laid out)
 * go to a dependent, against it to a dependency, the nearest on screen first; arrows across the
 * flow go to the nearest node that way, within a 45° cone. Home and End: the first and last node.
 */
export function neighbour(graph: VisibleGraph, layout: Layout, key: string, arrow: string): string | null {
  const keys = graph.nodes.map((n) => n.key).filter((k) => layout.nodes.has(k));
  if (arrow === 'Home') return keys[0] ?? null;
  if (arrow === 'End') return keys[keys.length - 1] ?? null;
  const dir = ARROWS[arrow];
  const from = layout.nodes.get(key);
  if (!dir || !from) return null;
  const flow = layout.direction === 'RIGHT' ? [1, 0] : [0, 1];
  const sign = dir[0] * flow[0]! + dir[1] * flow[1]!;
  if (sign !== 0) {
    const { upstream, downstream } = lineage(graph, key);
    const next = new Set<string>();
    for (const e of graph.edges) {
      const froms = nodesAt(graph, e.from);
      const tos = nodesAt(graph, e.to);
      if (sign > 0 && froms.includes(key)) tos.forEach((k) => next.add(k));
      if (sign < 0 && tos.includes(key)) froms.forEach((k) => next.add(k));
    }
    const distance = (k: string) => {
      const b = layout.nodes.get(k)!;
      return Math.hypot(b.x - from.x, b.y - from.y);
    };
    const candidates = [...next].filter((k) => layout.nodes.has(k) && (sign > 0 ? downstream : upstream).has(k));
    return candidates.sort((a, b) => distance(a) - distance(b))[0] ?? null;
  }
  let best: string | null = null;
  let bestScore = Infinity;
  for (const [other, box] of layout.nodes) {
    const dx = box.x - from.x;
    const dy = box.y - from.y;
    const along = dx * dir[0] + dy * dir[1];
    const across = Math.abs(dx * dir[1] - dy * dir[0]);
    if (other === key || along <= 0 || across > along) continue;
    const score = along + 2 * across;
    if (score < bestScore) [best, bestScore] = [other, score];
  }
  return best;
}
