/**
 * The JWT attack matrix: five key setups (HMAC secret, RSA, EC and Ed25519 public keys, a JWKS
 * endpoint) and, for each, the tokens an attacker or a broken identity provider would send, with
 * the one answer every verification path must give. Shared by the unit-level matrix
 * (libs/auth/test/jwt-matrix.test.ts, both verification paths) and the live-edge matrix
 * (test/security/jwt-matrix.test.ts, HTTP answers of a real edge process).
 */
import { constants, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { TokenKeySource } from '@session-mesh/auth';
import { TEST_JWT_SECRET } from '../../support/tokens.js';

export const ISSUER = 'https://idp.test';
export const AUDIENCE = 'session-mesh';
export const CLOCK_TOLERANCE_S = 5;
/** Longest token the verifier accepts (MAX_TOKEN_CHARS in libs/auth). */
const MAX_TOKEN_CHARS = 16_384;

export type Expected = 'accept' | 'UNAUTHORIZED' | 'TOKEN_EXPIRED';
/** State of the JWKS endpoint while a case runs (JWKS setup only). */
export type JwksState = 'up' | 'slow' | 'dead';

export interface JwtCase {
  readonly name: string;
  readonly token: string;
  readonly expect: Expected;
  readonly jwks?: JwksState;
}

export interface JwtSetup {
  readonly name: 'HS' | 'RS' | 'ES' | 'EdDSA' | 'JWKS';
  readonly key: TokenKeySource;
  /** The edge's variables for this key source (plus issuer and audience). */
  readonly env: Readonly<Record<string, string>>;
  /** The tokens, minted for `nowS` (mint right before use: two cases sit within the clock tolerance). */
  cases(nowS?: number): JwtCase[];
}

interface Signer {
  readonly alg: string;
  readonly kid?: string;
  /** Raw signature over the signing input. */
  sign(input: string): Buffer;
}

const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');
const enc = (value: unknown) => b64(JSON.stringify(value));

function signerFor(alg: string, key: KeyObject | Buffer, kid?: string): Signer {
  const hash = `sha${alg.slice(-3)}`;
  const data = (input: string) => Buffer.from(input, 'ascii');
  const base = kid === undefined ? {} : { kid };
  if (alg.startsWith('HS')) return { ...base, alg, sign: (input) => createHmac(hash, key).update(input).digest() };
  const k = key as KeyObject;
  if (alg.startsWith('RS')) return { ...base, alg, sign: (input) => sign(hash, data(input), k) };
  if (alg.startsWith('PS')) {
    return { ...base, alg, sign: (input) => sign(hash, data(input), { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }) };
  }
  if (alg.startsWith('ES')) return { ...base, alg, sign: (input) => sign(hash, data(input), { key: k, dsaEncoding: 'ieee-p1363' }) };
  return { ...base, alg, sign: (input) => sign(null, data(input), k) };
}

/** A compact JWS from an encoded header and payload (either may be deliberately broken). */
function compact(head: string, body: string, signer: Signer): string {
  const input = `${head}.${body}`;
  return `${input}.${b64(signer.sign(input))}`;
}

function headerOf(signer: Signer, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: signer.alg, typ: 'JWT', ...(signer.kid !== undefined ? { kid: signer.kid } : {}), ...extra };
}

/** Everything a valid token carries; cases override or drop (undefined) single claims. */
function claims(nowS: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    sub: 'alice',
    jti: 'session-1',
    roles: ['reader'],
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowS,
    exp: nowS + 600,
    ...overrides,
  };
  for (const [k, v] of Object.entries(base)) if (v === undefined) delete base[k];
  return base;
}

/** The cases every setup shares; `primary` signs, `other` is a key of the same kind nobody trusts. */
function commonCases(nowS: number, signers: readonly Signer[], other: Signer): JwtCase[] {
  const primary = signers[0]!;
  const token = (payload: Record<string, unknown>, header: Record<string, unknown> = headerOf(primary), signer: Signer = primary) =>
    compact(enc(header), enc(payload), signer);
  const valid = token(claims(nowS));
  const [h, p, s] = valid.split('.') as [string, string, string];
  const expired = nowS - 3600;
  const cases: JwtCase[] = [];
  const add = (name: string, t: string, expect: Expected) => cases.push({ name, token: t, expect });

  for (const signer of signers) add(`valid ${signer.alg}`, token(claims(nowS), headerOf(signer), signer), 'accept');
  add('valid, roles as a space-separated string', token(claims(nowS, { roles: 'reader writer' })), 'accept');
  add('valid, no exp', token(claims(nowS, { exp: undefined })), 'accept');
  add('valid, aud list containing ours', token(claims(nowS, { aud: ['other', AUDIENCE] })), 'accept');
  add('valid, exp passed within the clock tolerance', token(claims(nowS, { exp: nowS - 1 })), 'accept');
  add('valid, nbf ahead within the clock tolerance', token(claims(nowS, { nbf: nowS + 1 })), 'accept');
  add('valid, about 3 KiB of claims', token(claims(nowS, { groups: Array.from({ length: 120 }, (_, i) => `group-${i}`) })), 'accept');
  add('crit ["b64"] with b64 true (RFC 7797 default)', token(claims(nowS), headerOf(primary, { crit: ['b64'], b64: true })), 'accept');
  add('b64 false without crit (ignored)', token(claims(nowS), headerOf(primary, { b64: false })), 'accept');

  // alg none and friends
  add('alg none, no signature', `${enc({ alg: 'none', typ: 'JWT' })}.${p}.`, 'UNAUTHORIZED');
  add('alg none, original signature kept', `${enc({ alg: 'none', typ: 'JWT' })}.${p}.${s}`, 'UNAUTHORIZED');
  add('alg None (case variant)', `${enc({ alg: 'None' })}.${p}.`, 'UNAUTHORIZED');
  add('alg missing', token(claims(nowS), { typ: 'JWT' }), 'UNAUTHORIZED');
  add('alg empty string', token(claims(nowS), { alg: '' }), 'UNAUTHORIZED');
  add('alg a number', token(claims(nowS), { alg: 256 }), 'UNAUTHORIZED');
  add('alg swapped to another algorithm, signature kept', `${enc({ ...headerOf(primary), alg: primary.alg === 'HS512' ? 'HS256' : primary.alg.startsWith('HS') ? 'HS512' : 'ES384' })}.${p}.${s}`, 'UNAUTHORIZED');

  // time
  add('expired', token(claims(nowS, { iat: expired - 600, exp: expired })), 'TOKEN_EXPIRED');
  add('expired and wrong issuer', token(claims(nowS, { exp: expired, iss: 'https://evil.test' })), 'UNAUTHORIZED');
  add('expired and wrong audience', token(claims(nowS, { exp: expired, aud: 'other-service' })), 'UNAUTHORIZED');
  add('expired and no issuer', token(claims(nowS, { exp: expired, iss: undefined })), 'UNAUTHORIZED');
  add('expired and no audience', token(claims(nowS, { exp: expired, aud: undefined })), 'UNAUTHORIZED');
  add('expired and no sub', token(claims(nowS, { exp: expired, sub: undefined })), 'UNAUTHORIZED');
  add('expired and no jti', token(claims(nowS, { exp: expired, jti: undefined })), 'UNAUTHORIZED');
  add('expired and roles of the wrong type', token(claims(nowS, { exp: expired, roles: 7 })), 'UNAUTHORIZED');
  add('expired and nbf in the future', token(claims(nowS, { exp: expired, nbf: nowS + 3600 })), 'UNAUTHORIZED');
  add('expired and signed by another key', token(claims(nowS, { exp: expired }), headerOf(other), other), 'UNAUTHORIZED');
  add('nbf in the future', token(claims(nowS, { nbf: nowS + 3600 })), 'UNAUTHORIZED');
  add('exp a string', token(claims(nowS, { exp: String(nowS + 600) })), 'UNAUTHORIZED');
  add('exp null', token(claims(nowS, { exp: null })), 'UNAUTHORIZED');
  add('nbf a string', token(claims(nowS, { nbf: 'now' })), 'UNAUTHORIZED');
  add('iat a string', token(claims(nowS, { iat: 'today' })), 'UNAUTHORIZED');

  // issuer and audience
  add('wrong issuer', token(claims(nowS, { iss: 'https://evil.test' })), 'UNAUTHORIZED');
  add('no issuer', token(claims(nowS, { iss: undefined })), 'UNAUTHORIZED');
  add('issuer a number', token(claims(nowS, { iss: 42 })), 'UNAUTHORIZED');
  add('issuer a list holding ours', token(claims(nowS, { iss: [ISSUER] })), 'UNAUTHORIZED');
  add('wrong audience', token(claims(nowS, { aud: 'other-service' })), 'UNAUTHORIZED');
  add('no audience', token(claims(nowS, { aud: undefined })), 'UNAUTHORIZED');
  add('audience a number', token(claims(nowS, { aud: 1 })), 'UNAUTHORIZED');
  add('audience an empty list', token(claims(nowS, { aud: [] })), 'UNAUTHORIZED');

  // our claims
  for (const [name, value] of [
    ['missing', undefined],
    ['a number', 42],
    ['null', null],
    ['empty', ''],
    ['an object', { id: 'alice' }],
    ['a list', ['alice']],
    ['with a control character', 'ali\u0000ce'],
  ] as const) {
    add(`sub ${name}`, token(claims(nowS, { sub: value })), 'UNAUTHORIZED');
  }
  for (const [name, value] of [
    ['missing', undefined],
    ['a number', 7],
    ['a list', ['session-1']],
    ['empty', ''],
    ['over 512 bytes', 'x'.repeat(600)],
  ] as const) {
    add(`jti ${name}`, token(claims(nowS, { jti: value })), 'UNAUTHORIZED');
  }
  add('roles a number', token(claims(nowS, { roles: 3 })), 'UNAUTHORIZED');
  add('roles a list with a number', token(claims(nowS, { roles: ['reader', 3] })), 'UNAUTHORIZED');
  add('roles an object', token(claims(nowS, { roles: { admin: true } })), 'UNAUTHORIZED');

  // tampering
  add('tampered header (field added, signature kept)', `${enc(headerOf(primary, { x: 1 }))}.${p}.${s}`, 'UNAUTHORIZED');
  add('tampered payload (sub changed, signature kept)', `${h}.${enc(claims(nowS, { sub: 'mallory' }))}.${s}`, 'UNAUTHORIZED');
  add('tampered signature (one character changed)', `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`, 'UNAUTHORIZED');
  add('truncated signature', `${h}.${p}.${s.slice(0, -4)}`, 'UNAUTHORIZED');
  add('signature with one character too many', `${h}.${p}.${s}A`, 'UNAUTHORIZED');
  add('empty signature', `${h}.${p}.`, 'UNAUTHORIZED');
  add('signed by another key of the same kind', token(claims(nowS), headerOf(other), other), 'UNAUTHORIZED');

  // structure (the broken parts are signed, so only the parsing can refuse them)
  add('empty-looking token "..', '..', 'UNAUTHORIZED');
  add('one part', 'abc', 'UNAUTHORIZED');
  add('two parts', `${h}.${p}`, 'UNAUTHORIZED');
  add('four parts', `${h}.${p}.${s}.${s}`, 'UNAUTHORIZED');
  add('header not JSON', compact(b64('{"alg":'), p, primary), 'UNAUTHORIZED');
  add('header a JSON list', compact(enc([primary.alg]), p, primary), 'UNAUTHORIZED');
  add('payload not JSON (signed)', compact(h, b64('{"sub":"alice",'), primary), 'UNAUTHORIZED');
  add('payload a JSON list (signed)', compact(h, enc([claims(nowS)]), primary), 'UNAUTHORIZED');
  add('payload invalid UTF-8 (signed)', compact(h, b64(Buffer.concat([Buffer.from(JSON.stringify(claims(nowS)).slice(0, -1)), Buffer.from(',"x":"\xff\xfe"}', 'latin1')])), primary), 'UNAUTHORIZED');
  add('payload with base64 padding "==" (signed; jose alone accepts it)', compact(h, `${paddable(nowS)}==`, primary), 'UNAUTHORIZED');
  add('payload in standard base64 (+ and /, signed)', compact(h, Buffer.from(JSON.stringify(claims(nowS, { sub: '>>>???' }))).toString('base64').replace(/=+$/, ''), primary), 'UNAUTHORIZED');
  add('payload with a space inside (signed)', compact(h, `${p.slice(0, 8)} ${p.slice(8)}`, primary), 'UNAUTHORIZED');
  add('payload of 4n+1 characters (signed)', compact(h, `${p}${'A'.repeat((((1 - p.length) % 4) + 4) % 4)}`, primary), 'UNAUTHORIZED');
  add(`oversized (${MAX_TOKEN_CHARS + 1} characters, signed)`, oversized(nowS, primary), 'UNAUTHORIZED');

  // crit
  add('crit with an unknown extension', token(claims(nowS), headerOf(primary, { crit: ['x-ext'], 'x-ext': 1 })), 'UNAUTHORIZED');
  add('crit ["b64"] with b64 false (unencoded payload)', token(claims(nowS), headerOf(primary, { crit: ['b64'], b64: false })), 'UNAUTHORIZED');
  add('crit ["b64"] without b64', token(claims(nowS), headerOf(primary, { crit: ['b64'] })), 'UNAUTHORIZED');
  add('crit a string', token(claims(nowS), headerOf(primary, { crit: 'b64', b64: true })), 'UNAUTHORIZED');
  add('crit an empty list', token(claims(nowS), headerOf(primary, { crit: [] })), 'UNAUTHORIZED');
  add('crit with an empty name', token(claims(nowS), headerOf(primary, { crit: [''] })), 'UNAUTHORIZED');
  return cases;
}

/** An encoded valid payload whose length needs "==" padding in standard base64 (length 4n+2). */
function paddable(nowS: number): string {
  for (let n = 0; ; n++) {
    const body = enc(claims(nowS, { pad: 'x'.repeat(n) }));
    if (body.length % 4 === 2) return body;
  }
}

function oversized(nowS: number, signer: Signer): string {
  const head = enc(headerOf(signer));
  // Each byte of claims costs 4/3 characters; aim a little past the limit.
  const pad = 'x'.repeat(Math.ceil(((MAX_TOKEN_CHARS + 64) * 3) / 4));
  const t = compact(head, enc(claims(nowS, { pad })), signer);
  if (t.length <= MAX_TOKEN_CHARS) throw new Error('oversized token is not oversized');
  return t;
}

/** Key confusion: an HS256 token whose HMAC key is the setup's public key text, as an attacker has it. */
function keyConfusion(nowS: number, publicText: string, kid?: string): JwtCase[] {
  const signer = signerFor('HS256', Buffer.from(publicText));
  const header = { alg: 'HS256', typ: 'JWT', ...(kid !== undefined ? { kid } : {}) };
  const head = enc(header);
  return [
    { name: 'key confusion: HS256 signed with the public key', token: compact(head, enc(claims(nowS)), signer), expect: 'UNAUTHORIZED' },
    { name: 'key confusion: HS256 signed with the public key, trimmed', token: compact(head, enc(claims(nowS)), signerFor('HS256', Buffer.from(publicText.trim()))), expect: 'UNAUTHORIZED' },
  ];
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Builds the five setups. `jwks` is the endpoint the JWKS setup points at: its `keys` are set
 * here. `nowS` is the time the tokens are minted for.
 */
export function buildJwtSetups(jwks: { url: string; keys: JWK[] }): JwtSetup[] {
  const claimsEnv = { MESH_JWT_ISSUER: ISSUER, MESH_JWT_AUDIENCE: AUDIENCE, MESH_JWT_CLOCK_TOLERANCE_S: String(CLOCK_TOLERANCE_S) };
  const setups: JwtSetup[] = [];

  // HMAC secret
  {
    const secret = Buffer.from(TEST_JWT_SECRET);
    const signers = ['HS256', 'HS384', 'HS512'].map((alg) => signerFor(alg, secret));
    const other = signerFor('HS256', Buffer.from('another-secret-that-is-long-enough-000'));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaSigned = signerFor('RS256', rsa.privateKey);
    const cases = (nowS = nowSeconds()) => [
      ...commonCases(nowS, signers, other),
      { name: 'RS256 token against an HMAC secret', token: compact(enc({ alg: 'RS256' }), enc(claims(nowS)), rsaSigned), expect: 'UNAUTHORIZED' as const },
      { name: 'unknown kid (ignored for a single key)', token: compact(enc({ alg: 'HS256', kid: 'whatever' }), enc(claims(nowS)), signers[0]!), expect: 'accept' as const },
    ];
    setups.push({ name: 'HS', key: { kind: 'secret', secret: TEST_JWT_SECRET }, env: { MESH_JWT_SECRET: TEST_JWT_SECRET, ...claimsEnv }, cases });
  }

  // PEM public keys
  const pemSetup = (name: 'RS' | 'ES' | 'EdDSA', algs: string[], generate: () => { publicKey: KeyObject; privateKey: KeyObject }) => {
    const pair = generate();
    const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const signers = algs.map((alg) => signerFor(alg, pair.privateKey));
    const other = signerFor(algs[0]!, generate().privateKey);
    const cases = (nowS = nowSeconds()) => [...commonCases(nowS, signers, other), ...keyConfusion(nowS, pem)];
    setups.push({ name, key: { kind: 'public-key', pem }, env: { MESH_JWT_PUBLIC_KEY: pem, ...claimsEnv }, cases });
  };
  pemSetup('RS', ['RS256', 'PS256', 'RS512'], () => generateKeyPairSync('rsa', { modulusLength: 2048 }));
  pemSetup('ES', ['ES256'], () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
  pemSetup('EdDSA', ['EdDSA', 'Ed25519'], () => generateKeyPairSync('ed25519'));

  // JWKS: one key of each kind, each with its kid
  {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ed = generateKeyPairSync('ed25519');
    const jwk = (key: KeyObject, kid: string, alg: string): JWK => ({ ...(key.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' });
    jwks.keys = [jwk(ec.publicKey, 'ec-1', 'ES256'), jwk(rsa.publicKey, 'rsa-1', 'RS256'), jwk(ed.publicKey, 'ed-1', 'EdDSA')];
    const signers = [signerFor('ES256', ec.privateKey, 'ec-1'), signerFor('RS256', rsa.privateKey, 'rsa-1'), signerFor('EdDSA', ed.privateKey, 'ed-1')];
    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const other = signerFor('ES256', stranger, 'ec-1');
    const unknown = signerFor('ES256', stranger, 'ec-unknown');
    const firstKey = JSON.stringify(jwks.keys[0]);
    const cases = (nowS = nowSeconds()) => {
      const body = enc(claims(nowS));
      const list: JwtCase[] = [...commonCases(nowS, signers, other), ...keyConfusion(nowS, firstKey, 'ec-1')];
      const add = (name: string, token: string, expect: Expected, state: JwksState = 'up') => list.push({ name, token, expect, jwks: state });
      add('unknown kid', compact(enc(headerOf(unknown)), body, unknown), 'UNAUTHORIZED');
      add('unknown kid, slow JWKS endpoint', compact(enc(headerOf(unknown)), body, unknown), 'UNAUTHORIZED', 'slow');
      add('unknown kid, JWKS endpoint down', compact(enc(headerOf(unknown)), body, unknown), 'UNAUTHORIZED', 'dead');
      add('known kid, JWKS endpoint down', compact(enc(headerOf(signers[0]!)), body, signers[0]!), 'accept', 'dead');
      add('known kid, JWKS endpoint slow', compact(enc(headerOf(signers[1]!)), body, signers[1]!), 'accept', 'slow');
      add('no kid (the only EC key in the set)', compact(enc({ alg: 'ES256' }), body, signerFor('ES256', ec.privateKey)), 'accept');
      add('kid of the EC key with an RSA signature', compact(enc({ alg: 'RS256', kid: 'ec-1' }), body, signerFor('RS256', rsa.privateKey)), 'UNAUTHORIZED');
      add('HS256 against a JWKS', compact(enc({ alg: 'HS256', kid: 'ec-1' }), body, signerFor('HS256', Buffer.from(TEST_JWT_SECRET))), 'UNAUTHORIZED');
      return list;
    };
    setups.push({
      name: 'JWKS',
      key: { kind: 'jwks', url: jwks.url, cooldownMs: 0, timeoutMs: 1000 },
      env: { MESH_JWT_JWKS_URL: jwks.url, MESH_JWT_JWKS_COOLDOWN_MS: '0', ...claimsEnv },
      cases,
    });
  }
  return setups;
}

/** One line per setup, as CI prints it. */
export function matrixLine(where: string, setup: string, counts: { cases: number; accepted: number; refused: number; wrong: number }): string {
  return `JWT matrix (${where}) ${setup.padEnd(5)} cases ${counts.cases}, accepted ${counts.accepted}, refused ${counts.refused}, wrong answers ${counts.wrong}`;
}
