// Static int8 with zero points per channel (ONNX Runtime's quantizer, TensorRT-style Q/DQ): convert --mode compress
// stores each weight's zero points as W.sl_zeros [C] and the decode graph fills every pruned place with its channel's
// zero point. Models are built here with zero points that differ per channel, along the axis each op quantizes
// (Conv [O, I, kh, kw]: axis 0; MatMul B [K, N]: axis 1); the compressed model runs in ONNX Runtime with outputs
// bit-identical to the pruned model's, is smaller, and decompresses to the pruned weights byte for byte.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type ConvertReport, convertModel } from '../src/engine/convert/convert';
import { compareOutputs } from '../src/engine/convert/runtime';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { FileSource } from '../src/engine/onnx/source';
import { inspectModel } from '../src/engine/sparsity/inspect';
import { type DTypeName, type ModelSpec, graph, makeTensor, node, seededRandom, valueInfo, writeModel } from './support/builder';
import { allTensorProtos, decodeModelFile, roundTrip, tensorBytes, tensorProto } from './support/convert-read';
import { tempDir } from './support/models';

/** Every tensor's bytes by name. */
function tensorsByName(path: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, t] of allTensorProtos(decodeModelFile(path))) out.set(name, Buffer.from(tensorBytes(path, t)));
  return out;
}

/** Integer weights over [lo, hi] and zero points that differ per channel (so no single zero would do). */
function ints(count: number, lo: number, hi: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: count }, () => lo + Math.floor(rnd() * (hi - lo + 1)));
}

function channelZeroPoints(count: number, type: 'int8' | 'uint8'): number[] {
  return Array.from({ length: count }, (_, i) => (type === 'int8' ? (i % 7) - 3 : 125 + (i % 9)));
}

interface Case {
  label: string;
  spec: ModelSpec;
  layers: string[];
  /** The quantized weight, its zeros initializer and the zero points it must hold. */
  weight: string;
  zeroPoints: number[];
  type: 'int8' | 'uint8';
  /** ONNX Runtime's kernel takes one zero point only (ConvInteger): the round trip is checked, not the run. */
  runtimeRefuses?: string;
}

const float = (name: string, dims: number[], values: number[]) => makeTensor({ name, dtype: 'float32', dims, values });
const q = (name: string, type: DTypeName, dims: number[], values: number[]) => makeTensor({ name, dtype: type, dims, values });

/** DequantizeLinear (opset 13, `axis`) then Conv, MatMul or Gemm. */
function qdqCase(label: string, type: 'int8' | 'uint8', op: 'Conv' | 'MatMul', dims: number[], axis: number, seed: number): Case {
  const count = dims.reduce((a, b) => a * b, 1);
  const channels = dims[axis];
  const zps = channelZeroPoints(channels, type);
  const [lo, hi] = type === 'int8' ? [-40, 40] : [85, 170];
  const conv = op === 'Conv';
  const input = conv ? [1, dims[1], 5, 5] : [1, dims[0]];
  const output = conv ? [1, dims[0], 3, 3] : [1, dims[1]];
  return {
    label,
    type,
    weight: 'Wq',
    zeroPoints: zps,
    layers: ['layer'],
    spec: {
      opset: 13,
      graph: graph({
        name: label,
        nodes: [
          node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis }, { name: 'dq' }),
          node(op, ['X', 'W'], ['Y'], conv ? { kernel_shape: [3, 3] } : {}, { name: 'layer' }),
        ],
        inputs: [valueInfo('X', 'float32', input)],
        outputs: [valueInfo('Y', 'float32', output)],
        initializers: [
          q('Wq', type, dims, ints(count, lo, hi, seed)),
          float('scale', [channels], Array.from({ length: channels }, (_, i) => 0.0078125 * (1 + (i % 3)))),
          q('zp', type, [channels], zps),
        ],
      }),
    },
  };
}

/** MatMulInteger (A uint8 input, B [K, N] with b_zero_point [N]) and QLinearMatMul with a per-column B. */
function integerMatMulCase(op: 'MatMulInteger' | 'QLinearMatMul', type: 'int8' | 'uint8', seed: number): Case {
  const [K, N] = [256, 48];
  const zps = channelZeroPoints(N, type);
  const B = q('B', type, [K, N], ints(K * N, type === 'int8' ? -40 : 85, type === 'int8' ? 40 : 170, seed));
  const integer = op === 'MatMulInteger';
  return {
    label: `${op} B ${type} [${K}, ${N}], b_zero_point per column`,
    type,
    weight: 'B',
    zeroPoints: zps,
    layers: ['layer'],
    spec: {
      opset: 13,
      graph: graph({
        name: op,
        nodes: integer
          ? [node('MatMulInteger', ['A', 'B', 'a_zp', 'b_zp'], ['Y'], {}, { name: 'layer' })]
          : [node('QLinearMatMul', ['A', 'a_scale', 'a_zp', 'B', 'b_scale', 'b_zp', 'y_scale', 'y_zp'], ['Y'], {}, { name: 'layer' })],
        inputs: [valueInfo('A', 'uint8', [2, K])],
        outputs: [valueInfo('Y', integer ? 'int32' : 'uint8', [2, N])],
        initializers: [
          B,
          q('a_zp', 'uint8', [], [8]),
          q('b_zp', type, [N], zps),
          ...(integer ? [] : [float('a_scale', [], [0.05]), float('b_scale', [N], Array.from({ length: N }, (_, i) => 0.01 * (1 + (i % 4)))), float('y_scale', [], [0.05]), q('y_zp', 'uint8', [], [128])]),
        ],
      }),
    },
  };
}

/** QLinearConv (ONNX Runtime's quantizer writes these for Conv) or ConvInteger with a per-channel w_zero_point. */
function qlinearConvCase(seed: number, op: 'QLinearConv' | 'ConvInteger' = 'QLinearConv'): Case {
  const dims = [64, 32, 3, 3];
  const zps = channelZeroPoints(64, 'int8');
  if (op === 'ConvInteger') {
    return {
      label: 'ConvInteger W int8 [64, 32, 3, 3], w_zero_point per output channel (ONNX Runtime runs neither model)',
      type: 'int8',
      runtimeRefuses: 'Non per-tensor quantization is not supported now',
      weight: 'W',
      zeroPoints: zps,
      layers: ['layer'],
      spec: {
        opset: 13,
        graph: graph({
          name: 'convinteger',
          nodes: [node('ConvInteger', ['X', 'W', 'x_zp', 'w_zp'], ['Y'], { kernel_shape: [3, 3] }, { name: 'layer' })],
          inputs: [valueInfo('X', 'uint8', [1, 32, 5, 5])],
          outputs: [valueInfo('Y', 'int32', [1, 64, 3, 3])],
          initializers: [q('x_zp', 'uint8', [], [8]), q('W', 'int8', dims, ints(64 * 32 * 9, -40, 40, seed)), q('w_zp', 'int8', [64], zps)],
        }),
      },
    };
  }
  return {
    label: 'QLinearConv W int8 [64, 32, 3, 3], w_zero_point per output channel',
    type: 'int8',
    weight: 'W',
    zeroPoints: zps,
    layers: ['layer'],
    spec: {
      opset: 13,
      graph: graph({
        name: 'qlinearconv',
        nodes: [node('QLinearConv', ['X', 'x_scale', 'x_zp', 'W', 'w_scale', 'w_zp', 'y_scale', 'y_zp'], ['Y'], { kernel_shape: [3, 3] }, { name: 'layer' })],
        inputs: [valueInfo('X', 'uint8', [1, 32, 5, 5])],
        outputs: [valueInfo('Y', 'uint8', [1, 64, 3, 3])],
        initializers: [
          float('x_scale', [], [0.05]),
          q('x_zp', 'uint8', [], [8]),
          q('W', 'int8', dims, ints(64 * 32 * 9, -40, 40, seed)),
          float('w_scale', [64], Array.from({ length: 64 }, (_, i) => 0.01 * (1 + (i % 4)))),
          q('w_zp', 'int8', [64], zps),
          float('y_scale', [], [0.1]),
          q('y_zp', 'uint8', [], [128]),
        ],
      }),
    },
  };
}

/**
 * The compressed and the pruned model run in ONNX Runtime on the same inputs: every output bit-identical; and the
 * outputs depend on the weight (the dense input model's differ), so the comparison could have failed.
 */
async function assertRunsAsPruned(compressed: string, pruned: string, dense: string, label: string): Promise<void> {
  const src = new FileSource(pruned);
  const skeleton = readSkeleton(src);
  src.close();
  const run = await compareOutputs(pruned, compressed, skeleton);
  assert.equal(run.ran, true, `${label}: ${run.note}`);
  assert.ok(run.outputs.length > 0, label);
  for (const o of run.outputs) {
    assert.equal(o.identical, true, `${label}: output ${o.name} differs (max |diff| ${o.maxAbsDiff})`);
    assert.equal(o.maxAbsDiff, 0, `${label}: ${o.name}`);
  }
  const unpruned = await compareOutputs(dense, compressed, skeleton);
  assert.ok(unpruned.outputs.some((o) => !o.identical), `${label}: the outputs do not depend on the pruned elements`);
}

function assertCompressed(report: ConvertReport, layers: string[], label: string, runtimeRefuses?: string): void {
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.action, l.reason, l.passesAfter]),
    layers.map((l) => [l, 'compress', null, true]),
    label,
  );
  assert.equal(report.verified, true, label);
  if (runtimeRefuses) {
    assert.equal(report.exact?.ran, false, label);
    assert.ok(report.exact?.note?.includes(runtimeRefuses), `${label}: ${report.exact?.note}`);
    return;
  }
  assert.equal(report.exact?.ran, true, `${label}: ${report.exact?.note}`);
  for (const o of report.exact!.outputs) assert.equal(o.identical, true, `${label}: exact ${o.name}`);
}

/** Reads zero points as signed (int8) or unsigned (uint8) numbers. */
function zeroPointsOf(path: string, name: string, type: 'int8' | 'uint8'): number[] {
  const bytes = tensorBytes(path, tensorProto(decodeModelFile(path), name));
  return Array.from(type === 'int8' ? new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length) : bytes);
}

describe('per-channel int8 compresses: ONNX Runtime outputs bit-identical to the pruned model, smaller, decompress byte-exact', () => {
  const cases: Case[] = [
    qdqCase('Q/DQ Conv int8 [64, 32, 3, 3], DequantizeLinear axis 0', 'int8', 'Conv', [64, 32, 3, 3], 0, 1),
    qdqCase('Q/DQ Conv uint8 [64, 32, 3, 3], DequantizeLinear axis 0', 'uint8', 'Conv', [64, 32, 3, 3], 0, 2),
    qdqCase('Q/DQ MatMul B int8 [256, 64], DequantizeLinear axis 1', 'int8', 'MatMul', [256, 64], 1, 3),
    qdqCase('Q/DQ MatMul B uint8 [256, 64], DequantizeLinear axis 1', 'uint8', 'MatMul', [256, 64], 1, 4),
    integerMatMulCase('MatMulInteger', 'uint8', 5),
    integerMatMulCase('MatMulInteger', 'int8', 6),
    integerMatMulCase('QLinearMatMul', 'uint8', 7),
    integerMatMulCase('QLinearMatMul', 'int8', 8),
    qlinearConvCase(10),
    qlinearConvCase(11, 'ConvInteger'),
  ];
  for (const c of cases) {
    test(c.label, async () => {
      const input = join(tempDir(), 'model.onnx');
      writeModel(input, c.spec);
      const { pruned, compressed, decompressed, prune, compress } = await roundTrip(input);
      assert.ok(prune.layers.every((l) => l.prunedElements > 0), `${c.label}: the weight was dense`);
      assertCompressed(compress, c.layers, c.label, c.runtimeRefuses);
      // The zero points are kept per channel, as the quantizer wrote them, and the weight itself is gone.
      assert.deepEqual(zeroPointsOf(compressed, `${c.weight}.sl_zeros`, c.type), c.zeroPoints, c.label);
      const tensors = tensorsByName(compressed);
      assert.ok(!tensors.has(c.weight), `${c.label}: ${c.weight} is still stored dense`);
      if (!c.runtimeRefuses) await assertRunsAsPruned(compressed, pruned, input, c.label);
      assert.ok(statSync(compressed).size < statSync(pruned).size, `${c.label}: ${statSync(compressed).size} >= ${statSync(pruned).size}`);
      // decompress gives the pruned model's tensors back, byte for byte (every pruned place is its channel's zero point).
      const want = tensorsByName(pruned);
      const got = tensorsByName(decompressed);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), c.label);
      for (const [name, bytes] of want) assert.ok(got.get(name)!.equals(bytes), `${c.label}: ${name} differs after decompress`);
    });
  }

  test('a pruned place holds its channel\'s zero point: Conv [8, 4, 1, 1] zero points 0..7, each row pruned to the zero point', async () => {
    // Row o = [o + 5, o, o + 1, o - 2] against zero point o: magnitudes 5, 0, 1, 2 keep elements 0 and 3.
    const dims = [8, 4, 1, 1];
    const values = [...Array(8).keys()].flatMap((o) => [o + 5, o, o + 1, o - 2]);
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      opset: 13,
      graph: graph({
        name: 'rows',
        nodes: [node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0 }, { name: 'dq' }), node('Conv', ['X', 'W'], ['Y'], { kernel_shape: [1, 1] }, { name: 'layer' })],
        inputs: [valueInfo('X', 'float32', [1, 4, 2, 2])],
        outputs: [valueInfo('Y', 'float32', [1, 8, 2, 2])],
        initializers: [q('Wq', 'int8', dims, values), float('scale', [8], new Array(8).fill(0.5)), q('zp', 'int8', [8], [...Array(8).keys()])],
      }),
    });
    const { compressed, decompressed, compress } = await roundTrip(input);
    assertCompressed(compress, ['layer'], 'rows');
    const stream = tensorBytes(compressed, tensorProto(decodeModelFile(compressed), 'Wq.sl_values'));
    assert.deepEqual(Array.from(new Int8Array(stream.buffer, stream.byteOffset, stream.length)), [...Array(8).keys()].flatMap((o) => [o + 5, o - 2]));
    const dense = tensorsByName(decompressed).get('Wq')!;
    assert.deepEqual(Array.from(new Int8Array(dense.buffer, dense.byteOffset, dense.length)), [...Array(8).keys()].flatMap((o) => [o + 5, o, o, o - 2]));
    // The compressed model inspects as the pruned one: every row passes 2:4 against its own zero point.
    const layer = (await inspectModel(compressed)).layers[0];
    assert.deepEqual([layer.pass, layer.validGroups, layer.groups, layer.zeros], [true, 8, 8, 16]);
  });
});

describe('per-channel zero points the portable form cannot hold are pruned in place, saying why', () => {
  test('zero points along K (MatMul B [16, 4], DequantizeLinear axis 0) differ inside a group', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      opset: 13,
      graph: graph({
        name: 'along-k',
        nodes: [node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0 }, { name: 'dq' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'layer' })],
        inputs: [valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
        initializers: [q('Wq', 'int8', [16, 4], ints(64, -40, 40, 9)), float('scale', [16], new Array(16).fill(0.25)), q('zp', 'int8', [16], [...Array(16).keys()])],
      }),
    });
    const compress = await convertModel(input, { mode: 'compress' });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action, l.reason]), [
      ['layer', 'prune', 'pruned in place, not compressed: its zero points change along the reduction axis K (axis 0) inside a group: not compressed (per output channel they are)'],
    ]);
    assert.equal(compress.verified, true);
  });
});
