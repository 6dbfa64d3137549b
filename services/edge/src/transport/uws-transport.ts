import type { HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { createRateLimitedLog, type Logger } from '@session-mesh/runtime';
import { refusal, type Admitted, type Decision, type Refusal } from '../admission/admission.js';
import type { CapturedRequest } from '../admission/token-source.js';
import type { Connection } from '../connection/connection.js';
import type { Identity } from '../connection/identity.js';
import type { SocketLike } from '../connection/socket.js';
import { capture, handshakeProblem } from './handshake.js';
import { uWS } from './native-uws.js';

const STATUS_TEXT: Record<number, string> = {
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  426: '426 Upgrade Required',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const utf8 = new TextDecoder();

/**
 * What uWS keeps per socket. uWS.js copies the own properties of the object given to upgrade()
 * onto its WebSocket object, where they end up in slow dictionary-mode storage; one property
 * pointing at our compact Connection keeps the state in a fast class instance.
 */
export interface SocketData {
  readonly c: Connection;
}

/** Who decides upgrades (admission/). */
export interface UpgradeGate {
  decide(req: CapturedRequest): Decision | Promise<Decision>;
}

/** Where socket events go (connection/connections.ts and inbound/). */
export interface SocketEvents {
  admit(identity: Identity): Connection;
  opened(conn: Connection, ws: SocketLike): void;
  message(conn: Connection, message: ArrayBuffer, isBinary: boolean): void;
  /** A pong arrived: the client is alive. */
  seen(conn: Connection): void;
  closed(conn: Connection, code: number, reason: string): void;
}

export interface UpgradeStats {
  accepted: number;
  refused: number;
  aborted: number;
  /** Refusals by error code (UNAUTHORIZED, TOKEN_EXPIRED, FORBIDDEN_ORIGIN, EDGE_FULL...): a fixed set. */
  readonly refusedBy: Record<string, number>;
}

export interface Transport {
  readonly port: number;
  readonly upgrades: UpgradeStats;
  /** Closes the listen socket (open WebSockets are the caller's business). */
  close(): void;
}

export interface TransportOptions {
  readonly host: string;
  readonly port: number;
  readonly maxMessageBytes: number;
  readonly maxBackpressureBytes: number;
}

/**
 * The public port: uWebSockets.js, WebSocket upgrades only (operational endpoints live on the
 * internal ops port). This folder is the only place that imports uWS. Handlers never throw into
 * uWS: an exception in a uWS callback would take the process down.
 */
export async function startTransport(options: TransportOptions, gate: UpgradeGate, events: SocketEvents, logger: Logger): Promise<Transport> {
  const upgrades: UpgradeStats = { accepted: 0, refused: 0, aborted: 0, refusedBy: {} };
  // Refusals are cheap to provoke: a summary line per cause every 10 s, details at debug level.
  const logRefusal = createRateLimitedLog(logger, { level: 'info' });

  const refuse = (res: HttpResponse, req: CapturedRequest | undefined, remote: string, why: Refusal, corked: boolean) => {
    upgrades.refused++;
    upgrades.refusedBy[why.error] = (upgrades.refusedBy[why.error] ?? 0) + 1;
    const fields = { status: why.status, error: why.error, reason: why.message, remote, origin: req?.origin || undefined };
    logger.debug(fields, 'upgrade refused');
    logRefusal(why.error, fields, 'upgrade refused (one line per cause per 10 s; `suppressed` counts the rest)');
    const body = JSON.stringify({ error: why.error, closeCode: why.closeCode ?? null, message: why.message });
    const write = () => {
      res.writeStatus(STATUS_TEXT[why.status] ?? `${why.status} Error`).writeHeader('Content-Type', 'application/json');
      if (why.closeCode !== undefined) res.writeHeader('X-Mesh-Close-Code', String(why.closeCode));
      if (why.status === 426) res.writeHeader('Sec-WebSocket-Version', '13');
      if (why.status === 503 || why.status === 429) res.writeHeader('Retry-After', '1');
      res.end(body, true);
    };
    if (corked) write();
    else res.cork(write);
  };

  const upgrade = (res: HttpResponse, req: CapturedRequest, context: us_socket_context_t, admitted: Admitted) => {
    upgrades.accepted++;
    const conn = events.admit(admitted.identity);
    res.upgrade<SocketData>({ c: conn }, req.secWebSocketKey, admitted.subprotocol, req.secWebSocketExtensions, context);
  };

  const app: TemplatedApp = uWS.App();
  app.ws<SocketData>('/*', {
    compression: uWS.DISABLED,
    // Up to twice our limit reaches JS, which closes with a clean 1009 (uWS's own refusal has no close frame).
    maxPayloadLength: Math.min(2 * options.maxMessageBytes, 32 * 1024 * 1024),
    // Our limit is enforced by Connection.send; uWS's hard limit sits above it so a close frame still fits.
    maxBackpressure: Math.max(2 * options.maxBackpressureBytes, options.maxBackpressureBytes + 64 * 1024),
    closeOnBackpressureLimit: 0,
    // Idle detection is the sweeper's (control/sweeper.ts): it pings at half the timeout and closes with a code.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    maxLifetime: 0,

    // A token the verifier can check synchronously (a known key: the common case) is decided and
    // upgraded right here, inside uWS's own corked handler. Only the rest (a JWKS key not fetched
    // yet) takes the UpgradeAsync pattern: copy everything from req now (it dies with this call),
    // watch for abort, verify asynchronously, then answer.
    upgrade: (res: HttpResponse, rawReq, context: us_socket_context_t) => {
      let req: ReturnType<typeof capture> | undefined;
      let remote = '';
      try {
        req = capture(rawReq);
        remote = utf8.decode(res.getRemoteAddressAsText());
        const bad = handshakeProblem(req);
        if (bad !== undefined) return refuse(res, req, remote, bad, true);
        const decision = gate.decide(req);
        if (!(decision instanceof Promise)) {
          return decision.refused ? refuse(res, req, remote, decision, true) : upgrade(res, req, context, decision);
        }
        const captured = req;
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        decision.then(
          (result) => {
            if (aborted) {
              upgrades.aborted++;
              return;
            }
            try {
              if (result.refused) return refuse(res, captured, remote, result, false);
              // Deliberately NOT inside res.cork: in this uWS build, cork() after an upgrade can
              // misread the new WebSocket's memory as HTTP state and close it at once (fixed
              // upstream in uWebSockets PR #1929). Uncorked costs one syscall more and makes uWS
              // print a cork warning on stderr; this path only runs for JWKS cache misses.
              upgrade(res, captured, context, result);
            } catch (err) {
              logger.error({ err }, 'upgrade failed after verification');
            }
          },
          (err: unknown) => {
            logger.error({ err }, 'token verification threw');
            if (!aborted) refuse(res, captured, remote, refusal(500, 'INTERNAL', 'verification failed'), false);
          },
        );
      } catch (err) {
        logger.error({ err }, 'upgrade handler failed');
        try {
          refuse(res, req, remote, refusal(500, 'INTERNAL', 'internal error'), true);
        } catch {
          // The response may already be gone.
        }
      }
    },
    open: (ws: WebSocket<SocketData>) => {
      try {
        events.opened(ws.getUserData().c, ws);
      } catch (err) {
        logger.error({ err }, 'open handler failed');
      }
    },
    message: (ws, message, isBinary) => {
      try {
        events.message(ws.getUserData().c, message, isBinary);
      } catch (err) {
        logger.error({ err }, 'message handler failed');
      }
    },
    pong: (ws) => {
      events.seen(ws.getUserData().c);
    },
    close: (ws, code, message) => {
      try {
        events.closed(ws.getUserData().c, code, utf8.decode(message));
      } catch (err) {
        logger.error({ err }, 'close handler failed');
      }
    },
  });

  app.any('/*', (res) => {
    res
      .writeStatus('426 Upgrade Required')
      .writeHeader('Content-Type', 'application/json')
      .writeHeader('Sec-WebSocket-Version', '13')
      .end('{"error":"connect with a WebSocket upgrade"}');
  });

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (socket === false) reject(new Error(`cannot listen on ${options.host}:${options.port} (port in use or address unavailable)`));
      else resolve(socket);
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as never);
  let closed = false;

  return {
    port,
    upgrades,
    close() {
      if (closed) return;
      closed = true;
      uWS.us_listen_socket_close(listenSocket);
    },
  };
}
