import { z } from 'zod';

/** `recovery` in `.harness/config.json`: what to run when a worker stops heartbeating. */
export const RecoverySettings = z.strictObject({
  /** argv (no shell), or one command line run through the shell. */
  command: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]),
  timeout_seconds: z.number().positive().max(3600).default(60),
});
export type RecoveryHook = z.output<typeof RecoverySettings>;
