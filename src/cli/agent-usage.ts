// Usage and cost read from an agent's own JSON output, for `harness work --usage claude|codex`.
//
// Claude Code (`claude -p ... --output-format json` or `stream-json`) ends with a `result`
// message: `total_cost_usd`, `session_id`, `usage` (the main conversation only) and `modelUsage`
// per model (subagents included), which is what is kept.
// Codex (`codex exec --json`) prints events; each `turn.completed` carries `usage`
// (`input_tokens` including `cached_input_tokens`, `output_tokens`) and no cost: the coordinator
// prices the tokens from its dated price table, by the model given or named in the command.
import type { UsageInput } from '../protocol/usage';
import { UsageInput as UsageSchema } from '../protocol/usage';

export type UsageFormat = 'claude' | 'codex';

/** A line longer than this is not a usage record (it is skipped, not kept). */
const MAX_LINE = 16 * 1024 * 1024;

/** Collects an agent's stdout as it streams and reads the usage out of it at the end. */
export interface AgentUsageReader {
  push(text: string): void;
  /** The usage found, or undefined with the reason it is missing. */
  end(): { usage: UsageInput } | { usage?: undefined; missing: string };
}

type Json = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
const int = (v: unknown): number | undefined => {
  const n = num(v);
  return n === undefined ? undefined : Math.round(n);
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);

/** Splits streamed text into lines and hands each JSON object line to `onObject`. */
class JsonLines {
  private partial = '';
  private skipping = false;

  constructor(private readonly onObject: (o: Json) => void) {}

  push(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.partial += text.slice(start);
    if (this.partial.length > MAX_LINE) {
      this.partial = '';
      this.skipping = true;
    }
  }

  end(): void {
    if (this.partial) this.line('');
  }

  private line(rest: string): void {
    const line = (this.partial + rest).trim();
    this.partial = '';
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    if (!line.startsWith('{')) return;
    try {
      const o = obj(JSON.parse(line));
      if (o) this.onObject(o);
    } catch {
      // Not JSON after all (an agent's free text): not a usage record.
    }
  }
}

function checked(usage: UsageInput): { usage: UsageInput } | { missing: string } {
  const parsed = UsageSchema.safeParse(usage);
  return parsed.success ? { usage: parsed.data } : { missing: `the usage it printed is out of range (${parsed.error.issues[0]?.message ?? 'invalid'})` };
}

/** Claude Code's final `result` message as usage. */
export function claudeResultUsage(result: Json): UsageInput {
  const models: NonNullable<UsageInput['models']> = {};
  for (const [name, value] of Object.entries(obj(result.modelUsage) ?? {})) {
    const m = obj(value);
    if (!m) continue;
    models[name] = {
      input_tokens: int(m.inputTokens),
      output_tokens: int(m.outputTokens),
      cache_read_tokens: int(m.cacheReadInputTokens),
      cache_write_tokens: int(m.cacheCreationInputTokens),
      cost_usd: num(m.costUSD),
    };
  }
  const usage = obj(result.usage);
  const hasModels = Object.keys(models).length > 0;
  return {
    agent: 'claude-code',
    source: 'claude-result',
    cost_usd: num(result.total_cost_usd),
    session_id: str(result.session_id),
    // `usage` alone misses what subagents used: the per-model figures are the whole attempt's.
    ...(hasModels
      ? { models }
      : {
          input_tokens: int(usage?.input_tokens),
          output_tokens: int(usage?.output_tokens),
          cache_read_tokens: int(usage?.cache_read_input_tokens),
          cache_write_tokens: int(usage?.cache_creation_input_tokens),
        }),
  };
}

export function claudeUsageReader(): AgentUsageReader {
  let result: Json | undefined;
  const lines = new JsonLines((o) => {
    if (o.type === 'result') result = o;
  });
  return {
    push: (text) => lines.push(text),
    end: () => {
      lines.end();
      if (!result) return { missing: 'it printed no Claude Code result message (run it with --output-format json or stream-json)' };
      return checked(claudeResultUsage(result));
    },
  };
}

/** `-m MODEL`, `--model MODEL` or `--model=MODEL` in a command line. */
export function modelInCommand(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-m' || a === '--model') && argv[i + 1]) return argv[i + 1];
    if (a.startsWith('--model=')) return a.slice('--model='.length) || undefined;
  }
  return undefined;
}

export function codexUsageReader(model: string | undefined): AgentUsageReader {
  let turns = 0;
  let input = 0;
  let cached = 0;
  let output = 0;
  let thread: string | undefined;
  const lines = new JsonLines((o) => {
    if (o.type === 'thread.started') thread = str(o.thread_id) ?? thread;
    if (o.type !== 'turn.completed') return;
    const u = obj(o.usage);
    if (!u) return;
    turns++;
    input += int(u.input_tokens) ?? 0;
    cached += int(u.cached_input_tokens) ?? 0;
    output += int(u.output_tokens) ?? 0;
  });
  return {
    push: (text) => lines.push(text),
    end: () => {
      lines.end();
      if (turns === 0) return { missing: 'it printed no Codex turn.completed event (run it as `codex exec --json`)' };
      return checked({
        agent: 'codex',
        source: 'codex-turns',
        ...(model ? { model } : {}),
        ...(thread ? { session_id: thread } : {}),
        // Codex counts cached input within input_tokens; here input is what was not cached.
        input_tokens: Math.max(0, input - cached),
        cache_read_tokens: Math.min(cached, input),
        output_tokens: output,
      });
    },
  };
}

/** The reader for `--usage FORMAT`, for a command line `argv` (Codex's model may be named in it). */
export function usageReader(format: UsageFormat, argv: readonly string[], model?: string): AgentUsageReader {
  return format === 'claude' ? claudeUsageReader() : codexUsageReader(model ?? modelInCommand(argv));
}
