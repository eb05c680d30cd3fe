// The structure-aware fuzzer of test/support/cliFuzz.ts at a size for every test run: mutants of real models
// through inspect, convert --mode prune and --mode compress, in this process (the CLI's own command functions, the
// same exit codes and messages), and a few through real `sparsity-lens` processes. `npm run fuzz` runs thousands.
// A finding names its seed: FUZZ_CLI_SEED=<seed> FUZZ_CLI_MUTANTS=1 node --test dist/test/cli-fuzz.test.js
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fuzzCommands } from './support/cliFuzz';
import { CLI } from './support/cli';

const ROOT = [process.cwd(), resolve(__dirname, '..', '..')].find((dir) => existsSync(join(dir, 'media', 'sample.onnx')))!;
const FIRST_SEED = Number(process.env.FUZZ_CLI_SEED ?? 0xc11f0000);
const MUTANTS = Number(process.env.FUZZ_CLI_MUTANTS ?? 200);

test(`${MUTANTS} mutants through inspect, prune and compress (in process): clean exits, inputs unchanged, no stray files, outputs read back`, { timeout: 600_000 }, async () => {
  const summary = await fuzzCommands({ root: ROOT, firstSeed: FIRST_SEED, mutants: MUTANTS, processes: false });
  assert.deepEqual(summary.findings, [], JSON.stringify(summary.findings.slice(0, 5), null, 2));
  assert.equal(summary.runs, MUTANTS * 3);
  // The fuzzer reaches every outcome: reports, refusals and converted outputs.
  assert.ok((summary.exits['0'] ?? 0) > 0 && (summary.exits['2'] ?? 0) > 0, JSON.stringify(summary.exits));
});

test('mutants through real sparsity-lens processes: the same guarantees, whole process included', { timeout: 300_000 }, async () => {
  const summary = await fuzzCommands({ root: ROOT, firstSeed: FIRST_SEED + 1_000_000, mutants: Math.min(MUTANTS, 8), processes: true, cli: CLI });
  assert.deepEqual(summary.findings, [], JSON.stringify(summary.findings.slice(0, 5), null, 2));
});
