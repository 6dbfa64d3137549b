/**
 * Header and KV naming rules, checked the same way by both buses (the NATS ones, so that code
 * tested against the memory bus does not fail first in production).
 */
import { KvSettingsMismatchError, type KvOptions, type KvSettings } from './bus.js';

/** Header names: printable ASCII without ':' (as nats.js checks); case is kept and matched exactly. */
export function assertHeaderName(name: string): void {
  if (name.length === 0) throw new Error('invalid header name: empty');
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 58 || c < 33 || c > 126) {
      throw new Error(`invalid header name ${JSON.stringify(name)}: printable ASCII without ':'`);
    }
  }
}

/** Header values: no CR or LF. Leading and trailing white space is trimmed (as nats.js does). */
export function normalizeHeaderValue(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`invalid value for header ${name}: must not contain CR or LF`);
  return value.trim();
}

const BUCKET_RE = /^[-\w]+$/;
const KEY_RE = /^[-/=.\w]+$/;

export function assertBucketName(bucket: string): void {
  if (!BUCKET_RE.test(bucket)) throw new Error(`invalid KV bucket name ${JSON.stringify(bucket)}: [A-Za-z0-9_-]+`);
}

export function assertKvKey(key: string): void {
  if (!KEY_RE.test(key) || key.startsWith('.') || key.endsWith('.') || key.includes('..')) {
    throw new Error(`invalid KV key ${JSON.stringify(key)}: [-/=._A-Za-z0-9], no empty dot-separated part`);
  }
}

/** NATS keeps 1 to 64 revisions per key. */
export function assertHistory(history: number): void {
  if (!Number.isInteger(history) || history < 1 || history > 64) {
    throw new Error(`invalid KV history ${history}: an integer from 1 to 64`);
  }
}

/** Copies of a bucket: at least 1 (NATS also caps it at the cluster size; its error then says so). */
export function assertReplicas(replicas: number): void {
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new Error(`invalid KV replicas ${replicas}: an integer from 1`);
  }
}

/** The settings a bucket is created with: what was asked for, else 1 replica and 1 revision per key. */
export function kvSettingsWanted(options: KvOptions | undefined): KvSettings {
  return { replicas: options?.replicas ?? 1, history: options?.history ?? 1 };
}

/**
 * What an existing bucket must match (KvOptions.create): an owner everything it asked for,
 * defaults included; an opener only what it named; the legacy create-or-open nothing.
 */
export function kvSettingsExpected(options: KvOptions | undefined): Partial<KvSettings> | undefined {
  if (options?.create === true) return kvSettingsWanted(options);
  if (options?.create !== false) return undefined;
  return {
    ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
    ...(options.history === undefined ? {} : { history: options.history }),
  };
}

export function assertKvSettings(bucket: string, expected: Partial<KvSettings> | undefined, actual: KvSettings): void {
  if (
    expected !== undefined &&
    ((expected.replicas !== undefined && expected.replicas !== actual.replicas) ||
      (expected.history !== undefined && expected.history !== actual.history))
  ) {
    throw new KvSettingsMismatchError(bucket, expected, actual);
  }
}
