// What a command prints. JSON (the default): one document on stdout, `{"status":"ok","data":...}`
// or the error reply, and for an error also its words on stderr. Text (`--format text`): stdout
// carries only the answer, as lines for people (or the one value asked for: a directory, an id);
// an error is one line on stderr and nothing on stdout. The exit status is the same in both.
import { explainError } from '../protocol/error-words';
import { toErrorReply, type Reply } from '../protocol/messages';
import type { GlobalOptions, Io, UsageError } from './context';

export const isText = (o: GlobalOptions): boolean => o.format === 'text';

/** Newlines (a command's output tail, a stack) folded, so an error stays one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' | ').trim();
}

/**
 * Prints a reply as the command's output: JSON, or for --format text, `text` of its data on
 * stdout (an error: one line on stderr). Returns the exit status: 0 ok, 1 error.
 */
export function printReply<T>(reply: Reply<T>, io: Io, o: GlobalOptions, text: (data: T) => string): number {
  if (isText(o)) {
    if (reply.status === 'ok') {
      io.stdout(text(reply.data));
      return 0;
    }
    io.stderr(`harness: ${oneLine(explainError(reply))}\n`);
    return 1;
  }
  io.stdout(JSON.stringify(reply) + '\n');
  if (reply.status === 'error') {
    io.stderr(`harness: ${explainError(reply)}\n`);
    return 1;
  }
  return 0;
}

/** Anything caught, printed as the error reply it maps to. */
export function printError(e: unknown, io: Io, o: GlobalOptions): number {
  return printReply(toErrorReply(e), io, o, () => '');
}

/** A usage error: exit 2. JSON: the USAGE document, then the message and usage on stderr. Text: one line on stderr. */
export function printUsageError(e: UsageError, io: Io, text: boolean): number {
  if (text) {
    const usage = e.usage ? `usage: ${e.usage.split('\n')[0]}` : 'run `harness --help` for usage';
    io.stderr(`harness: ${oneLine(e.message)} (${usage})\n`);
    return 2;
  }
  io.stdout(JSON.stringify({ status: 'error', code: 'USAGE', message: e.message }) + '\n');
  io.stderr(`harness: ${e.message}\n${e.usage ? `usage: ${e.usage}\n` : 'run `harness --help` for usage\n'}`);
  return 2;
}
