import { createHash, timingSafeEqual } from 'node:crypto';
import { parseBearer, readClaim, type VerifyResult } from '@session-mesh/auth';
import { isValidId, type BlacklistEntry } from '@session-mesh/protocol';

/** The part of libs/auth's TokenVerifier the admin API uses. */
export interface AdminTokenVerifier {
  verify(token: string): Promise<VerifyResult>;
}

export type AuthResult =
  | { readonly ok: true; readonly actor: string }
  | { readonly ok: false; readonly status: 401 | 403 | 503; readonly message: string };

/** The blacklist as admin JWTs are checked against it (BlacklistBucket in production). */
export interface AdminRevocations {
  /** The entry refusing these claims now; `unknown` while the blacklist is not loaded yet. */
  refusing(user: string, session: string | undefined, issuedAtMs: number | undefined): BlacklistEntry | undefined | 'unknown';
}

export interface AdminAuthenticator {
  /** Checks an `Authorization` header value. Never throws. */
  authenticate(authorization: string | undefined): Promise<AuthResult>;
}

/** `token:<first 8 hex of sha256>`: names a static token in audit lines without revealing it. */
export function tokenFingerprint(token: string): string {
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
}

/**
 * Static tokens are compared as SHA-256 digests with timingSafeEqual, against EVERY configured
 * token (no early exit), so neither the content nor the length of a token leaks through timing.
 * A bearer that is not a static token is tried as a JWT (when a verifier is configured): valid
 * and carrying `role` -> allowed (actor `jwt:<user>`); valid without the role -> 403.
 *
 * Admin JWTs go through the same revocation as connections: a user entry (whole, or tokens issued
 * before `issuedBefore`) or an entry for the token's session (`sessionClaim`, when the token has
 * one) refuses it with 401. Until the blacklist is loaded a JWT cannot be cleared: 503. Static
 * tokens name no user and are revoked by removing them from MESH_ADMIN_TOKENS.
 */
export function createAdminAuthenticator(options: {
  readonly tokens: readonly string[];
  readonly verifier: AdminTokenVerifier | undefined;
  readonly role: string;
  readonly revocations: AdminRevocations;
  /** The claim naming a token's session (MESH_JWT_SESSION_CLAIM, default `jti`); optional in admin tokens. */
  readonly sessionClaim: string;
}): AdminAuthenticator {
  const digests = options.tokens.map((t) => ({ digest: sha256(t), actor: tokenFingerprint(t) }));
  const { verifier, role, revocations, sessionClaim } = options;

  return {
    async authenticate(authorization) {
      if (authorization === undefined || authorization.length === 0) {
        return { ok: false, status: 401, message: 'missing Authorization header (expected "Bearer <token>")' };
      }
      const bearer = parseBearer(authorization);
      if (bearer.kind !== 'token') return { ok: false, status: 401, message: 'Authorization header must be "Bearer <token>"' };
      const token = bearer.token;
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
      const refusal = revocations.refusing(result.userId, sessionOf(token, sessionClaim), result.issuedAtMs ?? undefined);
      if (refusal === 'unknown') return { ok: false, status: 503, message: 'the blacklist is not loaded yet: admin JWTs cannot be checked; retry shortly' };
      if (refusal !== undefined) {
        return { ok: false, status: 401, message: `admin token revoked: ${refusal.kind} ${JSON.stringify(refusal.id)} is blacklisted` };
      }
      return { ok: true, actor: `jwt:${result.userId}` };
    },
  };
}

/**
 * The session a VERIFIED token names, if any. Admin tokens may lack it (operators' tokens often
 * have no `jti`), so the verifier does not require it and it is read here from the payload.
 */
function sessionOf(verifiedToken: string, claim: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(verifiedToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const session = readClaim(payload, claim);
    return isValidId(session) ? session : undefined;
  } catch {
    return undefined;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
