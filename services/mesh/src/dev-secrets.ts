// Development secrets for the single-process quick start: created once under .mesh-dev/ (git-ignored)
// so the running mesh, `npm run token` and the printed curl command agree without any set-up.
// Never used when MESH_JWT_* / MESH_ADMIN_TOKENS are configured.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function devDir(): string {
  return process.env['MESH_DEV_DIR'] ?? join(process.cwd(), '.mesh-dev');
}

function readOrCreate(name: string, make: () => string): string {
  const file = join(devDir(), name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(devDir(), { recursive: true, mode: 0o700 });
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

export const devJwtSecret = (): string => readOrCreate('jwt-secret', () => randomBytes(32).toString('base64url'));
export const devAdminToken = (): string => readOrCreate('admin-token', () => `dev-admin-${randomBytes(18).toString('base64url')}`);
