// The panel's states and small things in headless Chromium (issue 14 items 2, 3, 6 and 8): heatmap blocks and the
// filter's highlight, a model where nothing is recognised, a broken file, the encodings' wording, the last moment of a
// scan, headers, aria-sort, Tab in the drill-down, and the contrast of warning text and of violating groups.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { graph, makeTensor, node, valueInfo } from './support/builder';
import { contrast, over, parseColour, type Rgb } from './support/contrast';
import { inspectFile, inspectSpec, layer, tempDir, writeTempModel } from './support/models';
import { PanelPage, ROOT, launchChromium } from './support/webview-page';
import type { ThemeName } from './support/webview-themes';
import type { OutputChannel } from 'vscode';
import { ModelError, canRetry } from '../src/engine/errors';
import { EngineFailure, EngineClient, retryable } from '../src/extension/engineClient';
import { type InspectReport, inspectModel } from '../src/engine/sparsity/inspect';
import { readGroupEncodings, readRegion } from '../src/engine/sparsity/region';
import { PROFILES, profileNames } from '../src/engine/speedup/profiles';
import type { ToWebview } from '../src/protocol';

const SAMPLE = join(ROOT, 'media', 'sample.onnx');
const ARTIFACTS = join(ROOT, 'test-artifacts');

/** What the test page's window holds (declared here: the test's lib has no DOM types); page functions cast globalThis to it. */
type Doc = { querySelector(s: string): unknown; querySelectorAll(s: string): ArrayLike<unknown>; activeElement: unknown; createRange(): unknown };
type Win = { document: Doc; getComputedStyle(e: unknown): Record<string, string> };

/** A model of elementwise ops only: no node carries a weight the tool reads. */
const NOTHING_RECOGNISED = {
  graph: graph({
    name: 'elementwise',
    nodes: [node('Add', ['X', 'B'], ['a'], {}, { name: 'add' }), node('Relu', ['a'], ['r'], {}, { name: 'relu' }), node('Mul', ['r', 'r'], ['Y'], {}, { name: 'square' })],
    inputs: [valueInfo('X', 'float32', [1, 8])],
    outputs: [valueInfo('Y', 'float32', [1, 8])],
    initializers: [makeTensor({ name: 'B', dtype: 'float32', dims: [8], values: new Array(8).fill(1) })],
  }),
};

describe('panel states in Chromium (issue 14)', () => {
  let browser: Browser;
  let report: InspectReport;
  const open: PanelPage[] = [];
  const hardwareProfiles = profileNames();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [browser, report] = await Promise.all([launchChromium(), inspectModel(SAMPLE, { workers: 0, speedup: { hardware: PROFILES.a100 } })]);
  });
  after(async () => {
    for (const panel of open) await panel.close().catch(() => undefined);
    await browser?.close();
  });

  const modelMessage = (name = 'sample.onnx'): ToWebview => ({ type: 'model', name, settings: { pattern: '2:4', hardware: 'a100' }, hardwareProfiles });

  async function panelWith(r: InspectReport, theme: ThemeName = 'light', name = 'sample.onnx'): Promise<PanelPage> {
    const panel = await PanelPage.open(browser, theme);
    open.push(panel);
    await panel.send(modelMessage(name));
    await panel.send({ type: 'report', report: r });
    await panel.page.locator('#stat-pattern').waitFor();
    return panel;
  }

  async function choose(panel: PanelPage, dropdown: string, value: string): Promise<void> {
    await panel.page.click(dropdown);
    await panel.page.click(`${dropdown} vscode-option[value="${value}"]`);
  }

  describe('item 2: blocks and the filter in the heatmap', () => {
    // An LLM-shaped chain of MatMuls: an input projection, three decoder blocks of q_proj and mlp.up_proj, the head
    // (dense; the others hold 2:4 along K).
    const NAMES = ['model.embed_proj', ...[0, 1, 2].flatMap((b) => [`model.layers.${b}.self_attn.q_proj`, `model.layers.${b}.mlp.up_proj`]), 'lm_head'];
    let llm: InspectReport;
    before(async () => {
      llm = await inspectSpec({
        graph: graph({
          name: 'llm',
          nodes: NAMES.map((n, i) => node('MatMul', [i ? `h${i - 1}` : 'X', `W${i}`], [`h${i}`], {}, { name: n })),
          inputs: [valueInfo('X', 'float32', [1, 16])],
          outputs: [valueInfo(`h${NAMES.length - 1}`, 'float32', [1, 16])],
          initializers: NAMES.map((_, i) => makeTensor({ name: `W${i}`, dtype: 'float32', dims: [16, 16], values: Array.from({ length: 256 }, (_, k) => ((k >> 4) % 4 < 2 && i < NAMES.length - 1 ? 0 : 1 + i)) })),
        }),
      });
    });

    const rowsOf = (panel: PanelPage) =>
      panel.page.locator('#heatmap [role="row"]').evaluateAll((rows) =>
        rows.map((r) => {
          const row = r as unknown as { querySelector(s: string): { textContent: string; getAttribute(n: string): string } | null; querySelectorAll(s: string): Iterable<{ getAttribute(n: string): string }> };
          const header = row.querySelector('[role="rowheader"]');
          return [header ? `${header.textContent}|${header.getAttribute('aria-label')}` : null, [...row.querySelectorAll('[role="gridcell"]')].map((c) => c.getAttribute('data-layer'))];
        }),
      );

    test('a transformer gets a row per block headed L0, L1...; layers outside the blocks keep their place; the keyboard walks them in graph order', async () => {
      const panel = await panelWith(llm, 'light', 'llm.onnx');
      assert.deepEqual(await rowsOf(panel), [
        ['–|Outside the blocks', ['model.embed_proj']],
        ['L0|Block 0', NAMES.slice(1, 3)],
        ['L1|Block 1', NAMES.slice(3, 5)],
        ['L2|Block 2', NAMES.slice(5, 7)],
        ['–|Outside the blocks', ['lm_head']],
      ]);
      assert.deepEqual(await panel.page.locator('.heat-cell .cell-name').allTextContents(), ['model.embed_proj', 'self_attn.q_proj', 'mlp.up_proj', 'self_attn.q_proj', 'mlp.up_proj', 'self_attn.q_proj', 'mlp.up_proj', 'lm_head']);
      await panel.page.screenshot({ path: join(ARTIFACTS, 'panel-light-blocks.png'), fullPage: true });
      const page = panel.page;
      let presses = 0;
      while ((await page.locator('.heat-cell:focus').count()) === 0 && presses++ < 40) await page.keyboard.press('Tab');
      const focused = () => page.locator('.heat-cell:focus').getAttribute('data-layer');
      assert.equal(await focused(), 'model.embed_proj');
      for (const name of NAMES.slice(1)) {
        await page.keyboard.press('ArrowRight');
        assert.equal(await focused(), name);
      }
      await page.keyboard.press('Home');
      await page.keyboard.press('ArrowDown');
      assert.equal(await focused(), NAMES[1], 'ArrowDown goes to the next row: block 0');
      await page.keyboard.press('Enter');
      assert.equal(await page.locator('#layer-heading').textContent(), NAMES[1]);
      // A model without blocks (the sample) keeps one row, no headers.
      const flat = await panelWith(report);
      assert.deepEqual(await rowsOf(flat), [[null, report.layers.map((l) => l.name)]]);
    });

    test("the table's filter marks the matching heatmap cells and dims the rest, says how many, and Tab lands on the first match", async () => {
      const panel = await panelWith(llm, 'light', 'llm.onnx');
      const page = panel.page;
      const marked = () => page.locator('.heat-cell.match').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-layer')));
      const selected = () => page.locator('.heat-cell').evaluateAll((cells) => cells.map((c) => c.getAttribute('aria-selected')));
      const opacity = (name: string) => page.locator(`.heat-cell[data-layer="${name}"]`).evaluate((c) => (globalThis as unknown as Win).getComputedStyle(c).opacity);
      assert.deepEqual(await marked(), []);
      assert.deepEqual(await selected(), NAMES.map(() => null));
      await page.locator('#filter-name input').fill('q_proj');
      const q = NAMES.filter((n) => n.includes('q_proj'));
      assert.deepEqual(await marked(), q);
      assert.deepEqual(await selected(), NAMES.map((n) => String(q.includes(n))));
      assert.equal(await opacity('lm_head'), '0.35');
      assert.equal(await opacity(q[0]), '1');
      assert.equal(await page.locator('#heatmap-matches').textContent(), `3 of ${NAMES.length} layers match the table's filter: marked, the rest dimmed.`);
      await page.screenshot({ path: join(ARTIFACTS, 'panel-light-filter-highlight.png'), fullPage: true });
      // Keyboard: the heatmap comes before the table, so Shift+Tab from the filter field walks back into it and lands on
      // its tab stop, now the first match.
      await page.locator('#filter-name input').focus();
      let presses = 0;
      while ((await page.locator('.heat-cell:focus').count()) === 0 && presses++ < 40) await page.keyboard.press('Shift+Tab');
      assert.equal(await page.locator('.heat-cell:focus').getAttribute('data-layer'), q[0]);
      // Op and status filters mark too; nothing matching says so; clearing them undims everything.
      await page.locator('#filter-name input').fill('no such layer');
      assert.deepEqual(await marked(), []);
      assert.equal(await page.locator('#heatmap-matches').textContent(), `None of the ${NAMES.length} layers matches the table's filter.`);
      await page.locator('#filter-name input').fill('');
      assert.equal(await opacity('lm_head'), '1');
      assert.equal(await page.locator('#heatmap-matches').textContent(), '');
      await choose(panel, '#filter-status', 'pass');
      assert.deepEqual(await marked(), NAMES.slice(0, -1), 'every layer passes 2:4 but the dense head');
    });
  });

  describe('item 3: empty and broken states', () => {
    test('a model where nothing is recognised says which ops it has, the unknown weight-bearing ops it counted, and what the tool reads', async () => {
      const withUnknown = {
        ...NOTHING_RECOGNISED,
        graph: graph({
          name: 'elementwise-and-foo',
          nodes: [...NOTHING_RECOGNISED.graph.node!, node('Foo', ['Y', 'Wf'], ['Z'], {}, { name: 'foo', domain: 'com.example' })],
          inputs: [valueInfo('X', 'float32', [1, 8])],
          outputs: [valueInfo('Z', 'float32', [1, 8])],
          initializers: [...NOTHING_RECOGNISED.graph.initializer!, makeTensor({ name: 'Wf', dtype: 'float32', dims: [8, 8], values: new Array(64).fill(0.5) })],
        }),
        extraOpsets: [{ domain: 'com.example', version: 1 }],
      };
      const empty = await inspectSpec(withUnknown);
      assert.equal(empty.layers.length, 0);
      assert.deepEqual(empty.graphOps, [
        { op: 'Add', domain: '', nodes: 1 },
        { op: 'Foo', domain: 'com.example', nodes: 1 },
        { op: 'Mul', domain: '', nodes: 1 },
        { op: 'Relu', domain: '', nodes: 1 },
      ]);
      assert.deepEqual(empty.unrecognized, [{ op: 'Foo', domain: 'com.example', nodes: 1 }]);
      const panel = await panelWith(empty, 'light', 'elementwise.onnx');
      assert.equal(await panel.page.locator('.heat-cell').count(), 0);
      const why = panel.page.locator('#empty-model');
      assert.equal(await why.locator('h3').textContent(), 'No layers to scan');
      assert.equal(await why.locator('#empty-seen').textContent(), 'The model has 4 nodes: 1 Add, 1 Foo (com.example), 1 Mul, 1 Relu. None of them takes a constant weight of an op this tool reads.');
      assert.equal(await why.locator('#empty-unknown').textContent(), 'It counted 1 node with constant weights of ops it does not know: 1 Foo (com.example).');
      const supported = (await why.locator('#empty-supported').textContent())!;
      assert.match(supported, /^Weights are read from Conv, ConvInteger, QLinearConv, MatMul, MatMulInteger, QLinearMatMul, Gemm and ONNX Runtime’s QGemm, .*MatMulNBits, MoE, QMoE \(com\.microsoft\), where the weight is a constant .* through DequantizeLinear, QuantizeLinear, Cast, Identity, Transpose\.$/);
      await panel.page.screenshot({ path: join(ARTIFACTS, 'panel-light-empty.png'), fullPage: true });
      // Without unknown ops: no line about them. With layers: no explanation at all.
      const plain = await panelWith(await inspectSpec(NOTHING_RECOGNISED), 'dark');
      assert.equal(await plain.page.locator('#empty-seen').textContent(), 'The model has 3 nodes: 1 Add, 1 Mul, 1 Relu. None of them takes a constant weight of an op this tool reads.');
      assert.equal(await plain.page.locator('#empty-unknown').count(), 0);
      await plain.send({ type: 'report', report });
      assert.equal(await plain.page.locator('#empty-model').count(), 0);
      assert.equal(report.graphOps, undefined, 'a report with layers lists no ops');
    });
  });

  describe('item 3: which failures offer Retry', () => {
    test('a file cut short may still be downloading: retryable; a malformed file is not; a locked or vanished one is', async () => {
      const dir = tempDir();
      const cut = join(dir, 'cut.onnx');
      writeFileSync(cut, readFileSync(SAMPLE).subarray(0, 80_000));
      const garbage = join(dir, 'garbage.onnx');
      writeFileSync(garbage, Buffer.from('this is not a model, just text that no ONNX reader takes'));
      const failure = (path: string) => inspectModel(path, { workers: 0 }).then(() => assert.fail(`${path} was read`), (err: unknown) => err);
      const cutErr = await failure(cut);
      assert.ok(cutErr instanceof ModelError && /the file has 80\.0 kB: an incomplete download or copy\?/.test(cutErr.message), String(cutErr));
      assert.equal(canRetry(cutErr), true);
      const garbageErr = await failure(garbage);
      assert.ok(garbageErr instanceof ModelError && /not a readable ONNX model/.test(garbageErr.message), String(garbageErr));
      assert.equal(canRetry(garbageErr), false);
      assert.equal(canRetry(await failure(join(dir, 'missing.onnx'))), true, 'a file being replaced is missing for a moment');
      assert.equal(canRetry(Object.assign(new Error('resource busy or locked'), { code: 'EBUSY' })), true);
      assert.equal(canRetry(Object.assign(new Error('permission denied'), { code: 'EACCES' })), false);
      assert.equal(canRetry(new Error('anything else')), false);
    });

    test('through the worker: the failure says whether it is retryable', async () => {
      const dir = tempDir();
      const cut = join(dir, 'cut.onnx');
      writeFileSync(cut, readFileSync(SAMPLE).subarray(0, 80_000));
      const engine = new EngineClient(ROOT, { appendLine: () => undefined } as unknown as OutputChannel);
      const inspect = (path: string) => engine.request<'inspected'>({ type: 'inspect', path, settings: { pattern: '2:4', hardware: 'a100', dims: {} }, engine: { gridMax: 128, nearlyThreshold: 0.99, workers: 0 } });
      try {
        await assert.rejects(inspect(cut), (err) => err instanceof EngineFailure && err.retryable && retryable(err));
        await assert.rejects(inspect(join(ROOT, 'README.md')), (err) => err instanceof EngineFailure && !err.retryable && !retryable(err));
      } finally {
        await engine.dispose();
      }
    });

    test('a model that cannot be read turns Convert and Export off and says why; Retry only when the host offers it; a report turns them on', async () => {
      const panel = await PanelPage.open(browser);
      open.push(panel);
      await panel.send(modelMessage('garbage.onnx'));
      await panel.send({ type: 'error', message: 'garbage.onnx: not a readable ONNX model: truncated or corrupt (field 7 at byte 19 claims 13942186 bytes)', retry: false, unreadable: true });
      const disabled = (id: string) => panel.page.locator(`#${id}`).evaluate((b) => (b as unknown as { disabled: boolean }).disabled);
      assert.equal(await disabled('convert'), true);
      assert.equal(await disabled('export'), true);
      assert.equal(await panel.page.locator('#actions-off').textContent(), 'Convert and Export are off: the model could not be read (the message above says why).');
      assert.equal(await panel.page.locator('#retry').count(), 0, 'a malformed file gets no Retry');
      await panel.page.click('#convert', { force: true });
      await panel.page.click('#export', { force: true });
      assert.deepEqual(await panel.posted(), [{ type: 'ready' }], 'a disabled action sends nothing');
      await panel.page.screenshot({ path: join(ARTIFACTS, 'panel-light-unreadable.png'), clip: { x: 0, y: 0, width: 1200, height: 300 } });
      // A file cut short: the host offers Retry; once the file is whole, the report turns the actions back on.
      await panel.send({ type: 'error', message: 'cut.onnx: the model needs 162.8 kB, the file has 80.0 kB: an incomplete download or copy?', retry: true, unreadable: true });
      await panel.page.click('#retry');
      await panel.waitForMessage('retry');
      await panel.send({ type: 'report', report });
      assert.equal(await disabled('convert'), false);
      assert.equal(await disabled('export'), false);
      assert.equal(await panel.page.locator('#actions-off').isVisible(), false);
      // A failure after a report (a zoom's region, say) leaves the report and its actions usable.
      await panel.send({ type: 'error', message: 'the engine worker stopped', retry: true, unreadable: false });
      assert.equal(await disabled('convert'), false);
    });

    test('a model without layers has nothing to convert: Convert is off with the reason, Export stays on', async () => {
      const panel = await panelWith(await inspectSpec(NOTHING_RECOGNISED));
      const state = (id: string) => panel.page.locator(`#${id}`).evaluate((b) => [(b as unknown as { disabled: boolean }).disabled, (b as unknown as { title: string }).title]);
      assert.deepEqual(await state('convert'), [true, 'No layer to convert: the panel says why']);
      assert.deepEqual(await state('export'), [false, '']);
    });
  });

  describe('item 6: encodings', () => {
    // uint8 weights [K 16, N 8] with zero point 128 through DequantizeLinear: every group keeps e0 e1 (129, 130...) and
    // holds the zero point at e2 e3, except output feature 0's group 1 (K 4-7), which keeps three: the first rows
    // cannot be encoded, while output feature 1's group 0 can.
    const K = 16;
    const N = 8;
    const codes = Array.from({ length: K * N }, (_, i) => {
      const [k, n] = [Math.floor(i / N), i % N];
      if (n === 0 && k >= 4 && k < 8) return k === 7 ? 128 : 130 + (k % 4);
      return k % 4 < 2 ? 129 + (k % 4) + n : 128;
    });
    const QUANTIZED = {
      graph: graph({
        name: 'quantized',
        nodes: [node('DequantizeLinear', ['Wq', 's', 'zp'], ['W'], {}, { name: 'dq' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, K])],
        outputs: [valueInfo('Y', 'float32', [1, N])],
        initializers: [
          makeTensor({ name: 'Wq', dtype: 'uint8', dims: [K, N], values: codes }),
          makeTensor({ name: 's', dtype: 'float32', dims: [], values: [0.01] }),
          makeTensor({ name: 'zp', dtype: 'uint8', dims: [], values: [128] }),
        ],
      }),
    };

    test("the picked group's facts stand apart from the first rows' hex, which says what it covers and what there cannot be encoded; zeros name the zero point; index[1] says it counts from e1", async () => {
      const path = writeTempModel(QUANTIZED);
      const quantized = await inspectFile(path);
      assert.equal(layer(quantized, 'fc').validGroups, layer(quantized, 'fc').groups - 1);
      const panel = await panelWith(quantized);
      await panel.page.click('.heat-cell[data-layer="fc"]');
      // The tile map has a row of tiles per output feature: output feature 1's tile, then its first group.
      await panel.page.locator('canvas#tile-map').focus();
      await panel.page.keyboard.press('ArrowDown');
      await panel.page.keyboard.press('Enter');
      const region = (await panel.waitForMessage('region')).region;
      await panel.send({ type: 'region', groups: readRegion(path, { n: 2, m: 4 }, region) });
      await panel.page.locator('canvas#zoom-grid').focus();
      await panel.page.keyboard.press('Enter');
      const asked = await panel.waitForMessage('encodings');
      assert.deepEqual([asked.row, asked.group], [1, 0], JSON.stringify([asked, region]));
      const encodings = readGroupEncodings(path, { n: 2, m: 4 }, 'fc', 1, 0, 0);
      assert.deepEqual([encodings.values, encodings.zeroPoints, encodings.hexRows], [['130', '131', '128', '128'], [128, 128, 128, 128], 4]);
      assert.equal(encodings.problem, undefined, 'the picked group encodes');
      assert.deepEqual(encodings.hex.map((h) => h.title), ['Ascend']);
      assert.match(encodings.hex[0].lines[0], /^not encodable: .*row 0, group 1/);
      await panel.send({ type: 'encodings', encodings });
      const view = panel.page.locator('#encodings');
      await view.waitFor();
      await panel.page.screenshot({ path: join(ARTIFACTS, 'panel-light-encodings-zero-point.png'), fullPage: true });
      // The group: its zeros equal the zero point and say so.
      assert.deepEqual(await view.locator('.group-values li.zero .zero-point').allTextContents(), ['= zero point 128', '= zero point 128']);
      assert.equal(await view.locator('.group-values li.nonzero .zero-point').count(), 0);
      const facts = await view.locator('dl.encoding-facts').evaluate((dl) => Object.fromEntries([...(dl as unknown as { querySelectorAll(s: string): Iterable<{ textContent: string; nextElementSibling: { textContent: string } }> }).querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
      assert.equal(facts['Zero point'], '128');
      assert.equal(facts['Ascend index[0]'], `${encodings.ascend!.index0} (the first non-zero among e0–e2 is e0)`);
      assert.equal(facts['Ascend index[1]'], `${encodings.ascend!.index1} (the last non-zero among e1–e3 is e1, counted from e1: 00 = e1, 01 = e2, 10 = e3)`);
      assert.deepEqual([encodings.ascend!.index0, encodings.ascend!.index1], ['00', '00']);
      // The picked group has no problem line; the first rows' failure is in the hex part, naming what it covers.
      assert.equal(await view.locator('#group-problem').count(), 0);
      const preview = view.locator('#hex-preview');
      assert.equal(await preview.locator('#hex-scope').textContent(), "The hex below covers the layer's first 4 rows (output features 0–3) at position 0, not only the picked group.");
      const problems = await preview.locator('.layer-problem').allTextContents();
      assert.equal(problems.length, 1);
      assert.match(problems[0], /^Ascend: the layer's first 4 rows \(output features 0–3\) at position 0 cannot be encoded: .*row 0, group 1/);
      assert.equal(await preview.locator('figure.hex').count(), 0);
    });
  });

  describe('item 8: small things', () => {
    test('at 100 % the progress says the report is being built, not a still "Scanning: 100 %"', async () => {
      const panel = await PanelPage.open(browser);
      open.push(panel);
      await panel.send(modelMessage());
      await panel.send({ type: 'progress', done: 40, total: 100, what: '' });
      assert.equal(await panel.page.locator('#progress-text').textContent(), 'Scanning: 40 %');
      await panel.send({ type: 'progress', done: 100, total: 100, what: '' });
      assert.equal(await panel.page.locator('#progress-text').textContent(), 'Weights read: building the report…');
      assert.equal(await panel.page.locator('#progress-rate').textContent(), '');
      await panel.send({ type: 'report', report });
      assert.equal(await panel.page.locator('#progress-text').textContent(), `Scan complete: ${report.summary.layers} layers.`);
    });

    test("no header of the layer table breaks inside a word, empty or full, wide or narrow", async () => {
      const empty = await inspectSpec(NOTHING_RECOGNISED);
      for (const r of [empty, report]) {
        const panel = await panelWith(r);
        for (const width of [1200, 900, 640]) {
          await panel.page.setViewportSize({ width, height: 900 });
          const lines = await panel.page.locator('[role="columnheader"]').evaluateAll((cells) =>
            cells.map((cell) => {
              const range = ((globalThis as unknown as Win).document.createRange() as { selectNodeContents(n: unknown): void; getClientRects(): ArrayLike<{ top: number }> });
              range.selectNodeContents(cell);
              // One line box per line the title takes.
              const box = cell as { textContent: string; scrollWidth: number; clientWidth: number };
              return [box.textContent, new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size, box.scrollWidth - box.clientWidth] as const;
            }),
          );
          assert.equal(lines.length, 9, 'every column header measured');
          for (const [title, n, overflow] of lines) {
            // A line per word at most ("Valid / groups" may wrap at a space): a one-word title on two lines is cut inside.
            assert.ok(n <= title.split(' ').filter((w) => w.length > 1).length, `${r.layers.length} layers, ${width} px: '${title}' takes ${n} lines`);
            assert.ok(overflow <= 0, `${r.layers.length} layers, ${width} px: '${title}' overflows its cell by ${overflow} px`);
          }
        }
      }
    });

    test('aria-sort says what the order is: lowest compliance first is ascending, largest first descending, failing first "other"', async () => {
      const panel = await panelWith(report);
      const sorted = () => panel.page.locator('[role="columnheader"][aria-sort]').evaluateAll((cells) => cells.map((c) => [(c as { textContent: string }).textContent, (c as { getAttribute(n: string): string }).getAttribute('aria-sort')]));
      assert.deepEqual(await sorted(), [['Status', 'other']]);
      await choose(panel, '#sort', 'compliance');
      assert.deepEqual(await sorted(), [['Compliance', 'ascending']]);
      await choose(panel, '#sort', 'size');
      assert.deepEqual(await sorted(), [['Parameters', 'descending']]);
      await choose(panel, '#sort', 'name');
      assert.deepEqual(await sorted(), [['Layer', 'ascending']]);
    });

    test('Tab after "Back" on a layer without a tile map stays in the layer, and Shift+Tab comes back', async () => {
      const panel = await panelWith(report);
      await panel.page.click('.heat-cell[data-layer="dw"]');
      assert.equal(await panel.page.locator('canvas#tile-map').count(), 0);
      await panel.page.locator('#back').focus();
      await panel.page.keyboard.press('Tab');
      const inside = () => panel.page.evaluate(() => {
        const active = (globalThis as unknown as Win).document.activeElement as { closest(s: string): unknown; id: string } | null;
        return active ? [Boolean(active.closest('#drilldown')), active.id] : [false, ''];
      });
      const [within, id] = await inside();
      assert.equal(within, true, `focus went to '${id}', outside the layer`);
      assert.equal(id, 'layer-facts');
      await panel.page.keyboard.press('Shift+Tab');
      assert.equal(await panel.page.evaluate(() => ((globalThis as unknown as Win).document.activeElement as { id: string }).id), 'back');
    });

    /** The colour of text in `selector` against the panel's background, WCAG 2.x. */
    async function textContrast(panel: PanelPage, selector: string): Promise<number> {
      const [fg, bg] = await panel.page.locator(selector).first().evaluate((e) => [(globalThis as unknown as Win).getComputedStyle(e).color, (globalThis as unknown as Win).getComputedStyle((globalThis as unknown as Win).document.querySelector('body')).backgroundColor]);
      return contrast(over(parseColour(fg), parseColour(bg).rgb), parseColour(bg).rgb);
    }

    for (const theme of ['light', 'dark', 'high-contrast'] as const) {
      test(`warning text meets WCAG AA (4.5:1) in ${theme}: the layer's warnings, the model's, the speedup traps`, async () => {
        const warned = structuredClone(report);
        warned.warnings = ['a model-level warning'];
        const panel = await panelWith(warned, theme);
        assert.ok((await textContrast(panel, '#model-warnings li')) >= 4.5, `model warnings: ${(await textContrast(panel, '#model-warnings li')).toFixed(2)}`);
        await panel.page.click('#tab-speedup');
        assert.ok((await panel.page.locator('.speedup-layer .flags li').count()) > 0, 'the sample has speedup traps');
        const flags = await textContrast(panel, '.speedup-layer .flags li');
        assert.ok(flags >= 4.5, `speedup traps: ${flags.toFixed(2)}`);
        await panel.page.click('#tab-layers');
        await panel.page.click('.heat-cell[data-layer="conv2"]');
        assert.ok(layer(report, 'conv2').warnings.length > 0);
        const warnings = await textContrast(panel, '#layer-warnings li');
        assert.ok(warnings >= 4.5, `layer warnings: ${warnings.toFixed(2)}`);
      });
    }

    test('high contrast: a violating group is filled in a colour that stands out from the black background (3:1, WCAG non-text)', async () => {
      const panel = await panelWith(report, 'high-contrast');
      await panel.page.click('.heat-cell[data-layer="conv2"]');
      await panel.page.locator('canvas#tile-map').focus();
      await panel.page.keyboard.press('Enter');
      const asked = (await panel.waitForMessage('region')).region;
      // Every group e0 e1 e2 kept, e3 zero: three non-zeros, violating 2:4; e3's square shows only the group's fill.
      const n = (asked.row1 - asked.row0) * (asked.group1 - asked.group0);
      await panel.send({ type: 'region', groups: { ...asked, m: 4, counts: new Array(n).fill(3), masks: new Array(n).fill(0b0111) } });
      const zoom = panel.page.locator('canvas#zoom-grid');
      await zoom.waitFor();
      await panel.page.screenshot({ path: join(ARTIFACTS, 'panel-high-contrast-violating.png'), fullPage: true });
      const [pixel, bg] = await zoom.evaluate((canvas) => {
        const c = canvas as { width: number; style: { width: string }; getContext(k: string): { getImageData(x: number, y: number, w: number, h: number): { data: number[] } } };
        const ratio = c.width / parseFloat(c.style.width);
        // Cell (0, 0): gap 3, four elements of `size` px each; the middle of e3.
        const size = (parseFloat(c.style.width) - 3) / (Number((canvas as { getAttribute(n: string): string }).getAttribute('data-cols'))) - 3;
        const element = size / 4;
        const d = c.getContext('2d').getImageData(Math.round((3 + 3.5 * element) * ratio), Math.round((3 + element / 2) * ratio), 1, 1).data;
        return [Array.from(d), (globalThis as unknown as Win).getComputedStyle((globalThis as unknown as Win).document.querySelector('body')).backgroundColor];
      });
      const background = parseColour(bg).rgb;
      const fill = over({ rgb: pixel.slice(0, 3) as Rgb, alpha: pixel[3] / 255 }, background);
      const ratio = contrast(fill, background);
      assert.ok(ratio >= 3, `violating fill ${fill.map(Math.round)} on ${background}: ${ratio.toFixed(2)}`);
    });
  });
});
