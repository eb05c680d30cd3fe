// Project only (issue 14): a new hardware profile, batch, runtime or precision recomputes the projection and the
// deploy verdicts from the report's statistics, not the weight scan: in the engine (reprojectModel gives what a fresh
// inspection gives), in the extension's worker (no progress, no scan logged), and in the host's settings handling.
import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type * as vscode from 'vscode';
import { graph, node, valueInfo, writeModel } from './support/builder';
import { tempDir } from './support/models';
import { tensor, twoOfFourAlong } from './support/patterns';
import { formatReport } from '../src/engine/report/format';
import { inspectModel } from '../src/engine/sparsity/inspect';
import { reprojectModel } from '../src/engine/sparsity/reproject';
import { PROFILES } from '../src/engine/speedup/profiles';
import { EngineClient } from '../src/extension/engineClient';
import { followConfiguration, requestProjection } from '../src/extension/projection';
import { BATCH_SWEEP, type InspectSettings } from '../src/protocol';

const ROOT = join(__dirname, '..', '..');
const ENGINE = { gridMax: 128, nearlyThreshold: 0.99, workers: 0 };

/** An MLP block with a symbolic batch: fc1 passes 2:4, fc2 is dense. */
function writeMlp(): string {
  const path = join(tempDir(), 'mlp.onnx');
  writeModel(path, {
    graph: graph({
      name: 'mlp',
      inputs: [valueInfo('x', 'float16', ['batch', 128, 512])],
      outputs: [valueInfo('y', 'float16', ['batch', 128, 512])],
      nodes: [node('MatMul', ['x', 'w1'], ['h'], {}, { name: 'fc1' }), node('Relu', ['h'], ['r'], {}, { name: 'relu' }), node('MatMul', ['r', 'w2'], ['y'], {}, { name: 'fc2' })],
      initializers: [tensor('w1', 'float16', [512, 1024], twoOfFourAlong([512, 1024], 0)), tensor('w2', 'float16', [1024, 512], new Array(1024 * 512).fill(0.5))],
    }),
  });
  return path;
}

function channel(lines: string[]): vscode.OutputChannel {
  return { appendLine: (line: string) => lines.push(line) } as unknown as vscode.OutputChannel;
}

describe('project only, in the engine', () => {
  const path = writeMlp();

  test('re-projecting a report on other hardware, batch, runtime and precision gives what a fresh inspection gives', async () => {
    const scanned = await inspectModel(path, { workers: 0, speedup: { hardware: PROFILES.a100, batch: 1 }, batchSweep: [...BATCH_SWEEP] });
    const options = { speedup: { hardware: PROFILES.h100, batch: 64, runtime: 'fused' as const }, precision: 'fp16' as const, batchSweep: [...BATCH_SWEEP] };
    const fresh = await inspectModel(path, { workers: 0, ...options });
    const projected = reprojectModel(path, scanned, options);
    assert.deepEqual(projected, fresh);
    assert.equal(projected.projection?.hardware.name, 'h100');
    assert.equal(projected.projection?.runtime, 'fused');
    // The report it came from is unchanged.
    assert.equal(scanned.projection?.hardware.name, 'a100');
    assert.equal(scanned.projection?.batch, 1);
  });

  test('the batch sweep is the projection at each batch size, and a report without a symbolic batch has none', async () => {
    const report = await inspectModel(path, { workers: 0, speedup: { hardware: PROFILES.a100, batch: 8 }, batchSweep: [...BATCH_SWEEP] });
    assert.deepEqual(report.batchSweep?.map((p) => p.batch), [1, 8, 64, 256]);
    for (const point of report.batchSweep!) {
      const at = await inspectModel(path, { workers: 0, speedup: { hardware: PROFILES.a100, batch: point.batch } });
      assert.equal(point.speedup, at.projection!.speedup, `batch ${point.batch}`);
      assert.equal(point.launchBound, at.projection!.hostBound.sparse, `batch ${point.batch}`);
    }
    // At batch 1 the host's launches set the pace; at 256 the device does.
    assert.equal(report.batchSweep![0].launchBound, true);
    assert.equal(report.batchSweep![3].launchBound, false);
    const sample = await inspectModel(join(ROOT, 'media', 'sample.onnx'), { workers: 0, speedup: { hardware: PROFILES.a100 }, batchSweep: [...BATCH_SWEEP] });
    assert.equal(sample.batchSweep, undefined, 'the sample fixes its batch at 1');
  });

  test('the projection says what sets the pace: device and host sums, and the kernels launched', async () => {
    const report = await inspectModel(path, { workers: 0, speedup: { hardware: PROFILES.a100, batch: 1 } });
    const p = report.projection!;
    // fc1, relu, fc2 each launch one kernel; fc1 passes 2:4 and launches a sparse one.
    assert.deepEqual({ kernels: p.host.kernels, sparseKernels: p.host.sparseKernels }, { kernels: 3, sparseKernels: 1 });
    assert.equal(p.host.dense, 3 * PROFILES.a100.hostOverheadUs * 1e-6);
    assert.equal(p.host.sparse, (3 * PROFILES.a100.hostOverheadUs + PROFILES.a100.sparseHostOverheadUs) * 1e-6);
    assert.equal(p.sparseTime, Math.max(p.device.sparse, p.host.sparse));
    assert.equal(p.hostBound.sparse, p.host.sparse > p.device.sparse);
  });

  test("the CLI's table says why a launch-bound figure is, in the panel's numbers", async () => {
    const report = await inspectModel(path, { workers: 0, speedup: { hardware: PROFILES.a100, batch: 1 } });
    const p = report.projection!;
    const us = (s: number) => (s * 1e6 >= 100 ? (s * 1e6).toFixed(0) : (s * 1e6).toFixed(1));
    assert.ok(
      formatReport(report, 'table').includes(`; launch-bound: the host needs ${us(p.host.sparse)} us to launch 3 kernels, the GPU ${us(p.device.sparse)} us of work, so the GPU's speed does not enter this figure)`),
      formatReport(report, 'table'),
    );
  });
});

describe('project only, in the extension worker', () => {
  const settings: InspectSettings = { pattern: '2:4', hardware: 'a100', batch: 1, dims: {} };

  test('a new hardware, batch and runtime re-project without a scan: no progress, no scan logged, the grids kept', async () => {
    const path = writeMlp();
    const lines: string[] = [];
    const engine = new EngineClient(ROOT, channel(lines));
    try {
      let progress = 0;
      const onProgress = () => void progress++;
      const first = (await engine.request<'inspected'>({ type: 'inspect', path, settings, engine: ENGINE }, { onProgress })).report;
      assert.ok(progress > 0, 'the scan reports progress');
      progress = 0;
      const next: InspectSettings = { ...settings, hardware: 'h100', batch: 64, runtime: 'fused' };
      const report = await requestProjection(engine, path, next, ENGINE, first, { onProgress });
      assert.equal(progress, 0, 'no scan: no progress');
      assert.equal(lines.filter((l) => l.startsWith('inspected ')).length, 1, lines.join('\n'));
      assert.equal(lines.filter((l) => l.startsWith('projected ') && l.endsWith('no scan')).length, 1, lines.join('\n'));
      assert.equal(report.projection?.hardware.name, 'h100');
      assert.equal(report.projection?.batch, 64);
      assert.equal(report.projection?.runtime, 'fused');
      assert.deepEqual(report.batchSweep?.map((p) => p.batch), [...BATCH_SWEEP]);
      assert.deepEqual(report.layers.map((l) => l.grid), first.layers.map((l) => l.grid), 'the grids stay with the report');
      const fresh = await inspectModel(path, { workers: 0, speedup: { hardware: PROFILES.h100, batch: 64, runtime: 'fused' }, batchSweep: [...BATCH_SWEEP] });
      assert.equal(report.projection?.speedup, fresh.projection?.speedup);
    } finally {
      await engine.dispose();
    }
  });

  test('a file changed since its scan is scanned again, with progress', async () => {
    const path = writeMlp();
    const lines: string[] = [];
    const engine = new EngineClient(ROOT, channel(lines));
    try {
      const first = (await engine.request<'inspected'>({ type: 'inspect', path, settings, engine: ENGINE })).report;
      const later = new Date(Date.now() + 5000);
      utimesSync(path, later, later);
      let progress = 0;
      const report = await requestProjection(engine, path, { ...settings, hardware: 'h100' }, ENGINE, first, { onProgress: () => void progress++ });
      assert.ok(progress > 0, 'scanned again');
      assert.equal(lines.filter((l) => l.startsWith('inspected ')).length, 2, lines.join('\n'));
      assert.ok(lines.some((l) => /changed since its scan.*: scanning again$/.test(l)), lines.join('\n'));
      assert.equal(report.projection?.hardware.name, 'h100');
      assert.ok(report.layers.every((l) => l.grid !== null), 'the new scan brings its grids');
    } finally {
      await engine.dispose();
    }
  });
});

describe('settings changed outside the panel (Select Hardware Profile)', () => {
  const panel: InspectSettings = { pattern: '2:4', hardware: 'a100', batch: 32, dims: { sequence: 384 }, runtime: 'eager', target: 'cusparselt' };
  const fresh: InspectSettings = { pattern: '2:4', hardware: 'h100', batch: 1, dims: {}, runtime: 'fused' };

  test('only the changed setting is taken: the panel keeps its batch, runtime, dims and target', () => {
    const next = followConfiguration(panel, fresh, (key) => key === 'sparsityLens.hardwareProfile');
    assert.deepEqual(next, { ...panel, hardware: 'h100' });
  });

  test('a changed batch or runtime setting is taken, and a cleared target is cleared', () => {
    assert.deepEqual(followConfiguration(panel, fresh, (key) => key === 'sparsityLens.batchSize' || key === 'sparsityLens.deployTarget'), { pattern: '2:4', hardware: 'a100', batch: 1, dims: { sequence: 384 }, runtime: 'eager' });
    assert.equal(followConfiguration(panel, fresh, (key) => key === 'sparsityLens.runtime').runtime, 'fused');
  });
});
