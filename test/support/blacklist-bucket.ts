// Playing the admin's part for the blacklist bucket is the shared kit's (libs/testkit), used by the benchmarks too.
export { ensureBlacklistBucket } from '@session-mesh/testkit';
