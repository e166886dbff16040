/**
 * The task graph as SVG, in a view that pans and zooms. The layout (ELK, in a worker) is asked
 * for only when what is drawn changes (tasks, edges, the filter, collapsing); a status or holder
 * change only swaps classes and text on the existing nodes, so a busy plan updates at once.
 *
 * Pointer: drag pans, the wheel pans, Ctrl+wheel (or a pinch) zooms at the pointer, a click
 * selects. Keyboard: the graph is one tab stop (roving tabindex); arrows move to the nearest
 * node that way, Home/End to the first/last, Enter or Space selects, Escape clears the selection,
 * Shift+arrows pan, + and - zoom, 0 fits.
 */
import type { TaskView } from '../src/protocol/webview';
import { type GraphFilter, type GraphNode, type VisibleGraph, NO_FILTER, buildGraph, lineage, nodesAt, searchMatches, taskKey } from './graph-model';
import { neighbour } from './graph-navigation';
import { makeNode, type NodeEls, paintNode, svg } from './graph-nodes';
import { type Box, type Layout, pathFor } from './layout';
import type { LayoutEngine } from './layout-engine';
import { Minimap } from './minimap';
import { type DisplayStatus, truncate } from './model';
import { Viewport } from './viewport';

const DRAG_THRESHOLD_PX = 4;
const PAN_STEP_PX = 80;

export interface GraphViewEvents {
  /** A node was selected (null: the selection was cleared). */
  onSelect(node: GraphNode | null): void;
  onProblem(message: string): void;
}

export interface GraphOptions {
  filter: GraphFilter;
  collapseCompleted: boolean;
}

export class GraphView {
  private tasks: readonly TaskView[] = [];
  private statuses: ReadonlyMap<string, DisplayStatus> = new Map();
  private options: GraphOptions = { filter: NO_FILTER, collapseCompleted: false };
  private search = '';
  private matchKeys: string[] = [];
  private matchIndex = -1;
  graph: VisibleGraph = buildGraph([], new Map(), { filter: NO_FILTER, collapseCompleted: false });
  private byKey = new Map<string, GraphNode>();
  private layout: Layout | null = null;
  private laidOutKey = '';
  private requestedKey = '';
  private nodes = new Map<string, NodeEls>();
  private edges: { from: string; to: string; path: SVGPathElement }[] = [];
  private readonly root: SVGSVGElement;
  private readonly world: SVGGElement;
  private readonly status: HTMLElement;
  private readonly minimap: Minimap;
  readonly viewport = new Viewport();
  /** Set by a manual pan or zoom: a new layout then keeps the view instead of fitting again. */
  private userMoved = false;
  private focusKey: string | null = null;
  private selectedKey: string | null = null;
  private hostSkewMs = 0;

  constructor(
    private readonly container: HTMLElement,
    minimapHost: HTMLElement,
    private readonly engine: LayoutEngine,
    private readonly events: GraphViewEvents,
  ) {
    this.root = svg('svg', { class: 'dag-svg', role: 'group', 'aria-label': 'Task dependency graph' });
    const defs = svg('defs');
    for (const kind of ['', '-done', '-lit']) {
      const marker = svg('marker', { id: `arrow${kind}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' });
      marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: `arrowhead${kind}` }));
      defs.append(marker);
    }
    this.world = svg('g', { class: 'world' });
    this.root.append(defs, this.world);
    this.status = document.createElement('div');
    this.status.className = 'dag-status';
    this.status.setAttribute('aria-live', 'polite');
    container.replaceChildren(this.root, this.status);
    this.minimap = new Minimap(minimapHost, (gx, gy) => {
      this.userMoved = true;
      this.viewport.centreOn(gx, gy);
      this.applyView();
    });
    this.listen();
    new ResizeObserver(() => {
      this.viewport.setView(this.container.clientWidth, this.container.clientHeight);
      if (!this.userMoved && this.layout) this.fitToInterest();
      this.applyView();
    }).observe(container);
    this.viewport.setView(container.clientWidth, container.clientHeight);
  }

  /** New tasks or statuses from the host. `hostSkewMs`: the host's clock minus this one's. */
  update(tasks: readonly TaskView[], statuses: ReadonlyMap<string, DisplayStatus>, hostSkewMs = 0): void {
    this.tasks = tasks;
    this.statuses = statuses;
    this.hostSkewMs = hostSkewMs;
    this.rebuildModel();
  }

  setOptions(options: GraphOptions): void {
    this.options = options;
    this.rebuildModel();
  }

  /**
   * Highlights the tasks whose id or description holds `text` and brings the first into view;
   * returns how many nodes match. Enter (goToMatch) then selects them one by one.
   */
  setSearch(text: string): number {
    this.search = text;
    this.matchIndex = -1;
    this.paintAll();
    if (this.matchKeys.length) this.revealKey(this.matchKeys[0]!);
    return this.matchKeys.length;
  }

  /** Selects and shows the next (1) or previous (-1) search match. */
  goToMatch(step: 1 | -1): void {
    if (!this.matchKeys.length) return;
    this.matchIndex = (this.matchIndex + step + this.matchKeys.length) % this.matchKeys.length;
    const key = this.matchKeys[this.matchIndex]!;
    this.selectKey(key);
    this.revealKey(key);
  }

  get matchPosition(): { index: number; count: number } {
    return { index: this.matchIndex, count: this.matchKeys.length };
  }

  /** Selects the node that shows task `taskId` (or clears the selection). */
  selectTask(taskId: string | null): void {
    this.selectKey(taskId === null ? null : (this.graph.nodeOf.get(taskId) ?? null));
  }

  zoom(command: 'in' | 'out' | 'fit' | 'actual'): void {
    if (command === 'fit') {
      this.userMoved = false;
      this.viewport.fit();
    } else {
      this.userMoved = true;
      if (command === 'actual') this.viewport.setScale(1);
      else this.viewport.zoomBy(command === 'in' ? 1.25 : 0.8);
    }
    this.applyView();
  }

  get layoutCount(): number {
    return this.engine.count;
  }

  get selectedNode(): GraphNode | null {
    return (this.selectedKey && this.byKey.get(this.selectedKey)) || null;
  }

  private rebuildModel(): void {
    this.graph = buildGraph(this.tasks, this.statuses, this.options);
    this.byKey = new Map(this.graph.nodes.map((n) => [n.key, n]));
    if (this.selectedKey && !this.byKey.has(this.selectedKey)) {
      // A task folded into a collapsed node (or unfolded out of one) stays selected.
      const id = this.selectedKey.startsWith('t:') ? this.selectedKey.slice(2) : null;
      this.selectedKey = id ? (this.graph.nodeOf.get(id) ?? null) : null;
    }
    if (this.graph.structureKey !== this.laidOutKey) this.requestLayout();
    this.paintAll();
  }

  private requestLayout(): void {
    const key = this.graph.structureKey;
    if (key === this.requestedKey) return;
    this.requestedKey = key;
    const graph = this.graph;
    if (graph.nodes.length === 0) {
      this.draw(graph, { nodes: new Map(), edges: [], clusters: new Map(), width: 1, height: 1, direction: 'RIGHT' });
      return;
    }
    if (!this.layout) this.say(`Laying out ${graph.nodes.length} tasks…`);
    this.container.classList.add('laying-out');
    this.engine.layout({ graph, width: this.container.clientWidth, height: this.container.clientHeight }).then(
      (layout) => {
        if (!layout || graph !== this.graph) return; // replaced by a newer request
        this.container.classList.remove('laying-out');
        this.draw(graph, layout);
      },
      (e: unknown) => {
        this.requestedKey = '';
        this.container.classList.remove('laying-out');
        const message = `The graph could not be laid out: ${e instanceof Error ? e.message : String(e)}`;
        this.say(message);
        this.events.onProblem(message);
      },
    );
  }

  private draw(graph: VisibleGraph, layout: Layout): void {
    const first = this.layout === null;
    this.layout = layout;
    this.laidOutKey = graph.structureKey;
    this.root.dataset.direction = layout.direction;
    this.root.dataset.layouts = String(this.engine.count);
    this.root.dataset.layoutMs = this.engine.lastMs.toFixed(0);

    const clusterLayer = svg('g', { class: 'clusters' });
    for (const [group, box] of layout.clusters) {
      const g = svg('g', { class: 'cluster', transform: `translate(${box.x},${box.y})` });
      g.dataset.group = group;
      const label = svg('text', { x: 10, y: 17, class: 'cluster-label' });
      g.append(svg('rect', { width: box.w, height: box.h, rx: 8, class: 'cluster-box' }), label);
      clusterLayer.append(g);
    }
    const edgeLayer = svg('g', { class: 'edges', 'aria-hidden': 'true' });
    this.edges = layout.edges.map((e) => {
      const path = svg('path', { d: pathFor(e.points), class: 'edge', 'marker-end': 'url(#arrow)' });
      edgeLayer.append(path);
      return { from: e.from, to: e.to, path };
    });
    const nodeLayer = svg('g', { class: 'nodes' });
    this.nodes.clear();
    for (const node of graph.nodes) {
      const box = layout.nodes.get(node.key);
      if (!box) continue;
      const els = makeNode(node, box);
      nodeLayer.append(els.g);
      this.nodes.set(node.key, els);
    }
    this.world.replaceChildren(clusterLayer, edgeLayer, nodeLayer);
    this.viewport.setContent(layout.width, layout.height);
    this.minimap.setLayout(layout, (key) => this.statusOfKey(key));
    if (first || !this.userMoved) this.fitToInterest();
    this.applyView();
    this.say(graph.nodes.length === 0 ? (this.tasks.length ? 'No task matches the filter.' : '') : '');
    const keep = this.focusKey && this.nodes.has(this.focusKey) ? this.focusKey : (graph.nodes[0]?.key ?? null);
    this.focusKey = null;
    if (keep) this.setFocusable(keep);
    this.paintAll();
  }

  private statusOfKey(key: string): DisplayStatus {
    const node = this.byKey.get(key);
    if (!node) return 'blocked';
    return node.kind === 'collapsed' ? 'completed' : (this.statuses.get(node.task.id) ?? 'blocked');
  }

  /** Classes and text of every node, the search and focus highlights: no layout. */
  private paintAll(): void {
    const now = Date.now() + this.hostSkewMs;
    const matched = new Set<string>();
    if (this.search.trim()) {
      for (const t of this.tasks) if (searchMatches(t, this.search)) {
        const key = this.graph.nodeOf.get(t.id);
        if (key) matched.add(key);
      }
    }
    this.matchKeys = this.graph.nodes.filter((n) => matched.has(n.key)).map((n) => n.key);
    const focus = this.selectedKey && this.nodes.has(this.selectedKey) ? lineage(this.graph, this.selectedKey) : null;
    this.container.classList.toggle('has-focus', focus !== null);
    this.container.classList.toggle('has-search', this.search.trim() !== '');
    for (const node of this.graph.nodes) {
      const els = this.nodes.get(node.key);
      if (!els) continue;
      paintNode(node, els, this.statuses, now);
      const cl = els.g.classList;
      cl.toggle('match', matched.has(node.key));
      cl.toggle('selected', node.key === this.selectedKey);
      cl.toggle('upstream', focus?.upstream.has(node.key) ?? false);
      cl.toggle('downstream', focus?.downstream.has(node.key) ?? false);
      els.g.setAttribute('aria-pressed', String(node.key === this.selectedKey));
    }
    for (const e of this.edges) {
      const froms = nodesAt(this.graph, e.from);
      const tos = nodesAt(this.graph, e.to);
      const done = froms.every((k) => this.statusOfKey(k) === 'completed');
      const sel = this.selectedKey;
      const lit =
        focus !== null &&
        ((froms.some((k) => focus.upstream.has(k)) && tos.some((k) => k === sel || focus.upstream.has(k))) ||
          (tos.some((k) => focus.downstream.has(k)) && froms.some((k) => k === sel || focus.downstream.has(k))));
      if (e.path.classList.contains('satisfied') !== done || e.path.classList.contains('lit') !== lit) {
        e.path.classList.toggle('satisfied', done);
        e.path.classList.toggle('lit', lit);
        e.path.setAttribute('marker-end', `url(#arrow${lit ? '-lit' : done ? '-done' : ''})`);
      }
    }
    if (this.layout) {
      const groups = new Map<string, { done: number; total: number }>();
      for (const t of this.tasks) {
        if (t.group === null) continue;
        const g = groups.get(t.group) ?? groups.set(t.group, { done: 0, total: 0 }).get(t.group)!;
        g.total++;
        if (t.status === 'completed') g.done++;
      }
      for (const g of this.world.querySelectorAll<SVGGElement>('g.cluster')) {
        const count = groups.get(g.dataset.group!) ?? { done: 0, total: 0 };
        const text = `${truncate(g.dataset.group!, 28)} · ${count.done}/${count.total} done`;
        const label = g.querySelector('text')!;
        if (label.textContent !== text) label.textContent = text;
      }
      this.minimap.paint((key) => this.statusOfKey(key));
    }
  }

  private selectKey(key: string | null): void {
    const next = key && this.byKey.has(key) ? key : null;
    if (next === this.selectedKey) return;
    this.selectedKey = next;
    if (next) this.setFocusable(next);
    this.paintAll();
    this.events.onSelect(this.selectedNode);
  }

  /** Fits the graph; when it cannot fit at a readable size, shows where the work is. */
  private fitToInterest(): void {
    if (!this.layout) return;
    const v = this.viewport;
    const whole = Math.min((v.viewW - 24) / this.layout.width, (v.viewH - 24) / this.layout.height);
    if (whole >= v.fitScale() - 1e-9 || this.layout.nodes.size === 0) {
      v.fit();
      return;
    }
    // The running tasks, else the ready ones, else the start of the plan.
    const pick = (s: DisplayStatus) => this.graph.nodes.filter((n) => n.kind === 'task' && this.statuses.get(n.task.id) === s);
    const interest = pick('running').length ? pick('running') : pick('ready').length ? pick('ready') : this.graph.nodes.slice(0, 1);
    const boxes = interest.map((n) => this.layout!.nodes.get(n.key)).filter((b): b is Box => b !== undefined);
    const cx = boxes.reduce((s, b) => s + b.x + b.w / 2, 0) / boxes.length;
    const cy = boxes.reduce((s, b) => s + b.y + b.h / 2, 0) / boxes.length;
    v.fit({ x: cx, y: cy });
  }

  private revealKey(key: string): void {
    const box = this.layout?.nodes.get(key);
    if (!box) return;
    this.viewport.reveal(box);
    this.applyView();
  }

  private applyView(): void {
    const v = this.viewport;
    this.world.setAttribute('transform', `translate(${v.x.toFixed(1)},${v.y.toFixed(1)}) scale(${v.scale.toFixed(4)})`);
    this.container.dataset.scale = v.scale.toFixed(4);
    this.minimap.setView(v.visible(), v.showsAll());
  }

  private say(text: string): void {
    this.status.textContent = text;
    this.status.hidden = text === '';
  }

  private setFocusable(key: string): void {
    if (this.focusKey === key) return;
    if (this.focusKey) this.nodes.get(this.focusKey)?.g.setAttribute('tabindex', '-1');
    this.focusKey = key;
    this.nodes.get(key)?.g.setAttribute('tabindex', '0');
  }

  private keyOf(target: EventTarget | null): string | null {
    const g = target instanceof Element ? target.closest<SVGGElement>('g.node') : null;
    return g?.dataset.key ?? null;
  }

  private listen(): void {
    const c = this.container;
    let drag: { id: number; x: number; y: number; moved: boolean } | null = null;
    let suppressClick = false;
    c.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      drag = { id: e.pointerId, x: e.clientX, y: e.clientY, moved: false };
    });
    c.addEventListener('pointermove', (e) => {
      if (!drag || drag.id !== e.pointerId) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD_PX) return;
      if (!drag.moved) c.setPointerCapture(e.pointerId);
      drag.moved = true;
      drag.x = e.clientX;
      drag.y = e.clientY;
      this.userMoved = true;
      this.viewport.panBy(dx, dy);
      this.applyView();
      c.classList.add('panning');
    });
    const end = (e: PointerEvent) => {
      if (!drag || drag.id !== e.pointerId) return;
      suppressClick = drag.moved;
      drag = null;
      c.classList.remove('panning');
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    c.addEventListener('click', (e) => {
      if (suppressClick) {
        suppressClick = false;
        return;
      }
      this.selectKey(this.keyOf(e.target)); // a click on the background clears the selection
    });
    c.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        this.userMoved = true;
        const box = c.getBoundingClientRect();
        const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? c.clientHeight : 1;
        if (e.ctrlKey || e.metaKey) this.viewport.zoomBy(Math.exp((-e.deltaY * unit) / 300), { x: e.clientX - box.left, y: e.clientY - box.top });
        else if (e.shiftKey && !e.deltaX) this.viewport.panBy(-e.deltaY * unit, 0);
        else this.viewport.panBy(-e.deltaX * unit, -e.deltaY * unit);
        this.applyView();
      },
      { passive: false },
    );
    c.addEventListener('focusin', (e) => {
      const key = this.keyOf(e.target);
      if (key) this.setFocusable(key);
    });
    c.addEventListener('keydown', (e) => this.onKey(e));
  }

  private onKey(e: KeyboardEvent): void {
    const key = this.keyOf(e.target);
    const pan = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[e.key];
    if (e.shiftKey && pan) {
      e.preventDefault();
      this.userMoved = true;
      this.viewport.panBy(pan[0]! * PAN_STEP_PX, pan[1]! * PAN_STEP_PX);
      this.applyView();
      return;
    }
    const zoom = { '+': 'in', '=': 'in', '-': 'out', _: 'out', '0': 'fit' }[e.key] as 'in' | 'out' | 'fit' | undefined;
    if (zoom && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      this.zoom(zoom);
      return;
    }
    if (e.key === 'Escape' && this.selectedKey) {
      e.preventDefault();
      this.selectKey(null);
      return;
    }
    if (!key || !this.layout) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.selectKey(key);
      return;
    }
    const next = neighbour(this.graph, this.layout, key, e.key);
    if (!next) return;
    e.preventDefault();
    this.setFocusable(next);
    this.revealKey(next);
    this.nodes.get(next)!.g.focus({ preventScroll: true });
  }

}

