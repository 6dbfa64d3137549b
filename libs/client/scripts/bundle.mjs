#!/usr/bin/env node
// Builds the browser bundle of the SDK (dist/session-mesh-client.min.js: ESM, minified, the
// protocol code inlined) and prints its size minified and gzipped.
//   node libs/client/scripts/bundle.mjs [--pack] [--json]
// --pack also rewrites dist/index.js as one self-contained module for publishing (the private
// @session-mesh/protocol package is inlined), and checks that no declaration file refers to it.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const entry = here('../src/index.ts');
const protocolSource = here('../../protocol/src/index.ts');
const pack = process.argv.includes('--pack');

// The protocol package is plain ESM without side effects: let esbuild drop what the client does
// not use (subjects, events, blacklist keys...). Its package.json does not say so, hence the plugin.
const protocolPlugin = {
  name: 'protocol-source',
  setup(b) {
    b.onResolve({ filter: /^@session-mesh\/protocol$/ }, () => ({ path: protocolSource, sideEffects: false }));
  },
};

const common = { entryPoints: [entry], bundle: true, format: 'esm', target: 'es2020', plugins: [protocolPlugin], legalComments: 'none', logLevel: 'warning' };

const out = here('../dist/session-mesh-client.min.js');
// Written through a temporary file and a rename: tests in parallel processes build it too, and a
// reader must never see a half-written file.
const built = await build({ ...common, platform: 'browser', minify: true, outfile: out, sourcemap: false, write: false });
const bytes = built.outputFiles[0].contents;
writeAtomically(out, bytes);
const gzipped = gzipSync(bytes, { level: 9 }).length;
const result = { file: 'libs/client/dist/session-mesh-client.min.js', minifiedBytes: bytes.length, gzippedBytes: gzipped };

if (pack) {
  await build({ ...common, platform: 'neutral', minify: false, outfile: here('../dist/index.js'), allowOverwrite: true });
  const dist = here('../dist/');
  const leaks = readdirSync(dist).filter((f) => f.endsWith('.d.ts') && /from ['"]@session-mesh\/protocol['"]/.test(readFileSync(dist + f, 'utf8')));
  if (leaks.length > 0) throw new Error(`declarations refer to the private protocol package: ${leaks.join(', ')}`);
}

if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
else process.stdout.write(`${result.file}: ${result.minifiedBytes} bytes minified, ${result.gzippedBytes} bytes gzipped (${(result.gzippedBytes / 1024).toFixed(2)} KiB)\n`);
writeAtomically(here('../dist/bundle-size.json'), `${JSON.stringify(result)}\n`);

function writeAtomically(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
