// Plain-text layout for --format text: aligned columns, clipped cells, spans of time (worded as
// every view words them: protocol/human-time).
import { formatAgo, formatDuration } from '../protocol/human-time';

/** At most `max` characters, the cut marked with "…". */
export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Rows as lines of aligned columns, each as wide as its widest cell; the last column is not
 * padded (so lines carry no trailing spaces). Every line starts with `indent`.
 */
export function columns(rows: readonly (readonly string[])[], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length))).join('  ').trimEnd() + '\n')
    .join('');
}

/** How long something took: "850 ms" under a second, else as every view says it ("4 min 58 s"). */
export function took(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : formatDuration(ms);
}

/** "12 s ago" for a past moment, "in 4 min 58 s" for a future one. */
export function relative(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  return ms >= 0 ? `in ${formatDuration(ms)}` : formatAgo(-ms);
}

/** A JSON value on one line, clipped. */
export function json(value: unknown, max = 60): string {
  return clip(JSON.stringify(value) ?? 'null', max);
}

/** "1 task", "2 tasks". */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
