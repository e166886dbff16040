// The webview's pure parts in plain Node: the ANSI parser, status derivation, layouts.
import * as assert from 'node:assert/strict';
import { AnsiParser, PLAIN, applySgr, xterm256 } from '../../webview/ansi';
import { NODE_WIDTH, layeredLayout, layoutTasks } from '../../webview/dag-layout';
import { pathFor } from '../../webview/dag-view';
import { displayStatuses, newestRun, runOutcome, structureKey } from '../../webview/model';
import { EDGE_COUNT, PLAN, run, runs, task, tasks } from '../webview/fixtures';

const ESC = '\x1b';

describe('AnsiParser', () => {
  it('turns SGR sequences into styled segments and removes them from the text', () => {
    const segs = new AnsiParser().push(`plain ${ESC}[1;31mbold red${ESC}[0m done`);
    assert.deepEqual(segs.map((s) => s.text), ['plain ', 'bold red', ' done']);
    assert.deepEqual(segs[1]!.style, { ...PLAIN, bold: true, fg: { kind: 'index', n: 1 } });
    assert.deepEqual(segs[2]!.style, PLAIN);
  });

  it('keeps colour state and a split escape sequence across chunks', () => {
    const p = new AnsiParser();
    assert.deepEqual(p.push(`a${ESC}[3`).map((s) => s.text), ['a']);
    const [seg] = p.push(`2mgreen`);
    assert.equal(seg!.text, 'green');
    assert.deepEqual(seg!.style.fg, { kind: 'index', n: 2 });
    assert.deepEqual(p.push('still')[0]!.style.fg, { kind: 'index', n: 2 });
  });

  it('reads 256-colour, truecolour (both separators), bright and background codes', () => {
    assert.deepEqual(applySgr(PLAIN, '38;5;208').fg, { kind: 'index', n: 208 });
    assert.deepEqual(applySgr(PLAIN, '48;2;1;2;3').bg, { kind: 'rgb', r: 1, g: 2, b: 3 });
    assert.deepEqual(applySgr(PLAIN, '38:2::10:20:30').fg, { kind: 'rgb', r: 10, g: 20, b: 30 });
    assert.deepEqual(applySgr(PLAIN, '38;5;9;1').bold, true, 'codes after an extended colour still apply');
    assert.deepEqual(applySgr(PLAIN, '94').fg, { kind: 'index', n: 12 });
    assert.deepEqual(applySgr(PLAIN, '101').bg, { kind: 'index', n: 9 });
    assert.deepEqual(applySgr(applySgr(PLAIN, '31;7'), '39;27'), PLAIN);
    assert.deepEqual(applySgr(applySgr(PLAIN, '1;31'), ''), PLAIN, 'ESC[m resets');
    assert.deepEqual(applySgr(PLAIN, '38;5;999').fg, null, 'an out-of-range colour is ignored');
    assert.deepEqual(xterm256(196), { r: 255, g: 0, b: 0 });
    assert.deepEqual(xterm256(244), { r: 128, g: 128, b: 128 });
  });

  it('drops other escape sequences (cursor moves, OSC titles and links) without showing them', () => {
    const text = new AnsiParser()
      .push(`${ESC}[2K${ESC}[1Gline${ESC}]0;title${String.fromCharCode(7)} ${ESC}]8;;http://x${ESC}\\link${ESC}]8;;${ESC}\\${ESC}(B!`)
      .map((s) => s.text)
      .join('');
    assert.equal(text, 'line link!');
  });

  it('gives up waiting on an unterminated sequence past 4 KiB instead of buffering forever', () => {
    const p = new AnsiParser();
    const out = p.push(`${ESC}]0;${'x'.repeat(5000)}`);
    assert.ok(out.map((s) => s.text).join('').length > 4000);
  });
});

describe('panel model', () => {
  it('splits pending into ready (every dependency completed) and blocked', () => {
    const s = displayStatuses(tasks());
    assert.equal(s.get('test-core'), 'ready');
    assert.equal(s.get('test-ui'), 'blocked');
    assert.equal(s.get('setup'), 'completed');
    assert.equal(s.get('bench'), 'dead_letter');
    assert.equal(displayStatuses([task('x', ['unknown'], 'pending')]).get('x'), 'blocked');
    assert.equal(displayStatuses([task('y', [], 'pending')]).get('y'), 'ready');
  });

  it('changes the structure key on a new edge or task, not on a status change', () => {
    const base = structureKey(tasks());
    assert.equal(structureKey(tasks().map((t) => ({ ...t, status: 'completed' as const, claimed_by: 'w' }))), base);
    assert.equal(structureKey([...tasks()].reverse()), base, 'order does not matter');
    assert.notEqual(structureKey([...tasks(), task('new', [], 'pending')]), base);
    assert.notEqual(structureKey(tasks().map((t) => (t.id === 'notify' ? { ...t, dependencies: ['setup'] } : t))), base);
  });

  it('follows the newest running run, else the newest', () => {
    assert.equal(newestRun(runs())?.run_id, 'run-3');
    const finished = [run('a', null, ['x'], '2025-01-01T00:00:01Z', { returncode: 0 }), run('b', null, ['x'], '2025-01-01T00:00:02Z', { returncode: 0 })];
    assert.equal(newestRun(finished)?.run_id, 'b');
    assert.equal(newestRun([...finished, run('c', null, ['x'], '2024-01-01T00:00:00Z', null)])?.run_id, 'c');
    assert.equal(newestRun([]), null);
  });

  it('describes a run outcome', () => {
    assert.equal(runOutcome(runs()[0]!), 'exit 0');
    assert.equal(runOutcome(run('t', null, ['x'], 'z', { returncode: -15, signal_name: 'SIGTERM', timed_out: true })), 'timed out');
    assert.equal(runOutcome(run('k', null, ['x'], 'z', { returncode: -9, signal_name: 'SIGKILL', timed_out: false })), 'SIGKILL');
  });
});

describe('graph layout', () => {
  const leftOfDependents = (layout: ReturnType<typeof layoutTasks>) => {
    for (const [id, deps] of PLAN) for (const d of deps) assert.ok(layout.nodes.get(d)!.x < layout.nodes.get(id)!.x, `${d} left of ${id}`);
  };

  it('lays a small plan out with dagre: every node, every edge, dependencies to the left', () => {
    const layout = layoutTasks(tasks());
    assert.equal(layout.engine, 'dagre');
    assert.equal(layout.nodes.size, PLAN.length);
    assert.equal(layout.edges.length, EDGE_COUNT);
    leftOfDependents(layout);
  });

  it('lays a big plan out in linear time with the layered fallback, without overlaps', () => {
    const big = Array.from({ length: 2000 }, (_, i) => task(`t${i}`, i < 10 ? [] : [`t${i - 10}`, `t${(i * 7919) % i}`], 'pending'));
    const started = performance.now();
    const layout = layoutTasks(big);
    const ms = performance.now() - started;
    assert.equal(layout.engine, 'layered');
    assert.equal(layout.nodes.size, 2000);
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
    const seen = new Set([...layout.nodes.values()].map((n) => `${n.x},${n.y}`));
    assert.equal(seen.size, 2000, 'no two nodes share a place');
    for (const t of big) for (const d of t.dependencies) assert.ok(layout.nodes.get(d)!.x < layout.nodes.get(t.id)!.x);
  });

  it('survives a cycle and unknown dependencies', () => {
    const layout = layeredLayout([task('a', ['b'], 'pending'), task('b', ['a'], 'pending'), task('c', ['nowhere', 'c'], 'pending')]);
    assert.equal(layout.nodes.size, 3);
    assert.equal(layout.edges.length, 2);
    assert.ok(layout.width >= NODE_WIDTH);
  });

  it('draws edges as SVG paths', () => {
    assert.match(pathFor([{ x: 0, y: 0 }, { x: 100, y: 50 }]), /^M0,0 C50,0 50,50 100,50$/);
    assert.match(pathFor([{ x: 0, y: 0 }, { x: 50, y: 10 }, { x: 100, y: 0 }]), /^M0,0 Q50,10 100,0$/);
    assert.equal(pathFor([{ x: 0, y: 0 }]), '');
  });
});
