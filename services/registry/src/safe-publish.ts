import type { Bus } from '@session-mesh/bus';
import type { RateLimitedLog } from '@session-mesh/runtime';

/** Publishing fails only on a closed bus (shutdown); it must never throw out of a timer or a handler. */
export function safePublish(bus: Bus, warn: RateLimitedLog): (subject: string, data: Uint8Array, headers?: Record<string, string>) => void {
  return (subject, data, headers) => {
    try {
      bus.publish(subject, data, headers);
    } catch (err) {
      warn(`publish:${subject.split('.').slice(0, 3).join('.')}`, { err, subject }, 'could not publish');
    }
  };
}
