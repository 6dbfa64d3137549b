/**
 * Slow and half-open upgrade requests against a live edge: while they hold sockets, a fresh client
 * still connects and receives a push (the edge stays responsive), and the edge closes them in
 * bounded time instead of keeping them for as long as the attacker trickles bytes.
 */
import { expect, it } from 'vitest';
import { liveEdgePerFile } from './support/fuzz-live-edge.js';
import { RawConnection } from './support/fuzz-wire.js';

/**
 * How long a request may take to deliver its headers before the edge drops it. The common
 * defaults are 10 s (uWebSockets.js's HTTP idle timeout) to 60 s (Node's headersTimeout, nginx's
 * client_header_timeout); the bound here gives the edge 15 s, with margin for a loaded CI machine.
 */
const HEADERS_DEADLINE_MS = 15_000;
const TRICKLE_INTERVAL_MS = 200;

const live = liveEdgePerFile();

/** Sends a request head one byte at a time, forever (a header that never ends), until the server closes. */
function trickle(conn: RawConnection, head: string): { stop(): void } {
  const bytes = Buffer.from(`${head}X-Slow: `);
  let at = 0;
  const timer = setInterval(() => {
    if (conn.ended) return clearInterval(timer);
    void conn.write(at < bytes.length ? bytes.subarray(at, at + 1) : Buffer.from('a'));
    at++;
  }, TRICKLE_INTERVAL_MS);
  return { stop: () => clearInterval(timer) };
}

// The two run at the same time: each one's fresh client is served while the other's attack is on too.
it.concurrent(
  'slow headers, one byte at a time: a fresh client is served meanwhile, and the slow connection is closed in bounded time',
  async () => {
    const head = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${live().port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
    const slow = await Promise.all(Array.from({ length: 20 }, () => RawConnection.open(live().port)));
    const tricklers = slow.map((conn) => trickle(conn, head));
    try {
      // Responsive meanwhile: health answers, a fresh client connects and receives a push.
      expect(await live().check()).toBeUndefined();
      await Promise.all(slow.map((conn) => conn.waitForEnd(HEADERS_DEADLINE_MS + 1000)));
      const stillOpen = slow.filter((conn) => !conn.ended || conn.endedAtMs! > HEADERS_DEADLINE_MS);
      expect(stillOpen.length, `open past ${HEADERS_DEADLINE_MS} ms while trickling: ${stillOpen[0]?.describe()}`).toBe(0);
      // A connection the edge dropped never got a 101.
      expect(slow.filter((conn) => conn.http?.status === 101)).toHaveLength(0);
    } finally {
      tricklers.forEach((t) => t.stop());
      slow.forEach((conn) => conn.destroy());
    }
    expect(await live().check()).toBeUndefined();
  },
  HEADERS_DEADLINE_MS + 20_000,
);

it.concurrent(
  'many half-open connections (silent, or a request cut short): a fresh client is served meanwhile, and they are closed in bounded time',
  async () => {
    const count = 400;
    const conns = await Promise.all(Array.from({ length: count }, () => RawConnection.open(live().port)));
    // A third say nothing, a third stop inside the request line, a third stop after some headers.
    await Promise.all(
      conns.map((conn, i) =>
        i % 3 === 0 ? Promise.resolve() : conn.write(i % 3 === 1 ? 'GET /?client=ta' : `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`),
      ),
    );
    try {
      expect(await live().check()).toBeUndefined();
      await Promise.all(conns.map((conn) => conn.waitForEnd(HEADERS_DEADLINE_MS + 1000)));
      const stillOpen = conns.filter((conn) => !conn.ended || conn.endedAtMs! > HEADERS_DEADLINE_MS);
      expect(stillOpen.length, `${stillOpen.length} of ${count} open past ${HEADERS_DEADLINE_MS} ms: ${stillOpen[0]?.describe()}`).toBe(0);
    } finally {
      conns.forEach((conn) => conn.destroy());
    }
    expect(await live().check()).toBeUndefined();
  },
  HEADERS_DEADLINE_MS + 20_000,
);
