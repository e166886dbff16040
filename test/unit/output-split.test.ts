import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { headOf, MAX_PIECE_UNITS, splitText } from '../../src/protocol/output';

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;
/** Whether `piece` starts with the second half of a pair or ends with the first half of one. */
const cutsAPair = (piece: string) => isLow(piece.charCodeAt(0)) || isHigh(piece.charCodeAt(piece.length - 1));

describe('the one output splitter', () => {
  it('cuts into pieces of at most max units, keeping surrogate pairs whole', () => {
    assert.deepEqual(splitText('abcdefg', 3), ['abc', 'def', 'g']);
    assert.deepEqual(splitText('ab😀cd', 3), ['ab', '😀c', 'd']);
    assert.deepEqual(splitText('', 3), []);
    assert.deepEqual(splitText('😀😀', 1), ['😀', '😀'], 'a pair goes whole even when max is 1');
  });

  it('a piece of the default size fits a request line whatever it holds', () => {
    const worst = '\u0001'.repeat(MAX_PIECE_UNITS * 2); // \u0001 is escaped to 6 bytes in JSON
    const parts = splitText(worst);
    assert.equal(parts.join(''), worst);
    assert.ok(parts.every((p) => Buffer.byteLength(JSON.stringify({ command: 'run_output', run_id: 'r'.repeat(100), stream: 'stdout', data: p })) < 1024 * 1024));
  });

  it('rejoins to the text and never splits a pair (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.integer({ min: 1, max: 20 }), (text, max) => {
        const parts = splitText(text, max);
        assert.equal(parts.join(''), text);
        for (const p of parts) {
          assert.ok(p.length <= Math.max(max, 2));
          if (!cutsAPair(text)) assert.ok(!cutsAPair(p), JSON.stringify(p));
        }
      }),
    );
  });

  it('headOf: at most max units from the start, never half a pair (possibly empty)', () => {
    assert.equal(headOf('ab😀cd', 3), 'ab');
    assert.equal(headOf('ab😀cd', 4), 'ab😀');
    assert.equal(headOf('abc', 10), 'abc');
    assert.equal(headOf('😀', 1), '');
    assert.equal(headOf('abc', 0), '');
  });
});
