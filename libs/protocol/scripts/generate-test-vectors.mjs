// Regenerates test-vectors/id-encoding.json from the reference implementation (dist/).
// The vectors are the contract for other languages: change them only with a protocol version bump.
import { writeFileSync } from 'node:fs';
import { encodeId, createSubjects, MAX_ID_BYTES } from '../dist/index.js';

const subjects = createSubjects('mesh');
const ids = [
  'alice',
  'alice@example.com',
  '550e8400-e29b-41d4-a716-446655440000',
  'user.with.dots',
  '*',
  '>',
  'a.*.>',
  'with space',
  ' leading and trailing ',
  'tab\tnot allowed',
  'Zoë',
  '用户',
  '🙂',
  'a/b\\c',
  '%2F',
  '+/=',
  'ab',
  'abc',
  'abcd',
  '0',
  'mesh.push.user.YWxpY2U',
  '',
  'x'.repeat(MAX_ID_BYTES),
  'x'.repeat(MAX_ID_BYTES + 1),
];
const valid = [];
const invalid = [];
for (const id of ids) {
  try {
    const token = encodeId(id);
    valid.push({ id, utf8Hex: Buffer.from(id, 'utf8').toString('hex'), token, pushUserSubject: subjects.pushUser(id) });
  } catch (err) {
    invalid.push({ id, reason: err.message });
  }
}
const invalidTokens = [
  { token: 'YWxpY2U=', reason: 'padding is not allowed' },
  { token: 'YWxpY2U+', reason: 'standard base64 alphabet (+ /) is not base64url' },
  { token: 'YWxpY2V', reason: 'non-canonical: stray low bits in the last character' },
  { token: 'Y', reason: 'impossible length' },
  { token: 'a.b', reason: 'dot is not in the alphabet' },
  { token: '', reason: 'empty' },
  { token: '_w', reason: 'decodes to a byte that is not UTF-8' },
  { token: 'AA', reason: 'decodes to a control character (U+0000)' },
];
const doc = {
  description:
    'Session Mesh id -> subject token encoding: token = base64url (RFC 4648 section 5, alphabet A-Z a-z 0-9 - _) of the id\'s UTF-8 bytes, WITHOUT padding. Ids must be non-empty, at most ' +
    MAX_ID_BYTES +
    ' UTF-8 bytes, well-formed Unicode, and contain no control characters (U+0000-U+001F, U+007F-U+009F). Decoders must reject tokens that are not canonical (re-encoding the decoded bytes must give the same token).',
  maxIdBytes: MAX_ID_BYTES,
  valid,
  invalidIds: invalid,
  invalidTokens,
};
writeFileSync(new URL('../test-vectors/id-encoding.json', import.meta.url), JSON.stringify(doc, null, 2) + '\n');
process.stdout.write(`wrote ${valid.length} valid, ${invalid.length} invalid ids, ${invalidTokens.length} invalid tokens\n`);
