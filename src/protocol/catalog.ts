// The catalog: every command of the wire protocol, by name. The socket server, the in-process
// API and the MCP server dispatch from it; clients call through its descriptors.
import type { AnyCommand } from './command';
import { INSTANCE_COMMANDS } from './instances';
import { ISOLATION_COMMANDS } from './isolation';
import { LOCK_COMMANDS } from './locks';
import { MESSAGE_COMMANDS } from './mailbox';
import { META_COMMANDS } from './meta';
import { POOL_COMMANDS } from './pools';
import { RUN_COMMANDS } from './runs';
import { STATE_COMMANDS } from './shared-state';
import { TASK_COMMANDS } from './tasks';

export const CATALOG = [
  ...META_COMMANDS,
  ...TASK_COMMANDS,
  ...INSTANCE_COMMANDS,
  ...RUN_COMMANDS,
  ...LOCK_COMMANDS,
  ...STATE_COMMANDS,
  ...POOL_COMMANDS,
  ...MESSAGE_COMMANDS,
  ...ISOLATION_COMMANDS,
] as const;

export type CatalogCommand = (typeof CATALOG)[number];
export type CommandName = CatalogCommand['name'];
export type CommandNamed<N extends CommandName> = Extract<CatalogCommand, { name: N }>;

const BY_NAME: ReadonlyMap<string, AnyCommand> = new Map(CATALOG.map((d) => [d.name, d as AnyCommand]));

/** The descriptor of a command name, or undefined for a name the catalog does not hold. */
export function findCommand(name: string): CatalogCommand | undefined {
  return BY_NAME.get(name) as CatalogCommand | undefined;
}

export const COMMAND_NAMES: readonly CommandName[] = CATALOG.map((d) => d.name);
