export { createAdmin, startAdmin, type Admin, type AdminDeps, type AdminServer } from './admin.js';
export { buildAdmin, type AdminAppDeps } from './app.js';
export { ADMIN_API_VERSION } from './openapi-document.js';
export { loadAdminConfig, MIN_ADMIN_TOKEN_CHARS, type AdminConfig } from './config.js';
export { createAdminAuthenticator, tokenFingerprint, type AdminAuthenticator, type AdminRevocations, type AdminTokenVerifier, type AuthResult } from './auth.js';
export { BlacklistBucket } from './blacklist-bucket.js';
export { BlacklistIndex } from './blacklist-index.js';
export { BlacklistStore } from './blacklist-store.js';
export { registerAdminMetrics } from './metrics.js';
