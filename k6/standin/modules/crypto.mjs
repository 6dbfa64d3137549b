// k6/crypto: hmac and the hash functions, with k6's output encodings.
import nodeCrypto from 'node:crypto';

const algorithms = { md4: 'md4', md5: 'md5', sha1: 'sha1', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512', sha512_224: 'sha512-224', sha512_256: 'sha512-256', ripemd160: 'ripemd160' };

function nodeAlgorithm(name) {
  const alg = algorithms[name];
  if (alg === undefined) throw new Error(`unknown hash algorithm ${name}`);
  return alg;
}

function toBuffer(input) {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(new Uint8Array(input));
}

function encode(digest, outputEncoding) {
  switch (outputEncoding) {
    case 'hex': return digest.toString('hex');
    case 'base64': return digest.toString('base64');
    case 'base64rawurl': return digest.toString('base64url');
    case 'base64url': return digest.toString('base64url') + '='.repeat((4 - (digest.toString('base64url').length % 4)) % 4);
    case 'binary': return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength);
    default: throw new Error(`unknown output encoding ${outputEncoding}`);
  }
}

export function hmac(algorithm, secret, input, outputEncoding) {
  return encode(nodeCrypto.createHmac(nodeAlgorithm(algorithm), toBuffer(secret)).update(toBuffer(input)).digest(), outputEncoding);
}

const hash = (algorithm) => (input, outputEncoding) => encode(nodeCrypto.createHash(nodeAlgorithm(algorithm)).update(toBuffer(input)).digest(), outputEncoding);
export const md5 = hash('md5');
export const sha1 = hash('sha1');
export const sha256 = hash('sha256');
export const sha384 = hash('sha384');
export const sha512 = hash('sha512');

export function randomBytes(n) {
  const b = nodeCrypto.randomBytes(n);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

export default { hmac, md5, sha1, sha256, sha384, sha512, randomBytes };
