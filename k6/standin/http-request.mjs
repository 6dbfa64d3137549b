// One HTTP request with fetch, answered as plain data (status, body text, headers, duration, error).
/** @param {unknown} err */
function describeFetchError(err) {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? err.cause.message : err.message;
}

/** @param {{ method: string, url: string, body?: string | Uint8Array, headers: Record<string, string>, timeoutMs: number }} request */
export async function performRequest({ method, url, body, headers, timeoutMs }) {
  const started = performance.now();
  try {
    const res = await fetch(url, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, body: text, headers: Object.fromEntries(res.headers), durationMs: performance.now() - started, error: '' };
  } catch (err) {
    return { status: 0, body: '', headers: {}, durationMs: performance.now() - started, error: describeFetchError(err) };
  }
}
