/**
 * Output of a running command, as one type from the runner to the webview: the runner emits
 * `OutputChunk`s, `run_output` carries them (with the run's id) to the coordinator, which logs
 * them, forwards them as `run:output` events, and returns them from `run_log`; the panel gets
 * them in `output` messages. Imports only zod/mini: the webview bundle shares this file.
 */
import * as z from 'zod/mini';

export const Stream = z.enum(['stdout', 'stderr']);
export type Stream = z.infer<typeof Stream>;

/** Some output of one stream: as the runner emits it, and as a run's log keeps it. */
export const OutputChunk = z.object({ stream: Stream, data: z.string() });
export type OutputChunk = z.infer<typeof OutputChunk>;

/** A chunk of one run's output: `run_output`'s parameters and the panel's output batches. */
export const RunChunk = z.object({ run_id: z.string(), stream: Stream, data: z.string() });
export type RunChunk = z.infer<typeof RunChunk>;

/**
 * A request line may be at most 1 MiB. JSON escaping makes a character at most 6 bytes (a control
 * character as \u00XX), so pieces of this many UTF-16 units always fit in one line with room to spare.
 */
export const MAX_PIECE_UNITS = 128 * 1024;

/** Where to cut `text` to keep at most `max` UTF-16 units, never between a surrogate pair. */
function cutAt(text: string, start: number, max: number): number {
  let end = Math.min(start + Math.max(1, max), text.length);
  const last = text.charCodeAt(end - 1);
  // Keep the pair together (unless the piece would be empty: then the pair goes whole).
  if (end < text.length && last >= 0xd800 && last <= 0xdbff) end = end - 1 > start ? end - 1 : end + 1;
  return end;
}

/**
 * Splits text into pieces of at most `max` UTF-16 units (one more only when `max` is 1 and a
 * surrogate pair must stay whole), never cutting a surrogate pair in two. The one splitter of
 * output and staged plans.
 */
export function splitText(text: string, max = MAX_PIECE_UNITS): string[] {
  const out: string[] = [];
  for (let start = 0; start < text.length; ) {
    const end = cutAt(text, start, max);
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

/** At most `max` units from the start of `text`, not cutting a surrogate pair (may be empty). */
export function headOf(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  const end = cutAt(text, 0, max);
  return end > max ? '' : text.slice(0, end);
}
