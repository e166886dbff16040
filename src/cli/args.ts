// Reading a command's arguments: the command line parsed with messages that name the option, the
// value given and what is expected; durations checked against their documented maxima before
// anything is sent; values as numbers, lists and JSON.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { atMostSeconds, inWords, MAX_DURATION_SECONDS, MAX_KILL_AFTER_SECONDS, MAX_WAIT_SECONDS } from '../protocol/durations';
import { describeFileError } from '../protocol/errors';
import type { Json } from '../protocol/model';
import { UsageError } from './context';

/** Option values; a duration option's value is its number of seconds once checked. */
export type Values = Record<string, string | number | boolean | string[] | undefined>;
export type Options = NonNullable<ParseArgsConfig['options']>;

/** A duration option (seconds, fractions allowed): its maximum, what 0 means if it is allowed, what it does. */
export interface Duration {
  max: number;
  /** What 0 means; when absent, 0 is refused. */
  zero?: string;
  /** What the option does, for --help. */
  means: string;
}

export const DURATIONS = {
  timeout: { max: MAX_DURATION_SECONDS, means: 'the lease of the task: a holder that neither heartbeats nor finishes within it loses it' },
  execTimeout: { max: MAX_DURATION_SECONDS, zero: 'no timeout', means: 'end the command (SIGTERM, then SIGKILL) after this long' },
  workTimeout: { max: MAX_DURATION_SECONDS, means: "end a task's command after this long (or the task's own timeout, if shorter)" },
  killAfter: { max: MAX_KILL_AFTER_SECONDS, zero: 'SIGKILL at once', means: 'the grace between SIGTERM and SIGKILL (default 5)' },
  idleExit: { max: MAX_DURATION_SECONDS, zero: 'exit at the first moment no task is ready', means: 'exit after this long without a task' },
  wait: { max: MAX_WAIT_SECONDS, zero: 'fail at once', means: 'how long to wait when it is not available at once (default 0)' },
  messageWait: {
    max: MAX_WAIT_SECONDS,
    zero: 'answer at once',
    means: 'how long to wait for a message when none is pending (default 0); none by then: an empty list, exit 0',
  },
  ttl: { max: MAX_DURATION_SECONDS, means: 'it ends after this long unless renewed' },
  retryDelay: {
    max: MAX_DURATION_SECONDS,
    zero: 'retry at once',
    means: 'after a failure, wait this long before the next attempt, doubling each time (--retry-fixed: the same)',
  },
  retryMaxDelay: { max: MAX_DURATION_SECONDS, means: 'the longest wait between attempts' },
  groupTimeout: { max: MAX_DURATION_SECONDS, zero: 'look once', means: 'give up (TIMEOUT) after this long; default: wait as long as it takes' },
  checkpointInterval: { max: MAX_WAIT_SECONDS, means: 'record a checkpoint of every stream this often' },
  staleTimeout: { max: MAX_WAIT_SECONDS, means: 'a worker not heard from for this long is stale and loses its leases (default 60)' },
  heartbeat: { max: MAX_WAIT_SECONDS, means: "how often the worker's instance heartbeats (default 10)" },
} as const satisfies Record<string, Duration>;

function expectation(d: Duration): string {
  return d.zero !== undefined
    ? `a number of seconds from 0 (${d.zero}) to ${d.max} (${inWords(d.max)})`
    : `a number of seconds, more than 0 and ${atMostSeconds(d.max)}`;
}

/** One line per duration option, for `harness <command> --help`. */
export function durationHelp(durations: Record<string, Duration>): string {
  const names = Object.keys(durations);
  if (names.length === 0) return '';
  const width = Math.max(...names.map((n) => n.length)) + 4;
  const range = (d: Duration) => (d.zero !== undefined ? `0 (${d.zero}) to` : 'more than 0, at most') + ` ${d.max} (${inWords(d.max)})`;
  const lines = names.map((n) => `  ${`--${n} S`.padEnd(width)}  ${durations[n]!.means}; ${range(durations[n]!)}`);
  return ['Durations are in seconds (fractions allowed):', ...lines].join('\n') + '\n';
}

/** Checks one duration option's text; its number of seconds, or a usage error naming it. */
function checkDuration(name: string, text: string, d: Duration, usage: string): number {
  const n = Number(text);
  const ok = text.trim() !== '' && Number.isFinite(n) && (d.zero !== undefined ? n >= 0 : n > 0) && n <= d.max;
  if (!ok) throw new UsageError(`--${name} must be ${expectation(d)}, got ${JSON.stringify(text)}`, usage);
  return n;
}

/** A duration option's checked value (seconds), if given. */
export function secondsOf(v: Values, key: string): number | undefined {
  const x = v[key];
  return typeof x === 'number' ? x : undefined;
}

/** An option that takes a value, by its long name or its short letter. */
function valueOption(options: Options, arg: string): string | undefined {
  if (arg.startsWith('--')) {
    const name = arg.slice(2);
    return options[name]?.type === 'string' ? name : undefined;
  }
  if (/^-[A-Za-z]$/.test(arg)) return Object.entries(options).find(([, o]) => o.short === arg[1] && o.type === 'string')?.[0];
  return undefined;
}

/**
 * `--timeout -5` as `--timeout=-5`: the parser takes a value that starts with a dash for a
 * forgotten value, but a negative number after an option that takes one is its value (then refused
 * by the option's own check, which says what it expects).
 */
function joinNegativeValues(args: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return [...out, ...args.slice(i)];
    const name = valueOption(options, arg);
    const next = args[i + 1];
    if (name !== undefined && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Options every command takes (--nats and --cluster: a cluster reached directly, main.ts; serve's own). */
const GLOBAL_NAMES = new Set(['socket', 'worker', 'format', 'help', 'nats', 'cluster']);

/** The parser's complaint in words that name the option, what came instead, and what it takes. */
function describeParseError(e: Error & { code?: string }, args: readonly string[], options: Options): string {
  const unknown = /^Unknown option '([^']+)'/.exec(e.message)?.[1];
  if (unknown !== undefined) {
    const own = Object.keys(options).filter((n) => !GLOBAL_NAMES.has(n));
    const takes = own.length ? `this command takes ${own.map((n) => `--${n}`).join(', ')}` : 'this command takes no options of its own';
    return `unknown option ${unknown}; ${takes} (and --socket, --worker, --format, --help)`;
  }
  const flag = /^Option '(?:-\w, )?(--[^' ]+)/.exec(e.message)?.[1];
  if (flag !== undefined && /does not take an argument/.test(e.message)) return `${flag} takes no value (it is a switch)`;
  if (flag !== undefined) {
    const short = options[flag.slice(2)]?.short;
    const at = args.findIndex((a) => a === flag || (short !== undefined && a === `-${short}`));
    const next = at >= 0 ? args[at + 1] : undefined;
    return next === undefined || next === '--'
      ? `${flag} needs a value`
      : `${flag} needs a value, got the option ${JSON.stringify(next)}; write ${flag}=${next} if that is the value`;
  }
  return e.message.split('\n')[0]!;
}

/** What the command line of a command is read against. */
export interface CommandLineSpec {
  name: string;
  usage: string;
  options?: Options;
  /** Duration options (seconds): checked against their maxima; their values become numbers. */
  durations?: Record<string, Duration>;
  /** Positional arguments accepted after the command name. */
  positionals?: { min: number; max: number };
}

/**
 * The names of a command's arguments, from its usage line: the upper-case words that are not an
 * option's value (`harness state put KEY JSON [--if-version N]` → KEY, JSON).
 */
function argumentNames(spec: CommandLineSpec): string[] {
  const words = spec.usage.split('\n')[0]!.split(/\s+/).slice(1 + spec.name.split(' ').length);
  return words.filter((w, i) => /^[A-Z][A-Z0-9_=]*(\.\.\.)?$/.test(w) && !/^\[?--?[a-z]/.test(words[i - 1] ?? ''));
}

/**
 * Reads a command's arguments (after its name): parsed, counted, every duration checked (before
 * anything is sent); a mistake is a usage error that names the argument, the value and what it takes.
 */
export function readCommandLine(spec: CommandLineSpec, args: readonly string[], globals: Options): { values: Values; positionals: string[] } {
  const durations = spec.durations ?? {};
  // An option's own entry (a short letter) wins over the plain one a duration gets.
  const options: Options = { ...globals, ...Object.fromEntries(Object.keys(durations).map((k) => [k, { type: 'string' } as const])), ...spec.options };
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: joinNegativeValues(args, options), options, allowPositionals: true, strict: true });
    [values, positionals] = [parsed.values as Values, parsed.positionals];
  } catch (e) {
    throw new UsageError(describeParseError(e as Error, args, options), spec.usage);
  }
  if (values.help) return { values, positionals };
  const { min, max } = spec.positionals ?? { min: 0, max: 0 };
  if (positionals.length < min) throw new UsageError(`missing ${argumentNames(spec)[positionals.length] ?? 'an argument'}`, spec.usage);
  if (positionals.length > max) {
    const takes = max === 0 ? 'no arguments, only options' : `at most ${max}: ${argumentNames(spec).slice(0, max).join(' ')}`;
    const extra = positionals[max]!;
    // `task show schema`: the one word left over is what --id was meant to be.
    const meant = positionals.length === max + 1 && spec.options?.id !== undefined && values.id === undefined && /^[A-Za-z0-9][\w.:-]*$/.test(extra);
    throw new UsageError(`unexpected argument ${JSON.stringify(extra)}; ${spec.name} takes ${takes}${meant ? `; did you mean --id ${extra}?` : ''}`, spec.usage);
  }
  for (const [name, d] of Object.entries(durations)) {
    const text = values[name];
    if (typeof text === 'string') values[name] = checkDuration(name, text, d, spec.usage);
  }
  return { values, positionals };
}

/** `--format text` (or `--format=text`) among the arguments, before any `--`: known before parsing, so even a usage error is text. */
export function asksForText(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--format=text' || (argv[i] === '--format' && argv[i + 1] === 'text')) return true;
  }
  return false;
}

export function str(v: Values, key: string): string | undefined {
  const x = v[key];
  return typeof x === 'string' ? x : undefined;
}

export function required(v: Values, key: string, usage: string): string {
  const x = str(v, key);
  if (x === undefined || x === '') throw new UsageError(`--${key} is required`, usage);
  return x;
}

export function integer(v: Values, key: string, usage: string): number | undefined {
  const x = str(v, key);
  if (x === undefined) return undefined;
  if (!/^-?\d+$/.test(x)) throw new UsageError(`--${key} must be a whole number, got ${JSON.stringify(x)}`, usage);
  return Number(x);
}

/** A repeatable option's values (`--capability a --capability b`). */
export function list(v: Values, key: string): string[] | undefined {
  const x = v[key];
  return Array.isArray(x) ? x : typeof x === 'string' ? [x] : undefined;
}

/** `what` (an option, or an argument's name) parsed as JSON; a usage error names it, the text and the way to give text. */
export function jsonArg(text: string, what: string, usage: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    const reason = (e as Error).message.replace(/^Unexpected token '(.)', ".*" is not valid JSON$/s, "unexpected '$1'");
    const clip = text.length > 60 ? `${text.slice(0, 57)}...` : text;
    // Text that was meant as a string is the common mistake; broken JSON (an object, a list) is not.
    const hint = /^\s*[[{]/.test(text) ? '' : `; a string is JSON in double quotes: '${JSON.stringify(clip)}'`;
    throw new UsageError(`${what} must be JSON, got ${JSON.stringify(clip)} (${reason})${hint}`, usage);
  }
}

/** With --shell, the command is one command line for the shell: several words are refused before anything runs. */
export function checkShellCommandLine(v: Values, argv: readonly string[], usage: string): void {
  if (v.shell && argv.length !== 1) throw new UsageError(`--shell takes exactly one command line, quoted as one argument; got ${argv.length} arguments`, usage);
}

/**
 * A file named on the command line (`-`: stdin), as text. One that cannot be read is a usage
 * error saying why in words (`cannot read plan file /x/p.yaml: no such file`), before anything is sent.
 */
export function readFileArg(file: string, what: string, cwd: string, usage: string): { name: string; text: string } {
  const name = file === '-' ? 'stdin' : path.resolve(cwd, file);
  try {
    return { name, text: fs.readFileSync(file === '-' ? 0 : name, 'utf8') };
  } catch (e) {
    throw new UsageError(`cannot read ${what}${what ? ' ' : ''}${name}: ${describeFileError(e)}`, usage);
  }
}
