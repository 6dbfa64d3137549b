export { startEdge, type EdgeDeps, type EdgeHandle, type EdgeStats } from './edge.js';
export { loadEdgeConfig, TOKEN_SOURCES, type EdgeConfig, type TokenSourceName } from './config.js';
export { assertNativeUws, NativeUwsError, type UwsProbe } from './transport/native-uws.js';
export { registerEdgeMetrics } from './metrics.js';
export { pushStreamConfig, type DurableConfig } from './durable/durable-pushes.js';
