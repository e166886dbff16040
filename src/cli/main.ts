// First: keeps a signal that comes while the rest loads (see early-signals.ts).
import { releaseEarlySignals } from './early-signals';
import { inWords, MAX_DURATION_SECONDS, MAX_KILL_AFTER_SECONDS, MAX_WAIT_SECONDS } from '../protocol/durations';
import { asksForText, durationHelp, readCommandLine } from './args';
import { TASK_COMMANDS, type CliCommand } from './commands';
import { processIo, resolveWorkerId, UsageError, type GlobalOptions, type Io } from './context';
import { directGateway } from './direct';
import { EXEC_COMMAND } from './exec';
import { FLEET_CLI_COMMANDS } from './fleet';
import { MCP_COMMAND, MCP_CONFIG_COMMAND } from './mcp';
import { PRIMITIVE_CLI_COMMANDS } from './primitives';
import { RECOVER_COMMAND } from './recover';
import { RUN_CLI_COMMANDS } from './runs';
import { ISOLATION_CLI_COMMANDS } from './isolation';
import { SERVE_COMMAND, WATCH_COMMAND } from './serve';
import { PROGRESS_COMMAND, WAIT_COMMAND } from './wait';
import { printError, printUsageError } from './output';
import { version } from './version';
import { WORK_COMMAND } from './work';

const GLOBAL_OPTIONS = {
  socket: { type: 'string' },
  nats: { type: 'string' },
  cluster: { type: 'string' },
  worker: { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const WORKER_ID: CliCommand = {
  name: 'worker-id',
  usage: 'harness worker-id',
  summary: "print this worker's id (the same on every call)",
  run: async (_v, _p, o, io) => {
    io.stdout(resolveWorkerId(o, io) + '\n');
    return 0;
  },
};

const VERSION: CliCommand = {
  name: 'version',
  usage: 'harness version (or harness --version)',
  summary: 'print the version of harness',
  run: async (_v, _p, _o, io) => {
    io.stdout(version + '\n');
    return 0;
  },
};

export const COMMANDS: CliCommand[] = [
  ...TASK_COMMANDS,
  PROGRESS_COMMAND,
  EXEC_COMMAND,
  WORK_COMMAND,
  WAIT_COMMAND,
  SERVE_COMMAND,
  WATCH_COMMAND,
  RECOVER_COMMAND,
  WORKER_ID,
  VERSION,
  MCP_COMMAND,
  MCP_CONFIG_COMMAND,
  ...PRIMITIVE_CLI_COMMANDS,
  ...ISOLATION_CLI_COMMANDS,
  ...FLEET_CLI_COMMANDS,
  ...RUN_CLI_COMMANDS,
];

/** Commands that do not go through a gateway to a cluster. */
const OWN_NATS_OR_NONE: ReadonlySet<CliCommand> = new Set([SERVE_COMMAND, RECOVER_COMMAND, WORKER_ID, VERSION, MCP_CONFIG_COMMAND]);

/** One line per command: its name and what it does, in a column. */
function commandLines(commands: readonly CliCommand[]): string[] {
  const width = Math.max(...commands.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
}

function help(): string {
  return [
    'usage: harness <command> [options]',
    '',
    'Coordinates parallel workers through the workspace coordinator (the VS Code extension, or `harness serve`).',
    'Every command prints one JSON document on stdout; exit 0 on ok, 1 on an error reply, 2 on a usage error.',
    'With --format text it prints lines for people instead, and an error is one line on stderr (nothing on stdout).',
    `Durations are in seconds: timeouts, TTLs and --idle-exit at most ${MAX_DURATION_SECONDS} (${inWords(MAX_DURATION_SECONDS)}), waits at most`,
    `${MAX_WAIT_SECONDS} (${inWords(MAX_WAIT_SECONDS)}), --kill-after at most ${MAX_KILL_AFTER_SECONDS}; \`harness <command> --help\` says each.`,
    '',
    ...commandLines(COMMANDS),
    '',
    'Global options: --socket PATH (else $HARNESS_SOCKET, else the default socket of $HARNESS_WORKSPACE or the',
    'current directory; $HARNESS_WORKTREE is its old name), --worker ID (else $HARNESS_WORKER_ID, else the id in',
    '$HARNESS_WORKER_ID_FILE),',
    '--nats URL --cluster NAME (else $HARNESS_NATS_URL and $HARNESS_CLUSTER): talk to a cluster of coordinators',
    'directly, without one on this host (docs/cluster.md),',
    '--format json|text, --help, --version.',
  ].join('\n');
}

/** `harness task --help`: the commands of a group, each with what it does. */
function groupHelp(group: string, commands: readonly CliCommand[]): string {
  return [
    `usage: harness ${group} <command> [options]; \`harness ${group} <command> --help\` says each`,
    '',
    ...commandLines(commands),
  ].join('\n');
}

/**
 * The command line with the global options given before the command (`harness --nats URL
 * --cluster app task claim`, `harness --format text task list`) moved behind it, where the
 * command's own options are read with them (before a `--`). Stops at the first word that is not
 * one of them.
 */
function globalsLast(argv: readonly string[]): string[] {
  const front: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const m = /^--([a-z-]+)(=.*)?$/.exec(argv[i]!);
    const spec = m && m[1] !== 'help' ? GLOBAL_OPTIONS[m[1] as keyof typeof GLOBAL_OPTIONS] : undefined;
    if (!spec) break;
    front.push(argv[i++]!);
    if (spec.type === 'string' && m![2] === undefined && i < argv.length) front.push(argv[i++]!);
  }
  const rest = argv.slice(i);
  // Never past `--`: what follows it is a program's own command line (`harness exec -- ...`).
  const end = rest.includes('--') ? rest.indexOf('--') : rest.length;
  return [...rest.slice(0, end), ...front, ...rest.slice(end)];
}

/** Picks the command named by the leading words: `task claim`, `serve`, ... */
function findCommand(argv: string[]): { command: CliCommand; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

export async function main(given: string[], io: Io = processIo): Promise<number> {
  const argv = globalsLast(given);
  if (argv[0] === '--version') argv[0] = 'version';
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(help() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  // harness mcp's stdout is the MCP client's channel: its usage errors go to stderr only.
  const text = asksForText(argv) || found?.command.name === 'mcp';
  let opts: GlobalOptions = { format: text ? 'text' : undefined };
  try {
    if (!found) {
      const group = COMMANDS.filter((c) => c.name.startsWith(argv[0] + ' '));
      if (group.length && (argv[1] === '--help' || argv[1] === '-h')) {
        io.stdout(groupHelp(argv[0]!, group) + '\n');
        return 0;
      }
      throw new UsageError(
        group.length
          ? `unknown command "${argv.slice(0, 2).join(' ')}"; ${argv[0]} takes: ${group.map((c) => c.name.split(' ')[1]).join(', ')}`
          : `unknown command "${argv[0]}"; run \`harness --help\` for the list`,
      );
    }
    const { command, rest } = found;
    // serve takes a signal that came while loading; for every other command it ends the process as always.
    if (command !== SERVE_COMMAND) await releaseEarlySignals();
    const { values, positionals } = readCommandLine(command, rest, GLOBAL_OPTIONS);
    if (values.help) {
      io.stdout(`usage: ${command.usage}\n${command.summary}\n${durationHelp(command.durations ?? {})}`);
      return 0;
    }
    const format = values.format as string | undefined;
    if (format !== undefined && format !== 'json' && format !== 'text') {
      throw new UsageError(`--format must be json or text, got ${JSON.stringify(format)}`, command.usage);
    }
    opts = { socket: values.socket as string, worker: values.worker as string, format };
    // `serve` takes --nats/--cluster for itself (it becomes a coordinator of that cluster); the
    // commands that never reach a coordinator need no gateway.
    const gateway = OWN_NATS_OR_NONE.has(command)
      ? undefined
      : await directGateway({ nats: values.nats as string, cluster: values.cluster as string, socket: opts.socket }, io);
    if (!gateway) return await command.run(values, positionals, opts, io);
    try {
      return await command.run(values, positionals, { ...opts, socket: gateway.socketPath }, io);
    } finally {
      await gateway.close();
    }
  } catch (e) {
    if (e instanceof UsageError) return printUsageError(e, io, text);
    // stdout belongs to the MCP protocol: a gateway that could not reach the cluster says so on stderr.
    return printError(e, io, found?.command === MCP_COMMAND ? { ...opts, format: 'text' } : opts);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`harness: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
