// The projection that does not mislead (issue 14, items 1, 4 and 5), in the panel in headless Chromium
// (test/support/webview-page.ts), fed real reports from the engine: the launch-bound state explained in numbers, the
// batch sweep, the runtime selector, the per-layer figures labelled as device time, "Updating…" while settings changed
// outside the panel are re-projected, and long layer names on the Speedup tab kept off the time labels in every theme.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { graph, node, valueInfo, writeModel } from './support/builder';
import { tempDir } from './support/models';
import { tensor, twoOfFourAlong } from './support/patterns';
import { PanelPage, ROOT, launchChromium } from './support/webview-page';
import type { ThemeName } from './support/webview-themes';
import { type InspectReport, inspectModel } from '../src/engine/sparsity/inspect';
import { PROFILES, profileNames } from '../src/engine/speedup/profiles';
import { BATCH_SWEEP, type InspectSettings, parseFromWebview } from '../src/protocol';
import { seconds } from '../webview/format';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const LONG = '/model/encoder/layers.11/attention/self_attention/output_projection/dense_with_a_long_suffix/MatMul';

/** Two MLP layers with a symbolic batch: `first` passes 2:4, `second` (a very long name) is dense. */
function writeMlp(first: string, second: string): string {
  const path = join(tempDir(), 'mlp.onnx');
  writeModel(path, {
    graph: graph({
      name: 'mlp',
      inputs: [valueInfo('x', 'float16', ['batch', 128, 512])],
      outputs: [valueInfo('y', 'float16', ['batch', 128, 256])],
      nodes: [node('MatMul', ['x', 'w1'], ['h'], {}, { name: first }), node('Relu', ['h'], ['r'], {}, { name: 'relu' }), node('MatMul', ['r', 'w2'], ['y'], {}, { name: second })],
      initializers: [tensor('w1', 'float16', [512, 1024], twoOfFourAlong([512, 1024], 0)), tensor('w2', 'float16', [1024, 256], twoOfFourAlong([1024, 256], 0))],
    }),
  });
  return path;
}

describe('the projection in the panel (issue 14)', () => {
  let browser: Browser;
  // The Relu runs in fc1's epilogue (fused): two kernels.
  const path = writeMlp('fc1', LONG);
  /** At batch 1 (launch-bound) and 256 (device-bound), fused. */
  let batch1: InspectReport;
  let batch256: InspectReport;
  const open: PanelPage[] = [];
  const settings: InspectSettings = { pattern: '2:4', hardware: 'a100', batch: 1, runtime: 'fused' };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const at = (batch: number) => inspectModel(path, { workers: 0, speedup: { hardware: PROFILES.a100, batch, runtime: 'fused' }, batchSweep: [...BATCH_SWEEP] });
    [browser, batch1, batch256] = await Promise.all([launchChromium(), at(1), at(256)]);
  });
  after(async () => {
    for (const panel of open) await panel.close().catch(() => undefined);
    await browser?.close();
  });

  async function panelWith(report: InspectReport, theme: ThemeName = 'light', panelSettings = settings): Promise<PanelPage> {
    const panel = await PanelPage.open(browser, theme);
    open.push(panel);
    await panel.send({ type: 'model', name: 'mlp.onnx', settings: panelSettings, hardwareProfiles: profileNames() });
    await panel.send({ type: 'report', report });
    await panel.page.locator('.heat-cell').first().waitFor();
    return panel;
  }

  test('a launch-bound figure says why next to it, in numbers: host launch time against device time', async () => {
    const p = batch1.projection!;
    assert.equal(p.hostBound.sparse, true, 'batch 1 is launch-bound');
    const panel = await panelWith(batch1);
    const text = await panel.page.locator('.projection .launch-bound').textContent();
    assert.equal(
      text,
      `⚠ Launch-bound: the host needs ${seconds(p.host.sparse)} to launch 2 kernels, while the GPU's work takes ${seconds(p.device.sparse)}. ` +
        "The GPU's speed does not enter this figure (any NVIDIA profile gives the same), and 2:4 does not change it: sparse kernels launch as dense ones do in this runtime. " +
        'A larger batch moves the work to the device (below); CUDA graphs or a runtime that launches less move it too.',
    );
    // A fused engine launches its sparse kernels as any other: launch-bound, 2:4 neither gains nor loses.
    assert.deepEqual([p.host.sparseKernels, p.host.sparse, p.speedup], [0, p.host.dense, 1]);
    assert.match((await panel.page.locator('.projection .projection-headline').textContent())!, /projected end to end on NVIDIA A100 SXM4 80 GB \(a100\), fused runtime \(TensorRT-like\), batch 1: dense /);
    assert.equal(await panel.page.locator('.end-to-end .launch-bound').count(), 1, 'the Speedup tab says it too');
    const device = await panelWith(batch256);
    assert.equal(batch256.projection!.hostBound.sparse, false);
    assert.equal(await device.page.locator('.launch-bound').count(), 0, 'device-bound: nothing to explain');
  });

  test('the projection is shown at batch 1, 8, 64 and 256 with what sets the pace, the chosen batch marked', async () => {
    const panel = await panelWith(batch1);
    const rows = panel.page.locator('.projection .batch-sweep tbody tr');
    assert.equal(await rows.count(), 4);
    const cells = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
    assert.deepEqual(
      cells,
      batch1.batchSweep!.map((point) => [point.batch === 1 ? '1 (chosen)' : String(point.batch), `${point.speedup!.toFixed(2)}×`, `${point.speedupIfAllPass!.toFixed(2)}×`, point.launchBound ? 'host launches' : 'the device']),
    );
    assert.deepEqual(batch1.batchSweep!.map((point) => point.launchBound), [true, true, false, false], "launches set the pace up to batch 8 here");
    assert.equal(await panel.page.locator('.projection .batch-sweep tr[aria-current="true"]').getAttribute('data-batch'), '1');
  });

  test('the per-layer figures are labelled as device time, with their range beside the end-to-end figure', async () => {
    const panel = await panelWith(batch256);
    const header = panel.page.locator('[role="columnheader"]', { hasText: 'Layer speedup' });
    assert.equal(await header.count(), 1);
    assert.match((await header.getAttribute('title'))!, /^This layer's device time, dense over 2:4/);
    const speedups = batch256.projection!.layers.map((l) => l.speedup!);
    const range = `${Math.min(...speedups).toFixed(2)}–${Math.max(...speedups).toFixed(2)}×`;
    assert.equal(
      await panel.page.locator('.projection .per-layer-note').textContent(),
      `Per layer (the table's Layer speedup and the Speedup tab): ${range}, each layer's own device time, dense over 2:4. End to end adds the ops that never run sparse.`,
    );
  });

  test('the runtime is a labelled selector; choosing it sends settings the host accepts and marks the numbers as updating', async () => {
    const panel = await panelWith(batch1);
    const runtime = panel.page.locator('#runtime');
    assert.equal(await runtime.getAttribute('aria-label'), 'Runtime');
    assert.equal(await runtime.evaluate((d) => (d as unknown as { value: string }).value), 'fused');
    await panel.page.click('#runtime');
    await panel.page.click('#runtime vscode-option[value="eager"]');
    const sent = await panel.waitForMessage('settings');
    assert.deepEqual(sent.settings, { ...settings, runtime: 'eager' });
    assert.deepEqual(parseFromWebview(sent), { type: 'settings', settings: { ...settings, runtime: 'eager', dims: {} } });
    assert.equal(await panel.page.locator('header.summary.stale').count(), 1);
    assert.equal(await panel.page.locator('#progress-text').textContent(), 'Updating…');
  });

  test('settings changed outside the panel (Select Hardware Profile) show "Updating…" over the old numbers until the report', async () => {
    const panel = await panelWith(batch1);
    await panel.send({ type: 'model', name: 'mlp.onnx', settings: { ...settings, hardware: 'h100' }, hardwareProfiles: profileNames(), updating: true });
    await panel.page.locator('header.summary.stale').waitFor();
    assert.equal(await panel.page.locator('#progress-text').textContent(), 'Updating…');
    assert.equal(await panel.page.locator('#hardware').evaluate((d) => (d as unknown as { value: string }).value), 'h100');
    assert.equal(await panel.page.locator('#batch input').inputValue(), '1', 'the batch stays');
    const h100 = await inspectModel(path, { workers: 0, speedup: { hardware: PROFILES.h100, batch: 1, runtime: 'fused' }, batchSweep: [...BATCH_SWEEP] });
    await panel.send({ type: 'report', report: h100 });
    await panel.page.locator('header.summary:not(.stale)').waitFor();
    assert.match((await panel.page.locator('.projection .projection-headline').textContent())!, /NVIDIA H100 SXM5 80 GB \(h100\)/);
  });

  for (const theme of ['light', 'dark', 'high-contrast'] as const) {
    test(`a long layer name on the Speedup tab is cut in its middle and kept off the time labels (${theme})`, async () => {
      const panel = await panelWith(batch256, theme);
      await panel.page.click('#tab-speedup');
      const row = panel.page.locator(`#speedup-layers > li[data-layer="${LONG}"]`);
      await row.waitFor();
      const name = row.locator('.speedup-name strong');
      assert.equal(await row.locator('.speedup-name').getAttribute('title'), LONG);
      const shown = (await name.textContent())!;
      assert.ok(shown.includes('…') && shown.startsWith('/model/encoder') && shown.endsWith('/MatMul'), shown);
      const box = (await name.boundingBox())!;
      const labels = row.locator('.time-label');
      assert.equal(await labels.count(), 2);
      for (let i = 0; i < 2; i++) {
        const label = (await labels.nth(i).boundingBox())!;
        const overlap = box.x < label.x + label.width && label.x < box.x + box.width && box.y < label.y + label.height && label.y < box.y + box.height;
        assert.equal(overlap, false, `${theme}: name ${JSON.stringify(box)} over label ${i} ${JSON.stringify(label)}`);
      }
      // The text the name box draws fits in it: clipped, not spilling over.
      assert.equal(await name.evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { textOverflow: string } }).getComputedStyle(e).textOverflow), "ellipsis");
      await panel.page.screenshot({ path: join(ARTIFACTS, `speedup-long-name-${theme}.png`), fullPage: true });
      assert.deepEqual(panel.errors, []);
    });
  }
});
