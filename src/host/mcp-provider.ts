import * as path from 'node:path';
import * as vscode from 'vscode';

/** The id under `contributes.mcpServerDefinitionProviders` in package.json. */
export const MCP_PROVIDER_ID = 'agentHarness.mcp';
export const MCP_SERVER_LABEL = 'Agent Harness';

/**
 * The part of VS Code's MCP API (1.100 and later; 1.101 made it final) used here. Looked up at run time, not imported
 * from the typings: the extension supports older VS Code, which has none of it and still activates.
 */
interface McpStdioServerDefinition {
  readonly label: string;
  command: string;
  args: string[];
  env: Record<string, string | number | null>;
  cwd?: vscode.Uri;
}
type McpStdioServerDefinitionClass = new (
  label: string,
  command: string,
  args?: string[],
  env?: Record<string, string | number | null>,
  version?: string,
) => McpStdioServerDefinition;
interface McpLm {
  registerMcpServerDefinitionProvider(
    id: string,
    provider: {
      onDidChangeMcpServerDefinitions?: vscode.Event<void>;
      provideMcpServerDefinitions(token: vscode.CancellationToken): vscode.ProviderResult<McpStdioServerDefinition[]>;
      resolveMcpServerDefinition?(server: McpStdioServerDefinition, token: vscode.CancellationToken): vscode.ProviderResult<McpStdioServerDefinition>;
    },
  ): vscode.Disposable;
}

export interface McpProviderOptions {
  context: vscode.ExtensionContext;
  folder: string;
  socketPath: string;
  /** The worker id agents in this window work as (distinct from the editor's own). */
  workerId: string;
  /** Starts (or joins) the coordinator before VS Code launches the server. */
  ensureCoordinator: () => Promise<unknown>;
  log: vscode.LogOutputChannel;
}

/** What the provider offers, as plain data (for the extension's API, and its tests). */
export interface McpServerOffer {
  label: string;
  command: string;
  args: string[];
  env: Record<string, string | number | null>;
  cwd: string | undefined;
}

/**
 * Offers `harness mcp`, wired to this window's coordinator socket and this extension's CLI, to
 * Copilot agent mode and any other MCP client inside VS Code, as "Agent Harness". Returns
 * undefined (and logs why) where VS Code has no MCP API.
 */
export function registerMcpProvider(options: McpProviderOptions): { disposable: vscode.Disposable; offers: () => McpServerOffer[] } | undefined {
  const api = vscode as unknown as { lm?: Partial<McpLm>; McpStdioServerDefinition?: McpStdioServerDefinitionClass };
  const Definition = api.McpStdioServerDefinition;
  if (typeof api.lm?.registerMcpServerDefinitionProvider !== 'function' || typeof Definition !== 'function') {
    options.log.info(`VS Code ${vscode.version} has no MCP server API: run \`harness mcp config vscode --write\` to list Agent Harness in .vscode/mcp.json instead`);
    return undefined;
  }
  const { context, folder } = options;
  const changed = new vscode.EventEmitter<void>();
  const cli = path.join(context.extensionPath, 'dist', 'cli.js');
  const version = String((context.extension.packageJSON as { version?: string }).version ?? '0');
  const provide = (): McpStdioServerDefinition[] => {
    // In Restricted Mode nothing runs, the MCP server included.
    if (!vscode.workspace.isTrusted) return [];
    const server = new Definition(
      MCP_SERVER_LABEL,
      process.execPath, // VS Code's own runtime: Electron, running as Node with this variable
      [cli, 'mcp', '--workspace', folder],
      { ELECTRON_RUN_AS_NODE: '1', HARNESS_SOCKET: options.socketPath, HARNESS_WORKSPACE: folder, HARNESS_WORKER_ID: options.workerId },
      version,
    );
    server.cwd = vscode.Uri.file(folder);
    return [server];
  };
  let registration: vscode.Disposable;
  try {
    registration = api.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
      onDidChangeMcpServerDefinitions: changed.event,
      provideMcpServerDefinitions: provide,
      resolveMcpServerDefinition: async (server) => {
        await options.ensureCoordinator();
        return server;
      },
    });
  } catch (e) {
    // A VS Code whose MCP API is not the one this extension knows (e.g. one that wants another
    // contribution point) refuses it: the rest of the extension works all the same.
    changed.dispose();
    options.log.warn(`VS Code ${vscode.version} refused the MCP server provider (${e instanceof Error ? e.message : String(e)}); use \`harness mcp config vscode --write\` instead`);
    return undefined;
  }
  options.log.info(`offering the MCP server "${MCP_SERVER_LABEL}" to agents (worker ${options.workerId}, socket ${options.socketPath})`);
  return {
    disposable: vscode.Disposable.from(registration, changed, vscode.workspace.onDidGrantWorkspaceTrust(() => changed.fire())),
    offers: () => provide().map((d) => ({ label: d.label, command: d.command, args: [...d.args], env: { ...d.env }, cwd: d.cwd?.fsPath })),
  };
}
