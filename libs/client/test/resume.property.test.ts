/** The durable resume point: what is delivered, what is stored, what survives a reload. */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { ResumeState } from '../src/resume.js';
import type { StorageLike } from '../src/types.js';

class MapStorage implements StorageLike {
  readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

const position = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

describe('resume state', () => {
  test.prop([position, fc.array(position, { maxLength: 60 })])(
    'delivers exactly the pushes above everything seen before, and the stored position never goes down',
    (start, positions) => {
      const storage = new MapStorage();
      const state = new ResumeState(storage, 'k');
      state.onWelcome({ epoch: 'e1', position: start, recovered: false }, false);
      let highest = start;
      for (const p of positions) {
        const delivered = state.accept(p);
        expect(delivered).toBe(p > highest);
        highest = Math.max(highest, p);
        expect(state.current).toEqual({ epoch: 'e1', position: highest });
      }
      // A reload reads the same point back.
      expect(new ResumeState(storage, 'k').current).toEqual({ epoch: 'e1', position: highest });
    },
  );

  it('a recovered welcome keeps the point and marks the replay until the position frame', () => {
    const state = new ResumeState(null, 'k');
    state.onWelcome({ epoch: 'e1', position: 10, recovered: false }, false);
    expect(state.accept(15)).toBe(true);
    const answer = state.onWelcome({ epoch: 'e1', position: 15, recovered: true }, true);
    expect(answer).toEqual({ kind: 'recovered', point: { epoch: 'e1', position: 15 } });
    expect(state.replaying).toBe(true);
    expect(state.accept(15)).toBe(false);
    expect(state.accept(21)).toBe(true);
    state.onPositionFrame(30);
    expect(state.replaying).toBe(false);
    expect(state.current).toEqual({ epoch: 'e1', position: 30 });
    state.onPositionFrame(12);
    expect(state.current?.position).toBe(30);
  });

  it('an unrecovered resume starts over from the welcome, even lower or in a new epoch, and says pushes may be lost', () => {
    const state = new ResumeState(null, 'k');
    state.onWelcome({ epoch: 'e1', position: 500, recovered: false }, false);
    expect(state.onWelcome({ epoch: 'e2', position: 3, recovered: false }, true)).toEqual({ kind: 'restart', point: { epoch: 'e2', position: 3 }, lost: true });
    expect(state.current).toEqual({ epoch: 'e2', position: 3 });
    expect(state.accept(4)).toBe(true);
  });

  it('ignores a welcome without durable fields, and junk in storage', () => {
    const storage = new MapStorage();
    for (const junk of ['', 'e1', 'e1 -3', 'e1 1.5', 'bad epoch! 4', 'e1 99999999999999999999']) {
      storage.setItem('k', junk);
      expect(new ResumeState(storage, 'k').current).toBeUndefined();
    }
    const state = new ResumeState(storage, 'k');
    expect(state.onWelcome({}, false)).toEqual({ kind: 'none' });
    state.onWelcome({ epoch: 'e', position: 1 }, false);
    state.clear();
    expect(state.current).toBeUndefined();
    expect(storage.getItem('k')).toBeNull();
  });
});
