export interface WaitOptions {
  /** Default 5 s. */
  readonly timeoutMs?: number;
  /** Default 10 ms. */
  readonly intervalMs?: number;
  /** Names the condition in the timeout error. */
  readonly what?: string;
  /** Asked before every attempt: an error returned ends the wait at once (the awaited process has exited, say). */
  readonly abort?: () => Error | undefined;
  /** The error thrown on timeout, given the last attempt's error; default "timed out after N ms waiting for <what>: <error>". */
  readonly timeoutError?: (lastError: unknown) => Error;
}

/**
 * The one polling helper of the tests and the benchmarks.
 * Polls `condition` until it returns a value other than false/null/undefined (or stops throwing), then
 * returns it. For effects that arrive asynchronously: never sleep a fixed time instead.
 */
export async function waitFor<T>(
  condition: () => T | false | null | undefined | Promise<T | false | null | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = options.abort?.();
    if (aborted !== undefined) throw aborted;
    try {
      const value = await condition();
      if (value !== false && value !== undefined && value !== null) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      if (options.timeoutError !== undefined) throw options.timeoutError(lastError);
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
