// End to end in a real VS Code (code-server 4.139 = VS Code 1.139, provisioned by scripts/setup-e2e.sh): install the
// packaged .vsix, open the sample model, check the panel shows the counts the CLI prints, convert with a right-click,
// and find the commands in the palette; a large transformer-like model (its table scrolls to the last layer), a file cut
// short, and a reopened model served from the report cache (issue 14). Run by `npm run test:e2e` (part of `npm test`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspectModel } from '../../src/engine/sparsity/inspect';
import { graph, makeTensor, node, pruneTo, randomWeights, seededRandom, valueInfo, writeModel } from '../support/builder';
import { twoOfFourAlong } from '../support/patterns';
import { cellLabels } from '../../webview/names';
import { writeSafetensors } from '../support/safetensors';
import {
  type Workbench,
  allNotifications,
  findWebviewFrame,
  openFileFromExplorer,
  pickExplorerContextMenuItem,
  runCommand,
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
    // The list filters asynchronously: Enter before it has would take the active row (a100, no change). A fixed
    // 300 ms wait lost that race once on a loaded machine.
    await page.waitForFunction(
      `(() => { const rows = [...document.querySelectorAll('.quick-input-widget .monaco-list-row')]; return rows.length === 1 && (rows[0].textContent ?? '').includes('h100'); })()`,
    );
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
    // Steps with a counter and Back (issue 14 item 7): forward to step 2, back to step 1.
    const title = page.locator('.quick-input-widget .quick-input-title');
    await page.locator('.quick-input-widget').waitFor({ state: 'visible' });
    assert.match((await title.textContent()) ?? '', /^Sparsity Lens: pattern .*\(1\/4\)$/);
    await page.keyboard.press('Enter');
    await page.waitForFunction(`/\\(2\\/4\\)$/.test(document.querySelector('.quick-input-widget .quick-input-title')?.textContent ?? '')`);
    assert.match((await title.textContent()) ?? '', /^Sparsity Lens: what to write \(2\/4\)$/);
    await screenshot(page, 'e2e-convert-step');
    await page.locator('.quick-input-widget .codicon-quick-input-back').click();
    await page.waitForFunction(`/\\(1\\/4\\)$/.test(document.querySelector('.quick-input-widget .quick-input-title')?.textContent ?? '')`);
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
    // The outcome stays in the sample's open panel after the toast hides.
    const panel = await findWebviewFrame(page, { selector: '#convert-outcome:not([hidden])', extensionId: EXTENSION_ID, timeoutMs: 30_000 });
    assert.match((await panel.locator('#convert-outcome').textContent()) ?? '', /Conversion: sample\.pruned-2of4\.onnx written; every converted layer passes; retained magnitude \d+\.\d%\./);
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

  // Issue 14: an LLM-shaped model, the report cache, a file cut short.
  const PROJECTIONS = ['self_attn/q_proj', 'self_attn/k_proj', 'self_attn/v_proj', 'self_attn/o_proj', 'mlp/gate_proj', 'mlp/up_proj', 'mlp/down_proj'];
  // A 32-block decoder as an 8B LLM has (224 linear layers) and its head: 16 x 16 weights, every other block 2:4.
  const names = [...Array.from({ length: 32 * PROJECTIONS.length }, (_, i) => `/model/layers.${Math.floor(i / PROJECTIONS.length)}/${PROJECTIONS[i % PROJECTIONS.length]}/MatMul`), '/lm_head/MatMul'];
  const last = names[names.length - 1];

  /** Writes decoder.onnx and truncated.onnx into the workspace (issue 14). */
  function writeLargeModels(): void {
    const rnd = seededRandom(32);
    writeModel(join(workspace, 'decoder.onnx'), {
      graph: graph({
        name: 'decoder',
        nodes: names.map((n, i) => node('MatMul', [i ? `h${i - 1}` : 'X', `W${i}`], [`h${i}`], {}, { name: n })),
        inputs: [valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo(`h${names.length - 1}`, 'float32', [1, 16])],
        initializers: names.map((_, i) => {
          const w = randomWeights(256, rnd);
          return makeTensor({ name: `W${i}`, dtype: 'float32', dims: [16, 16], values: Math.floor(i / PROJECTIONS.length) % 2 === 0 ? pruneTo(w, [16, 16], 0, 2, 4) : w });
        }),
      }),
    });
    // The same model cut in half, as an interrupted download leaves it.
    const bytes = readFileSync(join(workspace, 'decoder.onnx'));
    writeFileSync(join(workspace, 'truncated.onnx'), bytes.subarray(0, Math.floor(bytes.length / 2)));
  }


  test('the panel lists all 225 layers with names that tell them apart, and the table scrolls to the last layer', async () => {
    const page = workbench.page;
    writeLargeModels();
    const expected = (await inspectModel(join(workspace, 'decoder.onnx'), { workers: 0 })).summary;
    assert.deepEqual([expected.layers, expected.eligible, expected.passing], [225, 225, 113]);
    await openFileFromExplorer(page, 'decoder.onnx');
    await workbench.waitForExtensionLog(EXTENSION_ID, /activated/);
    // Its own panel (the sample's is open too): the one with the decoder's last layer.
    const frame = await findWebviewFrame(page, { selector: `.heat-cell[data-layer="${last}"]`, extensionId: EXTENSION_ID, timeoutMs: 60_000 });
    const value = async (id: string) => (await frame.locator(`#stat-${id} .stat-value`).textContent())?.trim();
    await frame.locator('#stat-passing .stat-value').waitFor({ timeout: 60_000 });
    assert.equal(await value('eligible'), '225');
    assert.equal(await value('passing'), '113');
    assert.equal(await frame.locator('#table-caption').textContent(), 'Showing 225 of 225 layers.');
    // A row per block headed L0..L31 (the head in a row of its own), cells named by projection, in graph order.
    const labels = cellLabels(names);
    assert.deepEqual(labels.slice(0, 2), ['L0 self_attn/q_proj', 'L0 self_attn/k_proj']);
    assert.deepEqual(await frame.locator('.heat-block .block-label').allTextContents(), [...Array.from({ length: 32 }, (_, b) => `L${b}`), '–']);
    assert.deepEqual(await frame.locator('.heat-cell .cell-name').allTextContents(), labels.map((l) => l.replace(/^L\d+ /, '')));
    // The table holds only the rows in view, and says how many there are.
    assert.equal(await frame.locator('#layer-grid').getAttribute('aria-rowcount'), '226');
    const rows = await frame.locator('#layer-grid [role="row"][data-key]').count();
    assert.ok(rows > 0 && rows < 100, `${rows} rows in the DOM`);
    // Graph order, then End from the first row: the last layer, scrolled into view and focused.
    await frame.locator('#sort').click();
    await frame.locator('#sort vscode-option[value="graph"]').click();
    await frame.locator('#layer-grid [role="row"][data-key]').first().focus();
    await page.keyboard.press('End');
    const lastRow = frame.locator(`#layer-grid [role="row"][data-key="${last}"]`);
    await lastRow.waitFor();
    assert.equal(await lastRow.evaluate((row) => row === row.ownerDocument.activeElement), true);
    assert.equal(await lastRow.getAttribute('aria-rowindex'), '226');
    assert.equal(await lastRow.isVisible(), true);
    // On screen: inside the table's viewport and the page's.
    assert.equal(await lastRow.evaluate(onScreen), true);
    await screenshot(page, 'e2e-large-model');
  });

  test('reopened unchanged, the model shows its last report at once from the cache; Rescan scans again', async () => {
    const page = workbench.page;
    await runCommand(page, 'View: Close All Editors');
    await openFileFromExplorer(page, 'decoder.onnx');
    const frame = await findWebviewFrame(page, { selector: '#report-source:not([hidden])', extensionId: EXTENSION_ID, timeoutMs: 60_000 });
    assert.match((await frame.locator('#report-source').textContent()) ?? '', /^From the cache: scanned .+\. The file is unchanged since \(size, modification time, inode\)\.Rescan$/);
    assert.equal((await frame.locator('#stat-passing .stat-value').textContent())?.trim(), '113');
    await workbench.waitForExtensionLog(EXTENSION_ID, /decoder\.onnx: report from the cache \(scanned /);
    await screenshot(page, 'e2e-cached-report');
    // The entry is in the extension's global storage, not beside the model; Rescan scans and stores it again.
    const entries = cacheEntries();
    const entry = entries.find((e) => e.model === join(workspace, 'decoder.onnx'));
    assert.ok(entry, JSON.stringify(entries));
    assert.match(entry.file, /globalStorage\/sparsity-lens\.sparsity-lens\/report-cache\/[0-9a-f]{40}\.json$/);
    // (.vscode holds the workspace settings an earlier test's Select Hardware Profile wrote.)
    assert.deepEqual(readdirSync(workspace).filter((f) => !f.endsWith('.onnx') && f !== 'model.safetensors' && f !== '.vscode'), []);
    await frame.locator('#rescan').click();
    await frame.locator('#report-source').waitFor({ state: 'hidden' });
    const until = Date.now() + 60_000;
    while (cacheEntries().find((e) => e.model === entry.model)?.scannedAt === entry.scannedAt && Date.now() < until) await page.waitForTimeout(250);
    assert.ok(cacheEntries().find((e) => e.model === entry.model)!.scannedAt > entry.scannedAt, 'Rescan scanned again');
    assert.equal((await frame.locator('#stat-passing .stat-value').textContent())?.trim(), '113');
  });

  /** Whether a row is inside its table's scrolling viewport and the window (runs in the webview). */
  function onScreen(row: { getBoundingClientRect(): { top: number; bottom: number }; closest(selector: string): { getBoundingClientRect(): { top: number; bottom: number } } | null; ownerDocument: { defaultView: { innerHeight: number } | null } }): boolean {
    const box = row.getBoundingClientRect();
    const viewport = row.closest('.table-viewport')!.getBoundingClientRect();
    // A pixel of slack: scrolling aligns the row's edge to the window's at a fraction of a pixel (790.31 in 790 seen).
    return box.top >= viewport.top - 1 && box.bottom <= viewport.bottom + 1 && box.top >= -1 && box.bottom <= row.ownerDocument.defaultView!.innerHeight + 1;
  }

  /** The report cache's entries under the server's user data folder: file, model and when it was scanned. */
  function cacheEntries(): { file: string; model: string; scannedAt: number }[] {
    const found: { file: string; model: string; scannedAt: number }[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (dir.endsWith('report-cache') && entry.name.endsWith('.json')) {
          const { model, scannedAt } = JSON.parse(readFileSync(path, 'utf8')) as { model: string; scannedAt: number };
          found.push({ file: path, model, scannedAt });
        }
      }
    };
    walk(workbench.userDataDir);
    return found;
  }

  test('a file cut short says so in sizes', async () => {
    const page = workbench.page;
    await openFileFromExplorer(page, 'truncated.onnx');
    const frame = await findWebviewFrame(page, { selector: '#error-banner:not([hidden])', extensionId: EXTENSION_ID, timeoutMs: 60_000 });
    const size = readFileSync(join(workspace, 'truncated.onnx')).length;
    assert.ok(size > 1000);
    assert.match((await frame.locator('#error-banner .error-message').textContent()) ?? '', /the model needs \d+(\.\d)? kB, the file has \d+(\.\d)? kB: an incomplete download or copy\?/);
    // Nothing was cached for it: a failed scan is not a report; nothing to convert or export.
    assert.equal(await frame.locator('#report-source').isVisible(), false);
    for (const id of ['convert', 'export']) assert.equal(await frame.locator(`#${id}`).evaluate((b) => (b as unknown as { disabled: boolean }).disabled), true, id);
    await screenshot(page, 'e2e-truncated');
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

