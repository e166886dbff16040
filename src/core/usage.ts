// A worker's usage report, made into the record an attempt keeps: missing counts are zero, the
// totals of several models are added up, and a cost left out is priced from the price table when
// the model is known (and said to be so).
import type { AttemptUsage, ModelUsage, UsageInput } from '../protocol/usage';
import { CODEX_DEFAULT_MODEL, costAt, priceOf, PRICES_AS_OF, type ModelPrice, type TokenCounts } from './prices';

type ModelInput = NonNullable<UsageInput['models']>[string];

const tokens = (u: Partial<TokenCounts>): TokenCounts => ({
  input_tokens: u.input_tokens ?? 0,
  output_tokens: u.output_tokens ?? 0,
  cache_read_tokens: u.cache_read_tokens ?? 0,
  cache_write_tokens: u.cache_write_tokens ?? 0,
});

const anyTokens = (u: Partial<TokenCounts>) =>
  u.input_tokens !== undefined || u.output_tokens !== undefined || u.cache_read_tokens !== undefined || u.cache_write_tokens !== undefined;

/** Cents and fractions beyond a nano-dollar are noise: rounded, so totals add up exactly. */
const round = (usd: number) => Math.round(usd * 1e9) / 1e9;

export interface AttemptContext {
  attempt: number;
  worker_id: string;
  target: string | null;
  now: string;
  /** Prices from config.json, over the bundled table. */
  prices?: Readonly<Record<string, ModelPrice>>;
}

/** The attempt's usage record from what the worker reported. */
export function attemptUsage(input: UsageInput, ctx: AttemptContext): AttemptUsage {
  const prices = ctx.prices ?? {};
  let priced = false;
  let unknown = false;
  const models: Record<string, ModelUsage> = {};
  for (const [name, m] of Object.entries(input.models ?? {}) as Array<[string, ModelInput]>) {
    const t = tokens(m);
    let cost: number | null = m.cost_usd ?? null;
    if (cost === null) {
      const price = priceOf(name, prices);
      if (price) {
        cost = costAt(price, t);
        priced = true;
      } else unknown = true;
    }
    models[name] = { ...t, cost_usd: cost === null ? null : round(cost) };
  }
  const modelList = Object.entries(models);
  const summed = modelList.reduce<TokenCounts>(
    (s, [, m]) => ({
      input_tokens: s.input_tokens + m.input_tokens,
      output_tokens: s.output_tokens + m.output_tokens,
      cache_read_tokens: s.cache_read_tokens + m.cache_read_tokens,
      cache_write_tokens: s.cache_write_tokens + m.cache_write_tokens,
    }),
    tokens({}),
  );
  // The attempt's tokens: as reported, else the models' sum.
  const t = anyTokens(input) ? tokens(input) : summed;
  // The main model: as reported, else the one that cost (then wrote) the most; Codex names none in its output.
  const main = [...modelList].sort(([, a], [, b]) => (b.cost_usd ?? 0) - (a.cost_usd ?? 0) || b.output_tokens - a.output_tokens)[0]?.[0];
  const model = input.model ?? main ?? (input.agent === 'codex' ? CODEX_DEFAULT_MODEL : null);

  let cost: number | null;
  let source: AttemptUsage['cost_source'];
  if (input.cost_usd !== undefined) {
    cost = input.cost_usd;
    source = 'reported';
  } else if (modelList.length > 0 && !unknown) {
    cost = modelList.reduce((s, [, m]) => s + (m.cost_usd ?? 0), 0);
    source = priced ? 'price_table' : 'reported';
  } else {
    const price = model !== null && modelList.length === 0 ? priceOf(model, prices) : undefined;
    cost = price ? costAt(price, t) : null;
    source = price ? 'price_table' : 'unknown';
  }
  return {
    attempt: ctx.attempt,
    worker_id: ctx.worker_id,
    target: ctx.target,
    agent: input.agent ?? null,
    model,
    ...t,
    cost_usd: cost === null ? null : round(cost),
    cost_source: source,
    prices_as_of: source === 'price_table' ? PRICES_AS_OF : null,
    session_id: input.session_id ?? null,
    source: input.source ?? 'reported',
    ...(modelList.length > 0 ? { models } : {}),
    reported_at: ctx.now,
  };
}
