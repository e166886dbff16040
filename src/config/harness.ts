// `config.json` of the state directory as harness reads it: every feature's section, composed into
// one schema. A feature adds its section here, with the schema it exports (a schema only: the
// feature gets its parsed section from whoever runs it, and never reads the file itself).
import { IsolationSettings } from '../isolation/config';
import { TargetSettings } from '../protocol/targets';
import { BudgetSettings, UsageSettings } from '../protocol/usage';
import { ClusterConfig } from './cluster';
import { WebhookSettings } from '../webhooks/config';
import { readConfigFile, type ConfigOf } from './file';
import { RecoverySettings } from './recovery';

export const CONFIG_SECTIONS = {
  recovery: RecoverySettings,
  isolation: IsolationSettings,
  webhooks: WebhookSettings,
  targets: TargetSettings,
  budgets: BudgetSettings,
  usage: UsageSettings,
  cluster: ClusterConfig,
};

export type HarnessConfig = ConfigOf<typeof CONFIG_SECTIONS>;

/** Reads the state directory's config.json; a bad file is INVALID_CONFIG naming the field. */
export function readHarnessConfig(stateDir: string): HarnessConfig {
  return readConfigFile(stateDir, CONFIG_SECTIONS).config;
}
