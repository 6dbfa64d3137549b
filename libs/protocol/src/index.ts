export * from './ids.js';
export * from './base64url.js';
export * from './subjects.js';
export * from './headers.js';
export * from './close-codes.js';
export * from './frames.js';
export * from './events.js';
export * from './blacklist.js';
