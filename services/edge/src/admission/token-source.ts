import { parseBearer } from '@session-mesh/auth';
import { BEARER_SUBPROTOCOL_PREFIX, SUBPROTOCOL } from '@session-mesh/protocol';
import type { TokenSourceName } from '../config.js';

/**
 * What the upgrade handler copies out of a uWS HttpRequest, which is only valid during the
 * synchronous part of the handler. Everything here is plain strings, so parsing is pure.
 */
export interface CapturedRequest {
  readonly url: string;
  /** Raw query string without `?`. */
  readonly query: string;
  readonly origin: string;
  readonly authorization: string;
  readonly protocols: string;
  readonly cookie: string;
  readonly secWebSocketKey: string;
  readonly secWebSocketExtensions: string;
}

export interface TokenSourceOptions {
  readonly sources: readonly TokenSourceName[];
  readonly queryParam: string;
  readonly cookie: string;
}

export type TokenLookup =
  | { readonly kind: 'found'; readonly token: string; readonly source: TokenSourceName }
  | { readonly kind: 'missing' }
  /** A source was present but malformed (e.g. `Authorization: Basic ...`). */
  | { readonly kind: 'malformed'; readonly source: TokenSourceName; readonly message: string };

/**
 * Finds the token in the configured sources, in order. A present-but-malformed source is an
 * error rather than a reason to try the next one: silently falling through would hide mistakes.
 */
export function findToken(req: CapturedRequest, options: TokenSourceOptions): TokenLookup {
  for (const source of options.sources) {
    switch (source) {
      case 'header': {
        const bearer = parseBearer(req.authorization);
        if (bearer.kind === 'absent') break;
        if (bearer.kind === 'malformed') return { kind: 'malformed', source, message: 'Authorization header must be "Bearer <token>"' };
        return { kind: 'found', token: bearer.token, source };
      }
      case 'protocol': {
        const entry = splitProtocols(req.protocols).find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
        if (entry === undefined) break;
        const token = entry.slice(BEARER_SUBPROTOCOL_PREFIX.length);
        if (token === '') return { kind: 'malformed', source, message: `empty ${BEARER_SUBPROTOCOL_PREFIX}<token> subprotocol` };
        return { kind: 'found', token, source };
      }
      case 'query': {
        const token = queryParam(req.query, options.queryParam);
        if (token === undefined) break;
        if (token === '') return { kind: 'malformed', source, message: `empty ${options.queryParam} query parameter` };
        return { kind: 'found', token, source };
      }
      case 'cookie': {
        const token = cookieValue(req.cookie, options.cookie);
        if (token === undefined) break;
        if (token === '') return { kind: 'malformed', source, message: `empty ${options.cookie} cookie` };
        return { kind: 'found', token, source };
      }
    }
  }
  return { kind: 'missing' };
}

export function splitProtocols(header: string): string[] {
  if (header === '') return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/**
 * The subprotocol to echo: only `session-mesh.v1`, and only when offered. The `bearer.<jwt>` entry
 * is never echoed (it would put the token in the response and in proxy logs).
 */
export function selectSubprotocol(header: string): string {
  return splitProtocols(header).includes(SUBPROTOCOL) ? SUBPROTOCOL : '';
}

/** First value of a query parameter (decoded), undefined when absent. */
export function queryParam(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  const value = new URLSearchParams(query).get(name);
  return value ?? undefined;
}

/** Value of a cookie (percent-decoded when it decodes), undefined when absent. */
export function cookieValue(header: string, name: string): string | undefined {
  if (header === '') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

/** Whether the Origin header is allowed; non-browser clients send none and are allowed. */
export function originAllowed(origin: string, allowed: readonly string[] | undefined): boolean {
  if (allowed === undefined || origin === '') return true;
  return allowed.includes(origin.trim().toLowerCase().replace(/\/+$/, ''));
}
