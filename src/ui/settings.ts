import { z } from 'zod';
import { MAX_DURATION_SECONDS, MAX_KILL_AFTER_SECONDS, MAX_WAIT_SECONDS } from '../protocol/durations';

/** The extension's settings, each with its default; an invalid value falls back with a warning. */
export const SETTINGS = {
  leaseTimeoutSeconds: z.number().positive().max(MAX_DURATION_SECONDS).default(300),
  maxAttempts: z.number().int().min(1).max(1000).default(3),
  staleInstanceSeconds: z.number().positive().max(MAX_WAIT_SECONDS).default(60),
  heartbeatIntervalSeconds: z.number().positive().max(3600).default(10),
  instanceLimit: z.number().int().min(0).max(10_000).default(0),
  workerCommand: z.string().max(10_000).default(''),
  execKillGraceSeconds: z.number().min(0).max(MAX_KILL_AFTER_SECONDS).default(5),
  /** 0: no webhook listener. */
  webhookPort: z.number().int().min(0).max(65535).default(0),
  /** With clusterName: this window's coordinator is one of a cluster on these NATS servers. */
  natsUrl: z.string().max(10_000).default(''),
  clusterName: z
    .string()
    .regex(/^[A-Za-z0-9_-]{0,64}$/, 'letters, digits, "_" or "-", at most 64')
    .default(''),
  stateDirectory: z
    .string()
    .min(1)
    .max(1000)
    .refine((s) => !s.split(/[\\/]/).includes('..'), 'must stay inside the workspace (no "..")')
    .default('.harness'),
} as const;

export type Settings = { [K in keyof typeof SETTINGS]: z.output<(typeof SETTINGS)[K]> };

export interface SettingsResult {
  settings: Settings;
  /** One sentence per invalid value, naming the setting and what was wrong. */
  warnings: string[];
}

/** Validates raw setting values (as `getConfiguration().get` returns them). */
export function readSettings(get: (key: string) => unknown, section = 'agentHarness'): SettingsResult {
  const warnings: string[] = [];
  const settings = {} as Record<string, unknown>;
  for (const [key, schema] of Object.entries(SETTINGS)) {
    const raw = get(key);
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (parsed.success) {
      settings[key] = parsed.data;
    } else {
      const fallback = (schema as z.ZodType).parse(undefined);
      warnings.push(
        `Setting ${section}.${key} is invalid (${parsed.error.issues[0]?.message ?? 'bad value'}: ${JSON.stringify(raw)}); using ${JSON.stringify(fallback)}.`,
      );
      settings[key] = fallback;
    }
  }
  return { settings: settings as Settings, warnings };
}
