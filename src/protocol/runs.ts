// Commands of exec runs: a runner (the CLI's exec or work, the extension) registers a run, streams
// its output as notifications, and finishes it; viewers list runs and read a run's kept log.
import { z } from 'zod';
import { command } from './command';
import { OutputChunk, RunChunk } from './output';

export const RunStatus = z.enum(['running', 'finished']);

export const RunInfo = z.object({
  run_id: z.string(),
  worker_id: z.string().nullable(),
  task_id: z.string().nullable(),
  argv: z.array(z.string()),
  cwd: z.string().nullable(),
  started_at: z.string(),
  status: RunStatus,
  result: z.record(z.string(), z.unknown()).nullable().describe("The runner's result (returncode, signal_name, timed_out, ...) once finished"),
  output_bytes: z.number().describe('Output bytes received'),
  logged_bytes: z.number().describe('Output bytes the log kept (it is bounded)'),
});
export type RunInfo = z.output<typeof RunInfo>;

const RunId = z.string().min(1).max(100).describe('The run id run_start returned');

export const RunStart = command({
  name: 'run_start',
  kind: 'mutation',
  summary: 'Register a run of a command, so viewers see it and its output.',
  params: z.strictObject({
    run_id: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/).optional().describe('An id of your own; generated when left out'),
    worker_id: z.string().max(200).nullable().optional().describe('The worker running it'),
    task_id: z.string().max(200).nullable().optional().describe('The task it runs for'),
    argv: z.array(z.string()).min(1).max(10_000).describe('The command and its arguments'),
    cwd: z.string().max(4096).nullable().optional().describe('Where it runs'),
  }),
  result: z.object({ run: RunInfo }),
});

export const RunOutput = command({
  name: 'run_output',
  kind: 'notification',
  summary: "Append output to a run's log and send it to viewers. A notification: no reply.",
  // The one chunk type (RunChunk), with words for each field.
  params: z.strictObject({
    run_id: RunId,
    stream: z.enum(['stdout', 'stderr']).describe('Which stream it came from'),
    data: z.string().describe('The output, as text'),
  }) satisfies z.ZodType<RunChunk>,
  result: z.object({}),
});

export const RunFinish = command({
  name: 'run_finish',
  kind: 'mutation',
  summary: "Mark a run finished with the runner's result.",
  params: z.strictObject({
    run_id: RunId,
    result: z.record(z.string(), z.unknown()).describe("The runner's result: returncode, signal_name, timed_out, ... (or error)"),
  }),
  result: z.object({ run: RunInfo }),
});

export const RunList = command({
  name: 'run_list',
  kind: 'query',
  summary: 'The runs the coordinator knows of, oldest first.',
  params: z.strictObject({}),
  result: z.object({ runs: z.array(RunInfo) }),
});

export const RunLog = command({
  name: 'run_log',
  kind: 'query',
  summary: "A run's output from the start, as far as the bounded log kept it.",
  params: z.strictObject({ run_id: RunId }),
  result: z.object({
    run: RunInfo,
    output: z.array(OutputChunk),
    dropped_bytes: z.number().describe('Output bytes the log did not keep'),
  }),
});

export const RUN_COMMANDS = [RunStart, RunOutput, RunFinish, RunList, RunLog] as const;
