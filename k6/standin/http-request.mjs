// One HTTP request with fetch, answered as plain data (status, body text, headers, duration, error).
export async function performRequest({ method, url, body, headers, timeoutMs }) {
  const started = performance.now();
  try {
    const res = await fetch(url, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, body: text, headers: Object.fromEntries(res.headers), durationMs: performance.now() - started, error: '' };
  } catch (err) {
    return { status: 0, body: '', headers: {}, durationMs: performance.now() - started, error: String(err?.cause?.message ?? err?.message ?? err) };
  }
}
