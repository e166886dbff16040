// Mailboxes: durable, at-least-once messages to a worker, or to every subscriber of a topic.
import { z } from 'zod';
import { command } from './command';
import { WaitMs } from './durations';
import { Id, JsonValue, Timestamp, WorkerId } from './model';

export const TOPIC_PREFIX = 'topic:';
export const DEFAULT_RECEIVE_MAX = 100;

/** A topic, with or without its `topic:` prefix; its name without. */
export const TopicName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\s\u0000-\u001f\u007f]+$/, 'must not contain spaces or control characters')
  .transform((t) => (t.startsWith(TOPIC_PREFIX) ? t.slice(TOPIC_PREFIX.length) : t))
  .pipe(z.string().min(1, 'names no topic'));

/** A recipient: a worker id, or `topic:NAME`. */
const Recipient = z
  .string()
  .min(1)
  .max(210)
  .superRefine((to, ctx) => {
    const result = to.startsWith(TOPIC_PREFIX) ? TopicName.safeParse(to) : Id.safeParse(to);
    for (const issue of result.error?.issues ?? []) ctx.addIssue({ code: 'custom', message: issue.message });
  });
const MessageId = z.string().min(1).max(200).describe('The message id');

export const Message = z.object({
  id: z.string(),
  to: z.string(),
  from: z.string().nullable(),
  body: JsonValue,
  sent_at: Timestamp,
});
export type Message = z.output<typeof Message>;

export const PendingMessage = Message.extend({ recipient: z.string() });
export type PendingMessage = z.output<typeof PendingMessage>;

export const MessageSend = command({
  name: 'message_send',
  kind: 'mutation',
  summary: 'Send a JSON message to a worker, or to every worker subscribed to topic:NAME.',
  params: z.strictObject({
    to: Recipient.describe('A worker id, or topic:NAME'),
    body: JsonValue.describe('Any JSON'),
    from: Id.optional().describe('The sender'),
  }),
  result: z.object({
    message_id: z.string(),
    to: z.string(),
    recipients: z.array(z.string()).describe('Who gets a copy: the worker, or the subscribers of the topic (none: nobody gets it)'),
    unregistered: z
      .array(z.string())
      .describe('Recipients that are not registered workers: the message is kept for them and delivered if a worker with that id comes later'),
  }),
  fills: { worker: 'from' },
});

export const MessageReceive = command({
  name: 'message_receive',
  kind: 'query',
  summary: "This worker's oldest unacknowledged messages (they come again until acknowledged); fewer than max when their JSON passes 4 MiB.",
  params: z.strictObject({
    worker_id: WorkerId,
    wait_ms: WaitMs.optional().describe('Wait this long for a first message (default 0)'),
    max: z.number().int().min(1).max(1000).optional().describe(`At most this many (default ${DEFAULT_RECEIVE_MAX})`),
  }),
  result: z.object({ messages: z.array(Message) }),
  fills: { worker: 'worker_id' },
  waits: 'wait_ms',
});

export const MessageAck = command({
  name: 'message_ack',
  kind: 'mutation',
  summary: 'Acknowledge a message: it is not delivered to this worker again.',
  params: z.strictObject({ worker_id: WorkerId, message_id: MessageId }),
  result: z.object({ message_id: z.string(), worker_id: z.string() }),
  fills: { worker: 'worker_id' },
});

export const MessageList = command({
  name: 'message_list',
  kind: 'query',
  summary: 'Pending deliveries (to anyone, or to one recipient), oldest first, up to 4 MiB of JSON; and the topic subscriptions.',
  params: z.strictObject({ recipient: z.string().min(1).max(210).optional().describe('Only deliveries to this worker') }),
  result: z.object({
    messages: z.array(PendingMessage),
    topics: z.record(z.string(), z.array(z.string())),
    truncated: z.boolean().describe('More deliveries are pending than fit in one reply (4 MiB)'),
  }),
});

export const MessageDrop = command({
  name: 'message_drop',
  kind: 'mutation',
  summary: 'Drop a pending message, for everyone or for one recipient.',
  params: z.strictObject({ message_id: MessageId, recipient: z.string().min(1).max(210).optional().describe('Only this delivery') }),
  result: z.object({ message_id: z.string(), recipients: z.array(z.string()) }),
});

const TopicParams = z.strictObject({ worker_id: WorkerId, topic: TopicName.describe('The topic (with or without "topic:")') });

export const TopicSubscribe = command({
  name: 'topic_subscribe',
  kind: 'mutation',
  summary: 'Receive the messages sent to topic:NAME from now on.',
  params: TopicParams,
  result: z.object({ topic: z.string(), worker_id: z.string(), subscribed: z.literal(true) }),
  fills: { worker: 'worker_id' },
});

export const TopicUnsubscribe = command({
  name: 'topic_unsubscribe',
  kind: 'mutation',
  summary: 'Stop receiving a topic.',
  params: TopicParams,
  result: z.object({ topic: z.string(), worker_id: z.string(), subscribed: z.literal(false) }),
  fills: { worker: 'worker_id' },
});

export const MESSAGE_COMMANDS = [MessageSend, MessageReceive, MessageAck, MessageList, MessageDrop, TopicSubscribe, TopicUnsubscribe] as const;
