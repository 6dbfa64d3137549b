#!/usr/bin/env node
// Mints an HS256 test token for a user.
//   npm run -s token -- --user alice [--session s1] [--roles a,b] [--ttl 3600] [--secret S]
// The secret is --secret, else MESH_JWT_SECRET, else the quick start's .mesh-dev/jwt-secret.
import { parseArgs } from 'node:util';
import { mintToken } from '@session-mesh/testkit';
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
const token = await mintToken({
  secret,
  sub: values.user,
  ...(values.session !== undefined ? { jti: values.session } : {}),
  roles,
  expiresInS: ttl,
  ...(values.issuer ? { issuer: values.issuer } : {}),
  ...(values.audience ? { audience: values.audience } : {}),
});
process.stdout.write(`${token}\n`);
