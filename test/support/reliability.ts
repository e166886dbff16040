// Shared by the reliability suite (test/reliability/): the short/full switch, small /proc probes,
// bundling a helper script into plain JavaScript so dozens of child processes start fast.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './harness-process';

/** `HARNESS_RELIABILITY=full` runs the long form (npm run test:reliability); anything else the short one. */
export const FULL = process.env.HARNESS_RELIABILITY === 'full';

/** `short` in the short form, `full` in the long one. */
export function scale<T>(short: T, full: T): T {
  return FULL ? full : short;
}

const bundles = new Map<string, string>();

/**
 * Bundles `test/support/<name>.ts` (and what it imports from src/) into one CommonJS file in a
 * temp directory, once per process: `node file.js` starts in tens of milliseconds, where
 * `node --import tsx` would compile on every start.
 */
export function bundleScript(name: string): string {
  const cached = bundles.get(name);
  if (cached) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hrel-bundle-'));
  const outfile = path.join(dir, `${name}.js`);
  esbuild.buildSync({
    entryPoints: [path.join(ROOT, 'test', 'support', `${name}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'error',
  });
  bundles.set(name, outfile);
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return outfile;
}

/** Resident memory of a process in MB (Linux /proc; NaN elsewhere). */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Open file descriptors of a process (Linux /proc; NaN elsewhere). */
export function fdCount(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Seeded, so a failing run can be repeated with HARNESS_SEED.
export { rng } from './rng';

export function seedFromEnv(): number {
  const s = Number(process.env.HARNESS_SEED);
  return Number.isInteger(s) ? s : Math.floor(Math.random() * 2 ** 31);
}
