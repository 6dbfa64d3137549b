// Cost of one synchronous token verification: this library's verifySync (node:crypto fast path)
// against fast-jwt's synchronous verifier and jose's asynchronous jwtVerify, for HS256 and ES256.
// Usage: npx tsc -b libs/auth && node libs/auth/scripts/bench-verify.mjs [iterations]
// Numbers vary between machines: compare the rows of one run, never absolute numbers across runs.
import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createVerifier } from 'fast-jwt';
import { SignJWT, importPKCS8, importSPKI, jwtVerify } from 'jose';
import { createTokenVerifier, isTokenError } from '../dist/index.js';

const iterations = Number(process.argv[2] ?? 20_000);
const secret = 'session-mesh-bench-secret-0123456789abcdef';
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ecPublic = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ecPrivate = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const claims = { sub: 'alice', jti: 'session-1', roles: ['reader'] };
const mint = (alg, key) =>
  new SignJWT(claims).setProtectedHeader({ alg }).setIssuedAt().setExpirationTime('1h').setIssuer('idp').setAudience('mesh').sign(key);

const setups = [
  { alg: 'HS256', token: await mint('HS256', new TextEncoder().encode(secret)), source: { kind: 'secret', secret }, fastJwtKey: secret, joseKey: new TextEncoder().encode(secret) },
  { alg: 'ES256', token: await mint('ES256', await importPKCS8(ecPrivate, 'ES256')), source: { kind: 'public-key', pem: ecPublic }, fastJwtKey: ecPublic, joseKey: await importSPKI(ecPublic, 'ES256') },
];

/** Microseconds per call: best of 5 rounds (the least disturbed by other processes on the machine). */
async function usPer(fn) {
  for (let i = 0; i < Math.min(2000, iterations); i++) await fn(); // warm-up (JIT)
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await fn();
    best = Math.min(best, ((performance.now() - start) * 1000) / iterations);
  }
  return best;
}
function syncUsPer(fn) {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, ((performance.now() - start) * 1000) / iterations);
  }
  return best;
}

const rows = [];
for (const s of setups) {
  const ours = await createTokenVerifier({ key: s.source, algorithms: [s.alg], issuer: 'idp', audience: 'mesh' });
  const check = ours.verifySync(s.token);
  if (check === undefined || isTokenError(check)) throw new Error(`verifySync refused the ${s.alg} token: ${JSON.stringify(check)}`);
  const fast = createVerifier({ key: s.fastJwtKey, algorithms: [s.alg], allowedIss: 'idp', allowedAud: 'mesh', cache: false, clockTolerance: 5000 });
  fast(s.token);
  const jose = (t) => jwtVerify(t, s.joseKey, { algorithms: [s.alg], issuer: 'idp', audience: 'mesh', clockTolerance: 5 });
  rows.push([s.alg, 'verifySync (node:crypto fast path, claims included)', syncUsPer(() => ours.verifySync(s.token))]);
  rows.push([s.alg, 'fast-jwt createVerifier (cache off)', syncUsPer(() => fast(s.token))]);
  rows.push([s.alg, 'jose jwtVerify (async, pre-imported key)', await usPer(() => jose(s.token))]);
}
console.log(`node ${process.version}, ${iterations} verifications per round, best of 5 rounds`);
for (const [alg, what, us] of rows) console.log(`${alg}  ${what.padEnd(54)} ${us.toFixed(2).padStart(8)} us`);
