// Small statistics and table helpers shared by every benchmark section.

/** A figure measured over several runs: the median, with the spread. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = sorted(values);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile, p in [0, 100]. Pass `presorted` to skip the sort for large arrays. */
export function percentile(values: readonly number[], p: number, presorted = false): number {
  if (values.length === 0) return NaN;
  const s = presorted ? values : sorted(values);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const s = sorted(values);
  return { median: median(s), min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** p50 / p99 / max of one run's per-call latencies (milliseconds). */
export interface LatencyStats {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

export function latency(samples: readonly number[]): LatencyStats {
  const s = sorted(samples);
  return { p50: percentile(s, 50, true), p99: percentile(s, 99, true), max: s[s.length - 1] ?? NaN, n: s.length };
}

// ---- formatting ----

/** A number with about three significant digits, thousands separated: 12,345 / 123 / 1.23 / 0.0123. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(2);
}

/** "median (min–max)", or just the median when there was one run or no spread. */
export function fmt(s: Summary | undefined, unit = ''): string {
  if (!s || s.n === 0) return '-';
  const m = `${num(s.median)}${unit}`;
  if (s.n === 1 || num(s.min) === num(s.max)) return m;
  return `${m} (${num(s.min)}–${num(s.max)})`;
}

export function count(n: number): string {
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
  /** Printed under the table. */
  notes?: string[];
}

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function renderTable(t: Table): string {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [t.title, line(t.columns), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of t.rows) out.push(line(r));
  for (const n of t.notes ?? []) out.push(`  ${n}`);
  return out.join('\n');
}
