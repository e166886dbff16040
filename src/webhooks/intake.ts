// What happens to a delivery once its bytes are in: signature, parse, rules, then "store first,
// act after": the tasks and the delivery id are durable before anything is answered 2xx. Free
// of HTTP, so it can be tested directly; listener.ts is the HTTP side.
import { z } from 'zod';
import type { Clock } from '../core/clock';
import type { Coordinator } from '../core/coordinator';
import { describeError, ErrorCode, HarnessError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Json, TaskInput } from '../core/model';
import { TaskInput as TaskInputSchema } from '../protocol/model';
import { MAX_PLAN_TASKS } from '../protocol/tasks';
import { parse } from '../protocol/validate';
import type { WebhookSettings, WebhookSettingsSource } from './config';
import { DeliveryLedger } from './deliveries';
import { checkGitHubTemplates, githubTasks, templateStrings } from './github-rules';
import { readSecret } from './secrets';
import { standardKey, verifyGitHubSignature, verifyStandardWebhook } from './signatures';
import { checkStandardTemplate, messageType, standardTask } from './standard-rules';

export interface Delivery {
  /** The path after the host: `/github`, `/hooks/<name>`. */
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
}

export interface Answer {
  status: number;
  body: Record<string, Json>;
}

export interface IntakeOptions {
  coordinator: Coordinator;
  /** The workspace folder: secret files are relative to it. */
  workspace: string;
  /** The `webhooks` section of config.json, as of now. */
  settings: WebhookSettingsSource;
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

/** Delivery ids become keys in the shared state and parts of task ids. */
const DELIVERY_ID = /^[\x21-\x7e]{1,200}$/;

const ok = (status: number, body: Record<string, Json>): Answer => ({ status, body: { status: 'ok', ...body } });
const refuse = (status: number, message: string): Answer => ({ status, body: { status: 'error', message } });

function header(headers: Delivery['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function isJson(headers: Delivery['headers']): boolean {
  const type = header(headers, 'content-type');
  return type !== undefined && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type);
}

/** Problems in the rules that would only show when an event arrives: found at start instead. */
export function checkSettings(settings: WebhookSettings): string[] {
  return [
    ...checkGitHubTemplates(settings.github?.rules ?? []),
    ...Object.entries(settings.standard ?? {}).flatMap(([name, s]) => checkStandardTemplate(name, templateStrings(s.task))),
  ];
}

export class Intake {
  private readonly settings: WebhookSettingsSource;
  private readonly ledger: DeliveryLedger;
  /** Deliveries being stored right now, so a concurrent duplicate waits for the first. */
  private readonly inFlight = new Map<string, Promise<Answer>>();

  constructor(private readonly options: IntakeOptions) {
    this.settings = options.settings;
    this.ledger = new DeliveryLedger(options.coordinator, options.clock);
  }

  /** Settings now, checked; throws INVALID_ARGUMENT naming the problem. */
  currentSettings(): WebhookSettings | undefined {
    const settings = this.settings();
    const problems = settings ? checkSettings(settings) : [];
    if (problems.length > 0) throw new HarnessError(ErrorCode.InvalidArgument, `webhooks in config.json: ${problems.join('; ')}`);
    return settings;
  }

  /**
   * What is wrong with the configured endpoints' secrets right now (a variable not set, a file
   * others may read, a malformed Standard Webhooks key), one line each, never a value: told when
   * the listener starts, so the first delivery is not where a person learns of it.
   */
  secretProblems(settings: WebhookSettings | undefined): string[] {
    const problems: string[] = [];
    const attempt = (what: string, read: () => unknown) => {
      try {
        read();
      } catch (e) {
        problems.push(describeError(e).startsWith(what) ? describeError(e) : `${what}: ${describeError(e)}`);
      }
    };
    const { workspace, env } = this.options;
    if (settings?.github) attempt('webhooks.github.secret', () => readSecret(settings.github!.secret, 'webhooks.github.secret', workspace, env));
    for (const [name, sender] of Object.entries(settings?.standard ?? {})) {
      const what = `webhooks.standard.${name}.secret`;
      attempt(what, () => standardKey(readSecret(sender.secret, what, workspace, env)));
    }
    return problems;
  }

  async receive(delivery: Delivery): Promise<Answer> {
    let settings: WebhookSettings | undefined;
    try {
      settings = this.currentSettings();
    } catch (e) {
      this.options.log.error(`webhook refused: ${describeError(e)}`);
      return refuse(500, 'the webhook configuration is invalid; the coordinator log says why');
    }
    if (delivery.path === '/github') return this.github(delivery, settings);
    const standard = /^\/hooks\/([A-Za-z0-9_.-]{1,60})$/.exec(delivery.path);
    if (standard) return this.standard(delivery, settings, standard[1]!);
    return refuse(404, `no webhook endpoint at ${delivery.path.slice(0, 100)}: use /github or /hooks/<sender>`);
  }

  private secret(source: Parameters<typeof readSecret>[0], what: string): Buffer | undefined {
    try {
      return readSecret(source, what, this.options.workspace, this.options.env);
    } catch (e) {
      this.options.log.error(`webhook refused: ${describeError(e)}`);
      return undefined;
    }
  }

  private async github(delivery: Delivery, settings: WebhookSettings | undefined): Promise<Answer> {
    const github = settings?.github;
    if (!github) return refuse(404, 'no GitHub endpoint is configured (webhooks.github in .harness/config.json)');
    const secret = this.secret(github.secret, 'webhooks.github.secret');
    if (!secret) return refuse(500, 'the webhook secret is not available; the coordinator log says why');
    if (!verifyGitHubSignature(delivery.body, header(delivery.headers, 'x-hub-signature-256'), secret)) {
      return refuse(401, header(delivery.headers, 'x-hub-signature-256') ? 'X-Hub-Signature-256 does not match' : 'X-Hub-Signature-256 is missing');
    }
    const event = header(delivery.headers, 'x-github-event');
    const id = header(delivery.headers, 'x-github-delivery');
    if (!event || !id) return refuse(400, `missing header ${!event ? 'X-GitHub-Event' : 'X-GitHub-Delivery'}`);
    if (!DELIVERY_ID.test(id)) return refuse(400, 'X-GitHub-Delivery must be 1 to 200 printable characters without spaces');
    const payload = parseJson(delivery);
    if ('status' in payload) return payload;
    let tasks: Array<TaskInput & { id: string }>;
    try {
      tasks = githubTasks({ event, delivery: id, payload: payload.json }, { rules: github.rules, labels: settings.labels }).map((m) => m.task);
    } catch (e) {
      return refuse(400, describeError(e));
    }
    if (tasks.length === 0) return ok(202, { delivery: id, ignored: true, message: `no rule wants ${event}${actionOf(payload.json)}` });
    return this.once(`github:${id}`, id, tasks, `github ${event}${actionOf(payload.json)} delivery ${id}`);
  }

  private async standard(delivery: Delivery, settings: WebhookSettings | undefined, name: string): Promise<Answer> {
    const sender = settings?.standard && Object.hasOwn(settings.standard, name) ? settings.standard[name] : undefined;
    if (!sender) return refuse(404, `no sender ${name} is configured (webhooks.standard.${name} in .harness/config.json)`);
    const secret = this.secret(sender.secret, `webhooks.standard.${name}.secret`);
    let key: Buffer | undefined;
    try {
      key = secret && standardKey(secret);
    } catch (e) {
      this.options.log.error(`webhook refused: webhooks.standard.${name}.secret: ${describeError(e)}`);
    }
    if (!key) return refuse(500, 'the webhook secret is not available; the coordinator log says why');
    const check = verifyStandardWebhook(
      delivery.body,
      { id: header(delivery.headers, 'webhook-id'), timestamp: header(delivery.headers, 'webhook-timestamp'), signature: header(delivery.headers, 'webhook-signature') },
      key,
      this.options.clock.now(),
    );
    if (!check.ok) return refuse(401, check.reason);
    if (!DELIVERY_ID.test(check.id)) return refuse(400, 'webhook-id must be 1 to 200 printable characters without spaces');
    const payload = parseJson(delivery);
    if ('status' in payload) return payload;
    const type = messageType(payload.json);
    if (sender.types && !sender.types.includes(type)) {
      return ok(202, { delivery: check.id, ignored: true, message: `sender ${name} does not take type ${JSON.stringify(type)}` });
    }
    let task: TaskInput & { id: string };
    try {
      task = standardTask({ sender: name, messageId: check.id, timestamp: check.timestamp, body: payload.json }, sender.task);
    } catch (e) {
      return refuse(400, describeError(e));
    }
    return this.once(`standard:${name}:${check.id}`, check.id, [task], `${name} message ${check.id}`);
  }

  /** Stores one delivery's tasks once, however often and however concurrently it arrives. */
  private once(key: string, id: string, tasks: Array<TaskInput & { id: string }>, what: string): Promise<Answer> {
    const running = this.inFlight.get(key);
    // The same delivery, arriving again while the first is being stored: its outcome is ours.
    if (running) return running.then((first) => (first.status < 300 ? ok(200, { delivery: id, duplicate: true }) : first));
    if (this.ledger.seen(key)) return Promise.resolve(ok(200, { delivery: id, duplicate: true }));
    const stored = this.store(key, id, tasks, what).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, stored);
    return stored;
  }

  private async store(key: string, id: string, tasks: Array<TaskInput & { id: string }>, what: string): Promise<Answer> {
    const { coordinator, log } = this.options;
    try {
      const created = await addMissing(coordinator, tasks);
      // After the tasks, so a crash between the two leaves a redelivery that finds them present.
      await this.ledger.record(key);
      const existing = tasks.map((t) => t.id).filter((t) => !created.includes(t));
      log.info(`${what}: ${created.length ? `created ${created.join(', ')}` : ''}${created.length && existing.length ? '; ' : ''}${existing.length ? `already present ${existing.join(', ')}` : ''}`);
      return ok(created.length > 0 ? 201 : 200, { delivery: id, created, existing });
    } catch (e) {
      if (e instanceof HarnessError && e.code === ErrorCode.InvalidArgument) return refuse(400, `${what}: ${e.message}`);
      log.error(`${what} not stored: ${describeError(e)}`);
      const closing = e instanceof HarnessError && e.code === ErrorCode.Closed;
      return refuse(closing ? 503 : 500, closing ? 'the coordinator is shutting down; deliver again' : `not stored: ${describeError(e)}`);
    }
  }
}

const WebhookTasks = z.array(TaskInputSchema.extend({ id: TaskInputSchema.shape.id.unwrap() })).max(MAX_PLAN_TASKS);

/**
 * Adds the tasks not already present, atomically; a task that is present already (this issue
 * was labelled before, the delivery came twice) is "already have it", not an error.
 */
export async function addMissing(coordinator: Coordinator, made: ReadonlyArray<TaskInput & { id: string }>): Promise<string[]> {
  // The tasks come from outside (an event's fields filled into a template): this is their edge,
  // so they are checked here as a request's parameters would be (the coordinator does not parse).
  const tasks = parse(WebhookTasks, made, 'tasks from the webhook', 'tasks');
  for (let attempt = 0; ; attempt++) {
    const missing = tasks.filter((t) => !coordinator.store.getTask(t.id));
    if (missing.length === 0) {
      // Present, but perhaps added a moment ago by a concurrent delivery and not yet on disk:
      // a read that waits for durability makes "already have it" true before it is said.
      await coordinator.primitives.state.get({ key: 'webhooks/barrier' }).catch((e: unknown) => {
        if (!(e instanceof HarnessError && e.code === ErrorCode.NotFound)) throw e;
      });
      return [];
    }
    try {
      return (await coordinator.addTasks(missing)).map((t) => t.id);
    } catch (e) {
      // Another delivery added one of them between the look and the add: look again.
      if (!(e instanceof HarnessError && e.code === ErrorCode.AlreadyExists) || attempt >= 3) throw e;
    }
  }
}

function parseJson(delivery: Delivery): { json: Json } | Answer {
  if (!isJson(delivery.headers)) {
    return refuse(415, `Content-Type must be application/json, got ${JSON.stringify(header(delivery.headers, 'content-type') ?? '').slice(0, 100)}`);
  }
  try {
    return { json: JSON.parse(delivery.body.toString('utf8')) as Json };
  } catch (e) {
    return refuse(400, `malformed JSON: ${describeError(e)}`);
  }
}

function actionOf(json: Json): string {
  return json && typeof json === 'object' && !Array.isArray(json) && typeof json.action === 'string' ? `.${json.action.slice(0, 50)}` : '';
}
