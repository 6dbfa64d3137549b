/**
 * At most `concurrency` replays read the stream at once on this edge; the others wait in arrival
 * order. After an edge dies, thousands of clients resume on the survivors within a second: without
 * the cap every one of them would send its reads to NATS at once.
 */
export class ReplayLimiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private head = 0;

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`invalid replay concurrency ${concurrency}`);
  }

  get queued(): number {
    return this.waiting.length - this.head;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Hands the slot to the next waiter (the count stays), or frees it. */
  private release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head] as () => void;
      this.waiting[this.head] = undefined as unknown as () => void;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next();
      return;
    }
    this.running--;
  }
}
