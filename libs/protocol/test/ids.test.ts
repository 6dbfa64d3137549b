import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSubjects, decodeId, encodeId, idProblem, InvalidIdError, parseSubject, tryDecodeId } from '@session-mesh/protocol';

interface Vectors {
  valid: { id: string; utf8Hex: string; token: string; pushUserSubject: string }[];
  invalidIds: { id: string }[];
  invalidTokens: { token: string; reason: string }[];
}
const vectors = JSON.parse(readFileSync(new URL('../test-vectors/id-encoding.json', import.meta.url), 'utf8')) as Vectors;

describe('id encoding test vectors', () => {
  it('has vectors for the tricky cases', () => {
    const ids = vectors.valid.map((v) => v.id);
    for (const needle of ['user.with.dots', '*', '>', 'with space', '🙂', 'alice@example.com']) expect(ids).toContain(needle);
  });

  it.each(vectors.valid)('encodes and decodes $token', ({ id, token, utf8Hex, pushUserSubject }) => {
    expect(Buffer.from(id, 'utf8').toString('hex')).toBe(utf8Hex);
    expect(encodeId(id)).toBe(token);
    expect(decodeId(token)).toBe(id);
    expect(createSubjects('mesh').pushUser(id)).toBe(pushUserSubject);
    // Node's own base64url agrees: the rule really is "standard base64url without padding".
    expect(Buffer.from(id, 'utf8').toString('base64url')).toBe(token);
  });

  it.each(vectors.invalidIds)('refuses invalid id #%#', ({ id }) => {
    expect(() => encodeId(id)).toThrow(InvalidIdError);
  });

  it.each(vectors.invalidTokens)('refuses token $token ($reason)', ({ token }) => {
    expect(() => decodeId(token)).toThrow(InvalidIdError);
    expect(tryDecodeId(token)).toBeUndefined();
  });
});

describe('encodeId', () => {
  it('never produces subject metacharacters, whatever the id', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = ['a', '.', '*', '>', ' ', 'é', '🙂', '用', '-', '_', '=', '/', '+'];
    const seen = new Map<string, string>();
    for (let i = 0; i < 5000; i++) {
      let id = '';
      const len = 1 + Math.floor(rand() * 12);
      for (let j = 0; j < len; j++) id += alphabet[Math.floor(rand() * alphabet.length)];
      const token = encodeId(id);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeId(token)).toBe(id);
      const previous = seen.get(token);
      if (previous !== undefined) expect(previous).toBe(id); // injective
      seen.set(token, id);
    }
  });

  it('explains why an id is refused', () => {
    expect(idProblem('')).toMatch(/empty/);
    expect(idProblem('a\nb')).toMatch(/control/);
    expect(idProblem('\ud800')).toMatch(/well-formed/);
    expect(idProblem(42)).toMatch(/string/);
    expect(idProblem('ok')).toBeUndefined();
  });
});

describe('subjects', () => {
  const s = createSubjects('acme.mesh');

  it('puts every id-bearing subject under the prefix with one encoded token', () => {
    expect(s.pushUser('a.b')).toBe('acme.mesh.push.user.YS5i');
    expect(s.pushSession('*')).toBe('acme.mesh.push.session.Kg');
    expect(s.killUser('>')).toBe('acme.mesh.kill.user.Pg');
    expect(s.killSession('s 1')).toBe('acme.mesh.kill.session.cyAx');
    expect(s.pushBroadcast()).toBe('acme.mesh.push.all');
    expect(s.inbound('chat')).toBe('acme.mesh.in.chat');
    expect(s.presence('bob')).toBe('acme.mesh.presence.Ym9i');
  });

  it('refuses bad prefixes and topics', () => {
    expect(() => createSubjects('bad prefix')).toThrow(/prefix/);
    expect(() => createSubjects('a..b')).toThrow(/prefix/);
    expect(() => createSubjects('a.>')).toThrow(/prefix/);
    expect(() => s.inbound('a.b')).toThrow(/topic/);
    expect(() => s.inbound('*')).toThrow(/topic/);
  });

  it('parses kill subjects back, and nothing else', () => {
    expect(parseSubject('acme.mesh', s.killUser('u'))).toEqual({ kind: 'kill-user', user: 'u' });
    expect(parseSubject('acme.mesh', s.killSession('s'))).toEqual({ kind: 'kill-session', session: 's' });
    expect(parseSubject('acme.mesh', s.killConnection('c-1'))).toEqual({ kind: 'kill-conn', conn: 'c-1' });
    expect(parseSubject('acme.mesh', 'acme.mesh.kill.user')).toBeUndefined();
    expect(parseSubject('acme.mesh', 'acme.mesh.kill.user.a.b')).toBeUndefined();
    expect(parseSubject('acme.mesh', 'acme.mesh.kill.planet.x')).toBeUndefined();
    expect(parseSubject('acme.mesh', 'other.kill.user.x')).toBeUndefined();
  });
});
