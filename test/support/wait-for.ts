// The polling helper lives in the shared kit (libs/testkit), used by the benchmarks too.
export { waitFor, type WaitOptions } from '@session-mesh/testkit';
