import { ErrorCode, HarnessError, type ErrorCode as Code } from '../core/errors';
import type { Disposable } from '../core/events';
import type { EventLine, Reply } from '../protocol/messages';
import { COMMANDS, type CommandContext } from '../server/commands';
import type { CoordinatorService } from '../server/service';
import { HarnessClient } from './client';

/**
 * The coordinator as the UI sees it: the wire protocol, whether the coordinator runs in this
 * process or in another one (a second window, `harness serve`). One API, so every view and
 * command works the same in both modes, and an MCP server can wrap the same calls.
 */
export interface HarnessApi {
  readonly mode: 'in-process' | 'client';
  readonly socketPath: string;
  request<T = Record<string, unknown>>(command: string, params?: Record<string, unknown>): Promise<T>;
  send(command: string, params?: Record<string, unknown>): Promise<Reply>;
  onEvent(listener: (event: EventLine) => void): Disposable;
  /** Fires once when the coordinator behind this API goes away (client mode only). */
  onClose(listener: () => void): Disposable;
  dispose(): Promise<void>;
}

/** The API over a coordinator running in this process: direct dispatch, no socket hop. */
export class InProcessApi implements HarnessApi {
  readonly mode = 'in-process' as const;
  private readonly ctx: CommandContext;

  constructor(readonly service: CoordinatorService) {
    this.ctx = { coordinator: service.coordinator, runs: service.runs, worktree: service.worktree };
  }

  get socketPath(): string {
    return this.service.socketPath;
  }

  async request<T>(command: string, params: Record<string, unknown> = {}): Promise<T> {
    const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!handler) throw new HarnessError(ErrorCode.InvalidArgument, `unknown command ${command}`);
    return (await handler(params, this.ctx)) as T;
  }

  async send(command: string, params: Record<string, unknown> = {}): Promise<Reply> {
    try {
      return { status: 'ok', data: await this.request(command, params) };
    } catch (e) {
      if (e instanceof HarnessError) return { status: 'error', code: e.code, message: e.message };
      throw e;
    }
  }

  onEvent(listener: (event: EventLine) => void): Disposable {
    const forward = (event: string, data: unknown) => listener({ event, data, ts: new Date().toISOString() });
    const subs = [this.service.coordinator.events.onAny(forward), this.service.runs.events.onAny(forward)];
    return { dispose: () => subs.forEach((s) => s.dispose()) };
  }

  onClose(): Disposable {
    return { dispose() {} };
  }

  dispose(): Promise<void> {
    return this.service.close();
  }
}

/** The API over another process's coordinator, through its socket. */
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

  request<T>(command: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.client.request<T>(command, params);
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

export function errorCode(e: unknown): Code | undefined {
  return e instanceof HarnessError ? e.code : undefined;
}
