// `.harness/config.json` as the coordinator reads it: the sections of every feature, composed into
// one schema (src/core/config-file.ts). A feature adds its section here, with its schema.
import { readConfigFile, type ConfigOf } from '../core/config-file';
import { IsolationSettings } from '../isolation/config';
import { RecoverySettings } from './recovery-settings';

export const CONFIG_SECTIONS = {
  recovery: RecoverySettings,
  isolation: IsolationSettings,
};

export type HarnessConfig = ConfigOf<typeof CONFIG_SECTIONS>;

/** Reads the state directory's config.json; a bad file is INVALID_CONFIG naming the field. Read at each use: edits apply at once. */
export function readHarnessConfig(stateDir: string): HarnessConfig {
  return readConfigFile(stateDir, CONFIG_SECTIONS).config;
}
