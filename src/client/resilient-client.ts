import type { Caller, ParamsArg } from '../protocol/api';
import type { AnyCommand, ResultOf } from '../protocol/command';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { HarnessClient } from './client';

export interface ResilientOptions {
  /** Give up reconnecting after this long (a call then throws CLOSED). Default 10 minutes. */
  giveUpAfterMs?: number;
  /**
   * Runs on every new connection before any call goes over it (e.g. registering the worker
   * again after the coordinator restarted). A failure closes that connection and is thrown.
   */
  onConnect?: (client: HarnessClient) => Promise<void>;
}

/**
 * A client that survives the coordinator going away (a window reload, a restart): a request
 * that finds the connection closed reconnects with backoff and is sent again, for up to
 * `giveUpAfterMs`. Only for requests that are safe to repeat or whose repeat the caller checks.
 */
export class ResilientClient implements Caller {
  private client: HarnessClient | undefined;
  private connecting: Promise<HarnessClient> | undefined;
  private closed = false;
  /** Set by stopReconnecting: the open connection serves on, a lost one is not replaced. */
  private stopped = false;
  /** Ends the backoff wait of a reconnect in progress, so close() is not kept waiting by it. */
  private wake: (() => void) | undefined;

  constructor(
    readonly socketPath: string,
    private readonly onReconnect: (attempt: number, error: Error) => void,
    private readonly options: ResilientOptions = {},
  ) {}

  /** The open connection, or a new one (waiting up to `giveUpAfterMs`, or `waitMs` when given). */
  async current(waitMs = this.options.giveUpAfterMs ?? 10 * 60_000): Promise<HarnessClient> {
    if (this.client && !this.client.closed) return this.client;
    // Concurrent callers share one reconnect (one onConnect, one registration).
    this.connecting ??= this.reconnect().finally(() => (this.connecting = undefined));
    return waitMs >= (this.options.giveUpAfterMs ?? 10 * 60_000) ? this.connecting : withDeadline(this.connecting, waitMs, this.socketPath);
  }

  private async reconnect(): Promise<HarnessClient> {
    const started = Date.now();
    const giveUp = this.options.giveUpAfterMs ?? 10 * 60_000;
    for (let attempt = 1, delay = 100; ; attempt++, delay = Math.min(delay * 2, 5000)) {
      if (this.closed) throw new HarnessError(ErrorCode.Closed, 'the client was closed');
      if (this.stopped) throw new HarnessError(ErrorCode.Closed, `no connection to ${this.socketPath}, and not reconnecting: stopping`, { socket: this.socketPath });
      try {
        const client = await HarnessClient.connect(this.socketPath, { retryForMs: 0 });
        try {
          await this.options.onConnect?.(client);
        } catch (e) {
          client.close();
          throw e;
        }
        this.client = client;
        return client;
      } catch (e) {
        // Only an unreachable coordinator is worth waiting out; a refusal (e.g. of onConnect) is final.
        if (!(e instanceof HarnessError && e.code === ErrorCode.Closed) || Date.now() - started > giveUp) throw e;
        this.onReconnect(attempt, e);
        await this.pause(delay);
      }
    }
  }

  async call<D extends AnyCommand>(command: D, ...params: ParamsArg<D>): Promise<ResultOf<D>> {
    const started = Date.now();
    for (;;) {
      const client = await this.current();
      try {
        return await client.call(command, ...params);
      } catch (e) {
        if (e instanceof HarnessError && e.code === ErrorCode.Closed) continue; // reconnect and send again
        // A cluster that lost its leader under the request: as unknown as a closed connection, and
        // answered by the next leader a moment later.
        if (e instanceof HarnessError && e.code === ErrorCode.Unavailable && !this.closed && !this.stopped && Date.now() - started < (this.options.giveUpAfterMs ?? 10 * 60_000)) {
          this.onReconnect(0, e);
          await this.pause(250);
          continue;
        }
        throw e;
      }
    }
  }

  /** Waits `ms`, or less when close() is called meanwhile. */
  private async pause(ms: number): Promise<void> {
    if (this.closed || this.stopped) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  /**
   * For a process that is stopping: the connection it has serves its last requests (releasing a
   * task, deregistering), but a reconnect under way ends now and none is tried again, so a stop
   * never waits for a coordinator that is not there; calls without a connection fail with CLOSED.
   */
  stopReconnecting(): void {
    this.stopped = true;
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
    this.client?.close();
  }
}

/** The connection, or CLOSED naming the socket once `ms` passed without one. */
function withDeadline(connecting: Promise<HarnessClient>, ms: number, socketPath: string): Promise<HarnessClient> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HarnessError(ErrorCode.Closed, `no coordinator answered on ${socketPath} within ${Math.round(ms / 1000)} s; start one with \`harness serve\` or open the workspace in VS Code with Agent Harness`, {
            socket: socketPath,
          }),
        ),
      ms,
    );
  });
  return Promise.race([connecting, late]).finally(() => clearTimeout(timer));
}
