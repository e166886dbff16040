// The task graph's pure parts in plain Node: what is drawn (filters, collapsing, clusters, edge
// bundling and reduction, focus), the ELK layout (elk.bundled runs ELK in-process here, the same
// algorithm the panel's worker runs), the view's pan and zoom limits.
import * as assert from 'node:assert/strict';
import ELK from 'elkjs/lib/elk.bundled.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DisplayStatus, TaskView } from '../../src/protocol/webview';
import { buildGraph, lineage, NO_FILTER, redundantEdges, type GraphFilter, type VisibleGraph } from '../../webview/graph-model';
import { chooseDirection, fromElkLayout, idCharsFor, nodeWidthFor, pathFor, toElkGraph, type Direction, type Layout } from '../../webview/layout';
import { LayoutEngine, type ElkLike } from '../../webview/layout-engine';
import { neighbour } from '../../webview/graph-navigation';
import { displayStatuses } from '../../webview/model';
import { FIT_MAX_SCALE, MARGIN, MIN_LABEL_PX, LABEL_PX, MIN_SCALE, Viewport } from '../../webview/viewport';
import { syntheticPlan } from '../support/plans';
import { planTasks, task } from '../webview/fixtures';

const shop = JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'shop-plan.json'), 'utf8')).tasks;
const filter = (f: { statuses?: DisplayStatus[]; group?: string; holder?: string }): GraphFilter => ({ ...NO_FILTER, ...f, statuses: new Set(f.statuses ?? []) });
const graphOf = (tasks: TaskView[], options: { filter?: GraphFilter; collapseCompleted?: boolean } = {}) =>
  buildGraph(tasks, displayStatuses(tasks), { filter: options.filter ?? NO_FILTER, collapseCompleted: options.collapseCompleted ?? false });
const edgeSet = (g: VisibleGraph) => new Set(g.edges.map((e) => `${e.from}>${e.to}`));

/** Every pair (a, b) with a path a → … → b, through tasks' dependencies. */
function reachability(tasks: TaskView[]): Set<string> {
  const deps = new Map(tasks.map((t) => [t.id, t.dependencies]));
  const out = new Set<string>();
  const up = (id: string, seen = new Set<string>()): Set<string> => {
    for (const d of deps.get(id) ?? []) if (!seen.has(d)) up(d, seen.add(d));
    return seen;
  };
  for (const t of tasks) for (const a of up(t.id)) out.add(`${a}>${t.id}`);
  return out;
}

describe('task graph model', () => {
  const mid = () =>
    planTasks(shop, (id) =>
      ['spec', 'wireframes', 'api-contract', 'db-schema', 'design-tokens', 'migrations'].includes(id)
        ? { status: 'completed', holder: 'alice' }
        : id === 'api-orders'
          ? { status: 'running', holder: 'bob' }
          : { status: 'pending' },
    );

  it('filters by status, group and holder; edges only between what is kept', () => {
    const tasks = mid();
    const running = graphOf(tasks, { filter: filter({ statuses: ['running'] }) });
    assert.deepEqual(running.nodes.map((n) => n.key), ['t:api-orders']);
    assert.deepEqual(running.edges, []);
    const api = graphOf(tasks, { filter: filter({ group: 'api' }) });
    assert.deepEqual(api.nodes.map((n) => n.key).sort(), ['t:api-cart', 't:api-catalog', 't:api-orders', 't:api-payments', 't:api-users']);
    assert.deepEqual([...api.clusters.keys()], ['api']);
    const bob = graphOf(tasks, { filter: filter({ holder: 'bob', statuses: ['running', 'ready'] }) });
    assert.deepEqual(bob.nodes.map((n) => n.key), ['t:api-orders']);
    const done = graphOf(tasks, { filter: filter({ statuses: ['completed'] }) });
    for (const e of done.edges) for (const end of [e.from, e.to]) assert.ok(done.nodes.some((n) => n.key === end), `${end} is drawn`);
  });

  it('folds completed tasks joined by dependencies into one node, and points their edges at it', () => {
    const tasks = mid();
    const g = graphOf(tasks, { collapseCompleted: true });
    const folded = g.nodes.filter((n) => n.kind === 'collapsed');
    assert.equal(folded.length, 2, 'spec…migrations is one stretch, wireframes→design-tokens another');
    const big = folded.find((n) => n.kind === 'collapsed' && n.taskIds.includes('spec'))!;
    assert.deepEqual(big.kind === 'collapsed' && big.taskIds, ['api-contract', 'db-schema', 'migrations', 'spec']);
    for (const id of ['spec', 'api-contract', 'db-schema', 'migrations']) assert.equal(g.nodeOf.get(id), big.key);
    assert.ok(edgeSet(g).has(`${big.key}>c:api`), 'the api streams wait for the folded node');
    assert.ok(!g.edges.some((e) => e.from === e.to), 'no self-loop from folding');
    assert.equal(g.nodes.length, tasks.length - 6 + 2);
    // A lone completed task stays itself.
    const lone = graphOf([task('a', [], 'completed'), task('b', ['a'], 'pending')], { collapseCompleted: true });
    assert.deepEqual(lone.nodes.map((n) => n.kind), ['task', 'task']);
  });

  it("draws groups as clusters: one edge into a cluster for a task every stream waits for, one out for a group barrier", () => {
    const g = graphOf(planTasks(shop));
    const edges = edgeSet(g);
    assert.deepEqual([...g.clusters.keys()].sort(), ['api', 'tests', 'ui']);
    assert.ok(edges.has('t:api-contract>c:api') && edges.has('t:db-schema>c:api'), 'every api stream depends on both');
    assert.ok(!edges.has('t:api-contract>t:api-users'), 'bundled, not one edge per stream');
    assert.ok(edges.has('c:ui>t:a11y-audit') && edges.has('c:api>t:docker-image'), 'group:ui and group:api barriers');
    assert.ok(edges.has('c:tests>t:canary'));
  });

  it('drops edges a path already implies, and keeps what reaches what', () => {
    const tasks = planTasks(shop);
    const g = graphOf(tasks);
    // canary depends on staging-deploy directly and through load-test: the direct arrow goes.
    assert.ok(!edgeSet(g).has('t:staging-deploy>t:canary'));
    assert.ok(edgeSet(g).has('t:load-test>t:canary'));
    // Reachability along drawn edges (a cluster end stands for each of its nodes) is unchanged.
    const drawn = new Set<string>();
    for (const n of g.nodes) for (const d of lineage(g, n.key).downstream) drawn.add(`${n.key.slice(2)}>${d.slice(2)}`);
    assert.deepEqual([...drawn].sort(), [...reachability(tasks)].sort());
    assert.deepEqual(redundantEdges(['a', 'b', 'c'], new Map([['a', new Set(['b', 'c'])], ['b', new Set(['c'])]])), [['a', 'c']]);
    assert.deepEqual(redundantEdges(['a', 'b'], new Map([['a', new Set(['b'])], ['b', new Set(['a'])]])), [], 'a cycle keeps its edges');
  });

  it('focus: a node’s upstream is what it waits for, its downstream what waits for it', () => {
    const g = graphOf(planTasks(shop));
    const { upstream, downstream } = lineage(g, 't:ui-checkout');
    assert.deepEqual([...upstream].sort(), ['t:api-contract', 't:api-payments', 't:db-schema', 't:design-tokens', 't:spec', 't:ui-cart', 't:ui-shell', 't:wireframes', 't:api-cart'].sort());
    for (const d of ['t:e2e-checkout', 't:a11y-audit', 't:canary', 't:release']) assert.ok(downstream.has(d), d);
    assert.ok(!downstream.has('t:ui-search') && !upstream.has('t:ui-search'));
  });

  it('keeps its structure key while only statuses change, so the panel recolours without a layout', () => {
    const tasks = mid();
    const before = graphOf(tasks).structureKey;
    const moved = tasks.map((t) => (t.id === 'api-orders' ? { ...t, status: 'completed' as const } : t.id === 'api-users' ? { ...t, status: 'running' as const, claimed_by: 'w' } : t));
    assert.equal(graphOf(moved).structureKey, before);
    assert.notEqual(graphOf([...tasks, task('new', ['spec'], 'pending')]).structureKey, before);
    assert.notEqual(graphOf(tasks, { collapseCompleted: true }).structureKey, before);
  });
});

describe('task graph layout (ELK layered)', function () {
  this.timeout(60_000);
  const elk = new ELK();
  const layOut = async (g: VisibleGraph, direction: Direction, aspect = 1.6): Promise<Layout> => fromElkLayout(g, await elk.layout(toElkGraph(g, direction, aspect)), direction);
  const overlaps = (a: { x: number; y: number; w: number; h: number }, b: typeof a) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

  for (const direction of ['RIGHT', 'DOWN'] as const) {
    it(`lays the 40-task plan out ${direction === 'RIGHT' ? 'left to right' : 'top to bottom'}: no overlap, dependencies first, clusters hold their tasks`, async () => {
      const g = graphOf(planTasks(shop));
      const layout = await layOut(g, direction);
      assert.equal(layout.nodes.size, 40);
      const boxes = [...layout.nodes.entries()];
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) assert.ok(!overlaps(boxes[i]![1], boxes[j]![1]), `${boxes[i]![0]} overlaps ${boxes[j]![0]}`);
      const along = (k: string) => (direction === 'RIGHT' ? layout.nodes.get(k)!.x : layout.nodes.get(k)!.y);
      for (const e of g.edges) {
        if (e.from.startsWith('c:') || e.to.startsWith('c:')) continue;
        assert.ok(along(e.from) < along(e.to), `${e.from} before ${e.to}`);
      }
      for (const [group, keys] of g.clusters) {
        const c = layout.clusters.get(group)!;
        for (const k of keys) {
          const n = layout.nodes.get(k)!;
          assert.ok(n.x >= c.x && n.y >= c.y && n.x + n.w <= c.x + c.w && n.y + n.h <= c.y + c.h, `${k} inside cluster ${group}`);
        }
      }
      assert.equal(layout.edges.length, g.edges.length);
      for (const e of layout.edges) assert.ok(e.points.length >= 2, `${e.from}>${e.to} is routed`);
      assert.ok(layout.width > 0 && layout.height > 0);
    });
  }

  it('arrow keys move along dependencies with the flow, and to the nearest node across it', async () => {
    const g = graphOf(planTasks(shop));
    for (const direction of ['RIGHT', 'DOWN'] as const) {
      const layout = await layOut(g, direction);
      const [along, back] = direction === 'RIGHT' ? ['ArrowRight', 'ArrowLeft'] : ['ArrowDown', 'ArrowUp'];
      assert.ok(['t:api-contract', 't:db-schema'].includes(neighbour(g, layout, 't:spec', along)!), 'spec → one of its dependents');
      assert.equal(neighbour(g, layout, 't:spec', back), null, 'nothing comes before spec');
      assert.equal(neighbour(g, layout, 't:migrations', back), 't:db-schema', 'back to its one dependency');
      const across = direction === 'RIGHT' ? 'ArrowDown' : 'ArrowRight';
      const next = neighbour(g, layout, 't:api-users', across);
      assert.ok(next && next !== 't:api-users', `${across} moves across the flow`);
      assert.equal(neighbour(g, layout, 't:spec', 'Home'), 't:spec');
      assert.equal(neighbour(g, layout, 't:spec', 'End'), 't:release');
    }
  });

  it('picks the direction that shows the graph bigger in the view', () => {
    const chain = graphOf(Array.from({ length: 8 }, (_, i) => task(`c${i}`, i ? [`c${i - 1}`] : [], 'pending')));
    assert.equal(chooseDirection(chain, 1200, 400), 'RIGHT', 'a chain reads across a wide view');
    assert.equal(chooseDirection(chain, 300, 1200), 'DOWN', 'and down a tall one');
    const wide = graphOf([task('root', [], 'pending'), ...Array.from({ length: 12 }, (_, i) => task(`leaf${i}`, ['root'], 'pending'))]);
    assert.equal(chooseDirection(wide, 1600, 500), 'DOWN', 'twelve siblings side by side in a wide view');
  });

  it('sizes nodes for the longest id, within bounds, and says how much of an id fits', () => {
    assert.equal(nodeWidthFor(graphOf([task('a', [], 'pending')])), 148);
    assert.equal(nodeWidthFor(graphOf([task('x'.repeat(60), [], 'pending')])), 220);
    assert.equal(idCharsFor(220), 25);
  });

  it('lays 500 tasks out within seconds, and names the layouts it skipped as null', async () => {
    const plan = syntheticPlan(500, 3);
    const tasks = plan.map((p) => ({ ...task(p.id, p.dependencies, 'pending'), group: p.group ?? null }));
    const g = graphOf(tasks);
    const engine = new LayoutEngine(Promise.resolve(elk as unknown as ElkLike));
    const first = engine.layout({ graph: g, width: 1200, height: 700 });
    const replaced = engine.layout({ graph: g, width: 1200, height: 700 }); // waits: the first runs
    const newest = engine.layout({ graph: g, width: 1000, height: 700 });
    assert.equal(await replaced, null, 'a request replaced before it ran resolves null');
    const [a, c] = await Promise.all([first, newest]);
    assert.equal(a!.nodes.size, 500);
    assert.equal(c!.nodes.size, 500);
    assert.equal(engine.count, 2);
  });

  it('draws orthogonal edges with rounded corners', () => {
    assert.equal(pathFor([{ x: 0, y: 0 }, { x: 100, y: 0 }]), 'M0,0 L100,0');
    assert.equal(pathFor([{ x: 0, y: 0 }, { x: 20, y: 0 }, { x: 20, y: 40 }]), 'M0,0 L15,0 Q20,0 20,5 L20,40');
    assert.equal(pathFor([{ x: 0, y: 0 }]), '');
  });
});

describe('graph viewport', () => {
  it('never zooms below a readable label size, nor above 2×', () => {
    const v = new Viewport();
    v.setView(800, 500);
    v.setContent(4000, 3000);
    for (let i = 0; i < 50; i++) v.zoomBy(0.5);
    assert.equal(v.scale, MIN_SCALE);
    assert.ok(LABEL_PX * v.scale >= MIN_LABEL_PX - 1e-9);
    for (let i = 0; i < 50; i++) v.zoomBy(2);
    assert.equal(v.scale, 2);
  });

  it('"Fit" shows all of a graph that fits at a readable size, else stops at the readable size', () => {
    const v = new Viewport();
    v.setView(800, 500);
    v.setContent(1000, 400);
    v.fit();
    assert.ok(v.showsAll(), 'all of it');
    assert.ok(v.scale > MIN_SCALE && v.scale < 1);
    v.setContent(200, 100);
    v.fit();
    assert.equal(v.scale, FIT_MAX_SCALE, 'a small graph is not blown up');
    v.setContent(6000, 2000);
    v.fit({ x: 5000, y: 1000 });
    assert.equal(v.scale, MIN_SCALE);
    assert.equal(v.showsAll(), false);
    const seen = v.visible();
    assert.ok(seen.x < 5000 && seen.x + seen.w > 5000, 'centred where asked');
  });

  it('pans, but never drags the graph out of view', () => {
    const v = new Viewport();
    v.setView(800, 500);
    v.setContent(4000, 3000);
    v.setScale(1);
    v.panBy(10_000, 10_000);
    assert.deepEqual([v.x, v.y], [MARGIN, MARGIN], "stops at the graph's top-left corner");
    v.panBy(-100_000, -100_000);
    assert.deepEqual([v.x, v.y], [800 - 4000 - MARGIN, 500 - 3000 - MARGIN], 'and at its bottom-right');
    v.setContent(300, 200);
    v.panBy(-100_000, 0);
    assert.equal(v.x, MARGIN, 'a graph smaller than the view stays inside it');
  });

  it('zooms around the pointer and reveals a node with the least pan', () => {
    const v = new Viewport();
    v.setView(800, 500);
    v.setContent(4000, 3000);
    v.setScale(1);
    v.panBy(-1000, -1000);
    const before = { gx: (300 - v.x) / v.scale, gy: (200 - v.y) / v.scale };
    v.zoomBy(1.5, { x: 300, y: 200 });
    assert.ok(Math.abs((300 - v.x) / v.scale - before.gx) < 1e-6 && Math.abs((200 - v.y) / v.scale - before.gy) < 1e-6, 'the point under the pointer stays');
    v.setScale(1);
    const seen = v.visible();
    v.reveal({ x: seen.x + seen.w + 100, y: seen.y + 50, w: 150, h: 40 });
    const after = v.visible();
    assert.ok(after.x + after.w >= seen.x + seen.w + 250, 'the node came into view');
    assert.equal(after.y, seen.y, 'no vertical pan was needed');
  });

  it('a hidden view, a layout of nothing or a bad zoom factor never puts NaN into the transform', () => {
    const v = new Viewport();
    v.setView(0, 0); // the panel hidden: clientWidth 0
    v.setContent(undefined, Number.NaN); // ELK's size of an empty graph
    v.fit();
    v.zoomBy(Number.NaN, { x: 10, y: 10 });
    v.panBy(5, 5);
    for (const n of [v.x, v.y, v.scale, ...Object.values(v.visible())]) assert.ok(Number.isFinite(n), `every figure finite: ${JSON.stringify({ x: v.x, y: v.y, scale: v.scale })}`);
  });
});

describe('display statuses of a scoped part', () => {
  it('uses the host’s ready/blocked when a task’s dependencies are not in the part', () => {
    const t = { ...task('a', ['not-sent'], 'pending'), display_status: 'ready' as DisplayStatus };
    assert.equal(displayStatuses([t]).get('a'), 'ready');
  });
});
