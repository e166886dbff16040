import type { AnyCommand, ParamsOf, ResultOf } from './command';
import type { EventLine, Reply } from './messages';

export interface Disposable {
  dispose(): void;
}

/** A command's parameters as call arguments: optional when the command needs none. */
export type ParamsArg<D extends AnyCommand> = {} extends ParamsOf<D> ? [params?: ParamsOf<D>] : [params: ParamsOf<D>];

/** What typed callers need: a call that resolves with the command's result, or throws a HarnessError. */
export interface Caller {
  call<D extends AnyCommand>(command: D, ...params: ParamsArg<D>): Promise<ResultOf<D>>;
}

/** A caller that can also send notifications (commands without a reply). */
export interface Notifier extends Caller {
  notify<D extends AnyCommand>(command: D, ...params: ParamsArg<D>): void;
}

/**
 * The coordinator as a program sees it, whether it runs in this process (the extension's own) or
 * behind a socket (another window, `harness serve`): the same commands, replies and events. Every
 * view and command works the same in both modes, and the MCP server wraps the same calls.
 */
export interface HarnessApi extends Notifier {
  readonly mode: 'in-process' | 'client';
  readonly socketPath: string;
  /** The reply as the coordinator gave it, ok or error (for edges that print replies whole). */
  send(command: string, params?: Record<string, unknown>): Promise<Reply>;
  onEvent(listener: (event: EventLine) => void): Disposable;
  /** Fires once when the coordinator behind this API goes away (client mode only). */
  onClose(listener: () => void): Disposable;
  dispose(): Promise<void>;
}
