export * from './logger.js';
export * from './config.js';
export * from './health.js';
export * from './ops-server.js';
export * from './rate-limited-log.js';
export * from './shutdown.js';
export * from './fatal.js';
export { z } from 'zod';
export * from './service-env.js';
