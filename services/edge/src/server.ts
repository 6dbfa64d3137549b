import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { healthResponse, type Health, type Logger } from '@session-mesh/runtime';
import { refusal, type Admission, type Admitted, type Refusal } from './admission.js';
import type { EdgeConfig } from './config.js';
import type { ConnState } from './connection-index.js';
import type { Identity } from './identity.js';
import { uWS } from './native-uws.js';
import type { CapturedRequest } from './token-source.js';

/** The uWS topic every welcomed socket joins: broadcasts are one C++ publish, not a JS loop. */
export const BROADCAST_TOPIC = 'mesh:all';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const utf8 = new TextDecoder();

/**
 * What uWS keeps per socket. uWS.js copies the own properties of the object given to upgrade()
 * onto its WebSocket object (getUserData() returns the socket itself), where they end up in slow,
 * dictionary-mode storage; one property pointing at our compact ConnState keeps the state in a
 * fast class instance and the socket object small.
 */
export interface SocketData {
  readonly c: ConnState;
}

export interface SocketHandlers {
  /** The ConnState (uWS user data) for an admitted identity; allocates its connection counter. */
  newConnection(identity: Identity): ConnState;
  onOpen(conn: ConnState, ws: WebSocket<SocketData>): void;
  onMessage(conn: ConnState, message: ArrayBuffer, isBinary: boolean): void;
  onClose(conn: ConnState, code: number, reason: string): void;
  isDraining(): boolean;
  stats(): object;
}

export interface UpgradeStats {
  accepted: number;
  refused: number;
  aborted: number;
}

export interface EdgeServer {
  readonly port: number;
  readonly upgrades: UpgradeStats;
  /** uWS publish to every welcomed socket; returns how many sockets the topic has. */
  publishToAll(frame: Uint8Array): number;
  /** Closes the listen socket (open WebSockets are the caller's business). */
  close(): void;
}

/**
 * The uWS app: WebSocket upgrades on any path, plus /healthz, /readyz and /stats on the same port.
 * Handlers never throw into uWS: an exception in a uWS callback would take the process down.
 */
export async function startServer(deps: {
  readonly config: EdgeConfig;
  readonly admission: Admission;
  readonly handlers: SocketHandlers;
  readonly health: Health;
  readonly logger: Logger;
}): Promise<EdgeServer> {
  const { config, admission, handlers, health, logger } = deps;
  const upgrades: UpgradeStats = { accepted: 0, refused: 0, aborted: 0 };

  const refuse = (res: HttpResponse, req: CapturedRequest | undefined, remote: string, why: Refusal, corked: boolean) => {
    upgrades.refused++;
    // One line per refusal, with the cause: the only way to debug a client that cannot connect.
    logger.info({ status: why.status, error: why.error, reason: why.message, remote, origin: req?.origin || undefined }, 'upgrade refused');
    const body = JSON.stringify({ error: why.error, closeCode: why.closeCode ?? null, message: why.message });
    const write = () => {
      res.writeStatus(STATUS_TEXT[why.status] ?? `${why.status} Error`).writeHeader('Content-Type', 'application/json');
      if (why.closeCode !== undefined) res.writeHeader('X-Mesh-Close-Code', String(why.closeCode));
      res.end(body, true);
    };
    if (corked) write();
    else res.cork(write);
  };

  const upgrade = (res: HttpResponse, req: CapturedRequest, context: us_socket_context_t, admitted: Admitted) => {
    upgrades.accepted++;
    const conn = handlers.newConnection(admitted.identity);
    res.upgrade<SocketData>({ c: conn }, req.secWebSocketKey, admitted.subprotocol, req.secWebSocketExtensions, context);
  };

  const app: TemplatedApp = uWS.App();
  app.ws<SocketData>('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: config.maxMessageBytes,
    // Our limit is enforced in fanout.ts; uWS's hard limit sits above it so a close frame still fits.
    maxBackpressure: Math.max(2 * config.maxBackpressureBytes, config.maxBackpressureBytes + 64 * 1024),
    closeOnBackpressureLimit: 0,
    idleTimeout: config.idleTimeoutS,
    sendPingsAutomatically: true,
    maxLifetime: 0,

    // Tokens the verifier can check synchronously (a known key: the common case) are decided and
    // upgraded right here, inside uWS's own corked handler. Only the rest (a JWKS key not fetched
    // yet) takes the UpgradeAsync pattern: copy everything from req now (it dies with this call),
    // watch for abort, verify asynchronously, then answer.
    upgrade: (res: HttpResponse, rawReq: HttpRequest, context: us_socket_context_t) => {
      let req: CapturedRequest | undefined;
      let remote = '';
      try {
        req = capture(rawReq);
        remote = utf8.decode(res.getRemoteAddressAsText());
        if (handlers.isDraining()) return refuse(res, req, remote, refusal(503, 'SERVER_DRAINING', 'edge is draining, reconnect'), true);
        const pre = admission.precheck(req);
        if (pre.refused) return refuse(res, req, remote, pre, true);
        if ('identity' in pre) return upgrade(res, req, context, pre);
        const now = admission.verifyNow(pre.token, pre.client, pre.subprotocol);
        if (now !== undefined) return now.refused ? refuse(res, req, remote, now, true) : upgrade(res, req, context, now);

        const captured = req;
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        admission.verify(pre.token, pre.client, pre.subprotocol).then(
          (result) => {
            if (aborted) {
              upgrades.aborted++;
              return;
            }
            try {
              if (handlers.isDraining()) return refuse(res, captured, remote, refusal(503, 'SERVER_DRAINING', 'edge is draining, reconnect'), false);
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
    open: (ws) => {
      try {
        handlers.onOpen(ws.getUserData().c, ws);
      } catch (err) {
        logger.error({ err }, 'open handler failed');
      }
    },
    message: (ws, message, isBinary) => {
      try {
        handlers.onMessage(ws.getUserData().c, message, isBinary);
      } catch (err) {
        logger.error({ err }, 'message handler failed');
      }
    },
    close: (ws, code, message) => {
      try {
        handlers.onClose(ws.getUserData().c, code, utf8.decode(message));
      } catch (err) {
        logger.error({ err }, 'close handler failed');
      }
    },
  });

  const json = (res: HttpResponse, status: number, body: string) => {
    res.writeStatus(STATUS_TEXT[status] ?? `${status}`).writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store').end(body);
  };
  const healthRoute = (path: string) => (res: HttpResponse) => {
    const answer = healthResponse(health, path)!;
    json(res, answer.status, answer.body);
  };
  app.get('/healthz', healthRoute('/healthz'));
  app.get('/readyz', healthRoute('/readyz'));
  app.get('/stats', (res) => {
    try {
      json(res, 200, JSON.stringify(handlers.stats()));
    } catch (err) {
      logger.error({ err }, 'stats failed');
      json(res, 500, '{"error":"stats failed"}');
    }
  });
  app.any('/*', (res) => json(res, 404, '{"error":"not found: connect with a WebSocket upgrade"}'));

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (socket) => {
      if (socket === false) reject(new Error(`cannot listen on ${config.host}:${config.port} (port in use or address unavailable)`));
      else resolve(socket);
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as never);
  let closed = false;

  return {
    port,
    upgrades,
    publishToAll(frame) {
      app.publish(BROADCAST_TOPIC, frame, true);
      return app.numSubscribers(BROADCAST_TOPIC);
    },
    close() {
      if (closed) return;
      closed = true;
      uWS.us_listen_socket_close(listenSocket);
    },
  };
}

function capture(req: HttpRequest): CapturedRequest {
  return {
    url: req.getUrl(),
    query: req.getQuery() ?? '',
    origin: req.getHeader('origin'),
    authorization: req.getHeader('authorization'),
    protocols: req.getHeader('sec-websocket-protocol'),
    cookie: req.getHeader('cookie'),
    secWebSocketKey: req.getHeader('sec-websocket-key'),
    secWebSocketExtensions: req.getHeader('sec-websocket-extensions'),
  };
}
