// The `exec` tool: runs a program beside the agent with a timeout it cannot forget, streams the
// output to the coordinator's viewers (the panel shows the run live), reports progress to an MCP
// client that asked for it, and answers with the exit status and a bounded tail of the output.
import * as path from 'node:path';
import { z } from 'zod';
import { RunError, startStreamedRun, type RunResult } from '../exec';
import type { Notifier } from '../protocol/api';
import { TaskId } from '../protocol/model';

export const EXEC_TOOL_NAME = 'exec';
export const EXEC_SUMMARY = 'Run a program (no shell) with a timeout; returns its exit status and the tail of its output.';

export const EXEC_DEFAULT_TIMEOUT_S = 120;
const EXEC_MAX_TIMEOUT_S = 24 * 3600;
/** Characters of each stream's tail in the answer: enough to see an error, not a whole log. */
export const EXEC_TAIL_CHARS = 4000;
/** How often a running command reports progress, at most (and at least, while it prints nothing). */
const PROGRESS_EVERY_MS = 1000;

export const ExecParams = z.strictObject({
  argv: z.array(z.string().max(100_000)).min(1).max(1000).describe('The program and its arguments, e.g. ["npm", "test"]'),
  timeout_seconds: z
    .number()
    .positive()
    .max(EXEC_MAX_TIMEOUT_S)
    .optional()
    .describe(`Ended (SIGTERM, then SIGKILL) after this long (default ${EXEC_DEFAULT_TIMEOUT_S})`),
  cwd: z.string().min(1).max(4096).optional().describe('Working directory, relative to the workspace (default: the workspace)'),
  task_id: TaskId.optional().describe('The task it runs for, shown with the run'),
});
export type ExecParams = z.output<typeof ExecParams>;

export interface ExecContext {
  workspace: string;
  workerId: string;
  /** The coordinator, to show the run to viewers; undefined when it is unreachable. */
  coordinator: Notifier | undefined;
  /** Set when the MCP client asked for progress (it sent a progressToken). */
  progress?: (progress: number, total: number, message: string) => void;
  /** Aborted when the MCP client cancels the call. */
  signal: AbortSignal;
  warn: (message: string) => void;
  killGraceMs?: number;
}

export interface ExecAnswer extends Omit<RunResult, 'stdout_tail' | 'stderr_tail'> {
  run_id: string | null;
  stdout_tail: string;
  stderr_tail: string;
}

/** Runs it to the end (its own, the timeout's, or a cancel's); throws a RunError when it cannot start. */
export async function execTool(params: ExecParams, ctx: ExecContext): Promise<ExecAnswer> {
  const timeoutS = params.timeout_seconds ?? EXEC_DEFAULT_TIMEOUT_S;
  let lastLine = '';
  let reported = 0;
  const started = Date.now();
  const report = (force: boolean) => {
    if (!ctx.progress) return;
    const now = Date.now();
    if (!force && now - reported < PROGRESS_EVERY_MS / 4) return;
    reported = now;
    const elapsed = Math.round((now - started) / 100) / 10;
    ctx.progress(elapsed, timeoutS, lastLine ? `${elapsed} s: ${lastLine}` : `${elapsed} s`);
  };
  const run = await startStreamedRun(
    {
      argv: params.argv,
      cwd: path.resolve(ctx.workspace, params.cwd ?? '.'),
      timeoutMs: timeoutS * 1000,
      ...(ctx.killGraceMs !== undefined ? { killGraceMs: ctx.killGraceMs } : {}),
      env: { HARNESS_WORKER_ID: ctx.workerId, ...(params.task_id ? { HARNESS_TASK_ID: params.task_id } : {}) },
    },
    ctx.coordinator,
    { worker_id: ctx.workerId, task_id: params.task_id ?? null },
    (chunk) => {
      const line = chunk.data.split('\n').filter((l) => l.trim()).pop();
      if (line) lastLine = line.trim().slice(0, 200);
      report(false);
    },
    ctx.warn,
  );
  const onAbort = () => run.handle.cancel();
  ctx.signal.addEventListener('abort', onAbort);
  report(true); // a client that asked for progress hears at once that it started
  const ticker = setInterval(() => report(true), PROGRESS_EVERY_MS);
  try {
    const result = await run.result;
    return {
      ...result,
      run_id: run.runId,
      stdout_tail: result.stdout_tail.slice(-EXEC_TAIL_CHARS),
      stderr_tail: result.stderr_tail.slice(-EXEC_TAIL_CHARS),
    };
  } finally {
    clearInterval(ticker);
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

export { RunError };
