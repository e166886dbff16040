import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { formatIssues } from '../core/validate';
import { IsolationError, IsolationErrorCode } from './errors';

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

/** Other sections of config.json belong to other parts of harness and are left alone. */
const ConfigFile = z.looseObject({ isolation: IsolationSettings.optional() });

export interface IsolationConfig extends IsolationSettings {
  /** The file read, or undefined when there is none (all defaults). */
  file: string | undefined;
}

export function configPath(workspace: string): string {
  return path.join(workspace, '.harness', 'config.json');
}

/**
 * Reads the `isolation` section of `<workspace>/.harness/config.json`. A missing file means the
 * defaults; a malformed one is an INVALID_CONFIG error naming the file and the bad field.
 */
export function loadIsolationConfig(workspace: string): IsolationConfig {
  const file = configPath(workspace);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...IsolationSettings.parse({}), file: undefined };
    throw new IsolationError(IsolationErrorCode.InvalidConfig, `cannot read ${file}: ${(e as Error).message}`, { file });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new IsolationError(IsolationErrorCode.InvalidConfig, `${file} is not valid JSON: ${(e as Error).message}`, { file });
  }
  const result = ConfigFile.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new IsolationError(IsolationErrorCode.InvalidConfig, `${file}: ${formatIssues(result.error)}`, {
      file,
      field: issue.path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), ''),
    });
  }
  return { ...(result.data.isolation ?? IsolationSettings.parse({})), file };
}
