// The bundled price table: USD per million tokens, for pricing usage that comes without a cost
// (Codex reports tokens only; a worker may report tokens alone). Prices change: the table carries
// the date it was taken, every cost priced from it records that date, and `usage.prices` in
// `.harness/config.json` adds or corrects models without a new release.

/** The day these prices were copied from the providers' published API price lists. */
export const PRICES_AS_OF = '2025-11-24';

/** USD per million tokens. `cached_input`: input read from a cache; `cache_write`: input written to one. */
export interface ModelPrice {
  input: number;
  output: number;
  cached_input?: number | undefined;
  cache_write?: number | undefined;
}

/** Codex's default model, for Codex usage whose command names none (`-m`/`--model`) and no `usage_model`. */
export const CODEX_DEFAULT_MODEL = 'gpt-5-codex';

export const PRICE_TABLE: Readonly<Record<string, ModelPrice>> = {
  // OpenAI (platform.openai.com/docs/pricing, standard tier)
  'gpt-5': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5-codex': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5.1': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5.1-codex': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5.1-codex-mini': { input: 0.25, cached_input: 0.025, output: 2 },
  'gpt-5-mini': { input: 0.25, cached_input: 0.025, output: 2 },
  'gpt-5-nano': { input: 0.05, cached_input: 0.005, output: 0.4 },
  'codex-mini-latest': { input: 1.5, cached_input: 0.375, output: 6 },
  'gpt-4.1': { input: 2, cached_input: 0.5, output: 8 },
  'gpt-4.1-mini': { input: 0.4, cached_input: 0.1, output: 1.6 },
  o3: { input: 2, cached_input: 0.5, output: 8 },
  'o4-mini': { input: 1.1, cached_input: 0.275, output: 4.4 },
  // Anthropic (claude.com/pricing; cache writes at the 5-minute rate)
  'claude-opus-4-5': { input: 5, cached_input: 0.5, cache_write: 6.25, output: 25 },
  'claude-opus-4-1': { input: 15, cached_input: 1.5, cache_write: 18.75, output: 75 },
  'claude-opus-4': { input: 15, cached_input: 1.5, cache_write: 18.75, output: 75 },
  'claude-sonnet-4-5': { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 },
  'claude-sonnet-4': { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 },
  'claude-haiku-4-5': { input: 1, cached_input: 0.1, cache_write: 1.25, output: 5 },
  'claude-3-5-haiku': { input: 0.8, cached_input: 0.08, cache_write: 1, output: 4 },
};

/**
 * The price of a model: by its exact name, else without a provider prefix (`openai/`) or a date
 * suffix (`claude-sonnet-4-5-20250929`, `gpt-5-2025-08-07`). `extra` (from config.json) wins.
 */
export function priceOf(model: string, extra: Readonly<Record<string, ModelPrice>> = {}): ModelPrice | undefined {
  const names = [model, model.toLowerCase()];
  const bare = model.toLowerCase().replace(/^[a-z]+\//, '');
  names.push(bare, bare.replace(/-\d{8}$/, ''), bare.replace(/-\d{4}-\d{2}-\d{2}$/, ''), bare.replace(/\[.*\]$/, ''));
  for (const table of [extra, PRICE_TABLE]) {
    for (const name of names) if (Object.hasOwn(table, name)) return table[name];
  }
  return undefined;
}

export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

/** USD for these tokens at `price` (cache reads and writes at the input rate when the table has no rate for them). */
export function costAt(price: ModelPrice, t: TokenCounts): number {
  const perToken = (usdPerMillion: number) => usdPerMillion / 1e6;
  return (
    t.input_tokens * perToken(price.input) +
    t.output_tokens * perToken(price.output) +
    t.cache_read_tokens * perToken(price.cached_input ?? price.input) +
    t.cache_write_tokens * perToken(price.cache_write ?? price.input)
  );
}
