// The panel at scale (issue 14, "Scale"): a 2,000-layer report, LLM-shaped, in headless Chromium. The table renders
// only the rows in view (plus a margin) and still sorts, filters and reaches its last row from the keyboard. The
// render time is printed, never asserted (style.md: no timed assertions in tests).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { graph, makeTensor, node, pruneTo, randomWeights, seededRandom, valueInfo } from './support/builder';
import { inspectSpec } from './support/models';
import { PanelPage, launchChromium } from './support/webview-page';
import type { InspectReport } from '../src/engine/sparsity/inspect';
import { profileNames } from '../src/engine/speedup/profiles';
import { type ToWebview, parseFromWebview } from '../src/protocol';
import { cellLabels } from '../webview/names';

const PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'lm_tail'] as const;
const BLOCKS = 250;
const LAYERS = BLOCKS * PROJECTIONS.length;

/** A decoder of 250 blocks x 8 MatMuls (16 x 16 weights): every third layer pruned to 2:4, the rest dense. */
async function decoderReport(): Promise<InspectReport> {
  const rnd = seededRandom(14);
  const names = Array.from({ length: LAYERS }, (_, i) => `/model/layers.${Math.floor(i / PROJECTIONS.length)}/${PROJECTIONS[i % PROJECTIONS.length]}/MatMul`);
  const weights = names.map((_, i) => {
    const w = randomWeights(256, rnd);
    return i % 3 === 0 ? pruneTo(w, [16, 16], 0, 2, 4) : w;
  });
  return inspectSpec({
    graph: graph({
      name: 'decoder',
      nodes: names.map((n, i) => node('MatMul', [i ? `h${i - 1}` : 'X', `W${i}`], [`h${i}`], {}, { name: n })),
      inputs: [valueInfo('X', 'float32', [1, 16])],
      outputs: [valueInfo(`h${LAYERS - 1}`, 'float32', [1, 16])],
      initializers: weights.map((values, i) => makeTensor({ name: `W${i}`, dtype: 'float32', dims: [16, 16], values })),
    }),
  });
}

describe('the panel with a 2,000-layer report (issue 14, Scale)', () => {
  let browser: Browser;
  let report: InspectReport;
  const open: PanelPage[] = [];

  before(async () => {
    [browser, report] = await Promise.all([launchChromium(), decoderReport()]);
  });
  after(async () => {
    for (const panel of open) await panel.close().catch(() => undefined);
    await browser?.close();
  });

  /** A panel with the report shown; returns it and the milliseconds from posting the report to the next frame. */
  async function panelWithReport(): Promise<{ panel: PanelPage; ms: number }> {
    const panel = await PanelPage.open(browser);
    open.push(panel);
    const model: ToWebview = { type: 'model', name: 'decoder.onnx', settings: { pattern: '2:4', hardware: 'a100' }, hardwareProfiles: profileNames() };
    await panel.send(model);
    // Timed in the page, from the message's arrival (a capture listener runs before the panel's) to the next frame:
    // the harness's own copying of a large report into the page is not the panel's time.
    await panel.page.evaluate(`window.addEventListener('message', () => (window.reportArrived = performance.now()), { capture: true })`);
    await panel.send({ type: 'report', report });
    await panel.page.waitForFunction(`document.getElementById('table-caption')?.textContent?.startsWith('Showing ${LAYERS} of ${LAYERS} layers')`, undefined, { timeout: 60_000 });
    const ms = await panel.page.evaluate<number>('new Promise((done) => requestAnimationFrame(() => setTimeout(() => done(performance.now() - window.reportArrived), 0)))');
    return { panel, ms };
  }

  const rowKeys = (panel: PanelPage) => panel.page.locator('#layer-grid [role="row"][data-key]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key') as string));
  const focusedRow = (panel: PanelPage) =>
    panel.page.evaluate<{ key: string; index: number } | null>(`(() => {
      const row = document.activeElement?.closest('[role="row"]');
      return row ? { key: row.getAttribute('data-key'), index: Number(row.getAttribute('aria-rowindex')) } : null;
    })()`);

  test('the model has 2,000 layers, 667 of them passing', () => {
    assert.equal(report.layers.length, 2000);
    assert.equal(report.summary.passing, 667);
    assert.equal(report.summary.failing + report.summary.nearlyPassing, 1333);
  });

  test('renders far fewer rows than layers, and says the full count to screen readers', async () => {
    const { panel, ms } = await panelWithReport();
    console.log(`render of a ${LAYERS}-layer report (summary, heatmap, table): ${ms.toFixed(0)} ms`);
    const rows = (await rowKeys(panel)).length;
    console.log(`table rows in the DOM: ${rows} of ${LAYERS}`);
    assert.ok(rows > 0 && rows < 100, `${rows} rows in the DOM`);
    assert.equal(await panel.page.locator('#layer-grid').getAttribute('aria-rowcount'), String(LAYERS + 1));
    assert.equal(await panel.page.locator('.heat-cell').count(), LAYERS);
    // A row's name is what tells it apart (a one-line row would cut a long path's end), the full name its tooltip.
    const first = panel.page.locator('#layer-grid [role="row"][data-key] .layer-name').first();
    const key = (await rowKeys(panel))[0];
    const label = cellLabels(report.layers.map((l) => l.name))[report.layers.findIndex((l) => l.name === key)];
    assert.notEqual(label, key);
    assert.deepEqual([await first.textContent(), await first.getAttribute('title')], [label, key]);
    assert.deepEqual(panel.errors, []);
  });

  test('keyboard: End reaches the last row, Home the first, PageDown moves a page, Enter opens the layer', async () => {
    const { panel } = await panelWithReport();
    const page = panel.page;
    // Graph order: the last row is the last layer.
    await page.click('#sort');
    await page.click('#sort vscode-option[value="graph"]');
    await page.locator('#layer-grid [role="row"][data-key]').first().focus();
    assert.deepEqual(await focusedRow(panel), { key: report.layers[0].name, index: 2 });
    await page.keyboard.press('End');
    assert.deepEqual(await focusedRow(panel), { key: report.layers[LAYERS - 1].name, index: LAYERS + 1 });
    assert.ok((await rowKeys(panel)).length < 100);
    const onScreen = `(() => {
      const box = document.activeElement.getBoundingClientRect();
      const viewport = document.activeElement.closest('.table-viewport').getBoundingClientRect();
      // A pixel of slack: scrolling aligns the row's edge to the window's at a fraction of a pixel (790.31 in 790 seen).
      return box.top >= viewport.top - 1 && box.bottom <= viewport.bottom + 1 && box.top >= -1 && box.bottom <= innerHeight + 1;
    })()`;
    assert.equal(await page.evaluate(onScreen), true, 'the last row is scrolled into view, in the table and the page');
    await page.keyboard.press('ArrowUp');
    assert.deepEqual(await focusedRow(panel), { key: report.layers[LAYERS - 2].name, index: LAYERS });
    await page.keyboard.press('Home');
    assert.deepEqual(await focusedRow(panel), { key: report.layers[0].name, index: 2 });
    assert.equal(await page.evaluate(onScreen), true, 'the first row is on screen again, below the sticky header');
    await page.keyboard.press('PageDown');
    const paged = (await focusedRow(panel))!;
    assert.ok(paged.index > 5 && paged.index < 100, `PageDown moved to row ${paged.index}`);
    assert.equal(paged.key, report.layers[paged.index - 2].name);
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#layer-heading').textContent(), report.layers[LAYERS - 1].name);
  });

  test('scrolling the table to the bottom shows the last layer', async () => {
    const { panel } = await panelWithReport();
    await panel.page.click('#sort');
    await panel.page.click('#sort vscode-option[value="graph"]');
    await panel.page.locator('#layer-grid .table-viewport').evaluate((v) => (v.scrollTop = v.scrollHeight));
    const last = panel.page.locator(`#layer-grid [role="row"][data-key="${report.layers[LAYERS - 1].name}"]`);
    await last.waitFor({ timeout: 2000 });
    assert.equal(await last.isVisible(), true);
    assert.equal(await last.getAttribute('aria-rowindex'), String(LAYERS + 1));
  });

  test('sorting by name orders all 2,000 rows: the first and last rows are the first and last names', async () => {
    const { panel } = await panelWithReport();
    const sorted = report.layers.map((l) => l.name).sort((a, b) => a.localeCompare(b));
    await panel.page.click('#layer-grid [role="columnheader"]:has-text("Layer")');
    assert.equal((await rowKeys(panel))[0], sorted[0]);
    await panel.page.locator('#layer-grid [role="row"][data-key]').first().focus();
    await panel.page.keyboard.press('End');
    assert.deepEqual(await focusedRow(panel), { key: sorted[LAYERS - 1], index: LAYERS + 1 });
    // Failing first (the default order again): the 667 passing layers come after every failing one.
    await panel.page.click('#sort');
    await panel.page.click('#sort vscode-option[value="failing"]');
    await panel.page.locator('#layer-grid [role="row"][data-key]').first().focus();
    await panel.page.keyboard.press('End');
    const last = (await focusedRow(panel))!;
    assert.equal(report.layers.find((l) => l.name === last.key)!.pass, true);
  });

  test('filtering by name leaves the matching rows, counted in the caption and aria-rowcount', async () => {
    const { panel } = await panelWithReport();
    await panel.page.locator('#filter-name input').fill('layers.249/');
    await panel.page.waitForFunction(`document.getElementById('table-caption')?.textContent?.startsWith('Showing 8 of')`);
    assert.deepEqual((await rowKeys(panel)).sort(), report.layers.filter((l) => l.name.includes('layers.249/')).map((l) => l.name).sort());
    assert.equal(await panel.page.locator('#layer-grid').getAttribute('aria-rowcount'), '9');
  });

  test('a report from the cache says so, with when it was scanned; Rescan asks the host to scan; a changed file says the numbers are outdated', async () => {
    const panel = await PanelPage.open(browser);
    open.push(panel);
    await panel.send({ type: 'model', name: 'decoder.onnx', settings: { pattern: '2:4', hardware: 'a100' }, hardwareProfiles: profileNames() });
    const scannedAt = Date.UTC(2026, 11, 4, 1, 23, 45);
    await panel.send({ type: 'report', report, cached: { scannedAt } });
    const source = panel.page.locator('#report-source');
    assert.equal(await source.isVisible(), true);
    assert.match((await source.textContent())!, /^From the cache: scanned .+\. The file is unchanged since \(size, modification time, inode\)\.Rescan$/);
    assert.equal(await source.locator('time').getAttribute('datetime'), '2026-12-04T01:23:45.000Z');
    await panel.page.click('#rescan');
    await panel.waitForMessage('rescan');
    assert.deepEqual(parseFromWebview({ type: 'rescan' }), { type: 'rescan' });
    assert.equal(await source.isVisible(), false);
    assert.equal(await panel.page.locator('#progress-text').textContent(), 'Updating…');
    // A fresh report: no note.
    await panel.send({ type: 'report', report });
    assert.equal(await source.isVisible(), false);
    await panel.send({ type: 'changed' });
    assert.equal(await source.textContent(), 'The file changed on disk: the numbers below are outdated; scanning it again…');
    assert.equal(await panel.page.locator('#progress-text').textContent(), 'Updating…');
    await panel.send({ type: 'report', report });
    assert.equal(await source.isVisible(), false);
    assert.deepEqual(panel.errors, []);
  });

  test('a conversion outcome stays in the panel: a warning with its reasons, dismissable (issue 14 item 7)', async () => {
    const panel = await PanelPage.open(browser);
    open.push(panel);
    await panel.send({ type: 'convertOutcome', level: 'warning', message: 'nothing exported to enc: 0 layers exported, 8 skipped', details: ['8 × K = 6 is not a multiple of 4'] });
    const note = panel.page.locator('#convert-outcome');
    assert.equal(await note.locator('.convert-outcome-text').textContent(), '⚠ Conversion: nothing exported to enc: 0 layers exported, 8 skipped.');
    assert.deepEqual(await note.locator('li').allTextContents(), ['8 × K = 6 is not a multiple of 4']);
    assert.match((await note.getAttribute('class'))!, /warning/);
    await panel.page.click('#dismiss-outcome');
    assert.equal(await note.isVisible(), false);
    await panel.send({ type: 'convertOutcome', level: 'info', message: 'm.pruned-2of4.onnx written; every converted layer passes; retained magnitude 71.2%', details: [] });
    assert.equal(await note.locator('.convert-outcome-text').textContent(), 'Conversion: m.pruned-2of4.onnx written; every converted layer passes; retained magnitude 71.2%.');
    assert.equal(await note.locator('li').count(), 0);
    assert.deepEqual(panel.errors, []);
  });
});
