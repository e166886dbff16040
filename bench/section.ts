import type { Table } from './stats';

export interface BenchOptions {
  /** A fast smoke run: small sizes, one run. */
  quick: boolean;
  /** Runs per figure; each figure is reported as the median over them, with min–max. */
  runs: number;
  /** Path of the bench bundle itself, for the child processes a section spawns. */
  self: string;
  /** The repository root. */
  root: string;
  /** Another checkout's root (built), measured beside this one where a section supports it. */
  baseline?: string;
}

export interface SectionResult {
  tables: Table[];
  /** Everything measured, raw samples included: goes into the JSON report. */
  data: unknown;
}

/**
 * One benchmark section (core, socket, exec, ...): `node dist/bench.js <name>` runs it, `all`
 * runs every section in order. `commands` are entry points for child processes the section
 * spawns (e.g. `open-probe DIR`), dispatched by their first argument.
 */
export interface Section {
  name: string;
  description: string;
  run(options: BenchOptions): Promise<SectionResult>;
  commands?: Record<string, (args: string[]) => Promise<void>>;
}
