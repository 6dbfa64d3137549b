// Module resolution for scripts run by the stand-in: `k6` and `k6/<module>` map to the stand-in's own
// implementations; anything it does not implement fails at import with a message naming the module,
// instead of a script half-running on a missing API.
const implemented = new Map([
  ['k6', 'k6.mjs'],
  ['k6/websockets', 'websockets.mjs'],
  ['k6/experimental/websockets', 'websockets.mjs'],
  ['k6/metrics', 'metrics.mjs'],
  ['k6/http', 'http.mjs'],
  ['k6/crypto', 'crypto.mjs'],
  ['k6/encoding', 'encoding.mjs'],
  ['k6/timers', 'timers.mjs'],
  ['k6/execution', 'execution.mjs'],
]);

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'k6' || specifier.startsWith('k6/')) {
    const file = implemented.get(specifier);
    if (file === undefined) {
      throw new Error(`k6 stand-in: module '${specifier}' is not implemented (implemented: ${[...implemented.keys()].join(', ')})`);
    }
    return { url: new URL(`./modules/${file}`, import.meta.url).href, shortCircuit: true };
  }
  if (/^https?:\/\//.test(specifier)) {
    throw new Error(`k6 stand-in: remote module '${specifier}' cannot be loaded (no network in CI; vendor it next to the script)`);
  }
  return nextResolve(specifier, context);
}
