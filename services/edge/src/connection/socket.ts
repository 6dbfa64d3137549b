/**
 * What a connection needs from its socket. Structural, so connections and the hub are unit-tested
 * with fakes; the real one is a uWebSockets.js WebSocket (transport/), the only place uWS lives.
 */
export interface SocketLike {
  /** Returns a SendStatus. */
  send(message: Uint8Array | string, isBinary?: boolean): number;
  ping(message?: Uint8Array | string): number;
  cork(cb: () => void): unknown;
  /** Sends a close frame; uWS runs the close handler synchronously inside this call. */
  end(code?: number, shortMessage?: string): void;
  getBufferedAmount(): number;
}

/** uWS send() results (current builds return a number, not a boolean). */
export const SendStatus = { BACKPRESSURE: 0, SUCCESS: 1, DROPPED: 2 } as const;
