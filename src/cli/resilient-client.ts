import { HarnessClient } from '../client/client';
import type { Caller, ParamsArg } from '../protocol/api';
import type { AnyCommand, ResultOf } from '../protocol/command';
import { ErrorCode, HarnessError } from '../protocol/errors';

/**
 * A client that survives the coordinator going away (a window reload, a restart): a request
 * that finds the connection closed reconnects with backoff and is sent again, for up to
 * `giveUpAfterMs`. Only for requests that are safe to repeat or whose repeat the caller checks.
 */
export class ResilientClient implements Caller {
  private client: HarnessClient | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly onReconnect: (attempt: number, error: Error) => void,
    private readonly giveUpAfterMs = 10 * 60_000,
  ) {}

  async current(): Promise<HarnessClient> {
    if (this.client && !this.client.closed) return this.client;
    const started = Date.now();
    for (let attempt = 1, delay = 100; ; attempt++, delay = Math.min(delay * 2, 5000)) {
      try {
        this.client = await HarnessClient.connect(this.socketPath, { retryForMs: 0 });
        return this.client;
      } catch (e) {
        if (Date.now() - started > this.giveUpAfterMs) throw e;
        this.onReconnect(attempt, e as Error);
        await new Promise((r) => setTimeout(r, delay));
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
        if (e instanceof HarnessError && e.code === ErrorCode.Unavailable && Date.now() - started < this.giveUpAfterMs) {
          this.onReconnect(0, e);
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        throw e;
      }
    }
  }

  close(): void {
    this.client?.close();
  }
}
