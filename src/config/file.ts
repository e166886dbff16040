// The one reader of `<state dir>/config.json`. Each feature owns a section (`recovery`,
// `isolation`, `webhooks`, ...) and its schema; the file's schema is composed of the sections
// (src/config/harness.ts), so a misspelt section is an error too, never silently ignored. A
// missing file means every section's defaults; a file that does not parse or validate is
// INVALID_CONFIG naming the file and the field. Read at each use (cached until the file changes),
// so an edit applies at once and a broken edit keeps failing loudly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { firstField, formatIssues } from '../protocol/validate';

export const CONFIG_FILE = 'config.json';

/** Each section's schema, by its key in the file. */
export type ConfigSections = Record<string, z.ZodType>;

/** The file's contents: each section parsed (with its defaults), or absent when the file does not have it. */
export type ConfigOf<S extends ConfigSections> = { [K in keyof S]?: z.output<S[K]> };

export function configPath(stateDir: string): string {
  return path.join(stateDir, CONFIG_FILE);
}

/** The schema of the whole file: every section optional, no other key allowed. */
export function configSchema<S extends ConfigSections>(sections: S): z.ZodType<ConfigOf<S>> {
  const shape = Object.fromEntries(Object.entries(sections).map(([key, schema]) => [key, schema.optional()]));
  return z.strictObject(shape) as unknown as z.ZodType<ConfigOf<S>>;
}

export interface ConfigRead<S extends ConfigSections> {
  /** The file read, or undefined when there is none. */
  file: string | undefined;
  config: ConfigOf<S>;
}

/** The last read of each file with each set of sections, and the file's identity when it was read. */
const cache = new WeakMap<ConfigSections, Map<string, { stamp: string; read: ConfigRead<ConfigSections> }>>();

function stampOf(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'absent';
  }
}

export function readConfigFile<S extends ConfigSections>(stateDir: string, sections: S): ConfigRead<S> {
  const file = configPath(stateDir);
  const stamp = stampOf(file);
  let files = cache.get(sections);
  if (!files) cache.set(sections, (files = new Map()));
  const last = files.get(file);
  if (last?.stamp === stamp) return last.read as ConfigRead<S>;
  const read = readNow(file, sections);
  files.set(file, { stamp, read });
  return read;
}

function readNow<S extends ConfigSections>(file: string, sections: S): ConfigRead<S> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file: undefined, config: {} };
    throw new HarnessError(ErrorCode.InvalidConfig, `cannot read ${file}: ${(e as Error).message}`, { file });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HarnessError(ErrorCode.InvalidConfig, `${file} is not valid JSON: ${(e as Error).message}`, { file });
  }
  const result = configSchema(sections).safeParse(json);
  if (!result.success) {
    throw new HarnessError(ErrorCode.InvalidConfig, `${file}: ${formatIssues(result.error)}`, { file, field: firstField(result.error) });
  }
  return { file, config: result.data };
}
