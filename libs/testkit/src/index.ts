export { waitFor, type WaitOptions } from './wait-for.js';
export { freePort, getJson, tcpReachable, waitReadyz, type ReadyzOptions } from './probes.js';
export { findLocalNatsServer, natsListening, natsServerBinary, readNatsPorts, type NatsListeningOptions, type NatsPorts } from './nats.js';
export { mintToken, TEST_JWT_SECRET, type MintOptions } from './tokens.js';
export { killOnExit, removeOnExit, stopChild } from './children.js';
export { ensureBlacklistBucket } from './blacklist-bucket.js';
