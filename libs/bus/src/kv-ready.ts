/**
 * Opening a KV bucket or a stream that may not be there yet: its owner has not created it, or the
 * NATS cluster is still forming (no JetStream meta leader, streams not yet visible). A service
 * calls this at startup, stays unready until it resolves, and never crashes meanwhile.
 */
import { KvNotReadyError, type Bus, type KvBucket, type KvOptions } from './bus.js';
import { reportHandlerError } from './logger.js';
import { StreamUnavailableError, type BusStream, type StreamConfig } from './stream.js';

export interface KvWaitOptions {
  /** Stops waiting: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Called before each wait (log it: the caller stays unready meanwhile). Must not throw. */
  readonly onWait?: ((wait: { readonly attempt: number; readonly delayMs: number; readonly error: Error }) => void) | undefined;
  /** First wait; doubled per attempt up to maxDelayMs. Default 100 ms. */
  readonly initialDelayMs?: number | undefined;
  /** Default 5000 ms. */
  readonly maxDelayMs?: number | undefined;
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `attempt`, or the signal's reason as soon as it aborts (one attempt can take a JetStream API timeout). */
function untilAborted<T>(attempt: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return attempt;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    attempt.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * `bus.kv(bucket, options)`, retried with capped exponential backoff while it rejects with a
 * KvNotReadyError (KvBucketMissingError, KvUnavailableError); any other error (KvSettingsMismatchError, a closed
 * bus, an invalid name) rejects at once, and so does an abort.
 */
export function openKvWhenReady(bus: Bus, bucket: string, options: KvOptions, wait: KvWaitOptions = {}): Promise<KvBucket> {
  return retryWhileNotReady(() => bus.kv(bucket, options), (err) => err instanceof KvNotReadyError, `kv:${bucket}`, wait);
}

/**
 * `bus.stream(name, config)` (create or update), retried the same way while JetStream cannot
 * answer (StreamUnavailableError); any other error rejects at once.
 */
export function openStreamWhenReady(bus: Bus, name: string, config: StreamConfig, wait: KvWaitOptions = {}): Promise<BusStream> {
  return retryWhileNotReady(() => bus.stream(name, config), (err) => err instanceof StreamUnavailableError, `stream:${name}`, wait);
}

async function retryWhileNotReady<T>(open: () => Promise<T>, notReady: (err: unknown) => boolean, what: string, wait: KvWaitOptions): Promise<T> {
  const initial = wait.initialDelayMs ?? 100;
  const max = wait.maxDelayMs ?? 5000;
  if (!(initial > 0) || !(max >= initial)) {
    throw new Error(`invalid wait delays: initialDelayMs ${initial} must be > 0 and <= maxDelayMs ${max}`);
  }
  for (let attempt = 1; ; attempt++) {
    wait.signal?.throwIfAborted();
    try {
      return await untilAborted(open(), wait.signal);
    } catch (err) {
      if (!notReady(err)) throw err;
      const delayMs = Math.min(max, initial * 2 ** Math.min(attempt - 1, 30));
      try {
        wait.onWait?.({ attempt, delayMs, error: err as Error });
      } catch (hookErr) {
        reportHandlerError(undefined, `${what}:onWait`, hookErr);
      }
      await pause(delayMs, wait.signal);
    }
  }
}
