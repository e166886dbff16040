import type { HarnessClient } from '../client/client';
import { runProcess, type OutputChunk, type RunHandle, type RunOptions, type RunResult } from '../exec';

/**
 * A request line may be at most 1 MiB. JSON escaping makes a character at most 6 bytes (a control
 * character as \u00XX), so pieces of this many UTF-16 units always fit.
 */
const MAX_PIECE = 128 * 1024;

/** Splits `data` into pieces that fit in one request line, never between a surrogate pair. */
export function pieces(data: string, max = MAX_PIECE): string[] {
  const out: string[] = [];
  for (let start = 0; start < data.length; ) {
    let end = Math.min(start + max, data.length);
    const last = data.charCodeAt(end - 1);
    if (end < data.length && last >= 0xd800 && last <= 0xdbff) end--; // keep the pair together
    out.push(data.slice(start, end));
    start = end;
  }
  return out;
}

/** Where a run is registered and its output sent: a socket client, or the in-process API. */
export type RunSink = Pick<HarnessClient, 'request' | 'send'>;

export interface StreamedRun {
  handle: RunHandle;
  runId: string | null;
  result: Promise<RunResult>;
}

/**
 * Starts a process and, when a coordinator is connected, registers the run and streams its
 * output there, coalesced into one message per ~20 ms per stream so a fast printer does not
 * become a flood of requests. Output also goes to `echo` (the terminal) as it comes.
 */
export async function startStreamedRun(
  options: RunOptions,
  client: RunSink | undefined,
  meta: { worker_id?: string; task_id?: string | null },
  echo: (chunk: OutputChunk) => void,
  warn: (message: string) => void,
): Promise<StreamedRun> {
  let runId: string | null = null;
  if (client) {
    try {
      const { run } = await client.request<{ run: { run_id: string } }>('run_start', {
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
    if (!client || !runId || pending.length === 0) return;
    // Merge neighbouring chunks of the same stream.
    const merged: OutputChunk[] = [];
    for (const c of pending) {
      const last = merged[merged.length - 1];
      if (last && last.stream === c.stream) last.data += c.data;
      else merged.push({ ...c });
    }
    pending = [];
    for (const c of merged) {
      for (const data of pieces(c.data)) client.send('run_output', { run_id: runId, stream: c.stream, data }).catch(() => {});
    }
  };
  handle.onOutput((chunk) => {
    echo(chunk);
    if (!runId) return;
    pending.push(chunk);
    timer ??= setTimeout(flush, 20);
  });
  const result = handle.result.then(
    async (r) => {
      if (timer) clearTimeout(timer);
      flush();
      if (client && runId) await client.request('run_finish', { run_id: runId, result: { ...r } }).catch(() => {});
      return r;
    },
    async (e: Error) => {
      if (client && runId) {
        await client.request('run_finish', { run_id: runId, result: { error: e.message } }).catch(() => {});
      }
      throw e;
    },
  );
  return { handle, runId, result };
}
