// The MCP benchmark: what `harness mcp` costs an agent. The size of the tool list an agent carries
// on every turn (default and --tools all), and what a tool call costs end to end (MCP client →
// stdio → harness mcp → socket → harness serve) next to the same request sent raw on the socket,
// in the same run, against the same coordinator. Also the CLI's start-up (spawn → exit) and the
// bundle sizes, which the MCP SDK must not make worse for the commands that do not use it.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { HarnessClient } from '../src/client/client';
import { TaskAdd, TaskGet } from '../src/protocol/tasks';
import { scratchBase } from './core';
import type { BenchOptions, Section, SectionResult } from './section';
import { cleanEnv, startServe } from './serve';
import { fmt, latency, num, summarize, type Table } from './stats';

const run = promisify(execFile);
const CALLS = 1000;
const QUICK_CALLS = 100;
/** Calls alternate between the two paths in blocks this long, so drift in machine load hits both. */
const BLOCK = 50;
const CLI_STARTS = 15;

async function mcpClient(root: string, socket: string, dir: string, tools: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [path.join(root, 'dist', 'cli.js'), 'mcp', '--tools', tools],
    env: cleanEnv({ HARNESS_SOCKET: socket, HARNESS_WORKER_ID: `bench-${tools}` }) as Record<string, string>,
    cwd: dir,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'harness-bench', version: '1' });
  await client.connect(transport);
  return client;
}

async function listBytes(client: Client): Promise<{ bytes: number; tools: number; largest: string }> {
  const { tools } = await client.listTools();
  const sizes = tools.map((t) => [t.name, Buffer.byteLength(JSON.stringify(t))] as const).sort((a, b) => b[1] - a[1]);
  return {
    bytes: Buffer.byteLength(JSON.stringify({ tools })),
    tools: tools.length,
    largest: sizes.slice(0, 3).map(([n, b]) => `${n} ${num(b / 1024)} KB`).join(', '),
  };
}

async function runMcp(options: BenchOptions): Promise<SectionResult> {
  const calls = options.quick ? QUICK_CALLS : CALLS;
  const { base, where } = scratchBase(options.root);
  const dir = fs.mkdtempSync(path.join(base, 'harness-bench-mcp-'));
  const socket = path.join(dir, 's.sock');
  const serve = await startServe(options.root, dir, socket);
  const clients: Client[] = [];
  try {
    const byDefault = await mcpClient(options.root, socket, dir, 'default');
    const everything = await mcpClient(options.root, socket, dir, 'all');
    clients.push(byDefault, everything);
    const lists = { default: await listBytes(byDefault), all: await listBytes(everything) };

    const raw = await HarnessClient.connect(socket);
    await raw.call(TaskAdd, { task_id: 'probe', description: 'read by every call' });
    const viaRaw: number[] = [];
    const viaMcp: number[] = [];
    for (let done = 0; done < calls; done += BLOCK) {
      for (let i = 0; i < BLOCK; i++) {
        const t = performance.now();
        await raw.call(TaskGet, { task_id: 'probe' });
        viaRaw.push(performance.now() - t);
      }
      for (let i = 0; i < BLOCK; i++) {
        const t = performance.now();
        const r = await byDefault.callTool({ name: 'task_get', arguments: { task_id: 'probe' } });
        viaMcp.push(performance.now() - t);
        if (r.isError) throw new Error(`task_get through MCP failed: ${JSON.stringify(r.content)}`);
      }
    }
    raw.close();

    const cli = path.join(options.root, 'dist', 'cli.js');
    const starts: number[] = [];
    for (let i = 0; i < CLI_STARTS; i++) {
      const t = performance.now();
      await run(process.execPath, [cli, 'worker-id'], { env: cleanEnv({ HARNESS_WORKER_ID: 'bench' }) });
      starts.push(performance.now() - t);
    }
    const size = (f: string) => fs.statSync(path.join(options.root, 'dist', f)).size;
    const bundles = { cli: size('cli.js'), mcp: size('mcp.js'), extension: size('extension.js') };

    const r = latency(viaRaw);
    const m = latency(viaMcp);
    const tables: Table[] = [
      {
        title: 'MCP tool list: what an agent carries in its context on every turn',
        columns: ['tools', 'count', 'tools/list bytes', 'largest'],
        rows: [
          ['default', String(lists.default.tools), lists.default.bytes.toLocaleString('en-US'), lists.default.largest],
          ['--tools all', String(lists.all.tools), lists.all.bytes.toLocaleString('en-US'), lists.all.largest],
        ],
        notes: ['bytes of the JSON of the tools/list result (names, descriptions, input schemas); aim: default under 8 KB'],
      },
      {
        title: `A tool call against a raw socket request: task_get, ${calls} calls each, alternating in blocks of ${BLOCK}`,
        columns: ['path', 'p50 ms', 'p99 ms', 'max ms'],
        rows: [
          ['raw socket (HarnessClient → harness serve)', num(r.p50), num(r.p99), num(r.max)],
          ['MCP (SDK client → stdio → harness mcp → socket → harness serve)', num(m.p50), num(m.p99), num(m.max)],
          ['MCP overhead per call (p50 difference)', num(m.p50 - r.p50), '-', '-'],
        ],
        notes: [`MCP p50 / raw p50: ${num(m.p50 / r.p50)}×; the same coordinator, the same run; scratch under ${where}`],
      },
      {
        title: 'The CLI with the MCP server in it',
        columns: ['what', 'value'],
        rows: [
          [`\`harness worker-id\`, spawn → exit, median of ${CLI_STARTS} (min–max)`, `${fmt(summarize(starts))} ms`],
          ['dist/cli.js', `${num(bundles.cli / 1024)} KB`],
          ['dist/mcp.js (the MCP server, loaded by `harness mcp` only)', `${num(bundles.mcp / 1024)} KB`],
          ['dist/extension.js (no MCP SDK in it)', `${num(bundles.extension / 1024)} KB`],
        ],
        notes: ['the MCP server and its SDK are a bundle of their own that only `harness mcp` loads; sizes are of this build (npm run bench builds without --production)'],
      },
    ];
    return { tables, data: { lists, raw_ms: viaRaw, mcp_ms: viaMcp, raw: r, mcp: m, cli_start_ms: starts, bundles } };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await serve.stop('SIGTERM').catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const mcpSection: Section = {
  name: 'mcp',
  description: 'harness mcp: the default tool list size, a tool call against a raw socket request, CLI start-up and bundle sizes',
  run: runMcp,
};
