export * from './metrics.js';
export * from './bus-metrics.js';
export * from './tracing.js';
export * from './publish-time.js';
export * from './plain-histogram.js';
export * from './telemetry.js';
