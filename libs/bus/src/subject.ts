/**
 * NATS subject rules, shared by both buses so that a subject one accepts the other accepts too.
 *
 * A subject is dot-separated tokens. `*` (one token) and `>` (one or more trailing tokens) are
 * wildcards only as WHOLE tokens: `ab*` is an ordinary literal token. Subscriptions may use
 * wildcards (`>` only last); publishes may not (the NATS server would otherwise deliver a
 * "literal" `a.*` to every `a.*` subscriber, which callers never mean).
 */

const DOT = 46;
const STAR = 42;
const GT = 62;

/** Throws an Error naming the problem; returns whether the subject holds a wildcard token. */
function check(subject: string, what: 'publish' | 'subscribe'): boolean {
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new Error(`invalid subject for ${what}: must be a non-empty string`);
  }
  let tokenStart = 0;
  let wildcard = false;
  const n = subject.length;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? DOT : subject.charCodeAt(i);
    if (c === DOT) {
      const len = i - tokenStart;
      if (len === 0) throw new Error(`invalid subject ${JSON.stringify(subject)} for ${what}: empty token`);
      if (len === 1) {
        const t = subject.charCodeAt(tokenStart);
        if (t === STAR || t === GT) {
          if (what === 'publish') {
            throw new Error(`invalid subject ${JSON.stringify(subject)} for publish: wildcard token`);
          }
          if (t === GT && i !== n) {
            throw new Error(`invalid subject ${JSON.stringify(subject)}: '>' must be the last token`);
          }
          wildcard = true;
        }
      }
      tokenStart = i + 1;
    } else if (c <= 32 || c === 127) {
      // Space, tab, CR, LF and other control characters break the NATS protocol line.
      throw new Error(`invalid subject ${JSON.stringify(subject)} for ${what}: white space or control character`);
    }
  }
  return wildcard;
}

export function assertPublishSubject(subject: string): void {
  check(subject, 'publish');
}

/** Returns true when the subject holds a wildcard token. */
export function assertSubscribeSubject(subject: string): boolean {
  return check(subject, 'subscribe');
}

/** Queue group names: non-empty, no white space (it is one word of the SUB protocol line). */
export function assertQueueName(queue: string): void {
  if (typeof queue !== 'string' || queue.length === 0 || /[\s\u0000-\u001f\u007f]/.test(queue)) {
    throw new Error(`invalid queue group ${JSON.stringify(queue)}: must be non-empty without white space`);
  }
}

/** Whether a wildcard pattern (already split into tokens) matches a literal subject's tokens. */
export function patternMatches(pattern: readonly string[], subject: readonly string[]): boolean {
  const pn = pattern.length;
  for (let i = 0; i < pn; i++) {
    const p = pattern[i];
    if (p === '>') return subject.length > i;
    if (i >= subject.length) return false;
    if (p !== '*' && p !== subject[i]) return false;
  }
  return pn === subject.length;
}
