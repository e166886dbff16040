// Versioned shared state: JSON values under keys, with compare-and-set on versions.
import { z } from 'zod';
import { command } from './command';
import { Id, JsonValue, Timestamp } from './model';

export const StateKey = z
  .string()
  .min(1, 'must not be empty')
  .max(500, 'must be at most 500 characters')
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters')
  .describe('The key');
const ExpectedVersion = z
  .number()
  .int()
  .min(0)
  .optional()
  .describe('Only if the key is at this version now (0: only if it does not exist); else CONFLICT');
const Writer = Id.optional().describe('Who writes it (kept with the version)');

export const StateEntry = z.object({
  key: z.string(),
  value: JsonValue,
  version: z.number(),
  updated_at: Timestamp,
  updated_by: z.string().nullable(),
});
export type StateEntry = z.output<typeof StateEntry>;

/** One version of a key; a delete is a version too (a tombstone). */
export const StateVersion = StateEntry.extend({ deleted: z.boolean() });
export type StateVersion = z.output<typeof StateVersion>;

export const StateGet = command({
  name: 'state_get',
  kind: 'query',
  summary: 'Read a shared value and its version (NOT_FOUND, with version 0, when absent).',
  params: z.strictObject({ key: StateKey }),
  result: StateEntry,
});

export const StatePut = command({
  name: 'state_put',
  kind: 'mutation',
  summary: 'Write a shared JSON value; with expected_version, only if nobody changed it meanwhile.',
  params: z.strictObject({ key: StateKey, value: JsonValue.describe('Any JSON'), expected_version: ExpectedVersion, worker_id: Writer }),
  result: z.object({ key: z.string(), version: z.number(), updated_at: Timestamp }),
  fills: { worker: 'worker_id' },
});

export const StateDelete = command({
  name: 'state_delete',
  kind: 'mutation',
  summary: 'Delete a shared value (optionally only at a given version).',
  params: z.strictObject({ key: StateKey, expected_version: ExpectedVersion, worker_id: Writer }),
  result: z.object({ key: z.string(), version: z.number() }),
  fills: { worker: 'worker_id' },
});

export const StateHistory = command({
  name: 'state_history',
  kind: 'query',
  summary: 'The kept versions of a key, newest first.',
  params: z.strictObject({ key: StateKey }),
  result: z.object({ key: z.string(), versions: z.array(StateVersion) }),
});

export const StateList = command({
  name: 'state_list',
  kind: 'query',
  summary: 'Current shared values whose key starts with a prefix, by key, up to 4 MiB of JSON.',
  params: z.strictObject({ prefix: z.string().max(500).optional().describe('Key prefix (default: every key)') }),
  result: z.object({
    entries: z.array(StateEntry),
    truncated: z.boolean().describe('More keys match than fit in one reply (4 MiB): narrow the prefix, or state_get them'),
  }),
});

export const STATE_COMMANDS = [StateGet, StatePut, StateDelete, StateHistory, StateList] as const;
