/**
 * THE bus contract: every implementation runs this suite unchanged (memory-bus.test.ts,
 * nats-bus.test.ts). A behaviour not tested here is not part of the contract.
 *
 * The two clients may sit on different servers of a cluster, where interest propagates
 * asynchronously: after subscribing, tests call `ready()`, which flushes the subscriber and then
 * retries a probe from the publisher until it arrives (never a fixed sleep). "Nothing else
 * arrived" is shown the same way: a sentinel published after the message that must not arrive
 * travels the same path, so once the sentinel is in, the other would have been too.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KvBucketMissingError,
  KvConflictError,
  KvSettingsMismatchError,
  NoRespondersError,
  NoStreamError,
  StreamUnavailableError,
  type StreamConfig,
  openKvWhenReady,
  RequestTimeoutError,
  SubscriptionLimitError,
  type Bus,
  type BusMessage,
  type BusSubscription,
  type KvEntry,
  type KvOptions,
  type BusLogger,
} from '../src/index.js';

export interface ConformancePair {
  /** Two clients of one backend (for NATS: connected to different servers of a cluster). */
  readonly a: Bus;
  readonly b: Bus;
  cleanup(): Promise<void>;
}

export interface ConformanceTarget {
  readonly name: string;
  /** Connects the pair; both clients must report handler exceptions to `logger`. */
  connect(logger: BusLogger): Promise<ConformancePair>;
  /** Options for the KV buckets the suite creates (e.g. replicas: 3 on a 3-node cluster). */
  readonly kvOptions?: KvOptions;
  /** One more client of the same backend, with a subscription budget (`maxSubscriptions`). */
  connectLimited(maxSubscriptions: number, logger: BusLogger): Promise<Bus>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (s: string): Uint8Array => enc.encode(s);
const str = (d: Uint8Array): string => dec.decode(d);

let seq = 0;
const runId = randomBytes(4).toString('hex');
/** A fresh subject token per use, so tests never see each other's traffic. */
function uniq(prefix = 't'): string {
  seq++;
  return `${prefix}${runId}x${seq}`;
}

async function eventually(check: () => void | Promise<void>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Collects what a handler receives, copying payloads (they may be views into larger buffers). */
class Inbox {
  readonly msgs: { subject: string; data: Uint8Array; msg: BusMessage }[] = [];
  readonly handler = (msg: BusMessage): void => {
    this.msgs.push({ subject: msg.subject, data: msg.data.slice(), msg });
  };
  get subjects(): string[] {
    return this.msgs.map((m) => m.subject);
  }
  get texts(): string[] {
    return this.msgs.map((m) => str(m.data));
  }
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    await eventually(() => {
      if (this.msgs.length < n) throw new Error(`${this.msgs.length}/${n} messages`);
    }, timeoutMs, `${n} messages`);
  }
}

/**
 * Makes sure `publisher`'s server knows every subscription `subscriber` made so far: flush the
 * subscriber, then retry a probe on a fresh subject until it crosses. Interest travels over one
 * route in order, so once the probe's interest arrived, the earlier subscriptions' did too.
 */
async function ready(subscriber: Bus, publisher: Bus): Promise<void> {
  const probe = uniq('probe.');
  let got = false;
  const sub = subscriber.subscribe(probe, () => {
    got = true;
  });
  try {
    await subscriber.flush();
    await eventually(
      async () => {
        if (got) return;
        publisher.publish(probe, text('probe'));
        await publisher.flush();
        await subscriber.flush();
        if (!got) throw new Error('probe not received yet');
      },
      10_000,
      'subscription interest to propagate',
    );
  } finally {
    sub.unsubscribe();
  }
}

/** Publishes `sentinel` on `subject` from `publisher` and waits until `inbox` has it. */
async function sentinel(publisher: Bus, subject: string, inbox: Inbox): Promise<void> {
  const marker = `sentinel-${uniq()}`;
  publisher.publish(subject, text(marker));
  await publisher.flush();
  await eventually(() => {
    if (!inbox.texts.includes(marker)) throw new Error('sentinel not received');
  }, 5000, 'sentinel');
}

export function runBusConformance(target: ConformanceTarget): void {
  describe(`bus conformance: ${target.name}`, () => {
    let a: Bus;
    let b: Bus;
    let pair: ConformancePair | undefined;
    const handlerErrors: { obj: object; msg: string }[] = [];
    const logger: BusLogger = {
      warn: () => undefined,
      info: () => undefined,
      error: (obj, msg) => {
        handlerErrors.push({ obj, msg });
      },
    };
    const subs: BusSubscription[] = [];
    const track = (s: BusSubscription): BusSubscription => {
      subs.push(s);
      return s;
    };

    beforeAll(async () => {
      pair = await target.connect(logger);
      a = pair.a;
      b = pair.b;
    });
    afterAll(async () => {
      for (const s of subs) s.unsubscribe();
      await pair?.cleanup();
    });

    describe('publish/subscribe', () => {
      it('delivers to an exact subscription, with subject and payload', async () => {
        const subject = uniq('exact.');
        const inbox = new Inbox();
        track(a.subscribe(subject, inbox.handler));
        await ready(a, b);
        b.publish(subject, text('hello'));
        await inbox.waitFor(1);
        expect(inbox.subjects).toEqual([subject]);
        expect(inbox.texts).toEqual(['hello']);
        expect(inbox.msgs[0]?.msg.headers).toBeUndefined();
      });

      it('matches * to exactly one token and > to one or more trailing tokens', async () => {
        const root = uniq('wc');
        const star = new Inbox();
        const tail = new Inbox();
        const end = new Inbox();
        track(a.subscribe(`${root}.*.x`, star.handler));
        track(a.subscribe(`${root}.>`, tail.handler));
        track(a.subscribe(`${root}end`, end.handler));
        await ready(a, b);
        for (const s of [`${root}.1.x`, `${root}.1.y`, `${root}.1.2.x`, root, `${root}x.1.x`, `${root}.x`]) {
          b.publish(s, text(s));
        }
        await sentinel(b, `${root}end`, end);
        expect(star.subjects).toEqual([`${root}.1.x`]);
        expect(tail.subjects).toEqual([`${root}.1.x`, `${root}.1.y`, `${root}.1.2.x`, `${root}.x`]);
      });

      it('never confuses subjects: prefixes, deeper subjects and wildcard-looking literal tokens', async () => {
        const root = uniq('lit');
        const exact = new Inbox();
        const starLit = new Inbox();
        const gtLit = new Inbox();
        const end = new Inbox();
        // `ab*` and `a>` are ordinary tokens (wildcards only count as whole tokens).
        track(a.subscribe(`${root}.user.ab`, exact.handler));
        track(a.subscribe(`${root}.user.ab*`, starLit.handler));
        track(a.subscribe(`${root}.user.a>`, gtLit.handler));
        track(a.subscribe(`${root}.end`, end.handler));
        await ready(a, b);
        for (const s of [`${root}.user.abc`, `${root}.user.ab.c`, `${root}.user.a`, `${root}.userx.ab`, `${root}.user.aB`]) {
          b.publish(s, text(s));
        }
        b.publish(`${root}.user.ab*`, text('star'));
        b.publish(`${root}.user.a>`, text('gt'));
        b.publish(`${root}.user.ab`, text('exact'));
        await sentinel(b, `${root}.end`, end);
        expect(exact.texts).toEqual(['exact']);
        expect(starLit.texts).toEqual(['star']);
        expect(gtLit.texts).toEqual(['gt']);
      });

      it('rejects invalid subjects synchronously', () => {
        for (const s of ['', 'a..b', '.a', 'a.', 'a b', 'a\tb', 'a\r\nb', 'a.*', 'a.>', '*', '>']) {
          expect(() => a.publish(s, text('x')), `publish ${JSON.stringify(s)}`).toThrow(Error);
        }
        for (const s of ['', 'a..b', 'a b', 'a.>.b', '>.a', 'a.\n']) {
          expect(() => a.subscribe(s, () => undefined), `subscribe ${JSON.stringify(s)}`).toThrow(Error);
        }
        expect(() => a.subscribe('ok.subject', () => undefined, { queue: 'bad queue' })).toThrow(Error);
      });

      it('round-trips headers: exact names, get() is "" when missing', async () => {
        const subject = uniq('hdr.');
        const inbox = new Inbox();
        track(a.subscribe(subject, inbox.handler));
        await ready(a, b);
        b.publish(subject, text('h'), { 'Mesh-Session': 'c2Vzcw', 'X-Reason': 'kicked by admin' });
        await inbox.waitFor(1);
        const h = inbox.msgs[0]?.msg.headers;
        expect(h).toBeDefined();
        expect(h?.get('Mesh-Session')).toBe('c2Vzcw');
        expect(h?.get('X-Reason')).toBe('kicked by admin');
        expect(h?.has('Mesh-Session')).toBe(true);
        expect(h?.has('Missing')).toBe(false);
        expect(h?.get('Missing')).toBe('');
      });

      it('rejects invalid header names and values', () => {
        expect(() => a.publish(uniq('hdr.'), text('x'), { 'Bad:Name': 'v' })).toThrow(Error);
        expect(() => a.publish(uniq('hdr.'), text('x'), { 'Bad Name': 'v' })).toThrow(Error);
        expect(() => a.publish(uniq('hdr.'), text('x'), { Good: 'line\r\nbreak' })).toThrow(Error);
      });

      it('delivers binary payloads byte-exact: all byte values, empty, 512 KiB', async () => {
        const subject = uniq('bin.');
        const inbox = new Inbox();
        track(a.subscribe(subject, inbox.handler));
        await ready(a, b);
        const all = new Uint8Array(256 * 4).map((_, i) => i % 256);
        const empty = new Uint8Array(0);
        const big = new Uint8Array(randomBytes(512 * 1024));
        // A view into a larger buffer must send exactly the view.
        const backing = new Uint8Array(randomBytes(100));
        const view = backing.subarray(10, 60);
        for (const p of [all, empty, big, view]) b.publish(subject, p);
        await inbox.waitFor(4, 10_000);
        expect(Buffer.from(inbox.msgs[0]!.data).equals(Buffer.from(all))).toBe(true);
        expect(inbox.msgs[1]!.data.length).toBe(0);
        expect(inbox.msgs[2]!.data.length).toBe(big.length);
        expect(Buffer.from(inbox.msgs[2]!.data).equals(Buffer.from(big))).toBe(true);
        expect(Buffer.from(inbox.msgs[3]!.data).equals(Buffer.from(view))).toBe(true);
      });

      it('is not affected by the publisher reusing its buffer after publish', async () => {
        const subject = uniq('reuse.');
        const inbox = new Inbox();
        track(a.subscribe(subject, inbox.handler));
        await ready(a, b);
        const buf = text('first');
        b.publish(subject, buf);
        buf.fill(0);
        await inbox.waitFor(1);
        expect(inbox.texts).toEqual(['first']);
      });

      it('preserves publish order per publisher', async () => {
        const subject = uniq('order.');
        const inbox = new Inbox();
        track(a.subscribe(subject, inbox.handler));
        await ready(a, b);
        const n = 2000;
        for (let i = 0; i < n; i++) b.publish(subject, text(String(i)));
        await inbox.waitFor(n, 10_000);
        expect(inbox.texts).toEqual(Array.from({ length: n }, (_, i) => String(i)));
      });

      it('stops delivery after unsubscribe, and unsubscribe twice is harmless', async () => {
        const root = uniq('unsub');
        const inbox = new Inbox();
        const end = new Inbox();
        const sub = a.subscribe(`${root}.x`, inbox.handler);
        track(a.subscribe(`${root}.end`, end.handler));
        expect(sub.subject).toBe(`${root}.x`);
        await ready(a, b);
        b.publish(`${root}.x`, text('before'));
        await inbox.waitFor(1);
        sub.unsubscribe();
        sub.unsubscribe();
        await a.flush();
        b.publish(`${root}.x`, text('after'));
        await sentinel(b, `${root}.end`, end);
        expect(inbox.texts).toEqual(['before']);
      });

      it('keeps delivering when a handler throws, and reports the exception', async () => {
        const subject = uniq('throw.');
        const inbox = new Inbox();
        const before = handlerErrors.length;
        let calls = 0;
        track(
          a.subscribe(subject, () => {
            calls++;
            throw new Error('handler bug');
          }),
        );
        track(a.subscribe(subject, inbox.handler));
        await ready(a, b);
        b.publish(subject, text('1'));
        b.publish(subject, text('2'));
        await inbox.waitFor(2);
        expect(calls).toBe(2);
        expect(handlerErrors.length - before).toBe(2);
      });
    });

    describe('queue groups', () => {
      it('delivers each message to exactly one member, and to every plain subscriber', async () => {
        const subject = uniq('queue.');
        const m1 = new Inbox();
        const m2 = new Inbox();
        const plain = new Inbox();
        track(a.subscribe(subject, m1.handler, { queue: 'workers' }));
        track(b.subscribe(subject, m2.handler, { queue: 'workers' }));
        track(a.subscribe(subject, plain.handler));
        await ready(a, b);
        await ready(b, a);
        const n = 200;
        for (let i = 0; i < n; i++) b.publish(subject, text(String(i)));
        await b.flush();
        await plain.waitFor(n);
        // Everything b's server sent to a is in (plain saw the last one); b's own share arrived
        // before the PONG of b's flush.
        await eventually(() => expect(m1.msgs.length + m2.msgs.length).toBe(n));
        const seen = [...m1.texts, ...m2.texts].sort((x, y) => Number(x) - Number(y));
        expect(seen).toEqual(Array.from({ length: n }, (_, i) => String(i)));
        expect(plain.texts).toHaveLength(n);
      });
    });

    describe('request/reply', () => {
      it('answers a request through respond(), with headers both ways', async () => {
        const subject = uniq('svc.');
        let seenHeader = '';
        track(
          a.subscribe(subject, (msg) => {
            seenHeader = msg.headers?.get('X-Req') ?? '';
            expect(a.respond(msg, text(`echo:${str(msg.data)}`), { 'X-Rep': 'yes' })).toBe(true);
          }),
        );
        await ready(a, b);
        const reply = await b.request(subject, text('ping'), { timeoutMs: 5000, headers: { 'X-Req': 'r1' } });
        expect(str(reply.data)).toBe('echo:ping');
        expect(reply.headers?.get('X-Rep')).toBe('yes');
        expect(seenHeader).toBe('r1');
      });

      it('respond() returns false for a message without a reply subject', async () => {
        const subject = uniq('noreply.');
        const inbox = new Inbox();
        track(a.subscribe(subject, inbox.handler));
        await ready(a, b);
        b.publish(subject, text('x'));
        await inbox.waitFor(1);
        expect(inbox.msgs[0]?.msg.reply ?? undefined).toBeFalsy();
        expect(a.respond(inbox.msgs[0]!.msg, text('y'))).toBe(false);
      });

      it('shares requests out to one member of a queue group', async () => {
        const subject = uniq('qsvc.');
        let answered = 0;
        for (const bus of [a, b]) {
          track(
            bus.subscribe(
              subject,
              (msg) => {
                answered++;
                bus.respond(msg, text('ok'));
              },
              { queue: 'svc' },
            ),
          );
        }
        await ready(a, b);
        for (let i = 0; i < 10; i++) {
          const reply = await b.request(subject, text(String(i)), { timeoutMs: 5000 });
          expect(str(reply.data)).toBe('ok');
        }
        expect(answered).toBe(10);
      });

      it('rejects with NoRespondersError when nobody listens', async () => {
        await expect(b.request(uniq('nobody.'), text('x'), { timeoutMs: 5000 })).rejects.toBeInstanceOf(NoRespondersError);
      });

      it('rejects with RequestTimeoutError when the responder stays silent', async () => {
        const subject = uniq('silent.');
        track(a.subscribe(subject, () => undefined));
        await ready(a, b);
        const started = Date.now();
        await expect(b.request(subject, text('x'), { timeoutMs: 200 })).rejects.toBeInstanceOf(RequestTimeoutError);
        expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      });
    });

    describe('flush', () => {
      it("resolves after the bus handled the caller's own earlier publishes and subscriptions", async () => {
        const subject = uniq('flush.');
        const inbox = new Inbox();
        track(a.subscribe(subject, inbox.handler));
        for (let i = 0; i < 50; i++) a.publish(subject, text(String(i)));
        await a.flush();
        // The server processed the SUB before the PUBs, and delivered them before answering.
        expect(inbox.msgs).toHaveLength(50);
      });

      it('serves many concurrent callers, each only after its own earlier operations', async () => {
        const subject = uniq('flushc.');
        const inbox = new Inbox();
        track(a.subscribe(subject, inbox.handler));
        const waits: Promise<void>[] = [];
        for (let i = 0; i < 20; i++) {
          a.publish(subject, text(String(i)));
          const expected = i + 1;
          waits.push(a.flush().then(() => expect(inbox.msgs.length).toBeGreaterThanOrEqual(expected)));
          if (i % 5 === 0) await new Promise((r) => setImmediate(r));
        }
        await Promise.all(waits);
        expect(inbox.msgs).toHaveLength(20);
      });
    });

    describe('KV', () => {
      const v = (s: string): Uint8Array => text(s);
      const opts = target.kvOptions ?? {};

      it('get/put/create/update/delete/keys', async () => {
        const kv = await a.kv(uniq('kv'), opts);
        expect(await kv.get('missing')).toBeUndefined();
        const r1 = await kv.put('user.alice', v('1'));
        expect(r1).toBeGreaterThan(0);
        await eventually(async () => {
          const e = await kv.get('user.alice');
          expect(e?.revision).toBe(r1);
          expect(str(e!.value!)).toBe('1');
          expect(e?.operation).toBe('PUT');
          expect(e?.key).toBe('user.alice');
        });
        const r2 = await kv.put('user.alice', v('2'));
        expect(r2).toBeGreaterThan(r1);

        await expect(kv.create('user.alice', v('x'))).rejects.toBeInstanceOf(KvConflictError);
        const r3 = await kv.create('user.bob', v('b'));
        expect(r3).toBeGreaterThan(r2);

        await expect(kv.update('user.alice', v('stale'), r1)).rejects.toBeInstanceOf(KvConflictError);
        await expect(kv.update('user.nobody', v('x'), r1)).rejects.toBeInstanceOf(KvConflictError);
        const r4 = await kv.update('user.alice', v('3'), r2);
        expect(r4).toBeGreaterThan(r3);

        await kv.delete('user.bob');
        await eventually(async () => expect(await kv.get('user.bob')).toBeUndefined());
        // A deleted key can be created again.
        const r5 = await kv.create('user.bob', v('again'));
        expect(r5).toBeGreaterThan(r4);
        await kv.delete('user.bob');
        expect((await kv.keys()).sort()).toEqual(['user.alice']);
      });

      it('is shared by every client of the backend', async () => {
        const bucket = uniq('kvs');
        const ka = await a.kv(bucket, opts);
        const kb = await b.kv(bucket, opts);
        const rev = await ka.put('k', v('from-a'));
        await eventually(async () => {
          const e = await kb.get('k');
          expect(e?.revision).toBe(rev);
          expect(str(e!.value!)).toBe('from-a');
        });
        await expect(kb.create('k', v('b'))).rejects.toBeInstanceOf(KvConflictError);
        expect(await kb.keys()).toEqual(['k']);
      });

      it('rejects invalid bucket names and keys', async () => {
        await expect(a.kv('bad.bucket', opts)).rejects.toThrow(Error);
        const kv = await a.kv(uniq('kvi'), opts);
        for (const key of ['', 'a b', '.a', 'a.', 'a..b', 'a*', 'a>', 'ä']) {
          await expect(Promise.resolve().then(() => kv.put(key, v('x'))), `key ${JSON.stringify(key)}`).rejects.toThrow(Error);
        }
      });

      it('watch: initial values, then onReady once, then live changes incl. deletes, in revision order', async () => {
        const bucket = uniq('kvw');
        const writer = await b.kv(bucket, opts);
        const k1 = await writer.put('u.one', v('1'));
        const k2 = await writer.put('u.two', v('2'));
        await writer.put('u.gone', v('x'));
        await writer.delete('u.gone');
        const k1b = await writer.put('u.one', v('1b'));

        const watcher = await a.kv(bucket, opts);
        const events: (KvEntry | 'ready')[] = [];
        let readyCalls = 0;
        const stop = await watcher.watch(
          (e) => events.push(e),
          () => {
            readyCalls++;
            events.push('ready');
          },
        );
        await eventually(() => expect(readyCalls).toBe(1));
        const initial = events.slice(0, events.indexOf('ready')) as KvEntry[];
        expect(initial.map((e) => [e.key, str(e.value!), e.revision, e.operation])).toEqual([
          ['u.two', '2', k2, 'PUT'],
          ['u.one', '1b', k1b, 'PUT'],
        ]);
        expect(k1).toBeLessThan(k2);

        const k3 = await writer.put('u.three', v('3'));
        await writer.delete('u.two');
        await eventually(() => expect(events.length).toBe(initial.length + 3));
        const live = events.slice(events.indexOf('ready') + 1) as KvEntry[];
        expect(live[0]).toMatchObject({ key: 'u.three', revision: k3, operation: 'PUT' });
        expect(str(live[0]!.value!)).toBe('3');
        expect(live[1]).toMatchObject({ key: 'u.two', operation: 'DEL' });
        expect(live[1]!.value).toBeUndefined();
        expect(live[1]!.revision).toBeGreaterThan(k3);
        expect(readyCalls).toBe(1);

        stop();
        await writer.put('u.after-stop', v('x'));
        // A second watcher, started later, sees that write: the first must not have.
        const seen: string[] = [];
        let secondReady = false;
        const stop2 = await watcher.watch(
          (e) => seen.push(e.key),
          () => {
            secondReady = true;
          },
        );
        await eventually(() => expect(secondReady).toBe(true));
        expect(seen.sort()).toEqual(['u.after-stop', 'u.one', 'u.three']);
        stop2();
        expect(events.some((e) => e !== 'ready' && e.key === 'u.after-stop')).toBe(false);
      });

      it('watch on an empty bucket: onReady first, then live changes', async () => {
        const bucket = uniq('kve');
        const kv = await a.kv(bucket, opts);
        const events: string[] = [];
        const stop = await kv.watch(
          (e) => events.push(`${e.operation}:${e.key}`),
          () => events.push('ready'),
        );
        await eventually(() => expect(events).toEqual(['ready']));
        const writer = await b.kv(bucket, opts);
        await writer.put('k', v('1'));
        await writer.delete('k');
        await eventually(() => expect(events).toEqual(['ready', 'PUT:k', 'DEL:k']));
        stop();
      });
    });

    describe('KV ownership: one owner creates, the others open and check', () => {
      const v = (s: string): Uint8Array => text(s);
      const replicas = target.kvOptions?.replicas ?? 1;
      /** A valid replica count other than the suite's (the memory bus records any). */
      const otherReplicas = replicas === 1 ? 3 : 1;

      it('owner (create: true) creates with its settings; settings() reports them to every client', async () => {
        const bucket = uniq('kvo');
        const owner = await a.kv(bucket, { replicas, history: 4, create: true });
        expect(await owner.settings()).toEqual({ replicas, history: 4 });
        await owner.put('k', v('1'));
        const user = await b.kv(bucket, { create: false });
        expect(await user.settings()).toEqual({ replicas, history: 4 });
        expect(str((await user.get('k'))!.value!)).toBe('1');
        // The owner again (a restart): same settings, opens.
        const again = await b.kv(bucket, { replicas, history: 4, create: true });
        expect((await again.get('k'))?.revision).toBeGreaterThan(0);
      });

      it('owner (create: true) rejects an existing bucket with other settings, naming both values', async () => {
        const bucket = uniq('kvm');
        await a.kv(bucket, { replicas, history: 3, create: true });
        const history = b.kv(bucket, { replicas, history: 5, create: true });
        await expect(history).rejects.toBeInstanceOf(KvSettingsMismatchError);
        await expect(history).rejects.toThrow(`history 3 (expected 5)`);
        const err = (await b.kv(bucket, { replicas: otherReplicas, history: 3, create: true }).catch((e: unknown) => e)) as KvSettingsMismatchError;
        expect(err).toBeInstanceOf(KvSettingsMismatchError);
        expect(err.bucket).toBe(bucket);
        expect(err.actual).toEqual({ replicas, history: 3 });
        expect(err.expected).toEqual({ replicas: otherReplicas, history: 3 });
        expect(err.message).toContain(`replicas ${replicas} (expected ${otherReplicas})`);
        // Defaults count as asked for: history 1.
        await expect(b.kv(bucket, { replicas, create: true })).rejects.toThrow(`history 3 (expected 1)`);
        // Nothing was changed: the creator's settings stay.
        expect(await (await a.kv(bucket, { create: false })).settings()).toEqual({ replicas, history: 3 });
      });

      it('open only (create: false): KvBucketMissingError when absent, never creates it', async () => {
        const bucket = uniq('kvn');
        const missing = (await b.kv(bucket, { create: false }).catch((e: unknown) => e)) as KvBucketMissingError;
        expect(missing).toBeInstanceOf(KvBucketMissingError);
        expect(missing.bucket).toBe(bucket);
        expect(missing.retryable).toBe(true);
        await expect(a.kv(bucket, { create: false, history: 1 })).rejects.toBeInstanceOf(KvBucketMissingError);
        await a.kv(bucket, { replicas, history: 2, create: true });
        expect(await (await b.kv(bucket, { create: false })).settings()).toEqual({ replicas, history: 2 });
      });

      it('open only with expected settings: opens when they match, KvSettingsMismatchError when not', async () => {
        const bucket = uniq('kvx');
        await a.kv(bucket, { replicas, history: 2, create: true });
        await expect(b.kv(bucket, { create: false, replicas, history: 2 })).resolves.toBeDefined();
        await expect(b.kv(bucket, { create: false, history: 2 })).resolves.toBeDefined();
        await expect(b.kv(bucket, { create: false, history: 7 })).rejects.toThrow(`history 2 (expected 7)`);
        await expect(b.kv(bucket, { create: false, replicas: otherReplicas })).rejects.toBeInstanceOf(KvSettingsMismatchError);
      });

      it('without `create` (legacy): creates or opens, and never compares settings', async () => {
        const bucket = uniq('kvl');
        await a.kv(bucket, { replicas, history: 2, create: true });
        const legacy = await b.kv(bucket, { replicas, history: 6 });
        expect(await legacy.settings()).toEqual({ replicas, history: 2 });
      });

      it('rejects invalid replicas and history before asking the server', async () => {
        await expect(a.kv(uniq('kvr'), { replicas: 0, create: true })).rejects.toThrow(/replicas/);
        await expect(a.kv(uniq('kvr'), { history: 65, create: true })).rejects.toThrow(/history/);
      });

      it('openKvWhenReady: a non-owner waits (onWait per retry) until the owner creates the bucket', async () => {
        const bucket = uniq('kvw');
        const waits: string[] = [];
        const opened = openKvWhenReady(
          b,
          bucket,
          { create: false },
          { initialDelayMs: 5, maxDelayMs: 20, onWait: (w) => waits.push(w.error.name) },
        );
        // A busy cluster may also answer "not yet" (an API timeout): wait for "missing" itself.
        await eventually(() => expect(waits).toContain('KvBucketMissingError'), 15_000, 'a missing-bucket wait');
        const owner = await a.kv(bucket, { replicas, history: 1, create: true });
        await owner.put('ready', v('yes'));
        const kv = await opened;
        expect(str((await kv.get('ready'))!.value!)).toBe('yes');
        for (const name of waits) expect(['KvBucketMissingError', 'KvUnavailableError']).toContain(name);
      });

      it('openKvWhenReady: a settings mismatch is not retried', async () => {
        const bucket = uniq('kvq');
        await a.kv(bucket, { replicas, history: 2, create: true });
        let waited = 0;
        await expect(
          openKvWhenReady(b, bucket, { replicas, history: 3, create: true }, { onWait: () => waited++ }),
        ).rejects.toBeInstanceOf(KvSettingsMismatchError);
        expect(waited).toBe(0);
      });
    });

    describe('subscription budget (maxSubscriptions)', () => {
      it('refuses locally past the budget, frees a slot on unsubscribe, leaves request() alone', async () => {
        const limited = await target.connectLimited(3, logger);
        try {
          const root = uniq('budget');
          const inbox = new Inbox();
          const held = [1, 2].map((i) => limited.subscribe(`${root}.${i}`, inbox.handler));
          // Its probe takes the third slot for a moment, and gives it back.
          await ready(limited, b);
          held.push(limited.subscribe(`${root}.3`, inbox.handler));
          let refused: unknown;
          try {
            limited.subscribe(`${root}.4`, inbox.handler);
          } catch (err) {
            refused = err;
          }
          expect(refused).toBeInstanceOf(SubscriptionLimitError);
          expect(refused).toMatchObject({ subject: `${root}.4`, limit: 3 });
          held[0]?.unsubscribe();
          held[0]?.unsubscribe();
          held.push(limited.subscribe(`${root}.5`, inbox.handler));
          expect(() => limited.subscribe(`${root}.6`, inbox.handler)).toThrow(SubscriptionLimitError);
          // The held subscriptions still work; request() needs no slot of the budget.
          b.publish(`${root}.2`, text('two'));
          await inbox.waitFor(1);
          expect(inbox.texts).toEqual(['two']);
          const svc = uniq('budgetsvc.');
          track(a.subscribe(svc, (m) => a.respond(m, text('ok'))));
          await ready(a, limited);
          const reply = await limited.request(svc, text('x'), { timeoutMs: 5000 });
          expect(str(reply.data)).toBe('ok');
          for (const s of held) s.unsubscribe();
        } finally {
          await limited.close();
        }
      });
    });

    describe('streams (durable pushes, lifecycle events)', () => {
      const replicas = target.kvOptions?.replicas ?? 1;
      const config = (root: string, extra: Partial<StreamConfig> = {}): StreamConfig => ({
        subjects: [`${root}.*.*`],
        maxAgeMs: 60_000,
        maxMsgs: 0,
        maxBytes: 0,
        replicas,
        duplicateWindowMs: 60_000,
        ...extra,
      });
      const streamName = (): string => uniq('S').replace(/[^A-Za-z0-9]/g, '');
      // In a cluster, a new stream's subjects reach the other nodes' interest a moment later.
      const visible = async (stream: { state(): Promise<unknown> }, publisher: Bus, subject: string): Promise<void> => {
        await stream.state();
        await eventually(async () => {
          try {
            await publisher.publishStored(subject, text('visible'), { msgId: 'visible-probe' });
          } catch (err) {
            if (err instanceof NoStreamError) throw err;
          }
        }, 10_000, 'the stream to be visible to the publisher');
      };
      // Direct gets may be answered by a follower a moment behind the leader: reads are retried.
      const readUntil = async (read: () => Promise<unknown[]>, n: number): Promise<void> =>
        eventually(async () => {
          const got = await read();
          if (got.length < n) throw new Error(`${got.length}/${n} stored`);
        }, 5000, `${n} stored messages`);

      it('stores acknowledged publishes in order, reads them back by subject and range, and reports its state', async () => {
        const root = uniq('dur');
        const stream = await a.stream(streamName(), config(root));
        await visible(stream, b, `${root}.probe.p`);
        const x = `${root}.user.x`;
        const y = `${root}.user.y`;
        const acks = [];
        for (const [subject, body] of [[x, 'x1'], [y, 'y1'], [x, 'x2'], [x, 'x3'], [y, 'y2']] as const) {
          acks.push(await b.publishStored(subject, text(body), { headers: { 'Mesh-Client': 'dGFi' } }));
        }
        expect(acks.map((ack) => ack.seq)).toEqual([2, 3, 4, 5, 6]);
        expect(acks.every((ack) => ack.stream === stream.name && !ack.duplicate)).toBe(true);
        const state = await stream.state();
        expect(state).toMatchObject({ first: 1, last: 6 });
        expect(state.epoch).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
        await readUntil(() => stream.read(x, 1, 6, 100), 3);
        const xs = await stream.read(x, 1, 6, 100);
        expect(xs.map((m) => [m.seq, str(m.data), m.subject])).toEqual([[2, 'x1', x], [4, 'x2', x], [5, 'x3', x]]);
        expect(xs[0]?.headers?.get('Mesh-Client')).toBe('dGFi');
        expect((await stream.read(x, 3, 4, 100)).map((m) => m.seq)).toEqual([4]);
        expect((await stream.read(x, 1, 6, 2)).map((m) => m.seq)).toEqual([2, 4]);
        expect(await stream.read(x, 6, 6, 100)).toEqual([]);
        await readUntil(() => stream.read(y, 1, 6, 100), 2);
        expect((await stream.read(y, 1, 6, 100)).map((m) => str(m.data))).toEqual(['y1', 'y2']);
        // A pattern reads every matching subject in sequence order (merged replays read this way).
        expect((await stream.read(`${root}.user.*`, 3, 6, 100)).map((m) => [m.seq, m.subject])).toEqual([[3, y], [4, x], [5, x], [6, y]]);
        expect((await stream.read(`${root}.>`, 2, 6, 3)).map((m) => m.seq)).toEqual([2, 3, 4]);
        await stream.delete();
      });

      it('reads a wide range by pattern in order (a merged replay), bounded by `to` and `max`', async () => {
        const root = uniq('wide');
        const stream = await a.stream(streamName(), config(root));
        await visible(stream, b, `${root}.probe.p`);
        const pending: Array<Promise<unknown>> = [];
        for (let i = 0; i < 1500; i++) pending.push(b.publishStored(`${root}.user.${i % 2 === 0 ? 'x' : 'y'}`, text(`m${i}`)));
        await Promise.all(pending);
        const last = (await stream.state()).last;
        await readUntil(() => stream.read(`${root}.user.*`, 1, last, 5000), 1500);
        const all = await stream.read(`${root}.user.*`, 1, last, 5000);
        expect(all.map((m) => str(m.data))).toEqual(Array.from({ length: 1500 }, (_, i) => `m${i}`));
        expect(all.map((m) => m.seq)).toEqual([...all.map((m) => m.seq)].sort((p, q) => p - q));
        const middle = await stream.read(`${root}.user.*`, all[100]!.seq, all[1299]!.seq, 5000);
        expect(middle.map((m) => str(m.data))).toEqual(Array.from({ length: 1200 }, (_, i) => `m${i + 100}`));
        expect((await stream.read(`${root}.user.*`, 1, last, 1100)).length).toBe(1100);
        await stream.delete();
      });

      it('republishes each stored message with its sequence and the previous sequence on its subject', async () => {
        const root = uniq('rep');
        const out = uniq('out');
        const stream = await a.stream(streamName(), config(root, { republish: { src: `${root}.*.*`, dest: `${out}.{{wildcard(1)}}.{{wildcard(2)}}` } }));
        await visible(stream, b, `${root}.probe.p`);
        const inbox = new Inbox();
        track(a.subscribe(`${out}.>`, inbox.handler));
        await ready(a, b);
        await b.publishStored(`${root}.user.x`, text('x1'), { headers: { 'Mesh-Session': 'czE' } });
        await b.publishStored(`${root}.session.s`, text('s1'));
        await b.publishStored(`${root}.user.x`, text('x2'));
        await inbox.waitFor(3);
        expect(inbox.subjects).toEqual([`${out}.user.x`, `${out}.session.s`, `${out}.user.x`]);
        const h = inbox.msgs.map((m) => m.msg.headers);
        expect(h.map((x) => [x?.get('Nats-Stream'), x?.get('Nats-Sequence'), x?.get('Nats-Last-Sequence')])).toEqual([
          [stream.name, '2', '0'],
          [stream.name, '3', '0'],
          [stream.name, '4', '2'],
        ]);
        expect(h[0]?.get('Mesh-Session')).toBe('czE');
        expect(h[0]?.get('Nats-Subject')).toBe(`${root}.user.x`);
        expect(inbox.texts).toEqual(['x1', 's1', 'x2']);
        await stream.delete();
      });

      it('stores a repeated Nats-Msg-Id once', async () => {
        const root = uniq('dup');
        const stream = await a.stream(streamName(), config(root));
        await visible(stream, b, `${root}.probe.p`);
        const first = await b.publishStored(`${root}.user.x`, text('once'), { msgId: 'event-1' });
        const again = await b.publishStored(`${root}.user.x`, text('once'), { msgId: 'event-1' });
        const other = await b.publishStored(`${root}.user.x`, text('other'), { msgId: 'event-2' });
        expect([first.duplicate, again.duplicate, other.duplicate]).toEqual([false, true, false]);
        expect(again.seq).toBe(first.seq);
        expect((await stream.state()).last).toBe(3);
        await stream.delete();
      });

      it('keeps what the limits allow: the first sequence moves on', async () => {
        const root = uniq('lim');
        const stream = await a.stream(streamName(), config(root, { maxMsgs: 3 }));
        await visible(stream, b, `${root}.probe.p`);
        for (let i = 1; i <= 5; i++) await b.publishStored(`${root}.user.x`, text(`m${i}`));
        expect(await stream.state()).toMatchObject({ first: 4, last: 6 });
        await readUntil(() => stream.read(`${root}.user.x`, 1, 6, 10), 3);
        expect((await stream.read(`${root}.user.x`, 1, 6, 10)).map((m) => m.seq)).toEqual([4, 5, 6]);
        await stream.delete();
      });

      it('a recreated stream has another epoch and starts its sequences over', async () => {
        const root = uniq('epo');
        const name = streamName();
        const first = await a.stream(name, config(root));
        await visible(first, b, `${root}.probe.p`);
        await b.publishStored(`${root}.user.x`, text('old'));
        const before = await first.state();
        await first.delete();
        await expect(b.stream(name)).rejects.toBeInstanceOf(StreamUnavailableError);
        const second = await a.stream(name, config(root));
        const after = await second.state();
        expect(after.epoch).not.toBe(before.epoch);
        expect(after).toMatchObject({ first: 1, last: 0 });
        await visible(second, b, `${root}.probe.p`);
        expect((await b.publishStored(`${root}.user.x`, text('new'))).seq).toBe(2);
        await second.delete();
      });

      it('refuses a stored publish no stream keeps, and opening a stream that does not exist', async () => {
        await expect(b.publishStored(uniq('nostream.'), text('x'))).rejects.toBeInstanceOf(NoStreamError);
        await expect(b.stream(streamName())).rejects.toBeInstanceOf(StreamUnavailableError);
      });

      it('a core publish to a stored subject is stored too', async () => {
        const root = uniq('core');
        const stream = await a.stream(streamName(), config(root));
        await visible(stream, b, `${root}.probe.p`);
        b.publish(`${root}.user.x`, text('core'));
        await b.flush();
        await eventually(async () => {
          if ((await stream.state()).last !== 2) throw new Error('not stored yet');
        }, 5000, 'the core publish to be stored');
        await stream.delete();
      });
    });

    describe('lifecycle', () => {
      it('reports connected, and registers and removes event listeners', () => {
        expect(a.isConnected()).toBe(true);
        expect(b.isConnected()).toBe(true);
        expect(['nats', 'memory']).toContain(a.kind);
        const off = a.onEvent(() => undefined);
        off();
      });
    });
  });
}
