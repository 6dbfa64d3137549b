import { isTokenError, type TokenVerifier } from '@session-mesh/auth';
import { CloseCode, parseResumePoint, type CloseCodeName, type ResumePoint } from '@session-mesh/protocol';
import type { BlacklistView } from '../control/blacklist-view.js';
import type { EdgeConfig } from '../config.js';
import { anonymousIdentity, clientIdProblem, identityFromToken, randomClientId, type Identity, type RoleTable } from '../connection/identity.js';
import type { AnonymousIds } from './anonymous-ids.js';
import type { ConnectionLimits } from './limits.js';
import { findToken, originAllowed, queryParam, selectSubprotocol, type CapturedRequest } from './token-source.js';

/** An upgrade refused over HTTP. `closeCode` names the close code the situation corresponds to. */
export interface Refusal {
  readonly refused: true;
  readonly status: 400 | 401 | 403 | 426 | 429 | 431 | 500 | 503;
  /** Machine-readable error, in the JSON body. */
  readonly error: CloseCodeName | 'ORIGIN_NOT_ALLOWED' | 'BAD_CLIENT_ID' | 'BAD_RESUME' | 'NOT_READY' | 'INTERNAL' | 'BAD_HANDSHAKE' | 'SERVER_FULL' | 'CONNECT_RATE_LIMITED';
  readonly closeCode: number | undefined;
  readonly message: string;
}

export interface Admitted {
  readonly refused: false;
  readonly identity: Identity;
  /** Echoed in Sec-WebSocket-Protocol ('' for none). */
  readonly subprotocol: string;
}

export type Decision = Refusal | Admitted;

export const CLIENT_QUERY_PARAM = 'client';

export function refusal(status: Refusal['status'], error: Refusal['error'], message: string): Refusal {
  const closeCode = error in CloseCode ? CloseCode[error as CloseCodeName] : undefined;
  return { refused: true, status, error, closeCode, message };
}

/** A cookie needs an explicit allowlist AND a listed Origin header (no header: not a browser page we know). */
function cookieOriginAllowed(origin: string, allowed: readonly string[] | undefined): boolean {
  return allowed !== undefined && origin !== '' && originAllowed(origin, allowed);
}

export type AdmissionConfig = Pick<EdgeConfig, 'anonymous' | 'allowedOrigins' | 'tokenSources' | 'tokenQueryParam' | 'tokenCookie'>;

/**
 * Who may connect: pure decisions over a captured request, so every refusal is unit-testable; the
 * transport does the uWS mechanics around them. `decide` answers synchronously whenever it can (a
 * known key: the common case), so the upgrade completes inside uWS's own corked handler; only a
 * token needing a JWKS fetch returns a promise.
 */
export class Admission {
  constructor(
    private readonly config: AdmissionConfig,
    private readonly verifier: TokenVerifier | undefined,
    private readonly blacklist: BlacklistView,
    private readonly roles: RoleTable,
    private readonly drain: { readonly isDraining: boolean },
    /** Anonymous mode only: issues and checks unforgeable client ids. */
    private readonly anonymousIds: AnonymousIds | undefined,
    private readonly limits: ConnectionLimits,
    private readonly bus: { connectivity(): true | string },
  ) {}

  decide(req: CapturedRequest): Decision | Promise<Decision> {
    if (this.drain.isDraining) return refusal(503, 'SERVER_DRAINING', 'edge is draining, reconnect');
    const notReady = this.blacklist.readiness();
    if (notReady !== true) return refusal(503, 'NOT_READY', notReady);
    const overLimit = this.limits.checkEdge();
    if (overLimit !== undefined) return overLimit;
    if (!originAllowed(req.origin, this.config.allowedOrigins)) {
      return refusal(403, 'ORIGIN_NOT_ALLOWED', `origin ${JSON.stringify(req.origin.slice(0, 100))} is not allowed`);
    }
    const requested = queryParam(req.query, CLIENT_QUERY_PARAM);
    let client: string;
    if (this.anonymousIds !== undefined) {
      // The client id IS the anonymous identity: only ids this mesh issued are accepted back.
      if (requested !== undefined && !this.anonymousIds.verify(requested)) {
        return refusal(400, 'BAD_CLIENT_ID', `query parameter "${CLIENT_QUERY_PARAM}" must be an id issued by this mesh (the welcome frame's client), or absent`);
      }
      client = requested ?? this.anonymousIds.issue();
    } else if (requested === undefined) {
      client = randomClientId();
    } else {
      const problem = clientIdProblem(requested);
      if (problem !== undefined) return refusal(400, 'BAD_CLIENT_ID', `query parameter "${CLIENT_QUERY_PARAM}" ${problem}`);
      client = requested;
    }
    // Parsed only when present: most connects are not resumes.
    const resume = !/(^|&)(position|epoch)=/.test(req.query) ? undefined : parseResumePoint(queryParam(req.query, 'position'), queryParam(req.query, 'epoch'));
    if (typeof resume === 'string') return refusal(400, 'BAD_RESUME', `query parameters "position" and "epoch": ${resume}`);
    const subprotocol = selectSubprotocol(req.protocols);
    if (this.config.anonymous) return this.finish(anonymousIdentity(client), subprotocol, resume);

    const found = findToken(req, {
      sources: this.config.tokenSources,
      queryParam: this.config.tokenQueryParam,
      cookie: this.config.tokenCookie,
    });
    if (found.kind === 'missing') {
      return refusal(401, 'UNAUTHORIZED', `no token: send one via ${this.config.tokenSources.join(', ')}`);
    }
    if (found.kind === 'malformed') return refusal(401, 'UNAUTHORIZED', found.message);
    // Browsers attach cookies to cross-site WebSocket upgrades too: a cookie token proves nothing
    // unless the page that opened the socket is one of ours (cross-site WebSocket hijacking).
    if (found.source === 'cookie' && !cookieOriginAllowed(req.origin, this.config.allowedOrigins)) {
      return refusal(403, 'ORIGIN_NOT_ALLOWED', 'a cookie token is accepted only from an Origin listed in MESH_ALLOWED_ORIGINS');
    }
    const verifier = this.verifier;
    if (verifier === undefined) return refusal(500, 'INTERNAL', 'no token verifier configured');
    const now = verifier.verifySync(found.token);
    if (now !== undefined) {
      if (isTokenError(now)) return refusal(401, now.error, now.message);
      return this.finish(identityFromToken(now, client, this.roles), subprotocol, resume);
    }
    return verifier.verify(found.token).then((result) => {
      if (isTokenError(result)) return refusal(401, result.error, result.message);
      if (this.drain.isDraining) return refusal(503, 'SERVER_DRAINING', 'edge is draining, reconnect');
      return this.finish(identityFromToken(result, client, this.roles), subprotocol, resume);
    });
  }

  private finish(identity: Identity, subprotocol: string, resume: ResumePoint | undefined): Decision {
    const revoked = this.blacklist.revokedReason(identity);
    if (revoked !== undefined) return refusal(403, 'SESSION_BLACKLISTED', revoked);
    const overLimit = this.limits.checkUser(identity);
    if (overLimit !== undefined) return overLimit;
    // During a NATS outage the subscriptions cannot be confirmed: say so before the upgrade
    // (after the blacklist, which still holds from the edge's last copy).
    const busDown = this.bus.connectivity();
    if (busDown !== true) return refusal(503, 'NOT_READY', busDown);
    return { refused: false, identity: resume === undefined ? identity : { ...identity, resume }, subprotocol };
  }
}
