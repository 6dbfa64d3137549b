/**
 * The topic rule: inbound topics are chosen by clients and read by backends, so a topic is a
 * short, readable, subject-safe name: 1 to 64 characters of [A-Za-z0-9_-]. One subject token
 * (no `.`), never a wildcard. Frames carry it as ASCII bytes; subjects as `<prefix>.in.<topic>`.
 */
export const MAX_TOPIC_LENGTH = 64;
export const TOPIC_RE = /^[A-Za-z0-9_-]{1,64}$/;

const TOPIC_BYTE = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-') TOPIC_BYTE[c.charCodeAt(0)] = 1;

export function isValidTopic(topic: string): boolean {
  return TOPIC_RE.test(topic);
}

/** Whether one byte may appear in a topic (for parsers reading frames byte by byte). */
export function isTopicByte(byte: number): boolean {
  return byte < 128 && TOPIC_BYTE[byte] === 1;
}

/** Why a topic is unacceptable, or undefined when it is fine. */
export function topicProblem(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return 'topic must be a string';
  if (topic.length < 1 || topic.length > MAX_TOPIC_LENGTH) return `topic length must be 1..${MAX_TOPIC_LENGTH}`;
  if (!TOPIC_RE.test(topic)) return 'topic must match [A-Za-z0-9_-]';
  return undefined;
}
