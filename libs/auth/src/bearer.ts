const BEARER_RE = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** What an Authorization header holds: nothing, a bearer token, or something else (an error to report). */
export type BearerLookup = { readonly kind: 'absent' } | { readonly kind: 'token'; readonly token: string } | { readonly kind: 'malformed' };

/**
 * `Authorization: Bearer <token>` (RFC 6750), the one parser for the edge and the admin API. A
 * header that is present but not a bearer token is `malformed` (never silently ignored).
 */
export function parseBearer(header: string | undefined): BearerLookup {
  if (header === undefined || header === '') return { kind: 'absent' };
  const match = BEARER_RE.exec(header);
  return match === null ? { kind: 'malformed' } : { kind: 'token', token: match[1]! };
}
