import type { Disposable, HarnessApi, ParamsArg } from '../protocol/api';
import type { AnyCommand, ResultOf } from '../protocol/command';
import { describeError } from '../protocol/errors';
import { dataOf, type EventLine, type Reply } from '../protocol/messages';
import { dispatch, notificationFailure } from './dispatch';
import type { CoordinatorService } from './service';

/**
 * The API over a coordinator running in this process (the extension's own): the same dispatcher
 * as the socket, without the socket hop. Replies and errors are the socket's, details included.
 */
export class InProcessApi implements HarnessApi {
  readonly mode = 'in-process' as const;
  private readonly listeners = new Set<(event: EventLine) => void>();
  private readonly subscriptions: Disposable[];

  constructor(readonly service: CoordinatorService) {
    const forward = (event: string, data: unknown) => this.emit({ event, data, ts: new Date().toISOString() });
    this.subscriptions = service.route
      ? [service.route.onEvent(forward)]
      : [service.coordinator.events.onAny(forward), service.runs.events.onAny(forward)];
  }

  get socketPath(): string {
    return this.service.socketPath;
  }

  send(command: string, params: Record<string, unknown> = {}): Promise<Reply> {
    return this.service.route ? this.service.route.send(command, params) : dispatch(command, params, this.service.context);
  }

  async call<D extends AnyCommand>(command: D, ...[params]: ParamsArg<D>): Promise<ResultOf<D>> {
    return dataOf(await this.send(command.name, params ?? {})) as ResultOf<D>;
  }

  notify<D extends AnyCommand>(command: D, ...[params]: ParamsArg<D>): void {
    void this.send(command.name, params ?? {}).then((reply) => {
      const failed = notificationFailure(command.name, reply);
      if (failed) this.emit(failed);
    });
  }

  onEvent(listener: (event: EventLine) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  onClose(): Disposable {
    return { dispose() {} };
  }

  dispose(): Promise<void> {
    for (const s of this.subscriptions) s.dispose();
    return this.service.close();
  }

  private emit(event: EventLine): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (e) {
        this.service.context.log.error(`event listener failed: ${describeError(e)}`);
      }
    }
  }
}
