/**
 * Unsigned 32-bit big-endian integers inside byte arrays (request ids in REQUEST and REPLY frames).
 * Plain byte arithmetic: no DataView to allocate per call, and it runs in browsers too.
 */

/** Reads the u32 at `at`; the caller has checked that `at + 4 <= bytes.length`. */
export function readU32BE(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
}

/** Writes `value` (an integer in 0..2^32-1, checked by the caller) at `at`. */
export function writeU32BE(target: Uint8Array, at: number, value: number): void {
  target[at] = (value >>> 24) & 0xff;
  target[at + 1] = (value >>> 16) & 0xff;
  target[at + 2] = (value >>> 8) & 0xff;
  target[at + 3] = value & 0xff;
}

export function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}
