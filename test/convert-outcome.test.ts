// How a conversion ends, as the toast, the output channel and the panel say it (src/extension/convertOutcome.ts,
// issue 14 item 7): an export that wrote no layer is a warning with its reasons, never a success.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { graph, makeTensor, node, pruneTo, randomWeights, seededRandom, valueInfo } from './support/builder';
import { tempDir, writeTempModel } from './support/models';
import { convertModel } from '../src/engine/convert/convert';
import { exportModel } from '../src/engine/convert/export';
import { convertOutcome, exportOutcome, groupedReasons } from '../src/extension/convertOutcome';

/** MatMuls with weights [K, 8]: K = 6 is not divisible by 4 (ineligible), K = 16 is (2:4 already with `pruned`). */
function model(ks: number[], pruned = false): string {
  const rnd = seededRandom(3);
  return writeTempModel({
    graph: graph({
      name: 'ks',
      nodes: ks.map((_, i) => node('MatMul', [`X${i}`, `W${i}`], [`Y${i}`], {}, { name: `fc${i}` })),
      inputs: ks.map((k, i) => valueInfo(`X${i}`, 'float32', [1, k])),
      outputs: ks.map((_, i) => valueInfo(`Y${i}`, 'float32', [1, 8])),
      initializers: ks.map((k, i) => makeTensor({ name: `W${i}`, dtype: 'float32', dims: [k, 8], values: pruned && k % 4 === 0 ? pruneTo(randomWeights(k * 8, rnd), [k, 8], 0, 2, 4) : randomWeights(k * 8, rnd) })),
    }),
  });
}

describe('convert outcome (issue 14 item 7)', () => {
  test('an export that wrote no layer is a warning that says why, grouped by reason', async () => {
    const path = model([6, 6, 6]);
    const out = join(tempDir(), 'enc');
    const manifest = await exportModel(path, { encoding: 'nvidia', out });
    assert.equal(manifest.layers.length, 0);
    assert.equal(manifest.skipped.length, 3);
    const outcome = exportOutcome(manifest, out);
    assert.equal(outcome.level, 'warning');
    assert.equal(outcome.message, 'nothing exported to enc: 0 layers exported, 3 skipped');
    assert.equal(outcome.details.length, 1);
    assert.equal(outcome.details[0], `3 × ${manifest.skipped[0].reason}`);
  });

  test('an export that wrote every layer is information; one with skips a warning listing them', async () => {
    const out = join(tempDir(), 'enc');
    const all = exportOutcome(await exportModel(model([16, 16], true), { encoding: 'ascend', out }), out);
    assert.deepEqual(all, { level: 'info', message: '2 layers exported, 0 skipped to enc', details: [] });
    const mixed = await exportModel(model([16, 6], true), { encoding: 'ascend', out: join(tempDir(), 'enc') });
    const some = exportOutcome(mixed, out);
    assert.equal(some.level, 'warning');
    assert.equal(some.message, '1 layer exported, 1 skipped to enc');
    assert.deepEqual(some.details, [`1 × ${mixed.skipped[0].reason}`]);
  });

  test('a pruned model that verifies is information with the retained magnitude; nothing converted is a warning with reasons', async () => {
    const dir = tempDir();
    const pruned = await convertModel(model([16, 16]), { mode: 'prune', out: join(dir, 'p.onnx') });
    const ok = convertOutcome(pruned, join(dir, 'p.onnx'));
    assert.equal(ok.level, 'info');
    assert.equal(ok.message, `p.onnx written; every converted layer passes; retained magnitude ${(pruned.summary.retainedMagnitude! * 100).toFixed(1)}%`);
    const none = await convertModel(model([6, 6]), { mode: 'prune', out: join(dir, 'n.onnx') });
    const warn = convertOutcome(none, join(dir, 'n.onnx'));
    assert.equal(warn.level, 'warning');
    assert.equal(warn.message, 'n.onnx written, but no layer was converted (0 unchanged, 2 skipped)');
    assert.deepEqual(warn.details, [`2 × ${none.layers[0].reason}`]);
  });

  test('reasons are counted, most frequent first, at most five lines', () => {
    assert.deepEqual(groupedReasons(['a', 'b', 'a']), ['2 × a', '1 × b']);
    assert.deepEqual(groupedReasons(['a', 'b', 'c', 'd', 'e', 'f', 'g']), ['1 × a', '1 × b', '1 × c', '1 × d', '1 × e', 'and 2 more reasons']);
  });
});
