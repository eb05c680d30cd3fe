// The hold-out set of the speedup projection (issue 13): published measurements the model constants were not fitted
// to, rebuilt by scripts/calibration-holdout.ts. The README documents the table and its errors as the engine computes
// them; these tests keep the two from drifting apart and check that the cases are built as their sources describe.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CALIBRATION_CASES, HOLDOUT_CASES, holdoutTable, runCalibration } from '../scripts/calibration';
import { PROFILES } from '../src/engine/speedup/profiles';
import { inspectFile, tempDir } from './support/models';

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8').split('\n');

/** The lines of the README's hold-out section: from its heading to the next heading. */
function holdoutSection(): string[] {
  const start = README.findIndex((line) => /^#+\s+Hold-out set\b/.test(line));
  assert.ok(start >= 0, 'the README has a "Hold-out set" section');
  const end = README.findIndex((line, i) => i > start && /^#+\s/.test(line));
  return README.slice(start + 1, end < 0 ? undefined : end);
}

const MODEL_CONSTANTS = ['denseEfficiency', 'sparseEfficiency', 'sparseHalfRows', 'memoryEfficiency', 'hostOverheadUs', 'sparseHostOverheadUs'] as const;

describe('calibration hold-out set', () => {
  test('the README\'s hold-out table is the one the engine computes, row for row, with its mean and largest error', { timeout: 120_000 }, async () => {
    const rows = await runCalibration(HOLDOUT_CASES);
    const expected = holdoutTable(rows);
    const section = holdoutSection();
    const table = section.filter((line) => line.startsWith('|'));
    assert.deepEqual(table, expected);
    for (const row of rows) assert.ok(row.projected !== null && row.error !== null, `${row.name}: no projection`);
    const errors = rows.map((r) => Math.abs(r.error!));
    const mean = ((errors.reduce((a, b) => a + b, 0) / errors.length) * 100).toFixed(1);
    const largest = (Math.max(...errors) * 100).toFixed(1);
    assert.ok(section.some((line) => line.includes(`mean |error| ${mean} %, largest ${largest} %`)), `the README states the hold-out mean |error| ${mean} % and largest ${largest} %`);
  });

  test('no hold-out case is a fitting case, runs on the device the constants were fitted on, or carries re-fitted constants', () => {
    const fitting = new Set(CALIBRATION_CASES.map((c) => c.name));
    const fittedOn = new Set(CALIBRATION_CASES.map((c) => c.hardware));
    assert.deepEqual([...fittedOn], ['a100']);
    for (const c of HOLDOUT_CASES) {
      assert.ok(!fitting.has(c.name), c.name);
      assert.ok(!fittedOn.has(c.hardware), `${c.name} runs on ${c.hardware}`);
      for (const k of MODEL_CONSTANTS) assert.equal(PROFILES[c.hardware][k], PROFILES.a100[k], `${c.hardware}.${k} is the A100's`);
      assert.equal(c.measured, c.latencyMs.dense / c.latencyMs.sparse, `${c.name}: measured is dense / sparse latency`);
      assert.ok(c.source.length > 0 && c.assumed.length > 0, `${c.name} names its source and assumptions`);
    }
  });

  test('InceptionV3 is rebuilt with torchvision\'s 94 convolutions and classifier, 5.713 GMACs per image; its first convolution is ineligible', { timeout: 60_000 }, async () => {
    const path = HOLDOUT_CASES.find((c) => c.name.startsWith('InceptionV3'))!.build(tempDir());
    const report = await inspectFile(path, { speedup: { hardware: PROFILES.a6000, batch: 1, runtime: 'fused' } });
    assert.equal(report.layers.length, 95);
    assert.deepEqual(report.layers.filter((l) => !l.eligible).map((l) => l.name), ['Conv2d_1a_3x3_0']);
    assert.equal(report.summary.passing, 94);
    // torchvision's 23,834,568 parameters (aux_logits off) less BatchNorm's 2 x 17,216 (folded) and the classifier's 1,000 biases.
    assert.equal(report.summary.parameters, 23_799_136);
    assert.equal(report.projection!.layers.reduce((s, l) => s + l.macs!, 0), 5_713_216_096);
    assert.deepEqual(report.projection!.unknowns, []);
    // The README's reading of its error: TensorRT keeps dense kernels under ~256 channels, and 75 layers are flagged so.
    assert.equal(report.projection!.layers.filter((l) => l.flags.some((f) => f.startsWith('channels under 256'))).length, 75);
  });

  test('the ViT-B MLP stacks are 12 layers of 768x3072 and 3072x768, every one passing', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    for (const c of HOLDOUT_CASES.filter((h) => h.name.startsWith('ViT-B MLP'))) {
      const report = await inspectFile(c.build(dir), { speedup: { hardware: PROFILES[c.hardware], runtime: 'fused' } });
      assert.equal(report.summary.passing, 12, c.name);
      assert.deepEqual(report.projection!.layers.map((l) => l.macs! / l.rows!), new Array(12).fill(768 * 3072), c.name);
    }
  });

  test('the Orin Nano\'s power mode does not change the MLP projections (peaks and bandwidth scale together; the layers are math-bound)', { timeout: 60_000 }, async () => {
    const mlp = HOLDOUT_CASES.filter((h) => h.name.startsWith('ViT-B MLP'));
    assert.ok(mlp.every((c) => c.hardware === 'orin-nano-super'));
    const super_ = await runCalibration(mlp);
    const base = await runCalibration(mlp.map((c) => ({ ...c, hardware: 'orin-nano' })));
    assert.deepEqual(base.map((r) => r.projected!.toFixed(2)), super_.map((r) => r.projected!.toFixed(2)));
  });
});
