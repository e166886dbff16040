// The webview bundle (dist/webview.js) in a real browser: Debian's Chromium, headless, through
// playwright-core, on the HTML renderPanelHtml makes with its strict CSP. Needs `npm run build`
// and `bash scripts/install-vscode-host.sh`; run with `npm run test:webview`.
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EDGE_COUNT, PLAN, runs, state, task, tasks } from './fixtures';
import { count, openPanelPage, type PanelPage, postedOfType, repoRoot, showEveryTask, text, waitFor, wasPosted } from './page';

const ESC = '\x1b';
const outputHas = (p: PanelPage, needle: string, timeout = 5000) =>
  waitFor(p, (n) => document.querySelector('#output')!.textContent!.includes(n), needle, timeout);

describe('task graph panel webview (Chromium)', function () {
  this.timeout(60_000);
  let p: PanelPage;

  before(async () => {
    p = await openPanelPage();
    await wasPosted(p, 'ready');
    await showEveryTask(p);
  });
  after(async () => p?.close());

  it('says ready once loaded, with no remembered run', async () => {
    assert.deepEqual(await postedOfType(p, 'ready'), [{ type: 'ready', selected_run_id: null }]);
  });

  it('draws the plan as SVG: a node per task, coloured by derived status, an edge per dependency', async () => {
    await p.post(state());
    await waitFor(p, (n) => document.querySelectorAll('#dag g.node').length === n, PLAN.length, 30_000); // the first layout starts ELK's worker
    assert.equal(await count(p, '#dag path.edge'), EDGE_COUNT, 'no edge of this plan is implied by another path');
    const classes = await p.page.evaluate(() =>
      Object.fromEntries([...document.querySelectorAll<SVGGElement>('#dag g.node')].map((g) => [g.dataset.taskId, g.getAttribute('class')])),
    );
    assert.match(classes['test-core']!, /status-ready/, 'pending with every dependency completed is ready');
    assert.match(classes['test-ui']!, /status-blocked/);
    assert.match(classes['build-ui']!, /status-running/);
    assert.match(classes['setup']!, /status-completed/);
    assert.match(classes['bench']!, /status-dead_letter/);
    assert.match(classes['publish']!, /status-cancelled/);
    assert.equal(await text(p, 'g.node[data-task-id="build-ui"] .node-id'), 'build-ui');
    assert.match(await text(p, 'g.node[data-task-id="build-ui"] .node-meta'), /^⚙ worker-a · 4 min$/, 'a running node shows its holder and lease left');
    assert.equal(await text(p, 'g.node[data-task-id="test-ui"] .node-meta'), 'blocked');
    assert.equal(
      await p.page.evaluate(() => document.querySelector('g.node[data-task-id="build-ui"]')?.getAttribute('aria-label')),
      'Task build-ui, running, held by worker-a',
    );
    assert.equal(await text(p, '#dag-summary'), '12 tasks');
    assert.deepEqual(
      await p.page.evaluate(() => [...document.querySelectorAll<HTMLElement>('#status-chips .chip')].filter((c) => !c.hidden).map((c) => c.textContent)),
      ['1 ready', '4 blocked', '2 running', '3 done', '1 dead', '1 cancelled'],
      'the status chips count the plan',
    );
    assert.equal(await count(p, '#instances li.instance'), 3);
    assert.match(await text(p, '#instances'), /claude-1just nowworker-a · on build-ui.*script-31 min agoworker-c · idle/, 'ages in human time');
  });

  it('follows the newest run until the user picks one: asks the host for it', async () => {
    await wasPosted(p, 'selectRun', 'run-3');
    assert.equal(await count(p, '#runs li.run'), 3);
    assert.equal(await p.page.evaluate(() => document.querySelector('#runs li.run')?.getAttribute('aria-selected')), 'true');
  });

  it('renders a run log then live output: ANSI colours as classes and CSSOM, stderr apart, HTML as text', async () => {
    await p.post({
      type: 'runLog',
      run_id: 'run-3',
      dropped_bytes: 0,
      output: [
        { stream: 'stdout', data: `${ESC}[1m> build:ui${ESC}[0m\n${ESC}[32m✓ compiled${ESC}[0m 42 modules\n` },
        { stream: 'stdout', data: `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">\n` },
      ],
    });
    await p.post({
      type: 'output',
      chunks: [
        { run_id: 'run-3', stream: 'stderr', data: `${ESC}[33mwarning${ESC}[0m: large chunk\n` },
        { run_id: 'run-3', stream: 'stdout', data: `${ESC}[38;5;208mor` }, // a colour left open across chunks
        { run_id: 'run-3', stream: 'stdout', data: `ange${ESC}[0m ${ESC}[38;2;0;255;0mtruecolour${ESC}[0m\n${ESC}[31mred` },
        { run_id: 'run-other', stream: 'stdout', data: 'not the selected run\n' },
      ],
    });
    await outputHas(p, 'red');
    const out = await text(p, '#output');
    assert.match(out, /<script>window.__pwned = 1<\/script><img src=x onerror="window.__pwned = 2">/, 'markup shows as text');
    assert.doesNotMatch(out, /not the selected run/);
    assert.doesNotMatch(out, /\x1b|\[3\dm/, 'no escape sequence shows');
    assert.equal(await count(p, '#output script, #output img'), 0);
    assert.equal(await p.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    const styles = await p.page.evaluate(() => {
      const find = (t: string) => [...document.querySelectorAll<HTMLElement>('#output span')].find((s) => s.textContent === t);
      const css = (t: string) => {
        const el = find(t);
        return el ? { cls: el.className, color: getComputedStyle(el).color } : null;
      };
      return { compiled: css('✓ compiled'), warning: css('warning'), or: css('or'), ange: css('ange'), truecolour: css('truecolour'), red: css('red'), bold: css('> build:ui') };
    });
    assert.deepEqual(styles.compiled, { cls: 'ansi-fg-2', color: 'rgb(13, 188, 121)' }, 'theme ansiGreen');
    assert.match(styles.warning!.cls, /stderr.*ansi-fg-3/);
    assert.equal(styles.warning!.color, 'rgb(229, 229, 16)', 'an ANSI colour wins over the stderr colour');
    assert.equal(styles.or!.color, 'rgb(255, 135, 0)', '256-colour 208 through CSSOM');
    assert.equal(styles.ange!.color, 'rgb(255, 135, 0)', 'the colour carries over the chunk boundary');
    assert.equal(styles.truecolour!.color, 'rgb(0, 255, 0)');
    assert.equal(styles.red!.cls, 'ansi-fg-1');
    assert.match(styles.bold!.cls, /ansi-bold/);
    assert.equal(await count(p, '#output .line.has-stderr'), 1);
  });

  it('recolours on a status change without laying the graph out again', async () => {
    await p.page.evaluate(() => ((document.querySelector('#dag g.node[data-task-id="test-core"]') as SVGGElement & { __mark?: number }).__mark = 1));
    const layouts = await p.page.evaluate(() => (document.querySelector('#dag svg') as SVGSVGElement).dataset.layouts);
    const moved = state({
      tasks: state().tasks.map((t) => (t.id === 'test-core' ? { ...t, status: 'running', claimed_by: 'worker-c', lease_expires_at: null } : t)),
    });
    await p.post(moved);
    await waitFor(p, () => document.querySelector('g.node[data-task-id="test-core"]')!.classList.contains('status-running'));
    assert.equal(await p.page.evaluate(() => (document.querySelector('#dag g.node[data-task-id="test-core"]') as SVGGElement & { __mark?: number }).__mark), 1, 'the same node element');
    assert.equal(await p.page.evaluate(() => (document.querySelector('#dag svg') as SVGSVGElement).dataset.layouts), layouts, 'no new layout');
    assert.equal(await text(p, 'g.node[data-task-id="test-core"] .node-meta'), '⚙ worker-c');
  });

  it('ignores an invalid message, reports it as a log message, and keeps working', async () => {
    await p.post({ type: 'state', tasks: 'not a list', instances: [], runs: [] });
    await p.post({ type: 'no-such-message' });
    await p.post('not even an object');
    await wasPosted(p, 'log', undefined, 3);
    const logs = await postedOfType(p, 'log');
    assert.match(String(logs[0]!.message), /invalid message \(type state\): tasks: /);
    assert.equal(logs[0]!.level, 'warn');
    await p.post({ type: 'output', chunks: [{ run_id: 'run-3', stream: 'stdout', data: '\nstill alive\n' }] });
    await outputHas(p, 'still alive');
    assert.equal(await count(p, '#dag g.node'), PLAN.length);
  });

  it('is keyboard accessible: Tab reaches a graph node and the run list; Enter selects', async () => {
    await p.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const onNode = () => p.page.evaluate(() => Boolean(document.activeElement?.closest('#dag g.node')));
    for (let i = 0; i < 20 && !(await onNode()); i++) await p.page.keyboard.press('Tab');
    assert.ok(await onNode(), 'Tab reaches the graph (after the zoom buttons, the search and the filters)');
    assert.equal(await p.page.evaluate(() => document.querySelectorAll('#dag [tabindex="0"]').length), 1, 'the graph is one tab stop');
    await p.page.keyboard.press('Enter');
    await waitFor(p, () => document.querySelector('#task-detail .detail-id')?.textContent === 'setup');
    const direction = await p.page.evaluate(() => (document.querySelector('#dag svg') as SVGSVGElement).dataset.direction);
    await p.page.keyboard.press(direction === 'DOWN' ? 'ArrowDown' : 'ArrowRight'); // to a dependent of setup, one rank on
    const moved = await p.page.evaluate(() => document.activeElement?.closest<SVGGElement>('g.node')?.dataset.taskId);
    assert.ok(moved && ['build-ui', 'build-core', 'lint', 'docs'].includes(moved), `arrow moved to ${moved}`);
    const inRuns = () => p.page.evaluate(() => Boolean(document.activeElement?.closest('#runs')));
    for (let i = 0; i < 20 && !(await inRuns()); i++) await p.page.keyboard.press('Tab');
    assert.ok(await inRuns(), 'Tab reaches the run list');
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('Enter');
    await wasPosted(p, 'selectRun', 'run-2');
    const focused = await p.page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
    assert.match(focused, /^Run run-2: npm run bench, exit 1/);
    assert.equal(await p.page.evaluate(() => document.getElementById('follow')?.getAttribute('aria-pressed')), 'false', 'picking a run stops following');
  });

  it('offers Retry on a dead-lettered task and posts the action', async () => {
    await p.page.evaluate(() => document.querySelector<SVGGElement>('g.node[data-task-id="bench"]')?.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    await waitFor(p, () => [...document.querySelectorAll('#task-detail button')].some((b) => b.textContent === 'Retry'));
    await p.page.evaluate(() => [...document.querySelectorAll<HTMLButtonElement>('#task-detail button')].find((b) => b.textContent === 'Retry')?.click());
    assert.deepEqual((await postedOfType(p, 'taskAction')).at(-1), { type: 'taskAction', action: 'retry', task_id: 'bench' });
  });

  it('links a task to where it came from (an issue)', async () => {
    const withSource = tasks().map((t) =>
      t.id === 'test-core' ? { ...t, source: { kind: 'github_issue', url: 'https://github.com/acme/widgets/issues/12', title: 'acme/widgets#12: <b>Fix</b> the flaky test' } } : t,
    );
    await p.post(state({ tasks: withSource }));
    await p.page.evaluate(() => document.querySelector<SVGGElement>('g.node[data-task-id="test-core"]')?.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    await waitFor(p, () => document.querySelector('#task-detail a.source-link') !== null);
    const link = await p.page.evaluate(() => {
      const a = document.querySelector<HTMLAnchorElement>('#task-detail a.source-link')!;
      return { href: a.href, text: a.textContent, bold: a.querySelector('b') !== null };
    });
    assert.deepEqual(link, { href: 'https://github.com/acme/widgets/issues/12', text: 'acme/widgets#12: <b>Fix</b> the flaky test', bold: false });
    mkdirSync(join(repoRoot, '.run'), { recursive: true });
    await p.page.screenshot({ path: join(repoRoot, '.run', 'webview-task-source.png') });
    await p.post(state());
  });

  it('looks right (screenshot in .run/webview-test.png) and broke no CSP rule', async () => {
    await p.post({ type: 'select', run_id: 'run-3' });
    await p.post({
      type: 'runLog',
      run_id: 'run-3',
      dropped_bytes: 0,
      output: [
        { stream: 'stdout', data: `${ESC}[1m> agent-harness@0.1.0 build:ui${ESC}[0m\n${ESC}[36mvite${ESC}[0m v5 building for production...\n` },
        { stream: 'stdout', data: `${ESC}[32m✓${ESC}[0m 42 modules transformed.\n<script>alert(1)</script> is shown as text\n` },
        { stream: 'stderr', data: `${ESC}[33m(!) Some chunks are larger than 500 kB${ESC}[0m\n` },
        { stream: 'stdout', data: `${ESC}[38;5;208morange 208${ESC}[0m ${ESC}[38;2;120;160;255mtruecolour${ESC}[0m ${ESC}[7minverse${ESC}[0m ${ESC}[41;97m FAIL ${ESC}[0m\n` },
      ],
    });
    await p.page.evaluate(() => document.querySelector<SVGGElement>('g.node[data-task-id="build-ui"]')?.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    await outputHas(p, 'FAIL');
    mkdirSync(join(repoRoot, '.run'), { recursive: true });
    await p.page.screenshot({ path: join(repoRoot, '.run', 'webview-test.png') });
    assert.deepEqual(p.problems.filter((line) => /Content Security Policy|Refused to|pageerror/i.test(line)), []);
  });

  it('caps the output at 5,000 lines and stays responsive for a 20,000-line log', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `${ESC}[3${i % 8}mline ${i}${ESC}[0m\n`).join('');
    const started = Date.now();
    await p.post({ type: 'runLog', run_id: 'run-3', dropped_bytes: 4096, output: [{ stream: 'stdout', data: lines }] });
    await outputHas(p, 'line 19999', 10_000);
    const elapsed = Date.now() - started;
    assert.ok((await count(p, '#output .line')) <= 5001, 'the DOM keeps the last 5,000 lines');
    assert.doesNotMatch(await text(p, '#output .line'), /line 0\b/);
    assert.match(await text(p, '#output-note'), /4,096 bytes of output were not kept/);
    assert.ok(elapsed < 5000, `rendered in ${elapsed} ms`);
  });

  it('appends many small live batches and keeps the newest line in view', async () => {
    await p.page.evaluate(() => {
      for (let b = 0; b < 300; b++) {
        const chunks = Array.from({ length: 20 }, (_, i) => ({ run_id: 'run-3', stream: i % 5 ? 'stdout' : 'stderr', data: `live ${b * 20 + i}\n` }));
        window.postMessage({ type: 'output', chunks }, '*');
      }
    });
    await outputHas(p, 'live 5999');
    const view = await p.page.evaluate(() => {
      const pre = document.getElementById('output')!;
      return { lines: pre.querySelectorAll('.line').length, gap: pre.scrollHeight - pre.scrollTop - pre.clientHeight };
    });
    assert.ok(view.lines <= 5001, `${view.lines} lines`);
    assert.ok(view.gap < 8, `scrolled to the end (gap ${view.gap}px)`);
  });

  it('remembers the selected run across a reload and says so in ready', async () => {
    await p.post(state());
    await p.page.evaluate(() => document.querySelector<HTMLElement>('#runs li.run[data-run-id="run-1"]')?.click());
    await wasPosted(p, 'selectRun', 'run-1');
    await p.page.reload();
    await wasPosted(p, 'ready');
    assert.deepEqual(await postedOfType(p, 'ready'), [{ type: 'ready', selected_run_id: 'run-1' }]);
    await p.post(state({ runs: runs() }));
    await waitFor(p, () => document.querySelector<HTMLElement>('#runs li.run.selected')?.dataset.runId === 'run-1');
    assert.deepEqual(await postedOfType(p, 'selectRun'), [], 'a remembered pick is not overridden by following');
  });
});
