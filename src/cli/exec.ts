import { constants as osConstants } from 'node:os';
import { HarnessClient } from '../client/client';
import { RunError, startStreamedRun, type RunResult } from '../exec';
import { checkShellCommandLine, DURATIONS, secondsOf } from './args';
import type { CliCommand } from './commands';
import { resolveSocket, resolveWorkerId } from './context';
import { isText, printError } from './output';
import { took } from './table';

const USAGE = 'harness exec [--timeout S] [--kill-after S] [--cwd DIR] [--task ID] [--shell] [--exit-code] -- CMD ARGS...';

/**
 * With --exit-code, the status `timeout(1)` and shells would give: the command's own, 124 when
 * the timeout ended it, 128+N when signal N did.
 */
function commandStatus(r: RunResult): number {
  if (r.timed_out) return 124;
  if (r.signal_name) return 128 + (osConstants.signals[r.signal_name as NodeJS.Signals] ?? 0);
  return r.returncode;
}

/** With --exit-code, a command that could not start, as timeout(1): 127 not found, 126 not runnable, else 125. */
function spawnFailureStatus(e: RunError): number {
  if (e.errno === 'ENOENT') return 127;
  if (e.errno === 'EACCES') return 126;
  return 125;
}

/** How a run ended, in words: "exited 0 after 1.2s", "timed out after 2 s (ended with SIGTERM)". */
function ending(r: RunResult, timeoutS: number | undefined): string {
  if (r.timed_out) return `timed out after ${timeoutS} s (ended with ${r.signal_name})`;
  const how = r.cancelled ? `was cancelled (${r.signal_name})` : r.signal_name ? `was killed by ${r.signal_name}` : `exited ${r.returncode}`;
  return `${how} after ${took(r.duration_ms)}`;
}

export const EXEC_COMMAND: CliCommand = {
  name: 'exec',
  usage: USAGE,
  summary: 'run a command with a timeout; output streams live (to stderr and the coordinator), the result as JSON',
  options: {
    timeout: { type: 'string', short: 't' },
    cwd: { type: 'string' },
    task: { type: 'string' },
    shell: { type: 'boolean' },
    'exit-code': { type: 'boolean' },
  },
  durations: { timeout: DURATIONS.execTimeout, 'kill-after': DURATIONS.killAfter },
  positionals: { min: 1, max: Infinity },
  async run(v, argv, o, io) {
    const timeout = secondsOf(v, 'timeout');
    const killAfter = secondsOf(v, 'kill-after');
    checkShellCommandLine(v, argv, USAGE);
    let client: HarnessClient | undefined;
    try {
      client = await HarnessClient.connect(resolveSocket(o, io), { retryForMs: 0 });
    } catch {
      io.stderr('harness: no coordinator reachable; running without streaming the output to it\n');
    }
    try {
      const run = await startStreamedRun(
        {
          argv,
          shell: v.shell === true,
          ...(v.cwd ? { cwd: v.cwd as string } : {}),
          ...(timeout ? { timeoutMs: timeout * 1000 } : {}),
          ...(killAfter !== undefined ? { killGraceMs: killAfter * 1000 } : {}),
        },
        client,
        { worker_id: resolveWorkerId(o, io), task_id: (v.task as string | undefined) ?? null },
        // JSON: stdout is the result document, so the command's output goes to stderr. Text: each
        // stream where the command wrote it, as if run directly.
        (chunk) => (isText(o) && chunk.stream === 'stdout' ? io.stdout(chunk.data) : io.stderr(chunk.data)),
        (message) => io.stderr(`harness: ${message}\n`),
      );
      const onSigint = () => run.handle.cancel();
      process.on('SIGINT', onSigint);
      try {
        const result = await run.result;
        if (isText(o)) io.stderr(`harness: ${argv[0]} ${ending(result, timeout)}${run.runId ? ` (run ${run.runId})` : ''}\n`);
        else io.stdout(JSON.stringify({ status: 'ok', data: { ...result, run_id: run.runId } }) + '\n');
        return v['exit-code'] ? commandStatus(result) : 0;
      } finally {
        process.off('SIGINT', onSigint);
      }
    } catch (e) {
      const code = printError(e, io, o);
      return e instanceof RunError && v['exit-code'] ? spawnFailureStatus(e) : code;
    } finally {
      client?.close();
    }
  },
};
