// Benchmark dispatcher: `node dist/bench.js [SECTION...|all] [--quick] [--runs N] [--json FILE]`.
// No section named means all of them. Each section lives in its own file and registers below.

import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convergenceSection } from './convergence';
import { coreSection } from './core';
import { engineSection } from './engine';
import { primitivesSection } from './primitives';
import { execSection } from './exec';
import { floodSection } from './flood';
import { mcpSection } from './mcp';
import { peersSection } from './peers';
import { socketSection } from './socket';
import { startupSection } from './startup';
import { viewsSection } from './views';
import { runSections } from './run-sections';
import { killServeChildren } from './serve';
import { webhooksSection } from './webhooks';
import type { BenchOptions, Section } from './section';

const SECTIONS: Section[] = [engineSection, coreSection, socketSection, floodSection, startupSection, execSection, primitivesSection, convergenceSection, webhooksSection, mcpSection, peersSection, viewsSection];

const USAGE = `usage: node dist/bench.js [SECTION...|all] [--quick] [--runs N] [--json FILE] [--baseline DIR]
  sections: ${SECTIONS.map((s) => `${s.name} (${s.description})`).join('; ')}
  --quick      a fast smoke run: small sizes, 1 run
  --runs N     runs per figure (default 3; --quick: 1)
  --json FILE  where to write the JSON report (default bench-results/bench-<time>.json)
  --baseline DIR  another checkout, built (npm run build), measured beside this one in the engine section`;

function gitDescribe(root: string): string | undefined {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<void> {
  // Child-process entry points of the sections come first: `open-probe DIR`, ...
  const command = argv[0] && SECTIONS.find((s) => s.commands?.[argv[0]!])?.commands?.[argv[0]];
  if (command) {
    await command(argv.slice(1));
    return;
  }

  let quick = false;
  let runs: number | undefined;
  let jsonFile: string | undefined;
  let baseline: string | undefined;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--runs') runs = Number(argv[++i]);
    else if (a === '--json') jsonFile = argv[++i];
    else if (a === '--baseline') baseline = argv[++i];
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      return;
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}\n${USAGE}`);
    else names.push(a);
  }
  if (runs !== undefined && !(Number.isInteger(runs) && runs > 0)) throw new Error(`--runs needs a positive integer\n${USAGE}`);
  if (jsonFile === undefined && argv.includes('--json')) throw new Error(`--json needs a file name\n${USAGE}`);
  if (baseline === undefined && argv.includes('--baseline')) throw new Error(`--baseline needs a directory\n${USAGE}`);

  const selected =
    names.length === 0 || names.includes('all')
      ? SECTIONS
      : names.map((n) => {
          const s = SECTIONS.find((x) => x.name === n);
          if (!s) throw new Error(`unknown section ${n}\n${USAGE}`);
          return s;
        });

  const root = path.resolve(__dirname, '..');
  const options: BenchOptions = {
    quick,
    runs: runs ?? (quick ? 1 : 3),
    self: path.resolve(process.argv[1]!),
    root,
    ...(baseline ? { baseline: path.resolve(baseline) } : {}),
  };
  const startedAt = new Date();
  const cpus = os.cpus();
  const host = {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? 'unknown',
    total_mem_mb: Math.round(os.totalmem() / 1024 / 1024),
    git: gitDescribe(root),
    load_avg_start: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
  console.log(
    `Agent Harness benchmarks — ${startedAt.toISOString()} — node ${host.node}, ${host.cpus} × ${host.cpu_model}, ` +
      `${host.total_mem_mb} MB, git ${host.git ?? '?'}${quick ? ' — QUICK (smoke run, not for comparison)' : ''}`,
  );
  const busy = () => {
    const load = os.loadavg()[0]!;
    return load > host.cpus * 0.75 ? ` — WARNING: the machine is busy (load ${load.toFixed(1)} on ${host.cpus} CPUs); figures are noisy` : '';
  };
  console.log(`load average ${host.load_avg_start.join(' ')}${busy()}`);

  const { sections: report, failed } = await runSections(selected, options, (text) => console.log(text), killServeChildren);

  const loadEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
  console.log(`\nload average at the end ${loadEnd.join(' ')}${busy()}`);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const out = path.resolve(jsonFile ?? path.join(root, 'bench-results', `bench-${stamp}.json`));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({ started_at: startedAt.toISOString(), options: { quick, runs: options.runs, sections: selected.map((s) => s.name) }, host: { ...host, load_avg_end: loadEnd }, failed, sections: report }, null, 2)}\n`);
  console.log(`\nJSON written to ${path.relative(process.cwd(), out) || out}`);
  if (failed.length > 0) {
    console.error(`\nFAILED: ${failed.join(', ')} (the other sections' figures are above and in the JSON)`);
    process.exitCode = 1;
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
