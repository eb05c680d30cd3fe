// Compress below opset 11 (Paddle exports at opset 9 are common): the gather decode (src/engine/convert/gatherDecode.ts)
// rebuilds each weight from ops opset 7 has: no BitShift, no ScatterElements, no GatherElements, Slice by attributes
// before opset 10. The compressed model runs in ONNX Runtime with outputs bit-identical to the pruned model's; the
// decode graph's own output, read back from ONNX Runtime, is the pruned weight byte for byte (-0.0 and zero points
// per channel included); ONNX's checker accepts the output at its opset; decompress gives the pruned tensors back.
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { type ConvertReport, convertModel } from '../src/engine/convert/convert';
import { compareOutputs } from '../src/engine/convert/runtime';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { FileSource } from '../src/engine/onnx/source';
import { inspectModel } from '../src/engine/sparsity/inspect';
import { type Pattern, patternName } from '../src/engine/sparsity/pattern';
import { type DTypeName, ExternalSink, type ModelSpec, constantNode, graph, makeTensor, node, randomWeights, seededRandom, valueInfo, writeModel } from './support/builder';
import { allTensorProtos, decodeModelFile, onnxCheck, roundTrip, tensorBytes } from './support/convert-read';
import { tempDir } from './support/models';

/** Every tensor's bytes by name. */
function tensorsByName(path: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, t] of allTensorProtos(decodeModelFile(path))) out.set(name, Buffer.from(tensorBytes(path, t)));
  return out;
}

/** The op types of a model's main graph. */
function opTypes(path: string): Set<string> {
  return new Set((decodeModelFile(path).graph?.node ?? []).map((n) => n.opType ?? ''));
}

/** The ops the gather decode may use: each in the default domain since opset 7 at the latest. */
const GATHER_DECODE_OPS = ['Reshape', 'Cast', 'Div', 'Floor', 'Mul', 'Sub', 'Slice', 'Equal', 'Add', 'ReduceSum', 'Concat', 'Gather', 'Transpose'];

/** The compressed and the pruned model run in ONNX Runtime: every output bit-identical, and the outputs depend on the weights. */
async function assertRunsAsPruned(compressed: string, pruned: string, dense: string, label: string): Promise<void> {
  const src = new FileSource(pruned);
  const skeleton = readSkeleton(src);
  src.close();
  const run = await compareOutputs(pruned, compressed, skeleton);
  assert.equal(run.ran, true, `${label}: ${run.note}`);
  for (const o of run.outputs) assert.equal(o.identical, true, `${label}: output ${o.name} differs (max |diff| ${o.maxAbsDiff})`);
  const unpruned = await compareOutputs(dense, compressed, skeleton);
  assert.ok(unpruned.outputs.some((o) => !o.identical), `${label}: the outputs do not depend on the pruned elements`);
}

const ORT_ARRAYS: Record<number, (n: number) => ArrayLike<number>> = {
  1: (n) => new Float32Array(n).fill(1),
  10: (n) => new Uint16Array(n).fill(0x3c00),
  2: (n) => new Uint8Array(n).fill(3),
  3: (n) => new Int8Array(n).fill(3),
};
const ORT_TYPE: Record<number, string> = { 1: 'float32', 10: 'float16', 2: 'uint8', 3: 'int8' };

/**
 * Runs a copy of the compressed model whose outputs are the decode graph's weights, in ONNX Runtime, and returns
 * each weight's bytes as ONNX Runtime computed them.
 */
async function decodedInRuntime(compressed: string, weights: { name: string; dtype: DTypeName; dims: number[] }[]): Promise<Map<string, Buffer>> {
  const copy = decodeModelFile(compressed);
  copy.graph!.output = weights.map((w) => valueInfo(w.name, w.dtype, w.dims)) as onnx.ValueInfoProto[];
  const path = join(compressed, '..', 'decoded-weights.onnx');
  writeFileSync(path, onnx.ModelProto.encode(copy).finish());
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(path);
  const feeds: Record<string, unknown> = {};
  for (const input of copy.graph!.input ?? []) {
    const type = input.type!.tensorType!;
    const dims = type.shape!.dim!.map((d) => Number(d.dimValue));
    feeds[input.name!] = new ort.Tensor(ORT_TYPE[type.elemType!], ORT_ARRAYS[type.elemType!](dims.reduce((a, b) => a * b, 1)), dims);
  }
  const out = await session.run(feeds);
  const result = new Map<string, Buffer>();
  for (const w of weights) {
    const data = out[w.name].data as ArrayBufferView;
    result.set(w.name, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  return result;
}

/** Prune, compress and decompress; the common checks: compressed layers, runs as pruned, decode in ONNX Runtime exact, checker, round trip. */
async function checkOpsetModel(
  spec: ModelSpec,
  /** Each decode graph's output, and (`tensor`) the name of its tensor in the pruned model when that differs (a Constant's value). */
  weights: { name: string; dtype: DTypeName; dims: number[]; tensor?: string }[],
  label: string,
  pattern: Pattern = { n: 2, m: 4 },
  external?: ExternalSink,
): Promise<{ pruned: string; compressed: string; compress: ConvertReport }> {
  const input = join(tempDir(), 'model.onnx');
  writeModel(input, spec, external);
  const { pruned, compressed, decompressed, prune, compress } = await roundTrip(input, pattern);
  assert.ok(prune.layers.some((l) => l.prunedElements > 0), `${label}: nothing was pruned`);
  assert.deepEqual(
    compress.layers.map((l) => [l.name, l.action, l.reason]),
    prune.layers.map((l) => [l.name, l.action === 'skip' ? 'skip' : 'compress', l.action === 'skip' ? l.reason : null]),
    label,
  );
  assert.equal(compress.verified, true, label);
  assert.equal(compress.exact?.ran, true, `${label}: ${compress.exact?.note}`);
  assert.ok(compress.exact!.outputs.every((o) => o.identical), label);
  // Only ops the model's opset has; the checker (onnx 1.12, full_check) agrees.
  const extra = [...opTypes(compressed)].filter((op) => !opTypes(pruned).has(op) && !GATHER_DECODE_OPS.includes(op));
  assert.deepEqual(extra, [], `${label}: ops beyond the gather decode's`);
  const check = onnxCheck(compressed);
  assert.equal(check.status, 0, `${label}: ${check.stderr}`);
  await assertRunsAsPruned(compressed, pruned, input, label);
  const want = tensorsByName(pruned);
  const decoded = await decodedInRuntime(compressed, weights);
  for (const w of weights) assert.ok(decoded.get(w.name)!.equals(want.get(w.tensor ?? w.name)!), `${label}: the decode graph's ${w.name} in ONNX Runtime is not the pruned ${w.name}`);
  // decompress writes a Constant's weight back as an initializer named by the Constant's output.
  const renamed = new Map(weights.filter((w) => w.tensor).map((w) => [w.tensor!, w.name]));
  const got = tensorsByName(decompressed);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].map((n) => renamed.get(n) ?? n).sort(), label);
  for (const [name, bytes] of want) assert.ok(got.get(renamed.get(name) ?? name)!.equals(bytes), `${label}: ${name} differs after decompress`);
  return { pruned, compressed, compress };
}

/** A Paddle-like opset-9 block: Conv [16, 8, 3, 3] + Relu + Flatten + Gemm transB [64, 256] + Relu + MatMul [64, 32]. */
function paddleLike(opset: number, seed: number): ModelSpec {
  const rnd = seededRandom(seed);
  return {
    opset,
    irVersion: 5,
    graph: graph({
      name: `opset${opset}`,
      nodes: [
        node('Conv', ['X', 'conv_w', 'conv_b'], ['C'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' }),
        node('Relu', ['C'], ['R'], {}, { name: 'relu' }),
        node('Flatten', ['R'], ['F'], { axis: 1 }, { name: 'flatten' }),
        node('Gemm', ['F', 'fc_w', 'fc_b'], ['G'], { transB: 1 }, { name: 'fc' }),
        node('Relu', ['G'], ['H'], {}, { name: 'relu2' }),
        node('MatMul', ['H', 'head_w'], ['Y'], {}, { name: 'head' }),
      ],
      inputs: [valueInfo('X', 'float32', [1, 8, 4, 4])],
      outputs: [valueInfo('Y', 'float32', [1, 32])],
      initializers: [
        makeTensor({ name: 'conv_w', dtype: 'float32', dims: [16, 8, 3, 3], values: randomWeights(1152, rnd) }),
        makeTensor({ name: 'conv_b', dtype: 'float32', dims: [16], values: randomWeights(16, rnd) }),
        makeTensor({ name: 'fc_w', dtype: 'float32', dims: [64, 256], values: randomWeights(16384, rnd) }),
        makeTensor({ name: 'fc_b', dtype: 'float32', dims: [64], values: randomWeights(64, rnd) }),
        makeTensor({ name: 'head_w', dtype: 'float32', dims: [64, 32], values: randomWeights(2048, rnd) }),
      ],
    }),
  };
}

const PADDLE_WEIGHTS: { name: string; dtype: DTypeName; dims: number[] }[] = [
  { name: 'conv_w', dtype: 'float32', dims: [16, 8, 3, 3] },
  { name: 'fc_w', dtype: 'float32', dims: [64, 256] },
  { name: 'head_w', dtype: 'float32', dims: [64, 32] },
];

describe('an opset 9 model (Conv + Gemm + MatMul) compresses without BitShift or ScatterElements', () => {
  test('every layer compressed; ONNX Runtime outputs bit-identical to the pruned model; the decode graph yields the pruned weights; smaller', async () => {
    const { pruned, compressed, compress } = await checkOpsetModel(paddleLike(9, 1), PADDLE_WEIGHTS, 'opset 9');
    assert.deepEqual(compress.layers.map((l) => l.name), ['conv', 'fc', 'head']);
    const ops = opTypes(compressed);
    for (const op of ['BitShift', 'ScatterElements', 'GatherElements', 'ConstantOfShape', 'Where']) assert.ok(!ops.has(op), op);
    // Slice takes attributes at opset 9.
    const slices = (decodeModelFile(compressed).graph?.node ?? []).filter((n) => n.opType === 'Slice');
    assert.ok(slices.length === 3 && slices.every((n) => n.input!.length === 1 && n.attribute!.some((a) => a.name === 'starts')));
    assert.ok(statSync(compressed).size < statSync(pruned).size, `${statSync(compressed).size} >= ${statSync(pruned).size}`);
    // The compressed model inspects as the pruned one.
    const [before, after] = await Promise.all([inspectModel(pruned), inspectModel(compressed)]);
    assert.deepEqual(
      after.layers.map((l) => [l.name, l.pass, l.zeros, l.validGroups]),
      before.layers.map((l) => [l.name, l.pass, l.zeros, l.validGroups]),
    );
  });

  test('the same model at opset 7 and 10 (Slice by inputs from 10 on)', async () => {
    for (const opset of [7, 10]) {
      const { compressed } = await checkOpsetModel(paddleLike(opset, 2), PADDLE_WEIGHTS, `opset ${opset}`);
      const slices = (decodeModelFile(compressed).graph?.node ?? []).filter((n) => n.opType === 'Slice');
      assert.ok(slices.every((n) => n.input!.length === (opset >= 10 ? 3 : 1)), `opset ${opset}`);
    }
  });

  test('weights in Constant nodes (as paddle2onnx writes them): each decode graph produces its Constant\'s output', async () => {
    const spec = paddleLike(9, 4);
    const g = spec.graph;
    const weights = new Set(PADDLE_WEIGHTS.map((w) => w.name));
    const constants = g.initializer!.filter((t) => weights.has(t.name!)).map((t) => constantNode(t.name!, { ...t, name: `${t.name}_value` }, `const_${t.name}`));
    g.initializer = g.initializer!.filter((t) => !weights.has(t.name!));
    g.node = [...constants, ...g.node!];
    const { compressed } = await checkOpsetModel(spec, PADDLE_WEIGHTS.map((w) => ({ ...w, tensor: `${w.name}_value` })), 'opset 9 Constant nodes');
    const ops = (decodeModelFile(compressed).graph?.node ?? []).map((n) => n.opType);
    assert.ok(!ops.includes('Constant'), ops.join(', '));
  });

  test('external data: the streams go to the output data file and the model runs identical', async () => {
    const sink = new ExternalSink();
    const spec = paddleLike(9, 3);
    const init = spec.graph.initializer!;
    const rnd = seededRandom(3);
    // fc_w external: rebuilt with its values in weights.bin.
    const i = init.findIndex((t) => t.name === 'fc_w');
    init[i] = makeTensor({ name: 'fc_w', dtype: 'float32', dims: [64, 256], values: randomWeights(16384, rnd), storage: { external: 'weights.bin' } }, sink);
    const { compressed } = await checkOpsetModel(spec, PADDLE_WEIGHTS, 'opset 9 external', { n: 2, m: 4 }, sink);
    const values = decodeModelFile(compressed).graph!.initializer!.find((t) => t.name === 'fc_w.sl_values')!;
    assert.equal(values.externalData?.find((e) => e.key === 'location')?.value, 'compressed.data');
  });
});

/** One layer at opset 9 reading W of `type`: floats directly, integers through a Cast to float32 (no DequantizeLinear before opset 10). */
function oneLayer(op: 'MatMul' | 'Conv', type: DTypeName, dims: number[], values: number[], opset = 9): ModelSpec {
  const io: DTypeName = type === 'float16' ? 'float16' : 'float32';
  const nodes: onnx.INodeProto[] = [];
  let weight = 'W';
  if (type !== 'float32' && type !== 'float16') {
    nodes.push(node('Cast', ['W'], ['W_float'], { to: 1 }, { name: 'cast' }));
    weight = 'W_float';
  }
  const conv = op === 'Conv';
  nodes.push(node(op, ['X', weight], ['Y'], conv ? { kernel_shape: [dims[2], dims[3]] } : {}, { name: 'layer' }));
  return {
    opset,
    irVersion: 5,
    graph: graph({
      name: 'one-layer',
      nodes,
      inputs: [valueInfo('X', io, conv ? [1, dims[1], dims[2], dims[3]] : [1, dims[0]])],
      outputs: [valueInfo('Y', io, conv ? [1, dims[0], 1, 1] : [1, dims[1]])],
      initializers: [makeTensor({ name: 'W', dtype: type, dims, values })],
    }),
  };
}

function valuesOf(type: DTypeName, count: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  const ints = (lo: number, hi: number) => Array.from({ length: count }, () => lo + Math.floor(rnd() * (hi - lo + 1)));
  if (type === 'int8') return ints(-128, 127);
  if (type === 'uint8') return ints(0, 255);
  if (type === 'int16') return ints(-32768, 32767);
  if (type === 'int32') return ints(-2147483648, 2147483647);
  return Array.from(randomWeights(count, rnd));
}

describe('opset 9 round trips: every type, layout and pattern, the decode graph exact in ONNX Runtime', () => {
  const layouts: ['MatMul' | 'Conv', number[]][] = [
    ['MatMul', [16, 6]],
    ['Conv', [3, 16, 2, 2]],
  ];
  const cases: [DTypeName, Pattern][] = [
    ...(['float32', 'float16', 'int8', 'uint8', 'int16', 'int32'] as DTypeName[]).map((t): [DTypeName, Pattern] => [t, { n: 2, m: 4 }]),
    ...[{ n: 1, m: 4 }, { n: 2, m: 8 }, { n: 4, m: 16 }, { n: 1, m: 2 }].map((p): [DTypeName, Pattern] => ['float32', p]),
  ];
  let seed = 100;
  for (const [type, pattern] of cases) {
    for (const [op, dims] of layouts) {
      const caseSeed = seed++;
      test(`${type} ${op} [${dims.join(', ')}] at ${patternName(pattern)}`, async () => {
        const count = dims.reduce((a, b) => a * b, 1);
        await checkOpsetModel(oneLayer(op, type, dims, valuesOf(type, count, caseSeed)), [{ name: 'W', dtype: type, dims }], `${type} ${op} ${patternName(pattern)}`, pattern);
      });
    }
  }

  test('-0.0 in pruned places and in places padded slots point at (float32 and float16): the decode graph restores each', async () => {
    for (const type of ['float32', 'float16'] as DTypeName[]) {
      const count = 32 * 8;
      const values = Array.from(randomWeights(count, seededRandom(7)));
      // Every 16th element -0.0; in every 5th group of 4 only one non-zero, the rest -0.0 (padded slots land there).
      for (let i = 0; i < count; i++) {
        if (i % 16 === 3) values[i] = -0;
        if (i % 20 >= 16 && i % 20 !== 16) values[i] = -0;
      }
      const { compressed } = await checkOpsetModel(oneLayer('MatMul', type, [32, 8], values), [{ name: 'W', dtype: type, dims: [32, 8] }], `${type} -0.0`);
      assert.ok(tensorsByName(compressed).has('W.sl_negzero'), type);
    }
  });
});

describe('zero points at opset 10: per tensor (DequantizeLinear) and per channel (QLinearConv)', () => {
  test('int8 MatMul B [64, 16] behind DequantizeLinear-10, zero point -5', async () => {
    const values = valuesOf('int8', 1024, 11).map((v) => Math.max(-100, Math.min(100, v)));
    const spec: ModelSpec = {
      opset: 10,
      irVersion: 5,
      graph: graph({
        name: 'dq10',
        nodes: [node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], {}, { name: 'dq' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'layer' })],
        inputs: [valueInfo('X', 'float32', [1, 64])],
        outputs: [valueInfo('Y', 'float32', [1, 16])],
        initializers: [
          makeTensor({ name: 'Wq', dtype: 'int8', dims: [64, 16], values }),
          makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.0078125] }),
          makeTensor({ name: 'zp', dtype: 'int8', dims: [], values: [-5] }),
        ],
      }),
    };
    const { compressed } = await checkOpsetModel(spec, [{ name: 'Wq', dtype: 'int8', dims: [64, 16] }], 'dq10');
    assert.deepEqual(Array.from(new Int8Array(tensorsByName(compressed).get('Wq.sl_zeros')!)), [-5]);
  });

  test('QLinearConv-10 W int8 [32, 16, 3, 3] with zero points per output channel', async () => {
    const zps = Array.from({ length: 32 }, (_, i) => (i % 7) - 3);
    const spec: ModelSpec = {
      opset: 10,
      irVersion: 5,
      graph: graph({
        name: 'qlinearconv10',
        nodes: [node('QLinearConv', ['X', 'x_scale', 'x_zp', 'W', 'w_scale', 'w_zp', 'y_scale', 'y_zp'], ['Y'], { kernel_shape: [3, 3] }, { name: 'layer' })],
        inputs: [valueInfo('X', 'uint8', [1, 16, 5, 5])],
        outputs: [valueInfo('Y', 'uint8', [1, 32, 3, 3])],
        initializers: [
          makeTensor({ name: 'x_scale', dtype: 'float32', dims: [], values: [0.05] }),
          makeTensor({ name: 'x_zp', dtype: 'uint8', dims: [], values: [8] }),
          makeTensor({ name: 'W', dtype: 'int8', dims: [32, 16, 3, 3], values: valuesOf('int8', 4608, 12).map((v) => v % 41) }),
          makeTensor({ name: 'w_scale', dtype: 'float32', dims: [32], values: Array.from({ length: 32 }, (_, i) => 0.01 * (1 + (i % 4))) }),
          makeTensor({ name: 'w_zp', dtype: 'int8', dims: [32], values: zps }),
          makeTensor({ name: 'y_scale', dtype: 'float32', dims: [], values: [0.1] }),
          makeTensor({ name: 'y_zp', dtype: 'uint8', dims: [], values: [128] }),
        ],
      }),
    };
    const { compressed } = await checkOpsetModel(spec, [{ name: 'W', dtype: 'int8', dims: [32, 16, 3, 3] }], 'qlinearconv10');
    assert.deepEqual(Array.from(new Int8Array(tensorsByName(compressed).get('W.sl_zeros')!)), zps);
  });
});

describe('zero points per column at opset 10: MatMulInteger B [K, N] (the zeros run along the axis after K)', () => {
  test('MatMulInteger-10 B uint8 [128, 24], b_zero_point [24]', async () => {
    const zps = Array.from({ length: 24 }, (_, i) => 120 + (i % 9));
    const spec: ModelSpec = {
      opset: 10,
      irVersion: 5,
      graph: graph({
        name: 'matmulinteger10',
        nodes: [node('MatMulInteger', ['A', 'B', 'a_zp', 'b_zp'], ['Y'], {}, { name: 'layer' })],
        inputs: [valueInfo('A', 'uint8', [2, 128])],
        outputs: [valueInfo('Y', 'int32', [2, 24])],
        initializers: [
          makeTensor({ name: 'B', dtype: 'uint8', dims: [128, 24], values: valuesOf('uint8', 3072, 13).map((v) => 85 + (v % 86)) }),
          makeTensor({ name: 'a_zp', dtype: 'uint8', dims: [], values: [8] }),
          makeTensor({ name: 'b_zp', dtype: 'uint8', dims: [24], values: zps }),
        ],
      }),
    };
    const { compressed } = await checkOpsetModel(spec, [{ name: 'B', dtype: 'uint8', dims: [128, 24] }], 'matmulinteger10');
    assert.deepEqual(Array.from(tensorsByName(compressed).get('B.sl_zeros')!), zps);
  });
});

describe('below opset 7 the decode graph cannot be built: pruned in place, saying why', () => {
  test('an opset 6 MatMul', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, oneLayer('MatMul', 'float32', [16, 6], valuesOf('float32', 96, 5), 6));
    const compress = await convertModel(input, { mode: 'compress' });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action, l.reason]), [
      ['layer', 'prune', 'pruned in place, not compressed: the decode graph needs opset >= 7 (Equal, broadcasting Add and Mul); the model has 6'],
    ]);
    assert.equal(compress.summary.compressed, 0);
  });
});
