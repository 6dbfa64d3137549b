/**
 * A clock read on every received frame: updated once per second by the sweeper instead of calling
 * Date.now() per frame. Whole seconds stay small integers in V8 (no heap number per connection).
 */
export class CoarseClock {
  nowS: number;

  constructor(private readonly now: () => number = Date.now) {
    this.nowS = Math.floor(now() / 1000);
  }

  tick(): number {
    const ms = this.now();
    this.nowS = Math.floor(ms / 1000);
    return ms;
  }
}
