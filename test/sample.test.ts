// The bundled sample models: the engine's verdicts match what the generator meant each layer to show, in all
// three variants, and the committed files are exactly what the generator writes today.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { SAMPLE_LAYERS, makeSampleModels } from '../scripts/make-sample';
import type { InspectReport } from '../src/engine/sparsity/inspect';
import { inspectFile, layer, tempDir } from './support/models';

// dist/test/ → the repository's media/ folder.
const MEDIA = join(__dirname, '..', '..', 'media');

const VARIANTS = [
  { file: 'sample.onnx', dtype: 'float32', quantized: false },
  { file: 'sample-fp16.onnx', dtype: 'float16', quantized: false },
  { file: 'sample-int8-qdq.onnx', dtype: 'int8', quantized: true },
] as const;

describe('sample models', () => {
  const outDir = tempDir();
  const paths = makeSampleModels(outDir);

  test('importing the generator writes nothing: the committed files are checked, not regenerated', () => {
    const started = Date.now() - process.uptime() * 1000;
    for (const variant of VARIANTS) {
      for (const folder of [MEDIA, join(process.cwd(), 'media')]) {
        const path = join(folder, variant.file);
        const written = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
        assert.ok(written < started, `${path} was written by this test process`);
      }
    }
  });

  test('the generator writes the three variants', () => {
    assert.deepEqual(paths.map((p) => basename(p)), VARIANTS.map((v) => v.file));
  });

  for (const variant of VARIANTS) {
    describe(variant.file, () => {
      let report: InspectReport;
      before(async () => {
        report = await inspectFile(join(outDir, variant.file));
      });

      test('lists every sample layer, in graph order, with its shape, dtype and K axis', () => {
        assert.deepEqual(report.layers.map((l) => l.name), SAMPLE_LAYERS.map((l) => l.node));
        for (const spec of SAMPLE_LAYERS) {
          const l = layer(report, spec.node);
          assert.equal(l.op, spec.op, spec.node);
          assert.deepEqual(l.shape, spec.dims, spec.node);
          assert.equal(l.dtype, variant.dtype, spec.node);
          assert.equal(l.error, null, spec.node);
          if (variant.quantized) {
            assert.equal(l.weight, `${spec.node}.weight_q`, spec.node);
            assert.deepEqual(l.chain, ['DequantizeLinear'], spec.node);
            assert.equal(l.zeroPoint, spec.perChannel ? 'per-channel' : 'per-tensor', spec.node);
          } else {
            assert.equal(l.weight, `${spec.node}.weight`, spec.node);
            assert.deepEqual(l.chain, [], spec.node);
          }
          // Depthwise layers still have a K axis; only runtime weights have none.
          assert.equal(l.axis, spec.kAxis, spec.node);
        }
      });

      test('each layer gets the verdict the generator meant: pass, nearly, fail or ineligible', () => {
        for (const spec of SAMPLE_LAYERS) {
          const l = layer(report, spec.node);
          const verdict = !l.eligible ? 'ineligible' : l.pass ? 'pass' : l.nearlyPassing ? 'nearly' : 'fail';
          assert.equal(verdict, spec.expect, spec.node);
          if (spec.expect === 'pass') assert.equal(l.retainedMagnitude, 1, spec.node);
          if (spec.expect === 'nearly') assert.equal(l.groups - l.validGroups, spec.violations, spec.node);
          if (spec.expect === 'ineligible') assert.equal(l.compliance, null, spec.node);
        }
        const count = (expect: string) => SAMPLE_LAYERS.filter((l) => l.expect === expect).length;
        assert.equal(report.summary.layers, SAMPLE_LAYERS.length);
        assert.equal(report.summary.passing, count('pass'));
        assert.equal(report.summary.nearlyPassing, count('nearly'));
        assert.equal(report.summary.failing, count('fail'));
        assert.equal(report.summary.ineligible, count('ineligible'));
        assert.equal(report.summary.errors, 0);
      });

      test(`the committed media/${variant.file} is byte-identical to a fresh one`, () => {
        const fresh = readFileSync(join(outDir, variant.file));
        const committed = readFileSync(join(MEDIA, variant.file));
        assert.ok(committed.equals(fresh), `media/${variant.file} differs from the generator's output: run 'npm run sample'`);
      });
    });
  }
});
