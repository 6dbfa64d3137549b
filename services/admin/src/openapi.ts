import { writeFile } from 'node:fs/promises';
import { MemoryBroker } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { createLogger, Health } from '@session-mesh/runtime';
import { createAdmin } from './admin.js';
import { loadAdminConfig } from './config.js';

/**
 * Writes the OpenAPI document to services/admin/openapi.json (`npm run -w @session-mesh/admin
 * openapi`), so the published file always matches the routes; a test fails when it is stale.
 */
const target = new URL('../openapi.json', import.meta.url);
const config = loadAdminConfig({ MESH_ADMIN_TOKENS: 'openapi-generator-placeholder-token' });
const bus = new MemoryBroker().connect('openapi');
const admin = await createAdmin({
  bus,
  logger: createLogger({ name: 'openapi', level: 'silent' }),
  health: new Health(),
  config,
  subjects: createSubjects(config.subjectPrefix),
});
await admin.app.ready();
await writeFile(target, `${JSON.stringify(admin.app.swagger(), null, 2)}\n`);
await admin.close();
await bus.close();
process.stdout.write(`wrote ${target.pathname}\n`);
