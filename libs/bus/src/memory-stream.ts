/**
 * The memory bus's streams: what JetStream does for durable pushes, in process. Sequences per
 * stream, limits (age, count, bytes) applied on every write and read, an epoch per incarnation,
 * Nats-Msg-Id deduplication, and republish with JetStream's headers. One process holds it, so
 * it lives as long as the MemoryBroker.
 */
import { randomBytes } from 'node:crypto';
import type { BusHeaders, HeaderValues } from './bus.js';
import { JS_HEADERS, type StreamConfig, type StoredMessage, type StreamState } from './stream.js';
import { patternMatches } from './subject.js';

/** Read access to a message's headers (the memory bus's messages and stored ones). */
export class MemoryHeaders implements BusHeaders {
  constructor(private readonly values: ReadonlyMap<string, string>) {}
  get(name: string): string {
    return this.values.get(name) ?? '';
  }
  has(name: string): boolean {
    return this.values.has(name);
  }
}

interface Entry {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: ReadonlyMap<string, string> | undefined;
  readonly at: number;
  readonly size: number;
}

/** A literal head of a pattern (up to its first wildcard): a cheap first test before splitting. */
function literalHead(pattern: string): string {
  const at = pattern.search(/(^|\.)[*>]/);
  return at < 0 ? pattern : pattern.slice(0, at + (pattern[at] === '.' ? 1 : 0));
}

export class MemoryStream {
  readonly epoch = `m${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  private entries: Entry[] = [];
  private head = 0;
  private bytes = 0;
  private lastSeq = 0;
  private readonly lastBySubject = new Map<string, number>();
  private readonly msgIds = new Map<string, { seq: number; at: number }>();
  private patterns: Array<{ head: string; tokens: string[] }> = [];
  private republishSrc: string[] | undefined;
  private republishDest: string | undefined;

  constructor(
    readonly name: string,
    public config: StreamConfig,
  ) {
    this.configure(config);
  }

  configure(config: StreamConfig): void {
    this.config = config;
    this.patterns = config.subjects.map((p) => ({ head: literalHead(p), tokens: p.split('.') }));
    this.republishSrc = config.republish?.src.split('.');
    this.republishDest = config.republish?.dest;
    this.trim(Date.now());
  }

  captures(subject: string): boolean {
    for (const p of this.patterns) {
      if (subject.startsWith(p.head) && patternMatches(p.tokens, subject.split('.'))) return true;
    }
    return false;
  }

  /**
   * Stores a message. Returns the sequence, whether it was a duplicate, and the republished
   * message (subject and headers) when the stream republishes it.
   */
  store(
    subject: string,
    data: Uint8Array,
    headers: HeaderValues | undefined,
  ): { seq: number; duplicate: boolean; republish: { subject: string; headers: Record<string, string> } | undefined } {
    const now = Date.now();
    this.trim(now);
    const msgId = headers?.[JS_HEADERS.MsgId];
    if (msgId !== undefined && msgId !== '') {
      const seen = this.msgIds.get(msgId);
      if (seen !== undefined && now - seen.at < this.config.duplicateWindowMs) return { seq: seen.seq, duplicate: true, republish: undefined };
    }
    const seq = ++this.lastSeq;
    const map = headers === undefined ? undefined : new Map(Object.entries(headers));
    const entry: Entry = { seq, subject, data: data.slice(), headers: map, at: now, size: data.length + subject.length };
    this.entries.push(entry);
    this.bytes += entry.size;
    const previous = this.lastBySubject.get(subject) ?? 0;
    this.lastBySubject.set(subject, seq);
    if (msgId !== undefined && msgId !== '') this.msgIds.set(msgId, { seq, at: now });
    this.trim(now);
    return { seq, duplicate: false, republish: this.republishOf(entry, previous) };
  }

  private republishOf(entry: Entry, previous: number): { subject: string; headers: Record<string, string> } | undefined {
    const src = this.republishSrc;
    const dest = this.republishDest;
    if (src === undefined || dest === undefined) return undefined;
    const tokens = entry.subject.split('.');
    if (!patternMatches(src, tokens)) return undefined;
    const wild: string[] = [];
    src.forEach((t, i) => {
      if (t === '*') wild.push(tokens[i] as string);
    });
    const subject = dest.replace(/\{\{\s*wildcard\((\d+)\)\s*\}\}/g, (_, n: string) => wild[Number(n) - 1] ?? '');
    const headers: Record<string, string> = {};
    if (entry.headers !== undefined) for (const [k, v] of entry.headers) headers[k] = v;
    headers[JS_HEADERS.Stream] = this.name;
    headers[JS_HEADERS.Subject] = entry.subject;
    headers[JS_HEADERS.Sequence] = String(entry.seq);
    headers[JS_HEADERS.TimeStamp] = new Date(entry.at).toISOString();
    headers[JS_HEADERS.LastSequence] = String(previous);
    return { subject, headers };
  }

  state(): StreamState {
    this.trim(Date.now());
    const first = this.head < this.entries.length ? (this.entries[this.head] as Entry).seq : this.lastSeq + 1;
    return { epoch: this.epoch, first, last: this.lastSeq };
  }

  read(subject: string, from: number, to: number, max: number): StoredMessage[] {
    this.trim(Date.now());
    const out: StoredMessage[] = [];
    // Sequences increase along the array: binary search for the first >= from.
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as Entry).seq < from) lo = mid + 1;
      else hi = mid;
    }
    // A pattern (`*`, `>`) reads every subject it matches, as next_by_subj does in JetStream.
    const pattern = subject.includes('*') || subject.includes('>') ? subject.split('.') : undefined;
    for (let i = lo; i < this.entries.length && out.length < max; i++) {
      const e = this.entries[i] as Entry;
      if (e.seq > to) break;
      if (pattern === undefined ? e.subject !== subject : !patternMatches(pattern, e.subject.split('.'))) continue;
      out.push({ seq: e.seq, subject: e.subject, data: e.data.slice(), headers: e.headers === undefined ? undefined : new MemoryHeaders(e.headers) });
    }
    return out;
  }

  private trim(now: number): void {
    const { maxAgeMs, maxMsgs, maxBytes, duplicateWindowMs } = this.config;
    while (this.head < this.entries.length) {
      const e = this.entries[this.head] as Entry;
      const count = this.entries.length - this.head;
      const tooOld = maxAgeMs > 0 && now - e.at > maxAgeMs;
      if (!tooOld && !(maxMsgs > 0 && count > maxMsgs) && !(maxBytes > 0 && this.bytes > maxBytes)) break;
      this.bytes -= e.size;
      this.entries[this.head] = undefined as unknown as Entry;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.msgIds.size > 0) {
      for (const [id, seen] of this.msgIds) {
        if (now - seen.at < duplicateWindowMs) break;
        this.msgIds.delete(id);
      }
    }
  }
}
