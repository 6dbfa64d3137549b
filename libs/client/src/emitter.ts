/** A minimal typed event emitter (no dependency on Node's events or the DOM's EventTarget). */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>();

  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as (value: never) => void);
    return () => set.delete(listener as (value: never) => void);
  }

  /** Listener exceptions are reported through `onListenerError`, never thrown into the socket's handlers. */
  emit<K extends keyof Events>(event: K, value: Events[K], onListenerError: (err: unknown) => void): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as (value: Events[K]) => void)(value);
      } catch (err) {
        onListenerError(err);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
