import { createLogger } from '@session-mesh/runtime';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startBlacklistJanitor } from '../src/blacklist-janitor.js';
import { waitFor } from '../../../test/support/wait-for.js';

const logger = createLogger({ name: 'janitor-test', level: 'silent' });

describe('blacklist janitor (a background job beside the HTTP app)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never overlaps rounds, and stop() waits for the round in progress', async () => {
    vi.useFakeTimers();
    let running = 0;
    let maxRunning = 0;
    let rounds = 0;
    let finish: (() => void) | undefined;
    const janitor = startBlacklistJanitor({
      intervalMs: 5,
      logger,
      sweep: async () => {
        rounds++;
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise<void>((resolve) => (finish = resolve));
        running--;
        return 1;
      },
    });
    await vi.advanceTimersByTimeAsync(5);
    expect(rounds).toBe(1);
    // Ten intervals pass while the first round hangs: no second round starts.
    await vi.advanceTimersByTimeAsync(50);
    const started = rounds;
    let stopped = false;
    const stopping = janitor.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    finish!();
    await stopping;
    expect(started).toBe(1);
    expect(maxRunning).toBe(1);
    expect(running).toBe(0);
  });

  it('keeps going after a failed round', async () => {
    let rounds = 0;
    const janitor = startBlacklistJanitor({
      intervalMs: 5,
      logger,
      sweep: async () => {
        rounds++;
        if (rounds === 1) throw new Error('KV timeout');
        return 0;
      },
    });
    await waitFor(() => rounds >= 3, { what: 'rounds after a failure' });
    await janitor.stop();
  });
});
