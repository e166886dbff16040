import * as vscode from 'vscode';
import { startStreamedRun, type RunResult } from '../exec';
import type { HarnessApi } from '../protocol/api';

export interface ExecOutcome {
  result: RunResult;
  runId: string | null;
}

export function describeResult(r: RunResult, timeoutS: number): string {
  const took = `${(r.duration_ms / 1000).toFixed(1)} s`;
  if (r.timed_out) return `timed out after ${timeoutS} s and was ended with ${r.signal_name} (returncode ${r.returncode})`;
  if (r.cancelled) return `was cancelled (${r.signal_name}) after ${took}`;
  if (r.signal_name) return `was killed by ${r.signal_name} after ${took}`;
  return `exited with ${r.returncode} after ${took}`;
}

/**
 * Runs one command line through the user's shell with a timeout, streaming its output to the
 * coordinator (and so to the panel), cancellable from the progress notification.
 */
export async function runExecWithTimeout(
  api: HarnessApi,
  commandLine: string,
  timeoutS: number,
  cwd: string,
  killGraceS: number,
  workerId: string,
  log: vscode.LogOutputChannel,
): Promise<ExecOutcome> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Harness exec: ${commandLine}`, cancellable: true },
    async (progress, token) => {
      const run = await startStreamedRun(
        { argv: [commandLine], shell: true, cwd, timeoutMs: timeoutS * 1000, killGraceMs: killGraceS * 1000 },
        api,
        { worker_id: workerId },
        () => {},
        (m) => log.warn(m),
      );
      progress.report({ message: `running (timeout ${timeoutS} s)` });
      const cancel = token.onCancellationRequested(() => run.handle.cancel());
      try {
        const result = await run.result;
        log.info(`exec "${commandLine}" ${describeResult(result, timeoutS)}`);
        return { result, runId: run.runId };
      } finally {
        cancel.dispose();
      }
    },
  );
}
