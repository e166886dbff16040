// `harness mcp`: a stdio MCP server (the official SDK's low-level Server, so the tool list and
// its schemas are exactly what tools.ts generates from the catalog) that forwards every tool
// call to the workspace's coordinator through a WorkerSession. stdout is the protocol; every
// log line goes to stderr.
import { Server } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { explainError } from '../protocol/error-words';
import { ErrorCode, HarnessError, describeError } from '../protocol/errors';
import type { Logger } from '../protocol/log';
import { parse } from '../protocol/validate';
import { EXEC_TOOL_NAME, ExecParams, execTool } from './exec-tool';
import { WorkerSession, type SessionOptions } from './session';
import { listed, type McpTool } from './tools';

export interface McpServerOptions extends SessionOptions {
  tools: readonly McpTool[];
  /** Where exec runs by default, and relative `cwd`s start. */
  workspace: string;
  version: string;
  killGraceMs?: number;
}

function instructions(workerId: string): string {
  return (
    `Agent Harness coordinates workers in this workspace; this session is worker ${workerId}. ` +
    'Take work with task_claim, report with task_progress, finish with task_complete or task_fail. ' +
    'The server renews your leases and keeps fencing tokens: pass task ids only.'
  );
}

/** A failure as an MCP tool error: the code, the message, and what to do (from the words table). */
export function toolError(e: unknown, log: Logger): CallToolResult {
  let code: string = ErrorCode.Internal;
  let text: string;
  if (e instanceof HarnessError) {
    code = e.code;
    text = explainError(e);
  } else {
    // A bug here, not the agent's doing: the stack goes to the log, never to the model.
    log.error(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    text = `internal error: ${describeError(e)}`;
  }
  return { isError: true, content: [{ type: 'text', text: `${code}: ${text}` }] };
}

function answer(data: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }] };
}

/** Serves MCP on stdin/stdout until stdin closes (or a signal); resolves once the session let go. */
export async function serveMcp(options: McpServerOptions): Promise<void> {
  const { log } = options;
  const session = new WorkerSession(options);
  const byName = new Map(options.tools.map((t) => [t.name, t]));
  const server = new Server(
    { name: 'agent-harness', title: 'Agent Harness', version: options.version },
    { capabilities: { tools: {} }, instructions: instructions(options.workerId) },
  );
  const tools = listed(options.tools);
  server.setRequestHandler('tools/list', () => ({ tools }));
  server.setRequestHandler('tools/call', async (request, ctx) => {
    const { name, arguments: args = {} } = request.params;
    const tool = byName.get(name);
    try {
      if (!tool) {
        throw new HarnessError(ErrorCode.InvalidArgument, `no tool named ${JSON.stringify(name)}; this server has ${[...byName.keys()].join(', ')}`, { field: 'name' });
      }
      if (tool.name !== EXEC_TOOL_NAME) return answer(await session.call(tool, args));
      const token = ctx.mcpReq._meta?.progressToken;
      let sent = -1;
      const result = await execTool(parse(ExecParams, args, EXEC_TOOL_NAME), {
        workspace: options.workspace,
        workerId: options.workerId,
        coordinator: session.coordinator,
        signal: ctx.mcpReq.signal,
        warn: (m) => log.warn(m),
        ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
        ...(token !== undefined
          ? {
              progress: (progress, total, message) => {
                // Progress must grow at every notification; a tick within the same 100 ms is skipped.
                if (progress <= sent) return;
                sent = progress;
                void ctx.mcpReq
                  .notify({ method: 'notifications/progress', params: { progressToken: token, progress, total, message } })
                  .catch((e: unknown) => log.debug(`progress not sent: ${describeError(e)}`));
              },
            }
          : {}),
      });
      return answer(result);
    } catch (e) {
      return toolError(e, log);
    }
  });

  const ended = new Promise<void>((resolve) => {
    const end = (why: string) => {
      log.info(`${why}: releasing leases and deregistering`);
      void session.close().finally(resolve);
    };
    server.onclose = () => end('the MCP client closed stdin');
    process.once('SIGTERM', () => end('SIGTERM'));
    process.once('SIGINT', () => end('SIGINT'));
  });
  session.start();
  await server.connect(new StdioServerTransport());
  log.info(`serving ${options.tools.length} tools over stdio as worker ${options.workerId}`);
  await ended;
  await server.close().catch(() => {});
}
