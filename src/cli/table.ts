// Plain-text layout for --format text: aligned columns, clipped cells, spans of time.

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

/** A span of time, short: 850ms, 42s, 4m58s, 2h05m, 3d04h. */
export function span(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (Math.abs(ms) < 1000) return `${Math.round(Math.abs(ms))}ms`;
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** "12s ago" for a past moment, "in 4m58s" for a future one. */
export function relative(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  return ms >= 0 ? `in ${span(ms)}` : `${span(ms)} ago`;
}

/** A JSON value on one line, clipped. */
export function json(value: unknown, max = 60): string {
  return clip(JSON.stringify(value) ?? 'null', max);
}

/** "1 task", "2 tasks". */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
