// Events as NATS subjects: the leader publishes each coordinator event on
// `harness.<cluster>.events.<name>`, and each coordinator publishes its own exec runs' events the
// same way, so a subscriber on any host (`harness watch`, the trees, the panel) follows the
// whole cluster. Events are notifications, as on one machine: one missed during a take-over is
// not replayed (a viewer reads the state again when the leader changes).
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Disposable } from '../core/events';
import type { ClusterNames } from './names';
import { nats } from './nats-loader';
import { PART, PartAssembler, splitParts } from './parts';

const EVENT = 'Harness-Event';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type EventListener = (name: string, data: unknown) => void;

export class ClusterEvents {
  private subscription: Subscription | undefined;
  private readonly listeners = new Set<EventListener>();
  private readonly parts = new PartAssembler<string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: ClusterNames,
    private readonly maxBytes: number,
  ) {}

  publish(name: string, data: unknown): void {
    if (this.nc.isClosed()) return;
    const payload = encoder.encode(JSON.stringify(data));
    const subject = `${this.names.events}.${name}`;
    // Most events fit one message: sent bare, with no headers to build.
    if (payload.length <= this.maxBytes) return this.nc.publish(subject, payload);
    for (const part of splitParts(payload, this.maxBytes, { [EVENT]: nats().nuid.next() })) this.nc.publish(subject, part.data, { headers: part.headers! });
  }

  /** Every event of the cluster, by name, as it arrives. */
  onAny(listener: EventListener): Disposable {
    this.listeners.add(listener);
    const prefix = `${this.names.events}.`;
    this.subscription ??= this.nc.subscribe(`${prefix}>`, {
      callback: (err, msg) => {
        if (err) return;
        const whole = this.parts.add(msg.headers?.get(EVENT) ?? '', msg.headers?.get(PART), msg.data);
        if (!whole) return;
        let data: unknown;
        try {
          data = JSON.parse(decoder.decode(whole));
        } catch {
          return; // not one of ours
        }
        const name = msg.subject.slice(prefix.length);
        for (const l of this.listeners) {
          try {
            l(name, data);
          } catch {
            // one listener's failure (a connection gone mid-write) is not the others'
          }
        }
      },
    });
    return {
      dispose: () => {
        this.listeners.delete(listener);
        if (this.listeners.size === 0) {
          this.subscription?.unsubscribe();
          this.subscription = undefined;
        }
      },
    };
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.listeners.clear();
  }
}
