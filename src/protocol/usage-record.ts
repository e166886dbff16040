// The usage of one attempt of a task, as a worker reports it and as the task keeps it, and the
// totals over many. Imports zod alone: the task record (model.ts) carries these.
import { z } from 'zod';

const Tokens = z.number().int().min(0).max(1e13);
/** Dollars, at most a million per figure: a bigger one is a mistake, not a bill. */
export const Usd = z.number().min(0).max(1_000_000);
export const ModelName = z.string().min(1).max(200).regex(/^[^\s\u0000-\u001f\u007f]+$/, 'must not contain spaces or control characters');

/** Tokens (and the cost, when known) of one model within an attempt. */
export const ModelUsageInput = z.strictObject({
  input_tokens: Tokens.optional().describe('Input tokens not read from a cache'),
  output_tokens: Tokens.optional(),
  cache_read_tokens: Tokens.optional().describe('Input tokens read from the prompt cache'),
  cache_write_tokens: Tokens.optional().describe('Input tokens written to the prompt cache'),
  cost_usd: Usd.optional(),
});

/** Usage as a worker reports it: every field optional; a cost left out is priced from the model and tokens. */
export const UsageInput = z
  .strictObject({
    agent: z.string().min(1).max(100).optional().describe('The agent that did the work, e.g. claude-code, codex'),
    model: ModelName.optional().describe('The (main) model'),
    input_tokens: Tokens.optional().describe('Input tokens not read from a cache'),
    output_tokens: Tokens.optional(),
    cache_read_tokens: Tokens.optional().describe('Input tokens read from the prompt cache'),
    cache_write_tokens: Tokens.optional().describe('Input tokens written to the prompt cache'),
    cost_usd: Usd.optional().describe('What it cost in USD; left out, priced by model and tokens from the bundled table'),
    session_id: z.string().min(1).max(200).optional().describe("The agent's session id"),
    source: z.string().min(1).max(100).optional().describe('Where the figures came from, e.g. claude-result, codex-turns (default: reported)'),
    models: z.record(ModelName, ModelUsageInput).optional().describe('Per model, when the attempt used several (subagents)'),
  })
  .superRefine((u, ctx) => {
    if (u.models && Object.keys(u.models).length > 50) ctx.addIssue({ code: 'custom', path: ['models'], message: 'at most 50 models' });
  })
  .describe('What this attempt used and cost');
export type UsageInput = z.output<typeof UsageInput>;

export const ModelUsage = z.object({
  input_tokens: z.number(),
  output_tokens: z.number(),
  cache_read_tokens: z.number(),
  cache_write_tokens: z.number(),
  cost_usd: z.number().nullable(),
});
export type ModelUsage = z.output<typeof ModelUsage>;

/** How the cost of an attempt was known: told by the agent, priced from the bundled table, or not at all. */
export const COST_SOURCES = ['reported', 'price_table', 'unknown'] as const;

/** The usage of one attempt, as kept on the task. */
export const AttemptUsage = z.object({
  attempt: z.number().describe('Which attempt of the task (1 for the first)'),
  worker_id: z.string(),
  target: z.string().nullable().describe('The worker target the worker belonged to, if any'),
  agent: z.string().nullable(),
  model: z.string().nullable(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cache_read_tokens: z.number(),
  cache_write_tokens: z.number(),
  cost_usd: z.number().nullable().describe('null: no cost was reported and the model is not in the price table'),
  cost_source: z.enum(COST_SOURCES),
  /** The date of the price table, when the cost came from it. */
  prices_as_of: z.string().nullable(),
  session_id: z.string().nullable(),
  source: z.string().describe('Where the figures came from'),
  models: z.record(z.string(), ModelUsage).optional(),
  reported_at: z.string(),
});
export type AttemptUsage = z.output<typeof AttemptUsage>;

export const UsageTotals = z.object({
  attempts: z.number().describe('Attempts with usage reported'),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cache_read_tokens: z.number(),
  cache_write_tokens: z.number(),
  cost_usd: z.number(),
  unpriced: z.number().describe('Attempts whose cost is unknown (not counted in cost_usd)'),
});
export type UsageTotals = z.output<typeof UsageTotals>;
