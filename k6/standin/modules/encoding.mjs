// k6/encoding: base64 in k6's four variants (std, rawstd, url, rawurl).
function toBuffer(input) {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(new Uint8Array(input));
}

function variantOf(encoding) {
  const v = encoding ?? 'std';
  if (!['std', 'rawstd', 'url', 'rawurl'].includes(v)) throw new Error(`b64 encoding must be std, rawstd, url or rawurl, got ${v}`);
  return v;
}

export function b64encode(input, encoding) {
  const v = variantOf(encoding);
  let out = toBuffer(input).toString(v.endsWith('url') ? 'base64url' : 'base64');
  if (v === 'url') out += '='.repeat((4 - (out.length % 4)) % 4);
  if (v === 'rawstd') out = out.replace(/=+$/, '');
  return out;
}

export function b64decode(input, encoding, format) {
  const v = variantOf(encoding);
  const bytes = Buffer.from(input, v.endsWith('url') ? 'base64url' : 'base64');
  if (format === 's') return bytes.toString('utf8');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

export default { b64encode, b64decode };
