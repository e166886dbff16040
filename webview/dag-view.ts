/**
 * The task graph as SVG. The layout is recomputed only when tasks or dependencies change; a
 * status or holder change only swaps classes and text on the existing nodes, so a busy plan of
 * hundreds of tasks updates in well under a frame.
 *
 * Keyboard: the graph is one tab stop (roving tabindex); arrow keys move to the nearest node in
 * that direction, Home/End to the first/last, Enter or Space selects.
 */
import type { TaskView } from '../src/protocol/webview';
import { type Layout, NODE_HEIGHT, NODE_WIDTH, layoutTasks } from './dag-layout';
import { type DisplayStatus, STATUS_LABELS, structureKey, truncate } from './model';

const SVG = 'http://www.w3.org/2000/svg';
const MIN_SCALE = 0.7;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

interface NodeEls {
  g: SVGGElement;
  holder: SVGTextElement;
  title: SVGTitleElement;
  status: DisplayStatus | null;
  holderText: string;
}

export class DagView {
  private key = '';
  private layout: Layout | null = null;
  private nodes = new Map<string, NodeEls>();
  private edges: { from: string; to: string; path: SVGPathElement }[] = [];
  private svgRoot: SVGSVGElement | null = null;
  private zoom: 'auto' | 'fit' | number = 'auto';
  private scale = 1;
  private focusId: string | null = null;
  private selectedId: string | null = null;
  /** How many times the graph was laid out: tests check that a recolour does not relayout. */
  layoutCount = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly onSelect: (taskId: string) => void,
  ) {
    container.addEventListener('keydown', (e) => this.onKey(e));
    container.addEventListener('click', (e) => {
      const id = this.nodeIdOf(e.target);
      if (id) this.select(id);
    });
    container.addEventListener('focusin', (e) => {
      const id = this.nodeIdOf(e.target);
      if (id) this.setFocusable(id);
    });
    new ResizeObserver(() => this.fit()).observe(container);
  }

  /**
   * Shrinks a graph a little wider than the pane to fit its width; past MIN_SCALE text would be
   * unreadable, so a big plan keeps a readable size and scrolls instead.
   */
  private fit(): void {
    if (!this.svgRoot || !this.layout) return;
    const { width, height } = this.layout;
    const room = { w: this.container.clientWidth - 2, h: this.container.clientHeight - 2 };
    let scale: number;
    if (this.zoom === 'auto') scale = Math.min(1, Math.max(MIN_SCALE, room.w / width));
    else if (this.zoom === 'fit') scale = Math.min(1, room.w / width, room.h / height);
    else scale = this.zoom;
    this.scale = scale;
    this.svgRoot.setAttribute('width', String(Math.floor(width * scale)));
    this.svgRoot.setAttribute('height', String(Math.floor(height * scale)));
  }

  /** 'auto': fit the width, never below a readable size; 'fit': all of it; a number: that scale. */
  setZoom(zoom: 'auto' | 'fit' | 'in' | 'out'): void {
    if (zoom === 'in' || zoom === 'out') this.zoom = Math.min(2, Math.max(0.1, this.scale * (zoom === 'in' ? 1.25 : 0.8)));
    else this.zoom = zoom;
    this.fit();
  }

  update(tasks: readonly TaskView[], statuses: Map<string, DisplayStatus>): void {
    const key = structureKey(tasks);
    if (key !== this.key) {
      this.key = key;
      this.rebuild(tasks);
    }
    for (const task of tasks) this.paint(task, statuses.get(task.id) ?? 'blocked');
    for (const edge of this.edges) {
      const done = statuses.get(edge.from) === 'completed';
      edge.path.classList.toggle('satisfied', done);
    }
  }

  select(id: string | null): void {
    if (this.selectedId) this.nodes.get(this.selectedId)?.g.classList.remove('selected');
    this.selectedId = id && this.nodes.has(id) ? id : null;
    if (this.selectedId) {
      const g = this.nodes.get(this.selectedId)!.g;
      g.classList.add('selected');
      this.setFocusable(this.selectedId);
      this.onSelect(this.selectedId);
    }
    for (const [nodeId, els] of this.nodes) els.g.setAttribute('aria-pressed', String(nodeId === this.selectedId));
  }

  private rebuild(tasks: readonly TaskView[]): void {
    this.layoutCount++;
    const layout = (this.layout = layoutTasks(tasks));
    const root = svg('svg', { width: layout.width, height: layout.height, viewBox: `0 0 ${layout.width} ${layout.height}`, class: `dag-svg engine-${layout.engine}` });
    const defs = svg('defs');
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }));
    defs.append(marker);
    const edgeLayer = svg('g', { class: 'edges', 'aria-hidden': 'true' });
    const nodeLayer = svg('g', { class: 'nodes' });
    root.append(defs, edgeLayer, nodeLayer);

    this.edges = layout.edges.map((e) => {
      const path = svg('path', { d: pathFor(e.points), class: 'edge', 'marker-end': 'url(#arrow)' });
      path.dataset.from = e.from;
      path.dataset.to = e.to;
      edgeLayer.append(path);
      return { from: e.from, to: e.to, path };
    });

    this.nodes.clear();
    for (const task of tasks) {
      const box = layout.nodes.get(task.id);
      if (!box) continue;
      const g = svg('g', { class: 'node', transform: `translate(${box.x - NODE_WIDTH / 2},${box.y - NODE_HEIGHT / 2})`, tabindex: -1, role: 'button', 'aria-pressed': String(task.id === this.selectedId) });
      g.dataset.taskId = task.id;
      const title = svg('title');
      const label = svg('text', { x: 10, y: 18, class: 'node-id' });
      label.textContent = truncate(task.id, 20);
      const holder = svg('text', { x: 10, y: 34, class: 'node-holder' });
      g.append(title, svg('rect', { width: NODE_WIDTH, height: NODE_HEIGHT, rx: 5, class: 'node-box' }), svg('rect', { width: 4, height: NODE_HEIGHT, rx: 2, class: 'node-stripe' }), label, holder);
      nodeLayer.append(g);
      this.nodes.set(task.id, { g, holder, title, status: null, holderText: '' });
    }
    this.container.replaceChildren(root);
    this.svgRoot = root;
    this.fit();
    const keep = this.focusId && this.nodes.has(this.focusId) ? this.focusId : (tasks[0]?.id ?? null);
    this.focusId = null;
    if (keep) this.setFocusable(keep);
    if (this.selectedId && !this.nodes.has(this.selectedId)) this.selectedId = null;
    if (this.selectedId) this.nodes.get(this.selectedId)!.g.classList.add('selected');
  }

  /** Cheap per-update work: only what changed is touched. */
  private paint(task: TaskView, status: DisplayStatus): void {
    const els = this.nodes.get(task.id);
    if (!els) return;
    // A running task's holder is the news; otherwise the status, and who held it last if anyone.
    const holderText =
      status === 'running' && task.claimed_by
        ? `⚙ ${truncate(task.claimed_by, 20)}`
        : truncate(task.claimed_by ? `${STATUS_LABELS[status]} · ${task.claimed_by}` : STATUS_LABELS[status], 23);
    if (els.status !== status) {
      if (els.status) els.g.classList.remove(`status-${els.status}`);
      els.g.classList.add(`status-${status}`);
      els.status = status;
    }
    if (els.holderText !== holderText) {
      els.holder.textContent = holderText;
      els.holderText = holderText;
    }
    const held = task.claimed_by ? `, ${status === 'running' ? 'held' : 'last held'} by ${task.claimed_by}` : '';
    const label = `Task ${task.id}, ${STATUS_LABELS[status]}${held}`;
    if (els.g.getAttribute('aria-label') !== label) {
      els.g.setAttribute('aria-label', label);
      els.title.textContent = task.description ? `${label}\n${truncate(task.description, 300)}` : label;
    }
  }

  private setFocusable(id: string): void {
    if (this.focusId === id) return;
    if (this.focusId) this.nodes.get(this.focusId)?.g.setAttribute('tabindex', '-1');
    this.focusId = id;
    this.nodes.get(id)?.g.setAttribute('tabindex', '0');
  }

  private nodeIdOf(target: EventTarget | null): string | null {
    const g = target instanceof Element ? target.closest<SVGGElement>('g.node') : null;
    return g?.dataset.taskId ?? null;
  }

  private onKey(e: KeyboardEvent): void {
    const id = this.nodeIdOf(e.target);
    if (!id || !this.layout) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.select(id);
      return;
    }
    const next = this.neighbour(id, e.key);
    if (!next) return;
    e.preventDefault();
    this.setFocusable(next);
    this.nodes.get(next)!.g.focus();
  }

  /** The nearest node in the arrow's direction, within a 45° cone either side. */
  private neighbour(id: string, key: string): string | null {
    const ids = [...this.nodes.keys()];
    if (key === 'Home') return ids[0] ?? null;
    if (key === 'End') return ids[ids.length - 1] ?? null;
    const dir = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] }[key];
    const from = this.layout!.nodes.get(id);
    if (!dir || !from) return null;
    let best: string | null = null;
    let bestScore = Infinity;
    for (const [other, box] of this.layout!.nodes) {
      const dx = box.x - from.x;
      const dy = box.y - from.y;
      const along = dx * dir[0]! + dy * dir[1]!;
      const across = Math.abs(dx * dir[1]! - dy * dir[0]!);
      if (other === id || along <= 0 || across > along) continue;
      const score = along + 2 * across;
      if (score < bestScore) [best, bestScore] = [other, score];
    }
    return best;
  }
}

/** Two points: a horizontal S-curve; more: a polyline smoothed through its midpoints. */
export function pathFor(points: { x: number; y: number }[]): string {
  if (points.length < 2) return '';
  const f = (n: number) => Math.round(n * 10) / 10;
  const [a, b] = [points[0]!, points[points.length - 1]!];
  if (points.length === 2) {
    const dx = Math.max(20, (b.x - a.x) / 2);
    return `M${f(a.x)},${f(a.y)} C${f(a.x + dx)},${f(a.y)} ${f(b.x - dx)},${f(b.y)} ${f(b.x)},${f(b.y)}`;
  }
  let d = `M${f(a.x)},${f(a.y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i]!;
    const q = points[i + 1]!;
    const end = i === points.length - 2 ? q : { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 };
    d += ` Q${f(p.x)},${f(p.y)} ${f(end.x)},${f(end.y)}`;
  }
  return d;
}
