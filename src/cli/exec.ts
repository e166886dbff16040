import { HarnessClient } from '../client/client';
import { startStreamedRun } from '../exec';
import { seconds, type CliCommand } from './commands';
import { errorReply, printReply, resolveSocket, resolveWorkerId, UsageError } from './context';

const USAGE = 'harness exec [--timeout S] [--kill-after S] [--cwd DIR] [--task ID] [--shell] -- CMD ARGS...';

export const EXEC_COMMAND: CliCommand = {
  name: 'exec',
  usage: USAGE,
  summary: 'run a command with a timeout; output streams live (stderr and the coordinator), result as JSON',
  options: {
    timeout: { type: 'string', short: 't' },
    'kill-after': { type: 'string' },
    cwd: { type: 'string' },
    task: { type: 'string' },
    shell: { type: 'boolean' },
  },
  positionals: { min: 1, max: Infinity },
  async run(v, argv, o, io) {
    const timeout = seconds(v, 'timeout', USAGE);
    const killAfter = seconds(v, 'kill-after', USAGE);
    if (v.shell && argv.length !== 1) throw new UsageError('--shell takes exactly one command line, quoted as one argument', USAGE);
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
        (chunk) => io.stderr(chunk.data),
        (message) => io.stderr(`harness: ${message}\n`),
      );
      const onSigint = () => run.handle.cancel();
      process.on('SIGINT', onSigint);
      try {
        const result = await run.result;
        io.stdout(JSON.stringify({ status: 'ok', data: { ...result, run_id: run.runId } }) + '\n');
        return 0;
      } finally {
        process.off('SIGINT', onSigint);
      }
    } catch (e) {
      return printReply(errorReply(e), io);
    } finally {
      client?.close();
    }
  },
};
