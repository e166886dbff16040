// What a Standard Webhooks message becomes: pure, like the GitHub rules. The message id is the
// idempotency key the scheme defines, so it is in the task id: a resent message finds its task.
import type { Json, TaskInput } from '../core/model';
import type { TaskTemplate } from './config';
import { httpUrl, taskFromTemplate } from './github-rules';
import { clip, unknownPlaceholders, type Vars } from './template';

export const STANDARD_VARS = ['sender', 'message_id', 'type', 'timestamp'] as const;

export interface StandardMessage {
  /** The sender's name in the config (the path /hooks/<name>). */
  sender: string;
  messageId: string;
  timestamp: number;
  body: Json;
}

/** `type` and `data` of a message shaped `{type, timestamp, data}`, as the scheme recommends. */
function envelope(body: Json): { type: string; data: Json } {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const type = typeof body.type === 'string' ? body.type : '';
    return { type, data: body.data !== undefined ? body.data : body };
  }
  return { type: '', data: body };
}

/** The message's `type`, or '' when it has none. */
export function messageType(body: Json): string {
  return envelope(body).type;
}

/** `{data.a.b}` reads a string or number inside the message's data. */
function dataVars(data: Json, prefix = 'data', out: Record<string, string | number> = {}, depth = 0): Record<string, string | number> {
  if (depth > 4 || !data || typeof data !== 'object' || Array.isArray(data)) return out;
  for (const [k, v] of Object.entries(data)) {
    if (typeof v === 'string' || typeof v === 'number') out[`${prefix}.${k}`] = v;
    else dataVars(v, `${prefix}.${k}`, out, depth + 1);
  }
  return out;
}

export function standardTask(message: StandardMessage, template: TaskTemplate): TaskInput & { id: string } {
  const { type, data } = envelope(message.body);
  const vars: Vars = { ...dataVars(data), sender: message.sender, message_id: message.messageId, type, timestamp: message.timestamp };
  const payload: Record<string, Json> = { source: 'webhook', sender: message.sender, message_id: message.messageId, type, data };
  const url = data && typeof data === 'object' && !Array.isArray(data) && typeof data.url === 'string' ? data.url : undefined;
  const source = { kind: 'webhook', ...httpUrl(url), title: clip(`${message.sender}${type ? `: ${type}` : ''}`, 500) };
  return taskFromTemplate(template, { id: 'wh-{sender}-{message_id}', description: '{type} from {sender}' }, vars, { capabilities: [] }, payload, source);
}

/** Placeholders a sender's template names that no message fills (`data.*` is checked per message). */
export function checkStandardTemplate(name: string, templateStrings: readonly string[]): string[] {
  const known = (v: string) => (STANDARD_VARS as readonly string[]).includes(v) || v.startsWith('data.');
  return templateStrings.flatMap((t) => unknownPlaceholders(t, known).map((v) => `sender ${name}: unknown placeholder {${v}}`));
}
