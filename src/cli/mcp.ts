// `harness mcp` (an MCP server on stdio for coding agents) and `harness mcp config CLIENT` (the
// entry that tells an agent how to start it). The MCP code and the SDK load only when one of these
// runs, so no other command pays for them at start-up.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { explainThrown } from '../protocol/error-words';
import { stderrLogger } from '../protocol/log';
import { DURATIONS, secondsOf, type Values } from './args';
import type { CliCommand } from './commands';
import { resolveSocket, resolveWorkerId, UsageError, workspaceOption, type GlobalOptions, type Io } from './context';
import { clusterArgs } from './direct';
import { version } from './version';

const MCP_USAGE = 'harness mcp [--tools default|all|NAME,...] [--workspace DIR] [--name NAME] [--heartbeat S] [--kill-after S] [--verbose]';
const CONFIG_USAGE = 'harness mcp config claude|vscode|cursor|codex [--write] [--tools ...] [--workspace DIR] [--nats URL --cluster NAME]';

/** Heartbeat of the MCP worker when --heartbeat is not given: well inside the default 60 s stale timeout. */
const DEFAULT_HEARTBEAT_S = 10;
/** How long a tool call waits for an unreachable coordinator (a window reloading) before it fails. */
const CONNECT_WAIT_MS = 15_000;

/**
 * The MCP module. In the build it is a bundle of its own beside the CLI's (scripts/build.mjs maps
 * this import to ./mcp.js), loaded by `harness mcp` alone: the SDK costs the other commands
 * nothing, not even parsing it.
 */
async function loadMcp(): Promise<typeof import('../mcp/index.js')> {
  const m = (await import('../mcp/index.js')) as typeof import('../mcp/index.js') & { default?: typeof import('../mcp/index.js') };
  return m.default ?? m; // a CommonJS bundle imported: its exports are the default export
}

/** The MCP server's options, from the command line and the environment, like every CLI command's. */
function serverEnv(v: Record<string, unknown>, io: Io): { workspace: string; io: Io } {
  const workspace = workspaceOption(v, io, MCP_USAGE);
  // --workspace decides the default socket just as HARNESS_WORKSPACE does.
  return { workspace, io: { ...io, env: { ...io.env, HARNESS_WORKSPACE: workspace } } };
}

/** Serves MCP until the session ends; a bad option throws before anything goes to stdout. */
async function serve(v: Values, o: GlobalOptions, rawIo: Io): Promise<number> {
  const { workspace, io } = serverEnv(v, rawIo);
  const heartbeat = secondsOf(v, 'heartbeat') ?? DEFAULT_HEARTBEAT_S;
  const killAfter = secondsOf(v, 'kill-after');
  const { serveMcp, selectTools } = await loadMcp();
  let tools;
  try {
    tools = selectTools(v.tools as string | undefined);
  } catch (e) {
    throw new UsageError((e as Error).message, MCP_USAGE);
  }
  const workerId = resolveWorkerId(o, io);
  await serveMcp({
    socketPath: resolveSocket(o, io),
    workerId,
    name: (v.name as string | undefined) ?? `mcp ${os.hostname()}:${process.pid}`,
    heartbeatMs: heartbeat * 1000,
    connectWaitMs: CONNECT_WAIT_MS,
    log: stderrLogger(`harness mcp [${workerId}]`, v.verbose === true),
    tools,
    workspace,
    version,
    ...(killAfter !== undefined ? { killGraceMs: killAfter * 1000 } : {}),
  });
  return 0;
}

export const MCP_COMMAND: CliCommand = {
  name: 'mcp',
  usage: MCP_USAGE,
  summary: 'serve the coordinator to a coding agent as MCP tools on stdio (this process is the worker)',
  options: {
    tools: { type: 'string' },
    workspace: { type: 'string' },
    name: { type: 'string' },
    heartbeat: { type: 'string' },
    'kill-after': { type: 'string' },
    verbose: { type: 'boolean' },
  },
  durations: { heartbeat: DURATIONS.heartbeat, 'kill-after': DURATIONS.killAfter },
  async run(v, _p, o, rawIo) {
    try {
      return await serve(v, o, rawIo);
    } catch (e) {
      // stdout belongs to the MCP protocol, even before it starts: the failure goes to stderr only.
      rawIo.stderr(`harness mcp: ${explainThrown(e)}\n${e instanceof UsageError ? `usage: ${MCP_USAGE}\n` : ''}`);
      return e instanceof UsageError ? 2 : 1;
    }
  },
};


/**
 * How an MCP client starts this CLI: `harness` when that is what the PATH finds, else this
 * Node with this script (inside VS Code, its Electron running as Node).
 */
function launchCommand(io: Io): { command: string; args: string[]; env: Record<string, string> } {
  const script = fs.realpathSync(process.argv[1] ?? __filename);
  const electron = process.versions.electron !== undefined;
  const env: Record<string, string> = electron ? { ELECTRON_RUN_AS_NODE: '1' } : {};
  for (const dir of (io.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    try {
      if (!electron && fs.realpathSync(path.join(dir, 'harness')) === script) return { command: 'harness', args: [], env };
    } catch {
      // not in this directory
    }
  }
  return { command: process.execPath, args: [script], env };
}

export const MCP_CONFIG_COMMAND: CliCommand = {
  name: 'mcp config',
  usage: CONFIG_USAGE,
  summary: "print (or --write) the MCP client's config entry that starts `harness mcp` for this workspace",
  options: { write: { type: 'boolean' }, tools: { type: 'string' }, workspace: { type: 'string' } },
  // The client is checked here, so that a missing one is named with its choices.
  positionals: { min: 0, max: 1 },
  async run(v, [client], o, io) {
    const { MCP_CLIENTS, CLIENT_FILES, mergeClientConfig, selectTools } = await loadMcp();
    if (client === undefined) throw new UsageError(`missing the MCP client: one of ${MCP_CLIENTS.join(', ')}`, CONFIG_USAGE);
    if (!(MCP_CLIENTS as readonly string[]).includes(client)) {
      throw new UsageError(`unknown MCP client ${JSON.stringify(client)}; one of ${MCP_CLIENTS.join(', ')}`, CONFIG_USAGE);
    }
    const which = client as (typeof MCP_CLIENTS)[number];
    if (v.tools !== undefined) {
      try {
        selectTools(v.tools as string);
      } catch (e) {
        throw new UsageError((e as Error).message, CONFIG_USAGE);
      }
    }
    const workspace = workspaceOption(v, io, CONFIG_USAGE);
    const launch = launchCommand(io);
    // VS Code fills in its own folder; the other clients get the path itself.
    const folder = which === 'vscode' ? '${workspaceFolder}' : workspace;
    const args = [...launch.args, 'mcp', '--workspace', folder, ...(v.tools !== undefined ? ['--tools', v.tools as string] : []), ...clusterArgs({ nats: v.nats as string | undefined, cluster: v.cluster as string | undefined }, io, CONFIG_USAGE)];
    const env = { ...launch.env, ...(o.socket ? { HARNESS_SOCKET: o.socket } : {}), ...(o.worker ? { HARNESS_WORKER_ID: o.worker } : {}) };
    const spec = { command: launch.command, args, ...(Object.keys(env).length ? { env } : {}) };
    const file = path.join(workspace, CLIENT_FILES[which]);
    const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    const text = mergeClientConfig(which, existing, spec);
    if (!v.write) {
      // In text mode the answer is the file as it would be written, to read or paste.
      io.stdout(o.format === 'text' ? text : JSON.stringify({ status: 'ok', data: { file, client: which, server: spec, text } }) + '\n');
      return 0;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Whole or not at all: a reader never sees half a file.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
    if (o.format === 'text') {
      io.stdout(`wrote the "agent-harness" server to ${file}\n`);
      return 0;
    }
    io.stderr(`harness: wrote the "agent-harness" server to ${file}\n`);
    io.stdout(JSON.stringify({ status: 'ok', data: { file, client: which, server: spec } }) + '\n');
    return 0;
  },
};
