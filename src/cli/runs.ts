// `harness run list` and `harness run log RUN_ID`: the exec runs the coordinator keeps (a worker's
// command under `harness work`, `harness exec`, a target's workers), and a run's kept output, for
// a person at a terminal as the panel shows them.
import type { ResultOf } from '../protocol/command';
import { RunList, RunLog, type RunInfo } from '../protocol/runs';
import { call, type CliCommand } from './commands';
import { clip, columns, count, relative } from './table';

/** How a run ended, in words: exit code, signal, timeout, or a runner's error. */
function outcome(run: RunInfo): string {
  if (run.status === 'running') return 'running';
  const r = run.result ?? {};
  if (r.timed_out === true) return 'timed out';
  if (typeof r.signal_name === 'string' && r.signal_name) return `killed (${r.signal_name})`;
  if (typeof r.returncode === 'number') return `exit ${r.returncode}`;
  if (typeof r.error === 'string') return `failed: ${clip(r.error, 40)}`;
  return 'finished';
}

export function runListText(d: ResultOf<typeof RunList>): string {
  if (d.runs.length === 0) return 'no runs yet (harness exec and harness work record them)\n';
  return (
    columns([
      ['RUN', 'OUTCOME', 'WORKER', 'TASK', 'STARTED', 'OUTPUT', 'COMMAND'],
      ...d.runs.map((r) => [r.run_id, outcome(r), r.worker_id ?? '-', r.task_id ?? '-', relative(r.started_at), `${r.output_bytes} B`, clip(r.argv.join(' '), 60)]),
    ]) + `${count(d.runs.length, 'run')}\n`
  );
}

/** The output as it came (stdout and stderr interleaved), then a line saying how the run stands. */
export function runLogText(d: ResultOf<typeof RunLog>): string {
  const text = d.output.map((c) => c.data).join('');
  const dropped = d.dropped_bytes > 0 ? `, the first ${d.dropped_bytes} bytes of output not kept` : '';
  return `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}-- run ${d.run.run_id}: ${outcome(d.run)}${dropped}\n`;
}

export const RUN_CLI_COMMANDS: CliCommand[] = [
  {
    name: 'run list',
    usage: 'harness run list',
    summary: 'the exec runs the coordinator keeps: who ran what for which task, and how it ended',
    run: (_v, _p, o, io) => call(o, io, RunList, {}, runListText),
  },
  {
    name: 'run log',
    usage: 'harness run log RUN_ID',
    summary: "a run's output as far as its bounded log kept it (run list names the runs)",
    positionals: { min: 1, max: 1 },
    run: (_v, [runId], o, io) => call(o, io, RunLog, { run_id: runId! }, runLogText),
  },
];
