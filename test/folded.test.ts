// Weights that are constants only after folding (issue 12): Mul by a mask, Where, Reshape / Squeeze / Unsqueeze /
// Flatten / Concat / Slice of constants, as runtimes fold them; the effective weight is inspected with exact counts,
// the layer says what it was folded from, a chain that cannot be folded says why, and prune writes it back folded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type ModelSpec, graph, node, valueInfo } from './support/builder';
import { foldLimits } from '../src/engine/onnx/folded';
import type { LayerReport } from '../src/engine/sparsity/inspect';
import { cli } from './support/cli';
import { convertSpec, decodeModelFile, float32Values, tensorProto } from './support/convert-read';
import type { ConvertReport, LayerChange } from '../src/engine/convert/convert';
import { inspectFile, inspectSpec, layer, writeTempModel } from './support/models';
import { readGroupEncodings, readRegion } from '../src/engine/sparsity/region';
import { exportModel } from '../src/engine/convert/export';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type HardwareProfile, resolveProfile } from '../src/engine/speedup/profiles';
import { ROUND } from './support/profiles';
import { assertTwoOfFour, count, tensor, twoOfFourAlong } from './support/patterns';

/** Dense non-zero values (1..5, alternating signs): every group fails 2:4 unless a mask zeroes it. */
function dense(n: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => (1 + ((i + offset) % 5)) * (i % 2 ? -1 : 1));
}

/** 1 where twoOfFourAlong is non-zero: a 0/1 mask that makes any dense weight 2:4 along `axis`. */
function maskAlong(dims: number[], axis: number): number[] {
  return twoOfFourAlong(dims, axis).map((v) => (v ? 1 : 0));
}

function boolTensor(name: string, dims: number[], values: boolean[]): onnx.ITensorProto {
  return { name, dataType: 9, dims, rawData: Uint8Array.from(values, (v) => (v ? 1 : 0)) };
}

const int64 = (name: string, values: number[]) => tensor(name, 'int64', [values.length], values);

function model(nodes: onnx.INodeProto[], initializers: onnx.ITensorProto[] = []): ModelSpec {
  return {
    graph: graph({
      name: 'folded',
      nodes,
      inputs: [valueInfo('X', 'float32', [2, 8])],
      outputs: [valueInfo('Y', 'float32', [2, 16])],
      initializers,
    }),
    opset: 17,
  };
}

async function only(spec: ModelSpec): Promise<LayerReport> {
  const report = await inspectSpec(spec);
  assert.equal(report.layers.length, 1, `layers: ${report.layers.map((l) => l.name).join(', ')}`);
  return report.layers[0];
}

describe('a weight times a constant mask (Mul) is inspected as the product', () => {
  const dims = [8, 16];
  const W = tensor('W', 'float32', dims, dense(count(dims)));
  const M = tensor('M', 'float32', dims, maskAlong(dims, 0));

  for (const [order, inputs] of [
    ['W x M', ['W', 'M']],
    ['M x W', ['M', 'W']],
  ] as const) {
    test(`${order}: the dense weight is 2:4 once masked, and the layer says so`, async () => {
      const fc = await only(model([node('Mul', [...inputs], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })], [W, M]));
      assertTwoOfFour(fc, 0, 1);
      assert.equal(fc.weight, 'W');
      assert.deepEqual(fc.shape, [8, 16]);
      assert.deepEqual(fc.chain, []);
      assert.deepEqual(fc.folded, { ops: ['Mul'], from: [...inputs], note: "effective weight = 'W' x mask 'M' (0/1 mask, 50% zeros)" });
    });
  }

  test('a mask broadcast along K ([1, 8]) or per output channel ([16, 1])', async () => {
    const gemmDims = [16, 8]; // Gemm transB: [N, K], K along axis 1
    const Wg = tensor('Wg', 'float32', gemmDims, dense(count(gemmDims)));
    const alongK = tensor('Mk', 'float32', [1, 8], [1, 1, 0, 0, 0, 1, 1, 0]);
    const perChannel = tensor('Mc', 'float32', [16, 1], Array.from({ length: 16 }, (_, i) => (i < 4 ? 1 : 0)));
    const report = await inspectSpec(
      model(
        [
          node('Mul', ['Wg', 'Mk'], ['a'], {}, { name: 'mul_k' }),
          node('Gemm', ['X', 'a'], ['Y1'], { transB: 1 }, { name: 'gemm_k' }),
          node('Mul', ['Mc', 'Wg'], ['b'], {}, { name: 'mul_c' }),
          node('Gemm', ['X', 'b'], ['Y'], { transB: 1 }, { name: 'gemm_c' }),
        ],
        [Wg, alongK, perChannel],
      ),
    );
    const k = layer(report, 'gemm_k');
    assertTwoOfFour(k, 1, 0);
    assert.equal(k.folded?.note, "effective weight = 'Wg' x mask 'Mk' [1, 8] broadcast to [16, 8] (0/1 mask, 50% zeros)");
    // 4 rows kept of 16: their 2 groups each hold 4 non-zeros; the 12 zeroed rows are valid.
    const c = layer(report, 'gemm_c');
    assert.equal(c.groups, 32);
    assert.equal(c.validGroups, 24);
    assert.equal(c.zeros, 96);
    assert.equal(c.folded?.note, "effective weight = 'Wg' x mask 'Mc' [16, 1] broadcast to [16, 8] (0/1 mask, 75% zeros)");
  });

  test('a mask that is not 0/1 still folds (as the product) and the note says so', async () => {
    const scaled = tensor('S', 'float32', dims, twoOfFourAlong(dims, 0).map((v) => v * 0.5));
    const fc = await only(model([node('Mul', ['W', 'S'], ['Wm']), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })], [W, scaled]));
    assertTwoOfFour(fc, 0, 1);
    assert.equal(fc.folded?.note, "effective weight = 'W' x 'S' (not a 0/1 mask: folded as the product)");
  });

  test('a scalar or a bias-like constant: a scaled weight is folded, an activation scaled is not a weight', async () => {
    const W24 = tensor('W24', 'float32', dims, twoOfFourAlong(dims, 0));
    const s = tensor('s', 'float32', [], [0.5]);
    const bias = tensor('bias', 'float32', [8], dense(8));
    const report = await inspectSpec(
      model(
        [
          node('Mul', ['W24', 's'], ['Ws'], {}, { name: 'scale' }),
          node('MatMul', ['X', 'Ws'], ['Y1'], {}, { name: 'scaled' }),
          // An activation times a bias-like vector feeds MatMul's A: the layer's weight stays W24 as stored.
          node('Mul', ['X', 'bias'], ['Xb'], {}, { name: 'xb' }),
          node('MatMul', ['Xb', 'W24'], ['Y'], {}, { name: 'plain' }),
        ],
        [W24, s, bias],
      ),
    );
    const scaled = layer(report, 'scaled');
    assertTwoOfFour(scaled, 0, 1);
    assert.equal(scaled.folded?.note, "effective weight = 'W24' x 's' (a scalar 0.5, not a mask)");
    const plain = layer(report, 'plain');
    assertTwoOfFour(plain, 0, 1);
    assert.equal(plain.folded, null);
    assert.equal(plain.weight, 'W24');
    assert.equal(report.layers.length, 2);
  });
});

describe('Where(mask, W, 0)', () => {
  const dims = [8, 16];
  const W = tensor('W', 'float32', dims, dense(count(dims)));
  const keep = maskAlong(dims, 0).map((v) => v === 1);

  test('keeps W where the bool mask is true; Where(mask, 0, W) keeps it where false', async () => {
    const report = await inspectSpec(
      model(
        [
          node('Where', ['C', 'W', 'zero'], ['a'], {}, { name: 'where' }),
          node('MatMul', ['X', 'a'], ['Y1'], {}, { name: 'kept' }),
          node('Where', ['Cn', 'zero', 'W'], ['b'], {}, { name: 'where_not' }),
          node('MatMul', ['X', 'b'], ['Y'], {}, { name: 'kept_not' }),
        ],
        [W, boolTensor('C', dims, keep), boolTensor('Cn', dims, keep.map((k) => !k)), tensor('zero', 'float32', [], [0])],
      ),
    );
    const a = layer(report, 'kept');
    assertTwoOfFour(a, 0, 1);
    assert.deepEqual(a.folded, { ops: ['Where'], from: ['C', 'W', 'zero'], note: "effective weight = Where(mask 'C', 'W', 0) (mask keeps 50%)" });
    const b = layer(report, 'kept_not');
    assertTwoOfFour(b, 0, 1);
    assert.equal(b.folded?.note, "effective weight = Where(mask 'Cn', 0, 'W') (mask zeroes 50%)");
  });
});

describe('reshapes of constants are views of the stored bytes', () => {
  test('Reshape, Flatten, Unsqueeze and Squeeze (axes as an attribute, as before opset 13) give the effective dims; Transpose after a Reshape remaps K', async () => {
    const eff = [8, 16];
    const values = twoOfFourAlong(eff, 0); // 2:4 along K of the effective [8, 16]
    const report = await inspectSpec(
      model(
        [
          node('Reshape', ['Wr', 'shape'], ['r'], {}, { name: 'reshape' }),
          node('MatMul', ['X', 'r'], ['Y1'], {}, { name: 'reshaped' }),
          node('Flatten', ['Wf'], ['f'], { axis: 1 }, { name: 'flatten' }),
          node('MatMul', ['X', 'f'], ['Y2'], {}, { name: 'flattened' }),
          node('Unsqueeze', ['Wu', 'axes0'], ['u'], {}, { name: 'unsqueeze' }),
          node('MatMul', ['X', 'u'], ['Y3'], {}, { name: 'unsqueezed' }),
          node('Squeeze', ['Ws'], ['s'], { axes: [0] }, { name: 'squeeze' }),
          node('MatMul', ['X', 's'], ['Y4'], {}, { name: 'squeezed' }),
          node('Flatten', ['u'], ['uf'], { axis: 2 }, { name: 'flatten_u' }),
          node('MatMul', ['X', 'uf'], ['Y5'], {}, { name: 'run' }),
          // Stored [4, 32] = effective [8, 16] 2:4 along axis 1, transposed to [16, 8]: MatMul's K (axis 0) is axis 1.
          node('Reshape', ['Wt', 'shape'], ['rt'], {}, { name: 'reshape_t' }),
          node('Transpose', ['rt'], ['t'], { perm: [1, 0] }, { name: 'transpose' }),
          node('MatMul', ['X', 't'], ['Y'], {}, { name: 'transposed' }),
        ],
        [
          tensor('Wr', 'float32', [16, 8], values),
          int64('shape', [8, -1]),
          tensor('Wf', 'float32', [8, 4, 4], values),
          tensor('Wu', 'float32', [8, 16], values),
          int64('axes0', [0]),
          tensor('Ws', 'float32', [1, 8, 16], values),
          tensor('Wt', 'float32', [4, 32], twoOfFourAlong(eff, 1)),
        ],
      ),
    );
    const reshaped = layer(report, 'reshaped');
    assertTwoOfFour(reshaped, 0, 1);
    assert.deepEqual(reshaped.shape, [8, 16]);
    assert.deepEqual(reshaped.folded, { ops: ['Reshape'], from: ['Wr'], note: "'Wr' [16, 8] viewed as [8, 16] by Reshape (same elements)" });
    const flattened = layer(report, 'flattened');
    assert.deepEqual(flattened.shape, [8, 16]);
    assertTwoOfFour(flattened, 0, 1);
    const unsqueezed = layer(report, 'unsqueezed');
    assert.deepEqual(unsqueezed.shape, [1, 8, 16]);
    assertTwoOfFour(unsqueezed, 1, 2);
    const squeezed = layer(report, 'squeezed');
    assert.deepEqual(squeezed.shape, [8, 16]);
    assertTwoOfFour(squeezed, 0, 1);
    assert.deepEqual(squeezed.folded?.ops, ['Squeeze']);
    const run = layer(report, 'run');
    assertTwoOfFour(run, 0, 1);
    assert.deepEqual(run.folded, { ops: ['Unsqueeze', 'Flatten'], from: ['Wu'], note: "'Wu' [8, 16] viewed as [8, 16] by Unsqueeze, Flatten (same elements)" });
    const transposed = layer(report, 'transposed');
    assert.deepEqual(transposed.chain, ['Transpose']);
    assert.deepEqual(transposed.shape, [8, 16]);
    assertTwoOfFour(transposed, 1, 0);
  });
});

describe('Concat and Slice of constants', () => {
  test('a fused QKV weight built from three: every part is read (two 2:4, one dense: compliance 2/3)', async () => {
    const d = [8, 8];
    const fc = await only(
      model(
        [node('Concat', ['Wq', 'Wk', 'Wv'], ['qkv'], { axis: 1 }, { name: 'fuse' }), node('MatMul', ['X', 'qkv'], ['Y'], {}, { name: 'qkv_proj' })],
        [tensor('Wq', 'float32', d, twoOfFourAlong(d, 0)), tensor('Wk', 'float32', d, twoOfFourAlong(d, 0)), tensor('Wv', 'float32', d, dense(64))],
      ),
    );
    assert.equal(fc.weight, 'qkv');
    assert.deepEqual(fc.shape, [8, 24]);
    assert.equal(fc.groups, 48);
    assert.equal(fc.validGroups, 32);
    assert.equal(fc.zeros, 64);
    assert.deepEqual(fc.folded, { ops: ['Concat'], from: ['Wq', 'Wk', 'Wv'], note: "effective weight = Concat of 'Wq', 'Wk', 'Wv' along axis 1 [8, 24]" });
  });

  test('int8 parts joined, then DequantizeLinear with a zero point: zeros are the zero point', async () => {
    const d = [8, 8];
    const fc = await only(
      model(
        [
          node('Concat', ['Wq', 'Wk'], ['qk'], { axis: 1 }, { name: 'fuse' }),
          node('DequantizeLinear', ['qk', 'scale', 'zp'], ['deq'], {}, { name: 'dq' }),
          node('MatMul', ['X', 'deq'], ['Y'], {}, { name: 'qk_proj' }),
        ],
        [
          tensor('Wq', 'int8', d, twoOfFourAlong(d, 0, () => 3)),
          tensor('Wk', 'int8', d, twoOfFourAlong(d, 0, () => 3)),
          tensor('scale', 'float32', [], [0.1]),
          tensor('zp', 'int8', [], [3]),
        ],
      ),
    );
    assertTwoOfFour(fc, 0, 1);
    assert.equal(fc.dtype, 'int8');
    assert.equal(fc.zeroPoint, 'per-tensor');
    assert.deepEqual(fc.chain, ['DequantizeLinear']);
    assert.deepEqual(fc.folded?.ops, ['Concat']);
  });

  test('Slice with constant starts, ends and axes takes the 2:4 half of a wider constant', async () => {
    const wide = [8, 32];
    const values = twoOfFourAlong(wide, 0).map((v, i) => (i % 32 < 16 ? v : 1 + (i % 3)));
    const fc = await only(
      model(
        [node('Slice', ['W', 'starts', 'ends', 'axes'], ['half'], {}, { name: 'cut' }), node('MatMul', ['X', 'half'], ['Y'], {}, { name: 'fc' })],
        [tensor('W', 'float32', wide, values), int64('starts', [0]), int64('ends', [16]), int64('axes', [1])],
      ),
    );
    assertTwoOfFour(fc, 0, 1);
    assert.deepEqual(fc.shape, [8, 16]);
    assert.equal(fc.folded?.note, "effective weight = Slice of 'W' [8, 32] to [8, 16]");
  });
});

describe('Slice bounds as the spec clamps them', () => {
  test('steps of 2 and of -2 (from the end, past the start) take the even columns; Slice-1 attributes take the first half', async () => {
    const wide = [8, 32];
    // Even columns 2:4 along K, odd columns dense: only a slice of even columns passes.
    const values = twoOfFourAlong(wide, 0).map((v, i) => (i % 2 === 0 ? v : 1 + (i % 3)));
    const half = twoOfFourAlong(wide, 0).map((v, i) => (i % 32 < 16 ? v : 1 + (i % 3)));
    const report = await inspectSpec(
      model(
        [
          node('Slice', ['W', 'zero', 'end', 'axis1', 'two'], ['even'], {}, { name: 'even' }),
          node('MatMul', ['X', 'even'], ['Y1'], {}, { name: 'forward' }),
          node('Slice', ['W', 'minus2', 'far', 'axis1', 'minus2'], ['back'], {}, { name: 'back' }),
          node('MatMul', ['X', 'back'], ['Y2'], {}, { name: 'backward' }),
          node('Slice', ['H'], ['h'], { starts: [0], ends: [16], axes: [1] }, { name: 'slice1' }),
          node('MatMul', ['X', 'h'], ['Y'], {}, { name: 'attributes' }),
        ],
        [
          tensor('W', 'float32', wide, values),
          tensor('H', 'float32', wide, half),
          int64('zero', [0]),
          int64('end', [32]),
          int64('axis1', [1]),
          int64('two', [2]),
          int64('minus2', [-2]),
          int64('far', [-1000]),
        ],
      ),
    );
    for (const name of ['forward', 'backward', 'attributes']) {
      const l = layer(report, name);
      assert.deepEqual(l.shape, [8, 16], name);
      assertTwoOfFour(l, 0, 1);
    }
  });
});

describe('a chain that cannot be folded says why, naming the op and the input', () => {
  test('an operand that is a graph input, a shape computed at run time, ranks that do not join', async () => {
    const d = [16, 8];
    const report = await inspectSpec(
      model(
        [
          node('Mul', ['W', 'X'], ['a'], {}, { name: 'm' }),
          node('Gemm', ['X', 'a'], ['Y1'], { transB: 1 }, { name: 'by_input' }),
          node('Shape', ['X'], ['xs'], {}, { name: 'shape_of_x' }),
          node('Reshape', ['W', 'xs'], ['r'], {}, { name: 'r' }),
          node('Gemm', ['X', 'r'], ['Y2'], { transB: 1 }, { name: 'dynamic_shape' }),
          node('Concat', ['W', 'W3'], ['c'], { axis: 0 }, { name: 'c' }),
          node('Gemm', ['X', 'c'], ['Y3'], { transB: 1 }, { name: 'ranks' }),
          node('Transpose', ['W'], ['wt'], {}, { name: 't' }),
          node('Mul', ['wt', 'half'], ['mt'], {}, { name: 'mt' }),
          node('Gemm', ['X', 'mt'], ['Y'], {}, { name: 'below' }),
        ],
        [tensor('W', 'float32', d, dense(128)), tensor('W3', 'float32', [2, 2, 2], dense(8)), tensor('half', 'float32', [], [0.5])],
      ),
    );
    assert.equal(layer(report, 'by_input').reason, "weight computed at run time (not folded: Mul 'm': its operand 'X' is a graph input)");
    assert.equal(layer(report, 'dynamic_shape').reason, "weight computed at run time (not folded: Reshape 'r': shape 'xs' is computed at run time)");
    assert.equal(layer(report, 'ranks').reason, "weight not folded: Concat 'c': Concat of a 2-D and a 3-D constant");
    assert.equal(layer(report, 'below').reason, "weight not folded: Mul 'mt': its operand 'wt' comes through Transpose 't', which this tool does not fold below a Mul");
    // The nodes named by these reasons are not counted again as unread weights.
    assert.deepEqual(report.unrecognized, []);
  });

  test('4-bit constants are folded only by reshaping: a Concat of int4 weights says so, and the MatMul is listed', async () => {
    const d = [8, 8];
    const fc = await only(
      model(
        [
          node('Concat', ['A4', 'B4'], ['c'], { axis: 1 }, { name: 'c4' }),
          node('DequantizeLinear', ['c', 'scale'], ['deq'], {}, { name: 'dq' }),
          node('MatMul', ['X', 'deq'], ['Y'], {}, { name: 'fc' }),
        ],
        [tensor('A4', 'int4', d, new Array(64).fill(1)), tensor('B4', 'int4', d, new Array(64).fill(1)), tensor('scale', 'float32', [], [0.1])],
      ),
    );
    assert.equal(fc.reason, "weight not folded: Concat 'c4': 'A4' is int4: 4-bit constants are folded only by reshaping");
  });

  test('folding more than the cap is refused with the size; a reshape needs no memory and still streams', async () => {
    const dims = [8, 16];
    const spec = model(
      [
        node('Mul', ['W', 'M'], ['Wm'], {}, { name: 'mask_mul' }),
        node('MatMul', ['X', 'Wm'], ['Y1'], {}, { name: 'masked' }),
        node('Reshape', ['W', 'shape'], ['r'], {}, { name: 'reshape' }),
        node('MatMul', ['X', 'r'], ['Y'], {}, { name: 'reshaped' }),
      ],
      [tensor('W', 'float32', dims, twoOfFourAlong(dims, 0)), tensor('M', 'float32', dims, maskAlong(dims, 0)), int64('shape', [8, 16])],
    );
    const saved = foldLimits.bytes;
    foldLimits.bytes = 1024;
    try {
      const report = await inspectSpec(spec);
      // W and M (512 bytes each) and their product: 1536 bytes.
      assert.equal(layer(report, 'masked').reason, "weight not folded: Mul 'mask_mul': folding would take 1536 bytes, more than this tool folds (1024 bytes)");
      assertTwoOfFour(layer(report, 'reshaped'), 0, 1);
    } finally {
      foldLimits.bytes = saved;
    }
  });

  test('the drill-down reads the effective weight: a masked group shows the zeros of the mask', () => {
    const dims = [8, 16];
    const path = writeTempModel(
      model(
        [node('Mul', ['M', 'W'], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })],
        [tensor('W', 'float32', dims, dense(128)), tensor('M', 'float32', dims, maskAlong(dims, 0))],
      ),
    );
    // Output feature 0 is column 0 of [K = 8, N = 16]: W[0][0] = 1, W[1][0] = 2 (element 16), rows 2 and 3 masked.
    const picked = readGroupEncodings(path, { n: 2, m: 4 }, 'fc', 0, 0, 0);
    assert.deepEqual(picked.values, ['1', '2', '0', '0']);
    assert.equal(picked.mask, '1100');
    const region = readRegion(path, { n: 2, m: 4 }, { layer: 'fc', row0: 0, row1: 16, group0: 0, group1: 2, position: 0 });
    assert.deepEqual(region.counts, new Array(32).fill(2));
  });

  test('the speedup projection counts a folded layer: X [2, 8] x effective [8, 16] is 256 MACs', async () => {
    const dims = [8, 16];
    const report = await inspectSpec(
      model(
        [node('Mul', ['W', 'M'], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })],
        [tensor('W', 'float32', dims, dense(128)), tensor('M', 'float32', dims, maskAlong(dims, 0))],
      ),
      { speedup: { hardware: resolveProfile(ROUND as unknown as HardwareProfile) as HardwareProfile } },
    );
    const fc = report.projection!.layers.find((l) => l.name === 'fc')!;
    assert.equal(fc.macs, 256);
  });

  test('a folded weight is scanned in a worker thread as inline', async () => {
    const dims = [8, 16];
    const path = writeTempModel(
      model(
        [node('Mul', ['M', 'W'], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })],
        [tensor('W', 'float32', dims, dense(128)), tensor('M', 'float32', dims, maskAlong(dims, 0))],
      ),
    );
    const threaded = await inspectFile(path, { workers: 2, inlineBelow: 0 });
    assertTwoOfFour(layer(threaded, 'fc'), 0, 1);
  });
});

function change(report: ConvertReport, name: string): LayerChange {
  const found = report.layers.find((l) => l.name === name);
  if (!found) throw new Error(`no layer '${name}': ${report.layers.map((l) => l.name).join(', ')}`);
  return found;
}

describe('convert --mode prune writes a folded weight back folded, where that is exact', () => {
  const dims = [8, 16];
  const values = dense(count(dims));
  // Each group of 4 along K keeps 3: the masked weight fails 2:4 until pruned.
  const threeOfFour = Array.from({ length: count(dims) }, (_, i) => (Math.floor(i / 16) % 4 === 3 ? 0 : 1));

  test('a 0/1 mask Mul: W is written as the pruned product (zero where pruned or masked), the mask stays; re-inspected 2:4, run in ONNX Runtime', async () => {
    const { output, report } = await convertSpec(
      model([node('Mul', ['W', 'M'], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })], [tensor('W', 'float32', dims, values), tensor('M', 'float32', dims, threeOfFour)]),
    );
    const fc = change(report, 'fc');
    assert.equal(fc.action, 'prune');
    assert.equal(fc.prunedElements, 32); // one of the three kept in each of the 32 groups
    assert.equal(fc.passesAfter, true);
    assert.equal(report.verified, true);
    assert.equal(report.runtime?.ran, true);
    const after = float32Values(output, 'W');
    assert.equal(after.filter((v) => v !== 0).length, 64);
    after.forEach((v, i) => assert.ok(v === 0 || (v === values[i] && threeOfFour[i] === 1), `element ${i}`));
    assert.deepEqual(float32Values(output, 'M'), threeOfFour);
    const again = layer(await inspectFile(output), 'fc');
    assertTwoOfFour(again, 0, 1);
    assert.equal(again.folded?.note, "effective weight = 'W' x mask 'M' (0/1 mask, 25% zeros)");
  });

  test('a negative W under a 0 of the mask folds to -0.0 (warned); pruning writes +0.0 back into W, and the warning is gone', async () => {
    const negative = values.map((v) => -Math.abs(v));
    const spec = model([node('Mul', ['W', 'M'], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })], [tensor('W', 'float32', dims, negative), tensor('M', 'float32', dims, threeOfFour)]);
    const before = layer(await inspectSpec(spec), 'fc');
    assert.equal(before.negativeZeros, 32, 'every masked place of the folded product is -0.0');
    assert.ok(before.warnings.some((w) => w.includes("here they come from folding (a negative weight times a mask's 0 is -0.0")), before.warnings.join('; '));
    const { output } = await convertSpec(spec);
    const bits = new Uint32Array(Float32Array.from(float32Values(output, 'W')).buffer);
    assert.equal(bits.filter((b) => b === 0x80000000).length, 0, 'no -0.0 written');
    assert.equal(bits.filter((b) => b === 0).length, 64);
    const again = layer(await inspectFile(output), 'fc');
    assert.equal(again.negativeZeros, 0);
    assert.ok(!again.warnings.some((w) => w.includes('-0.0')), again.warnings.join('; '));
  });

  test('Where(mask, W, 0): W is written as the pruned effective weight, the bool mask stays', async () => {
    const keep = threeOfFour.map((v) => v === 1);
    const { output, report } = await convertSpec(
      model(
        [node('Where', ['C', 'W', 'zero'], ['Wm'], {}, { name: 'where' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })],
        [tensor('W', 'float32', dims, values), boolTensor('C', dims, keep), tensor('zero', 'float32', [], [0])],
      ),
    );
    const fc = change(report, 'fc');
    assert.deepEqual([fc.action, fc.prunedElements, fc.passesAfter], ['prune', 32, true]);
    assert.equal(report.runtime?.ran, true);
    const after = float32Values(output, 'W');
    assert.equal(after.filter((v) => v !== 0).length, 64);
    after.forEach((v, i) => assert.ok(v === 0 || (v === values[i] && keep[i]), `element ${i}`));
    assertTwoOfFour(layer(await inspectFile(output), 'fc'), 0, 1);
  });

  test('a reshaped weight is pruned in its stored constant, same element order, same stored dims', async () => {
    const { output, report } = await convertSpec(
      model([node('Reshape', ['W', 'shape'], ['r'], {}, { name: 'reshape' }), node('MatMul', ['X', 'r'], ['Y'], {}, { name: 'fc' })], [tensor('W', 'float32', [16, 8], values), int64('shape', [8, 16])]),
    );
    const fc = change(report, 'fc');
    assert.equal(fc.action, 'prune');
    assert.equal(fc.prunedElements, 64);
    assert.equal(fc.passesAfter, true);
    assert.equal(report.runtime?.ran, true);
    assert.deepEqual(tensorProto(decodeModelFile(output), 'W').dims?.map(Number), [16, 8]);
    assertTwoOfFour(layer(await inspectFile(output), 'fc'), 0, 1);
  });

  test('a reshaped constant that another node reads too is not pruned, saying why', async () => {
    const spec: ModelSpec = {
      graph: graph({
        name: 'shared',
        nodes: [node('Reshape', ['W', 'shape'], ['r'], {}, { name: 'reshape' }), node('MatMul', ['X', 'r'], ['Y'], {}, { name: 'fc' }), node('Identity', ['W'], ['Wout'], {}, { name: 'copy' })],
        inputs: [valueInfo('X', 'float32', [2, 8])],
        outputs: [valueInfo('Y', 'float32', [2, 16]), valueInfo('Wout', 'float32', [16, 8])],
        initializers: [tensor('W', 'float32', [16, 8], values), int64('shape', [8, 16])],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.equal(change(report, 'fc').action, 'skip');
    assert.equal(change(report, 'fc').reason, "folded weight (Reshape of 'W') not written back: 'W' is read by other nodes too: pruning it would change them");
    assert.deepEqual(float32Values(output, 'W'), values);
  });

  test('where the pruned weight cannot be written back exactly, the layer is left unchanged and the report says why', async () => {
    const d = [8, 8];
    const { output, report } = await convertSpec(
      model(
        [
          node('Concat', ['Wq', 'Wk'], ['qk'], { axis: 1 }, { name: 'fuse' }),
          node('MatMul', ['X', 'qk'], ['Y1'], {}, { name: 'fused' }),
          node('Mul', ['W', 'S'], ['Ws'], {}, { name: 'scale_mul' }),
          node('MatMul', ['X', 'Ws'], ['Y2'], {}, { name: 'scaled' }),
          node('Mul', ['Wb', 'Mb'], ['Wbm'], {}, { name: 'bcast' }),
          node('Gemm', ['X', 'Wbm'], ['Y'], { transB: 1 }, { name: 'broadcast' }),
        ],
        [
          tensor('Wq', 'float32', d, dense(64)),
          tensor('Wk', 'float32', d, dense(64, 1)),
          tensor('W', 'float32', dims, values),
          tensor('S', 'float32', dims, threeOfFour.map((v) => v * 2)),
          // Neither operand has the product's shape: a per-row scale times a per-column mask.
          tensor('Wb', 'float32', [16, 1], dense(16)),
          tensor('Mb', 'float32', [1, 8], [1, 1, 1, 0, 1, 1, 1, 0]),
        ],
      ),
    );
    assert.equal(change(report, 'fused').action, 'skip');
    assert.equal(change(report, 'fused').reason, "folded weight (Concat of 'Wq', 'Wk') not written back: Concat 'fuse' joins 2 constants: the pruned result is not written back by this version");
    assert.equal(change(report, 'scaled').reason, "folded weight (Mul of 'W', 'S') not written back: 'S' is not a 0/1 mask: the pruned product cannot be written back into 'W' exactly");
    assert.equal(change(report, 'broadcast').reason, "folded weight (Mul of 'Wb', 'Mb') not written back: 'Wb' is broadcast to [16, 8]: the pruned weight cannot be written back into it");
    assert.deepEqual(float32Values(output, 'W'), values);
    assert.deepEqual(float32Values(output, 'Wq'), dense(64));
  });

  test('compress declines a folded layer with the reason', async () => {
    const { report } = await convertSpec(
      model([node('Mul', ['W', 'M'], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })], [tensor('W', 'float32', dims, values), tensor('M', 'float32', dims, threeOfFour)]),
      { mode: 'compress' },
    );
    assert.equal(change(report, 'fc').action, 'skip');
    assert.equal(change(report, 'fc').reason, "folded weight (Mul of 'W', 'M'): compress rewrites stored constants only; prune it instead");
  });
});

describe('export writes the effective weight of a folded layer that passes, and says it was folded', () => {
  test('Ascend values of a masked weight are the kept values of W x M', async () => {
    const dims = [8, 16];
    const path = writeTempModel(
      model([node('Mul', ['W', 'M'], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })], [tensor('W', 'float32', dims, dense(128)), tensor('M', 'float32', dims, maskAlong(dims, 0))]),
    );
    const out = join(dirname(path), 'export');
    const manifest = await exportModel(path, { encoding: 'ascend', out });
    assert.equal(manifest.layers.length, 1);
    assert.equal(manifest.layers[0].folded, "effective weight = 'W' x mask 'M' (0/1 mask, 50% zeros)");
    assert.deepEqual(manifest.layers[0].matrix, [16, 8]);
    const bytes = readFileSync(join(out, manifest.layers[0].files[0].file));
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    assert.equal(values.length, 64);
    // Output feature 0 is column 0 of W [8, 16]: rows 0, 1, 4, 5 kept by the mask (elements 0, 16, 64, 80).
    assert.deepEqual(Array.from(values.subarray(0, 4)), [1, 2, 5, 1]);
  });
});

describe('the CLI says a weight was folded, and from what', () => {
  test('table, Markdown and CSV carry the note; JSON the field', () => {
    const dims = [8, 16];
    const path = writeTempModel(
      model([node('Mul', ['W', 'M'], ['Wm'], {}, { name: 'mask_mul' }), node('MatMul', ['X', 'Wm'], ['Y'], {}, { name: 'fc' })], [tensor('W', 'float32', dims, dense(128)), tensor('M', 'float32', dims, maskAlong(dims, 0))]),
    );
    const note = "folded: effective weight = 'W' x mask 'M' (0/1 mask, 50% zeros)";
    const table = cli('inspect', path);
    assert.equal(table.code, 0, table.stderr);
    const row = table.stdout.split('\n').find((l) => l.startsWith('fc '));
    assert.ok(row?.includes(`PASS`) && row.includes(`${note}; small layer`), row);
    assert.ok(cli('inspect', path, '--format', 'markdown').stdout.includes(note));
    const csv = cli('inspect', path, '--format', 'csv').stdout.split('\n');
    assert.ok(csv[0].split(',').includes('folded'));
    assert.ok(csv[1].includes(`"effective weight = 'W' x mask 'M' (0/1 mask, 50% zeros)"`), csv[1]);
    const json = JSON.parse(cli('inspect', path, '--format', 'json').stdout);
    assert.deepEqual(json.layers[0].folded, { ops: ['Mul'], from: ['W', 'M'], note: "effective weight = 'W' x mask 'M' (0/1 mask, 50% zeros)" });
  });
});
