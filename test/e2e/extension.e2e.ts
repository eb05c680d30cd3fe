// End to end in a real VS Code (code-server 4.139 = VS Code 1.139, provisioned by scripts/setup-e2e.sh): install the
// packaged .vsix, open the sample model, check the panel shows the counts the CLI prints, convert with a right-click,
// and find the commands in the palette. Run by `npm run test:e2e` (part of `npm test`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspectModel } from '../../src/engine/sparsity/inspect';
import { twoOfFourAlong } from '../support/patterns';
import { writeSafetensors } from '../support/safetensors';
import {
  type Workbench,
  allNotifications,
  findWebviewFrame,
  openFileFromExplorer,
  pickExplorerContextMenuItem,
  runExtensionTests,
  screenshot,
  searchCommands,
  startWorkbench,
} from './harness';

const ROOT = resolve(__dirname, '..', '..');
const EXTENSION_ID = 'sparsity-lens.sparsity-lens';

describe('the extension in a real VS Code', { timeout: 600_000 }, () => {
  let workbench: Workbench;
  let workspace: string;

  before(async () => {
    const vsix = join(ROOT, 'sparsity-lens.vsix');
    assert.ok(existsSync(vsix), 'sparsity-lens.vsix is missing: npm run test:e2e packages it first');
    // The WebAssembly ONNX Runtime the extension verifies with must be inside the package, not only in dist/.
    const listed = execFileSync('unzip', ['-l', vsix], { encoding: 'utf8' });
    for (const file of ['extension/dist/ort-worker.js', 'extension/dist/ort/ort-wasm-simd-threaded.mjs', 'extension/dist/ort/ort-wasm-simd-threaded.wasm']) assert.ok(listed.includes(file), `${file} is not in the .vsix`);
    workspace = mkdtempSync(join(tmpdir(), 'sparsity-lens-e2e-ws-'));
    copyFileSync(join(ROOT, 'media', 'sample.onnx'), join(workspace, 'sample.onnx'));
    workbench = await startWorkbench({ vsix, workspace });
  });

  after(async () => {
    await workbench?.stop();
    rmSync(workspace, { recursive: true, force: true });
  });

  test('the commands appear in the palette', async () => {
    const titles = await searchCommands(workbench.page, 'Sparsity Lens');
    for (const title of ['Sparsity Lens: Inspect Model', 'Sparsity Lens: Convert with Sparsity...', 'Sparsity Lens: Select Hardware Profile']) {
      assert.ok(titles.includes(title), `missing '${title}' in ${JSON.stringify(titles)}`);
    }
    // Export Report applies only with a panel open.
    assert.ok(!titles.includes('Sparsity Lens: Export Report'), JSON.stringify(titles));
  });

  test('opening the sample shows the panel with the counts the CLI prints', async () => {
    const expected = (await inspectModel(join(ROOT, 'media', 'sample.onnx'), { workers: 0 })).summary;
    await openFileFromExplorer(workbench.page, 'sample.onnx');
    await workbench.waitForExtensionLog(EXTENSION_ID, /activated/);
    const frame = await findWebviewFrame(workbench.page, { selector: '#stat-passing', extensionId: EXTENSION_ID, timeoutMs: 60_000 });
    const value = async (id: string) => (await frame.locator(`#stat-${id} .stat-value`).textContent())?.trim();
    await frame.locator('#stat-passing .stat-value').waitFor();
    assert.equal(await value('eligible'), String(expected.eligible));
    assert.equal(await value('passing'), String(expected.passing));
    assert.equal(await value('nearly'), String(expected.nearlyPassing));
    assert.equal(await value('failing'), String(expected.failing));
    assert.equal(await value('ineligible'), String(expected.ineligible));
    assert.equal(await value('compliance'), `${(expected.compliance! * 100).toFixed(2)} %`);
    await screenshot(workbench.page, 'e2e-panel');
  });

  test('Select Hardware Profile re-projects the open panel: its batch stays, no weight is scanned again (issue 14)', async () => {
    const page = workbench.page;
    const frame = await findWebviewFrame(page, { selector: '#stat-passing', extensionId: EXTENSION_ID, timeoutMs: 60_000 });
    // A batch typed in the panel re-projects (the sample fixes its batch, so the figure stays; the setting is kept).
    await frame.locator('#batch input').fill('8');
    await frame.locator('#batch input').press('Enter');
    await workbench.waitForExtensionLog(EXTENSION_ID, /projected .*sample\.onnx on a100 \(fused, batch 8\) in \d+ ms, no scan/);
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input.input').fill('>Sparsity Lens: Select Hardware Profile');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Select Hardware Profile' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'h100' }).first().waitFor();
    await page.locator('.quick-input-widget input.input').fill('h100');
    await page.waitForTimeout(300); // the list filters asynchronously
    await page.keyboard.press('Enter');
    await workbench.waitForExtensionLog(EXTENSION_ID, /projected .*sample\.onnx on h100 \(fused, batch 8\) in \d+ ms, no scan/);
    await frame.locator('.projection-headline', { hasText: '(h100)' }).waitFor({ timeout: 30_000 });
    assert.equal(await frame.locator('#batch input').inputValue(), '8', 'the panel keeps its batch');
    assert.equal(await frame.locator('header.summary.stale').count(), 0, 'the new numbers arrived');
    await screenshot(page, 'e2e-hardware-h100');
  });

  test('right-click "Convert with Sparsity..." writes an output that passes', async () => {
    const page = workbench.page;
    await pickExplorerContextMenuItem(page, 'sample.onnx', 'Convert with Sparsity...');
    // Pattern 2:4, mode Prune, all eligible layers, the default output: each QuickPick's first entry.
    for (let step = 0; step < 4; step++) {
      await page.locator('.quick-input-widget').waitFor({ state: 'visible' });
      await page.keyboard.press('Enter');
      await page.waitForTimeout(400);
    }
    const output = join(workspace, 'sample.pruned-2of4.onnx');
    const until = Date.now() + 60_000;
    while (!existsSync(output) && Date.now() < until) await page.waitForTimeout(250);
    assert.ok(existsSync(output), `no output; notifications: ${JSON.stringify(await allNotifications(page))}`);
    const notes = async () => (await allNotifications(page)).join('\n');
    const deadline = Date.now() + 30_000;
    while (!/every converted layer passes/.test(await notes()) && Date.now() < deadline) await page.waitForTimeout(250);
    assert.match(await notes(), /sample\.pruned-2of4\.onnx written; every converted layer passes/);
    // The report (the output channel; "Show Report" opens the same text) compared the outputs in the WebAssembly runtime
    // the .vsix ships: no native ONNX Runtime is installed in this VS Code.
    const compared = await workbench.waitForExtensionLog(EXTENSION_ID, /output 'logits' \(ONNX Runtime/, 60_000);
    assert.match(compared, /output 'logits' \(ONNX Runtime 1\.30\.0 WebAssembly, same inputs\): max \|diff\| \S+, cosine \S+/);
    const report = await inspectModel(output, { workers: 0 });
    assert.equal(report.summary.failing + report.summary.nearlyPassing, 0);
    assert.deepEqual(readdirSync(workspace).filter((f) => f.endsWith('.partial')), []);
    await screenshot(page, 'e2e-converted');
  });

  test('opening a safetensors checkpoint shows its layers in the panel (issue 16)', async () => {
    // One Linear that passes 2:4, one that does not, a norm weight listed as ineligible.
    const path = writeSafetensors(join(workspace, 'model.safetensors'), [
      { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'float16', shape: [32, 64], values: twoOfFourAlong([32, 64], 1) },
      { name: 'model.layers.0.mlp.down_proj.weight', dtype: 'float16', shape: [64, 32], values: Array.from({ length: 2048 }, (_, i) => 1 + (i % 7)) },
      { name: 'model.norm.weight', dtype: 'float32', shape: [64], values: new Array(64).fill(1) },
    ]);
    const expected = (await inspectModel(path, { workers: 0 })).summary;
    assert.deepEqual([expected.eligible, expected.passing, expected.ineligible], [2, 1, 1]);
    await openFileFromExplorer(workbench.page, 'model.safetensors');
    const frame = await findWebviewFrame(workbench.page, { selector: '[data-layer="model.layers.0.mlp.up_proj.weight"]', extensionId: EXTENSION_ID, timeoutMs: 60_000 });
    const value = async (id: string) => (await frame.locator(`#stat-${id} .stat-value`).textContent())?.trim();
    await frame.locator('#stat-passing .stat-value').waitFor();
    assert.equal(await value('eligible'), '2');
    assert.equal(await value('passing'), '1');
    assert.equal(await value('ineligible'), '1');
    // No graph, no opset, nothing to convert here.
    assert.match((await frame.locator('.model-meta').first().textContent()) ?? '', /safetensors checkpoint/);
    assert.equal(await frame.locator('#convert').evaluate((b) => (b as unknown as { disabled: boolean }).disabled), true);
    await screenshot(workbench.page, 'e2e-safetensors');
  });

  test('a broken file: the reason, no Retry, Convert and Export off; Convert says why before any QuickPick (issue 14)', async () => {
    writeFileSync(join(workspace, 'broken.onnx'), 'this is not a model, just text that no ONNX reader takes');
    await openFileFromExplorer(workbench.page, 'broken.onnx');
    const frame = await findWebviewFrame(workbench.page, { selector: '#actions-off:not([hidden])', extensionId: EXTENSION_ID, timeoutMs: 60_000 });
    assert.match((await frame.locator('#error-banner .error-message').textContent()) ?? '', /broken\.onnx: not a readable ONNX model/);
    assert.equal(await frame.locator('#retry').count(), 0, 'a malformed file gets no Retry');
    for (const id of ['convert', 'export']) assert.equal(await frame.locator(`#${id}`).evaluate((b) => (b as unknown as { disabled: boolean }).disabled), true, id);
    await screenshot(workbench.page, 'e2e-broken');
    const page = workbench.page;
    await pickExplorerContextMenuItem(page, 'broken.onnx', 'Convert with Sparsity...');
    const deadline = Date.now() + 20_000;
    const notes = async () => (await allNotifications(page)).join('\n');
    while (!/cannot convert/.test(await notes()) && Date.now() < deadline) await page.waitForTimeout(250);
    assert.match(await notes(), /Sparsity Lens: cannot convert: .*broken\.onnx: not a readable ONNX model/);
    assert.equal(await page.locator('.quick-input-widget').isVisible(), false, 'no QuickPick before the reason');
  });
});

describe('tests inside the extension host', { timeout: 300_000 }, () => {
  test('the extension activates, registers its commands and inspects through its worker', async () => {
    const result = await runExtensionTests({
      extensionDir: ROOT,
      testsEntry: join(ROOT, 'dist', 'e2e', 'host', 'index.js'),
      workspace: join(ROOT, 'media'),
    });
    assert.equal(result.exitCode, 0, result.log.join('\n'));
    assert.ok(result.log.some((l) => l.includes('host tests passed')), result.log.join('\n'));
  });
});

