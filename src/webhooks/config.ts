// The `webhooks` section of config.json (read with the others by src/config/): the GitHub
// endpoint and its rules, Standard Webhooks senders, the completion hook, and how issue labels map
// to priority and capabilities. Only the schema lives here; secrets are read separately
// (secrets.ts) so they never sit in a parsed config that could be logged.
import { z } from 'zod';
import { Id, JsonValue } from '../protocol/model';

/** Where a secret comes from: an environment variable, or a file only its owner may read. */
export const SecretSource = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type SecretSource = z.output<typeof SecretSource>;

const Template = z.string().max(10_000);

/**
 * What a matched event becomes. String fields may hold `{placeholders}` (see rules.ts); they are
 * filled with the event's values as plain text, never evaluated.
 */
export const TaskTemplate = z.strictObject({
  id: z.string().min(1).max(200).optional(),
  description: Template.optional(),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  capabilities: z.array(z.string().min(1).max(100)).max(100).optional(),
  timeout_seconds: z.number().positive().max(7 * 24 * 3600).optional(),
  max_attempts: z.number().int().min(1).max(1000).optional(),
  group: Id.optional(),
  /** Extra fields merged into the payload; string leaves are filled like the other fields. */
  payload: z.record(z.string(), JsonValue).optional(),
});
export type TaskTemplate = z.output<typeof TaskTemplate>;

const RuleName = z
  .string()
  .min(1)
  .max(60)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may hold only letters, digits and _ . -');

export const GitHubRule = z.discriminatedUnion('on', [
  /** An issue opened; with `label`, only one opened carrying it. */
  z.strictObject({ name: RuleName, on: z.literal('issues.opened'), label: z.string().min(1).max(100).optional(), task: TaskTemplate.default({}) }),
  /** The label `label` added to an issue. */
  z.strictObject({ name: RuleName, on: z.literal('issues.labeled'), label: z.string().min(1).max(100), task: TaskTemplate.default({}) }),
  /** A new issue or pull-request comment whose first word is `trigger` (e.g. `@agent`). */
  z.strictObject({ name: RuleName, on: z.literal('comment'), trigger: z.string().min(1).max(100).regex(/^\S+$/, 'must be one word'), task: TaskTemplate.default({}) }),
]);
export type GitHubRule = z.output<typeof GitHubRule>;

export const GitHubSettings = z.strictObject({
  secret: SecretSource,
  rules: z
    .array(GitHubRule)
    .max(100)
    .refine((rules) => new Set(rules.map((r) => r.name)).size === rules.length, 'rule names must be unique'),
});

/** A sender that signs with the Standard Webhooks scheme, at POST /hooks/<name>. */
export const StandardSender = z.strictObject({
  /** `whsec_<base64>`, as Standard Webhooks senders issue them. */
  secret: SecretSource,
  /** The payload `type` values that make a task; absent: every message does. */
  types: z.array(z.string().min(1).max(200)).max(100).optional(),
  task: TaskTemplate.default({}),
});

const LabelEffect = z.strictObject({
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  capabilities: z.array(z.string().min(1).max(100)).max(100).optional(),
});
export type LabelEffect = z.output<typeof LabelEffect>;

export const HookSettings = z.strictObject({
  /** argv, run without a shell; the task is in its environment as HARNESS_TASK (JSON). */
  command: z.array(z.string().min(1)).min(1),
  /** Which endings run it. */
  on: z.array(z.enum(['completed', 'dead_letter'])).min(1).default(['completed', 'dead_letter']),
  /** Only tasks that came from somewhere (a webhook, an issue import): `source` set. */
  only_with_source: z.boolean().default(true),
  timeout_seconds: z.number().positive().max(3600).default(60),
});
export type HookSettings = z.output<typeof HookSettings>;

export const WebhookSettings = z.strictObject({
  github: GitHubSettings.optional(),
  standard: z.record(RuleName, StandardSender).optional(),
  /** Issue labels → priority (the highest wins) and capabilities (all of them), for rules and imports. */
  labels: z.record(z.string().min(1).max(100), LabelEffect).default({}),
  hook: HookSettings.optional(),
});
export type WebhookSettings = z.output<typeof WebhookSettings>;

/**
 * Where the webhook code gets its settings: the `webhooks` section as of now (re-read when the
 * file changes, so editing rules takes effect without a restart; a broken edit keeps failing
 * loudly, each caller reporting it, rather than falling back to old rules).
 */
export type WebhookSettingsSource = () => WebhookSettings | undefined;
