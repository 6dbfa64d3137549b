import { createRequire } from 'node:module';
import uWS from 'uWebSockets.js';

/**
 * The uWebSockets.js package we install silently falls back to a pure-JS shim built on `ws` when
 * its native binary does not load (one console warning, then 10x the memory and CPU). An edge on
 * the shim would pass every functional test and fail in production, so it refuses to start.
 */
export class NativeUwsError extends Error {
  override readonly name = 'NativeUwsError';
}

/** What the check needs to know; injectable so the refusal can be unit-tested. */
export interface UwsProbe {
  /** Module ids loaded so far (`require.cache` keys). */
  readonly loadedModules: readonly string[];
  /** The loaded uWebSockets.js module. */
  readonly uws: unknown;
}

/** Throws NativeUwsError unless the native binary is loaded. Returns the binary's path. */
export function assertNativeUws(probe: UwsProbe): string {
  const binary = probe.loadedModules.find((id) => /uws_[^/\\]*\.node$/.test(id));
  const sslApp = typeof probe.uws === 'object' && probe.uws !== null ? (probe.uws as { SSLApp?: unknown }).SSLApp : undefined;
  if (binary === undefined || typeof sslApp !== 'function') {
    throw new NativeUwsError(
      'uWebSockets.js is running on its slow JavaScript fallback (no uws_*.node binary loaded): ' +
        `this build needs Node 20 on linux/darwin/win32 (ABI 115); running Node ${process.versions.node} ` +
        `(ABI ${process.versions.modules}) on ${process.platform}/${process.arch}. Refusing to start.`,
    );
  }
  return binary;
}

/** The real probe: this process's require cache and the default import. */
export function currentUwsProbe(): UwsProbe {
  const require = createRequire(import.meta.url);
  return { loadedModules: Object.keys(require.cache), uws: uWS };
}

export { uWS };
