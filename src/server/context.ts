import type { Coordinator } from '../core/coordinator';
import type { Logger } from '../core/log';
import type { EventName } from '../protocol/events';
import type { PlanStaging } from './plan-staging';
import type { RunRegistry } from './runs';

/** What a command handler may use besides its parameters. */
export interface ServerContext {
  coordinator: Coordinator;
  runs: RunRegistry;
  /** The workspace folder the coordinator serves (its root, not a worker's git worktree). */
  workspace: string;
  /** Where the coordinator keeps its state (`.harness` unless configured). */
  stateDir: string;
  /** Plans arriving in pieces, per coordinator. */
  staging: PlanStaging;
  log: Logger;
  /** Aborted when the requester went away (its connection closed): waits end early. */
  signal?: AbortSignal;
  /** Turns this connection into an event stream (only a socket connection can). */
  subscribe?(events: readonly EventName[] | undefined): void;
}
