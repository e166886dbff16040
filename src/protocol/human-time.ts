/**
 * How every side words a time a person reads: the trees, the panel and the status bar say
 * "4 min ago" and "lease 4 min 44 s" the same way, and keep the exact time for tooltips.
 */

/** "45 s", "4 min 44 s", "2 h 5 min", "3 d 4 h": two units at most, the larger first. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "just now", "12 s ago", "4 min ago", "2 h ago", "3 d ago": one unit, rounded down. */
export function formatAgo(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** The exact local time of an ISO timestamp, for a tooltip: "2025-01-31 14:05:09". */
export function formatExact(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

/** "4 min ago (2025-01-31 14:05:09)": what a tooltip says of a moment. */
export function formatMoment(iso: string, now: number): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${formatAgo(now - t)} (${formatExact(iso)})`;
}
