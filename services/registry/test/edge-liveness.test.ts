import { describe, expect, it } from 'vitest';
import { EdgeLiveness } from '../src/state/edge-liveness.js';

describe('EdgeLiveness', () => {
  it('reports unknown edges once and loses them after the allowance', () => {
    const l = new EdgeLiveness(1000);
    expect(l.seen('e1', 0)).toBe(true);
    expect(l.seen('e1', 100)).toBe(false);
    expect(l.lost(1100)).toEqual([]);
    expect(l.lost(1101)).toEqual(['e1']);
  });

  it('allows three heartbeat intervals when that is longer than the configured allowance', () => {
    const l = new EdgeLiveness(1000);
    expect(l.heartbeat('e1', 0, 500)).toBe(true);
    expect(l.lostAfter('e1')).toBe(1500);
    expect(l.lost(1400)).toEqual([]);
    expect(l.lost(1501)).toEqual(['e1']);
    l.heartbeat('e1', 1501, 100);
    expect(l.lostAfter('e1')).toBe(1000);
    expect(l.get('e1')).toEqual({ edge: 'e1', lastSeen: 1501, lastHeartbeat: 1501, intervalMs: 100 });
  });

  it('restarts every clock when the registry itself comes back (its own outage silenced them all)', () => {
    const l = new EdgeLiveness(1000);
    l.heartbeat('e1', 0, 100);
    l.seen('e2', 500);
    l.graceAll(5000);
    expect(l.lost(5500)).toEqual([]);
    expect(l.lost(6001).sort()).toEqual(['e1', 'e2']);
  });

  it('forgets edges', () => {
    const l = new EdgeLiveness(10);
    l.seen('e1', 0);
    l.forget('e1');
    expect(l.has('e1')).toBe(false);
    expect(l.lost(100)).toEqual([]);
    expect(l.heartbeat('e1', 100, 5)).toBe(true);
  });
});
