// The `isolation` section of `.harness/config.json` (read by src/core/config-file.ts).
import * as path from 'node:path';
import { z } from 'zod';

/** A path relative to the workspace that stays inside it. */
const RelativePath = z
  .string()
  .min(1)
  .refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'), {
    message: 'must be a path relative to the workspace, without ".."',
  });

const Setup = z.strictObject({
  /** argv (run without a shell), or one string run through the shell. */
  command: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]),
  timeout_seconds: z.number().positive().max(24 * 3600).default(600),
});

const Ports = z
  .strictObject({
    base: z.number().int().min(1).max(65535),
    per_worker: z.number().int().min(1).max(65535),
  })
  .refine((p) => p.base + p.per_worker - 1 <= 65535, { message: 'base + per_worker must stay within 65535' });

export const IsolationSettings = z.strictObject({
  /** Where worker directories go; relative to the workspace. */
  directory: z.string().min(1).optional(),
  /** Untracked files (or directories) copied from the workspace into each new worktree. */
  copy: z.array(RelativePath).default([]),
  setup: Setup.optional(),
  ports: Ports.optional(),
});
export type IsolationSettings = z.output<typeof IsolationSettings>;

/** The settings when config.json has no `isolation` section. */
export function defaultIsolationSettings(): IsolationSettings {
  return IsolationSettings.parse({});
}
