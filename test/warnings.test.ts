// Models that break the ONNX spec in ways that change the answer (what onnx.checker rejects) carry model-level
// warnings that say what is wrong and what the tool assumed, in the JSON, table and Markdown reports and the panel's
// summary; CSV stays one row per layer. Each model is built in code and breaks exactly one rule.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import type { Browser } from 'playwright-core';
import { type ModelSpec, graph, makeTensor, node, valueInfo } from './support/builder';
import { formatReport } from '../src/engine/report/format';
import type { InspectReport } from '../src/engine/sparsity/inspect';
import { inspectSpec, layer } from './support/models';
import { PanelPage, launchChromium } from './support/webview-page';

/** A MatMul weight [8, 4]: 2:4-compliant along K (axis 0) when `compliant`, dense otherwise. */
function weight(name: string, compliant: boolean): onnx.ITensorProto {
  return makeTensor({ name, dtype: 'float32', dims: [8, 4], values: Array.from({ length: 32 }, (_, i) => (compliant && Math.floor(i / 4) % 4 >= 2 ? 0 : i + 1)) });
}

function model(nodes: onnx.INodeProto[], initializers: onnx.ITensorProto[] = [], extra: Partial<Parameters<typeof graph>[0]> = {}): ModelSpec {
  return {
    graph: graph({ name: 'g', nodes, inputs: [valueInfo('X', 'float32', [1, 8])], outputs: [valueInfo('Y', 'float32', [1, 4])], initializers, ...extra }),
  };
}

/** One warning, in every format: JSON whole, table and Markdown as lines, CSV untouched (one row per layer, no warning text). */
function assertInEveryFormat(report: InspectReport, expected: RegExp): void {
  assert.equal(report.warnings.length, 1, report.warnings.join('\n'));
  const [warning] = report.warnings;
  assert.match(warning, expected);
  assert.deepEqual(JSON.parse(formatReport(report, 'json')).warnings, report.warnings);
  const table = formatReport(report, 'table').split('\n');
  assert.ok(table.includes(`warning: ${warning}`), table.join('\n'));
  assert.ok(table.includes('1 warning: the model breaks the ONNX spec; what the tool assumed'));
  const markdown = formatReport(report, 'markdown').split('\n');
  assert.ok(markdown.includes('## 1 warning: the model breaks the ONNX spec; what the tool assumed'));
  assert.ok(markdown.includes(`- ${warning.replace(/[\\|]/g, (c) => `\\${c}`)}`), markdown.join('\n'));
  const csv = formatReport(report, 'csv').trimEnd().split('\n');
  assert.equal(csv.length, report.layers.length + 1);
  assert.ok(!csv.some((line) => line.includes('warning') || line.includes('ONNX')), csv.join('\n'));
}

describe('model-level warnings: what breaks the ONNX spec, and what the tool assumed', () => {
  test('a model that keeps the rules has no warnings, and its reports say none', async () => {
    const report = await inspectSpec(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', true)]));
    assert.deepEqual(report.warnings, []);
    assert.deepEqual(JSON.parse(formatReport(report, 'json')).warnings, []);
    assert.doesNotMatch(formatReport(report, 'table'), /warning/);
    assert.doesNotMatch(formatReport(report, 'markdown'), /warning/);
  });

  test('nodes out of order: the layer is still found and scanned, and the warning names the late producer', async () => {
    const report = await inspectSpec(
      model([node('Relu', ['H'], ['Y'], {}, { name: 'act' }), node('MatMul', ['X', 'W'], ['H'], {}, { name: 'fc' })], [weight('W', true)]),
    );
    assertInEveryFormat(report, /^a node reads a value that a later node produces .*; 1 found: node 'act' reads 'H' from node 'fc' after it in main\. The tool finds layers .* as if the nodes were sorted/);
    assert.equal(layer(report, 'fc').compliance, 1);
  });

  test('a subgraph reading an outer value produced after the node that holds it is out of order', async () => {
    const thenBranch = graph({ name: 'then', nodes: [node('Relu', ['late'], ['t'], {}, { name: 'inner' })], inputs: [], outputs: [valueInfo('t', 'float32', [1, 8])] });
    const elseBranch = graph({ name: 'else', nodes: [node('Identity', ['X'], ['e'], {}, { name: 'same' })], inputs: [], outputs: [valueInfo('e', 'float32', [1, 8])] });
    const report = await inspectSpec(
      model(
        [
          node('If', ['cond'], ['B'], { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } }, { name: 'branch' }),
          node('Relu', ['X'], ['late'], {}, { name: 'producer' }),
          node('MatMul', ['B', 'W'], ['Y'], {}, { name: 'fc' }),
        ],
        [weight('W', true)],
        { inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('cond', 'float32', [])] },
      ),
    );
    assertInEveryFormat(report, /; 1 found: node 'inner' in main\/branch\.then_branch reads 'late' from node 'producer' of main, which stands after the node holding the subgraph\./);
  });

  test('a cycle in the main graph and one in a subgraph: one warning counting both, each cycle spelled out', async () => {
    const loopy = graph({
      name: 'loopy',
      nodes: [node('Add', ['X', 'c'], ['a'], {}, { name: 'inner_add' }), node('Relu', ['a'], ['c'], {}, { name: 'inner_relu' })],
      inputs: [],
      outputs: [valueInfo('a', 'float32', [1, 8])],
    });
    const plain = graph({ name: 'plain', nodes: [node('Identity', ['X'], ['p'], {}, { name: 'copy' })], inputs: [], outputs: [valueInfo('p', 'float32', [1, 8])] });
    const report = await inspectSpec(
      model(
        [
          node('Add', ['X', 'r'], ['s'], {}, { name: 'add' }),
          node('Relu', ['s'], ['r'], {}, { name: 'relu' }),
          node('If', ['cond'], ['B'], { then_branch: { graph: loopy }, else_branch: { graph: plain } }, { name: 'branch' }),
          node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' }),
        ],
        [weight('W', true)],
        { inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('cond', 'float32', [])] },
      ),
    );
    const cycle = report.warnings.find((w) => w.startsWith('the graph has a cycle'));
    assert.equal(cycle, "the graph has a cycle (ONNX graphs are acyclic); 2 found: node 'inner_add' -> node 'inner_relu' -> node 'inner_add' in main/branch.then_branch; node 'add' -> node 'relu' -> node 'add' in main. The tool treats values on the cycle as computed at run time: a weight reached only through the cycle is not scanned, and their shapes stay unknown.");
    // A cycle always has a read before its producer: the order warning comes with it, and both are shown.
    assert.equal(report.warnings.length, 2);
    for (const format of ['table', 'markdown'] as const) assert.ok(formatReport(report, format).includes('2 warnings: the model breaks the ONNX spec'));
  });

  test('two initializers with one name: the tool reads the last one stored, and says so', async () => {
    const report = await inspectSpec(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', false), weight('W', true)]));
    assertInEveryFormat(report, /^two initializers share one name; 1 found: 'W' in main\. The tool reads the last one stored/);
    assert.equal(layer(report, 'fc').compliance, 1, 'the last initializer (compliant) is the one scanned');
  });

  test('two nodes producing one name, and a node output shadowing an initializer', async () => {
    const report = await inspectSpec(
      model(
        [
          node('Relu', ['X'], ['H'], {}, { name: 'first' }),
          node('Sigmoid', ['X'], ['H'], {}, { name: 'second' }),
          node('Constant', [], ['W'], { value: weight('W_node', false) }, { name: 'shadow' }),
          node('MatMul', ['H', 'W'], ['Y'], {}, { name: 'fc' }),
        ],
        [weight('W', true)],
      ),
    );
    assertInEveryFormat(report, /^one name is produced twice .*; 2 found: 'H' by node 'first' and node 'second' in main; 'W' by an initializer and node 'shadow' in main\. The tool takes the value from the last node/);
    // The node's output wins over the initializer: the dense Constant is scanned, not the compliant initializer.
    assert.ok(layer(report, 'fc').compliance! < 1);
  });

  test('a tensor with raw_data and float_data: the warning says which one was read', async () => {
    const w = { ...weight('W', true), floatData: Array.from({ length: 32 }, (_, i) => i + 1) };
    const report = await inspectSpec(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [w]));
    assertInEveryFormat(report, /^a tensor holds its values in two fields at once; 1 found: 'W' in main has float_data and raw_data: read raw_data\. The tool reads one field, in this order: external data/);
    assert.equal(layer(report, 'fc').compliance, 1, 'raw_data (compliant) is what was scanned');
  });

  test('a Constant node tensor with int32_data beside float_data: the typed field of its data type is read', async () => {
    const value = { ...makeTensor({ name: 'Wc', dtype: 'float32', dims: [8, 4], values: Array.from({ length: 32 }, (_, i) => i), storage: 'typed' }), int32Data: [1, 2, 3] };
    const report = await inspectSpec(model([node('Constant', [], ['W'], { value }, { name: 'const' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })]));
    assertInEveryFormat(report, /; 1 found: 'Wc' in main has float_data and int32_data: read float_data\./);
  });

  test('a node input that nothing produces: treated as given at run time', async () => {
    const report = await inspectSpec(model([node('MatMul', ['X', 'ghost'], ['Y'], {}, { name: 'fc' })]));
    assertInEveryFormat(report, /^a node reads a value that no node, initializer or graph input produces; 1 found: node 'fc' reads 'ghost' in main\. The tool treats such a value as given at run time/);
  });

  test("an initializer whose type contradicts its graph input's declaration: the initializer's own type is used", async () => {
    const report = await inspectSpec(
      model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', true)], {
        inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('W', 'float16', [8, 4])],
        valueInfo: [],
      }),
    );
    assertInEveryFormat(report, /^an initializer's data type or dims differ .*; 1 found: 'W' in main is stored as float32 \[8, 4\], declared float16 \[8, 4\]\. The tool uses the initializer's own data type and dims\./);
    assert.equal(layer(report, 'fc').dtype, 'float32');
  });

  test('a value_info declaring other dims for an initializer', async () => {
    const report = await inspectSpec(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', true)], { valueInfo: [valueInfo('W', 'float32', [4, 'k'])] }));
    assertInEveryFormat(report, /'W' in main is stored as float32 \[8, 4\], declared float32 \[4, k\]/);
  });

  test('100,000 nodes stored in reverse order: one warning that counts every late read (linear: a quadratic check would not finish)', async () => {
    const n = 100_000;
    const nodes: onnx.INodeProto[] = [];
    for (let i = n - 1; i >= 0; i--) nodes.push(node('Relu', [i === 0 ? 'X' : `v${i - 1}`], [i === n - 1 ? 'Y' : `v${i}`]));
    const report = await inspectSpec(model(nodes));
    assert.equal(report.warnings.length, 1);
    assert.match(report.warnings[0], /^a node reads a value that a later node produces .*; 99999 found: Relu node #0 reads 'v99998' from Relu node #1 after it in main; .*; 99996 more\./);
  });
});

describe('model-level warnings in the panel summary (Chromium)', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  test('each warning is listed under the summary; a clean model lists none', async () => {
    const broken = await inspectSpec(model([node('MatMul', ['X', 'ghost'], ['H'], {}, { name: 'fc' }), node('Relu', ['H'], ['Y']), node('Relu', ['X'], ['Y'])]));
    assert.equal(broken.warnings.length, 2);
    const clean = await inspectSpec(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', true)]));
    const panel = await PanelPage.open(browser);
    try {
      await panel.send({ type: 'model', name: 'model.onnx', settings: { pattern: '2:4', hardware: 'a100' }, hardwareProfiles: ['a100'] });
      await panel.send({ type: 'report', report: broken });
      const items = panel.page.locator('#model-warnings li');
      await items.first().waitFor();
      assert.deepEqual(await items.allTextContents(), broken.warnings.map((w) => `⚠ ${w}`));
      assert.equal(await panel.page.locator('#model-warnings').getAttribute('aria-label'), '2 model warnings');
      await panel.send({ type: 'report', report: clean });
      await panel.page.locator('#model-warnings').waitFor({ state: 'hidden' });
      assert.deepEqual(panel.errors, []);
    } finally {
      await panel.close();
    }
  });
});
