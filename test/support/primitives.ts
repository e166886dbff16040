// Shared set-up for the primitives' unit tests: a coordinator over each store, on a manual clock.
import * as assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG, type CoordinatorConfig } from '../../src/core/coordinator';
import { HarnessError } from '../../src/core/errors';
import type { Store } from '../../src/core/store';
import { dispatcher, type Dispatcher } from './dispatch';
import { storeFactories, type StoreFactory } from './stores';

export async function rejects(p: Promise<unknown> | (() => unknown), code: string, text?: string | RegExp): Promise<HarnessError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof HarnessError, `expected a HarnessError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (typeof text === 'string') assert.ok(e.message.includes(text), `"${e.message}" should contain "${text}"`);
    else if (text) assert.match(e.message, text);
    return e;
  }
  assert.fail(`expected ${code}`);
}

export interface Fixture {
  factory: StoreFactory;
  clock: ManualClock;
  store: Store;
  dir: string;
  c: Coordinator;
  /** Requests to `c` through the real dispatcher (parameters validated as on the socket), workspace `/work/space`. */
  d: Dispatcher;
  /** Closes and reopens the store over the same directory (persistent stores only). */
  reopen(): Promise<void>;
}

/** Runs `body` once per store, with a fresh coordinator for each test. */
export function forEachStore(title: string, body: (f: Fixture) => void, config: Partial<CoordinatorConfig> = {}): void {
  for (const factory of storeFactories) {
    describe(`${title} over ${factory.name}`, () => {
      const f = { factory } as Fixture;
      beforeEach(async () => {
        f.clock = new ManualClock();
        ({ store: f.store, dir: f.dir } = await factory.open());
        f.c = new Coordinator(f.store, { ...DEFAULT_CONFIG, instanceLimit: 0, ...config }, f.clock);
        f.d = dispatcher(f.c);
        f.reopen = async () => {
          await f.c.close();
          ({ store: f.store } = await factory.open(f.dir));
          f.c = new Coordinator(f.store, { ...DEFAULT_CONFIG, instanceLimit: 0, ...config }, f.clock);
          f.d = dispatcher(f.c);
        };
      });
      afterEach(async () => {
        await f.c.close();
      });
      body(f);
    });
  }
}

/** Lets pending promise callbacks and timers of 0 ms run. */
export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether `p` has settled once everything already under way has finished: every write the store
 * took is durable (an empty transaction waits behind them) and what waited on those writes has
 * run, round after round while those callbacks write again (a release made durable wakes a
 * waiter, whose grant is a write of its own). No sleeping: a grant slow to reach the disk is
 * still seen. Relies on an empty transaction answering with the latest write's promise.
 */
export async function settled(p: Promise<unknown>, store: Store): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  const barrier = () => store.transact(() => undefined).durable;
  for (let last = barrier(); ; ) {
    await last.catch(() => {});
    await new Promise(setImmediate); // after every promise callback that write released
    const next = barrier();
    if (next === last) return done;
    last = next;
  }
}
