#!/usr/bin/env node
/**
 * Long fuzzing of the libs/protocol decoders (fuzz/decoder-targets.mjs) with fast-check: random
 * bytes, and valid frames and id tokens mutated byte by byte, for a time budget per target.
 *   node scripts/fuzz-decoders.mjs [seed] [seconds per target]
 * (scripts/fuzz-decoders.sh builds first.) Prints runs and failures per target; exits 1 on a failure,
 * with the smallest failing input fast-check found.
 */
import fc from 'fast-check';
import { encoders, targets } from '../fuzz/decoder-targets.mjs';

const { encodeId, encodeMessageFrame, encodeRequestFrame } = encoders;

const seed = Number(process.argv[2] ?? Date.now() % 2 ** 31);
const seconds = Number(process.argv[3] ?? 60);
if (!Number.isInteger(seed) || !(seconds > 0)) {
  process.stderr.write('usage: node scripts/fuzz-decoders.mjs [seed] [seconds per target]\n');
  process.exit(2);
}

const topic = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const payload = fc.uint8Array({ maxLength: 300 });
const validClient = fc.oneof(
  fc.tuple(topic, payload).map(([t, p]) => encodeMessageFrame(t, p)),
  fc.tuple(fc.nat({ max: 0xffffffff }), topic, payload).map(([id, t, p]) => encodeRequestFrame(id, t, p)),
);
const validServer = fc.oneof(
  payload.map((p) => Uint8Array.of(0x01, ...p)),
  fc.tuple(fc.nat({ max: 0xffffffff }), payload).map(([id, p]) => {
    const out = new Uint8Array(5 + p.length);
    out[0] = 0x04;
    new DataView(out.buffer).setUint32(1, id);
    out.set(p, 5);
    return out;
  }),
);
const idString = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }));
const validToken = idString.filter((s) => s.isWellFormed() && !/[\u0000-\u001f\u007f-\u009f]/.test(s) && Buffer.byteLength(s) <= 512).map((s) => Buffer.from(encodeId(s), 'latin1'));
const controlText = fc.oneof(
  fc.json().map((j) => Buffer.from(j)),
  fc.record({ type: fc.constantFrom('refresh', 'welcome', 'REFRESH', ''), token: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }).map((o) => Buffer.from(JSON.stringify(o))),
  fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)),
);

/** Byte-level mutations of a valid input: flips, interesting bytes, truncation, insertion, deletion. */
const mutations = fc.array(fc.tuple(fc.nat(6), fc.nat(), fc.nat(255)), { maxLength: 6 });
function mutated(valid) {
  return fc.tuple(valid, mutations).map(([input, ops]) => {
    let bytes = Buffer.from(input);
    for (const [op, where, value] of ops) {
      const at = bytes.length === 0 ? 0 : where % bytes.length;
      if (op === 0 && bytes.length > 0) bytes[at] ^= 1 << (value % 8);
      else if (op === 1 && bytes.length > 0) bytes[at] = [0, 1, 2, 3, 4, 0x2e, 0x3d, 0x2b, 0x2f, 0x7f, 0x80, 0xc3, 0xff, value][value % 14];
      else if (op === 2) bytes = bytes.subarray(0, at);
      else if (op === 3) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([value]), bytes.subarray(at)]);
      else if (op === 4) bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + (value % 4))]);
      else if (op === 5) bytes = Buffer.concat([bytes, bytes.subarray(at)]);
    }
    return bytes;
  });
}

const random = fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b));
const inputs = {
  clientBinary: fc.oneof(random, validClient.map((b) => Buffer.from(b)), mutated(validClient)),
  serverBinary: fc.oneof(random, validServer.map((b) => Buffer.from(b)), mutated(validServer)),
  clientControl: fc.oneof(random, controlText, mutated(controlText)),
  idToken: fc.oneof(random, validToken, mutated(validToken)),
};

let failed = 0;
let total = 0;
for (const [name, target] of Object.entries(targets)) {
  const started = Date.now();
  const details = fc.check(
    fc.property(inputs[name], (data) => {
      target(data);
    }),
    { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false },
  );
  total += details.numRuns;
  const secondsTaken = ((Date.now() - started) / 1000).toFixed(1);
  if (details.failed) {
    failed++;
    const input = details.counterexample?.[0];
    process.stdout.write(`${name}: FAILED after ${details.numRuns} runs (${secondsTaken} s): ${details.errorInstance?.message ?? details.error}\n`);
    if (input) process.stdout.write(`  smallest failing input (hex): ${Buffer.from(input).toString('hex')}\n`);
  } else {
    process.stdout.write(`${name}: ${details.numRuns} runs in ${secondsTaken} s, 0 failures\n`);
  }
}
process.stdout.write(`decoder fuzz seed=${seed}: ${total} runs over ${Object.keys(targets).length} targets, ${failed} failing targets\n`);
process.exit(failed > 0 ? 1 : 0);
