/** What the app receives: pushes and replies (payload bytes with text/JSON readers), and request errors. */
const decoder = new TextDecoder();

/** Payload bytes as the backend published them; decoded only when asked. */
export class Payload {
  constructor(readonly data: Uint8Array) {}

  text(): string {
    return decoder.decode(this.data);
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}

export class Push extends Payload {
  constructor(
    data: Uint8Array,
    /** The durable push's position in the stream; undefined for at-most-once pushes. */
    readonly position: number | undefined,
    /**
     * True on the durable pushes replayed after a resume (missed while the tab was away, recovered
     * by the edge); undefined on live pushes. A resume that could not recover is reported by the
     * client's `resume` event with `recovered: false`.
     */
    readonly recovered: true | undefined,
  ) {
    super(data);
  }
}

export class Reply extends Payload {}

/**
 * Why a request failed: an edge error code (NO_RESPONDERS, REQUEST_TIMEOUT, REQUEST_FAILED,
 * BAD_TOPIC, TOO_LARGE...), or TIMEOUT (no answer in time on the client side), DISCONNECTED (the
 * connection closed before the answer) or NOT_CONNECTED (the client is closed).
 */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}
