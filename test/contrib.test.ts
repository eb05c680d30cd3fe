// ONNX Runtime's contrib ops (com.microsoft, docs/ContribOperators.md) whose weight is a plain tensor: which input
// is the weight, which axis is K, where its zero point comes from; the weight-bearing contrib ops this version
// lists as ineligible; and the count of weight-bearing nodes of ops the tool does not know, so that no model shows
// "layers: 0" without a word. Every weight is 2:4 along its true K axis only (a wrong axis fails the layer).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type ConvertReport, type LayerChange } from '../src/engine/convert/convert';
import { formatReport } from '../src/engine/report/format';
import type { InspectReport, LayerReport } from '../src/engine/sparsity/inspect';
import { type ModelSpec, graph, makeTensor, node, valueInfo, writeModel } from './support/builder';
import { convertSpec, int8Values, uint8Values } from './support/convert-read';
import { inspectSpec, layer, tempDir } from './support/models';
import { readGroupEncodings } from '../src/engine/sparsity/region';
import { assertTwoOfFour, count, tensor, twoOfFourAlong } from './support/patterns';

const MS = 'com.microsoft';
function model(nodes: onnx.INodeProto[], initializers: onnx.ITensorProto[], inputs: onnx.IValueInfoProto[] = [valueInfo('X', 'float32', [1, 8])]): ModelSpec {
  return {
    opset: 17,
    extraOpsets: [{ domain: MS, version: 1 }, { domain: 'com.example', version: 1 }],
    graph: graph({ name: 'contrib', nodes, inputs, outputs: [valueInfo('Y', 'float32', [1, 8])], initializers }),
  };
}

async function onlyLayer(spec: ModelSpec): Promise<LayerReport> {
  const report = await inspectSpec(spec);
  assert.equal(report.layers.length, 1, `layers: ${report.layers.map((l) => `${l.name} (${l.op})`).join(', ')}`);
  assert.deepEqual(report.unrecognized, []);
  return report.layers[0];
}

describe('contrib ops with a plain weight: weight input, K axis, zero point', () => {
  test('QGemm: B is input 3, (K, N) without transB: K = axis 0; b_zero_point (input 5) per column', async () => {
    const dims = [8, 4];
    const zp = [-3, 0, 2, 5]; // one per column (N = 4)
    const l = await onlyLayer(
      model(
        [node('QGemm', ['A', 'a_scale', 'a_zp', 'B', 'b_scale', 'b_zp'], ['Y'], {}, { name: 'qgemm', domain: MS })],
        [
          tensor('a_scale', 'float32', [], [0.1]),
          tensor('a_zp', 'uint8', [], [128]),
          tensor('B', 'int8', dims, twoOfFourAlong(dims, 0, (i) => zp[i % 4])),
          tensor('b_scale', 'float32', [4], [1, 1, 1, 1]),
          tensor('b_zp', 'int8', [4], zp),
        ],
        [valueInfo('A', 'uint8', [1, 8])],
      ),
    );
    assert.equal(l.op, 'QGemm');
    assert.equal(l.weight, 'B');
    assert.deepEqual(l.shape, [8, 4]);
    assert.equal(l.dtype, 'int8');
    assert.equal(l.zeroPoint, 'per-channel');
    assertTwoOfFour(l, 0, 1);
    assert.equal(l.groups, 8);
    assert.equal(l.validGroups, 8);
  });

  test('QGemm with transB = 1: B is (N, K), K = axis 1; a scalar zero point is per tensor', async () => {
    const dims = [4, 8];
    const l = await onlyLayer(
      model(
        [node('QGemm', ['A', 'a_scale', 'a_zp', 'B', 'b_scale', 'b_zp'], ['Y'], { transB: 1 }, { name: 'qgemm', domain: MS })],
        [
          tensor('a_scale', 'float32', [], [0.1]),
          tensor('a_zp', 'uint8', [], [128]),
          tensor('B', 'uint8', dims, twoOfFourAlong(dims, 1, () => 100)),
          tensor('b_scale', 'float32', [], [1]),
          tensor('b_zp', 'uint8', [], [100]),
        ],
        [valueInfo('A', 'uint8', [1, 8])],
      ),
    );
    assertTwoOfFour(l, 1, 0);
    assert.equal(l.zeroPoint, 'per-tensor');
    assert.equal(l.zeros, 16);
  });

  test('DynamicQuantizeMatMul: B is input 1, K = axis 0; b_zero_point is input 3', async () => {
    const dims = [8, 4];
    const l = await onlyLayer(
      model([node('DynamicQuantizeMatMul', ['X', 'B', 'b_scale', 'b_zp'], ['Y'], {}, { name: 'dq_mm', domain: MS })], [tensor('B', 'uint8', dims, twoOfFourAlong(dims, 0, () => 7)), tensor('b_scale', 'float32', [], [0.5]), tensor('b_zp', 'uint8', [], [7])]),
    );
    assert.equal(l.op, 'DynamicQuantizeMatMul');
    assert.equal(l.dtype, 'uint8');
    assert.equal(l.zeroPoint, 'per-tensor');
    assertTwoOfFour(l, 0, 1);
    assert.equal(l.groups, 8);
  });

  test('MatMulIntegerToFloat: B is input 1, its zero point input 5 (input 4 is A\'s)', async () => {
    const dims = [8, 4];
    const zp = [10, 20, 30, 40];
    const l = await onlyLayer(
      model(
        [node('MatMulIntegerToFloat', ['A', 'B', 'a_scale', 'b_scale', 'a_zp', 'b_zp'], ['Y'], {}, { name: 'mmitf', domain: MS })],
        // a_zp = 200 would make every B element "non-zero" if it were taken as B's zero point.
        [tensor('B', 'uint8', dims, twoOfFourAlong(dims, 0, (i) => zp[i % 4])), tensor('a_scale', 'float32', [], [1]), tensor('b_scale', 'float32', [4], [1, 1, 1, 1]), tensor('a_zp', 'uint8', [], [200]), tensor('b_zp', 'uint8', [4], zp)],
        [valueInfo('A', 'uint8', [1, 8])],
      ),
    );
    assert.equal(l.zeroPoint, 'per-channel');
    assertTwoOfFour(l, 0, 1);
  });

  test('FusedMatMul: B is input 1, K = axis rank-2, or rank-1 with transB', async () => {
    const plain = await onlyLayer(model([node('FusedMatMul', ['X', 'B'], ['Y'], { alpha: { float: 1 } }, { name: 'fmm', domain: MS })], [tensor('B', 'float32', [8, 4], twoOfFourAlong([8, 4], 0))]));
    assertTwoOfFour(plain, 0, 1);
    assert.equal(plain.dtype, 'float32');
    assert.equal(plain.groups, 8);
    const transposed = await onlyLayer(model([node('FusedMatMul', ['X', 'B'], ['Y'], { transB: 1 }, { name: 'fmm', domain: MS })], [tensor('B', 'float32', [2, 4, 8], twoOfFourAlong([2, 4, 8], 2))]));
    assertTwoOfFour(transposed, 2, 1);
    assert.equal(transposed.groups, 16);
  });

  test('FusedMatMul with transBatchB is listed as not read, with its reason', async () => {
    const l = await onlyLayer(model([node('FusedMatMul', ['X', 'B'], ['Y'], { transBatchB: 1 }, { name: 'fmm', domain: MS })], [tensor('B', 'float32', [2, 8, 4], twoOfFourAlong([2, 8, 4], 1))]));
    assert.equal(l.eligible, false);
    assert.equal(l.reason, 'FusedMatMul with transBatchB=1: batch-transposed weights are not read by this version');
    assert.equal(l.compliance, null);
  });

  test('Attention: weights are input 1, (input_hidden_size, 3 * hidden_size): K = axis 0', async () => {
    const dims = [8, 12];
    const l = await onlyLayer(
      model([node('Attention', ['X', 'W', 'bias'], ['Y'], { num_heads: 2 }, { name: 'attn', domain: MS })], [tensor('W', 'float32', dims, twoOfFourAlong(dims, 0)), tensor('bias', 'float32', [12], new Array(12).fill(0.5))], [valueInfo('X', 'float32', [1, 2, 8])]),
    );
    assert.equal(l.op, 'Attention');
    assert.equal(l.weight, 'W');
    assert.deepEqual(l.shape, [8, 12]);
    assertTwoOfFour(l, 0, 1);
    assert.equal(l.groups, 24);
    assert.equal(l.zeroPoint, 'none');
  });

  test('QAttention: weight input 1, weight_zero_point input 7 per column (3 * hidden_size values)', async () => {
    const dims = [8, 12];
    const zp = Array.from({ length: 12 }, (_, i) => 120 + i);
    const l = await onlyLayer(
      model(
        [node('QAttention', ['A', 'W', 'bias', 'in_scale', 'w_scale', '', 'in_zp', 'w_zp'], ['Y'], { num_heads: 2 }, { name: 'qattn', domain: MS })],
        [
          tensor('W', 'uint8', dims, twoOfFourAlong(dims, 0, (i) => zp[i % 12])),
          tensor('bias', 'float32', [12], new Array(12).fill(0)),
          tensor('in_scale', 'float32', [], [1]),
          tensor('w_scale', 'float32', [], [1]),
          tensor('in_zp', 'uint8', [], [3]),
          tensor('w_zp', 'uint8', [12], zp),
        ],
        [valueInfo('A', 'uint8', [1, 2, 8])],
      ),
    );
    assert.equal(l.dtype, 'uint8');
    assert.equal(l.zeroPoint, 'per-channel');
    assertTwoOfFour(l, 0, 1);
    assert.equal(l.groups, 24);
  });

  test('a default-domain node named like a contrib op is not taken as one: counted as an unknown op', async () => {
    const report = await inspectSpec(model([node('QGemm', ['A', 'a_scale', 'a_zp', 'B', 'b_scale', 'b_zp'], ['Y'], {}, { name: 'fake' })], [tensor('a_scale', 'float32', [], [1]), tensor('a_zp', 'uint8', [], [0]), tensor('B', 'int8', [8, 4], twoOfFourAlong([8, 4], 0)), tensor('b_scale', 'float32', [], [1]), tensor('b_zp', 'int8', [], [0])]));
    assert.equal(report.layers.length, 0);
    assert.deepEqual(report.unrecognized, [{ op: 'QGemm', domain: '', nodes: 1 }]);
  });

  test('a standard op in com.microsoft is not a layer either (Gemm is not a contrib op)', async () => {
    const report = await inspectSpec(model([node('Gemm', ['X', 'W'], ['Y'], {}, { name: 'g', domain: MS })], [tensor('W', 'float32', [8, 4], twoOfFourAlong([8, 4], 0))]));
    assert.equal(report.layers.length, 0);
    assert.deepEqual(report.unrecognized, [{ op: 'Gemm', domain: MS, nodes: 1 }]);
  });
});

describe('weight-bearing contrib ops without a sparse kernel are listed, not hidden', () => {
  const cases: { op: string; nodeInputs: string[]; weight: onnx.ITensorProto; reason: string }[] = [
    {
      op: 'GatherBlockQuantized',
      nodeInputs: ['W', 'X', 'scales'],
      weight: tensor('W', 'uint8', [16, 4], new Array(64).fill(0x88)),
      reason: 'GatherBlockQuantized: an embedding lookup, not a matrix product: no N:M kernel applies',
    },
    {
      op: 'MatMulBnb4',
      nodeInputs: ['X', 'W', 'absmax'],
      weight: tensor('W', 'uint8', [16], new Array(16).fill(0x12)), // 1-D packed codes: listed all the same
      reason: 'MatMulBnb4: no mainstream runtime accelerates N:M sparsity for 4-bit bitsandbytes (FP4/NF4) weights',
    },
  ];
  for (const c of cases) {
    test(`${c.op} (com.microsoft): ineligible, "${c.reason}"`, async () => {
      const l = await onlyLayer(model([node(c.op, c.nodeInputs, ['Y'], {}, { name: 'n', domain: MS })], [c.weight, tensor('scales', 'float32', [4], [1, 1, 1, 1]), tensor('absmax', 'float32', [1], [1])]));
      assert.equal(l.op, c.op);
      assert.equal(l.weight, 'W');
      assert.deepEqual(l.shape, c.weight.dims);
      assert.equal(l.dtype, 'uint8');
      assert.equal(l.eligible, false);
      assert.equal(l.reason, c.reason);
      assert.equal(l.axis, null);
      assert.equal(l.compliance, null);
    });
  }
});

describe('nothing that carries a weight is skipped in silence: unknown ops are counted', () => {
  async function mixed(): Promise<InspectReport> {
    return inspectSpec(
      model(
        [
          node('Foo', ['X', 'W1'], ['f1'], {}, { name: 'foo1', domain: 'com.example' }),
          node('Foo', ['f1', 'W2'], ['f2'], {}, { name: 'foo2', domain: 'com.example' }),
          node('Gather', ['E', 'idx'], ['g'], {}, { name: 'embed' }), // an embedding table: a weight this version does not read
          node('Add', ['f2', 'small'], ['a1'], {}, { name: 'add_small' }), // [2, 4]: 8 elements, not a weight
          node('Mul', ['a1', 'scalar'], ['m1'], {}, { name: 'mul_scalar' }),
          node('Reshape', ['m1', 'shape'], ['r1'], {}, { name: 'reshape' }),
          node('Reshape', ['W3', 'shape'], ['r2'], {}, { name: 'reshape_weight' }), // data movement: not counted
          // Times an activation: not foldable; its Gemm names it, so it is not counted twice.
          node('Mul', ['W4', 'a1'], ['masked'], {}, { name: 'mask_mul' }),
          node('Gemm', ['r1', 'masked'], ['Y'], {}, { name: 'gemm' }),
          node('Mul', ['W5', 'a1'], ['masked2'], {}, { name: 'mask_mul2' }), // feeds a MatMul that is no layer: counted
          node('MatMul', ['X', 'masked2'], ['Z'], {}, { name: 'mm' }),
        ],
        [
          tensor('W1', 'float32', [8, 8], new Array(64).fill(1)),
          tensor('W2', 'float32', [8, 8], new Array(64).fill(1)),
          tensor('E', 'float32', [16, 8], new Array(128).fill(1)),
          tensor('idx', 'int64', [1], [3]),
          tensor('small', 'float32', [2, 4], new Array(8).fill(1)),
          tensor('scalar', 'float32', [], [2]),
          tensor('shape', 'int64', [2], [1, 8]),
          tensor('W3', 'float32', [8, 8], new Array(64).fill(1)),
          tensor('W4', 'float32', [8, 8], new Array(64).fill(1)),
          tensor('W5', 'float32', [8, 8], new Array(64).fill(1)),
          tensor('mask', 'float32', [8, 8], new Array(64).fill(1)),
        ],
      ),
    );
  }

  test('counted by op and domain, most first; shapes, scalars, small constants and data movement are not', async () => {
    const report = await mixed();
    assert.deepEqual(report.unrecognized, [
      { op: 'Foo', domain: 'com.example', nodes: 2 },
      { op: 'Gather', domain: '', nodes: 1 },
      { op: 'Mul', domain: '', nodes: 1 },
    ]);
    const gemm = layer(report, 'gemm');
    assert.equal(gemm.reason, "weight computed at run time (not folded: Mul 'mask_mul': its operand 'a1' is computed at run time by Add 'add_small')");
    assert.equal(report.layers.length, 1);
  });

  test('the table and Markdown say what was not read; JSON carries the field', async () => {
    const report = await mixed();
    const line = 'not read: 2 Foo (com.example), 1 Gather, 1 Mul nodes with constant weights (ops this tool does not know)';
    assert.ok(formatReport(report, 'table').split('\n').includes(line));
    assert.ok(formatReport(report, 'markdown').split('\n').includes(`- ${line}`));
    assert.deepEqual(JSON.parse(formatReport(report, 'json')).unrecognized, report.unrecognized);
  });

  test('a model whose weights are all read has no such line', async () => {
    const report = await inspectSpec(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [tensor('W', 'float32', [8, 4], twoOfFourAlong([8, 4], 0))]));
    assert.deepEqual(report.unrecognized, []);
    assert.ok(!formatReport(report, 'table').includes('not read:'));
  });
});

function layerOf(report: ConvertReport, name: string): LayerChange {
  const found = report.layers.find((l) => l.name === name);
  if (!found) throw new Error(`no layer '${name}': ${report.layers.map((l) => l.name).join(', ')}`);
  return found;
}

/** Row-major [K, N] values from N columns of K. */
function fromColumns(columns: number[][]): number[] {
  const out: number[] = [];
  for (let r = 0; r < columns[0].length; r++) for (const col of columns) out.push(col[r]);
  return out;
}

describe('convert --mode prune on contrib ops: in the integer domain, around the zero point', () => {
  test('QGemm int8 with zero point 3 (input 5): |q - 3| ranks, pruned elements become 3, verified', async () => {
    // column 0: |q - 3| = 0 5 2 4 → 5 is pruned (3 is already the zero point); column 1: 1 7 6 3 → -4 and 9 survive.
    const b = tensor('B', 'int8', [4, 2], fromColumns([[3, -2, 5, 7], [4, -4, 9, 0]]));
    const spec = model(
      [node('QGemm', ['A', 'a_scale', 'a_zp', 'B', 'b_scale', 'b_zp'], ['Y'], {}, { name: 'qgemm', domain: MS })],
      [b, tensor('a_scale', 'float32', [], [0.5]), tensor('a_zp', 'uint8', [], [128]), tensor('b_scale', 'float32', [], [0.25]), tensor('b_zp', 'int8', [], [3])],
      [valueInfo('A', 'uint8', [1, 4])],
    );
    spec.graph.output = [valueInfo('Y', 'float32', [1, 2])];
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(int8Values(output, 'B'), fromColumns([[3, -2, 3, 7], [3, -4, 9, 3]]));
    const q = layerOf(report, 'qgemm');
    assert.equal(q.action, 'prune');
    assert.equal(q.axis, 0);
    assert.equal(q.prunedElements, 3);
    assert.equal(q.passesAfter, true);
    assert.equal(report.verified, true);
    assert.equal(report.runtime?.ran, true); // ONNX Runtime runs com.microsoft.QGemm: before and after are compared
  });

  test('DynamicQuantizeMatMul uint8 with zero point 128 (input 3): pruned elements become 128, verified', async () => {
    // column 0: |q - 128| = 0 2 28 1 → 129 is pruned; column 1: 128 127 0 127 → the tie keeps 255, 1 is pruned.
    const b = tensor('B', 'uint8', [4, 2], fromColumns([[128, 130, 100, 129], [0, 255, 128, 1]]));
    const spec = model([node('DynamicQuantizeMatMul', ['X', 'B', 'b_scale', 'b_zp'], ['Y'], {}, { name: 'dqmm', domain: MS })], [b, tensor('b_scale', 'float32', [], [0.1]), tensor('b_zp', 'uint8', [], [128])], [valueInfo('X', 'float32', [1, 4])]);
    spec.graph.output = [valueInfo('Y', 'float32', [1, 2])];
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(uint8Values(output, 'B'), fromColumns([[128, 130, 100, 128], [0, 255, 128, 128]]));
    const l = layerOf(report, 'dqmm');
    assert.equal(l.prunedElements, 2);
    assert.equal(l.passesAfter, true);
    assert.equal(report.verified, true);
    assert.equal(report.runtime?.ran, true);
  });
});

describe('contrib ops with FP8 weights: GemmFloat8', () => {
  /** Bit patterns 2:4 along `axis` (`one` for the non-zeros), plus one non-zero at K index 2 of the first lane when `violate`. */
  function fp8Along(dims: number[], axis: number, one: number, violate: boolean): number[] {
    const codes = twoOfFourAlong(dims, axis).map((v) => (v === 0 ? 0 : one));
    if (violate) codes[2 * count(dims.slice(axis + 1))] = one;
    return codes;
  }

  test('GemmFloat8: B is input 1, (N, K) with transB = 1 (the only FP8 layout): K = axis 1; float8e4m3fn, no zero point', async () => {
    const dims = [4, 16];
    const l = await onlyLayer(
      model(
        [node('GemmFloat8', ['A', 'B', '', 'scaleA', 'scaleB'], ['Y'], { transB: 1, dtype: 10 }, { name: 'gemm8', domain: MS })],
        [
          makeTensor({ name: 'B', dtype: 'float8e4m3fn', dims, values: fp8Along(dims, 1, 0x38, false), bits: true }),
          tensor('scaleA', 'float32', [], [1]),
          tensor('scaleB', 'float32', [], [0.5]),
        ],
        [valueInfo('A', 'float8e4m3fn', [1, 16])],
      ),
    );
    assert.equal(l.op, 'GemmFloat8');
    assert.equal(l.weight, 'B');
    assert.equal(l.dtype, 'float8e4m3fn');
    assert.equal(l.zeroPoint, 'none');
    assertTwoOfFour(l, 1, 0);
    assert.equal(l.groups, 16);
  });

  test('GemmFloat8 with transB = 0: B (K, N), K = axis 0; float8e5m2 with one violating group, counted exactly', async () => {
    const dims = [16, 4];
    const l = await onlyLayer(
      model(
        [node('GemmFloat8', ['A', 'B'], ['Y'], {}, { name: 'gemm8', domain: MS })],
        [makeTensor({ name: 'B', dtype: 'float8e5m2', dims, values: fp8Along(dims, 0, 0x3c, true), bits: true })],
        [valueInfo('A', 'float8e5m2', [1, 16])],
      ),
    );
    assert.equal(l.dtype, 'float8e5m2');
    assert.deepEqual([l.axis, l.outAxis], [0, 1]);
    assert.deepEqual([l.groups, l.validGroups, l.zeros, l.pass, l.compliance], [16, 15, 31, false, 15 / 16]);
    assert.deepEqual(l.countHistogram, [0, 0, 15, 1, 0]);
  });

  test('GemmFloat8 with float16 B and -0.0 in its pruned places: counted as zeros, and the layer warns how many', async () => {
    const dims = [4, 16];
    const codes = fp8Along(dims, 1, 0x3c00, false).map((v, i) => (v === 0 && i % 3 === 0 ? 0x8000 : v));
    const negatives = codes.filter((v) => v === 0x8000).length;
    const l = await onlyLayer(
      model([node('GemmFloat8', ['A', 'B'], ['Y'], { transB: 1 }, { name: 'gemm8', domain: MS })], [makeTensor({ name: 'B', dtype: 'float16', dims, values: codes, bits: true })]),
    );
    assertTwoOfFour(l, 1, 0);
    assert.equal(l.negativeZeros, negatives);
    assert.equal(l.warnings.filter((w) => w.startsWith(`${negatives} of its 32 zeros are stored as -0.0`)).length, 1);
  });

  test('GemmFloat8 in the default domain is no layer: counted under "not read"', async () => {
    const dims = [4, 16];
    const report = await inspectSpec(
      model([node('GemmFloat8', ['A', 'B'], ['Y'], { transB: 1 }, { name: 'gemm8' })], [makeTensor({ name: 'B', dtype: 'float8e4m3fn', dims, values: fp8Along(dims, 1, 0x38, false), bits: true })]),
    );
    assert.deepEqual(report.layers, []);
    assert.deepEqual(report.unrecognized, [{ op: 'GemmFloat8', domain: '', nodes: 1 }]);
  });
});

describe('contrib ops with FP8/FP4 weights: MatMulBlockQuantizedFp8Weight and MatMulBlockQuantizedFp4Weight', () => {
  test('MatMulBlockQuantizedFp8Weight: B float8e4m3fn [N, K], K = axis 1, one violating group counted exactly', async () => {
    const dims = [4, 32];
    const codes = twoOfFourAlong(dims, 1).map((v) => (v === 0 ? 0 : 0x38));
    codes[2] = 0x38; // row 0, K index 2: the first group holds 3 non-zeros
    const l = await onlyLayer(
      model(
        [node('MatMulBlockQuantizedFp8Weight', ['A', 'B', 'b_scale'], ['Y'], { block_size: 16 }, { name: 'fp8mm', domain: MS })],
        [makeTensor({ name: 'B', dtype: 'float8e4m3fn', dims, values: codes, bits: true }), tensor('b_scale', 'float32', [4, 2], new Array(8).fill(0.5))],
        [valueInfo('A', 'float16', [1, 32])],
      ),
    );
    assert.equal(l.dtype, 'float8e4m3fn');
    assert.deepEqual([l.axis, l.outAxis], [1, 0]);
    assert.deepEqual([l.groups, l.validGroups, l.zeros, l.pass], [32, 31, 63, false]);
  });

  test('MatMulBlockQuantizedFp4Weight: B uint8 [N, K/2] read as float4e2m1 [N, K] (low nibble first), K = axis 1', async () => {
    // Codes along K: 1.0, -1.5, +0, -0 (0x2, 0xb, 0x0, 0x8): 2:4 in every group, one -0 per group. Bytes: 0xb2, 0x80.
    const N = 4;
    const K = 32;
    const bytes = Array.from({ length: N * (K / 2) }, (_, i) => (i % 2 === 0 ? 0xb2 : 0x80));
    const l = await onlyLayer(
      model(
        [node('MatMulBlockQuantizedFp4Weight', ['A', 'B', 'weight_scale', 'weight_scale_2'], ['Y'], {}, { name: 'fp4mm', domain: MS })],
        [tensor('B', 'uint8', [N, K / 2], bytes), tensor('weight_scale', 'uint8', [N, 2], new Array(8).fill(0x38)), tensor('weight_scale_2', 'float32', [], [1])],
        [valueInfo('A', 'float16', [1, K])],
      ),
    );
    assert.equal(l.weight, 'B');
    assert.equal(l.dtype, 'float4e2m1');
    assert.deepEqual(l.shape, [N, K]);
    assertTwoOfFour(l, 1, 0);
    assert.equal(l.negativeZeros, N * K / 4);
    assert.equal(l.warnings.filter((w) => w.startsWith(`${N * K / 4} of its ${N * K / 2} zeros are stored as -0.0`)).length, 1);
  });

  test('the drill-down shows an FP4 element as its value and code (1.0, -1.5, +0, -0)', () => {
    const N = 4;
    const K = 32;
    const bytes = Array.from({ length: N * (K / 2) }, (_, i) => (i % 2 === 0 ? 0xb2 : 0x80));
    const path = join(tempDir(), 'fp4.onnx');
    writeModel(
      path,
      model(
        [node('MatMulBlockQuantizedFp4Weight', ['A', 'B', 'weight_scale', 'weight_scale_2'], ['Y'], {}, { name: 'fp4mm', domain: MS })],
        [tensor('B', 'uint8', [N, K / 2], bytes), tensor('weight_scale', 'uint8', [N, 2], new Array(8).fill(0x38)), tensor('weight_scale_2', 'float32', [], [1])],
        [valueInfo('A', 'float16', [1, K])],
      ),
    );
    const picked = readGroupEncodings(path, { n: 2, m: 4 }, 'fp4mm', 1, 2, 0);
    assert.deepEqual(picked.values, ['1 (code 0x2)', '-1.5 (code 0xb)', '0 (code 0x0)', '-0 (code 0x8)']);
    assert.deepEqual([picked.mask, picked.nonZeros], ['1100', 2]);
  });

  test('MatMulBlockQuantizedFp4Weight with a B that is not uint8 [N, K/2]: the layer fails, naming what it needs', async () => {
    const l = await onlyLayer(
      model(
        [node('MatMulBlockQuantizedFp4Weight', ['A', 'B', 'weight_scale', 'weight_scale_2'], ['Y'], {}, { name: 'fp4mm', domain: MS })],
        [tensor('B', 'int8', [4, 16], new Array(64).fill(1)), tensor('weight_scale', 'uint8', [4, 2], new Array(8).fill(0x38)), tensor('weight_scale_2', 'float32', [], [1])],
        [valueInfo('A', 'float16', [1, 32])],
      ),
    );
    assert.equal(l.eligible, false);
    assert.equal(l.error, 'MatMulBlockQuantizedFp4Weight: B is int8 [4, 16], not uint8 [N, K/2] (two E2M1 values per byte)');
  });
});
