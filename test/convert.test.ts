// convert --mode prune (domain.md §5): in every group of M along the reduction axis the N largest |w| (or
// |q - zero_point|) survive, ties keep the earlier position, zeros are never touched; everything else in the
// file survives byte for byte; refusals and cancels leave the disk as it was. Models are built here, outputs
// are read back with onnx-proto (not the engine's reader), numbers are exact.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { type ConvertReport, type LayerChange, convertModel } from '../src/engine/convert/convert';
import { CancelledError, ModelError } from '../src/engine/errors';
import {
  type DTypeName,
  ExternalSink,
  type ModelSpec,
  constantNode,
  encodeModel,
  graph,
  makeTensor,
  node,
  pruneTo,
  randomWeights,
  seededRandom,
  sparseTensor,
  valueInfo,
  writeModel,
} from './support/builder';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { formatConvert } from '../src/engine/report/convertFormat';
import { MemorySource } from '../src/engine/onnx/source';
import { forEachField } from '../src/engine/onnx/wire';
import { lenField } from '../src/engine/onnx/writer';
import { SAMPLE_LAYERS, makeSampleModels } from '../scripts/make-sample';
import {
  bitsOf,
  convertSpec,
  decodeModelFile,
  externalEntries,
  float32Bits,
  float32Values,
  float64Values,
  int4Values,
  int8Values,
  isTyped,
  listFolder,
  onnxCheck,
  partialFiles,
  readTensorBytes,
  tensorProto,
  uint16Values,
  uint8Values,
} from './support/convert-read';
import { tempDir } from './support/models';
import { CLI, type Run, cli } from './support/cli';


// ---------------------------------------------------------------------------
// Small models

function tensor(name: string, dtype: DTypeName, dims: number[], values: ArrayLike<number>, storage?: 'raw' | 'typed'): onnx.ITensorProto {
  return makeTensor({ name, dtype, dims, values, storage });
}

/** Bit patterns of float16/bfloat16 weights, stated exactly. */
function bitsTensor(name: string, dtype: 'float16' | 'bfloat16', dims: number[], bits: number[], storage?: 'raw' | 'typed'): onnx.ITensorProto {
  return makeTensor({ name, dtype, dims, values: bits, bits: true, storage });
}

/** Y = X [1, K] @ W [K, N]: K (groups) runs down W's columns. */
function matmulModel(w: onnx.ITensorProto, io: DTypeName = 'float32'): ModelSpec {
  const [k, n] = w.dims as number[];
  return {
    graph: graph({
      name: 'matmul',
      nodes: [node('MatMul', ['X', w.name!], ['Y'], {}, { name: 'fc' })],
      inputs: [valueInfo('X', io, [1, k])],
      outputs: [valueInfo('Y', io, [1, n])],
      initializers: [w],
    }),
  };
}

/** Y = X [1, K] @ W^T with W [N, K] (Gemm transB = 1): groups run along W's rows. */
function gemmModel(w: onnx.ITensorProto): ModelSpec {
  const [n, k] = w.dims as number[];
  return {
    graph: graph({
      name: 'gemm',
      nodes: [node('Gemm', ['X', w.name!], ['Y'], { transB: 1 }, { name: 'fc' })],
      inputs: [valueInfo('X', 'float32', [1, k])],
      outputs: [valueInfo('Y', 'float32', [1, n])],
      initializers: [w],
    }),
  };
}

/** MatMul(X, DequantizeLinear(Wq, scale, zp)) with the integer weight Wq [K, N]. */
function dequantModel(wq: onnx.ITensorProto, scale: onnx.ITensorProto, zp: onnx.ITensorProto, opset = 17): ModelSpec {
  const [k, n] = wq.dims as number[];
  return {
    opset,
    graph: graph({
      name: 'qdq',
      nodes: [node('DequantizeLinear', [wq.name!, scale.name!, zp.name!], ['W'], {}, { name: 'dq' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
      inputs: [valueInfo('X', 'float32', [1, k])],
      outputs: [valueInfo('Y', 'float32', [1, n])],
      initializers: [wq, scale, zp],
    }),
  };
}

/** A [K, N] weight written column by column (`columns[n][k]`, the way its groups run), flattened row-major. */
function fromColumns(columns: number[][]): number[] {
  const k = columns[0].length;
  const out: number[] = [];
  for (let r = 0; r < k; r++) for (const col of columns) out.push(col[r]);
  return out;
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function layerOf(report: ConvertReport, name: string): LayerChange {
  const found = report.layers.find((l) => l.name === name);
  if (!found) throw new Error(`no layer '${name}': ${report.layers.map((l) => l.name).join(', ')}`);
  return found;
}

// ---------------------------------------------------------------------------
// 1. Pruning semantics

// MatMul B [8, 2]: two groups of 4 down each column. Column 0 has a three-way tie; column 1 holds -0.0 twice.
const MATMUL_COLUMNS = [
  [1, -1, 1, 0.5, /* | */ 0.25, -3, 2, 0],
  [-0, 5, 1, 4, /* | */ 3, 2, -0, -7],
];
const MATMUL_PRUNED = [
  [1, -1, 0, 0, /* | */ 0, -3, 2, 0], // |1| = |-1| = |1|: the first two positions survive
  [-0, 5, 0, 4, /* | */ 3, 0, -0, -7], // -0.0 stays -0.0 (only 3 non-zeros, 2 survive)
];

describe('magnitude pruning: which elements survive', () => {
  test('MatMul B [8, 2] is pruned down its columns: the 2 largest |w| of each group of 4 survive, ties keep the earlier position', async () => {
    const { output, report } = await convertSpec(matmulModel(tensor('W', 'float32', [8, 2], fromColumns(MATMUL_COLUMNS))));
    assert.deepEqual(float32Bits(output, 'W'), fromColumns(MATMUL_PRUNED).map(bitsOf));
    const fc = layerOf(report, 'fc');
    assert.equal(fc.action, 'prune');
    assert.equal(fc.axis, 0);
    assert.equal(fc.violatingGroups, 4);
    assert.equal(fc.prunedElements, 5);
    assert.equal(report.summary.prunedElements, 5);
  });

  test('an already-zero element is never touched: -0.0 keeps its sign bit, a pruned element becomes +0.0', async () => {
    const { output } = await convertSpec(matmulModel(tensor('W', 'float32', [8, 2], fromColumns(MATMUL_COLUMNS))));
    const column1 = float32Bits(output, 'W').filter((_, i) => i % 2 === 1);
    assert.deepEqual(column1.map((b) => b.toString(16)), ['80000000', '40a00000', '0', '40800000', '40400000', '0', '80000000', 'c0e00000']);
  });

  test('Conv W [2, 8, 1, 2] is pruned along input channels, separately at each kernel position', async () => {
    // w[oc][ic] = [kernel position 0, kernel position 1]; memory order interleaves the two positions.
    const w = [
      [[1, 8], [2, 7], [3, 6], [4, 5], [-1, 0], [0, 0], [5, 1], [6, 1]],
      [[2, -2], [2, 2], [2, -2], [2, 2], [0.5, 0], [0.25, -0], [0.125, 0], [1, 3]],
    ];
    const pruned = [
      [[0, 8], [0, 7], [3, 0], [4, 0], [0, 0], [0, 0], [5, 1], [6, 1]],
      [[2, -2], [2, 2], [0, 0], [0, 0], [0.5, 0], [0, -0], [0, 0], [1, 3]],
    ];
    const spec: ModelSpec = {
      graph: graph({
        name: 'conv',
        nodes: [node('Conv', ['X', 'W'], ['Y'], { kernel_shape: [1, 2] }, { name: 'conv' })],
        inputs: [valueInfo('X', 'float32', [1, 8, 1, 4])],
        outputs: [valueInfo('Y', 'float32', [1, 2, 1, 3])],
        initializers: [tensor('W', 'float32', [2, 8, 1, 2], w.flat(2))],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(float32Bits(output, 'W'), pruned.flat(2).map(bitsOf));
    assert.equal(layerOf(report, 'conv').axis, 1);
    assert.equal(layerOf(report, 'conv').prunedElements, 11);
    assert.equal(report.runtime?.ran, true);
  });

  test('Gemm transB = 1 W [2, 8] is pruned along its rows', async () => {
    const { output } = await convertSpec(gemmModel(tensor('W', 'float32', [2, 8], [1, 2, 3, 4, 5, 6, 7, 8, -8, 7, -6, 5, 4, -3, 2, -1])));
    assert.deepEqual(float32Values(output, 'W'), [0, 0, 3, 4, 0, 0, 7, 8, -8, 7, 0, 0, 4, -3, 0, 0]);
  });

  test('1:4 keeps the single largest |w| of each group; a tie between -3 and 3 keeps the earlier -3', async () => {
    const { output, report } = await convertSpec(gemmModel(tensor('W', 'float32', [1, 8], [1, -3, 3, 2, 0.5, 0.25, 0.25, 0])), { pattern: { n: 1, m: 4 } });
    assert.deepEqual(float32Values(output, 'W'), [0, -3, 0, 0, 0.5, 0, 0, 0]);
    assert.equal(report.pattern, '1:4');
    assert.match(output, /model\.pruned-1of4\.onnx$/);
    assert.equal(layerOf(report, 'fc').passesAfter, true);
  });

  test('4:8 keeps the four largest |w| of each group of 8; equal magnitudes keep the earliest four', async () => {
    const { output } = await convertSpec(gemmModel(tensor('W', 'float32', [2, 8], [1, 2, 3, 4, 5, 6, 7, 8, 8, 1, -8, 1, 8, 1, -8, 1])), { pattern: { n: 4, m: 8 } });
    assert.deepEqual(float32Values(output, 'W'), [0, 0, 0, 0, 5, 6, 7, 8, 8, 0, -8, 0, 8, 0, -8, 0]);
  });
});

// ---------------------------------------------------------------------------
// 2. Every dtype, storage and place a weight can live

describe('dtypes: magnitudes and zeros of each type', () => {
  test('float16: bit patterns; -0.0 (0x8000) is zero and stays, pruned elements become 0x0000', async () => {
    // column 0: 1, -2, 0.5, -0 → 1 and -2 survive; column 1: 1, -1, 1, 1 → the first two survive.
    const w = bitsTensor('W', 'float16', [4, 2], fromColumns([[0x3c00, 0xc000, 0x3800, 0x8000], [0x3c00, 0xbc00, 0x3c00, 0x3c00]]));
    const { output, report } = await convertSpec(matmulModel(w, 'float16'));
    assert.deepEqual(uint16Values(output, 'W'), fromColumns([[0x3c00, 0xc000, 0x0000, 0x8000], [0x3c00, 0xbc00, 0x0000, 0x0000]]));
    assert.equal(layerOf(report, 'fc').prunedElements, 3);
    assert.equal(report.runtime?.ran, true);
  });

  test('bfloat16: bit patterns, the same choices', async () => {
    const w = bitsTensor('W', 'bfloat16', [4, 2], fromColumns([[0x3f80, 0xc000, 0x3f00, 0x8000], [0x3f80, 0xbf80, 0x3f80, 0x3f80]]));
    const { output } = await convertSpec(matmulModel(w));
    assert.deepEqual(uint16Values(output, 'W'), fromColumns([[0x3f80, 0xc000, 0x0000, 0x8000], [0x3f80, 0xbf80, 0x0000, 0x0000]]));
  });

  test('float64: magnitudes compared in full precision (1 + 2^-40 beats 1), -0.0 kept', async () => {
    const w = tensor('W', 'float64', [4, 2], fromColumns([[1, 1 + 2 ** -40, 1 + 2 ** -30, 0.5], [0.25, -0, -0.5, 0.125]]));
    const { output } = await convertSpec(matmulModel(w));
    assert.deepEqual(float64Values(output, 'W'), fromColumns([[0, 1 + 2 ** -40, 1 + 2 ** -30, 0], [0.25, -0, -0.5, 0]]));
  });

  test('int8 through DequantizeLinear with zero point 3: magnitude is |q - 3|, pruned elements become 3', async () => {
    // column 0: |q - 3| = 0, 2, 3, 3 → q = 5 is pruned; column 1: 4, 4, 0, 1 → q = 2 is pruned.
    const wq = tensor('Wq', 'int8', [4, 2], fromColumns([[3, 5, 0, 6], [-1, 7, 3, 2]]));
    const { output, report } = await convertSpec(dequantModel(wq, tensor('scale', 'float32', [], [0.5]), tensor('zp', 'int8', [], [3])));
    assert.deepEqual(int8Values(output, 'Wq'), fromColumns([[3, 3, 0, 6], [-1, 7, 3, 3]]));
    assert.equal(layerOf(report, 'fc').prunedElements, 2);
    assert.deepEqual(int8Values(output, 'zp'), [3]);
    assert.equal(report.runtime?.ran, true);
  });

  test('int8 with per-channel zero points (DequantizeLinear axis 0, Gemm transB = 1): each row against its own zero point', async () => {
    // row 0, zp 2: |q - 2| = 0 2 2 0 | 3 3 3 0; row 1, zp -2: 0 2 3 3 | 0 0 0 1.
    const wq = tensor('Wq', 'int8', [2, 8], [2, 4, 0, 2, 5, 5, 5, 2, -2, 0, -5, 1, -2, -2, -2, -1]);
    const spec: ModelSpec = {
      graph: graph({
        name: 'per-channel',
        nodes: [
          node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0 }, { name: 'dq' }),
          node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'fc' }),
        ],
        inputs: [valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y', 'float32', [1, 2])],
        initializers: [wq, tensor('scale', 'float32', [2], [0.5, 0.25]), tensor('zp', 'int8', [2], [2, -2])],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(int8Values(output, 'Wq'), [2, 4, 0, 2, 5, 5, 2, 2, -2, -2, -5, 1, -2, -2, -2, -1]);
    assert.equal(layerOf(report, 'fc').prunedElements, 2);
    assert.equal(report.runtime?.ran, true);
  });

  test('uint8 in MatMulInteger with zero point 128 (input 3): magnitude |q - 128|, pruned elements become 128', async () => {
    // column 0: |q - 128| = 0 2 28 1 → 129 is pruned; column 1: 128 127 0 127 → the tie keeps 255, 1 is pruned.
    const b = tensor('B', 'uint8', [4, 2], fromColumns([[128, 130, 100, 129], [0, 255, 128, 1]]));
    const spec: ModelSpec = {
      graph: graph({
        name: 'matmulinteger',
        nodes: [node('MatMulInteger', ['A', 'B', 'A_zp', 'B_zp'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('A', 'uint8', [1, 4])],
        outputs: [valueInfo('Y', 'int32', [1, 2])],
        initializers: [b, tensor('A_zp', 'uint8', [], [0]), tensor('B_zp', 'uint8', [], [128])],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(uint8Values(output, 'B'), fromColumns([[128, 130, 100, 128], [0, 255, 128, 128]]));
    assert.equal(layerOf(report, 'fc').prunedElements, 2);
    assert.equal(report.runtime?.ran, true);
  });

  test('int32: magnitudes in full precision, so 16777217 beats 16777216 (equal as float32)', async () => {
    const w = tensor('W', 'int32', [4, 1], [16777216, 16777217, 16777217, 1]);
    const spec: ModelSpec = {
      graph: graph({
        name: 'int32',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'int32', [1, 4])],
        outputs: [valueInfo('Y', 'int32', [1, 1])],
        initializers: [w],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(Array.from(new Int32Array(readTensorBytes(output, 'W').slice().buffer)), [0, 16777217, 16777217, 0]);
    assert.equal(layerOf(report, 'fc').retainedMagnitude, (2 * 16777217) / (16777216 + 2 * 16777217 + 1));
  });

  test('int4 through DequantizeLinear (opset 21) with zero point 1: nibbles pruned to the zero point, neighbours untouched', async () => {
    // column 0: |q - 1| = 0 9 2 1 → 0 is pruned; column 1: 6 8 6 1 → -7 and the first 7 survive.
    const wq = tensor('Wq', 'int4', [4, 2], fromColumns([[1, -8, 3, 0], [7, -7, 7, 2]]));
    const { output } = await convertSpec(dequantModel(wq, tensor('scale', 'float32', [], [0.5]), tensor('zp', 'int4', [], [1]), 21));
    assert.deepEqual(int4Values(output, 'Wq', 8), fromColumns([[1, -8, 3, 1], [7, -7, 1, 1]]));
  });

  test('int4 Conv [2, 3, 1, 1] at 1:3: the second output channel starts on a high nibble and is pruned in place', async () => {
    const spec: ModelSpec = {
      opset: 21,
      graph: graph({
        name: 'int4-conv',
        nodes: [
          node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], {}, { name: 'dq' }),
          node('Conv', ['X', 'W'], ['Y'], { kernel_shape: [1, 1] }, { name: 'conv' }),
        ],
        inputs: [valueInfo('X', 'float32', [1, 3, 1, 1])],
        outputs: [valueInfo('Y', 'float32', [1, 2, 1, 1])],
        initializers: [tensor('Wq', 'int4', [2, 3, 1, 1], [1, 2, 3, -4, 2, 5]), tensor('scale', 'float32', [], [1]), tensor('zp', 'int4', [], [0])],
      }),
    };
    const { output } = await convertSpec(spec, { pattern: { n: 1, m: 3 } });
    assert.deepEqual(int4Values(output, 'Wq', 6), [0, 0, 3, 0, 0, 5]);
  });
});

describe('storage: typed fields stay typed', () => {
  test('float32 in float_data is pruned and written back to float_data', async () => {
    const { output } = await convertSpec(gemmModel(tensor('W', 'float32', [2, 8], [1, 2, 3, 4, 5, 6, 7, 8, -8, 7, -6, 5, 4, -3, 2, -1], 'typed')));
    const w = tensorProto(decodeModelFile(output), 'W');
    assert.equal(isTyped(w), true);
    assert.deepEqual(w.floatData, [0, 0, 3, 4, 0, 0, 7, 8, -8, 7, 0, 0, 4, -3, 0, 0]);
  });

  test('float16 in int32_data (bit patterns) is pruned and written back to int32_data', async () => {
    const w = bitsTensor('W', 'float16', [4, 2], fromColumns([[0x3c00, 0xc000, 0x3800, 0x8000], [0x3c00, 0xbc00, 0x3c00, 0x3c00]]), 'typed');
    const { output, report } = await convertSpec(matmulModel(w, 'float16'));
    const t = tensorProto(decodeModelFile(output), 'W');
    assert.equal(isTyped(t), true);
    assert.deepEqual(t.int32Data, fromColumns([[0x3c00, 0xc000, 0x0000, 0x8000], [0x3c00, 0xbc00, 0x0000, 0x0000]]));
    assert.equal(report.verified, true);
    assert.equal(report.runtime?.ran, true);
  });

  test('float64 in double_data and int8 in int32_data stay typed', async () => {
    const f64 = await convertSpec(matmulModel(tensor('W', 'float64', [4, 2], fromColumns([[1, 2, 3, 4], [4, -3, 2, 1]]), 'typed')));
    const t = tensorProto(decodeModelFile(f64.output), 'W');
    assert.equal(isTyped(t), true);
    assert.deepEqual(t.doubleData, fromColumns([[0, 0, 3, 4], [4, -3, 0, 0]]));

    const wq = tensor('Wq', 'int8', [4, 2], fromColumns([[3, 5, 0, 6], [-1, 7, 3, 2]]), 'typed');
    const i8 = await convertSpec(dequantModel(wq, tensor('scale', 'float32', [], [0.5]), tensor('zp', 'int8', [], [3])));
    const q = tensorProto(decodeModelFile(i8.output), 'Wq');
    assert.equal(isTyped(q), true);
    assert.deepEqual(q.int32Data, fromColumns([[3, 3, 0, 6], [-1, 7, 3, 3]]));
  });
});

// W [8, 4] read with K = axis 0 (MatMul B): a different choice in every column, all sums exact in binary.
const DENSE_8x4 = fromColumns([
  [1, -4, 3, 2, /* | */ 0.5, 0.25, 8, -8],
  [2, 2, 2, 2, /* | */ 1, -3, 0, 0.5],
  [-1, 0.5, 0.25, 0.75, /* | */ 6, 5, 4, 7],
  [0, 0, 1, 1, /* | */ -2, 2, -2, 1.5],
]);
const DENSE_8x4_PRUNED = fromColumns([
  [0, -4, 3, 0, /* | */ 0, 0, 8, -8],
  [2, 2, 0, 0, /* | */ 1, -3, 0, 0],
  [-1, 0, 0, 0.75, /* | */ 6, 0, 0, 7],
  [0, 0, 1, 1, /* | */ -2, 2, 0, 0],
]);
// sum |w| = 73.25, kept 51.75, 13 elements pruned.
const DENSE_8x4_RETAINED = 51.75 / 73.25;

describe('where weights live: each is pruned in place', () => {
  test('a Constant node value', async () => {
    const spec: ModelSpec = {
      graph: graph({
        name: 'constant',
        nodes: [constantNode('W', tensor('W_value', 'float32', [8, 4], DENSE_8x4), 'make_w'), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(float32Values(output, 'W_value'), DENSE_8x4_PRUNED);
    assert.equal(layerOf(report, 'fc').action, 'prune');
    assert.equal(report.verified, true);
    assert.equal(report.runtime?.ran, true);
  });

  test('a Constant inside an If branch and an outer initializer read by the other branch', async () => {
    const branch = (name: string, nodes: onnx.INodeProto[]) => graph({ name, nodes, inputs: [], outputs: [valueInfo(`${name}_out`, 'float32', [1, 4])] });
    const thenBranch = branch('then', [constantNode('Wt', tensor('Wt_value', 'float32', [8, 4], DENSE_8x4)), node('MatMul', ['X', 'Wt'], ['then_out'], {}, { name: 'then_fc' })]);
    // W_outer [4, 8] under Gemm transB = 1: the transpose of DENSE_8x4, pruned along its rows.
    const transposed = (v: number[]) => Array.from({ length: 32 }, (_, i) => v[(i % 8) * 4 + Math.floor(i / 8)]);
    const elseBranch = branch('else', [node('Gemm', ['X', 'W_outer'], ['else_out'], { transB: 1 }, { name: 'else_fc' })]);
    const spec: ModelSpec = {
      graph: graph({
        name: 'if',
        nodes: [node('If', ['cond'], ['Y'], { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } }, { name: 'branch' })],
        inputs: [{ name: 'cond', type: { tensorType: { elemType: 9, shape: { dim: [] } } } }, valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
        initializers: [tensor('W_outer', 'float32', [4, 8], transposed(DENSE_8x4))],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(float32Values(output, 'Wt_value'), DENSE_8x4_PRUNED);
    assert.deepEqual(float32Values(output, 'W_outer'), transposed(DENSE_8x4_PRUNED));
    assert.deepEqual(report.layers.map((l) => [l.name, l.graph, l.action, l.passesAfter]), [
      ['then_fc', 'main/branch.then_branch', 'prune', true],
      ['else_fc', 'main/branch.else_branch', 'prune', true],
    ]);
  });

  test('a Constant inside a model-local function called from the main graph', async () => {
    const block: onnx.IFunctionProto = {
      name: 'Block',
      domain: 'custom',
      input: ['x'],
      output: ['y'],
      node: [constantNode('w', tensor('w_value', 'float32', [8, 4], DENSE_8x4)), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'block_fc' })],
      opsetImport: [{ domain: '', version: 17 }],
    };
    const spec: ModelSpec = {
      functions: [block],
      extraOpsets: [{ domain: 'custom', version: 1 }],
      graph: graph({
        name: 'function',
        nodes: [node('Block', ['X'], ['Y'], {}, { name: 'block', domain: 'custom' })],
        inputs: [valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(float32Values(output, 'w_value'), DENSE_8x4_PRUNED);
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.passesAfter]), [['block/block_fc', 'prune', true]]);
    assert.equal(report.runtime?.ran, true);
  });

  test('a weight shared by two MatMuls on the same axis is pruned once, and both layers report it', async () => {
    const spec: ModelSpec = {
      graph: graph({
        name: 'shared',
        nodes: [node('MatMul', ['X', 'W'], ['Y1'], {}, { name: 'fc_a' }), node('MatMul', ['X2', 'W'], ['Y2'], {}, { name: 'fc_b' })],
        inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('X2', 'float32', [1, 8])],
        outputs: [valueInfo('Y1', 'float32', [1, 4]), valueInfo('Y2', 'float32', [1, 4])],
        initializers: [tensor('W', 'float32', [8, 4], DENSE_8x4)],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(float32Values(output, 'W'), DENSE_8x4_PRUNED);
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.prunedElements, l.retainedMagnitude, l.passesAfter]), [
      ['fc_a', 'prune', 13, DENSE_8x4_RETAINED, true],
      ['fc_b', 'prune', 13, DENSE_8x4_RETAINED, true],
    ]);
    assert.equal(report.summary.prunedElements, 13);
    assert.equal(report.summary.retainedMagnitude, DENSE_8x4_RETAINED);
  });

  test('a weight also read by a layer that is not selected is left as it is, naming that layer', async () => {
    const spec: ModelSpec = {
      graph: graph({
        name: 'shared',
        nodes: [node('MatMul', ['X', 'W'], ['Y1'], {}, { name: 'fc_a' }), node('MatMul', ['X2', 'W'], ['Y2'], {}, { name: 'fc_b' })],
        inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('X2', 'float32', [1, 8])],
        outputs: [valueInfo('Y1', 'float32', [1, 4]), valueInfo('Y2', 'float32', [1, 4])],
        initializers: [tensor('W', 'float32', [8, 4], DENSE_8x4)],
      }),
    };
    const { input, output, report } = await convertSpec(spec, { skip: /^fc_b$/ });
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason]), [
      ['fc_a', 'skip', "weight 'W' is also read by 'fc_b', which is not converted"],
      ['fc_b', 'skip', 'not selected (--skip)'],
    ]);
    assert.deepEqual(readTensorBytes(output, 'W'), readTensorBytes(input, 'W'));
  });

  test('infinite weights make the retained magnitude null, never NaN', async () => {
    const { report } = await convertSpec(matmulModel(tensor('W', 'float32', [4, 1], [Infinity, 1, -Infinity, 2])));
    assert.equal(report.layers[0].retainedMagnitude, null);
    assert.equal(report.summary.retainedMagnitude, null);
  });

  test('a weight read along two different axes (directly, and through a Transpose) is skipped, naming both layers', async () => {
    const spec: ModelSpec = {
      graph: graph({
        name: 'two-axes',
        nodes: [
          node('MatMul', ['X', 'W'], ['Y1'], {}, { name: 'fc_a' }),
          node('Transpose', ['W'], ['Wt'], { perm: [1, 0] }, { name: 't' }),
          node('MatMul', ['X2', 'Wt'], ['Y2'], {}, { name: 'fc_b' }),
        ],
        inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('X2', 'float32', [1, 8])],
        outputs: [valueInfo('Y1', 'float32', [1, 8]), valueInfo('Y2', 'float32', [1, 8])],
        initializers: [tensor('W', 'float32', [8, 8], Array.from({ length: 64 }, (_, i) => i + 1))],
      }),
    };
    const { input, output, report } = await convertSpec(spec);
    const reason = "weight 'W' is shared by layers that read it along different axes (fc_a: axis 0, fc_b: axis 1)";
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason]), [
      ['fc_a', 'skip', reason],
      ['fc_b', 'skip', reason],
    ]);
    assert.deepEqual(readTensorBytes(output, 'W'), readTensorBytes(input, 'W'));
    assert.equal(report.summary.prunedElements, 0);
  });
});

describe('more axes, chains and zero points', () => {
  test('MatMul with a constant A [2, 8]: groups along its last axis', async () => {
    const spec: ModelSpec = {
      graph: graph({
        name: 'constant-a',
        nodes: [node('MatMul', ['W', 'X'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [8, 1])],
        outputs: [valueInfo('Y', 'float32', [2, 1])],
        initializers: [tensor('W', 'float32', [2, 8], [1, 2, 3, 4, 5, 6, 7, 8, -8, 7, -6, 5, 4, -3, 2, -1])],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.equal(layerOf(report, 'fc').axis, 1);
    assert.deepEqual(float32Values(output, 'W'), [0, 0, 3, 4, 0, 0, 7, 8, -8, 7, 0, 0, 4, -3, 0, 0]);
    assert.equal(report.runtime?.ran, true);
  });

  test('a batched MatMul B [2, 8, 2]: each batch pruned down its own columns', async () => {
    const first = fromColumns(MATMUL_COLUMNS);
    const spec: ModelSpec = {
      graph: graph({
        name: 'batched',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [2, 1, 8])],
        outputs: [valueInfo('Y', 'float32', [2, 1, 2])],
        initializers: [tensor('W', 'float32', [2, 8, 2], [...first, ...first.map((v) => v * 2)])],
      }),
    };
    const { output, report } = await convertSpec(spec);
    const pruned = fromColumns(MATMUL_PRUNED);
    assert.deepEqual(float32Bits(output, 'W'), [...pruned, ...pruned.map((v) => v * 2)].map(bitsOf));
    assert.equal(layerOf(report, 'fc').prunedElements, 10);
    assert.equal(report.runtime?.ran, true);
  });

  test('a float16 weight behind a Cast is pruned in its stored type', async () => {
    const w = bitsTensor('W', 'float16', [4, 2], fromColumns([[0x3c00, 0xc000, 0x3800, 0x8000], [0x3c00, 0xbc00, 0x3c00, 0x3c00]]));
    const spec: ModelSpec = {
      graph: graph({
        name: 'cast',
        nodes: [node('Cast', ['W'], ['W32'], { to: 1 }, { name: 'cast' }), node('MatMul', ['X', 'W32'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 4])],
        outputs: [valueInfo('Y', 'float32', [1, 2])],
        initializers: [w],
      }),
    };
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(uint16Values(output, 'W'), fromColumns([[0x3c00, 0xc000, 0x0000, 0x8000], [0x3c00, 0xbc00, 0x0000, 0x0000]]));
    assert.equal(report.runtime?.ran, true);
  });

  test('int8 with per-column zero points (DequantizeLinear axis 1 on MatMul B [4, 2])', async () => {
    // column 0, zp 3: |q - 3| = 0 2 3 3; column 1, zp -3: 0 4 2 4 → -1 is pruned to -3.
    const wq = tensor('Wq', 'int8', [4, 2], fromColumns([[3, 5, 0, 6], [-3, 1, -1, -7]]));
    const spec = dequantModel(wq, tensor('scale', 'float32', [2], [0.5, 0.5]), tensor('zp', 'int8', [2], [3, -3]));
    spec.graph.node![0].attribute = [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }];
    const { output, report } = await convertSpec(spec);
    assert.deepEqual(int8Values(output, 'Wq'), fromColumns([[3, 3, 0, 6], [-3, 1, -3, -7]]));
    assert.equal(report.runtime?.ran, true);
  });

  test('int8 with blocked zero points along K (DequantizeLinear-21 block_size 2): a group spans two zero points', async () => {
    // zp[k / 2][n]: column 0 blocks 1, -1, 0, 2; column 1 blocks 0, 4, -4, 0.
    const wq = tensor('Wq', 'int8', [8, 2], fromColumns([[2, 3, -1, 2, 1, 5, 2, -3], [0, 1, 4, 6, -4, -5, 7, -7]]));
    const zp = tensor('zp', 'int8', [4, 2], [1, 0, -1, 4, 0, -4, 2, 0]);
    const spec = dequantModel(wq, tensor('scale', 'float32', [4, 2], new Array(8).fill(0.5)), zp, 21);
    spec.graph.node![0].attribute = [
      { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
      { name: 'block_size', type: onnx.AttributeProto.AttributeType.INT, i: 2 },
    ];
    const { output } = await convertSpec(spec);
    assert.deepEqual(int8Values(output, 'Wq'), fromColumns([[1, 3, -1, 2, 0, 5, 2, -3], [0, 1, 4, 6, -4, -4, 7, -7]]));
  });

  test('ascend mode does not rewrite a weight behind a blockwise DequantizeLinear (its node has no block size): pruned in place, saying why', async () => {
    const wq = tensor('Wq', 'int8', [8, 2], fromColumns([[2, 3, -1, 2, 1, 5, 2, -3], [0, 1, 4, 6, -4, -5, 7, -7]]));
    const spec = dequantModel(wq, tensor('scale', 'float32', [4, 2], new Array(8).fill(0.5)), tensor('zp', 'int8', [4, 2], [1, 0, -1, 4, 0, -4, 2, 0]), 21);
    spec.graph.node![0].attribute = [
      { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
      { name: 'block_size', type: onnx.AttributeProto.AttributeType.INT, i: 2 },
    ];
    const { output, report } = await convertSpec(spec, { mode: 'ascend' });
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason]), [
      ['fc', 'prune', 'pruned in place, not rewritten for Ascend: a blockwise DequantizeLinear (block_size 2) is not rewritten: the Ascend ops take a scale and zero point per tensor or per channel'],
    ]);
    assert.deepEqual(int8Values(output, 'Wq'), fromColumns([[1, 3, -1, 2, 0, 5, 2, -3], [0, 1, 4, 6, -4, -4, 7, -7]]));
  });

  test('float8 e4m3fn behind DequantizeLinear-19: 0x80 (-0) is zero and stays, pruned elements become 0x00', async () => {
    // 1.0, -1.0, 2.0, -0 → 2.0 and the earlier 1.0 survive; -0.5 0.5 -0.5 0.5 → the first two.
    const wq = makeTensor({ name: 'Wq', dtype: 'float8e4m3fn', dims: [4, 2], bits: true, values: fromColumns([[0x38, 0xb8, 0x40, 0x80], [0xb0, 0x30, 0xb0, 0x30]]) });
    const zp = makeTensor({ name: 'zp', dtype: 'float8e4m3fn', dims: [], bits: true, values: [0] });
    const { output } = await convertSpec(dequantModel(wq, tensor('scale', 'float32', [], [1]), zp, 19));
    assert.deepEqual(uint8Values(output, 'Wq'), fromColumns([[0x38, 0x00, 0x40, 0x80], [0xb0, 0x30, 0x00, 0x00]]));
  });

  test('a sparse_initializer weight is skipped with its reason and left as it was', async () => {
    const spec: ModelSpec = {
      graph: graph({
        name: 'sparse',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
        sparseInitializers: [sparseTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: DENSE_8x4 })],
      }),
    };
    const { input, output, report } = await convertSpec(spec);
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason]), [['fc', 'skip', 'sparse_initializer weights are not converted by this version']]);
    assert.deepEqual(readFileSync(output), readFileSync(input));
  });

  test('multi-slab weights (MatMul [2048, 1024], batched [2, 1024, 1280]) equal the reference pruneTo', async () => {
    const rnd = seededRandom(7);
    for (const dims of [[2048, 1024], [2, 1024, 1280]]) {
      const values = randomWeights(dims.reduce((a, d) => a * d, 1), rnd);
      const spec = matmulModel(makeTensor({ name: 'W', dtype: 'float32', dims, values }));
      spec.graph.input = [valueInfo('X', 'float32', [...dims.slice(0, -2), 1, dims[dims.length - 2]])];
      spec.graph.output = [valueInfo('Y', 'float32', [...dims.slice(0, -2), 1, dims[dims.length - 1]])];
      const { output, report } = await convertSpec(spec);
      const expected = pruneTo(values, dims, -2, 2, 4);
      assert.ok(Buffer.from(readTensorBytes(output, 'W')).equals(Buffer.from(expected.buffer)), `[${dims}]`);
      assert.equal(layerOf(report, 'fc').prunedElements, values.length / 2, `[${dims}]`);
    }
  });
});

// ---------------------------------------------------------------------------
// 3. Nothing else changes

/** W [8, 4], 2:4 along K already (rows k % 4 < 2 hold the non-zeros). */
const COMPLIANT_8x4 = Array.from({ length: 32 }, (_, i) => (Math.floor(i / 4) % 4 < 2 ? (i % 5) - 2.5 : 0));

/** fc_ok reads a compliant W_ok, fc a dense W; both [8, 4] under MatMul. */
function twoLayerModel(storage: 'raw' | 'typed' = 'raw'): ModelSpec {
  return {
    graph: graph({
      name: 'two-layers',
      nodes: [node('MatMul', ['X', 'W_ok'], ['H'], {}, { name: 'fc_ok' }), node('MatMul', ['X2', 'W'], ['Y'], {}, { name: 'fc' })],
      inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('X2', 'float32', [1, 8])],
      outputs: [valueInfo('H', 'float32', [1, 4]), valueInfo('Y', 'float32', [1, 4])],
      initializers: [tensor('W_ok', 'float32', [8, 4], COMPLIANT_8x4, storage), tensor('W', 'float32', [8, 4], DENSE_8x4, storage)],
    }),
  };
}

/** The fields numbered `no` directly inside the message [start, end) of `bytes`: their values' bytes (a varint's own bytes). */
function fieldValues(bytes: Uint8Array, start: number, end: number, no: number): Uint8Array[] {
  const found: Uint8Array[] = [];
  forEachField(new MemorySource('model.onnx', bytes), start, end, (f) => {
    if (f.no === no) found.push(bytes.slice(f.pos, f.pos + f.len));
  });
  return found;
}

/** Where the TensorProto of initializer `name` lies in a model's bytes. */
function initializerSpan(bytes: Uint8Array, name: string): { offset: number; length: number } {
  const t = readSkeleton(new MemorySource('model.onnx', bytes)).graph.initializers.find((x) => x.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t.span;
}

describe('nothing else changes', () => {
  test('an already compliant layer is left byte-identical and reported unchanged, retaining everything', async () => {
    for (const storage of ['raw', 'typed'] as const) {
      const { input, output, report } = await convertSpec(twoLayerModel(storage));
      const ok = layerOf(report, 'fc_ok');
      assert.deepEqual([ok.action, ok.reason, ok.retainedMagnitude, ok.prunedElements, ok.passesAfter], ['unchanged', 'already 2:4', 1, 0, true], storage);
      assert.deepEqual(onnx.TensorProto.encode(tensorProto(decodeModelFile(output), 'W_ok')).finish(), onnx.TensorProto.encode(tensorProto(decodeModelFile(input), 'W_ok')).finish(), storage);
      assert.deepEqual(float32Values(output, 'W'), DENSE_8x4_PRUNED, storage);
    }
  });

  test('a raw_data model: the output equals the input byte for byte outside the pruned tensor data', async () => {
    const { input, output } = await convertSpec(twoLayerModel());
    const before = readFileSync(input);
    const after = readFileSync(output);
    assert.equal(after.length, before.length);
    const w = readSkeleton(new MemorySource(input, before)).graph.initializers.find((t) => t.name === 'W')!;
    assert.equal(w.data.kind, 'raw');
    const { offset, length } = w.data as { offset: number; length: number };
    assert.deepEqual(after.subarray(0, offset), before.subarray(0, offset));
    assert.deepEqual(after.subarray(offset + length), before.subarray(offset + length));
    assert.deepEqual(new Float32Array(Uint8Array.from(after.subarray(offset, offset + length)).buffer), new Float32Array(DENSE_8x4_PRUNED));
  });

  test('opset imports, metadata, doc strings, value_info, functions and every other field survive a re-encoded tensor', async () => {
    const block: onnx.IFunctionProto = {
      name: 'Scale',
      domain: 'custom',
      input: ['x'],
      output: ['y'],
      node: [node('Identity', ['x'], ['y'], {}, { name: 'same' })],
      opsetImport: [{ domain: '', version: 17 }],
      docString: 'a function the graph calls',
    };
    const spec = twoLayerModel('typed'); // typed storage: W is removed and re-appended, every enclosing length changes
    spec.graph.node!.push(node('Scale', ['Y'], ['Z'], {}, { name: 'scale', domain: 'custom' }));
    spec.graph.node![1].docString = 'the dense layer';
    spec.graph.output!.push(valueInfo('Z', 'float32', [1, 4]));
    spec.graph.valueInfo = [valueInfo('H', 'float32', [1, 4]), valueInfo('Y', 'float32', [1, 4])];
    spec.graph.docString = 'graph documentation';
    Object.assign(spec, {
      functions: [block],
      extraOpsets: [{ domain: 'custom', version: 1 }, { domain: 'ai.onnx.ml', version: 3 }],
      metadata: { author: 'sparsity-lens tests', license: 'MIT' },
      docString: 'model documentation',
      producer: 'convert.test',
    });
    const { input, output, report } = await convertSpec(spec);
    assert.equal(report.verified, true);
    const before = decodeModelFile(input);
    const after = decodeModelFile(output);
    assert.deepEqual(after.opsetImport, before.opsetImport);
    assert.deepEqual(after.metadataProps, before.metadataProps);
    assert.equal(after.docString, 'model documentation');
    assert.equal(after.graph!.docString, 'graph documentation');
    assert.deepEqual(after.graph!.valueInfo, before.graph!.valueInfo);
    assert.deepEqual(after.functions, before.functions);
    // Everything else too: the input with W's values replaced by the pruned ones is the output.
    tensorProto(before, 'W').floatData = DENSE_8x4_PRUNED;
    assert.deepEqual(after.toJSON(), before.toJSON());
  });

  test('unknown fields (ModelProto field 99, a varint field 98, TensorProto field 77) survive byte-identically', async () => {
    const unknownModelField = lenField(99, new TextEncoder().encode('from a newer ONNX'));
    const unknownVarint = Uint8Array.of(0x90, 0x06, 0xb9, 0x60); // tag 98 << 3 | 0 = 784, then the varint 12345
    const unknownTensorField = lenField(77, Uint8Array.of(1, 2, 3, 250, 251));
    const tensorBytesWith = (t: onnx.ITensorProto) => concatBytes(onnx.TensorProto.encode(t).finish(), unknownTensorField);
    for (const storage of ['raw', 'typed'] as const) {
      const spec = twoLayerModel(storage);
      const [wOk, w] = spec.graph.initializer!;
      spec.graph.initializer = [];
      // Initializers hand-encoded (field 5 of GraphProto) with the unknown field inside each TensorProto.
      const graphBytes = concatBytes(onnx.GraphProto.encode(spec.graph).finish(), lenField(5, tensorBytesWith(wOk)), lenField(5, tensorBytesWith(w)));
      const modelBytes = concatBytes(
        onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'convert.test' }).finish(),
        lenField(7, graphBytes),
        unknownModelField,
        unknownVarint,
      );
      const input = join(tempDir(), 'model.onnx');
      writeFileSync(input, modelBytes);
      const report = await convertModel(input, { mode: 'prune' });
      assert.equal(report.verified, true, storage);
      const out = new Uint8Array(readFileSync(report.output!));
      assert.deepEqual(fieldValues(out, 0, out.length, 99), [new TextEncoder().encode('from a newer ONNX')], storage);
      assert.deepEqual(fieldValues(out, 0, out.length, 98), [Uint8Array.of(0xb9, 0x60)], storage);
      for (const name of ['W_ok', 'W']) {
        const span = initializerSpan(out, name);
        assert.deepEqual(fieldValues(out, span.offset, span.offset + span.length, 77), [Uint8Array.of(1, 2, 3, 250, 251)], `${storage} ${name}`);
      }
      assert.deepEqual(float32Values(report.output!, 'W'), DENSE_8x4_PRUNED, storage);
    }
  });
});

// ---------------------------------------------------------------------------
// 4. External data

/** fc reads W (dense) and adds bias, fc_ok reads W_ok (compliant): all three in weights.bin; G stays in raw_data. */
function externalModel(location = 'weights.bin'): { spec: ModelSpec; sink: ExternalSink } {
  const sink = new ExternalSink();
  const ext = (name: string, dims: number[], values: number[]) => makeTensor({ name, dtype: 'float32', dims, values, storage: { external: location } }, sink);
  const spec: ModelSpec = {
    graph: graph({
      name: 'external',
      nodes: [
        node('MatMul', ['X', 'W'], ['H'], {}, { name: 'fc' }),
        node('Add', ['H', 'bias'], ['Y'], {}, { name: 'fc_add' }),
        node('MatMul', ['X', 'W_ok'], ['H2'], {}, { name: 'fc_ok' }),
        node('Mul', ['H2', 'G'], ['Z'], {}, { name: 'gain' }),
      ],
      inputs: [valueInfo('X', 'float32', [1, 8])],
      outputs: [valueInfo('Y', 'float32', [1, 4]), valueInfo('Z', 'float32', [1, 4])],
      initializers: [ext('W', [8, 4], DENSE_8x4), ext('bias', [4], [0.5, -0.5, 1, -1]), ext('W_ok', [8, 4], COMPLIANT_8x4), tensor('G', 'float32', [4], [2, 2, 2, 2])],
    }),
  };
  return { spec, sink };
}

describe('external data', () => {
  const dir = tempDir();
  const input = join(dir, 'model.onnx');
  let inputData: Buffer;
  let report: ConvertReport;
  before(async () => {
    const { spec, sink } = externalModel();
    writeModel(input, spec, sink);
    inputData = readFileSync(join(dir, 'weights.bin'));
    report = await convertModel(input, { mode: 'prune', out: join(dir, 'pruned.onnx') });
  });

  test('the output keeps its data in <out without .onnx>.data, and every external tensor points there', () => {
    assert.equal(report.output, join(dir, 'pruned.onnx'));
    assert.equal(report.dataFile, join(dir, 'pruned.data'));
    assert.deepEqual(listFolder(dir), ['model.onnx', 'pruned.data', 'pruned.onnx', 'weights.bin']);
    const out = decodeModelFile(join(dir, 'pruned.onnx'));
    const places = ['W', 'bias', 'W_ok'].map((name) => externalEntries(tensorProto(out, name)));
    assert.deepEqual(places.map((e) => [e.location, Number(e.offset) % 64, Number(e.length)]), [
      ['pruned.data', 0, 128],
      ['pruned.data', 0, 16],
      ['pruned.data', 0, 128],
    ]);
    assert.equal(tensorProto(out, 'W').dataLocation, onnx.TensorProto.DataLocation.EXTERNAL);
    assert.equal(tensorProto(out, 'G').externalData?.length ?? 0, 0, 'a raw_data tensor stays inline');
  });

  test('values: the pruned weight pruned, the others copied exactly', () => {
    const output = join(dir, 'pruned.onnx');
    assert.deepEqual(float32Values(output, 'W'), DENSE_8x4_PRUNED);
    for (const name of ['bias', 'W_ok', 'G']) assert.deepEqual(readTensorBytes(output, name), readTensorBytes(input, name), name);
    assert.deepEqual(layerOf(report, 'fc').passesAfter, true);
    assert.deepEqual(layerOf(report, 'fc_ok').action, 'unchanged');
    assert.equal(report.verified, true);
  });

  test("the input's model and data file are untouched", () => {
    assert.deepEqual(readFileSync(join(dir, 'weights.bin')), inputData);
    assert.equal(float32Values(input, 'W').join(), DENSE_8x4.join());
  });

  test('ONNX Runtime and the ONNX checker load the output', () => {
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
    const check = onnxCheck(join(dir, 'pruned.onnx'));
    assert.equal(check.status, 0, check.stderr);
  });

  test('the default output name carries over to the data file: model.pruned-2of4.onnx + model.pruned-2of4.data', async () => {
    const { spec, sink } = externalModel();
    const { output, report: r } = await convertSpec(spec, {}, sink);
    assert.match(output, /model\.pruned-2of4\.onnx$/);
    assert.equal(r.dataFile, output.replace(/\.onnx$/, '.data'));
    assert.ok(existsSync(r.dataFile!));
    assert.deepEqual(float32Values(output, 'W'), DENSE_8x4_PRUNED);
  });
});

// ---------------------------------------------------------------------------
// 5. Refusals and cancels leave the disk as it was

/** Runs `convert`, expects it to reject with `error`, and checks the folder holds exactly what it held before. */
async function assertRefused(dir: string, run: () => Promise<unknown>, error: RegExp | (new (...args: never[]) => Error)): Promise<void> {
  const before = listFolder(dir);
  const contents = new Map(before.map((f) => [f, readFileSync(join(dir, f))]));
  await assert.rejects(run, error);
  assert.deepEqual(listFolder(dir), before);
  assert.deepEqual(partialFiles(dir), []);
  for (const [f, bytes] of contents) assert.deepEqual(readFileSync(join(dir, f)), bytes, `${f} unchanged`);
}

describe('refusals leave the disk as it was', () => {
  test('an existing output is not replaced without force; with force it is', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, twoLayerModel());
    const out = join(dir, 'model.pruned-2of4.onnx');
    writeFileSync(out, 'precious');
    await assertRefused(dir, () => convertModel(input, { mode: 'prune' }), /model\.pruned-2of4\.onnx' exists; use --force to replace it/);
    const report = await convertModel(input, { mode: 'prune', force: true });
    assert.equal(report.verified, true);
    assert.deepEqual(float32Values(out, 'W'), DENSE_8x4_PRUNED);
    assert.deepEqual(partialFiles(dir), []);
  });

  test('the output cannot be the input, even with force, whatever the spelling of the path', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, twoLayerModel());
    for (const out of [input, `${dir}/./model.onnx`, join(dir, 'sub', '..', 'model.onnx')]) {
      await assertRefused(dir, () => convertModel(input, { mode: 'prune', out, force: true }), /would overwrite an input file \(the model or one of its data files\); choose another --out/);
    }
  });

  test("the output's data file cannot be the input's data file, even with force", async () => {
    const { spec, sink } = externalModel('weights.data');
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, spec, sink);
    // --out weights.onnx puts its data in weights.data: the input's data file.
    await assertRefused(dir, () => convertModel(input, { mode: 'prune', out: join(dir, 'weights.onnx'), force: true }), /weights\.data' would overwrite an input file/);
  });

  test('--dry-run plans and writes nothing', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, twoLayerModel());
    const before = listFolder(dir);
    const report = await convertModel(input, { mode: 'prune', dryRun: true });
    assert.deepEqual(listFolder(dir), before);
    assert.equal(report.dryRun, true);
    assert.equal(report.output, null);
    assert.equal(report.verified, null);
    assert.equal(report.runtime, null);
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.violatingGroups]), [
      ['fc_ok', 'unchanged', 0],
      ['fc', 'prune', 7],
    ]);
  });

  test('a truncated model is refused with a readable error and nothing is written', async () => {
    const dir = tempDir();
    const full = encodeModel(twoLayerModel());
    const input = join(dir, 'model.onnx');
    writeFileSync(input, full.subarray(0, full.length - 40));
    await assertRefused(dir, () => convertModel(input, { mode: 'prune' }), ModelError);
    await assertRefused(dir, () => convertModel(input, { mode: 'prune' }), new RegExp(`model\\.onnx: the model needs \\d+ B, the file has ${full.length - 40} B: an incomplete download or copy\\?`));
  });

  test('an output folder that does not exist: a readable error, no temporary file anywhere', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, twoLayerModel());
    await assertRefused(dir, () => convertModel(input, { mode: 'prune', out: join(dir, 'missing', 'out.onnx') }), /model\.onnx: the output folder '.*missing' does not exist/);
  });

  test('Ctrl-C during the CLI\'s write (synchronous work) exits 130 and leaves no output and no temporary files', async () => {
    const dir = tempDir();
    const input = join(dir, 'big.onnx');
    // 4096 x 8192 float32 (128 MiB): long enough to interrupt while the output is being written.
    writeModel(input, matmulModel(makeTensor({ name: 'W', dtype: 'float32', dims: [4096, 8192], values: new Float32Array(4096 * 8192).fill(1) })));
    const before = readdirSync(dir).sort();
    const child = spawn(process.execPath, [CLI, 'convert', input, '--mode', 'prune'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Interrupt once the temporary output exists: the pruning and writing loop is running.
    const until = Date.now() + 30_000;
    while (!readdirSync(dir).some((f) => f.endsWith('.partial')) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    assert.ok(readdirSync(dir).some((f) => f.endsWith('.partial')), 'the conversion never started writing');
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /interrupted: nothing was written/);
    assert.deepEqual(readdirSync(dir).sort(), before);
  });

  test('cancelling after the first progress report leaves no output and no temporary files', async () => {
    const dir = tempDir();
    const input = join(dir, 'big.onnx');
    // 4096 x 4096 float32 (64 MiB) of ones: every group violates 2:4, pruning takes 16 slabs.
    writeModel(input, matmulModel(makeTensor({ name: 'W', dtype: 'float32', dims: [4096, 4096], values: new Float32Array(4096 * 4096).fill(1) })));
    const controller = new AbortController();
    const progress: number[] = [];
    await assertRefused(
      dir,
      () =>
        convertModel(input, {
          mode: 'prune',
          signal: controller.signal,
          onProgress: (done, total) => {
            progress.push(done, total);
            controller.abort();
          },
        }),
      CancelledError,
    );
    assert.deepEqual(progress, [1 << 20, 4096 * 4096], 'one slab was written before the cancel');
  });

  test('cancelling while the external data file is written leaves neither file nor temporary files', async () => {
    const dir = tempDir();
    const input = join(dir, 'big.onnx');
    const sink = new ExternalSink();
    const w = makeTensor({ name: 'W', dtype: 'float32', dims: [4096, 4096], values: new Float32Array(4096 * 4096).fill(1), storage: { external: 'big.bin' } }, sink);
    writeModel(input, matmulModel(w), sink);
    const controller = new AbortController();
    await assertRefused(dir, () => convertModel(input, { mode: 'prune', signal: controller.signal, onProgress: () => controller.abort() }), CancelledError);
  });

  test('progress counts the elements of the pruned weights, up to the total', async () => {
    const calls: [number, number][] = [];
    const { spec, sink } = externalModel();
    spec.graph.initializer!.push(tensor('W2', 'float32', [8, 2], fromColumns(MATMUL_COLUMNS)));
    spec.graph.node!.push(node('MatMul', ['X', 'W2'], ['V'], {}, { name: 'fc2' }));
    spec.graph.output!.push(valueInfo('V', 'float32', [1, 2]));
    await convertSpec(spec, { onProgress: (done, total) => calls.push([done, total]) }, sink);
    // W (32, external) then W2 (16, raw_data); W_ok is compliant and not counted.
    assert.deepEqual(calls, [[32, 48], [48, 48]]);
  });
});

// ---------------------------------------------------------------------------
// 6. Verification and what pruning cost

describe('verification and retained magnitude', () => {
  test('retained magnitude per layer and for the model: sum |w| kept / sum |w| over the converted weights', async () => {
    // fc: 51.75 of 73.25 kept; fc2: 26 of 30.75 kept; fc_ok is compliant (unchanged, retains 1, not in the sum).
    const spec = twoLayerModel();
    spec.graph.initializer!.push(tensor('W2', 'float32', [8, 2], fromColumns(MATMUL_COLUMNS)));
    spec.graph.node!.push(node('MatMul', ['X', 'W2'], ['Z'], {}, { name: 'fc2' }));
    spec.graph.output!.push(valueInfo('Z', 'float32', [1, 2]));
    const { report } = await convertSpec(spec);
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.retainedMagnitude, l.prunedElements, l.passesAfter]), [
      ['fc_ok', 'unchanged', 1, 0, true],
      ['fc', 'prune', 51.75 / 73.25, 13, true],
      ['fc2', 'prune', 26 / 30.75, 5, true],
    ]);
    assert.equal(report.summary.retainedMagnitude, (51.75 + 26) / (73.25 + 30.75));
    assert.deepEqual([report.summary.pruned, report.summary.unchanged, report.summary.skipped, report.summary.prunedElements], [2, 1, 0, 18]);
    assert.equal(report.verified, true);
  });

  test('NaN and infinite outputs are counted and left out of the comparison, never reported as agreement', async () => {
    // Y = (X @ W) * [inf, 1]: element 0 is infinite (or NaN) in both models, element 1 finite; Z = Y * [inf, inf]: none finite.
    const spec = matmulModel(tensor('W', 'float32', [8, 2], fromColumns(MATMUL_COLUMNS)));
    spec.graph.initializer!.push(tensor('C', 'float32', [2], [Infinity, 1]), tensor('D', 'float32', [2], [Infinity, Infinity]));
    spec.graph.node!.push(node('Mul', ['Y', 'C'], ['YC'], {}, { name: 'scale' }), node('Mul', ['YC', 'D'], ['Z'], {}, { name: 'overflow' }));
    spec.graph.output = [valueInfo('YC', 'float32', [1, 2]), valueInfo('Z', 'float32', [1, 2])];
    const { report } = await convertSpec(spec);
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
    const [yc, z] = report.runtime!.outputs;
    assert.deepEqual([yc.elements, yc.compared, yc.nonFinite], [2, 1, { input: 1, output: 1 }]);
    assert.ok(yc.maxAbsDiff !== null && Number.isFinite(yc.maxAbsDiff) && yc.cosine !== null && Math.abs(yc.cosine) <= 1);
    assert.deepEqual([z.elements, z.compared, z.nonFinite, z.maxAbsDiff, z.cosine], [2, 0, { input: 2, output: 2 }, null, null]);
    const text = formatConvert(report);
    assert.match(text, /output 'YC' \(ONNX Runtime [\d.]+ native, same inputs\): max \|diff\| \S+, cosine \S+ over the 1 elements finite in both \(1 of 2 elements NaN or infinite in the input model's output, 1 in the converted model's\)/);
    assert.match(text, /output 'Z' \(ONNX Runtime [\d.]+ native, same inputs\): NOT COMPARED: 2 of 2 elements NaN or infinite in the input model's output, 2 in the converted model's: the model overflows on the generated inputs/);
    assert.doesNotMatch(text, /identical/);
  });

  test('a model with nothing to prune: verified, retained magnitude null, the output a copy', async () => {
    const spec = twoLayerModel();
    spec.graph.initializer![1] = tensor('W', 'float32', [8, 4], COMPLIANT_8x4);
    const { input, output, report } = await convertSpec(spec);
    assert.equal(report.summary.pruned, 0);
    assert.equal(report.summary.retainedMagnitude, null);
    assert.equal(report.verified, true);
    assert.deepEqual(readFileSync(output), readFileSync(input));
  });
});

describe('the sample models', () => {
  const dir = tempDir();
  const results = new Map<string, ConvertReport>();
  before(async () => {
    for (const path of makeSampleModels(dir)) results.set(path, await convertModel(path, { mode: 'prune' }));
  });

  test('every sample: each layer gets the action its design calls for, every converted layer passes', () => {
    const expected = SAMPLE_LAYERS.map((l) => [l.node, { pass: 'unchanged', nearly: 'prune', fail: 'prune', ineligible: 'skip' }[l.expect]]);
    assert.equal(results.size, 3);
    for (const [path, report] of results) {
      assert.deepEqual(report.layers.map((l) => [l.name, l.action]), expected, path);
      assert.equal(report.verified, true, path);
      for (const l of report.layers) assert.equal(l.passesAfter, l.action === 'skip' ? null : true, `${path} ${l.name}`);
      assert.equal(layerOf(report, 'conv2').violatingGroups, 5, path);
    }
  });

  test('every sample runs in ONNX Runtime before and after; the logits keep a cosine in (0, 1]', () => {
    for (const [path, report] of results) {
      assert.equal(report.runtime?.ran, true, `${path}: ${report.runtime?.note}`);
      const [logits] = report.runtime!.outputs;
      assert.equal(logits.name, 'logits');
      assert.equal(logits.compared, logits.elements, `${path}: every output element finite`);
      assert.ok(logits.cosine !== null && logits.cosine > 0 && logits.cosine <= 1, `${path}: cosine ${logits.cosine}`);
      assert.equal(logits.identical, false, `${path}: pruning changed the output`);
    }
  });

  test('the pruned samples pass the ONNX reference checker (full_check)', () => {
    for (const report of results.values()) {
      const check = onnxCheck(report.output!);
      assert.equal(check.status, 0, `${report.output}: ${check.stderr}`);
    }
  });

  test('the checker is not a rubber stamp: a truncated model fails it', () => {
    const [report] = results.values();
    const broken = join(dir, 'broken.onnx');
    writeFileSync(broken, readFileSync(report.output!).subarray(0, 5000));
    assert.notEqual(onnxCheck(broken).status, 0);
  });
});

// ---------------------------------------------------------------------------
// 8. The command line


describe('sparsity-lens convert', () => {
  const dir = tempDir();
  const [sample] = makeSampleModels(dir);

  /** Exit 2, the message on stderr, no stack trace, and nothing written next to the sample. */
  function assertRejected(run: Run, message: RegExp): void {
    assert.equal(run.code, 2, `stderr: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(run.stdout, '');
    assert.deepEqual(listFolder(dir), ['sample-fp16.onnx', 'sample-int8-qdq.onnx', 'sample.onnx']);
  }

  test('--help describes the command and exits 0', () => {
    const run = cli('convert', '--help');
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: sparsity-lens convert MODEL --mode/);
    for (const option of ['--mode', '--pattern', '--out', '--only', '--skip', '--min-params', '--skip-first', '--skip-head', '--force', '--dry-run', '--format']) {
      assert.ok(run.stdout.includes(option), option);
    }
  });

  test('a missing or unknown --mode', () => {
    assertRejected(cli('convert', sample), /--mode must be one of prune/);
    assertRejected(cli('convert', sample, '--mode', 'shrink'), /--mode must be one of prune/);
  });

  test('a bad --pattern', () => {
    assertRejected(cli('convert', sample, '--mode', 'prune', '--pattern', 'two:four'), /pattern 'two:four' is not of the form N:M/);
    assertRejected(cli('convert', sample, '--mode', 'prune', '--pattern', '4:4'), /pattern '4:4' needs 1 <= N < M <= 16/);
  });

  test('a bad --min-params', () => {
    for (const value of ['-1', '1.5', 'many', '']) assertRejected(cli('convert', sample, '--mode', 'prune', `--min-params=${value}`), /--min-params needs a whole number >= 0/);
  });

  test('a bad --only or --skip expression', () => {
    assertRejected(cli('convert', sample, '--mode', 'prune', '--only', '('), /--only '\(' is not a valid regular expression/);
    assertRejected(cli('convert', sample, '--mode', 'prune', '--skip', '[a'), /--skip '\[a' is not a valid regular expression/);
  });

  test('a truncated model', () => {
    const bad = join(tempDir(), 'truncated.onnx');
    writeFileSync(bad, readFileSync(sample).subarray(0, 3000));
    const run = cli('convert', bad, '--mode', 'prune');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /truncated\.onnx: the model needs 162\.8 kB, the file has 3\.0 kB: an incomplete download or copy\?/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  test('--dry-run prints the plan (to prune, unchanged, skipped with reasons) and writes nothing', () => {
    const run = cli('convert', sample, '--mode', 'prune', '--dry-run');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /dry run: nothing written/);
    assert.match(run.stdout, /layers: 3 to prune, 3 already compliant \(unchanged\), 2 skipped/);
    const row = (name: string) => run.stdout.split('\n').find((line) => line.startsWith(`${name} `)) ?? '';
    for (const name of ['conv2', 'conv3', 'fc2']) assert.match(row(name), /\bprune\b/, name);
    for (const name of ['conv1', 'fc1', 'fc3']) assert.match(row(name), /\bunchanged\b.*already 2:4/, name);
    assert.match(row('dw'), /\bskip\b.*ineligible: grouped\/depthwise convolution/);
    assert.match(row('head'), /\bskip\b.*ineligible: K=30 \(axis 0\) is not divisible by M=4/);
    assert.deepEqual(listFolder(dir), ['sample-fp16.onnx', 'sample-int8-qdq.onnx', 'sample.onnx']);
  });

  test('--format json has the fields of ConvertReport; an existing output is then refused without --force', () => {
    const out = join(tempDir(), 'pruned.onnx');
    const run = cli('convert', sample, '--mode', 'prune', '--out', out, '--format', 'json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ConvertReport;
    // The contract: these fields at least (modes added later may add their own).
    const hasAll = (obj: object, keys: string[], what: string) => {
      for (const key of keys) assert.ok(key in obj, `${what}.${key}`);
    };
    hasAll(report, ['model', 'output', 'dataFile', 'mode', 'pattern', 'dryRun', 'layers', 'summary', 'verified', 'runtime', 'notes'], 'report');
    hasAll(report.summary, ['pruned', 'unchanged', 'skipped', 'prunedElements', 'retainedMagnitude', 'sizeBefore', 'sizeAfter'], 'summary');
    const layerKeys = ['name', 'op', 'graph', 'weight', 'shape', 'dtype', 'axis', 'action', 'reason', 'compliance', 'violatingGroups', 'retainedMagnitude', 'prunedElements', 'passesAfter'];
    for (const l of report.layers) hasAll(l, layerKeys, l.name);
    assert.deepEqual(report.layers.map((l) => l.name), SAMPLE_LAYERS.map((l) => l.node));
    assert.deepEqual([report.model, report.output, report.dataFile, report.mode, report.pattern, report.dryRun, report.verified], [sample, out, null, 'prune', '2:4', false, true]);
    assert.equal(report.summary.sizeAfter, statSync(out).size);
    assert.equal(report.runtime?.ran, true);

    const again = cli('convert', sample, '--mode', 'prune', '--out', out);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /pruned\.onnx' exists; use --force to replace it/);
    assert.equal(cli('convert', sample, '--mode', 'prune', '--out', out, '--force').code, 0);
  });

  test('--skip-first --skip-head leave the first and last eligible layers (conv1, fc3) alone', () => {
    const eligible = SAMPLE_LAYERS.filter((l) => l.expect !== 'ineligible').map((l) => l.node);
    assert.deepEqual([eligible[0], eligible[eligible.length - 1]], ['conv1', 'fc3']);
    const run = cli('convert', sample, '--mode', 'prune', '--skip-first', '--skip-head', '--dry-run', '--format', 'json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ConvertReport;
    assert.deepEqual(
      report.layers.filter((l) => l.action === 'skip').map((l) => [l.name, l.reason]),
      [
        ['conv1', 'not selected: first layer (--skip-first)'],
        ['dw', 'ineligible: grouped/depthwise convolution (group=32): 1 input channel(s) per group < M=4'],
        ['fc3', 'not selected: classifier head (--skip-head)'],
        ['head', 'ineligible: K=30 (axis 0) is not divisible by M=4'],
      ],
    );
  });

  test('--only, --skip and --min-params select layers by name and size', () => {
    // Sizes: conv1 4608, conv2 9216, conv3 2048, fc1 8192, fc2 12288, fc3 2880; head (300) does not match --only.
    const run = cli('convert', sample, '--mode', 'prune', '--dry-run', '--format', 'json', '--only', '^(conv|fc)', '--skip', '^conv3$', '--min-params', '5000');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ConvertReport;
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason]), [
      ['conv1', 'skip', 'not selected: 4608 parameters < --min-params 5000'],
      ['conv2', 'prune', null],
      ['dw', 'skip', 'ineligible: grouped/depthwise convolution (group=32): 1 input channel(s) per group < M=4'],
      ['conv3', 'skip', 'not selected (--skip)'],
      ['fc1', 'unchanged', 'already 2:4'],
      ['fc2', 'prune', null],
      ['fc3', 'skip', 'not selected: 2880 parameters < --min-params 5000'],
      ['head', 'skip', 'ineligible: K=30 (axis 0) is not divisible by M=4'],
    ]);
  });
});
