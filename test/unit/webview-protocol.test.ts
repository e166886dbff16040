import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import { dispatcher } from '../support/dispatch';
import { taskState, toRunLogMessage, toStateMessage } from '../../src/ui/panel-state';
import { TaskCache, type TaskSource } from '../../src/ui/task-cache';
import { tempDir } from '../support/stores';
import { MAX_BATCH_CHUNKS, parseHostMessage, parseWebviewMessage } from '../../src/protocol/webview';
import { contentSecurityPolicy, escapeHtml, makeNonce, renderPanelHtml } from '../../src/ui/panel-html';
import { state } from '../webview/fixtures';

describe('webview protocol', () => {
  describe('host → webview', () => {
    it('accepts a state, and drops fields the panel does not use', () => {
      const fullTask = { ...state().tasks[0], payload: { big: 'x'.repeat(1000) }, fencing_token: 3, created_at: 'now' };
      const parsed = parseHostMessage({ ...state(), tasks: [fullTask] });
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
      assert.equal(parsed.message.type, 'state');
      assert.ok(parsed.message.type === 'state' && !('payload' in parsed.message.tasks[0]!));
    });

    it('accepts output, runLog, select and error messages', () => {
      for (const message of [
        { type: 'output', chunks: [{ run_id: 'r', stream: 'stderr', data: 'x' }] },
        { type: 'runLog', run_id: 'r', output: [{ stream: 'stdout', data: 'y' }], dropped_bytes: 10 },
        { type: 'select', run_id: null },
        { type: 'error', message: 'gone' },
      ]) {
        const parsed = parseHostMessage(message);
        assert.ok(parsed.ok, `${message.type}: ${parsed.ok ? '' : parsed.error}`);
      }
    });

    it('rejects malformed messages with an error naming the type and the path', () => {
      const cases: [unknown, RegExp][] = [
        [{ type: 'state', tasks: 'x', instances: [], runs: [] }, /^invalid message \(type state\): tasks: /],
        [{ type: 'output', chunks: [{ run_id: 'r', stream: 'stdin', data: '' }] }, /chunks\.0\.stream/],
        [{ type: 'output', chunks: [] }, /chunks: Too small/],
        [{ type: 'output', chunks: Array.from({ length: MAX_BATCH_CHUNKS + 1 }, () => ({ run_id: 'r', stream: 'stdout', data: '' })) }, /chunks: Too big/],
        [{ type: 'runLog', run_id: 'r', output: [], dropped_bytes: -1 }, /dropped_bytes/],
        [{ type: 'nope' }, /^invalid message \(type nope\)/],
        ['a string', /^invalid message \(type \?\)/],
        [null, /^invalid message/],
      ];
      for (const [raw, pattern] of cases) {
        const parsed = parseHostMessage(raw);
        assert.equal(parsed.ok, false, JSON.stringify(raw).slice(0, 80));
        assert.match(parsed.ok ? '' : parsed.error, pattern);
      }
    });

    it('derives nothing: a task status outside the model is refused, not guessed', () => {
      const tasks = state().tasks.map((t, i) => (i === 0 ? { ...t, status: 'ready' } : t));
      assert.equal(parseHostMessage(state({ tasks: tasks as never })).ok, false);
    });
  });

  describe('webview → host', () => {
    it('accepts every message the webview sends', () => {
      for (const message of [
        { type: 'ready', selected_run_id: null },
        { type: 'ready', selected_run_id: 'run-1' },
        { type: 'selectRun', run_id: 'run-1' },
        { type: 'taskAction', action: 'retry', task_id: 't1' },
        { type: 'taskAction', action: 'cancel', task_id: 't1' },
        { type: 'taskAction', action: 'complete', task_id: 't1' },
        { type: 'taskAction', action: 'fail', task_id: 't1' },
        { type: 'taskAction', action: 'release', task_id: 't1' },
        { type: 'rendered', seq: 3 },
        { type: 'scope', scope: null },
        { type: 'scope', scope: { statuses: ['ready', 'blocked'], group: 'api', holder: null, text: 'cart' } },
        { type: 'log', level: 'error', message: 'boom' },
      ]) {
        const parsed = parseWebviewMessage(message);
        assert.ok(parsed.ok, `${message.type}: ${parsed.ok ? '' : parsed.error}`);
      }
    });

    it('rejects unknown actions, missing fields and oversized ids', () => {
      const cases: [unknown, RegExp][] = [
        [{ type: 'taskAction', action: 'delete', task_id: 't1' }, /action: Invalid option/],
        [{ type: 'taskAction', action: 'retry' }, /task_id/],
        [{ type: 'scope', scope: { statuses: ['pending'] } }, /scope\.statuses\.0: Invalid option/],
        [{ type: 'rendered', seq: -1 }, /seq/],
        [{ type: 'selectRun', run_id: 'x'.repeat(201) }, /run_id: Too big/],
        [{ type: 'ready' }, /selected_run_id/],
        [{ type: 'log', level: 'fatal', message: '' }, /level/],
      ];
      for (const [raw, pattern] of cases) {
        const parsed = parseWebviewMessage(raw);
        assert.equal(parsed.ok, false);
        assert.match(parsed.ok ? '' : parsed.error, pattern);
      }
    });
  });
});

describe('panel HTML', () => {
  const options = {
    cspSource: 'https://file+.vscode-resource.example',
    nonce: makeNonce(),
    scriptUri: 'https://x/dist/webview.js',
    styleUri: 'https://x/media/panel.css',
    layoutWorkerUri: 'https://x/dist/elk-worker.js',
    title: 'Agent <Harness>',
  };

  it('has a strict CSP: a nonce for scripts, no unsafe-inline or unsafe-eval', () => {
    const html = renderPanelHtml(options);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    assert.ok(csp, 'a CSP meta tag');
    assert.equal(csp, contentSecurityPolicy(options.cspSource, options.nonce));
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, new RegExp(`script-src 'nonce-${options.nonce}'(;|$)`));
    assert.match(csp, /style-src https:\/\/file\+\.vscode-resource\.example(;|$)/);
    assert.match(csp, /connect-src https:\/\/file\+\.vscode-resource\.example; worker-src blob:$/);
    assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
    assert.match(html, /<body data-layout-worker="https:\/\/x\/dist\/elk-worker\.js">/);
  });

  it('has exactly one script tag, carrying the nonce, and no inline style or handler', () => {
    const html = renderPanelHtml(options);
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.deepEqual(scripts, [`<script nonce="${options.nonce}" src="${options.scriptUri}">`]);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
  });

  it('escapes what it interpolates', () => {
    assert.match(renderPanelHtml(options), /<title>Agent &lt;Harness&gt;<\/title>/);
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.throws(() => renderPanelHtml({ ...options, nonce: `"><script>` }), /nonce/);
  });

  it('makes nonces of 32 base64url characters, different every time', () => {
    const nonces = new Set(Array.from({ length: 100 }, makeNonce));
    assert.equal(nonces.size, 100);
    for (const nonce of nonces) assert.match(nonce, /^[A-Za-z0-9_-]{32}$/);
  });
});

describe('panel state from the real coordinator', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('turns the task cache, instance_list, run_list and run_log into valid messages', async () => {
    const coordinator = new Coordinator(new MemoryStore(), DEFAULT_CONFIG);
    const d = dispatcher(coordinator, { workspace: '/w', runsDir: dir });
    const call = async <T>(command: string, params: Record<string, unknown> = {}) => (await d.raw(command, params)) as T;
    const cache = new TaskCache();
    coordinator.events.onAny((event, data) => cache.applyEvent({ event, data, ts: '' }));
    await cache.reload({ mode: 'in-process', call: d.call as TaskSource['call'] });
    await call('plan_import', { tasks: [{ id: 'a', payload: { big: [1, 2, 3] } }, { id: 'b', dependencies: ['a'] }] });
    await call('instance_register', { worker_id: 'w1', name: 'one' });
    await call('task_claim', { worker_id: 'w1' });
    const run = (await call<{ run: { run_id: string } }>('run_start', { argv: ['echo', 'x'.repeat(200_000)], task_id: 'a', worker_id: 'w1' })).run;
    await call('run_output', { run_id: run.run_id, stream: 'stderr', data: `${'\x1b'}[31mred\n` });

    const message = toStateMessage(
      taskState(cache, null),
      (await call<{ instances: unknown[] }>('instance_list')).instances,
      (await call<{ runs: unknown[] }>('run_list')).runs,
    );
    assert.deepEqual(message.tasks.map((t) => [t.id, t.status, t.claimed_by, t.display_status]), [['a', 'running', 'w1', 'running'], ['b', 'pending', null, 'blocked']]);
    assert.equal(message.summary, null, 'a small plan is sent whole');
    assert.equal(message.instances[0]!.current_task, 'a');
    assert.equal(message.runs[0]!.argv[1]!.length, 1000, 'a huge argument is clipped, not refused');
    assert.ok(parseHostMessage(message).ok);
    const log = toRunLogMessage(run.run_id, await call('run_log', { run_id: run.run_id }));
    assert.deepEqual(log.output, [{ stream: 'stderr', data: '\x1b[31mred\n' }]);
  });
});
