// Replies whose rows carry JSON of the caller's making (message bodies, shared values: each up to
// a request line, 1 MiB) would otherwise be as big as everything stored: 1000 messages of 1 MiB in
// one message_receive is a gigabyte built in memory for one small request.

/** Rows carrying caller-made JSON stop at about this many bytes per reply. */
export const REPLY_BUDGET_BYTES = 4 * 1024 * 1024;

/** The first rows that fit in `budget` bytes of JSON (always at least one), and whether any were left out. */
export function withinBudget<T>(rows: readonly T[], budget = REPLY_BUDGET_BYTES): { rows: T[]; truncated: boolean } {
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    bytes += JSON.stringify(rows[i]).length;
    if (bytes > budget && i > 0) return { rows: rows.slice(0, i), truncated: true };
  }
  return { rows: [...rows], truncated: false };
}
