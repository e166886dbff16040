// The task graph in a real browser (Chromium, the panel's own HTML and CSP, ELK in its Web
// Worker): readable at 40, 150 and 500 tasks, pan and zoom within their limits, search, filters,
// focus on a task's upstream and downstream, collapsing completed work, a task's details and
// actions, and the summary of a plan too big to draw. Needs `npm run build` and
// `bash scripts/install-vscode-host.sh`; run with `npm run test:webview`.
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DisplayStatus, StatusCounts, Summary, TaskView } from '../../src/protocol/webview';
import { LABEL_PX, MIN_LABEL_PX, MIN_SCALE } from '../../webview/viewport';
import { instances, runs, shopMidRun, state, syntheticMidRun, task } from './fixtures';
import { count, openPanelPage, type PanelPage, postedOfType, repoRoot, showEveryTask, text, waitFor } from './page';

const nodes = (p: PanelPage) => count(p, '#dag g.node');
const scale = (p: PanelPage) => p.page.evaluate(() => Number(document.getElementById('dag')!.dataset.scale));
const transform = (p: PanelPage) => p.page.evaluate(() => document.querySelector('#dag .world')!.getAttribute('transform') ?? '');
const translate = async (p: PanelPage) => (await transform(p)).match(/translate\(([-\d.]+),([-\d.]+)\)/)!.slice(1).map(Number) as [number, number];
const classesOf = (p: PanelPage, id: string) => p.page.evaluate((i) => document.querySelector(`#dag g.node[data-task-id="${i}"]`)?.getAttribute('class') ?? '', id);
const clickNode = (p: PanelPage, id: string) =>
  p.page.evaluate((i) => document.querySelector(`#dag g.node[data-task-id="${i}"]`)!.dispatchEvent(new MouseEvent('click', { bubbles: true })), id);
const clickButton = (p: PanelPage, selector: string, label: string) =>
  p.page.evaluate(([s, l]) => [...document.querySelectorAll<HTMLButtonElement>(s)].find((b) => b.textContent === l)!.click(), [selector, label] as [string, string]);
/** The rendered height of a task id's text on screen, in CSS pixels. */
const labelPx = (p: PanelPage) => p.page.evaluate(() => document.querySelector('#dag g.node .node-id')!.getBoundingClientRect().height);
const shot = (p: PanelPage, name: string) => {
  mkdirSync(join(repoRoot, '.run'), { recursive: true });
  return p.page.screenshot({ path: join(repoRoot, '.run', name) });
};
/** Posts a state and waits until the graph drew `n` nodes (a layout runs in the worker). */
async function show(p: PanelPage, tasks: TaskView[], n = tasks.length, timeout = 60_000): Promise<number> {
  const started = Date.now();
  await p.post(state({ tasks, instances: instances(), runs: runs() }));
  await waitFor(p, (k) => document.querySelectorAll('#dag g.node').length === k && !document.getElementById('dag')!.classList.contains('laying-out'), n, timeout);
  return Date.now() - started;
}

describe('task graph (Chromium)', function () {
  this.timeout(120_000);
  let p: PanelPage;

  before(async () => {
    p = await openPanelPage({ width: 1280, height: 800 });
    await showEveryTask(p);
  });
  after(async () => p?.close());

  it('starts with completed work collapsed: a person sees what is left', async () => {
    const fresh = await openPanelPage({ width: 1280, height: 800 });
    try {
      await fresh.post(state({ tasks: shopMidRun() }));
      await waitFor(fresh, () => document.querySelectorAll('#dag g.node.collapsed').length === 2, undefined, 60_000);
      assert.equal(await fresh.page.evaluate(() => document.getElementById('collapse')!.getAttribute('aria-pressed')), 'true');
      await shot(fresh, 'graph-40-collapsed.png');
    } finally {
      await fresh.close();
    }
  });

  for (const n of [40, 150, 500]) {
    it(`draws ${n} tasks, never below a readable label size, with a minimap when the graph outgrows the view`, async () => {
      const tasks = n === 40 ? shopMidRun() : syntheticMidRun(n);
      const ms = await show(p, tasks);
      const elkMs = await p.page.evaluate(() => (document.querySelector('#dag svg') as SVGSVGElement).dataset.layoutMs);
      console.log(`      [measure] ${n} tasks: posted to drawn in ${ms} ms, of which ELK's layout in the worker ${elkMs} ms`);
      assert.ok((await scale(p)) >= MIN_SCALE - 1e-4, `scale ${await scale(p)}`);
      assert.ok((await labelPx(p)) >= MIN_LABEL_PX - 0.5, `a task id is ${await labelPx(p)} px high`);
      const fitsAll = await p.page.evaluate(() => document.getElementById('minimap')!.hidden);
      if (!fitsAll) assert.equal(await count(p, '#minimap rect.minimap-node'), n, 'every task in the minimap');
      if (n >= 150) assert.equal(fitsAll, false, `${n} tasks do not fit at a readable size: the minimap shows`);
      await shot(p, `graph-${n}.png`);
    });
  }

  it('"Fit" stops at the readable size; drag, the wheel and Shift+arrows pan; zoom stays within its limits', async () => {
    await show(p, syntheticMidRun(150));
    await p.page.evaluate(() => document.querySelector<HTMLButtonElement>('button[data-zoom="fit"]')!.click());
    assert.equal((await scale(p)).toFixed(3), MIN_SCALE.toFixed(3), '150 tasks do not fit: Fit stops at the readable size');
    assert.ok(LABEL_PX * (await scale(p)) >= MIN_LABEL_PX - 1e-3);

    const box = await p.page.evaluate(() => {
      const r = document.getElementById('dag')!.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    });
    const before = await translate(p);
    await p.page.mouse.move(box.x, box.y);
    await p.page.mouse.down();
    await p.page.mouse.move(box.x - 120, box.y - 60, { steps: 6 });
    await p.page.mouse.up();
    const dragged = await translate(p);
    assert.ok(dragged[0] < before[0] - 50 || dragged[1] < before[1] - 30, `a drag pans: ${before} → ${dragged}`);
    assert.equal(await p.page.evaluate(() => document.querySelectorAll('#dag g.node.selected').length), 0, 'a drag is not a click');

    await p.page.mouse.wheel(0, 200);
    const wheeled = await translate(p);
    assert.ok(wheeled[1] < dragged[1], 'the wheel pans down');

    await p.page.evaluate(() => document.getElementById('dag')!.focus());
    const beforeKey = await translate(p);
    await p.page.keyboard.press('Shift+ArrowLeft');
    assert.ok((await translate(p))[0] > beforeKey[0], 'Shift+ArrowLeft pans');

    // Pan far past the edge: the graph's corner stops at the view's edge.
    for (let i = 0; i < 40; i++) await p.page.keyboard.press('Shift+ArrowLeft');
    assert.equal((await translate(p))[0], 12, 'the left edge of the graph stops 12 px in');

    for (let i = 0; i < 20; i++) await p.page.evaluate(() => document.querySelector<HTMLButtonElement>('button[data-zoom="out"]')!.click());
    assert.equal((await scale(p)).toFixed(3), MIN_SCALE.toFixed(3), 'zooming out stops at the readable size');
    for (let i = 0; i < 20; i++) await p.page.keyboard.press('+');
    assert.equal(await scale(p), 2, 'zooming in stops at 2×');
    await p.page.keyboard.press('0');
    assert.equal((await scale(p)).toFixed(3), MIN_SCALE.toFixed(3), '0 fits again');

    // The minimap moves the view to where it is clicked.
    const mm = await p.page.evaluate(() => {
      const r = document.querySelector('#minimap svg')!.getBoundingClientRect();
      return { x: r.right - 4, y: r.bottom - 4 };
    });
    await p.page.mouse.click(mm.x, mm.y);
    const frame = await p.page.evaluate(() => {
      const f = document.querySelector('#minimap .minimap-frame')!;
      const vb = (document.querySelector('#minimap svg') as SVGSVGElement).viewBox.baseVal;
      return { right: Number(f.getAttribute('x')) + Number(f.getAttribute('width')), width: vb.width };
    });
    assert.ok(frame.right >= frame.width * 0.95, `the view moved to the end of the graph (${frame.right} of ${frame.width})`);
  });

  it('search highlights the tasks whose id or text matches, dims the rest, and Enter steps through them', async () => {
    await show(p, shopMidRun());
    await p.page.evaluate(() => document.getElementById('search')!.focus());
    await p.page.keyboard.type('checkout');
    await waitFor(p, () => document.querySelectorAll('#dag g.node.match').length > 0);
    const matched = await p.page.evaluate(() => [...document.querySelectorAll<SVGGElement>('#dag g.node.match')].map((g) => g.dataset.taskId).sort());
    // ids holding "checkout", and two whose description does ("the new checkout", "…, checkout, accounts").
    assert.deepEqual(matched, ['e2e-checkout', 'feature-flags', 'spec', 'ui-checkout']);
    assert.equal(await p.page.evaluate(() => document.getElementById('dag')!.classList.contains('has-search')), true);
    await waitFor(p, () => getComputedStyle(document.querySelector('#dag g.node[data-task-id="api-orders"]')!).opacity === '0.3'); // the rest steps back
    assert.equal(await text(p, '#search-count'), '4 matches');
    assert.equal(await count(p, '#dag g.node.selected'), 0, 'typing highlights, it does not select');
    await p.page.keyboard.press('Enter');
    assert.equal(await text(p, '#search-count'), '1 of 4');
    const first = await p.page.evaluate(() => document.querySelector<SVGGElement>('#dag g.node.selected')?.dataset.taskId);
    await p.page.keyboard.press('Enter');
    assert.equal(await text(p, '#search-count'), '2 of 4');
    const second = await p.page.evaluate(() => document.querySelector<SVGGElement>('#dag g.node.selected')?.dataset.taskId);
    assert.ok(first && second && first !== second && matched.includes(first) && matched.includes(second));
    assert.equal(await text(p, '#task-detail .detail-id'), second, 'the match is selected and its details shown');
    await p.page.keyboard.press('Escape');
    assert.equal(await text(p, '#search-count'), '');
    assert.equal(await count(p, '#dag g.node.match'), 0);
  });

  it('filters by status, group and holder: the graph is drawn again with only those tasks', async () => {
    await show(p, shopMidRun());
    await p.page.evaluate(() => document.querySelector<HTMLButtonElement>('#status-chips .chip[data-status="running"]')!.click());
    await waitFor(p, () => document.querySelectorAll('#dag g.node').length === 4);
    assert.deepEqual((await p.page.evaluate(() => [...document.querySelectorAll<SVGGElement>('#dag g.node')].map((g) => g.dataset.taskId))).sort(), ['api-orders', 'api-payments', 'search-index', 'ui-catalog']);
    await p.page.evaluate(() => document.querySelector<HTMLButtonElement>('#status-chips .chip[data-status="ready"]')!.click());
    await waitFor(p, () => document.querySelectorAll('#dag g.node').length === 7, undefined, 10_000); // 4 running, 3 ready (ui-cart retries)
    await p.page.evaluate(() => {
      const s = document.getElementById('filter-group') as HTMLSelectElement;
      s.value = 'api';
      s.dispatchEvent(new Event('change'));
    });
    await waitFor(p, () => document.querySelectorAll('#dag g.node').length === 2, undefined, 10_000);
    assert.equal(await count(p, '#dag g.cluster'), 1, 'the group is still drawn as a cluster');
    await p.page.evaluate(() => {
      const s = document.getElementById('filter-holder') as HTMLSelectElement;
      s.value = 'bob';
      s.dispatchEvent(new Event('change'));
    });
    await waitFor(p, () => document.querySelectorAll('#dag g.node').length === 1, undefined, 10_000);
    assert.equal(await p.page.evaluate(() => document.querySelector<SVGGElement>('#dag g.node')!.dataset.taskId), 'api-payments');
    // Clear every filter: the whole plan again.
    await p.page.evaluate(() => {
      for (const id of ['filter-group', 'filter-holder']) {
        const s = document.getElementById(id) as HTMLSelectElement;
        s.value = '';
        s.dispatchEvent(new Event('change'));
      }
      for (const c of document.querySelectorAll<HTMLButtonElement>('#status-chips .chip[aria-pressed="true"]')) c.click();
    });
    await waitFor(p, () => document.querySelectorAll('#dag g.node').length === 40, undefined, 10_000);
  });

  it('selecting a task lights its upstream and downstream and dims the rest; the details link to both; Escape clears', async () => {
    await show(p, shopMidRun());
    await clickNode(p, 'ui-checkout');
    await waitFor(p, () => document.getElementById('dag')!.classList.contains('has-focus'));
    assert.match(await classesOf(p, 'ui-checkout'), /selected/);
    for (const up of ['ui-cart', 'api-payments', 'ui-shell', 'spec']) assert.match(await classesOf(p, up), /upstream/, up);
    for (const down of ['e2e-checkout', 'a11y-audit', 'canary', 'release']) assert.match(await classesOf(p, down), /downstream/, down);
    assert.doesNotMatch(await classesOf(p, 'ui-search'), /upstream|downstream/);
    await waitFor(p, () => getComputedStyle(document.querySelector('#dag g.node[data-task-id="ui-search"]')!).opacity === '0.28'); // the rest steps back
    assert.ok((await count(p, '#dag path.edge.lit')) >= 6, 'the edges between them are lit');
    assert.match(await text(p, '#task-detail'), /depends on.*ui-cart.*api-payments/s);
    assert.match(await text(p, '#task-detail'), /needed by.*e2e-checkout/s);
    await clickButton(p, '#task-detail button.link', 'ui-cart');
    assert.equal(await text(p, '#task-detail .detail-id'), 'ui-cart', 'a dependency link selects it');
    assert.match(await classesOf(p, 'ui-cart'), /selected/);
    assert.match(await text(p, '#task-detail .detail-note'), /failed 1 of 3: will be retried/);
    await p.page.evaluate(() => document.querySelector<SVGGElement>('#dag g.node.selected')!.focus());
    await p.page.keyboard.press('Escape');
    assert.equal(await p.page.evaluate(() => document.getElementById('dag')!.classList.contains('has-focus')), false);
    assert.match(await text(p, '#task-detail'), /Select a task/);
  });

  it('folds connected completed tasks into one node; its details list them; "Show completed tasks" unfolds', async () => {
    await show(p, shopMidRun());
    await p.page.evaluate(() => document.getElementById('collapse')!.click());
    await waitFor(p, () => document.querySelectorAll('#dag g.node.collapsed').length > 0, undefined, 10_000);
    const folded = await p.page.evaluate(() => [...document.querySelectorAll('#dag g.node.collapsed .node-id')].map((t) => t.textContent));
    assert.deepEqual(folded.sort(), ['✓ 3 completed', '✓ 9 completed'], 'wireframes → design-tokens → ui-shell, and spec with the nine it led to');
    assert.equal(await nodes(p), 40 - 12 + 2);
    await p.page.evaluate(() => document.querySelector('#dag g.node.collapsed')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    await waitFor(p, () => document.querySelector('#task-detail .detail-list') !== null);
    assert.match(await text(p, '#task-detail .detail-id'), /^\d+ completed tasks$/);
    await clickButton(p, '#task-detail button', 'Show completed tasks');
    await waitFor(p, () => document.querySelectorAll('#dag g.node').length === 40, undefined, 10_000);
    assert.equal(await p.page.evaluate(() => document.getElementById('collapse')!.getAttribute('aria-pressed')), 'false');
  });

  it("shows a running task's holder, lease left, progress and its actions; each action goes to the host", async () => {
    await show(p, shopMidRun());
    await clickNode(p, 'api-orders');
    await waitFor(p, () => document.querySelector('#task-detail .detail-id')?.textContent === 'api-orders');
    const detail = await text(p, '#task-detail');
    assert.match(detail, /holderalice · lease [34] min( \d+ s)? left/);
    assert.match(detail, /progress40% · halfway there \((just now|\d+ s ago)\)/);
    assert.match(detail, /attempts1 of 3/);
    assert.match(detail, /groupapi/);
    const buttons = await p.page.evaluate(() => [...document.querySelectorAll('#task-detail .actions button')].map((b) => b.textContent));
    assert.deepEqual(buttons, ['Complete', 'Fail…', 'Release', 'Cancel']);
    for (const label of ['Complete', 'Fail…', 'Release', 'Cancel']) await clickButton(p, '#task-detail .actions button', label);
    assert.deepEqual((await postedOfType(p, 'taskAction')).slice(-4).map((m) => m.action), ['complete', 'fail', 'release', 'cancel']);
    await clickNode(p, 'spec');
    await waitFor(p, () => document.querySelector('#task-detail .detail-id')?.textContent === 'spec');
    assert.match(await text(p, '#task-detail'), /result\{"ok":true\}/, 'a completed task shows its result');
    assert.equal(await count(p, '#task-detail .actions button'), 0, 'nothing to do to a completed task');
    await clickNode(p, 'api-orders');
    await shot(p, 'graph-focused.png');
  });

  it('answers each state with `rendered` and its number, so the host sends the next one', async () => {
    await p.post(state({ seq: 41, tasks: shopMidRun() }));
    await waitFor(p, () => (window as unknown as { __posted: Array<{ type: string; seq?: number }> }).__posted.some((m) => m.type === 'rendered' && m.seq === 41));
  });
});

describe('a plan too big to draw: the summary (Chromium)', function () {
  this.timeout(60_000);
  let p: PanelPage;
  before(async () => {
    p = await openPanelPage({ width: 1280, height: 800 });
  });
  after(async () => p?.close());

  const counts = (c: Partial<StatusCounts>): StatusCounts => ({ ready: 0, blocked: 0, running: 0, completed: 0, dead_letter: 0, cancelled: 0, ...c });
  const viewOf = (id: string, status: TaskView['status'], display: DisplayStatus, group: string | null, holder: string | null = null): TaskView => ({
    ...task(id, [], status, holder),
    group,
    display_status: display,
  });
  const summary = (over: Partial<Summary> = {}): Summary => ({
    total: 100_000,
    counts: counts({ ready: 1_200, blocked: 80_000, running: 40, completed: 18_000, dead_letter: 3, cancelled: 757 }),
    groups: [
      { group: 'ingest-7', total: 400, counts: counts({ ready: 10, blocked: 290, running: 20, completed: 80 }) },
      { group: 'render-2', total: 9_000, counts: counts({ blocked: 9_000 }) },
    ],
    group_count: 2,
    frontier: [viewOf('ingest-7-0042', 'pending', 'ready', 'ingest-7')],
    running: [viewOf('ingest-7-0007', 'running', 'running', 'ingest-7', 'worker-3')],
    scope: null,
    matched: 0,
    ...over,
  });

  it('shows counts, the running tasks, the ready frontier and the groups instead of 100,000 nodes', async () => {
    await p.post(state({ tasks: [], summary: summary() }));
    await waitFor(p, () => !document.getElementById('summary')!.hidden);
    assert.equal(await p.page.evaluate(() => document.getElementById('dag')!.hidden), true, 'no graph');
    assert.equal(await text(p, '#dag-summary'), '100,000 tasks');
    assert.match(await text(p, '#summary .summary-head'), /100,000 tasks: too many to draw at once/);
    assert.deepEqual(
      await p.page.evaluate(() => [...document.querySelectorAll<HTMLElement>('#status-chips .chip')].filter((c) => !c.hidden).map((c) => c.textContent)),
      ['1,200 ready', '80,000 blocked', '40 running', '18,000 done', '3 dead', '757 cancelled'],
    );
    assert.match(await text(p, '#summary'), /Running \(40\)ingest-7-0007⚙ worker-3/);
    assert.match(await text(p, '#summary'), /Ready next \(1,200\)ingest-7-0042/);
    assert.match(await text(p, '#summary'), /ingest-7.*80\/400 done · 20 running/);
    assert.equal(await p.page.evaluate(() => document.querySelectorAll<HTMLButtonElement>('#summary button[aria-label^="Show the graph of group"]')[1]!.disabled), true, 'a group bigger than the graph draws cannot be drawn whole');
    await clickButton(p, '#summary button.link', 'ingest-7-0007');
    assert.equal(await text(p, '#task-detail .detail-id'), 'ingest-7-0007', 'a listed task shows its details');
    await shot(p, 'graph-summary.png');
  });

  it("a group's Graph button asks the host for that part, which is drawn; Back returns to the summary", async () => {
    await p.page.evaluate(() => document.querySelector<HTMLButtonElement>('#summary button[aria-label="Show the graph of group ingest-7"]')!.click());
    await waitFor(p, () => (window as unknown as { __posted: Array<{ type: string }> }).__posted.some((m) => m.type === 'scope'));
    const scope = (await postedOfType(p, 'scope')).at(-1)!.scope as Record<string, unknown>;
    assert.deepEqual(scope, { statuses: [], group: 'ingest-7', holder: null, text: '' });
    const part = Array.from({ length: 30 }, (_, i) => ({ ...viewOf(`ingest-7-${i}`, 'pending', i < 3 ? 'ready' : 'blocked', 'ingest-7'), dependencies: i ? [`ingest-7-${i - 1}`] : ['not-sent'] }));
    await p.post(state({ tasks: part, summary: summary({ scope: { statuses: [], group: 'ingest-7', holder: null, text: '' }, matched: 30 }) }));
    await waitFor(p, () => document.querySelectorAll('#dag g.node').length === 30, undefined, 30_000);
    assert.equal(await p.page.evaluate(() => document.getElementById('summary')!.hidden), true);
    assert.match(await text(p, '#scope-text'), /Graph of 30 tasks: group ingest-7/);
    assert.match(await classesOf(p, 'ingest-7-0'), /status-ready/, "the host's ready wins: its dependency was not sent");
    await p.page.evaluate(() => document.getElementById('scope-back')!.click());
    await waitFor(p, () => (window as unknown as { __posted: Array<{ type: string; scope?: unknown }> }).__posted.filter((m) => m.type === 'scope').at(-1)?.scope === null);
  });

  it('a filter that matches too much says so instead of drawing', async () => {
    await p.page.evaluate(() => document.querySelector<HTMLButtonElement>('#status-chips .chip[data-status="blocked"]')!.click());
    const scope = (await postedOfType(p, 'scope')).at(-1)!.scope as Record<string, unknown>;
    assert.deepEqual(scope.statuses, ['blocked']);
    await p.post(state({ tasks: [], summary: summary({ scope: { statuses: ['blocked'], group: null, holder: null, text: '' }, matched: 80_000 }) }));
    await waitFor(p, () => /80,000 tasks match the filter/.test(document.querySelector('#summary .summary-head')?.textContent ?? ''));
  });
});
