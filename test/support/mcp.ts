// An MCP client from the official SDK driving `harness mcp` over real stdio, for the integration
// tests and the bench.
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Readable } from 'node:stream';
import { CLI, childEnv } from './harness-process';

export interface McpWorker {
  client: Client;
  transport: StdioClientTransport;
  /** Everything the server wrote to stderr so far (its log). */
  readonly stderr: string;
  /** Resolves when stderr has shown a line matching `pattern`. */
  stderrMatch(pattern: RegExp): Promise<void>;
  pid: number;
  /** Calls a tool; its answer parsed (ok), or the tool error's text (isError). */
  tool(name: string, args?: Record<string, unknown>): Promise<{ ok: true; data: any } | { ok: false; text: string }>;
  /** Calls a tool that must succeed; its answer parsed. */
  ok(name: string, args?: Record<string, unknown>): Promise<any>;
  /** Calls a tool that must fail; the error's text. */
  error(name: string, args?: Record<string, unknown>): Promise<string>;
}

const live = new Set<McpWorker>();

/**
 * Ends every MCP server these helpers started and still running (SIGKILL: a test that wanted a
 * clean close did it itself). An MCP server outlives its coordinator on purpose, so without this a
 * failed test would leave one behind, and mocha waiting on its pipes.
 */
export async function killMcpWorkers(): Promise<void> {
  await Promise.all(
    [...live].map(async (w) => {
      live.delete(w);
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await w.client.close().catch(() => {});
    }),
  );
}

export async function startMcpWorker(options: { socket: string; workerId: string; cwd: string; args?: string[]; cli?: string }): Promise<McpWorker> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [options.cli ?? CLI, 'mcp', ...(options.args ?? [])],
    env: childEnv({ HARNESS_SOCKET: options.socket, HARNESS_WORKER_ID: options.workerId }) as Record<string, string>,
    cwd: options.cwd,
    stderr: 'pipe',
  });
  let stderr = '';
  const watchers = new Set<() => void>();
  (transport.stderr as Readable | null)?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    watchers.forEach((w) => w());
  });
  const client = new Client({ name: 'harness-test', version: '1' });
  await client.connect(transport);
  const tool: McpWorker['tool'] = async (name, args = {}) => {
    const result = await client.callTool({ name, arguments: args });
    const text = (result.content as Array<{ type: string; text: string }>)[0]?.text ?? '';
    return result.isError ? { ok: false, text } : { ok: true, data: JSON.parse(text) };
  };
  const worker: McpWorker = {
    client,
    transport,
    get stderr() {
      return stderr;
    },
    stderrMatch: (pattern) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!pattern.test(stderr)) return;
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
      }),
    pid: transport.pid!,
    tool,
    async ok(name, args) {
      const r = await tool(name, args);
      if (!r.ok) throw new Error(`${name} failed: ${r.text}`);
      return r.data;
    },
    async error(name, args) {
      const r = await tool(name, args);
      if (r.ok) throw new Error(`${name} succeeded (${JSON.stringify(r.data).slice(0, 300)}), expected a tool error`);
      return r.text;
    },
  };
  live.add(worker);
  return worker;
}
