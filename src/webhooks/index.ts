// Work from outside: the webhook listener (GitHub, Standard Webhooks) and the completion hook,
// as one part of a running coordinator. See README "Webhooks and GitHub issues".
import type { Clock } from '../core/clock';
import type { Coordinator } from '../core/coordinator';
import type { Logger } from '../core/log';
import type { WebhookSettingsSource } from './config';
import { CompletionHooks } from './hooks';
import { WebhookListener } from './listener';

export { githubIssuesPlan } from './github-plan';
export { WebhookListener } from './listener';

export interface WebhooksOptions {
  coordinator: Coordinator;
  /** The workspace folder: where the completion hook runs. */
  workspace: string;
  /** The `webhooks` section of config.json, as of now. */
  settings: WebhookSettingsSource;
  log: Logger;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

export interface ListenOptions {
  port: number;
  host?: string | undefined;
}

export class Webhooks {
  readonly hooks: CompletionHooks;
  private current: WebhookListener | undefined;

  constructor(private readonly options: WebhooksOptions) {
    this.hooks = new CompletionHooks(options);
  }

  get listener(): WebhookListener | undefined {
    return this.current;
  }

  /** (Re)starts the listener on `listen`, or stops it when undefined. */
  async listen(listen: ListenOptions | undefined): Promise<void> {
    const previous = this.current;
    this.current = undefined;
    await previous?.close();
    if (!listen) return;
    this.current = await WebhookListener.start({ ...this.options, port: listen.port, ...(listen.host ? { host: listen.host } : {}) });
  }

  /** Deliveries being stored finish first (they were promised an answer), then running hooks. */
  async close(): Promise<void> {
    await this.listen(undefined);
    await this.hooks.close();
  }
}
