// Runs one command with an optional timeout, streams its output, and reports a JSON-ready result.
// On timeout or cancel the whole process group is ended (SIGTERM, then SIGKILL after a grace period)
// and the result is only settled once nothing in the group is still running.
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { inWords, MAX_DURATION_SECONDS, MAX_KILL_AFTER_SECONDS } from '../protocol/durations';
import { HarnessError } from '../protocol/errors';
import type { OutputChunk, Stream } from '../protocol/output';
import { BoundedLog } from './bounded-log';
import { killTree, terminateTree, treeAlive } from './kill';

export const DEFAULT_KILL_GRACE_MS = 5000;
export const DEFAULT_MAX_BUFFER_BYTES = 64 * 1024;

// After the child exits, a descendant it left behind may still hold the output pipes open. Stop
// reading once they have been quiet this long (or at the latest after DRAIN_MAX_MS).
const DRAIN_IDLE_MS = 200;
const DRAIN_MAX_MS = 2000;
// Process-group death has no event to wait on, so it is polled, for a bounded time after SIGKILL.
const GROUP_POLL_MS = 20;
const GROUP_REAP_MAX_MS = 2000;

export interface RunOptions {
  /** Program and arguments, run without a shell. With `shell`, exactly one element: a command line. */
  argv: readonly string[];
  /** Run argv[0] through the user's shell ($SHELL -c, else /bin/sh -c; cmd.exe /c on Windows). */
  shell?: boolean;
  cwd?: string;
  /** Extra variables, merged over process.env. */
  env?: Readonly<Record<string, string>>;
  /** 0 or undefined: no timeout. At most MAX_DURATION_SECONDS (7 days). */
  timeoutMs?: number;
  /** How long SIGTERM gets before SIGKILL; at most MAX_KILL_AFTER_SECONDS. */
  killGraceMs?: number;
  /** Tail kept per stream, in bytes. */
  maxBufferBytes?: number;
  /** Opaque id echoed on the handle, for callers that track runs. */
  runId?: string;
}

/** The runner's output is the protocol's one chunk type, from here to the webview. */
export type { OutputChunk };
export type OutputStream = Stream;

export type OutputListener = (chunk: OutputChunk) => void;

/** Snake_case because it goes on the wire as JSON. */
export interface RunResult {
  /** Exit code, or the negated signal number when a signal ended the process (SIGTERM: -15). */
  returncode: number;
  signal_name: string | null;
  timed_out: boolean;
  cancelled: boolean;
  duration_ms: number;
  /** ISO-8601 UTC with milliseconds. */
  started_at: string;
  stdout_tail: string;
  stderr_tail: string;
  stdout_bytes: number;
  stderr_bytes: number;
  /** Output bytes (both streams) not kept in the tails. */
  dropped_bytes: number;
}

export interface RunHandle {
  /** Undefined when the process could not be started (then `result` rejects). */
  readonly pid: number | undefined;
  readonly runId: string | undefined;
  /** Receives output from now on, in arrival order. Returns an unsubscribe function. */
  onOutput(listener: OutputListener): () => void;
  /** Ends the process group like a timeout does; the result says `cancelled: true`. No-op once exited. */
  cancel(): void;
  readonly result: Promise<RunResult>;
}

export type RunErrorCode = 'SPAWN_FAILED' | 'INVALID_OPTIONS';

/** A run that could not start: a HarnessError, so every edge reports it like any other. */
export class RunError extends HarnessError {
  override readonly name = 'RunError';

  constructor(
    override readonly code: RunErrorCode,
    message: string,
    /** The OS error code behind a spawn failure, e.g. 'ENOENT'. */
    readonly errno?: string,
  ) {
    super(code, message, errno ? { errno } : undefined);
  }
}

export function runProcess(options: RunOptions): RunHandle {
  const invalid = validate(options);
  if (invalid) return failedHandle(options, new RunError('INVALID_OPTIONS', invalid));

  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  const [command, args] = commandLine(options, env);
  const cwd = resolvePath(options.cwd ?? process.cwd());
  // Checked up front because a missing cwd surfaces from spawn as ENOENT, as if the command were missing.
  const cwdProblem = checkCwd(cwd);
  if (cwdProblem) {
    return failedHandle(options, new RunError('SPAWN_FAILED', `cannot run "${command}": ${cwdProblem}`));
  }

  const startedAt = new Date();
  const t0 = performance.now();
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd,
      env,
      // Own process group, so a timeout can end every descendant, not just the direct child.
      detached: true,
      // Nothing is ever typed into a run; an inherited stdin would let it block on a read forever.
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
      windowsVerbatimArguments: options.shell === true && process.platform === 'win32',
    });
  } catch (err) {
    return failedHandle(options, spawnError(command, err));
  }
  const pid = child.pid;

  const listeners = new Set<OutputListener>();
  const emit = (stream: OutputStream, data: string): void => {
    if (data === '') return;
    for (const listener of listeners) {
      try {
        listener({ stream, data });
      } catch {
        // One faulty consumer must not cost the run or the other listeners their output.
      }
    }
  };

  const maxBufferBytes = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
  const logs = { stdout: new BoundedLog(maxBufferBytes), stderr: new BoundedLog(maxBufferBytes) };
  let lastOutputAt = t0;
  const pump = (stream: Readable, name: OutputStream): Promise<void> => {
    const decoder = new StringDecoder('utf8');
    stream.on('data', (chunk: Buffer) => {
      lastOutputAt = performance.now();
      logs[name].append(chunk);
      emit(name, decoder.write(chunk));
    });
    stream.on('error', () => {
      // Reading a pipe can fail (EIO); 'close' follows and ends this stream's output.
    });
    return new Promise((resolve) =>
      stream.once('close', () => {
        emit(name, decoder.end());
        resolve();
      }),
    );
  };
  const outputClosed = Promise.all([pump(child.stdout!, 'stdout'), pump(child.stderr!, 'stderr')]);

  let exited = false;
  let stopReason: 'timeout' | 'cancel' | undefined;
  let stopStartedAt = 0;
  let graceTimer: NodeJS.Timeout | undefined;
  const stop = (reason: 'timeout' | 'cancel'): void => {
    if (exited || stopReason || pid === undefined) return;
    stopReason = reason;
    stopStartedAt = performance.now();
    terminateTree(pid);
    graceTimer = setTimeout(() => {
      if (treeAlive(pid)) killTree(pid);
    }, options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };
  const timeoutTimer = options.timeoutMs ? setTimeout(() => stop('timeout'), options.timeoutMs) : undefined;

  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      exited = true;
      clearTimeout(timeoutTimer);
      resolve({ code, signal });
    });
    // Before 'exit' this can only be a failure to start; afterwards it no longer matters.
    child.on('error', reject);
  });

  const drain = async (): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const drainStart = performance.now();
    const quiet = new Promise<void>((resolve) => {
      const check = (): void => {
        const now = performance.now();
        if (now - lastOutputAt >= DRAIN_IDLE_MS || now - drainStart >= DRAIN_MAX_MS) resolve();
        else timer = setTimeout(check, DRAIN_IDLE_MS);
      };
      timer = setTimeout(check, DRAIN_IDLE_MS);
    });
    await Promise.race([outputClosed, quiet]);
    clearTimeout(timer);
    child.stdout!.destroy();
    child.stderr!.destroy();
    await outputClosed;
  };

  const groupGone = async (runPid: number): Promise<void> => {
    const giveUpAt = stopStartedAt + (options.killGraceMs ?? DEFAULT_KILL_GRACE_MS) + GROUP_REAP_MAX_MS;
    while (treeAlive(runPid) && performance.now() < giveUpAt) await delay(GROUP_POLL_MS);
    clearTimeout(graceTimer);
  };

  const supervise = async (): Promise<RunResult> => {
    let status: { code: number | null; signal: NodeJS.Signals | null };
    try {
      status = await exit;
    } catch (err) {
      clearTimeout(timeoutTimer);
      throw spawnError(command, err);
    }
    await drain();
    if (stopReason && pid !== undefined) await groupGone(pid);
    return {
      returncode: status.signal ? -(osConstants.signals[status.signal] ?? 0) : (status.code ?? -1),
      signal_name: status.signal,
      timed_out: stopReason === 'timeout',
      cancelled: stopReason === 'cancel',
      duration_ms: Math.round(performance.now() - t0),
      started_at: startedAt.toISOString(),
      stdout_tail: logs.stdout.toString(),
      stderr_tail: logs.stderr.toString(),
      stdout_bytes: logs.stdout.totalBytes,
      stderr_bytes: logs.stderr.totalBytes,
      dropped_bytes: logs.stdout.droppedBytes + logs.stderr.droppedBytes,
    };
  };

  return {
    pid,
    runId: options.runId,
    onOutput(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    cancel: () => stop('cancel'),
    result: handled(supervise()),
  };
}

function validate(options: RunOptions): string | undefined {
  const { argv } = options;
  if (!Array.isArray(argv) || argv.length === 0 || typeof argv[0] !== 'string' || argv[0] === '') {
    return 'argv must start with a non-empty command';
  }
  if (options.shell && argv.length !== 1) {
    return `with shell: true, argv must hold exactly one command line (got ${argv.length} elements)`;
  }
  // Bounded because Node's timers fire after 1 ms when given more than 2^31-1 ms.
  const withinSeconds = (value: number | undefined, max: number): boolean =>
    value === undefined || (Number.isFinite(value) && value >= 0 && value <= max * 1000);
  if (!withinSeconds(options.timeoutMs, MAX_DURATION_SECONDS)) {
    return `the timeout must be from 0 to ${MAX_DURATION_SECONDS} seconds (${inWords(MAX_DURATION_SECONDS)}), got ${(options.timeoutMs ?? 0) / 1000} s`;
  }
  if (!withinSeconds(options.killGraceMs, MAX_KILL_AFTER_SECONDS)) {
    return `the kill grace must be from 0 to ${MAX_KILL_AFTER_SECONDS} seconds (${inWords(MAX_KILL_AFTER_SECONDS)}), got ${(options.killGraceMs ?? 0) / 1000} s`;
  }
  const max = options.maxBufferBytes;
  if (max !== undefined && !(Number.isInteger(max) && max >= 1)) return 'maxBufferBytes must be a positive integer';
  return undefined;
}

function commandLine(options: RunOptions, env: NodeJS.ProcessEnv): [string, string[]] {
  if (!options.shell) return [options.argv[0], options.argv.slice(1)];
  if (process.platform === 'win32') return [env.ComSpec || 'cmd.exe', ['/d', '/s', '/c', `"${options.argv[0]}"`]];
  return [env.SHELL || '/bin/sh', ['-c', options.argv[0]]];
}

function checkCwd(cwd: string): string | undefined {
  try {
    return statSync(cwd).isDirectory() ? undefined : `working directory ${cwd} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `working directory ${cwd} does not exist` : `working directory ${cwd}: ${code}`;
  }
}

function spawnError(command: string, err: unknown): RunError {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const isPath = /[\\/]/.test(command);
  let reason: string;
  if (errno === 'ENOENT') reason = isPath ? 'no such file' : 'command not found';
  else if (errno === 'EACCES') reason = 'permission denied (is it an executable file?)';
  else reason = err instanceof Error ? err.message : String(err);
  return new RunError('SPAWN_FAILED', `cannot run "${command}": ${reason}`, errno);
}

function failedHandle(options: RunOptions, error: RunError): RunHandle {
  return {
    pid: undefined,
    runId: options.runId,
    onOutput: () => () => false,
    cancel: () => {},
    result: handled(Promise.reject(error)),
  };
}

// A caller that never awaits `result` must not crash the process with an unhandled rejection;
// callers that do await it still see the rejection.
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
