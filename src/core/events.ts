export type Listener<T> = (event: T) => void;

export interface Disposable {
  dispose(): void;
}

/**
 * A typed event emitter whose emit can never throw: a listener that fails is reported to
 * `onListenerError` and the others still run, so a bad UI listener cannot break scheduling.
 */
export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();
  private readonly anyListeners = new Set<(name: keyof Events, event: Events[keyof Events]) => void>();

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): Disposable {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as Listener<never>);
    return { dispose: () => set.delete(listener as Listener<never>) };
  }

  /** Every event, with its name: what the socket's `subscribe` forwards. */
  onAny(listener: <K extends keyof Events>(name: K, event: Events[K]) => void): Disposable {
    const l = listener as (name: keyof Events, event: Events[keyof Events]) => void;
    this.anyListeners.add(l);
    return { dispose: () => this.anyListeners.delete(l) };
  }

  emit<K extends keyof Events>(name: K, event: Events[K]): void {
    for (const l of this.listeners.get(name) ?? []) this.call(() => (l as Listener<Events[K]>)(event));
    for (const l of this.anyListeners) this.call(() => l(name, event));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      try {
        this.onListenerError(e);
      } catch {
        // The error reporter itself failed; nothing sensible is left to do.
      }
    }
  }
}
