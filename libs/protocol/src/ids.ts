import { base64urlDecode, base64urlEncode } from './base64url.js';

/**
 * Id <-> subject-token encoding.
 *
 * User, session and client ids are arbitrary strings, but a NATS subject token must not contain
 * `.`, `*`, `>` or white space. Every id is therefore written into subjects (and into the Mesh-*
 * headers) as base64url (RFC 4648 section 5) of its UTF-8 bytes, without padding. The rule is one
 * standard-library call in any language, injective (different ids never share a token) and
 * reversible. Tokens never contain `.`, `*`, `>` or spaces, so no id can widen a subject into a
 * wildcard or reach another user's subject.
 */

/** Longest id accepted, in UTF-8 bytes. Keeps subjects well below NATS's control-line limit. */
export const MAX_ID_BYTES = 512;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const TOKEN_RE = /^[A-Za-z0-9_-]+$/;
// C0 controls, DEL and C1 controls: never legitimate in an id, and they break log lines and headers.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

export class InvalidIdError extends Error {
  override readonly name = 'InvalidIdError';
}

/** Why an id is unacceptable, or undefined when it is fine. */
export function idProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return 'must be a string';
  if (id.length === 0) return 'must not be empty';
  if (CONTROL_RE.test(id)) return 'must not contain control characters';
  if (!id.isWellFormed()) return 'must be well-formed Unicode (no lone surrogates)';
  // Counted without encoding (this runs on every connect): an id of at most a third of the limit in
  // UTF-16 units cannot exceed it in UTF-8 bytes.
  if (id.length * 3 > MAX_ID_BYTES && utf8Length(id) > MAX_ID_BYTES) return `must be at most ${MAX_ID_BYTES} UTF-8 bytes`;
  return undefined;
}

/** UTF-8 length of a well-formed string: 1-3 bytes per UTF-16 unit, a surrogate pair 4 in all. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
  }
  return n;
}

export function isValidId(id: unknown): id is string {
  return idProblem(id) === undefined;
}

/** Encodes an id into a subject token. Throws InvalidIdError for ids that {@link idProblem} refuses. */
export function encodeId(id: string): string {
  const problem = idProblem(id);
  if (problem !== undefined) throw new InvalidIdError(`invalid id: ${problem}`);
  return base64urlEncode(encoder.encode(id));
}

/** Decodes a subject token back into its id. Throws InvalidIdError for anything encodeId cannot produce. */
export function decodeId(token: string): string {
  if (!TOKEN_RE.test(token) || token.length % 4 === 1) throw new InvalidIdError('invalid id token: not unpadded base64url');
  const bytes = base64urlDecode(token);
  let id: string;
  try {
    id = decoder.decode(bytes);
  } catch {
    throw new InvalidIdError('invalid id token: not UTF-8');
  }
  // Reject non-canonical spellings (stray low bits in the last character) so decoding stays injective.
  if (base64urlEncode(bytes) !== token) throw new InvalidIdError('invalid id token: not canonical');
  const problem = idProblem(id);
  if (problem !== undefined) throw new InvalidIdError(`invalid id token: id ${problem}`);
  return id;
}

/** Decodes, returning undefined instead of throwing: for untrusted input on receive paths. */
export function tryDecodeId(token: string): string | undefined {
  try {
    return decodeId(token);
  } catch {
    return undefined;
  }
}
