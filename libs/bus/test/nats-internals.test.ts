/**
 * The typed access to nats.js internals refuses, loudly, what it was not written for (instead of
 * quietly switching the bus to another path, as the old source-text checks did).
 */
import type { NatsConnection, Status } from '@nats-io/nats-core/internal';
import { describe, expect, it } from 'vitest';
import { lightProtocol, statusCounter } from '../src/nats/internals.js';

describe('nats.js internals', () => {
  it('refuses a connection that is not nats-core NatsConnectionImpl, naming the way out', () => {
    const foreign = { protocol: { subscribe: () => undefined } } as unknown as NatsConnection;
    expect(() => lightProtocol(foreign)).toThrow(/two copies of nats-core.*lightSubscriptions: false/);
  });

  it('refuses a status stream that is not nats-core QueuedIteratorImpl', () => {
    const plain: AsyncIterable<Status> = { [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }) };
    expect(() => statusCounter(plain)).toThrow(/QueuedIteratorImpl/);
  });
});
