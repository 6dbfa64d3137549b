import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  closeCodeAdvice,
  closeCodeName,
  encodeMessageFrame,
  encodeRequestFrame,
  Opcode,
  parseClientBinary,
  parseClientControl,
  parseServerBinary,
  writeReplyHeader,
} from '@session-mesh/protocol';

describe('close codes', () => {
  it('are unique, in the application range (or 1000), and all have advice', () => {
    const numbers = Object.values(CloseCode);
    expect(new Set(numbers).size).toBe(numbers.length);
    for (const [name, code] of Object.entries(CloseCode)) {
      expect(code === 1000 || (code >= 4000 && code <= 4999)).toBe(true);
      expect(closeCodeName(code)).toBe(name);
      expect(closeCodeAdvice[name as keyof typeof CloseCode]).toBeDefined();
    }
    expect(closeCodeName(4999)).toBeUndefined();
  });

  it('keeps the documented numbers stable', () => {
    expect(CloseCode).toMatchObject({
      UNAUTHORIZED: 4001,
      TOKEN_EXPIRED: 4002,
      ROLES_MISMATCH: 4003,
      SESSION_BLACKLISTED: 4004,
      KILLED: 4005,
      SLOW_CONSUMER: 4006,
      RATE_LIMITED: 4007,
      SERVER_DRAINING: 4008,
    });
  });
});

describe('binary frames', () => {
  it('round-trips MESSAGE with arbitrary payload bytes', () => {
    const payload = new Uint8Array([0, 255, 0xc3, 0x28, 10]);
    const parsed = parseClientBinary(encodeMessageFrame('chat_1-x', payload));
    expect(parsed).toEqual({ op: Opcode.MESSAGE, topic: 'chat_1-x', payload });
  });

  it('round-trips REQUEST ids across the whole u32 range', () => {
    for (const id of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
      const parsed = parseClientBinary(encodeRequestFrame(id, 't', new Uint8Array([1])));
      expect(parsed).toMatchObject({ op: Opcode.REQUEST, id, topic: 't' });
    }
    expect(() => encodeRequestFrame(-1, 't', new Uint8Array())).toThrow(RangeError);
  });

  it('reports malformed client frames instead of throwing', () => {
    expect(parseClientBinary(new Uint8Array())).toMatch(/empty/);
    expect(parseClientBinary(new Uint8Array([9]))).toMatch(/opcode/);
    expect(parseClientBinary(new Uint8Array([Opcode.MESSAGE]))).toMatch(/topic length/);
    expect(parseClientBinary(new Uint8Array([Opcode.MESSAGE, 0]))).toMatch(/1\.\.64/);
    expect(parseClientBinary(new Uint8Array([Opcode.MESSAGE, 5, 97]))).toMatch(/truncated/);
    expect(parseClientBinary(new Uint8Array([Opcode.MESSAGE, 1, 46]))).toMatch(/topic must match/);
    expect(parseClientBinary(new Uint8Array([Opcode.REQUEST, 0, 0]))).toMatch(/request id/);
  });

  it('parses server PUSH and REPLY frames', () => {
    expect(parseServerBinary(new Uint8Array([Opcode.PUSH, 7, 8]))).toEqual({ op: Opcode.PUSH, payload: new Uint8Array([7, 8]) });
    const reply = new Uint8Array(7);
    writeReplyHeader(reply, 0xdeadbeef);
    reply.set([1, 2], 5);
    expect(parseServerBinary(reply)).toEqual({ op: Opcode.REPLY, id: 0xdeadbeef, payload: new Uint8Array([1, 2]) });
    expect(parseServerBinary(new Uint8Array([Opcode.REPLY, 1]))).toMatch(/truncated/);
  });
});

describe('control frames', () => {
  it('parses refresh and explains everything else', () => {
    expect(parseClientControl('{"type":"refresh","token":"abc"}')).toEqual({ type: 'refresh', token: 'abc' });
    expect(parseClientControl('{"type":"refresh"}')).toMatch(/token/);
    expect(parseClientControl('nope')).toMatch(/JSON/);
    expect(parseClientControl('[]')).toMatch(/unknown|object/);
    expect(parseClientControl('{"type":"dance"}')).toMatch(/unknown/);
  });
});
