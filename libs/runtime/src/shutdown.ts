import type { Logger } from 'pino';

/**
 * Ordered, bounded shutdown. Hooks run in REVERSE registration order (what started last stops
 * first: servers before the bus they publish to). A watchdog exits the process if hooks overrun.
 */
export class Shutdown {
  private readonly hooks: { name: string; run: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  onShutdown(name: string, run: () => Promise<void> | void): void {
    this.hooks.push({ name, run });
  }

  /** Runs every hook once; later calls return the same promise. */
  run(reason: string): Promise<void> {
    this.running ??= this.runHooks(reason);
    return this.running;
  }

  private async runHooks(reason: string): Promise<void> {
    this.logger.info({ reason, hooks: this.hooks.length }, 'shutting down');
    for (const hook of [...this.hooks].reverse()) {
      try {
        await hook.run();
      } catch (err) {
        this.logger.error({ err, hook: hook.name }, 'shutdown hook failed');
      }
    }
    this.logger.info('shutdown complete');
  }

  /** SIGTERM/SIGINT run the hooks then exit 0; a watchdog exits 1 if they take longer than timeoutMs. */
  installSignalHandlers(exit: (code: number) => void = (code) => process.exit(code)): void {
    const onSignal = (signal: NodeJS.Signals) => {
      const watchdog = setTimeout(() => {
        this.logger.error({ timeoutMs: this.timeoutMs }, 'shutdown overran its deadline, exiting');
        exit(1);
      }, this.timeoutMs);
      watchdog.unref();
      void this.run(signal).then(() => {
        clearTimeout(watchdog);
        exit(0);
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
}
