/**
 * Properties of the id <-> token encoding, on generated input: round trips for every acceptable
 * id, one token per id, and untrusted tokens never crash a decoder.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { createSubjects, decodeId, encodeId, idProblem, InvalidIdError, isValidId, parseSubject, tryDecodeId } from '@session-mesh/protocol';

/** Any string, including lone surrogates, control characters and astral characters. */
const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 40 }));
const validId = anyString.filter(isValidId);
/** Tokens that look like base64url (most are not canonical or not UTF-8) and plain garbage. */
const anyToken = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{0,24}$/), fc.string({ maxLength: 24 }));
const subjects = createSubjects('mesh');

describe('id encoding (properties)', () => {
  test.prop([validId])('round-trips every acceptable id through a subject-safe token', (id) => {
    const token = encodeId(id);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token).toBe(Buffer.from(id, 'utf8').toString('base64url'));
    expect(decodeId(token)).toBe(id);
  });

  test.prop([validId, validId])('gives different ids different tokens', (a, b) => {
    fc.pre(a !== b);
    expect(encodeId(a)).not.toBe(encodeId(b));
  });

  // Around the 512-byte limit: ASCII, 2-, 3- and 4-byte characters (surrogate pairs) mixed.
  const nearLimit = fc.array(fc.constantFrom('a', 'é', '€', '😀', 'z'), { minLength: 100, maxLength: 600 }).map((parts) => parts.join(''));
  test.prop([nearLimit])('refuses an id for its length exactly when its UTF-8 form is over 512 bytes', (id) => {
    const over = Buffer.byteLength(id, 'utf8') > 512;
    expect(idProblem(id) === 'must be at most 512 UTF-8 bytes').toBe(over);
    expect(idProblem(id) === undefined).toBe(!over);
  });

  test.prop([anyString])('refuses exactly the ids idProblem names, with InvalidIdError', (id) => {
    const problem = idProblem(id);
    if (problem === undefined) expect(() => encodeId(id)).not.toThrow();
    else expect(() => encodeId(id)).toThrow(InvalidIdError);
  });

  test.prop([anyToken])('decodes untrusted tokens without crashing; whatever decodes is canonical', (token) => {
    const id = tryDecodeId(token);
    if (id === undefined) {
      expect(() => decodeId(token)).toThrow(InvalidIdError);
    } else {
      expect(isValidId(id)).toBe(true);
      expect(encodeId(id)).toBe(token);
    }
  });

  test.prop([validId])('every id-carrying subject parses back to its id', (id) => {
    expect(parseSubject('mesh', subjects.pushUser(id))).toEqual({ kind: 'push-user', user: id });
    expect(parseSubject('mesh', subjects.killSession(id))).toEqual({ kind: 'kill-session', session: id });
    expect(parseSubject('mesh', subjects.snapshotRequestEdge(id))).toEqual({ kind: 'snapshot-request-edge', edge: id });
    expect(subjects.parse(subjects.registryUser(id))).toEqual({ kind: 'registry-user', user: id });
  });
});
