// Watching a process that is not our child (a worker an earlier coordinator started): there is
// no exit event to wait for, so it is looked for until it is gone.
import { processAlive } from './kill';

/** How often a process that is not our child is looked for. */
const POLL_MS = 1000;
/** After asking it to stop, how long before it is killed. */
const STOP_GRACE_MS = 15_000;

/** A watched process, the way a worker launcher reports one: its exit is only known as "gone". */
export interface WatchedProcess {
  readonly pid: number;
  readonly exited: Promise<{ code: null; signal: null; lost: true; tail: string }>;
  /** SIGTERM, then SIGKILL after a grace period if it is still there. */
  stop(): void;
}

export function watchProcess(pid: number, alive: (pid: number) => boolean = processAlive, everyMs = POLL_MS): WatchedProcess {
  let killTimer: NodeJS.Timeout | undefined;
  const exited = new Promise<{ code: null; signal: null; lost: true; tail: string }>((resolve) => {
    const timer = setInterval(() => {
      if (alive(pid)) return;
      clearInterval(timer);
      if (killTimer) clearTimeout(killTimer);
      resolve({ code: null, signal: null, lost: true, tail: '' });
    }, everyMs);
    timer.unref();
  });
  return {
    pid,
    exited,
    stop: () => {
      signal(pid, 'SIGTERM');
      killTimer = setTimeout(() => signal(pid, 'SIGKILL'), STOP_GRACE_MS);
      killTimer.unref();
    },
  };
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // ESRCH: gone already.
  }
}
