import { describe, expect, it } from 'vitest';
import { isTopicByte, isU32, isValidTopic, MAX_TOPIC_LENGTH, readU32BE, topicProblem, writeU32BE } from '@session-mesh/protocol';

describe('u32 big-endian', () => {
  it('writes and reads the wire layout', () => {
    const b = new Uint8Array(6);
    writeU32BE(b, 1, 0x01020304);
    expect([...b]).toEqual([0, 1, 2, 3, 4, 0]);
    expect(readU32BE(b, 1)).toBe(0x01020304);
    writeU32BE(b, 2, 0xffffffff);
    expect(readU32BE(b, 2)).toBe(0xffffffff);
    expect(Buffer.from(b).readUInt32BE(2)).toBe(0xffffffff);
  });
  it('knows a u32', () => {
    expect([0, 1, 0xffffffff].map(isU32)).toEqual([true, true, true]);
    expect([-1, 0x100000000, 1.5, Number.NaN].map(isU32)).toEqual([false, false, false, false]);
  });
});

describe('topic rule', () => {
  it('accepts 1..64 characters of [A-Za-z0-9_-]', () => {
    expect(isValidTopic('a')).toBe(true);
    expect(isValidTopic('Chat_v2-x')).toBe(true);
    expect(isValidTopic('t'.repeat(MAX_TOPIC_LENGTH))).toBe(true);
    expect(topicProblem('ok')).toBeUndefined();
  });
  it('refuses everything else and says why', () => {
    expect(topicProblem('')).toMatch(/length/);
    expect(topicProblem('t'.repeat(65))).toMatch(/length/);
    expect(topicProblem('a.b')).toMatch(/\[A-Za-z0-9_-\]/);
    expect(topicProblem('a*')).toMatch(/\[A-Za-z0-9_-\]/);
    expect(topicProblem('é')).toMatch(/\[A-Za-z0-9_-\]/);
    expect(topicProblem(7)).toMatch(/string/);
  });
  it('agrees byte by byte with the string rule', () => {
    for (let b = 0; b < 256; b++) expect(isTopicByte(b), String(b)).toBe(b < 128 && isValidTopic(String.fromCharCode(b)));
  });
});
