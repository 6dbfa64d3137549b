// Token minting lives in the shared kit (libs/testkit), used by the benchmarks and scripts too.
export { mintToken, TEST_JWT_SECRET, type MintOptions } from '@session-mesh/testkit';
