// Runs the selected sections one after another and gathers their figures for the report. A
// section that fails is reported as failed, with its error; the others' figures are kept.
import type { BenchOptions, Section } from './section';
import { renderTable } from './stats';

export interface SectionsReport {
  /** Per section: its seconds, tables and data, or its seconds and the error that stopped it. */
  sections: Record<string, unknown>;
  /** The sections that failed, by name. */
  failed: string[];
}

/** `afterFailure` cleans up what a failed section left running, before the next one measures. */
export async function runSections(
  sections: readonly Section[],
  options: BenchOptions,
  print: (text: string) => void,
  afterFailure: () => Promise<void> = async () => {},
): Promise<SectionsReport> {
  const report: Record<string, unknown> = {};
  const failed: string[] = [];
  for (const section of sections) {
    const t = performance.now();
    try {
      const result = await section.run(options);
      const seconds = (performance.now() - t) / 1000;
      print(`\n== ${section.name} (${seconds.toFixed(1)} s) ==`);
      for (const table of result.tables) print(`\n${renderTable(table)}`);
      report[section.name] = { seconds, tables: result.tables, data: result.data };
    } catch (e) {
      const seconds = (performance.now() - t) / 1000;
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      print(`\n== ${section.name} FAILED after ${seconds.toFixed(1)} s ==\n${error}`);
      report[section.name] = { seconds, error };
      failed.push(section.name);
      await afterFailure();
    }
  }
  return { sections: report, failed };
}
