import { RunLogMessage, StateMessage } from '../protocol/webview';

/** Of a run's command line the panel shows a short label; this much is plenty and stays bounded. */
const MAX_ARGS = 100;
const MAX_ARG_CHARS = 1000;

interface Replies {
  tasks: unknown[];
  instances: unknown[];
  runs: unknown[];
}

/**
 * The coordinator's replies (task_list, instance_list, run_list) as the panel's `state`.
 * Parsing drops what the webview does not show (payloads, results' bulk); an argv longer than a
 * label needs is clipped first, since the protocol bounds it and one odd run must not blank the
 * whole panel. Throws (a zod error) if the coordinator's shapes and the protocol part ways.
 */
export function toStateMessage({ tasks, instances, runs }: Replies): StateMessage {
  const clipped = runs.map((run) => {
    const r = run as { argv?: unknown };
    if (!Array.isArray(r.argv)) return run;
    return { ...r, argv: r.argv.slice(0, MAX_ARGS).map((a) => (typeof a === 'string' ? a.slice(0, MAX_ARG_CHARS) : a)) };
  });
  return StateMessage.parse({ type: 'state', tasks, instances, runs: clipped });
}

/** A `run_log` reply as the panel's `runLog`. */
export function toRunLogMessage(runId: string, reply: { output: unknown[]; dropped_bytes: number }): RunLogMessage {
  return RunLogMessage.parse({ type: 'runLog', run_id: runId, output: reply.output, dropped_bytes: reply.dropped_bytes });
}
