// The MCP server definition provider, in a real VS Code: where VS Code has the MCP API (1.101+)
// the window offers "Agent Harness", and the server it offers, started the way VS Code starts it,
// works as a worker of this window's coordinator; where VS Code has no such API, the extension
// activates all the same and offers nothing.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createInterface } from 'node:readline';
import * as vscode from 'vscode';
import { TaskAdd, TaskCancel, TaskGet } from '../../../src/protocol/tasks';
import { harness, repoRoot, workspaceFolder } from './support';

const HAS_MCP_API = typeof (vscode as unknown as { lm?: { registerMcpServerDefinitionProvider?: unknown } }).lm?.registerMcpServerDefinitionProvider === 'function';

describe(`the MCP server provider (VS Code ${vscode.version}: ${HAS_MCP_API ? 'has' : 'has no'} MCP API)`, function () {
  this.timeout(60_000);

  it('package.json contributes the provider the extension registers', () => {
    const contributed = vscode.extensions.getExtension('agent-harness.agent-harness')!.packageJSON.contributes.mcpServerDefinitionProviders;
    assert.deepEqual(contributed, [{ id: 'agentHarness.mcp', label: 'Agent Harness' }]);
  });

  it("Spawn Workers' terminals carry HARNESS_MCP_CONFIG: a config that starts harness mcp through the terminal's harness", async () => {
    const h = await harness();
    await h.connection!.ensure();
    const before = new Set(vscode.window.terminals);
    await vscode.commands.executeCommand('agentHarness.spawnWorkers', { count: 1, command: '' });
    const terminal = vscode.window.terminals.find((t) => !before.has(t) && t.name.startsWith('Harness worker'));
    assert.ok(terminal, 'a worker terminal opened');
    try {
      const env = (terminal.creationOptions as vscode.TerminalOptions).env as Record<string, string>;
      const config = JSON.parse(env.HARNESS_MCP_CONFIG!);
      const server = config.mcpServers['agent-harness'];
      assert.deepEqual(server.args, ['mcp']);
      assert.ok(fs.existsSync(server.command), `${server.command} exists`);
      // Started as an agent in that terminal would start it: the terminal's environment.
      const init = await initializeOver(spawn(server.command, server.args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] }));
      assert.equal(init.serverInfo.name, 'agent-harness');
      assert.match(init.instructions, new RegExp(`worker ${env.HARNESS_WORKER_ID}`));
    } finally {
      terminal.dispose();
    }
  });

  if (!HAS_MCP_API) {
    it('activates without the MCP API and offers no server', async () => {
      const h = await harness();
      assert.equal(h.mcpServers, undefined);
    });
    return;
  }

  it('offers "Agent Harness": this extension\'s CLI, this window\'s socket and workspace', async () => {
    const h = await harness();
    assert.ok(h.mcpServers, 'the provider was registered');
    const [server, ...more] = h.mcpServers();
    assert.equal(more.length, 0);
    assert.equal(server!.label, 'Agent Harness');
    assert.deepEqual(server!.args.slice(1), ['mcp', '--workspace', workspaceFolder()]);
    assert.equal(server!.args[0], `${repoRoot()}/dist/cli.js`);
    assert.equal(server!.env.HARNESS_SOCKET, h.connection!.socketPath);
    assert.equal(server!.cwd, workspaceFolder());
  });

  it('the offered server, started as VS Code starts it, claims from this window\'s coordinator and lets go when closed', async () => {
    const h = await harness();
    const api = await h.connection!.ensure();
    const [server] = h.mcpServers!();
    const workerId = String(server!.env.HARNESS_WORKER_ID);
    // Ahead of whatever earlier tests left ready.
    await api.call(TaskAdd, { task_id: 'mcp-provider-task', priority: 1_000_000 });

    const child = spawn(server!.command, server!.args, { cwd: server!.cwd, env: { ...process.env, ...(server!.env as Record<string, string>) }, stdio: ['pipe', 'pipe', 'inherit'] });
    const replies = new Map<number, (r: any) => void>();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line);
      if (message.id !== undefined) replies.get(message.id)?.(message);
    });
    let next = 0;
    const request = (method: string, params: unknown) =>
      new Promise<any>((resolve) => {
        const id = ++next;
        replies.set(id, resolve);
        child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
      });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const init = await request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'vscode-test', version: '1' } });
      assert.equal(init.result.serverInfo.name, 'agent-harness');
      child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
      const claimed = await request('tools/call', { name: 'task_claim', arguments: {} });
      const claim = JSON.parse(claimed.result.content[0].text);
      assert.deepEqual([claim.task.id, claim.task.claimed_by], ['mcp-provider-task', workerId]);
    } finally {
      child.stdin!.end();
    }
    assert.equal(await exited, 0);
    const { task } = await api.call(TaskGet, { task_id: 'mcp-provider-task' });
    assert.deepEqual([task.status, task.claimed_by], ['pending', null], 'closing the session gave the task back');
    await api.call(TaskCancel, { task_id: 'mcp-provider-task' }); // leaves nothing ready for the suites after this one
  });
});

/** Sends initialize to an MCP server on stdio, closes its stdin, and returns the result once it exited. */
async function initializeOver(child: ChildProcess): Promise<any> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const reply = new Promise<any>((resolve) => createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line))));
  // Bounded, and saying what the server logged: a stuck start or stop is a failure with a cause.
  const within = <T>(p: Promise<T>, what: string): Promise<T> =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`harness mcp: ${what} within 20 s; it logged:\n${stderr.slice(-3000)}`)), 20_000))]);
  child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'vscode-test', version: '1' } } }) + '\n');
  try {
    const { result } = await within(reply, 'no reply to initialize');
    child.stdin!.end();
    assert.equal(await within(exited, 'did not exit after its stdin closed'), 0, `the server exits when its stdin closes; it logged:\n${stderr.slice(-3000)}`);
    return result;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
