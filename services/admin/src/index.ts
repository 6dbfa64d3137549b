export { buildAdmin, startAdmin, ADMIN_API_VERSION, type AdminDeps, type AdminServer } from './app.js';
export { loadAdminConfig, MIN_ADMIN_TOKEN_CHARS, type AdminConfig } from './config.js';
export { createAdminAuthenticator, tokenFingerprint, type AdminAuthenticator, type AdminTokenVerifier, type AuthResult } from './auth.js';
export { BlacklistStore } from './blacklist-store.js';
