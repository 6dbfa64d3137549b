import { openStreamWhenReady, type Bus, type StreamConfig } from '@session-mesh/bus';
import type { Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import type { RegistryConfig } from '../config.js';

/** A repeated Nats-Msg-Id within this window is stored once (a retried publish, a leader hand-over). */
const DUPLICATE_WINDOW_MS = 120_000;

/**
 * The lifecycle events stream: connect and disconnect events (from the edges, and the registry's
 * own for lost edges) and presence changes, stored so that a backend that was down catches up with
 * a durable consumer. Publishers do not wait for it: they publish as before, with a Nats-Msg-Id,
 * and JetStream stores what lands on these subjects.
 */
export function eventsStreamConfig(subjects: Subjects, stream: NonNullable<RegistryConfig['eventsStream']>): StreamConfig {
  return {
    subjects: [subjects.eventConnect(), subjects.eventDisconnect(), subjects.presenceAll()],
    maxAgeMs: stream.maxAgeS * 1000,
    maxMsgs: 0,
    maxBytes: 0,
    replicas: stream.replicas,
    duplicateWindowMs: Math.min(DUPLICATE_WINDOW_MS, stream.maxAgeS * 1000),
  };
}

/** Creates or updates the stream; waits (the replica unready) while JetStream cannot answer. */
export async function openEventsStream(bus: Bus, subjects: Subjects, stream: NonNullable<RegistryConfig['eventsStream']>, logger: Logger, signal?: AbortSignal): Promise<void> {
  await openStreamWhenReady(bus, stream.name, eventsStreamConfig(subjects, stream), {
    signal,
    onWait: ({ attempt, delayMs, error }) => {
      if (attempt === 1 || attempt % 10 === 0) logger.warn({ err: error, delayMs, stream: stream.name }, 'waiting for JetStream to open the lifecycle events stream');
    },
  });
  logger.info({ stream: stream.name, maxAgeS: stream.maxAgeS, replicas: stream.replicas }, 'lifecycle events stream ready');
}
