import * as os from 'node:os';
import { RunError, startStreamedRun, type RunResult } from '../exec';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { InstanceDeregister, InstanceHeartbeat, InstanceRegister } from '../protocol/instances';
import type { Task } from '../protocol/model';
import { TaskClaim, TaskComplete, TaskFail, TaskGet, TaskHeartbeat, TaskRelease, type ClaimResult } from '../protocol/tasks';
import { DURATIONS, integer, list, secondsOf } from './args';
import type { CliCommand } from './commands';
import { resolveSocket, resolveWorkerId } from './context';
import { ResilientClient } from '../client/resilient-client';
import { relative } from './table';

const USAGE =
  'harness work [--capability C]... [--timeout S] [--max-tasks N] [--idle-exit S] [--kill-after S] [--name NAME] [--shell] -- CMD ARGS...';

/**
 * `{id}` and `{description}` in the command's arguments become the task's, each inside the one
 * argument it stands in. A description may come from a webhook (an issue title), so in a shell
 * command line it is never pasted in as text the shell would parse: there a placeholder becomes
 * a reference to HARNESS_TASK_ID or HARNESS_TASK_DESCRIPTION, which a POSIX shell expands as data
 * (quote it as any variable: `"{description}"`). cmd.exe parses what it expands, so on Windows a
 * shell command line may not use them at all.
 */
export function fillPlaceholders(argv: readonly string[], task: Task, shell = false, platform = process.platform): string[] {
  if (!shell) return argv.map((a) => a.replaceAll('{id}', task.id).replaceAll('{description}', task.description));
  if (platform === 'win32' && argv.some((a) => a.includes('{id}') || a.includes('{description}'))) {
    throw new Error('{id} and {description} cannot be used with --shell on Windows: read %HARNESS_TASK_ID% and %HARNESS_TASK_DESCRIPTION% in a script instead');
  }
  return argv.map((a) => a.replaceAll('{id}', '${HARNESS_TASK_ID}').replaceAll('{description}', '${HARNESS_TASK_DESCRIPTION}'));
}

function failureMessage(r: RunResult, timeoutS: number): string {
  const how = r.timed_out
    ? `timed out after ${timeoutS} s (${r.signal_name})`
    : r.cancelled
      ? `cancelled (${r.signal_name})`
      : r.signal_name
        ? `killed by ${r.signal_name}`
        : `exit code ${r.returncode}`;
  const tail = (r.stderr_tail || r.stdout_tail).slice(-2000).trim();
  return tail ? `${how}: ${tail}` : how;
}

/** A completion's or failure's reply: the task, and the next claim when one was asked for. */
type Finished = { task: Task; next?: ClaimResult };

export const WORK_COMMAND: CliCommand = {
  name: 'work',
  usage: USAGE,
  summary: 'turn this terminal into a worker: claim tasks and run CMD for each until stopped',
  options: {
    capability: { type: 'string', multiple: true, short: 'c' },
    'max-tasks': { type: 'string' },
    name: { type: 'string' },
    shell: { type: 'boolean' },
  },
  durations: { timeout: DURATIONS.workTimeout, 'idle-exit': DURATIONS.idleExit, 'kill-after': DURATIONS.killAfter },
  positionals: { min: 1, max: Infinity },
  async run(v, command, o, io) {
    const timeoutS = secondsOf(v, 'timeout');
    const maxTasks = integer(v, 'max-tasks', USAGE);
    const idleExitS = secondsOf(v, 'idle-exit');
    const killAfterS = secondsOf(v, 'kill-after');
    const capabilities = list(v, 'capability') ?? [];
    const workerId = resolveWorkerId(o, io);
    const say = (line: string) => io.stderr(`[${workerId}] ${line}\n`);
    const client = new ResilientClient(resolveSocket(o, io), (attempt, e) => {
      if (attempt === 1 || attempt % 10 === 0) say(`coordinator unreachable (${e.message.split(';')[0]}); reconnecting…`);
    });

    const register = () =>
      client.call(InstanceRegister, {
        worker_id: workerId,
        name: (v.name as string | undefined) ?? `${os.hostname()}:${process.pid}`,
        capabilities,
        pid: process.pid,
      });
    try {
      await register();
    } catch (e) {
      client.close(); // an open connection would keep this process from exiting with the error
      throw e;
    }
    say(
      capabilities.length
        ? `registered with capabilities ${capabilities.join(', ')}; waiting for tasks that need no capability or only ${capabilities.length === 1 ? 'that one' : 'some of these'}`
        : 'registered without capabilities; waiting for tasks that need none',
    );

    let stopping = false;
    let current: { task: Task; cancel: () => void } | undefined;
    const wake = new Set<() => void>();
    const onSigint = () => {
      if (stopping) return;
      stopping = true;
      say('stopping: releasing the current task and deregistering');
      current?.cancel();
      for (const w of wake) w();
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          wake.delete(done);
          resolve();
        };
        const t = setTimeout(done, ms);
        wake.add(done);
      });

    let done = 0;
    let idleSince = Date.now();
    let pollMs = 100;
    // A worker that goes on after a task claims its next one with the completion (one request).
    const goesOn = () => !stopping && (maxTasks === undefined || done + 1 < maxTasks);
    let claimed: ClaimResult | undefined;
    try {
      while (!stopping && (maxTasks === undefined || done < maxTasks)) {
        const claim = claimed ?? (await client.call(TaskClaim, { worker_id: workerId, capabilities }));
        claimed = undefined;
        if (!claim.task) {
          if (idleExitS !== undefined && Date.now() - idleSince >= idleExitS * 1000) {
            say(`idle for ${idleExitS} s: exiting`);
            break;
          }
          await sleep(pollMs);
          pollMs = Math.min(pollMs * 2, 1000);
          continue;
        }
        pollMs = 100;
        claimed = await runTask(claim.task);
        done++;
        idleSince = Date.now();
      }
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
      await client.call(InstanceDeregister, { worker_id: workerId }).catch(() => {});
      client.close();
    }
    say(`done: ${done} task(s)`);
    return 0;

    /** Runs a claimed task and reports how it went; the next claim when the completion made one. */
    async function runTask(task: Task): Promise<ClaimResult | undefined> {
      const runTimeoutS = Math.min(timeoutS ?? Infinity, task.timeout_seconds);
      say(`▶ ${task.id}${task.description ? `: ${task.description}` : ''} (attempt ${task.attempts}/${task.max_attempts})`);
      const lease = { worker_id: workerId, task_id: task.id, fencing_token: task.fencing_token };
      let lost: string | undefined;
      const connection = await client.current().catch(() => undefined);
      let run;
      try {
        run = await startStreamedRun(
          {
            argv: fillPlaceholders(command, task, v.shell === true),
            shell: v.shell === true,
            timeoutMs: runTimeoutS * 1000,
            ...(killAfterS !== undefined ? { killGraceMs: killAfterS * 1000 } : {}),
            env: {
              HARNESS_TASK_ID: task.id,
              HARNESS_TASK_DESCRIPTION: task.description,
              HARNESS_TASK_PAYLOAD: JSON.stringify(task.payload),
              HARNESS_FENCING_TOKEN: String(task.fencing_token),
              HARNESS_WORKER_ID: workerId,
            },
          },
          connection,
          { worker_id: workerId, task_id: task.id },
          (chunk) => io.stderr(chunk.data),
          (m) => say(m),
        );
      } catch (e) {
        await client.call(TaskFail, { ...lease, error: (e as Error).message, retry: false }).catch(() => {});
        say(`✘ ${task.id}: ${(e as Error).message}`);
        return;
      }
      current = { task, cancel: () => run.handle.cancel() };
      // Renew well before the lease would end: at a third of it, and at least every 10 s.
      const every = Math.max(200, Math.min(task.timeout_seconds * 1000 / 3, 10_000));
      const beat = setInterval(() => {
        client.call(TaskHeartbeat, lease).catch((e: Error) => {
          if (e instanceof HarnessError && (e.code === ErrorCode.NotClaimedBy || e.code === ErrorCode.StaleFencingToken)) {
            lost = e.message;
            say(`lease lost (${e.message}); stopping the command`);
            run.handle.cancel();
          }
        });
        client.call(InstanceHeartbeat, { worker_id: workerId }).catch((e: Error) => {
          if (e instanceof HarnessError && (e.code === ErrorCode.InstanceStale || e.code === ErrorCode.NotFound)) register().catch(() => {});
        });
      }, every);
      let result: RunResult;
      try {
        result = await run.result;
      } catch (e) {
        result = { returncode: 127, signal_name: null, timed_out: false, cancelled: false, duration_ms: 0, started_at: new Date().toISOString(), stdout_tail: '', stderr_tail: e instanceof RunError ? e.message : String(e), stdout_bytes: 0, stderr_bytes: 0, dropped_bytes: 0 };
      } finally {
        clearInterval(beat);
        current = undefined;
      }
      if (lost) return;
      const seconds = (result.duration_ms / 1000).toFixed(1);
      try {
        if (stopping && result.cancelled) {
          await client.call(TaskRelease, lease);
          say(`↩ ${task.id} released`);
        } else if (result.returncode === 0) {
          const done = { returncode: 0, duration_ms: result.duration_ms, stdout_tail: result.stdout_tail.slice(-4000), run_id: run.runId };
          const reply = await finish(lease, () => client.call(TaskComplete, { ...lease, result: done, ...(goesOn() ? { next: { capabilities } } : {}) }));
          say(`✔ ${task.id} completed in ${seconds} s`);
          return reply?.next;
        } else {
          const error = failureMessage(result, runTimeoutS);
          const failed = (await finish(lease, () => client.call(TaskFail, { ...lease, error }), error))?.task;
          say(`✘ ${task.id} failed (${error.split(':')[0]})${failed?.status === 'pending' ? `, will be retried${failed.retry_at ? ` ${relative(failed.retry_at)}` : ''}` : ', dead-lettered'}`);
        }
      } catch (e) {
        say(`could not report ${task.id}: ${(e as Error).message}`);
      }
      return undefined;
    }

    /**
     * Completes or fails a task. If the connection dropped after the coordinator applied it,
     * the resent request finds the task already finished by us: that is success, not an error
     * (a claim made with it is then not in hand: the next task_claim gives it back, as held).
     */
    async function finish(lease: { task_id: string; fencing_token: number }, send: () => Promise<Finished>, error?: string): Promise<Finished | undefined> {
      try {
        return await send();
      } catch (e) {
        if (!(e instanceof HarnessError) || e.code !== ErrorCode.NotClaimedBy) throw e;
        const { task } = await client.call(TaskGet, { task_id: lease.task_id });
        const ours = task.fencing_token === lease.fencing_token && (task.claimed_by === workerId || (error !== undefined && task.error === error));
        if (ours && task.status !== 'running') return { task };
        throw e;
      }
    }
  },
};
