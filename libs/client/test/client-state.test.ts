/**
 * The client's state machine against a scripted in-memory socket (the real-socket behaviour is in
 * test/client): which sockets it opens, with what URL and subprotocols, and what it does after
 * each close, with fake timers instead of waits.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClient, type ClientOptions, type ConnectionState, type SessionError, type WebSocketLike } from '@session-mesh/client';

class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  binaryType = 'blob';
  readyState = 0;
  protocol = '';
  readonly sent: (string | Uint8Array)[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.all.push(this);
  }
  send(data: string | ArrayBufferView | ArrayBuffer): void {
    this.sent.push(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) };
    this.readyState = 3;
  }
  // Server side of the script:
  welcome(extra: Record<string, unknown> = {}): void {
    this.readyState = 1;
    this.onopen?.({});
    this.text({ type: 'welcome', v: 1, user: 'u', session: 's', client: 'tab-9', conn: 'c', edge: 'e', roles: [], expiresAt: null, ...extra });
  }
  text(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  binary(bytes: number[]): void {
    this.onmessage?.({ data: Uint8Array.from(bytes).buffer });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;

function storage() {
  const map = new Map<string, string>();
  return { map, getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k) };
}

function client(options: Partial<ClientOptions> = {}) {
  const errors: SessionError[] = [];
  const states: ConnectionState[] = [];
  const c = createClient({
    url: 'ws://edge.test:8080/',
    token: 'header.payload.sig',
    WebSocket: FakeSocket as unknown as ClientOptions['WebSocket'] & object,
    storage: null,
    onSessionError: (e) => errors.push(e),
    ...options,
  });
  c.on('state', ({ state }) => states.push(state));
  return { c, errors, states };
}

/** Lets the client's async connect steps (token provider, WebSocket lookup) run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe('connecting', () => {
  it('offers the subprotocol and the bearer token, resolves at welcome, and keeps the tab id the edge gave', async () => {
    const store = storage();
    const { c, states } = client({ storage: store });
    const connected = c.connect();
    await settle();
    expect(last().protocols).toEqual(['session-mesh.v1', 'bearer.header.payload.sig']);
    expect(new URL(last().url).searchParams.get('client')).toBeNull();
    last().welcome();
    expect((await connected).client).toBe('tab-9');
    expect(states).toEqual(['connecting', 'open']);
    expect(store.map.get('session-mesh.client')).toBe('tab-9');
    expect(last().binaryType).toBe('arraybuffer');
    // A new client in the same tab (a reload) sends the stored id.
    const again = client({ storage: store });
    void again.c.connect();
    await settle();
    expect(new URL(last().url).searchParams.get('client')).toBe('tab-9');
  });

  it('can put the token in the query instead', async () => {
    const { c } = client({ tokenVia: 'query', clientId: 'fixed' });
    void c.connect();
    await settle();
    const url = new URL(last().url);
    expect(url.searchParams.get('token')).toBe('header.payload.sig');
    expect(url.searchParams.get('client')).toBe('fixed');
    expect(last().protocols).toEqual(['session-mesh.v1']);
  });
});

describe('after a close', () => {
  it('reconnects after an abnormal close, with backoff, and is open again after the next welcome', async () => {
    const { c, states } = client({ backoff: { baseMs: 1000, maxMs: 1000 } });
    void c.connect();
    await settle();
    last().welcome();
    last().serverClose(1006);
    expect(c.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1001);
    expect(FakeSocket.all).toHaveLength(2);
    last().welcome();
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
  });

  for (const [code, name] of [
    [4001, 'UNAUTHORIZED'],
    [4003, 'ROLES_MISMATCH'],
    [4004, 'SESSION_BLACKLISTED'],
    [4005, 'KILLED'],
  ] as const) {
    it(`never reconnects after ${name}, reports it, and reconnects when the app asks`, async () => {
      const { c, errors } = client();
      const closes: unknown[] = [];
      c.on('close', (info) => closes.push(info));
      void c.connect();
      await settle();
      last().welcome();
      last().serverClose(code, 'why');
      expect(errors).toEqual([{ code: name, closeCode: code, reason: 'why' }]);
      expect(closes).toEqual([{ code, name, reason: 'why', willReconnect: false, delayMs: undefined }]);
      expect(c.state).toBe('closed');
      await vi.advanceTimersByTimeAsync(120_000);
      expect(FakeSocket.all).toHaveLength(1);
      void c.connect();
      await settle();
      expect(FakeSocket.all).toHaveLength(2);
    });
  }

  it('waits the drain hint from SERVER_DRAINING, not the backoff', async () => {
    const { c } = client({ backoff: { baseMs: 10, maxMs: 10 } });
    void c.connect();
    await settle();
    last().welcome();
    last().serverClose(4008, 'server draining, reconnect; retry-after-ms=2500');
    await vi.advanceTimersByTimeAsync(2499);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('asks the token provider again after TOKEN_EXPIRED, and stops without one', async () => {
    let n = 0;
    const provider = client({ token: () => `tok-${++n}` });
    void provider.c.connect();
    await settle();
    last().welcome();
    last().serverClose(4002, 'token expired');
    expect(provider.errors.map((e) => e.code)).toEqual(['TOKEN_EXPIRED']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(FakeSocket.all).toHaveLength(2);
    expect(last().protocols[1]).toBe('bearer.tok-2');

    const fixed = client();
    void fixed.c.connect();
    await settle();
    last().welcome();
    last().serverClose(4002, 'token expired');
    expect(fixed.c.state).toBe('closed');
    expect(fixed.errors.map((e) => e.code)).toEqual(['TOKEN_EXPIRED']);
  });

  it('gives up on a socket that sees no welcome in time and tries again', async () => {
    const { c } = client({ connectTimeoutMs: 1000, backoff: { baseMs: 1, maxMs: 1 } });
    void c.connect();
    await settle();
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all[0]!.closedWith?.code).toBe(4000);
    await vi.advanceTimersByTimeAsync(5);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('close() stops everything: no reconnect, iterators end, requests fail', async () => {
    const { c } = client();
    void c.connect();
    await settle();
    last().welcome();
    const it = c.pushes();
    const pending = c.request('chat', 'hi', { timeoutMs: 60_000 });
    c.close();
    expect(last().closedWith).toEqual({ code: 1000, reason: 'client closed' });
    await expect(pending).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(await it.next()).toEqual({ value: undefined, done: true });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(FakeSocket.all).toHaveLength(1);
  });
});

describe('token refresh', () => {
  it('calls the refresh handler ahead of expiry and sends the token on the live socket', async () => {
    const { c } = client({ refreshHandler: async () => 'fresh.token.x', refreshLeadMs: 10_000 });
    void c.connect();
    await settle();
    last().welcome({ expiresAt: Date.now() + 60_000 });
    await vi.advanceTimersByTimeAsync(49_999);
    expect(last().sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(2);
    expect(last().sent).toEqual([JSON.stringify({ type: 'refresh', token: 'fresh.token.x' })]);
    // The next refresh is planned from the server's answer.
    last().text({ type: 'refreshed', expiresAt: Date.now() + 60_000 });
    await vi.advanceTimersByTimeAsync(50_001);
    expect(last().sent).toHaveLength(2);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('updateToken() sends a refresh frame at once when open', async () => {
    const { c } = client();
    void c.connect();
    await settle();
    last().welcome();
    c.updateToken('new.jwt.here');
    expect(last().sent).toEqual(['{"type":"refresh","token":"new.jwt.here"}']);
  });
});

describe('frames', () => {
  it('delivers pushes to handlers and iterators, answers requests and times them out', async () => {
    const { c } = client();
    void c.connect();
    await settle();
    last().welcome();
    const seen: string[] = [];
    c.onPush((p) => seen.push(p.text()));
    const it = c.pushes();
    last().binary([0x01, 0x68, 0x69]);
    expect(seen).toEqual(['hi']);
    expect((await it.next()).value?.text()).toBe('hi');

    const answered = c.request('chat', 'q');
    const frame = last().sent[0] as Uint8Array;
    expect(Array.from(frame.subarray(0, 5))).toEqual([0x03, 0, 0, 0, 1]);
    last().binary([0x04, 0, 0, 0, 1, 0x6f, 0x6b]);
    expect((await answered).text()).toBe('ok');

    const refused = c.request('chat', 'q');
    last().text({ type: 'error', code: 'NO_RESPONDERS', message: 'nobody', id: 2 });
    await expect(refused).rejects.toMatchObject({ code: 'NO_RESPONDERS' });

    const slow = c.request('chat', 'q', { timeoutMs: 500 });
    const check = expect(slow).rejects.toMatchObject({ code: 'TIMEOUT' });
    await vi.advanceTimersByTimeAsync(501);
    await check;
    expect(c.send('chat', 'x')).toBe(true);
    expect(() => c.send('bad topic', 'x')).toThrow(/invalid topic/);
  });

  it('keeps durable positions, drops duplicates, flags the replay and resumes with position and epoch', async () => {
    const store = storage();
    const { c } = client({ storage: store, backoff: { baseMs: 1, maxMs: 1 } });
    const got: { text: string; position: number | undefined; recovered: true | undefined }[] = [];
    c.onPush((p) => got.push({ text: p.text(), position: p.position, recovered: p.recovered }));
    const resumes: unknown[] = [];
    c.on('resume', (r) => resumes.push(r));
    void c.connect();
    await settle();
    last().welcome({ epoch: 'ep1', position: 7, recovered: false });
    const durable = (position: number, byte: number) => last().binary([0x05, 0, 0, 0, 0, 0, 0, 0, position, byte]);
    durable(8, 0x61);
    durable(8, 0x61);
    last().serverClose(1006);
    await vi.advanceTimersByTimeAsync(5);
    const url = new URL(last().url);
    expect([url.searchParams.get('position'), url.searchParams.get('epoch')]).toEqual(['8', 'ep1']);
    last().welcome({ epoch: 'ep1', position: 8, recovered: true });
    durable(9, 0x62);
    last().text({ type: 'position', position: 12 });
    durable(13, 0x63);
    expect(got).toEqual([
      { text: 'a', position: 8, recovered: undefined },
      { text: 'b', position: 9, recovered: true },
      { text: 'c', position: 13, recovered: undefined },
    ]);
    expect(resumes).toEqual([{ recovered: true, epoch: 'ep1', position: 8 }]);
    expect(store.map.get('session-mesh.client.resume')).toBe('ep1 13');
    c.endSession();
    expect(store.map.has('session-mesh.client.resume')).toBe(false);
  });
});

describe('ending the session', () => {
  it('forgets a static token: connecting again needs updateToken(), and says so', async () => {
    const { c, errors } = client();
    void c.connect();
    await settle();
    last().welcome();
    c.endSession();
    expect(last().closedWith).toEqual({ code: 1000, reason: 'session ended' });
    await expect(c.connect()).rejects.toThrow(/4001 no token/);
    expect(errors.map((e) => e.code)).toEqual(['UNAUTHORIZED']);
    expect(FakeSocket.all).toHaveLength(1);
    c.updateToken('next.token.here');
    void c.connect();
    await settle();
    expect(last().protocols[1]).toBe('bearer.next.token.here');
  });
});
