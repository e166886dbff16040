// Webhook intake, measured in one process over real HTTP on loopback and a real FileStore: the
// latency of one signed GitHub delivery (signature, rules, the task and the delivery id made
// durable, then the answer), one at a time and 50 at once, and what the signature check alone costs.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Coordinator, DEFAULT_CONFIG } from '../src/core/coordinator';
import { silentLogger } from '../src/core/log';
import { FileStore } from '../src/core/file-store';
import { WebhookListener } from '../src/webhooks/listener';
import { signGitHub, verifyGitHubSignature } from '../src/webhooks/signatures';
import { scratchBase } from './core';
import type { BenchOptions, Section, SectionResult } from './section';
import { fmt, latency, num, summarize, type Table } from './stats';
import { readHarnessConfig } from '../src/config/harness';

const SECRET = 'bench-secret';

function delivery(n: number): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    action: 'labeled',
    label: { name: 'agent' },
    issue: { number: n, title: `Issue ${n}`, body: 'x'.repeat(2000), html_url: `https://github.com/acme/widgets/issues/${n}`, labels: [{ name: 'agent' }] },
    repository: { full_name: 'acme/widgets' },
    sender: { login: 'octocat' },
  });
  const headers = { 'content-type': 'application/json', 'x-github-event': 'issues', 'x-github-delivery': `bench-${n}`, 'x-hub-signature-256': signGitHub(body, SECRET) };
  return { body, headers };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(port: number, n: number): Promise<number> {
  const { body, headers } = delivery(n);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path: '/github', method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 201 ? resolve(performance.now() - t0) : reject(new Error(`delivery ${n}: HTTP ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface RunResult {
  serial_ms: number[];
  concurrent_wall_ms: number;
  concurrent_ms: number[];
}

async function oneRun(root: string, serial: number, concurrent: number): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(scratchBase(root).base, 'webhooks-'));
  fs.mkdirSync(path.join(dir, '.harness'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, '.harness', 'config.json'),
    JSON.stringify({ webhooks: { github: { secret: { env: 'BENCH_GH_SECRET' }, rules: [{ name: 'agent', on: 'issues.labeled', label: 'agent' }] } } }),
  );
  const coordinator = new Coordinator(await FileStore.open({ dir: path.join(dir, '.harness') }), DEFAULT_CONFIG);
  const stateDir = path.join(dir, '.harness');
  const listener = await WebhookListener.start({ coordinator, workspace: dir, settings: () => readHarnessConfig(stateDir).webhooks, log: silentLogger, port: 0, env: { BENCH_GH_SECRET: SECRET } });
  try {
    const { port } = listener.address;
    const serialMs: number[] = [];
    for (let i = 1; i <= serial; i++) serialMs.push(await post(port, i));
    const t0 = performance.now();
    const concurrentMs = await Promise.all(Array.from({ length: concurrent }, (_, i) => post(port, serial + 1 + i)));
    const wall = performance.now() - t0;
    if (coordinator.listTasks().length !== serial + concurrent) throw new Error('a delivery made no task');
    return { serial_ms: serialMs, concurrent_wall_ms: wall, concurrent_ms: concurrentMs };
  } finally {
    await listener.close();
    await coordinator.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Microseconds per check of a signature over a body of `bytes`. */
function signatureCost(bytes: number, iterations: number): number {
  const body = Buffer.alloc(bytes, 0x61);
  const secret = Buffer.from(SECRET);
  const header = signGitHub(body, secret);
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) if (!verifyGitHubSignature(body, header, secret)) throw new Error('signature');
  return ((performance.now() - t0) * 1000) / iterations;
}

export const webhooksSection: Section = {
  name: 'webhooks',
  description: 'signed GitHub deliveries over HTTP into durable tasks: latency one at a time and 50 at once',
  async run(options: BenchOptions): Promise<SectionResult> {
    const serial = options.quick ? 20 : 200;
    const concurrent = options.quick ? 50 : 50;
    const runs: RunResult[] = [];
    for (let r = 0; r < options.runs; r++) runs.push(await oneRun(options.root, serial, concurrent));
    const p50 = summarize(runs.map((r) => latency(r.serial_ms).p50));
    const p99 = summarize(runs.map((r) => latency(r.serial_ms).p99));
    const burstWall = summarize(runs.map((r) => r.concurrent_wall_ms));
    const burstP99 = summarize(runs.map((r) => latency(r.concurrent_ms).p99));
    const perSecond = summarize(runs.map((r) => (concurrent * 1000) / r.concurrent_wall_ms));
    const sig = [1024, 1024 * 1024].map((bytes) => ({ bytes, us: summarize(Array.from({ length: options.runs }, () => signatureCost(bytes, bytes > 4096 ? 200 : 20_000))) }));
    const table: Table = {
      title: 'Webhook intake (GitHub issues.labeled, ~2 kB body, in-process listener, FileStore)',
      columns: ['measure', 'value'],
      rows: [
        [`one at a time: p50 of ${serial}`, fmt(p50, ' ms')],
        [`one at a time: p99 of ${serial}`, fmt(p99, ' ms')],
        [`${concurrent} at once: wall time`, fmt(burstWall, ' ms')],
        [`${concurrent} at once: p99 answer`, fmt(burstP99, ' ms')],
        [`${concurrent} at once: deliveries/s`, fmt(perSecond)],
        ...sig.map(({ bytes, us }) => [`signature check, ${num(bytes / 1024)} KiB body`, fmt(us, ' µs')]),
      ],
      notes: ['each answer waits for the task and the delivery id to be on disk (fdatasync, shared by concurrent deliveries)'],
    };
    return { tables: [table], data: { serial, concurrent, runs, signature_us: sig } };
  },
};
