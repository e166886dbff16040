import * as os from 'node:os';
import { RunError, startStreamedRun, type RunResult } from '../exec';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { InstanceDeregister, InstanceHeartbeat, InstanceRegister } from '../protocol/instances';
import type { Task } from '../protocol/model';
import { TaskClaim, TaskComplete, TaskFail, TaskGet, TaskHeartbeat, TaskRelease, type ClaimResult } from '../protocol/tasks';
import type { UsageInput } from '../protocol/usage';
import { usageReader, type AgentUsageReader, type UsageFormat } from './agent-usage';
import { checkShellCommandLine, DURATIONS, integer, list, secondsOf } from './args';
import type { CliCommand } from './commands';
import { reconnectingClient, resolveWorkerId, UsageError } from './context';
import { relative } from './table';

const USAGE =
  'harness work [--capability C]... [--timeout S] [--max-tasks N] [--idle-exit S] [--kill-after S] [--name NAME] [--shell] [--usage claude|codex [--usage-model M]] [--exit-on-crash] -- CMD ARGS...';

/** How often an idle worker tells the coordinator it is alive (well within the 60 s stale timeout). */
const IDLE_HEARTBEAT_MS = 10_000;

/** `harness work --exit-on-crash` exits with this when the command crashed: its supervisor restarts it. */
export const EXIT_CRASHED = 3;

/**
 * A run that means the worker, not the task, is broken: the command could not be started (not
 * found, not executable) or died of a signal nobody sent it (a segfault, the OOM killer). A
 * non-zero exit is the task failing, and the worker goes on.
 */
export function crashOf(r: RunResult): string | undefined {
  if (r.returncode === 127 || r.returncode === 126) {
    // What the shell or the spawn said ("sh: 1: claude: not found") names what is missing.
    const said = (r.stderr_tail || r.stdout_tail).trim().split('\n').pop()?.trim();
    return `the command could not be started (exit code ${r.returncode}${said ? `: ${said.slice(0, 200)}` : ''})`;
  }
  if (r.signal_name && !r.timed_out && !r.cancelled) return `the command was killed by ${r.signal_name}`;
  return undefined;
}

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

function costText(usage: UsageInput | undefined): string {
  if (!usage) return '';
  return usage.cost_usd !== undefined ? ` ($${usage.cost_usd.toFixed(4)})` : ' (usage reported)';
}

export const WORK_COMMAND: CliCommand = {
  name: 'work',
  usage: USAGE,
  summary: 'turn this terminal into a worker: claim tasks and run CMD for each until stopped',
  options: {
    capability: { type: 'string', multiple: true, short: 'c' },
    'max-tasks': { type: 'string' },
    name: { type: 'string' },
    shell: { type: 'boolean' },
    usage: { type: 'string' },
    'usage-model': { type: 'string' },
    'exit-on-crash': { type: 'boolean' },
  },
  durations: { timeout: DURATIONS.workTimeout, 'idle-exit': DURATIONS.idleExit, 'kill-after': DURATIONS.killAfter },
  positionals: { min: 1, max: Infinity },
  async run(v, command, o, io) {
    const usageFormat = v.usage as string | undefined;
    if (usageFormat !== undefined && usageFormat !== 'claude' && usageFormat !== 'codex') {
      throw new UsageError(`--usage must be claude or codex, got ${JSON.stringify(usageFormat)}`, USAGE);
    }
    if (v['usage-model'] !== undefined && usageFormat === undefined) throw new UsageError('--usage-model needs --usage', USAGE);
    checkShellCommandLine(v, command, USAGE);
    const exitOnCrash = v['exit-on-crash'] === true;
    const timeoutS = secondsOf(v, 'timeout');
    const maxTasks = integer(v, 'max-tasks', USAGE);
    const idleExitS = secondsOf(v, 'idle-exit');
    const killAfterS = secondsOf(v, 'kill-after');
    const capabilities = list(v, 'capability') ?? [];
    const workerId = resolveWorkerId(o, io);
    const say = (line: string) => io.stderr(`[${workerId}] ${line}\n`);
    const client = reconnectingClient(o, io, say);

    const register = () =>
      client.call(InstanceRegister, {
        worker_id: workerId,
        name: (v.name as string | undefined) ?? `${os.hostname()}:${process.pid}`,
        capabilities,
        pid: process.pid,
      });
    let stopping = false;
    let crashed: string | undefined;
    let current: { task: Task; cancel: () => void } | undefined;
    const wake = new Set<() => void>();
    const onSigint = () => {
      if (stopping) return;
      stopping = true;
      say('stopping: releasing the current task and deregistering');
      // A coordinator that is not there is not waited for: what needs it is skipped (unreachable below).
      client.stopReconnecting();
      current?.cancel();
      for (const w of wake) w();
    };
    // A closed terminal (SIGHUP) is a stop too. Output nobody reads any more (the supervisor
    // that piped it is gone) must not end the worker: it goes on, its output dropped.
    // Caught before registering: a stop that lands while the registration is under way still
    // deregisters (the supervisor stops a worker whose target was removed as it started).
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const signal of signals) process.on(signal, onSigint);
    /** A stop that found no coordinator to tell: said, and a clean exit (the stop was asked for). */
    const unreachable = (e: unknown): boolean => {
      if (!stopping || !(e instanceof HarnessError) || e.code !== ErrorCode.Closed) return false;
      say('stopped without a coordinator to release a task to or deregister from (it marks this worker stale once the heartbeats stop)');
      return true;
    };
    try {
      await register();
    } catch (e) {
      for (const signal of signals) process.off(signal, onSigint);
      client.close(); // an open connection would keep this process from exiting with the error
      if (unreachable(e)) return 0;
      throw e;
    }
    say(
      capabilities.length
        ? `registered with capabilities ${capabilities.join(', ')}; waiting for tasks that need no capability or only ${capabilities.length === 1 ? 'that one' : 'some of these'}`
        : 'registered without capabilities; waiting for tasks that need none',
    );
    const ignoreBrokenPipe = () => {};
    process.stdout.on('error', ignoreBrokenPipe);
    process.stderr.on('error', ignoreBrokenPipe);
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
    let lostCoordinator = false;
    let idleSince = Date.now();
    let pollMs = 100;
    // A worker that goes on after a task claims its next one with the completion (one request).
    const goesOn = () => !stopping && (maxTasks === undefined || done + 1 < maxTasks);
    let claimed: ClaimResult | undefined;
    // An idle worker is alive too: it heartbeats while it waits, so it is not marked stale.
    let lastBeat = Date.now();
    const beatWhileIdle = () => {
      if (Date.now() - lastBeat < IDLE_HEARTBEAT_MS) return;
      lastBeat = Date.now();
      heartbeatInstance();
    };
    try {
      while (!stopping && (maxTasks === undefined || done < maxTasks)) {
        const claim = claimed ?? (await client.call(TaskClaim, { worker_id: workerId, capabilities }));
        claimed = undefined;
        if (!claim.task) {
          if (idleExitS !== undefined && Date.now() - idleSince >= idleExitS * 1000) {
            say(`idle for ${idleExitS} s: exiting`);
            break;
          }
          beatWhileIdle();
          await sleep(pollMs);
          pollMs = Math.min(pollMs * 2, 1000);
          continue;
        }
        pollMs = 100;
        claimed = await runTask(claim.task);
        done++;
        idleSince = Date.now();
        if (crashed) break;
      }
    } catch (e) {
      if (!unreachable(e)) throw e;
      lostCoordinator = true;
    } finally {
      for (const signal of signals) process.off(signal, onSigint);
      await client.call(InstanceDeregister, { worker_id: workerId }).catch(() => {});
      client.close();
    }
    if (lostCoordinator) return 0;
    if (crashed) {
      say(`${crashed}: exiting (status ${EXIT_CRASHED}) so that this worker is restarted`);
      return EXIT_CRASHED;
    }
    say(`done: ${done} task(s)`);
    return 0;

    function heartbeatInstance(): void {
      client.call(InstanceHeartbeat, { worker_id: workerId }).catch((e: Error) => {
        if (e instanceof HarnessError && (e.code === ErrorCode.InstanceStale || e.code === ErrorCode.NotFound)) register().catch(() => {});
      });
    }

    /** Runs a claimed task and reports how it went; the next claim when the completion made one. */
    async function runTask(task: Task): Promise<ClaimResult | undefined> {
      const runTimeoutS = Math.min(timeoutS ?? Infinity, task.timeout_seconds);
      say(`▶ ${task.id}${task.description ? `: ${task.description}` : ''} (attempt ${task.attempts}/${task.max_attempts})`);
      const lease = { worker_id: workerId, task_id: task.id, fencing_token: task.fencing_token };
      let lost: string | undefined;
      const connection = await client.current().catch(() => undefined);
      const argv = fillPlaceholders(command, task, v.shell === true);
      const reader: AgentUsageReader | undefined = usageFormat ? usageReader(usageFormat as UsageFormat, argv, v['usage-model'] as string | undefined) : undefined;
      let run;
      try {
        run = await startStreamedRun(
          {
            argv,
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
          (chunk) => {
            if (chunk.stream === 'stdout') reader?.push(chunk.data);
            io.stderr(chunk.data);
          },
          (m) => say(m),
        );
      } catch (e) {
        if (exitOnCrash) {
          // The task is not at fault: it goes back to the queue untouched.
          crashed = `the command could not be started (${(e as Error).message})`;
          await client.call(TaskRelease, lease).catch(() => {});
        } else {
          await client.call(TaskFail, { ...lease, error: (e as Error).message, retry: false }).catch(() => {});
        }
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
        heartbeatInstance();
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
      const usage = readUsage(reader, task.id);
      const crash = exitOnCrash && !(stopping && result.cancelled) ? crashOf(result) : undefined;
      try {
        if (stopping && result.cancelled) {
          await client.call(TaskRelease, lease);
          say(`↩ ${task.id} released`);
        } else if (crash && (result.returncode === 127 || result.returncode === 126)) {
          crashed = crash;
          await client.call(TaskRelease, lease);
          say(`↩ ${task.id} released: ${crash}`);
        } else if (result.returncode === 0) {
          const done = { returncode: 0, duration_ms: result.duration_ms, stdout_tail: result.stdout_tail.slice(-4000), run_id: run.runId };
          const reply = await finish(lease, () => client.call(TaskComplete, { ...lease, result: done, ...usage, ...(goesOn() ? { next: { capabilities } } : {}) }));
          say(`✔ ${task.id} completed in ${seconds} s${costText(usage.usage)}`);
          return reply?.next;
        } else {
          crashed = crash;
          const error = failureMessage(result, runTimeoutS);
          const failed = (await finish(lease, () => client.call(TaskFail, { ...lease, error, ...usage }), error))?.task;
          say(
            `✘ ${task.id} failed (${error.split(':')[0]})${failed?.status === 'pending' ? `, will be retried${failed.retry_at ? ` ${relative(failed.retry_at)}` : ''}` : ', dead-lettered'}${costText(usage.usage)}`,
          );
        }
      } catch (e) {
        say(`could not report ${task.id}: ${(e as Error).message}`);
      }
      return undefined;
    }

    /** The usage the agent printed, for the completion; a missing one is said, never an error. */
    function readUsage(r: AgentUsageReader | undefined, taskId: string): { usage?: UsageInput } {
      if (!r) return {};
      const found = r.end();
      if (found.usage) return { usage: found.usage };
      say(`no usage for ${taskId}: ${found.missing}`);
      return {};
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
