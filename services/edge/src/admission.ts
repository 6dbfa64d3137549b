import { isTokenError, type TokenVerifier } from '@session-mesh/auth';
import { CloseCode, type CloseCodeName } from '@session-mesh/protocol';
import type { BlacklistView } from './blacklist-view.js';
import type { EdgeConfig } from './config.js';
import { anonymousIdentity, clientIdProblem, identityFromToken, randomClientId, type Identity, type RoleTable } from './identity.js';
import { findToken, originAllowed, queryParam, selectSubprotocol, type CapturedRequest } from './token-source.js';

/** An upgrade refused over HTTP. `closeCode` names the close code the situation corresponds to. */
export interface Refusal {
  readonly refused: true;
  readonly status: 400 | 401 | 403 | 500 | 503;
  /** Machine-readable error, in the JSON body. */
  readonly error: CloseCodeName | 'ORIGIN_NOT_ALLOWED' | 'BAD_CLIENT_ID' | 'NOT_READY' | 'INTERNAL';
  readonly closeCode: number | undefined;
  readonly message: string;
}

export interface Admitted {
  readonly refused: false;
  readonly identity: Identity;
  /** Echoed in Sec-WebSocket-Protocol ('' for none). */
  readonly subprotocol: string;
}

/** What the synchronous part of the upgrade decided: refuse now, admit now, or verify a token. */
export type Precheck = Refusal | Admitted | { readonly refused: false; readonly token: string; readonly client: string; readonly subprotocol: string };

export const CLIENT_QUERY_PARAM = 'client';

export function refusal(status: Refusal['status'], error: Refusal['error'], message: string): Refusal {
  const closeCode = error in CloseCode ? CloseCode[error as CloseCodeName] : undefined;
  return { refused: true, status, error, closeCode, message };
}

/**
 * Who may connect. Pure decisions over a captured request, so every refusal is unit-testable;
 * server.ts does the uWS mechanics around them.
 */
export class Admission {
  constructor(
    private readonly config: Pick<EdgeConfig, 'anonymous' | 'allowedOrigins' | 'tokenSources' | 'tokenQueryParam' | 'tokenCookie'>,
    private readonly verifier: TokenVerifier | undefined,
    private readonly blacklist: BlacklistView,
    private readonly roles: RoleTable,
  ) {}

  /** Synchronous checks, before anything async: readiness, origin, client id, token presence. */
  precheck(req: CapturedRequest): Precheck {
    const notReady = this.blacklist.readiness();
    if (notReady !== true) return refusal(503, 'NOT_READY', notReady);
    if (!originAllowed(req.origin, this.config.allowedOrigins)) {
      return refusal(403, 'ORIGIN_NOT_ALLOWED', `origin ${JSON.stringify(req.origin.slice(0, 100))} is not allowed`);
    }
    const requested = queryParam(req.query, CLIENT_QUERY_PARAM);
    let client: string;
    if (requested === undefined) {
      client = randomClientId();
    } else {
      const problem = clientIdProblem(requested);
      if (problem !== undefined) return refusal(400, 'BAD_CLIENT_ID', `query parameter "${CLIENT_QUERY_PARAM}" ${problem}`);
      client = requested;
    }
    const subprotocol = selectSubprotocol(req.protocols);
    if (this.config.anonymous) return this.finish(anonymousIdentity(client), subprotocol);

    const found = findToken(req, {
      sources: this.config.tokenSources,
      queryParam: this.config.tokenQueryParam,
      cookie: this.config.tokenCookie,
    });
    if (found.kind === 'missing') {
      return refusal(401, 'UNAUTHORIZED', `no token: send one via ${this.config.tokenSources.join(', ')}`);
    }
    if (found.kind === 'malformed') return refusal(401, 'UNAUTHORIZED', found.message);
    return { refused: false, token: found.token, client, subprotocol };
  }

  /**
   * Token verification without waiting, when the verifier's fast path can decide (a known key):
   * the upgrade then completes inside uWS's handler. Undefined when only `verify` can decide.
   */
  verifyNow(token: string, client: string, subprotocol: string): Refusal | Admitted | undefined {
    if (this.verifier === undefined) return refusal(500, 'INTERNAL', 'no token verifier configured');
    const result = this.verifier.verifySync(token);
    if (result === undefined) return undefined;
    if (isTokenError(result)) return refusal(401, result.error, result.message);
    return this.finish(identityFromToken(result, client, this.roles), subprotocol);
  }

  /** The asynchronous part: token verification and the blacklist. Never throws. */
  async verify(token: string, client: string, subprotocol: string): Promise<Refusal | Admitted> {
    if (this.verifier === undefined) return refusal(500, 'INTERNAL', 'no token verifier configured');
    const result = await this.verifier.verify(token);
    if (isTokenError(result)) return refusal(401, result.error, result.message);
    return this.finish(identityFromToken(result, client, this.roles), subprotocol);
  }

  /** The blacklist check, also re-run when the socket opens (an entry may land during verification). */
  blacklisted(identity: Identity): Refusal | undefined {
    const entry = this.blacklist.refusing(identity.user, identity.session, identity.iatS < 0 ? undefined : identity.iatS * 1000);
    if (entry === undefined) return undefined;
    return refusal(403, 'SESSION_BLACKLISTED', `${entry.kind} blacklisted: ${entry.reason.slice(0, 200)}`);
  }

  private finish(identity: Identity, subprotocol: string): Refusal | Admitted {
    return this.blacklisted(identity) ?? { refused: false, identity, subprotocol };
  }
}
