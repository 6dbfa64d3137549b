import { createHash, timingSafeEqual } from 'node:crypto';
import type { VerifyResult } from '@session-mesh/auth';

/** The part of libs/auth's TokenVerifier the admin API uses. */
export interface AdminTokenVerifier {
  verify(token: string): Promise<VerifyResult>;
}

export type AuthResult =
  | { readonly ok: true; readonly actor: string }
  | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

export interface AdminAuthenticator {
  /** Checks an `Authorization` header value. Never throws. */
  authenticate(authorization: string | undefined): Promise<AuthResult>;
}

/** `token:<first 8 hex of sha256>`: names a static token in audit lines without revealing it. */
export function tokenFingerprint(token: string): string {
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
}

const BEARER_RE = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Static tokens are compared as SHA-256 digests with timingSafeEqual, against EVERY configured
 * token (no early exit), so neither the content nor the length of a token leaks through timing.
 * A bearer that is not a static token is tried as a JWT (when a verifier is configured): valid
 * and carrying `role` -> allowed (actor `jwt:<user>`); valid without the role -> 403.
 */
export function createAdminAuthenticator(options: {
  readonly tokens: readonly string[];
  readonly verifier: AdminTokenVerifier | undefined;
  readonly role: string;
}): AdminAuthenticator {
  const digests = options.tokens.map((t) => ({ digest: sha256(t), actor: tokenFingerprint(t) }));
  const { verifier, role } = options;

  return {
    async authenticate(authorization) {
      if (authorization === undefined || authorization.length === 0) {
        return { ok: false, status: 401, message: 'missing Authorization header (expected "Bearer <token>")' };
      }
      const match = BEARER_RE.exec(authorization);
      if (match === null) return { ok: false, status: 401, message: 'Authorization header must be "Bearer <token>"' };
      const token = match[1]!;
      const presented = sha256(token);
      let actor: string | undefined;
      for (const d of digests) {
        if (timingSafeEqual(presented, d.digest) && actor === undefined) actor = d.actor;
      }
      if (actor !== undefined) return { ok: true, actor };
      if (verifier === undefined) return { ok: false, status: 401, message: 'invalid admin token' };
      const result = await verifier.verify(token);
      if ('error' in result) return { ok: false, status: 401, message: `invalid admin token: ${result.message}` };
      if (!result.roles.includes(role)) {
        return { ok: false, status: 403, message: `token of ${JSON.stringify(result.userId)} lacks the role ${JSON.stringify(role)}` };
      }
      return { ok: true, actor: `jwt:${result.userId}` };
    },
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
