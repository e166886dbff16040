// Imported first by the CLI's entry (main.ts), so that it runs before the rest of the bundle is
// evaluated, which takes a few hundred milliseconds: a SIGINT or SIGTERM in that time is kept
// for the command instead of killing the process. `harness serve` takes it (a stop before it
// opened anything is a clean exit 0); for every other command it is raised again once the
// command is known, and ends the process as it would have.

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let early: NodeJS.Signals | undefined;
const keep = (signal: NodeJS.Signals) => {
  early ??= signal;
};
let kept = false;
// Only in the CLI's own process (not when a test loads this module).
if (require.main?.filename === __filename) {
  for (const signal of SIGNALS) process.on(signal, keep);
  kept = true;
}

/**
 * Stops keeping signals and returns the one that came meanwhile, if any. A signal reaches its
 * listener on a turn of the event loop, which loading did not give it: this waits one turn first.
 * The caller listens for the signals itself before, so that none falls between the two.
 */
export async function takeEarlySignal(): Promise<NodeJS.Signals | undefined> {
  if (kept) await new Promise(setImmediate);
  for (const signal of SIGNALS) process.off(signal, keep);
  kept = false;
  return early;
}

/** Stops keeping signals; one that came meanwhile ends the process now, as it would have then. */
export async function releaseEarlySignals(): Promise<void> {
  const signal = await takeEarlySignal();
  if (signal) process.kill(process.pid, signal);
}
