/** A task's node in the graph: its SVG, and what it says (status, holder, progress, lease). */
import type { TaskView } from '../src/protocol/webview';
import type { GraphNode } from './graph-model';
import { type Box, idCharsFor, metaCharsFor } from './layout';
import { type DisplayStatus, STATUS_LABELS, truncate } from './model';

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element with its attributes. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** The parts of a node that change as its task does. */
export interface NodeEls {
  g: SVGGElement;
  title: SVGTitleElement;
  id: SVGTextElement;
  meta: SVGTextElement;
  progress: SVGRectElement;
  signature: string;
}

/** A node's SVG at its place: the box, the status stripe, two lines of text, a progress bar. */
export function makeNode(node: GraphNode, box: Box): NodeEls {
  const g = svg('g', { class: `node${node.kind === 'collapsed' ? ' collapsed' : ''}`, transform: `translate(${box.x},${box.y})`, tabindex: -1, role: 'button' });
  g.dataset.key = node.key;
  g.dataset.width = String(box.w);
  if (node.kind === 'task') g.dataset.taskId = node.task.id;
  const title = svg('title');
  const parts: SVGElement[] = [title];
  if (node.kind === 'collapsed') parts.push(svg('rect', { x: 4, y: -4, width: box.w, height: box.h, rx: 6, class: 'node-box node-stack' }));
  const id = svg('text', { x: 12, y: 18, class: 'node-id' });
  const meta = svg('text', { x: 12, y: 35, class: 'node-meta' });
  const progress = svg('rect', { x: 0, y: box.h - 3, width: 0, height: 3, rx: 1.5, class: 'node-progress' });
  parts.push(
    svg('rect', { width: box.w, height: box.h, rx: 6, class: 'node-box' }),
    svg('rect', { width: 4, height: box.h, rx: 2, class: 'node-stripe' }),
    id,
    meta,
    progress,
  );
  g.append(...parts);
  return { g, title, id, meta, progress, signature: '' };
}

/** Sets the node's classes and text; only what changed since the last paint is touched. */
export function paintNode(node: GraphNode, els: NodeEls, statuses: ReadonlyMap<string, DisplayStatus>, now: number): void {
  let status: DisplayStatus;
  let id: string;
  let meta: string;
  let label: string;
  let progress = 0;
  if (node.kind === 'collapsed') {
    status = 'completed';
    id = `✓ ${node.taskIds.length} completed`;
    meta = truncate(node.taskIds.slice(0, 3).join(', ') + (node.taskIds.length > 3 ? ` +${node.taskIds.length - 3}` : ''), 26);
    label = `${node.taskIds.length} completed tasks, collapsed: ${node.taskIds.slice(0, 20).join(', ')}`;
  } else {
    const t = node.task;
    status = statuses.get(t.id) ?? 'blocked';
    const width = Number(els.g.dataset.width);
    id = truncate(t.id, idCharsFor(width));
    meta = truncate(nodeMeta(t, status, now), metaCharsFor(width));
    const held = t.claimed_by ? `, ${status === 'running' ? 'held' : 'last held'} by ${t.claimed_by}` : '';
    label = `Task ${t.id}, ${STATUS_LABELS[status]}${held}`;
    if (status === 'running' && t.progress) progress = Math.max(0, Math.min(100, t.progress.percent)) / 100;
  }
  const signature = `${status}|${id}|${meta}|${label}|${progress}`;
  if (signature === els.signature) return;
  els.signature = signature;
  for (const c of [...els.g.classList]) if (c.startsWith('status-')) els.g.classList.remove(c);
  els.g.classList.add(`status-${status}`);
  els.id.textContent = id;
  els.meta.textContent = meta;
  els.progress.setAttribute('width', String(Math.round(progress * Number(els.g.dataset.width))));
  els.g.setAttribute('aria-label', label);
  els.title.textContent = node.kind === 'task' && node.task.description ? `${label}\n${truncate(node.task.description, 300)}` : label;
}

/** The second line of a task's node: what changes (holder, progress, lease) before what does not. */
export function nodeMeta(t: TaskView, status: DisplayStatus, now: number): string {
  if (status === 'running') {
    const parts = [`⚙ ${truncate(t.claimed_by ?? '?', 14)}`];
    if (t.progress) parts.push(`${Math.round(t.progress.percent)}%`);
    else if (t.lease_expires_at) {
      // Minutes only: a node is repainted with each state, not every second (the details tick).
      const left = Date.parse(t.lease_expires_at) - now;
      parts.push(left > 0 ? `${Math.ceil(left / 60_000)} min` : 'lease expired');
    }
    return parts.join(' · ');
  }
  if (status === 'dead_letter') return `dead letter · ${t.attempts}/${t.max_attempts}`;
  if (status === 'ready' && t.error) return `retry · failed ${t.attempts}/${t.max_attempts}`;
  if (status === 'completed') return t.claimed_by ? `done · ${truncate(t.claimed_by, 16)}` : 'done';
  return STATUS_LABELS[status];
}
