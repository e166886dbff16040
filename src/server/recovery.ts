import type { Coordinator } from '../core/coordinator';
import { describeError } from '../core/errors';
import type { Disposable } from '../core/events';
import type { Logger } from '../core/log';
import { runProcess } from '../exec';
import { readHarnessConfig } from '../config/harness';
import type { RecoveryHook } from '../config/recovery';

export type { RecoveryHook };

/** Where the coordinator runs: its workspace, and the state directory config.json is read from. */
export interface Place {
  workspace: string;
  stateDir: string;
}

/** The hook; a missing file or section is no hook. A bad file is logged (the stale worker is still handled). */
export function loadRecoveryHook(place: Place, log: Logger): RecoveryHook | undefined {
  try {
    return readHarnessConfig(place.stateDir).recovery;
  } catch (e) {
    log.error(`recovery hook not run: ${describeError(e)}`);
    return undefined;
  }
}

/**
 * Runs the recovery hook whenever an instance goes stale (its leases were just freed for other
 * workers). The hook is read at each event, so editing config.json takes effect at once. The
 * stale worker and its freed tasks are in HARNESS_STALE_WORKER and HARNESS_FREED_TASKS.
 */
export function watchForRecovery(coordinator: Coordinator, place: Place, log: Logger): Disposable {
  return coordinator.events.on('instance:stale', ({ instance, freed_tasks }) => {
    const hook = loadRecoveryHook(place, log);
    if (!hook) return;
    const shell = typeof hook.command === 'string';
    const run = runProcess({
      argv: shell ? [hook.command as string] : (hook.command as string[]),
      shell,
      cwd: place.workspace,
      timeoutMs: hook.timeout_seconds * 1000,
      env: {
        HARNESS_STALE_WORKER: instance.worker_id,
        HARNESS_FREED_TASKS: freed_tasks.join(','),
        HARNESS_WORKSPACE: place.workspace,
        HARNESS_WORKTREE: place.workspace, // the old name, for hooks written against it
      },
    });
    run.result.then(
      (r) => log.info(`recovery hook for stale ${instance.worker_id} ended with ${r.signal_name ?? r.returncode}${r.timed_out ? ' (timed out)' : ''}`),
      (e) => log.error(`recovery hook for stale ${instance.worker_id} could not run: ${describeError(e)}`),
    );
  });
}
