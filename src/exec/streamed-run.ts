import type { Notifier } from '../protocol/api';
import { splitText, type OutputChunk } from '../protocol/output';
import { RunFinish, RunOutput, RunStart } from '../protocol/runs';
import { runProcess, type RunHandle, type RunOptions, type RunResult } from './runner';

export interface StreamedRun {
  handle: RunHandle;
  runId: string | null;
  result: Promise<RunResult>;
}

/** How long output is gathered before it goes out: fast printers become few notifications, not a flood. */
const COALESCE_MS = 20;

/**
 * Starts a process and, when a coordinator is connected, registers the run and streams its
 * output there as `run_output` notifications (no reply to wait for), coalesced per stream every
 * ~20 ms and cut by the one splitter so each fits a request line. Output also goes to `echo`
 * (the terminal) as it comes.
 */
export async function startStreamedRun(
  options: RunOptions,
  coordinator: Notifier | undefined,
  meta: { worker_id?: string; task_id?: string | null },
  echo: (chunk: OutputChunk) => void,
  warn: (message: string) => void,
): Promise<StreamedRun> {
  let runId: string | null = null;
  if (coordinator) {
    try {
      const { run } = await coordinator.call(RunStart, {
        argv: [...options.argv],
        cwd: options.cwd ?? process.cwd(),
        ...(meta.worker_id ? { worker_id: meta.worker_id } : {}),
        ...(meta.task_id ? { task_id: meta.task_id } : {}),
      });
      runId = run.run_id;
    } catch (e) {
      warn(`could not register the run with the coordinator (${(e as Error).message}); running without streaming`);
    }
  }
  const handle = runProcess(options);
  let pending: OutputChunk[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (!coordinator || !runId || pending.length === 0) return;
    // Merge neighbouring chunks of the same stream.
    const merged: OutputChunk[] = [];
    for (const c of pending) {
      const last = merged[merged.length - 1];
      if (last && last.stream === c.stream) last.data += c.data;
      else merged.push({ ...c });
    }
    pending = [];
    for (const c of merged) {
      for (const data of splitText(c.data)) coordinator.notify(RunOutput, { run_id: runId, stream: c.stream, data });
    }
  };
  handle.onOutput((chunk) => {
    echo(chunk);
    if (!runId) return;
    pending.push(chunk);
    timer ??= setTimeout(flush, COALESCE_MS);
  });
  const finish = async (result: Record<string, unknown>) => {
    if (coordinator && runId) await coordinator.call(RunFinish, { run_id: runId, result }).catch(() => {});
  };
  const result = handle.result.then(
    async (r) => {
      if (timer) clearTimeout(timer);
      flush();
      await finish({ ...r });
      return r;
    },
    async (e: Error) => {
      await finish({ error: e.message });
      throw e;
    },
  );
  return { handle, runId, result };
}
