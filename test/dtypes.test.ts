// What counts as zero, and what a weight's magnitude is, for every weight dtype (domain.md §3):
// both signs of zero for floats, NaN non-zero, fnuz's 0x80 non-zero, q == zero_point for integers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type DTypeName, type TensorSpec, graph, makeTensor, node, valueInfo } from './support/builder';
import type { LayerReport } from '../src/engine/sparsity/inspect';
import type { Pattern } from '../src/engine/sparsity/pattern';
import { inspectSpec, layer } from './support/models';

/**
 * Gemm(A, W, transB=1): W is [rows, K] and K is axis 1, so each row of W is one group of M (2:4 unless said).
 * `weight` is the name Gemm reads; `nodes` run before it (a DequantizeLinear chain, say).
 */
async function gemmLayer(
  initializers: onnx.ITensorProto[],
  options: { weight?: string; nodes?: onnx.INodeProto[]; pattern?: Pattern; opset?: number } = {},
): Promise<LayerReport> {
  const weight = options.weight ?? 'W';
  const report = await inspectSpec(
    {
      graph: graph({
        name: 'dtypes',
        nodes: [...(options.nodes ?? []), node('Gemm', ['A', weight], ['Y'], { transB: 1 }, { name: 'fc' })],
        inputs: [valueInfo('A', 'float32', [1, 4])],
        outputs: [valueInfo('Y', 'float32', [1, 'rows'])],
        initializers,
      }),
      opset: options.opset,
    },
    { pattern: options.pattern },
  );
  return layer(report, 'fc');
}

/** The same tensor stored as raw_data and in its typed field: the two layer reports must be identical. */
async function bothStorages(spec: Omit<TensorSpec, 'storage'>, pattern?: Pattern): Promise<LayerReport> {
  const raw = await gemmLayer([makeTensor({ ...spec, storage: 'raw' })], { pattern });
  const typed = await gemmLayer([makeTensor({ ...spec, storage: 'typed' })], { pattern });
  assert.equal(raw.error, null);
  assert.deepEqual(typed, raw, `${spec.dtype}: typed field and raw_data disagree`);
  return raw;
}

interface Expected {
  zeros: number;
  validGroups: number;
  groups: number;
  countHistogram: number[];
  retainedMagnitude: number;
}

function assertNumbers(fc: LayerReport, expected: Expected, what: string): void {
  assert.equal(fc.error, null, what);
  assert.equal(fc.eligible, true, what);
  assert.deepEqual(
    { zeros: fc.zeros, validGroups: fc.validGroups, groups: fc.groups, countHistogram: fc.countHistogram, retainedMagnitude: fc.retainedMagnitude },
    expected,
    what,
  );
}

describe('floating-point weights', () => {
  // [-0 0 1 -2]: two zeros, valid.  [NaN 0 0 0]: NaN is a non-zero, valid.
  // [NaN 1 3 2]: four non-zeros, keeps 3+2 of 6.  Sum |w| = 3 + 0 + 6 = 9, kept 3 + 0 + 5 = 8.
  const values = [-0, 0, 1, -2, NaN, 0, 0, 0, NaN, 1, 3, 2];
  const expected: Expected = { zeros: 5, validGroups: 2, groups: 3, countHistogram: [0, 1, 1, 0, 1], retainedMagnitude: 8 / 9 };

  for (const dtype of ['float32', 'float64', 'float16', 'bfloat16'] as const) {
    test(`${dtype}: -0 is zero, NaN is non-zero, raw_data and typed field agree`, async () => {
      const fc = await bothStorages({ name: 'W', dtype, dims: [3, 4], values });
      assertNumbers(fc, expected, dtype);
      assert.equal(fc.dtype, dtype);
    });
  }

  test('float16: (bits & 0x7fff) == 0 is zero; subnormals of both signs and every NaN are non-zero', async () => {
    // [+0 -0(0x8000) smallest subnormal, its negative]: 2 non-zeros.  [NaN -NaN signalling-NaN 0]: 3.
    const bits = [0x0000, 0x8000, 0x0001, 0x8001, 0x7e00, 0xfe00, 0x7c01, 0x0000];
    const fc = await bothStorages({ name: 'W', dtype: 'float16', dims: [2, 4], values: bits, bits: true });
    assert.equal(fc.zeros, 3);
    assert.equal(fc.validGroups, 1);
    assert.deepEqual(fc.maskHistogram![0b1100], 1);
    assert.deepEqual(fc.maskHistogram![0b0111], 1);
  });

  test('bfloat16: (bits & 0x7fff) == 0 is zero; subnormals of both signs and every NaN are non-zero', async () => {
    const bits = [0x0000, 0x8000, 0x0001, 0x8001, 0x7fc0, 0xffc0, 0x7f81, 0x0000];
    const fc = await bothStorages({ name: 'W', dtype: 'bfloat16', dims: [2, 4], values: bits, bits: true });
    assert.equal(fc.zeros, 3);
    assert.equal(fc.validGroups, 1);
    assert.deepEqual(fc.maskHistogram![0b1100], 1);
    assert.deepEqual(fc.maskHistogram![0b0111], 1);
  });

  test('float16 magnitudes are the decoded values: 0.5 + 0.25 kept of 0.5 + 0.25 + 0.125', async () => {
    const fc = await bothStorages({ name: 'W', dtype: 'float16', dims: [1, 4], values: [0.5, -0.25, 0.125, 0] });
    assert.equal(fc.retainedMagnitude, 0.75 / 0.875);
  });
});

describe('float8 weights', () => {
  // Bit patterns of 1, 2 and 3 and two NaNs in each format (sign bit 0x80).
  const formats: { dtype: DTypeName; one: number; two: number; three: number; nans: [number, number]; fnuz: boolean }[] = [
    { dtype: 'float8e4m3fn', one: 0x38, two: 0x40, three: 0x44, nans: [0x7f, 0xff], fnuz: false },
    { dtype: 'float8e5m2', one: 0x3c, two: 0x40, three: 0x42, nans: [0x7f, 0xfd], fnuz: false },
    { dtype: 'float8e4m3fnuz', one: 0x40, two: 0x48, three: 0x4c, nans: [0x80, 0x80], fnuz: true },
    { dtype: 'float8e5m2fnuz', one: 0x40, two: 0x44, three: 0x46, nans: [0x80, 0x80], fnuz: true },
  ];

  for (const f of formats) {
    const rule = f.fnuz ? '0x80 is NaN and counts as non-zero' : '0x80 is -0 and counts as zero';
    test(`${f.dtype}: ${rule}`, async () => {
      const values = [
        0x80, 0x00, f.one, f.two | 0x80, // [-0 or NaN, 0, 1, -2]
        f.one, f.two, f.three, 0x00, // [1 2 3 0]: keeps 5 of 6
        f.nans[0], f.nans[1], 0x00, f.fnuz ? 0x00 : 0x80, // two NaNs and two zeros
      ];
      const fc = await bothStorages({ name: 'W', dtype: f.dtype, dims: [3, 4], values, bits: true });
      // Sum |w| = 3 + 6 (NaNs add nothing measurable), kept 3 + 5.
      const expected: Expected = f.fnuz
        ? { zeros: 4, validGroups: 1, groups: 3, countHistogram: [0, 0, 1, 2, 0], retainedMagnitude: 8 / 9 }
        : { zeros: 5, validGroups: 2, groups: 3, countHistogram: [0, 0, 2, 1, 0], retainedMagnitude: 8 / 9 };
      assertNumbers(fc, expected, f.dtype);
    });
  }
});

describe('integer weights without a zero point', () => {
  // [0 3 0 5] valid; [1 2 3 0] keeps 5 of 6; [0 0 0 0] valid. Sum 8 + 6, kept 8 + 5.
  const values = [0, 3, 0, 5, 1, 2, 3, 0, 0, 0, 0, 0];
  const expected: Expected = { zeros: 7, validGroups: 2, groups: 3, countHistogram: [1, 0, 1, 1, 0], retainedMagnitude: 13 / 14 };

  for (const dtype of ['int8', 'uint8', 'int16', 'uint16', 'int32'] as const) {
    test(`${dtype}: q == 0 is zero, raw_data and int32_data agree`, async () => {
      assertNumbers(await bothStorages({ name: 'W', dtype, dims: [3, 4], values }), expected, dtype);
    });
  }

  const extremes: [DTypeName, number[], number][] = [
    ['int8', [-128, 127, -1, 0], 255 / 256],
    ['int16', [-32768, 32767, -1, 0], 65535 / 65536],
    ['int32', [-100000, 70000, -1, 0], 170000 / 170001],
  ];
  for (const [dtype, row, retained] of extremes) {
    test(`${dtype}: negative values count by |q| (${row.join(', ')})`, async () => {
      const fc = await bothStorages({ name: 'W', dtype, dims: [1, 4], values: row });
      assert.equal(fc.zeros, 1);
      assert.equal(fc.validGroups, 0);
      assert.equal(fc.retainedMagnitude, retained);
    });
  }
});

describe('4-bit weights', () => {
  test('int4: raw_data and packed int32_data agree, negatives by magnitude', async () => {
    // [-8 7 0 0] valid; [1 -1 2 0] keeps 3 of 4; [0 0 0 0]. Sum 15 + 4, kept 15 + 3.
    const fc = await bothStorages({ name: 'W', dtype: 'int4', dims: [3, 4], values: [-8, 7, 0, 0, 1, -1, 2, 0, 0, 0, 0, 0] });
    assertNumbers(fc, { zeros: 7, validGroups: 2, groups: 3, countHistogram: [1, 0, 1, 1, 0], retainedMagnitude: 18 / 19 }, 'int4');
  });

  test('uint4: raw_data and packed int32_data agree, 8..15 are positive', async () => {
    // [15 0 0 8] valid; [1 1 2 0] keeps 3 of 4. Sum 23 + 4, kept 23 + 3.
    const fc = await bothStorages({ name: 'W', dtype: 'uint4', dims: [2, 4], values: [15, 0, 0, 8, 1, 1, 2, 0] });
    assertNumbers(fc, { zeros: 3, validGroups: 1, groups: 2, countHistogram: [0, 0, 1, 1, 0], retainedMagnitude: 26 / 27 }, 'uint4');
  });

  test('int4 packs two per byte, low nibble first: bytes 0x50 0x00 are [0, 5, 0, 0]', async () => {
    const tensor: onnx.ITensorProto = { name: 'W', dataType: 22, dims: [1, 4], rawData: new Uint8Array([0x50, 0x00]) };
    const fc = await gemmLayer([tensor]);
    assert.equal(fc.zeros, 3);
    assert.equal(fc.maskHistogram![0b0010], 1); // element 1, not element 0
    assert.deepEqual(fc, await gemmLayer([makeTensor({ name: 'W', dtype: 'int4', dims: [1, 4], values: [0, 5, 0, 0] })]));
  });

  test('int4 with an odd element count: 9 values in 5 bytes, rows starting on a high nibble', async () => {
    // W [3, 3] with pattern 1:3. Row 1 starts at element 3, the high nibble of byte 1.
    // [0 1 0] valid; [2 0 -3] keeps 3 of 5; [0 0 7] valid. Sum 1 + 5 + 7, kept 1 + 3 + 7.
    const values = [0, 1, 0, 2, 0, -3, 0, 0, 7];
    const raw = makeTensor({ name: 'W', dtype: 'int4', dims: [3, 3], values });
    assert.equal(raw.rawData!.length, 5);
    const typed = makeTensor({ name: 'W', dtype: 'int4', dims: [3, 3], values, storage: 'typed' });
    assert.equal(typed.int32Data!.length, 5);
    const pattern = { n: 1, m: 3 };
    const fc = await gemmLayer([raw], { pattern });
    assertNumbers(fc, { zeros: 5, validGroups: 2, groups: 3, countHistogram: [0, 2, 1, 0], retainedMagnitude: 11 / 13 }, 'int4 odd');
    assert.equal(fc.maskHistogram![0b010], 1);
    assert.equal(fc.maskHistogram![0b101], 1);
    assert.equal(fc.maskHistogram![0b100], 1);
    assert.deepEqual(await gemmLayer([typed], { pattern }), fc);
  });
});

/** DequantizeLinear(Wq, scale, zp) → W, with the scale shaped like the zero point. */
function dequantize(zp: Omit<TensorSpec, 'name'>, attrs: Record<string, number> = {}): { initializers: onnx.ITensorProto[]; nodes: onnx.INodeProto[] } {
  const count = zp.dims.reduce((a, d) => a * d, 1);
  return {
    initializers: [
      makeTensor({ name: 'scale', dtype: 'float32', dims: zp.dims, values: new Array(count).fill(0.5) }),
      makeTensor({ ...zp, name: 'zp' }),
    ],
    nodes: [node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], attrs, { name: 'dq' })],
  };
}

describe('integer weights with a zero point: q == zero_point is zero, magnitude is |q - zp|', () => {
  test('per-tensor zero point 3 through DequantizeLinear: raw zeros are not zeros', async () => {
    // [3 3 5 0] → |q-3| = [0 0 2 3] valid;  [0 0 0 0] → 3 each: four non-zeros, keeps 6 of 12;  [3 3 3 3] → all zero.
    const dq = dequantize({ dtype: 'int8', dims: [], values: [3] });
    const wq = makeTensor({ name: 'Wq', dtype: 'int8', dims: [3, 4], values: [3, 3, 5, 0, 0, 0, 0, 0, 3, 3, 3, 3] });
    const fc = await gemmLayer([wq, ...dq.initializers], { nodes: dq.nodes });
    assertNumbers(fc, { zeros: 6, validGroups: 2, groups: 3, countHistogram: [1, 0, 1, 0, 1], retainedMagnitude: 11 / 17 }, 'per-tensor');
    assert.equal(fc.zeroPoint, 'per-tensor');
    assert.deepEqual(fc.chain, ['DequantizeLinear']);
    assert.equal(fc.weight, 'Wq');
  });

  test('per-tensor zero point stored as a one-element vector counts the same as a scalar', async () => {
    const dq = dequantize({ dtype: 'int8', dims: [1], values: [3] });
    const wq = makeTensor({ name: 'Wq', dtype: 'int8', dims: [3, 4], values: [3, 3, 5, 0, 0, 0, 0, 0, 3, 3, 3, 3] });
    const fc = await gemmLayer([wq, ...dq.initializers], { nodes: dq.nodes });
    assert.equal(fc.zeros, 6);
    assert.equal(fc.retainedMagnitude, 11 / 17);
  });

  test('per-channel zero points along axis 0 (one per output row) apply to their own rows', async () => {
    // zp [0 5 -2]:  [0 1 0 -1] → [0 1 0 1] valid;  [5 5 5 0] → [0 0 0 5] valid;  [-2 0 1 2] → [0 2 3 4] keeps 7 of 9.
    const dq = dequantize({ dtype: 'int8', dims: [3], values: [0, 5, -2] }, { axis: 0 });
    const wq = makeTensor({ name: 'Wq', dtype: 'int8', dims: [3, 4], values: [0, 1, 0, -1, 5, 5, 5, 0, -2, 0, 1, 2] });
    const fc = await gemmLayer([wq, ...dq.initializers], { nodes: dq.nodes });
    assertNumbers(fc, { zeros: 6, validGroups: 2, groups: 3, countHistogram: [0, 1, 1, 1, 0], retainedMagnitude: 14 / 16 }, 'per-channel');
    assert.equal(fc.zeroPoint, 'per-channel');
  });

  for (const axis of [1, -1]) {
    test(`per-channel zero points along the output axis of a MatMul B [K, N] (DequantizeLinear axis ${axis})`, async () => {
      // Columns are the groups; zp [1 2 3]: col 0 [1 1 0 2] → [0 0 1 1] valid; col 1 [2 2 2 2] → zero;
      // col 2 [0 4 6 3] → [3 1 3 0] keeps 6 of 7.
      const dq = dequantize({ dtype: 'uint8', dims: [3], values: [1, 2, 3] }, { axis });
      const wq = makeTensor({ name: 'Wq', dtype: 'uint8', dims: [4, 3], values: [1, 2, 0, 1, 2, 4, 0, 2, 6, 2, 2, 3] });
      const report = await inspectSpec({
        graph: graph({
          name: 'matmul-dq',
          nodes: [...dq.nodes, node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
          inputs: [valueInfo('X', 'float32', [1, 4])],
          outputs: [valueInfo('Y', 'float32', [1, 3])],
          initializers: [wq, ...dq.initializers],
        }),
      });
      const fc = layer(report, 'fc');
      assert.equal(fc.axis, 0);
      assertNumbers(fc, { zeros: 7, validGroups: 2, groups: 3, countHistogram: [1, 0, 1, 1, 0], retainedMagnitude: 8 / 9 }, `axis ${axis}`);
    });
  }

  test('per-block zero points (opset 21 block_size) apply to their own block of K', async () => {
    // W [2, 8], K = axis 1, blocks of 4 along K; zp [[0 1] [2 3]]:
    // row 0: [0 0 4 0] → [0 0 4 0] valid;  [1 2 3 1] → [0 1 2 0] valid
    // row 1: [2 2 2 2] → zero;             [0 4 3 5] → [3 1 0 2] keeps 5 of 6
    const dq = dequantize({ dtype: 'int8', dims: [2, 2], values: [0, 1, 2, 3] }, { axis: 1, block_size: 4 });
    const wq = makeTensor({ name: 'Wq', dtype: 'int8', dims: [2, 8], values: [0, 0, 4, 0, 1, 2, 3, 1, 2, 2, 2, 2, 0, 4, 3, 5] });
    const fc = await gemmLayer([wq, ...dq.initializers], { nodes: dq.nodes, opset: 21 });
    assertNumbers(fc, { zeros: 10, validGroups: 3, groups: 4, countHistogram: [1, 1, 1, 1, 0], retainedMagnitude: 12 / 13 }, 'per-block');
    assert.equal(fc.zeroPoint, 'per-block');
  });

  test('int4 weight with an odd number of per-channel int4 zero points', async () => {
    // zp [1 -1 0] (3 values in 2 bytes): [1 1 2 0] → [0 0 1 1] valid; [-1 -1 -1 -1] → zero; [-8 7 1 0] → [8 7 1 0] keeps 15 of 16.
    const dq = dequantize({ dtype: 'int4', dims: [3], values: [1, -1, 0] }, { axis: 0 });
    const wq = makeTensor({ name: 'Wq', dtype: 'int4', dims: [3, 4], values: [1, 1, 2, 0, -1, -1, -1, -1, -8, 7, 1, 0] });
    const fc = await gemmLayer([wq, ...dq.initializers], { nodes: dq.nodes, opset: 21 });
    assertNumbers(fc, { zeros: 7, validGroups: 2, groups: 3, countHistogram: [1, 0, 1, 1, 0], retainedMagnitude: 17 / 18 }, 'int4 zp');
  });

  test('dynamic quantization export: MatMulInteger with a uint8 weight and zero point 128', async () => {
    // B [4, 2], K = axis 0: col 0 [128 128 130 0] → [0 0 2 128] valid; col 1 [0 0 0 0] → 128 each, keeps 256 of 512.
    const report = await inspectSpec({
      graph: graph({
        name: 'dynamic',
        nodes: [
          node('DynamicQuantizeLinear', ['X'], ['Xq', 'Xscale', 'Xzp'], {}, { name: 'quant_x' }),
          node('MatMulInteger', ['Xq', 'B', 'Xzp', 'Bzp'], ['Y'], {}, { name: 'fc' }),
        ],
        inputs: [valueInfo('X', 'float32', [1, 4])],
        outputs: [valueInfo('Y', 'int32', [1, 2])],
        initializers: [
          makeTensor({ name: 'B', dtype: 'uint8', dims: [4, 2], values: [128, 0, 128, 0, 130, 0, 0, 0] }),
          makeTensor({ name: 'Bzp', dtype: 'uint8', dims: [], values: [128] }),
        ],
      }),
    });
    const fc = layer(report, 'fc');
    assertNumbers(fc, { zeros: 2, validGroups: 1, groups: 2, countHistogram: [0, 0, 1, 0, 1], retainedMagnitude: 386 / 642 }, 'MatMulInteger');
    assert.equal(fc.zeroPoint, 'per-tensor');
  });

  test('ConvInteger with per-output-channel uint8 zero points', async () => {
    // W [2, 4, 1, 1]; zp [128 120]: oc 0 [128 128 129 127] → [0 0 1 1]; oc 1 [120 0 120 120] → [0 120 0 0]. Both valid.
    const report = await inspectSpec({
      graph: graph({
        name: 'conv-integer',
        nodes: [node('ConvInteger', ['X', 'W', '', 'Wzp'], ['Y'], { kernel_shape: [1, 1] }, { name: 'conv' })],
        inputs: [valueInfo('X', 'uint8', [1, 4, 2, 2])],
        outputs: [valueInfo('Y', 'int32', [1, 2, 2, 2])],
        initializers: [
          makeTensor({ name: 'W', dtype: 'uint8', dims: [2, 4, 1, 1], values: [128, 128, 129, 127, 120, 0, 120, 120] }),
          makeTensor({ name: 'Wzp', dtype: 'uint8', dims: [2], values: [128, 120] }),
        ],
      }),
    });
    const conv = layer(report, 'conv');
    assertNumbers(conv, { zeros: 5, validGroups: 2, groups: 2, countHistogram: [0, 1, 1, 0, 0], retainedMagnitude: 1 }, 'ConvInteger');
    assert.equal(conv.pass, true);
    assert.equal(conv.zeroPoint, 'per-channel');
  });

  test('QLinearMatMul reads its weight at input 3 and the weight zero point at input 5', async () => {
    // B [4, 1] int8, zp -1: [-1 -1 0 5] → [0 0 1 6] valid.
    const f32 = (name: string) => makeTensor({ name, dtype: 'float32', dims: [], values: [0.1] });
    const report = await inspectSpec({
      graph: graph({
        name: 'qlinear',
        nodes: [node('QLinearMatMul', ['Xq', 'xs', 'xzp', 'B', 'bs', 'bzp', 'ys', 'yzp'], ['Yq'], {}, { name: 'fc' })],
        inputs: [valueInfo('Xq', 'int8', [1, 4])],
        outputs: [valueInfo('Yq', 'int8', [1, 1])],
        initializers: [
          f32('xs'),
          f32('bs'),
          f32('ys'),
          makeTensor({ name: 'xzp', dtype: 'int8', dims: [], values: [0] }),
          makeTensor({ name: 'yzp', dtype: 'int8', dims: [], values: [0] }),
          makeTensor({ name: 'B', dtype: 'int8', dims: [4, 1], values: [-1, -1, 0, 5] }),
          makeTensor({ name: 'bzp', dtype: 'int8', dims: [], values: [-1] }),
        ],
      }),
    });
    const fc = layer(report, 'fc');
    assertNumbers(fc, { zeros: 2, validGroups: 1, groups: 1, countHistogram: [0, 0, 1, 0, 0], retainedMagnitude: 1 }, 'QLinearMatMul');
    assert.equal(fc.weight, 'B');
  });
});
