#!/usr/bin/env node
// Mints an HS256 test token for a user.
//   npm run -s token -- --user alice [--session s1] [--roles a,b] [--ttl 3600] [--secret S]
// The secret is --secret, else MESH_JWT_SECRET, else the quick start's .mesh-dev/jwt-secret.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { devJwtSecret } from '../services/mesh/dist/dev-secrets.js';

const { values } = parseArgs({
  options: {
    user: { type: 'string', default: 'alice' },
    session: { type: 'string' },
    roles: { type: 'string', default: '' },
    ttl: { type: 'string', default: '3600' },
    secret: { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
  },
});
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) {
  process.stderr.write(`--ttl must be a positive number of seconds, got ${values.ttl}\n`);
  process.exit(2);
}
const secret = values.secret ?? process.env.MESH_JWT_SECRET ?? devJwtSecret();
const roles = values.roles.split(',').map((r) => r.trim()).filter(Boolean);
let jwt = new SignJWT({ roles })
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject(values.user)
  .setJti(values.session ?? randomUUID())
  .setIssuedAt()
  .setExpirationTime(`${ttl}s`);
if (values.issuer) jwt = jwt.setIssuer(values.issuer);
if (values.audience) jwt = jwt.setAudience(values.audience);
process.stdout.write(`${await jwt.sign(new TextEncoder().encode(secret))}\n`);
