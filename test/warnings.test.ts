// Models that break the ONNX spec in ways that change the answer (what onnx.checker rejects) carry model-level
// warnings that say what is wrong and what the tool assumed, in the JSON, table and Markdown reports and the panel's
// summary; CSV stays one row per layer. Each model is built in code and breaks exactly one rule. Layers whose
// sparsity is fragile (-0.0 zeros, zeros held by a zero point) carry warnings of their own, with exact counts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import type { Browser } from 'playwright-core';
import { type DTypeName, type ModelSpec, encodeModel, graph, makeTensor, node, valueInfo } from './support/builder';
import { tensor, twoOfFourAlong } from './support/patterns';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { MemorySource } from '../src/engine/onnx/source';
import { ExternalFiles, openTensor } from '../src/engine/onnx/tensorData';
import { type ScanStats, ShapeInfo } from '../src/engine/sparsity/kernel';
import type { Pattern } from '../src/engine/sparsity/pattern';
import { scanPart, wholeTensor } from '../src/engine/sparsity/scan';
import { simdApplies } from '../src/engine/sparsity/simd/simdScan';
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

// ---------------------------------------------------------------------------
// Fragile sparsity (issue 12): zeros the scan counts whose encoding a runtime may not read as zero, warned on the
// layer with the exact count: -0.0 in float weights (vLLM issue #13198), and integer zeros held by a zero point.

/** Bit patterns of 1.0, +0 and -0 per float type (float32 as values); fnuz types have no -0 (0x80 is NaN). */
const FLOAT_CODES: Record<string, { one: number; negativeZero: number }> = {
  float32: { one: 1, negativeZero: -0 },
  float16: { one: 0x3c00, negativeZero: 0x8000 },
  bfloat16: { one: 0x3f80, negativeZero: 0x8000 },
  float8e4m3fn: { one: 0x38, negativeZero: 0x80 },
  float8e5m2: { one: 0x3c, negativeZero: 0x80 },
  float4e2m1: { one: 0x2, negativeZero: 0x8 },
};

/**
 * A weight 2:4 along `kAxis` whose pruned places hold -0 wherever `negativeAt(i)` (else +0), and how many it placed:
 * the expected count comes from the construction, not from the tool.
 */
function signedZeroWeight(dtype: DTypeName, dims: number[], kAxis: number, negativeAt: (i: number) => boolean): { values: number[]; negatives: number; zeros: number } {
  const { one, negativeZero } = FLOAT_CODES[dtype];
  const stride = dims.slice(kAxis + 1).reduce((a, d) => a * d, 1);
  const values: number[] = [];
  let negatives = 0;
  let zeros = 0;
  for (let i = 0; i < dims.reduce((a, d) => a * d, 1); i++) {
    const k = Math.floor(i / stride) % dims[kAxis];
    if (k % 4 < 2) values.push(one);
    else {
      zeros++;
      const negative = negativeAt(i);
      if (negative) negatives++;
      values.push(negative ? negativeZero : 0);
    }
  }
  return { values, negatives, zeros };
}

/** One MatMul (B = W [K, N], K along axis 0) or Gemm transB (W [N, K], K along axis 1) reading `w`. */
function fragileModel(op: 'MatMul' | 'Gemm', w: onnx.ITensorProto, extra: { nodes?: onnx.INodeProto[]; initializers?: onnx.ITensorProto[]; weight?: string } = {}): ModelSpec {
  const attrs: Record<string, number> = op === 'Gemm' ? { transB: 1 } : {};
  return {
    graph: graph({
      name: 'g',
      nodes: [...(extra.nodes ?? []), node(op, ['X', extra.weight ?? w.name!], ['Y'], attrs, { name: 'fc' })],
      inputs: [valueInfo('X', 'float32', [1, 8])],
      outputs: [valueInfo('Y', 'float32', [1, 4])],
      initializers: [w, ...(extra.initializers ?? [])],
    }),
  };
}

const TWO_OF_FOUR: Pattern = { n: 2, m: 4 };

/** The weight's reader, as the scan sees it. */
function weightReader(t: onnx.ITensorProto) {
  const bytes = encodeModel({ graph: graph({ name: 'g', nodes: [node('Identity', [t.name!], ['y'])], inputs: [], outputs: [valueInfo('y', 'float32', [1])], initializers: [t] }) });
  const src = new MemorySource('w.onnx', bytes);
  return openTensor(src, readSkeleton(src).graph.initializers[0], new ExternalFiles('w.onnx'));
}

/** Negative zeros the scan counts with the JavaScript kernel and with the default (SIMD where it applies). */
function scanBoth(t: onnx.ITensorProto, dims: number[], kAxis: number): { js: ScanStats; auto: ScanStats } {
  const geometry = { dims, kAxis, rAxis: 1 - kAxis };
  const pattern = TWO_OF_FOUR;
  const part = wholeTensor(new ShapeInfo(geometry, pattern));
  return { js: scanPart(weightReader(t), { geometry, pattern, kernel: 'js' }, part), auto: scanPart(weightReader(t), { geometry, pattern }, part) };
}

describe('fragile sparsity: negative zeros in float weights', () => {
  // K = 68: the SIMD kernel's vector rows and its tails (a last short word row, N = 20 lanes: 2 vectors of 8 and 4 scalar lanes).
  const cases: [DTypeName, 'MatMul' | 'Gemm'][] = [
    ['float32', 'MatMul'], ['float32', 'Gemm'], ['float16', 'MatMul'], ['float16', 'Gemm'], ['bfloat16', 'MatMul'], ['bfloat16', 'Gemm'],
    ['float8e4m3fn', 'MatMul'], ['float8e5m2', 'Gemm'], ['float4e2m1', 'MatMul'], ['float4e2m1', 'Gemm'],
  ];
  for (const [dtype, op] of cases) {
    test(`${dtype} ${op}: the exact count of -0 among the zeros, the same from both kernels, in the layer's warning`, async () => {
      const dims = op === 'MatMul' ? [68, 20] : [20, 68];
      const kAxis = op === 'MatMul' ? 0 : 1;
      const { values, negatives, zeros } = signedZeroWeight(dtype, dims, kAxis, (i) => i % 7 === 3 || i % 11 === 0);
      assert.ok(negatives > 0 && negatives < zeros);
      const w = makeTensor({ name: 'W', dtype, dims, values, bits: dtype !== 'float32' });
      const { js, auto } = scanBoth(w, dims, kAxis);
      assert.equal(js.negativeZeros, negatives);
      assert.equal(auto.negativeZeros, negatives);
      assert.equal(auto.zeros, zeros);
      // float16, bfloat16 and float32 at M = 4 take the SIMD kernel: the two counts above come from two kernels.
      assert.equal(simdApplies(dtype, TWO_OF_FOUR, undefined), ['float32', 'float16', 'bfloat16'].includes(dtype));
      const fc = layer(await inspectSpec(fragileModel(op, w)), 'fc');
      assert.equal(fc.pass, true);
      assert.equal(fc.zeros, zeros);
      assert.equal(fc.negativeZeros, negatives);
      assert.equal(fc.zeroPointZeros, 0);
      const fragile = fc.warnings.filter((x) => x.includes('-0.0'));
      assert.deepEqual(fragile, [
        `${negatives} of its ${zeros} zeros are stored as -0.0 (sign bit set): counted as zero here, but a kernel or exporter that tests bits instead of values sees a non-zero (vLLM issue #13198); store +0.0 where the weight is pruned`,
      ]);
    });
  }

  test('weights with +0 only: no warning and a count of 0; fnuz float8 has no -0 (its 0x80 is NaN: non-zero, no warning)', async () => {
    for (const dtype of ['float16', 'float32', 'float8e4m3fn', 'float4e2m1'] as const) {
      const dims = [68, 20];
      const { values } = signedZeroWeight(dtype, dims, 0, () => false);
      const fc = layer(await inspectSpec(fragileModel('MatMul', makeTensor({ name: 'W', dtype, dims, values, bits: dtype !== 'float32' }))), 'fc');
      assert.equal(fc.negativeZeros, 0, dtype);
      assert.ok(!fc.warnings.some((x) => x.includes('-0.0') || x.includes('zero point')), `${dtype}: ${fc.warnings.join('; ')}`);
    }
    // float8e4m3fnuz: pruned places hold 0x80 at every 5th element: those are NaN (non-zero), not negative zeros.
    const dims = [68, 20];
    let nans = 0;
    const values = signedZeroWeight('float8e4m3fn', dims, 0, () => false).values.map((v, i) => (v === 0 && i % 5 === 0 ? (nans++, 0x80) : v === 0x38 ? 0x40 : v));
    const fc = layer(await inspectSpec(fragileModel('MatMul', makeTensor({ name: 'W', dtype: 'float8e4m3fnuz', dims, values, bits: true }))), 'fc');
    assert.equal(fc.negativeZeros, 0);
    assert.equal(fc.zeros, 68 * 20 / 2 - nans);
    assert.ok(!fc.warnings.some((x) => x.includes('-0.0')));
  });

  test('the warning is in the JSON, the table and Markdown notes; CSV carries the counts', async () => {
    const dims = [68, 20];
    const { values, negatives } = signedZeroWeight('float16', dims, 0, (i) => i % 13 === 0);
    const report = await inspectSpec(fragileModel('MatMul', makeTensor({ name: 'W', dtype: 'float16', dims, values, bits: true })));
    const fc = layer(report, 'fc');
    const warning = fc.warnings.find((x) => x.includes('-0.0'))!;
    assert.ok(warning.startsWith(`${negatives} of its `));
    assert.deepEqual(JSON.parse(formatReport(report, 'json')).layers[0].warnings, fc.warnings);
    assert.ok(formatReport(report, 'table').includes(warning));
    assert.ok(formatReport(report, 'markdown').includes(warning));
    const csv = formatReport(report, 'csv').trimEnd().split('\n');
    const header = csv[0].split(',');
    const row = csv[1].split(',');
    assert.equal(row[header.indexOf('negativeZeros')], String(negatives));
    assert.equal(row[header.indexOf('zeroPointZeros')], '0');
  });
});

describe('fragile sparsity: integer zeros held by a non-zero zero point', () => {
  /** An int weight behind DequantizeLinear with zero point `zp` (per tensor or per column of [K, N]): 2:4 along K. */
  function quantized(dtype: DTypeName, dims: number[], zp: number[]): { spec: ModelSpec; held: number; zeros: number } {
    const zeroAt = (i: number) => (zp.length === 1 ? zp[0] : zp[i % dims[1]]);
    const values = twoOfFourAlong(dims, 0, zeroAt);
    let held = 0;
    let zeros = 0;
    values.forEach((v, i) => {
      if (v === zeroAt(i)) {
        zeros++;
        if (zeroAt(i) !== 0) held++;
      }
    });
    const dq = node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], zp.length > 1 ? { axis: 1 } : {}, { name: 'dq' });
    const spec = fragileModel('MatMul', tensor('Wq', dtype, dims, values), {
      nodes: [dq],
      weight: 'W',
      initializers: [tensor('scale', 'float32', zp.length > 1 ? [zp.length] : [], zp.map(() => 0.5)), tensor('zp', dtype, zp.length > 1 ? [zp.length] : [], zp)],
    });
    return { spec: { ...spec, opset: 21 }, held, zeros };
  }

  test('uint8 with zero point 128: every zero is a code 128, named in the warning', async () => {
    const { spec, held, zeros } = quantized('uint8', [16, 8], [128]);
    assert.equal(held, zeros);
    const fc = layer(await inspectSpec(spec), 'fc');
    assert.equal(fc.zeroPointZeros, zeros);
    assert.equal(fc.negativeZeros, 0);
    assert.deepEqual(fc.warnings.filter((x) => x.includes('zero point')), [
      `${zeros} of its ${zeros} zeros are codes equal to a non-zero zero point (128), not 0: a runtime that drops or re-quantizes the zero point loses them`,
    ]);
  });

  test('int8 per column, some zero points 0: only the zeros of the other columns count, their zero points named', async () => {
    const { spec, held, zeros } = quantized('int8', [16, 8], [0, -3, 0, 5, 0, 0, 7, -3]);
    assert.ok(held > 0 && held < zeros);
    const fc = layer(await inspectSpec(spec), 'fc');
    assert.equal(fc.zeros, zeros);
    assert.equal(fc.zeroPointZeros, held);
    assert.deepEqual(fc.warnings.filter((x) => x.includes('zero point')), [
      `${held} of its ${zeros} zeros are codes equal to a non-zero zero point (-3, 5, 7), not 0: a runtime that drops or re-quantizes the zero point loses them`,
    ]);
  });

  test('int4 with zero point 2 (the JavaScript kernel) and int8 with zero point -1 (the SIMD kernel) both count', async () => {
    for (const [dtype, zp] of [['int4', 2], ['int8', -1]] as const) {
      const { spec, zeros } = quantized(dtype, [16, 8], [zp]);
      const fc = layer(await inspectSpec(spec), 'fc');
      assert.equal(fc.zeroPointZeros, zeros, dtype);
      assert.equal(fc.warnings.filter((x) => x.includes(`non-zero zero point (${zp})`)).length, 1, dtype);
    }
  });

  test('zero point 0, or none: zeros are plain zero codes, no warning', async () => {
    for (const zp of [[0], [0, 0, 0, 0, 0, 0, 0, 0]]) {
      const { spec } = quantized('int8', [16, 8], zp);
      const fc = layer(await inspectSpec(spec), 'fc');
      assert.equal(fc.zeroPointZeros, 0);
      assert.ok(!fc.warnings.some((x) => x.includes('zero point')), fc.warnings.join('; '));
    }
    const fc = layer(await inspectSpec(fragileModel('MatMul', tensor('W', 'int8', [16, 8], twoOfFourAlong([16, 8], 0)))), 'fc');
    assert.equal(fc.zeroPointZeros, 0);
    assert.ok(!fc.warnings.some((x) => x.includes('zero point')));
  });
});

describe('fragile sparsity in the panel (Chromium)', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  test("a layer's negative-zero warning is listed in its drill-down", async () => {
    const dims = [68, 20];
    const { values } = signedZeroWeight('bfloat16', dims, 0, (i) => i % 9 === 2);
    const report = await inspectSpec(fragileModel('MatMul', makeTensor({ name: 'W', dtype: 'bfloat16', dims, values, bits: true })));
    const fc = layer(report, 'fc');
    const panel = await PanelPage.open(browser);
    try {
      await panel.send({ type: 'model', name: 'model.onnx', settings: { pattern: '2:4', hardware: 'a100' }, hardwareProfiles: ['a100'] });
      await panel.send({ type: 'report', report });
      await panel.page.click('[role="row"][data-key="fc"]');
      const items = panel.page.locator('#layer-warnings li');
      await items.first().waitFor();
      assert.deepEqual(await items.allTextContents(), fc.warnings.map((w) => `⚠ ${w}`));
      assert.ok(fc.warnings.some((w) => w.includes('-0.0')));
      assert.deepEqual(panel.errors, []);
    } finally {
      await panel.close();
    }
  });
});
