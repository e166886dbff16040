import type { Disposable, HarnessApi, ParamsArg } from '../protocol/api';
import type { AnyCommand, ResultOf } from '../protocol/command';
import type { EventLine, Reply } from '../protocol/messages';
import { HarnessClient } from './client';

export type { HarnessApi };

/** The API over another process's coordinator, through its socket (subscribed to every event). */
export class SocketApi implements HarnessApi {
  readonly mode = 'client' as const;
  private readonly listeners = new Set<(event: EventLine) => void>();
  private readonly closeListeners = new Set<() => void>();

  private constructor(private readonly client: HarnessClient) {
    client.onClose(() => this.closeListeners.forEach((l) => l()));
  }

  static async connect(socketPath: string): Promise<SocketApi> {
    const client = await HarnessClient.connect(socketPath, { retryForMs: 0 });
    const api = new SocketApi(client);
    await client.subscribe(undefined, (e) => api.listeners.forEach((l) => l(e)));
    return api;
  }

  get socketPath(): string {
    return this.client.socketPath;
  }

  call<D extends AnyCommand>(command: D, ...params: ParamsArg<D>): Promise<ResultOf<D>> {
    return this.client.call(command, ...params);
  }

  notify<D extends AnyCommand>(command: D, ...params: ParamsArg<D>): void {
    this.client.notify(command, ...params);
  }

  send(command: string, params: Record<string, unknown> = {}): Promise<Reply> {
    return this.client.send(command, params);
  }

  onEvent(listener: (event: EventLine) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  onClose(listener: () => void): Disposable {
    this.closeListeners.add(listener);
    return { dispose: () => this.closeListeners.delete(listener) };
  }

  async dispose(): Promise<void> {
    this.client.close();
  }
}
