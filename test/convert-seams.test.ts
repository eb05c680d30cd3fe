// Convert's seams (src/engine/convert: plan, write, verify, formats/): "failing layers only" as a selection the
// engine understands, and a caller's inspection used instead of inspecting the model again (the extension's panel
// holds one), through the engine and through the extension's worker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type * as vscode from 'vscode';
import { convertModel } from '../src/engine/convert/convert';
import { FORMATS } from '../src/engine/convert/formats';
import { inspectModel } from '../src/engine/sparsity/inspect';
import { EngineClient } from '../src/extension/engineClient';
import { graph, makeTensor, node, pruneTo, randomWeights, seededRandom, valueInfo, writeModel } from './support/builder';
import { tempDir } from './support/models';

const ROOT = join(__dirname, '..', '..');

/** X [1, 8] -> MatMul 'fc_ok' (W1 [8, 8], already 2:4) -> MatMul 'fc_bad' (W2 [8, 4], dense) -> Y [1, 4]. */
function twoLayerModel(dir: string): string {
  const rnd = seededRandom(15);
  const w1 = pruneTo(randomWeights(64, rnd), [8, 8], 0, 2, 4);
  const w2 = randomWeights(32, rnd);
  const path = join(dir, 'two.onnx');
  writeModel(path, {
    graph: graph({
      name: 'two',
      nodes: [node('MatMul', ['X', 'W1'], ['H'], {}, { name: 'fc_ok' }), node('MatMul', ['H', 'W2'], ['Y'], {}, { name: 'fc_bad' })],
      inputs: [valueInfo('X', 'float32', [1, 8])],
      outputs: [valueInfo('Y', 'float32', [1, 4])],
      initializers: [makeTensor({ name: 'W1', dtype: 'float32', dims: [8, 8], values: w1 }), makeTensor({ name: 'W2', dtype: 'float32', dims: [8, 4], values: w2 })],
    }),
  });
  return path;
}

describe('convert: failing layers only, and the caller’s inspection', () => {
  test('every --mode has one output format entry; only prune writes no format of its own', () => {
    assert.deepEqual(Object.keys(FORMATS).sort(), ['ascend', 'compress', 'prune']);
    for (const [mode, format] of Object.entries(FORMATS)) assert.equal(format.mode, mode);
    assert.deepEqual(Object.entries(FORMATS).filter(([, f]) => !f.rewrite).map(([m]) => m), ['prune']);
  });

  test('failingOnly: the layer that already passes is not selected, saying why; the failing one is pruned', async () => {
    const dir = tempDir();
    const model = twoLayerModel(dir);
    const report = await convertModel(model, { mode: 'prune', failingOnly: true, out: join(dir, 'out.onnx') });
    const ok = report.layers.find((l) => l.name === 'fc_ok')!;
    const bad = report.layers.find((l) => l.name === 'fc_bad')!;
    assert.equal(ok.action, 'skip');
    assert.equal(ok.reason, 'not selected: already 2:4 (failing layers only)');
    assert.equal(bad.action, 'prune');
    assert.equal(bad.prunedElements, 16);
    assert.equal(report.summary.skipped, 1);
    assert.equal(report.summary.pruned, 1);
    assert.equal(report.verified, true);
  });

  test('a given inspection of the same file and pattern is used: the input is not inspected again', async () => {
    const dir = tempDir();
    const model = twoLayerModel(dir);
    const inspection = await inspectModel(model, { pattern: { n: 2, m: 4 } });
    // A marker no inspection computes: it reaches the report only if the given inspection is the one used.
    const marked = { ...inspection, layers: inspection.layers.map((l) => (l.name === 'fc_bad' ? { ...l, compliance: 0.125 } : l)) };
    const report = await convertModel(model, { mode: 'prune', failingOnly: true, inspection: marked, dryRun: true });
    assert.equal(report.layers.find((l) => l.name === 'fc_bad')!.compliance, 0.125);
    assert.equal(report.warnings, marked.warnings);
  });

  test('an inspection with another pattern, or of a file since changed in size, is not used: the model is inspected', async () => {
    const dir = tempDir();
    const model = twoLayerModel(dir);
    const inspection = await inspectModel(model, { pattern: { n: 2, m: 4 } });
    const marked = { ...inspection, layers: inspection.layers.map((l) => (l.name === 'fc_bad' ? { ...l, compliance: 0.125 } : l)) };
    const other = await convertModel(model, { mode: 'prune', pattern: { n: 1, m: 4 }, inspection: marked, dryRun: true });
    assert.equal(other.layers.find((l) => l.name === 'fc_bad')!.compliance, 0);
    const resized = await convertModel(model, { mode: 'prune', inspection: { ...marked, fileSize: marked.fileSize + 1 }, dryRun: true });
    assert.equal(resized.layers.find((l) => l.name === 'fc_bad')!.compliance, 0);
  });

  test('the worker converts "failing layers only" with the panel’s report: neither it nor the engine inspects the input', async () => {
    const dir = tempDir();
    const model = twoLayerModel(dir);
    const inspection = await inspectModel(model, { pattern: { n: 2, m: 4 } });
    const marked = { ...inspection, layers: inspection.layers.map((l) => (l.name === 'fc_bad' ? { ...l, compliance: 0.125 } : l)) };
    const engine = new EngineClient(ROOT, { appendLine: () => {} } as unknown as vscode.OutputChannel);
    try {
      const options = { mode: 'prune' as const, pattern: '2:4', out: join(dir, 'worker.onnx'), failingOnly: true, inspection: marked };
      const reply = await engine.request<'converted'>({ type: 'convert', path: model, options });
      const bad = reply.report.layers.find((l) => l.name === 'fc_bad')!;
      assert.equal(bad.compliance, 0.125);
      assert.equal(bad.action, 'prune');
      assert.equal(reply.report.layers.find((l) => l.name === 'fc_ok')!.reason, 'not selected: already 2:4 (failing layers only)');
      assert.equal(reply.report.verified, true);
      // Without a report, the worker leaves selection to the engine, which inspects once: the true compliance.
      const alone = await engine.request<'converted'>({ type: 'convert', path: model, options: { ...options, inspection: undefined, out: join(dir, 'alone.onnx') } });
      assert.equal(alone.report.layers.find((l) => l.name === 'fc_bad')!.compliance, 0);
      assert.equal(alone.report.layers.find((l) => l.name === 'fc_ok')!.action, 'skip');
    } finally {
      await engine.dispose();
    }
  });
});
