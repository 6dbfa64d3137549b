import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  closeCodeAdvice,
  createSubjects,
  DURABLE_PUSH_HEADER_BYTES,
  Opcode,
  parseResumePoint,
  parseServerBinary,
  parseSubject,
  writeDurablePushHeader,
} from '@session-mesh/protocol';

describe('DURABLE_PUSH frames', () => {
  it.each([1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER])('carries position %d as a u64 big-endian', (position) => {
    const frame = new Uint8Array(DURABLE_PUSH_HEADER_BYTES + 2);
    writeDurablePushHeader(frame, position);
    frame.set([0x68, 0x69], DURABLE_PUSH_HEADER_BYTES);
    expect(frame[0]).toBe(Opcode.DURABLE_PUSH);
    const view = new DataView(frame.buffer);
    expect(view.getBigUint64(1)).toBe(BigInt(position));
    const parsed = parseServerBinary(frame);
    expect(parsed).toMatchObject({ op: Opcode.DURABLE_PUSH, position });
    expect(Buffer.from((parsed as { payload: Uint8Array }).payload).toString()).toBe('hi');
  });

  it('refuses truncated frames and positions past 2^53', () => {
    expect(parseServerBinary(new Uint8Array([0x05, 0, 0, 0]))).toBe('truncated durable push');
    expect(parseServerBinary(new Uint8Array([0x05, 0, 0x20, 0, 0, 0, 0, 0, 0]))).toBe('position beyond 2^53');
  });
});

describe('resume point', () => {
  it('is absent when neither value is given, and parsed when both are', () => {
    expect(parseResumePoint(undefined, undefined)).toBeUndefined();
    expect(parseResumePoint('4711', 'abc-1_Z')).toEqual({ position: 4711, epoch: 'abc-1_Z' });
    expect(parseResumePoint('0', 'e')).toEqual({ position: 0, epoch: 'e' });
  });

  it.each([
    ['12', undefined],
    [undefined, 'e'],
    ['-1', 'e'],
    ['01', 'e'],
    ['1.5', 'e'],
    ['9007199254740993', 'e'],
    ['1e3', 'e'],
    ['1', ''],
    ['1', 'a.b'],
    ['1', 'x'.repeat(65)],
  ])('refuses position %j with epoch %j', (position, epoch) => {
    expect(typeof parseResumePoint(position, epoch)).toBe('string');
  });
});

describe('durable subjects and close code', () => {
  it('builds and parses durable subjects', () => {
    const s = createSubjects('acme.mesh');
    expect(s.durableUser('a.b')).toBe('acme.mesh.durable.user.YS5i');
    expect(s.durableSession('s')).toBe('acme.mesh.durable.session.cw');
    expect(s.durableAll()).toBe('acme.mesh.durable.*.*');
    expect(parseSubject('acme.mesh', s.durableUser('a.b'))).toEqual({ kind: 'durable-user', user: 'a.b' });
    expect(parseSubject('acme.mesh', s.durableSession('s'))).toEqual({ kind: 'durable-session', session: 's' });
  });

  it('RESUME_REQUIRED is 4014 and retryable', () => {
    expect(CloseCode.RESUME_REQUIRED).toBe(4014);
    expect(closeCodeAdvice.RESUME_REQUIRED).toEqual({ retry: true, refreshToken: false });
  });
});
