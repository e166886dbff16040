// The socket's turn scheduler: connections with work take turns round robin, once per turn of the
// event loop; one whose turn runs long (heavy) goes after the light ones and, while light ones are
// being served, sits out twice as long as its turn took; alone it runs flat out. Time is a
// ManualClock that a turn's work moves on; turns of the loop are awaited with setImmediate.
import * as assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock';
import { TurnScheduler, type TakesTurns } from '../../src/server/turns';

const SLICE_MS = 1;
const loopTurn = () => new Promise<void>((r) => setImmediate(r));

/** A connection with `units` of work, each costing `costMs` of (manual) time; every turn is logged. */
function worker(name: string, units: number, costMs: number, clock: ManualClock, log: Array<[string, number]>): TakesTurns & { left(): number } {
  return {
    left: () => units,
    runTurn() {
      log.push([name, clock.now()]);
      clock.advance(costMs);
      units--;
      return units > 0;
    },
  };
}

/** Lets the loop turn until `done`; `log` gets a '|' between loop turns. */
async function runUntil(done: () => boolean, clock: ManualClock, stepMs = 1, log?: Array<[string, number]>): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) {
    await loopTurn();
    log?.push(['|', clock.now()]);
    clock.advance(stepMs); // time passes between turns (I/O, other work), and rest timers come due
  }
  assert.ok(done(), 'the work was not done');
}

describe('TurnScheduler', () => {
  it('gives every ready connection one turn per loop turn, round robin, while it has work', async () => {
    const clock = new ManualClock(0);
    const s = new TurnScheduler(SLICE_MS, clock);
    const log: Array<[string, number]> = [];
    const ws = ['a', 'b', 'c'].map((n) => worker(n, 3, 0.1, clock, log));
    ws.forEach((w) => s.ready(w));
    s.ready(ws[0]!); // already waiting: not twice
    await runUntil(() => ws.every((w) => w.left() === 0), clock);
    assert.deepEqual(log.map(([n]) => n).join(''), 'abcabcabc');
  });

  it('a heavy connection goes after the light ones and rests while they are served', async () => {
    const clock = new ManualClock(0);
    const s = new TurnScheduler(SLICE_MS, clock);
    const log: Array<[string, number]> = [];
    const heavy = worker('H', 3, 10, clock, log);
    const light = worker('l', 40, 0.1, clock, log);
    s.ready(heavy);
    s.ready(light);
    await runUntil(() => heavy.left() === 0 && light.left() === 0, clock, 1, log);
    const turns = log.filter(([n]) => n === 'H').map(([, at]) => at);
    assert.equal(turns.length, 3);
    // Each heavy turn took 10 ms: the next comes no sooner than 2 × 10 ms after it ended.
    for (let i = 1; i < turns.length; i++) assert.ok(turns[i]! - (turns[i - 1]! + 10) >= 20, `heavy turns at ${turns.join(', ')}`);
    // Not known yet, it took its turn in order; once known heavy, the light one goes first.
    const loopTurns = log.map(([n]) => n).join('').split('|').filter((t) => t !== '');
    assert.equal(loopTurns[0], 'Hl');
    const shared = loopTurns.slice(1).filter((t) => t.includes('H'));
    assert.deepEqual(shared, ['lH', 'lH'], loopTurns.join('|'));
    // The light one kept its one turn per loop turn throughout.
    assert.ok(loopTurns.every((t) => t.split('l').length - 1 <= 1));
  });

  it('runNow: a light connection just read runs at once, its rest in later turns; a heavy one waits its turn', async () => {
    const clock = new ManualClock(0);
    const s = new TurnScheduler(SLICE_MS, clock);
    const log: Array<[string, number]> = [];
    const light = worker('l', 2, 0.1, clock, log);
    s.runNow(light);
    assert.deepEqual(log.map(([n]) => n), ['l'], 'ran in the same tick');
    s.runNow(light); // already waiting for its next turn: not run again now
    assert.deepEqual(log.map(([n]) => n), ['l']);
    await runUntil(() => light.left() === 0, clock);
    assert.deepEqual(log.map(([n]) => n), ['l', 'l']);

    const heavy = worker('H', 3, 10, clock, log);
    const other = worker('o', 20, 0.1, clock, log);
    s.ready(other);
    s.ready(heavy);
    await loopTurn(); // both had a turn: H is known heavy now, and rests
    const before = log.length;
    s.runNow(heavy);
    assert.equal(log.length, before, 'a heavy one is not run at once');
    await runUntil(() => heavy.left() === 0, clock);
  });

  it('alone, a heavy connection is not made to rest', async () => {
    const clock = new ManualClock(0);
    const s = new TurnScheduler(SLICE_MS, clock);
    const log: Array<[string, number]> = [];
    const heavy = worker('H', 5, 10, clock, log);
    s.ready(heavy);
    await runUntil(() => heavy.left() === 0, clock, 0);
    assert.deepEqual(
      log.map(([, at]) => at),
      [0, 10, 20, 30, 40],
      'one turn per loop turn, back to back',
    );
  });
});
