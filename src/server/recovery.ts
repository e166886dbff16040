import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import type { Coordinator } from '../core/coordinator';
import { describeError } from '../core/errors';
import type { Disposable } from '../core/events';
import type { Logger } from '../core/log';
import { formatIssues } from '../core/validate';
import { runProcess } from '../exec';

/** `recovery` in `.harness/config.json`: what to run when a worker stops heartbeating. */
const RecoverySettings = z.strictObject({
  /** argv (no shell), or one command line run through the shell. */
  command: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]),
  timeout_seconds: z.number().positive().max(3600).default(60),
});
const ConfigFile = z.looseObject({ recovery: RecoverySettings.optional() });

export type RecoveryHook = z.output<typeof RecoverySettings>;

/** Reads the hook; a missing file or section is no hook, a bad one is logged and ignored. */
export function loadRecoveryHook(worktree: string, log: Logger): RecoveryHook | undefined {
  const file = path.join(worktree, '.harness', 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = ConfigFile.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.recovery;
    log.error(`${file}: recovery hook ignored: ${formatIssues(parsed.error)}`);
  } catch (e) {
    log.error(`${file} is not valid JSON (${describeError(e)}); recovery hook ignored`);
  }
  return undefined;
}

/**
 * Runs the recovery hook whenever an instance goes stale (its leases were just freed for other
 * workers). The hook is read at each event, so editing config.json takes effect at once. The
 * stale worker and its freed tasks are in HARNESS_STALE_WORKER and HARNESS_FREED_TASKS.
 */
export function watchForRecovery(coordinator: Coordinator, worktree: string, log: Logger): Disposable {
  return coordinator.events.on('instance:stale', ({ instance, freed_tasks }) => {
    const hook = loadRecoveryHook(worktree, log);
    if (!hook) return;
    const shell = typeof hook.command === 'string';
    const run = runProcess({
      argv: shell ? [hook.command as string] : (hook.command as string[]),
      shell,
      cwd: worktree,
      timeoutMs: hook.timeout_seconds * 1000,
      env: {
        HARNESS_STALE_WORKER: instance.worker_id,
        HARNESS_FREED_TASKS: freed_tasks.join(','),
        HARNESS_WORKTREE: worktree,
      },
    });
    run.result.then(
      (r) => log.info(`recovery hook for stale ${instance.worker_id} ended with ${r.signal_name ?? r.returncode}${r.timed_out ? ' (timed out)' : ''}`),
      (e) => log.error(`recovery hook for stale ${instance.worker_id} could not run: ${describeError(e)}`),
    );
  });
}
