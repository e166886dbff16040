// The webview's pure parts in plain Node: the ANSI parser and status derivation (the graph's in webview-graph.test.ts).
import * as assert from 'node:assert/strict';
import { AnsiParser, PLAIN, applySgr, xterm256 } from '../../webview/ansi';
import { displayStatuses, newestRun, runOutcome } from '../../webview/model';
import { run, runs, task, tasks } from '../webview/fixtures';

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
    // What the host derived wins: a scoped part of a big plan lacks the dependencies.
    assert.equal(displayStatuses([{ ...task('z', ['elsewhere'], 'pending'), display_status: 'ready' }]).get('z'), 'ready');
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
