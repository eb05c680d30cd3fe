// Which constant weights become layers, which axis of the STORED weight is K, and why some layers cannot
// carry N:M sparsity (domain.md §2). Every weight here is 2:4 along its true K axis only, so a wrong axis
// shows up as a failing or ineligible layer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type ModelSpec, constantNode, graph, node, valueInfo } from './support/builder';
import type { LayerReport } from '../src/engine/sparsity/inspect';
import { inspectSpec, layer } from './support/models';
import { assertTwoOfFour, tensor, twoOfFourAlong } from './support/patterns';

/** A 2:4-along-`axis` float32 weight. */
function weight(name: string, dims: number[], axis: number): onnx.ITensorProto {
  return tensor(name, 'float32', dims, twoOfFourAlong(dims, axis));
}

// The builder's dtypes are weight types; Loop conditions are bool (TensorProto type 9).
const boolInfo = (name: string): onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType: 9, shape: { dim: [] } } } });

function model(nodes: onnx.INodeProto[], initializers: onnx.ITensorProto[] = [], extra: Partial<ModelSpec> = {}): ModelSpec {
  return {
    graph: graph({
      name: 'layers',
      nodes,
      inputs: [valueInfo('X', 'float32', ['n', 8]), valueInfo('X2', 'float32', ['n', 8])],
      outputs: [valueInfo('Y', 'float32', ['n'])],
      initializers,
    }),
    ...extra,
  };
}

/** The one layer of a model. */
async function onlyLayer(spec: ModelSpec): Promise<LayerReport> {
  const report = await inspectSpec(spec);
  assert.equal(report.layers.length, 1, `layers: ${report.layers.map((l) => l.name).join(', ')}`);
  return report.layers[0];
}

describe('the K axis of each op (domain.md §2 table)', () => {
  test('the fixture is 2:4 along one axis only: read along the other axis it fails', async () => {
    // 2:4 along axis 0, but Gemm transB = 1 reads K along axis 1: rows k = 0, 1 mod 4 hold four non-zeros.
    const gemm = await onlyLayer(model([node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'gemm' })], [weight('W', [8, 8], 0)]));
    assert.equal(gemm.axis, 1);
    assert.equal(gemm.compliance, 0.5);
    assert.equal(gemm.pass, false);
  });

  test('Conv groups along input channels: axis 1 of [OC, IC, kh, kw]', async () => {
    const conv = await onlyLayer(model([node('Conv', ['X', 'W'], ['Y'], { kernel_shape: [3, 3] }, { name: 'conv' })], [weight('W', [8, 8, 3, 3], 1)]));
    assert.equal(conv.op, 'Conv');
    assert.equal(conv.weight, 'W');
    assert.deepEqual(conv.shape, [8, 8, 3, 3]);
    assert.equal(conv.dtype, 'float32');
    assertTwoOfFour(conv, 1, 0);
    assert.equal(conv.groups, 8 * 2 * 9);
    assert.equal(conv.zeroPoint, 'none');
  });

  test('ConvInteger reads its weight zero point from input 3: uint8 128 counts as zero', async () => {
    const dims = [8, 8, 1, 1];
    const conv = await onlyLayer(
      model(
        [node('ConvInteger', ['X', 'W', '', 'W_zp'], ['Y'], {}, { name: 'conv' })],
        [tensor('W', 'uint8', dims, twoOfFourAlong(dims, 1, () => 128)), tensor('W_zp', 'uint8', [], [128])],
      ),
    );
    assertTwoOfFour(conv, 1, 0);
    assert.equal(conv.zeros, 32);
    assert.equal(conv.zeroPoint, 'per-tensor');
  });

  test('QLinearConv takes its weight from input 3 and a per-channel zero point from input 5', async () => {
    const dims = [8, 8, 1, 1];
    const zp = [-4, -3, -2, -1, 0, 1, 2, 3]; // one per output channel
    const conv = await onlyLayer(
      model(
        [node('QLinearConv', ['X', 'xs', 'xzp', 'W', 'ws', 'W_zp', 'ys', 'yzp'], ['Y'], {}, { name: 'qconv' })],
        [tensor('W', 'int8', dims, twoOfFourAlong(dims, 1, (i) => zp[Math.floor(i / 8)])), tensor('W_zp', 'int8', [8], zp)],
      ),
    );
    assert.equal(conv.weight, 'W');
    assertTwoOfFour(conv, 1, 0);
    assert.equal(conv.zeroPoint, 'per-channel');
  });

  test('MatMul with a constant B [K, N] groups along axis 0 (rank - 2)', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', [8, 4], 0)]));
    assertTwoOfFour(fc, 0, 1);
  });

  test('MatMul with a batched constant B [b, K, N] groups along axis 1 (rank - 2)', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', [2, 8, 4], 1)]));
    assertTwoOfFour(fc, 1, 2);
    assert.equal(fc.groups, 2 * 2 * 4);
  });

  test('MatMul with a constant A [M, K] groups along its last axis', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['W', 'X'], ['Y'], {}, { name: 'fc' })], [weight('W', [4, 8], 1)]));
    assertTwoOfFour(fc, 1, 0);
  });

  test('MatMul with a batched constant A [b, M, K] groups along axis 2 (rank - 1)', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['W', 'X'], ['Y'], {}, { name: 'fc' })], [weight('W', [2, 4, 8], 2)]));
    assertTwoOfFour(fc, 2, 1);
  });

  test('MatMulInteger B (input 1) with a per-column zero point from input 3', async () => {
    const dims = [8, 4];
    const zp = [10, 20, 30, 40];
    const fc = await onlyLayer(
      model(
        [node('MatMulInteger', ['X', 'W', '', 'W_zp'], ['Y'], {}, { name: 'fc' })],
        [tensor('W', 'uint8', dims, twoOfFourAlong(dims, 0, (i) => zp[i % 4])), tensor('W_zp', 'uint8', [4], zp)],
      ),
    );
    assertTwoOfFour(fc, 0, 1);
    assert.equal(fc.zeroPoint, 'per-channel');
  });

  test('MatMulInteger A (input 0) with its zero point from input 2', async () => {
    const dims = [4, 8];
    const fc = await onlyLayer(
      model(
        [node('MatMulInteger', ['W', 'X', 'W_zp'], ['Y'], {}, { name: 'fc' })],
        [tensor('W', 'int8', dims, twoOfFourAlong(dims, 1, () => -2)), tensor('W_zp', 'int8', [], [-2])],
      ),
    );
    assertTwoOfFour(fc, 1, 0);
    assert.equal(fc.zeroPoint, 'per-tensor');
  });

  test('QLinearMatMul B is input 3 with its zero point at input 5', async () => {
    const dims = [8, 4];
    const fc = await onlyLayer(
      model(
        [node('QLinearMatMul', ['X', 'xs', 'xzp', 'W', 'ws', 'W_zp', 'ys', 'yzp'], ['Y'], {}, { name: 'qfc' })],
        [tensor('W', 'int8', dims, twoOfFourAlong(dims, 0, () => 5)), tensor('W_zp', 'int8', [], [5])],
      ),
    );
    assert.equal(fc.weight, 'W');
    assertTwoOfFour(fc, 0, 1);
  });

  test('QLinearMatMul A is input 0 with its zero point at input 2', async () => {
    const dims = [4, 8];
    const fc = await onlyLayer(
      model(
        [node('QLinearMatMul', ['W', 'ws', 'W_zp', 'X', 'xs', 'xzp', 'ys', 'yzp'], ['Y'], {}, { name: 'qfc' })],
        [tensor('W', 'uint8', dims, twoOfFourAlong(dims, 1, () => 10)), tensor('W_zp', 'uint8', [], [10])],
      ),
    );
    assert.equal(fc.weight, 'W');
    assertTwoOfFour(fc, 1, 0);
  });

  test('Gemm B groups along axis 0 when transB = 0 and along axis 1 when transB = 1', async () => {
    const plain = await onlyLayer(model([node('Gemm', ['X', 'W'], ['Y'], { transB: 0 }, { name: 'gemm' })], [weight('W', [8, 4], 0)]));
    assertTwoOfFour(plain, 0, 1);
    const transposed = await onlyLayer(model([node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'gemm' })], [weight('W', [4, 8], 1)]));
    assertTwoOfFour(transposed, 1, 0);
    const unset = await onlyLayer(model([node('Gemm', ['X', 'W'], ['Y'], {}, { name: 'gemm' })], [weight('W', [8, 4], 0)]));
    assertTwoOfFour(unset, 0, 1);
  });

  test('Gemm A groups along axis 1 when transA = 0 and along axis 0 when transA = 1', async () => {
    const plain = await onlyLayer(model([node('Gemm', ['W', 'X'], ['Y'], { transA: 0 }, { name: 'gemm' })], [weight('W', [4, 8], 1)]));
    assertTwoOfFour(plain, 1, 0);
    const transposed = await onlyLayer(model([node('Gemm', ['W', 'X'], ['Y'], { transA: 1 }, { name: 'gemm' })], [weight('W', [8, 4], 0)]));
    assertTwoOfFour(transposed, 0, 1);
  });

  test('when both MatMul operands are constant, B is the weight', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['A', 'W'], ['Y'], {}, { name: 'fc' })], [weight('A', [4, 6], 1), weight('W', [8, 4], 0)]));
    assert.equal(fc.weight, 'W');
    assertTwoOfFour(fc, 0, 1);
  });
});

describe('chains between the constant and the layer', () => {
  test('DequantizeLinear with a per-tensor zero point: q == 7 counts as zero', async () => {
    const dims = [8, 4];
    const fc = await onlyLayer(
      model(
        [node('DequantizeLinear', ['Wq', 'Wq_scale', 'Wq_zp'], ['W'], {}, { name: 'dq' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        [tensor('Wq', 'int8', dims, twoOfFourAlong(dims, 0, () => 7)), tensor('Wq_scale', 'float32', [], [0.1]), tensor('Wq_zp', 'int8', [], [7])],
      ),
    );
    assert.equal(fc.weight, 'Wq');
    assert.equal(fc.dtype, 'int8');
    assert.deepEqual(fc.chain, ['DequantizeLinear']);
    assert.equal(fc.zeroPoint, 'per-tensor');
    assertTwoOfFour(fc, 0, 1);
  });

  test('DequantizeLinear with a per-column zero point (axis 1, or -1) on a MatMul B', async () => {
    const dims = [8, 4];
    const zp = [-1, 0, 1, 2];
    for (const axis of [1, -1]) {
      const fc = await onlyLayer(
        model(
          [node('DequantizeLinear', ['Wq', 'Wq_scale', 'Wq_zp'], ['W'], { axis }, { name: 'dq' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
          [tensor('Wq', 'int8', dims, twoOfFourAlong(dims, 0, (i) => zp[i % 4])), tensor('Wq_scale', 'float32', [4], [0.1, 0.1, 0.1, 0.1]), tensor('Wq_zp', 'int8', [4], zp)],
        ),
      );
      assert.equal(fc.zeroPoint, 'per-channel');
      assertTwoOfFour(fc, 0, 1);
    }
  });

  test('DequantizeLinear per output channel (axis 0) on a Gemm transB = 1 weight [N, K]', async () => {
    const dims = [4, 8];
    const zp = [3, -3, 9, 0];
    const gemm = await onlyLayer(
      model(
        [node('DequantizeLinear', ['Wq', 'Wq_scale', 'Wq_zp'], ['W'], { axis: 0 }, { name: 'dq' }), node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'gemm' })],
        [tensor('Wq', 'int8', dims, twoOfFourAlong(dims, 1, (i) => zp[Math.floor(i / 8)])), tensor('Wq_scale', 'float32', [4], [1, 1, 1, 1]), tensor('Wq_zp', 'int8', [4], zp)],
      ),
    );
    assert.equal(gemm.zeroPoint, 'per-channel');
    assertTwoOfFour(gemm, 1, 0);
  });

  test('QuantizeLinear then DequantizeLinear on a float constant reads the float weight', async () => {
    const fc = await onlyLayer(
      model(
        [
          node('QuantizeLinear', ['W', 's', 'zp'], ['Wq'], {}, { name: 'q' }),
          node('DequantizeLinear', ['Wq', 's', 'zp'], ['Wd'], {}, { name: 'dq' }),
          node('MatMul', ['X', 'Wd'], ['Y'], {}, { name: 'fc' }),
        ],
        [weight('W', [8, 4], 0), tensor('s', 'float32', [], [0.1]), tensor('zp', 'int8', [], [0])],
      ),
    );
    assert.equal(fc.weight, 'W');
    assert.equal(fc.dtype, 'float32');
    assert.deepEqual(fc.chain, ['QuantizeLinear', 'DequantizeLinear']);
    assertTwoOfFour(fc, 0, 1);
  });

  test('Cast and Identity pass the weight through unchanged', async () => {
    const dims = [8, 4];
    const cast = await onlyLayer(
      model(
        [node('Cast', ['W'], ['W32'], { to: 1 }, { name: 'cast' }), node('MatMul', ['X', 'W32'], ['Y'], {}, { name: 'fc' })],
        [tensor('W', 'float16', dims, twoOfFourAlong(dims, 0))],
      ),
    );
    assert.equal(cast.dtype, 'float16');
    assert.deepEqual(cast.chain, ['Cast']);
    assertTwoOfFour(cast, 0, 1);
    const identity = await onlyLayer(
      model([node('Identity', ['W'], ['W2'], {}, { name: 'id' }), node('MatMul', ['X', 'W2'], ['Y'], {}, { name: 'fc' })], [weight('W', dims, 0)]),
    );
    assert.deepEqual(identity.chain, ['Identity']);
    assertTwoOfFour(identity, 0, 1);
  });

  test('an [N, K] initializer through Transpose into MatMul B is grouped along its axis 1', async () => {
    const fc = await onlyLayer(
      model([node('Transpose', ['W'], ['Wt'], { perm: [1, 0] }, { name: 't' }), node('MatMul', ['X', 'Wt'], ['Y'], {}, { name: 'fc' })], [weight('W', [4, 8], 1)]),
    );
    assert.deepEqual(fc.chain, ['Transpose']);
    assert.deepEqual(fc.shape, [4, 8]);
    assertTwoOfFour(fc, 1, 0);
  });

  test('a Transpose whose perm is not a permutation fails its layer, naming the perm', async () => {
    for (const perm of [[5, 0], [0, 0]]) {
      const fc = await onlyLayer(
        model([node('Transpose', ['W'], ['Wt'], { perm }, { name: 't' }), node('MatMul', ['X', 'Wt'], ['Y'], {}, { name: 'fc' })], [weight('W', [4, 8], 1)]),
      );
      assert.equal(fc.eligible, false);
      assert.match(fc.error ?? '', new RegExp(`Transpose 't' has perm \\[${perm.join(', ')}\\], not a permutation`));
    }
  });

  test('Transpose without perm reverses the axes: a [kw, kh, IC, OC] conv weight groups along axis 2', async () => {
    const conv = await onlyLayer(
      model([node('Transpose', ['W'], ['Wt'], {}, { name: 't' }), node('Conv', ['X', 'Wt'], ['Y'], {}, { name: 'conv' })], [weight('W', [3, 3, 8, 8], 2)]),
    );
    assertTwoOfFour(conv, 2, 3);
  });

  test('an [OC, kh, kw, IC] conv weight through perm [0, 3, 1, 2] groups along axis 3', async () => {
    const conv = await onlyLayer(
      model([node('Transpose', ['W'], ['Wt'], { perm: [0, 3, 1, 2] }, { name: 't' }), node('Conv', ['X', 'Wt'], ['Y'], {}, { name: 'conv' })], [weight('W', [8, 3, 3, 8], 3)]),
    );
    assertTwoOfFour(conv, 3, 0);
    assert.equal(conv.groups, 8 * 9 * 2);
  });

  test('a zero point after a Transpose is mapped back onto the stored axis', async () => {
    // Stored [K=8, N=4] → Transpose → [4, 8] → DequantizeLinear axis 0 (per N) → Gemm transB = 1.
    const dims = [8, 4];
    const zp = [5, -5, 0, 1];
    const gemm = await onlyLayer(
      model(
        [
          node('Transpose', ['Wq'], ['Wqt'], { perm: [1, 0] }, { name: 't' }),
          node('DequantizeLinear', ['Wqt', 'Wq_scale', 'Wq_zp'], ['W'], { axis: 0 }, { name: 'dq' }),
          node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'gemm' }),
        ],
        [tensor('Wq', 'int8', dims, twoOfFourAlong(dims, 0, (i) => zp[i % 4])), tensor('Wq_scale', 'float32', [4], [1, 1, 1, 1]), tensor('Wq_zp', 'int8', [4], zp)],
      ),
    );
    assert.deepEqual(gemm.chain, ['Transpose', 'DequantizeLinear']);
    assert.equal(gemm.zeroPoint, 'per-channel');
    assertTwoOfFour(gemm, 0, 1);
  });
});

describe('where weights live', () => {
  test('a Constant node output is a weight named after that output', async () => {
    const fc = await onlyLayer(model([constantNode('W', weight('W_value', [8, 4], 0)), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })]));
    assert.equal(fc.weight, 'W');
    assertTwoOfFour(fc, 0, 1);
  });

  test('If branches: a Constant in then_branch and an outer-scope initializer in else_branch', async () => {
    const branch = (name: string, nodes: onnx.INodeProto[]) =>
      graph({ name, nodes, inputs: [], outputs: [valueInfo(`${name}_out`, 'float32', ['n'])] });
    const thenBranch = branch('then', [constantNode('Wt', weight('Wt_value', [8, 4], 0)), node('MatMul', ['X', 'Wt'], ['then_out'], {}, { name: 'then_fc' })]);
    const elseBranch = branch('else', [node('Gemm', ['X', 'W_outer'], ['else_out'], { transB: 1 }, { name: 'else_fc' })]);
    const report = await inspectSpec(
      model([node('If', ['cond'], ['Y'], { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } }, { name: 'branch' })], [weight('W_outer', [4, 8], 1)]),
    );
    assert.deepEqual(report.layers.map((l) => [l.name, l.graph, l.weight]), [
      ['then_fc', 'main/branch.then_branch', 'Wt'],
      ['else_fc', 'main/branch.else_branch', 'W_outer'],
    ]);
    assertTwoOfFour(layer(report, 'then_fc'), 0, 1);
    assertTwoOfFour(layer(report, 'else_fc'), 1, 0);
  });

  test('a Loop body: its own Constant and an outer-scope initializer', async () => {
    const body = graph({
      name: 'body',
      nodes: [
        constantNode('Wb', weight('Wb_value', [8, 4], 0)),
        node('MatMul', ['x_in', 'Wb'], ['h'], {}, { name: 'loop_fc' }),
        node('MatMul', ['h', 'W_outer'], ['x_out'], {}, { name: 'loop_outer_fc' }),
        node('Identity', ['cond_in'], ['cond_out'], {}, { name: 'keep_going' }),
      ],
      inputs: [valueInfo('iter', 'int64', []), boolInfo('cond_in'), valueInfo('x_in', 'float32', ['n', 8])],
      outputs: [boolInfo('cond_out'), valueInfo('x_out', 'float32', ['n', 8])],
    });
    const report = await inspectSpec(
      model([node('Loop', ['trips', 'cond', 'X'], ['Y'], { body: { graph: body } }, { name: 'loop' })], [weight('W_outer', [4, 8], 0)]),
    );
    assert.deepEqual(report.layers.map((l) => [l.name, l.graph, l.weight]), [
      ['loop_fc', 'main/loop.body', 'Wb'],
      ['loop_outer_fc', 'main/loop.body', 'W_outer'],
    ]);
    assertTwoOfFour(layer(report, 'loop_fc'), 0, 1);
    assertTwoOfFour(layer(report, 'loop_outer_fc'), 0, 1);
  });

  test('a Scan body: a MatMul on an outer-scope initializer', async () => {
    const body = graph({
      name: 'body',
      nodes: [node('MatMul', ['x_t', 'W_outer'], ['y_t'], {}, { name: 'scan_fc' })],
      inputs: [valueInfo('x_t', 'float32', [8])],
      outputs: [valueInfo('y_t', 'float32', [4])],
    });
    const report = await inspectSpec(
      model([node('Scan', ['X'], ['Y'], { body: { graph: body }, num_scan_inputs: 1 }, { name: 'scan' })], [weight('W_outer', [8, 4], 0)]),
    );
    assert.deepEqual(report.layers.map((l) => [l.name, l.graph, l.weight]), [['scan_fc', 'main/scan.body', 'W_outer']]);
    assertTwoOfFour(report.layers[0], 0, 1);
  });

  test('a model-local function: a Constant inside its body feeds a MatMul, named after the call site', async () => {
    const block: onnx.IFunctionProto = {
      name: 'Block',
      domain: 'custom',
      input: ['x'],
      output: ['y'],
      node: [constantNode('w', weight('w_value', [8, 4], 0)), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'block_fc' })],
      opsetImport: [{ domain: '', version: 17 }],
    };
    const report = await inspectSpec(
      model([node('Block', ['X'], ['Y'], {}, { name: 'block', domain: 'custom' })], [], {
        functions: [block],
        extraOpsets: [{ domain: 'custom', version: 1 }],
      }),
    );
    assert.deepEqual(report.layers.map((l) => [l.name, l.graph, l.weight]), [['block/block_fc', 'main/block:custom.Block', 'w']]);
    assertTwoOfFour(report.layers[0], 0, 1);
  });

  test('a function never called is still searched, under its own name', async () => {
    const block: onnx.IFunctionProto = {
      name: 'Unused',
      domain: 'custom',
      input: ['x'],
      output: ['y'],
      node: [constantNode('w', weight('w_value', [8, 4], 0)), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'unused_fc' })],
      opsetImport: [{ domain: '', version: 17 }],
    };
    const report = await inspectSpec(model([], [], { functions: [block], extraOpsets: [{ domain: 'custom', version: 1 }] }));
    assert.deepEqual(report.layers.map((l) => [l.name, l.graph]), [['unused_fc', 'function:custom.Unused']]);
  });

  test('a function called twice with weights passed as arguments: one layer per call site, each with its own weight and zero point', async () => {
    // Block(x, wq, zp) = MatMul(x, DequantizeLinear(wq, scale, zp)): the weight and its zero point come from the caller.
    const block: onnx.IFunctionProto = {
      name: 'Block',
      domain: 'custom',
      input: ['x', 'wq', 'zp'],
      output: ['y'],
      node: [
        constantNode('scale', tensor('scale_value', 'float32', [], [0.5])),
        node('DequantizeLinear', ['wq', 'scale', 'zp'], ['w'], {}, { name: 'dq' }),
        node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' }),
      ],
      opsetImport: [{ domain: '', version: 17 }],
    };
    // Along K (axis 0) each group of 4 holds the zero point 3 twice: 2:4 only where zero is read as q == 3.
    const q = twoOfFourAlong([8, 4], 0).map((v) => (v === 0 ? 3 : 5));
    const report = await inspectSpec(
      model(
        [
          node('Block', ['X', 'Wq', 'Zp3'], ['H'], {}, { name: 'first', domain: 'custom' }),
          node('Block', ['X2', 'Wq', 'Zp0'], ['Y'], {}, { name: 'second', domain: 'custom' }),
        ],
        [tensor('Wq', 'int8', [8, 4], q), tensor('Zp3', 'int8', [], [3]), tensor('Zp0', 'int8', [], [0])],
        { functions: [block], extraOpsets: [{ domain: 'custom', version: 1 }] },
      ),
    );
    assert.deepEqual(
      report.layers.map((l) => [l.name, l.graph, l.weight, l.chain.join('>'), l.zeroPoint, l.pass]),
      [
        ['first/fc', 'main/first:custom.Block', 'Wq', 'DequantizeLinear', 'per-tensor', true],
        ['second/fc', 'main/second:custom.Block', 'Wq', 'DequantizeLinear', 'per-tensor', false],
      ],
    );
    assert.equal(report.layers[1].zeros, 0);
  });

  test('one initializer feeding two MatMuls: two layers with identical statistics, counted once in parameters', async () => {
    const report = await inspectSpec(
      model([node('MatMul', ['X', 'W'], ['Y1'], {}, { name: 'fc_a' }), node('MatMul', ['X2', 'W'], ['Y2'], {}, { name: 'fc_b' })], [weight('W', [8, 4], 0)]),
    );
    const [a, b] = report.layers;
    assert.deepEqual([a.name, b.name], ['fc_a', 'fc_b']);
    assert.deepEqual([a.node, b.node], [{ name: 'fc_a', output: 'Y1' }, { name: 'fc_b', output: 'Y2' }]);
    assert.deepEqual({ ...a, name: 'same', node: null }, { ...b, name: 'same', node: null });
    assertTwoOfFour(a, 0, 1);
    assert.equal(report.summary.layers, 2);
    assert.equal(report.summary.passing, 2);
    assert.equal(report.summary.parameters, 32);
    assert.equal(report.summary.eligibleParameters, 32);
  });

  test('an initializer shared by the main graph and an If branch counts once in parameters', async () => {
    const thenBranch = graph({ name: 'then', nodes: [node('MatMul', ['X', 'W'], ['t_out'], {}, { name: 'then_fc' })], inputs: [], outputs: [valueInfo('t_out', 'float32', ['n'])] });
    const elseBranch = graph({ name: 'else', nodes: [node('Identity', ['X'], ['e_out'], {}, { name: 'e' })], inputs: [], outputs: [valueInfo('e_out', 'float32', ['n'])] });
    const report = await inspectSpec(
      model(
        [
          node('MatMul', ['X', 'W'], ['H'], {}, { name: 'fc' }),
          node('If', ['cond'], ['Y'], { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } }, { name: 'branch' }),
        ],
        [weight('W', [8, 4], 0)],
      ),
    );
    assert.deepEqual(report.layers.map((l) => l.name), ['fc', 'then_fc']);
    assert.equal(report.summary.parameters, 32);
    assert.equal(report.summary.eligibleParameters, 32);
    assert.equal(report.summary.compliance, 1);
  });
});

describe('ineligible layers and their reasons', () => {
  test('K not divisible by M', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', [6, 8], 0)]));
    assert.equal(fc.eligible, false);
    assert.equal(fc.reason, 'K=6 (axis 0) is not divisible by M=4');
    assert.equal(fc.axis, 0);
    assert.equal(fc.compliance, null);
    assert.equal(fc.groups, 0);
    assert.equal(fc.elements, 48);
  });

  test('a depthwise convolution (group = channels) has one input channel per group', async () => {
    const dw = await onlyLayer(model([node('Conv', ['X', 'W'], ['Y'], { group: 8 }, { name: 'dw' })], [weight('W', [8, 1, 3, 3], 1)]));
    assert.equal(dw.eligible, false);
    assert.equal(dw.reason, 'grouped/depthwise convolution (group=8): 1 input channel(s) per group < M=4');
  });

  test('a grouped convolution with IC/g = 2 < M is ineligible; with IC/g = 4 it is eligible with a warning', async () => {
    const narrow = await onlyLayer(model([node('Conv', ['X', 'W'], ['Y'], { group: 4 }, { name: 'gconv' })], [weight('W', [8, 2, 3, 3], 1)]));
    assert.equal(narrow.eligible, false);
    assert.equal(narrow.reason, 'grouped/depthwise convolution (group=4): 2 input channel(s) per group < M=4');
    const wide = await onlyLayer(model([node('Conv', ['X', 'W'], ['Y'], { group: 2 }, { name: 'gconv' })], [weight('W', [8, 4, 1, 1], 1)]));
    assertTwoOfFour(wide, 1, 0);
    assert.ok(wide.warnings.some((w) => w.startsWith('grouped convolution (group=2)')), wide.warnings.join('; '));
  });

  test('a 1-D weight (MatMul with a 1-D B) has no reduction axis to group along', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', [8], 0)]));
    assert.equal(fc.eligible, false);
    assert.equal(fc.reason, '1-D weight: no reduction axis to group along');
    assert.equal(fc.axis, null);
  });

  test('a Conv whose weight is computed at run time is listed as ineligible', async () => {
    const computed = await onlyLayer(
      model([node('Relu', ['W'], ['Wr'], {}, { name: 'relu' }), node('Conv', ['X', 'Wr'], ['Y'], {}, { name: 'conv' })], [weight('W', [8, 8, 1, 1], 1)]),
    );
    assert.equal(computed.eligible, false);
    assert.equal(computed.reason, "weight computed at run time (by Relu 'relu')");
    assert.equal(computed.shape, null);
    assert.equal(computed.axis, null);
    const input = await onlyLayer(model([node('Conv', ['X', 'X2'], ['Y'], {}, { name: 'conv' })]));
    assert.equal(input.eligible, false);
    assert.equal(input.reason, "weight computed at run time ('X2' is a graph input)");
  });

  test('ConvTranspose is listed, not hidden', async () => {
    const up = await onlyLayer(model([node('ConvTranspose', ['X', 'W'], ['Y'], {}, { name: 'up' })], [weight('W', [8, 8, 3, 3], 1)]));
    assert.equal(up.op, 'ConvTranspose');
    assert.equal(up.weight, 'W');
    assert.deepEqual(up.shape, [8, 8, 3, 3]);
    assert.equal(up.eligible, false);
    assert.equal(up.reason, 'ConvTranspose: no mainstream runtime accelerates N:M sparsity for this op');
  });

  test('int64 weights are not accelerated', async () => {
    const dims = [8, 4];
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [tensor('W', 'int64', dims, twoOfFourAlong(dims, 0))]));
    assert.equal(fc.eligible, false);
    assert.equal(fc.dtype, 'int64');
    assert.equal(fc.reason, 'weights of type int64 are not accelerated');
  });

  test('a MatMul of two run-time tensors is not a layer', async () => {
    const report = await inspectSpec(
      model([
        node('MatMul', ['X', 'X2'], ['Y'], {}, { name: 'scores' }),
        node('MatMulInteger', ['X', 'X2'], ['Yi'], {}, { name: 'scores_int' }),
        node('QLinearMatMul', ['X', 'a', 'b', 'X2', 'c', 'd', 'e', 'f'], ['Yq'], {}, { name: 'scores_q' }),
      ]),
    );
    assert.deepEqual(report.layers, []);
    assert.equal(report.summary.layers, 0);
    assert.equal(report.summary.compliance, null);
  });
});

describe('hardware-shape warnings on eligible layers', () => {
  test('a small layer with dims that are not multiples of 16 gets both warnings', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', [8, 4], 0)]));
    assert.equal(fc.warnings.length, 2);
    assert.match(fc.warnings[0], /^small layer \(K=8, out=4\)/);
    assert.match(fc.warnings[1], /^K=8, out=4 not multiples of 16/);
  });

  test('channels below 256 warn even when they are multiples of 16', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', [32, 256], 0)]));
    assert.equal(fc.warnings.length, 1);
    assert.match(fc.warnings[0], /^small layer \(K=32, out=256\)/);
  });

  test('large dims that are not multiples of 16 warn about padding only', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', [260, 256], 0)]));
    assert.equal(fc.warnings.length, 1);
    assert.match(fc.warnings[0], /^K=260, out=256 not multiples of 16/);
  });

  test('a 256x256 layer has no warnings', async () => {
    const fc = await onlyLayer(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [weight('W', [256, 256], 0)]));
    assertTwoOfFour(fc, 0, 1);
    assert.deepEqual(fc.warnings, []);
  });
});
