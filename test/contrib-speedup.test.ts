// The speedup projection of ONNX Runtime's contrib layers (issue 12): the shapes it infers for MatMulNBits, QGemm,
// Attention and the other com.microsoft products, each layer's exact MACs and stored weight bytes (int4 codes read
// as packed, two per byte), and the roofline on a profile of round numbers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type DTypeName, type ModelSpec, encodeModel, graph, makeTensor, node, valueInfo } from './support/builder';
import { inspectSpec } from './support/models';
import { ROUND } from './support/profiles';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { MemorySource } from '../src/engine/onnx/source';
import { ExternalFiles } from '../src/engine/onnx/tensorData';
import { type HardwareProfile, resolveProfile } from '../src/engine/speedup/profiles';
import type { LayerProjection, Projection } from '../src/engine/speedup/project';
import { type ShapeOptions, inferShapes } from '../src/engine/speedup/shapes';

const MS = 'com.microsoft';
const FLOAT = 1;
const UINT8 = 2;
const FLOAT16 = 10;
const count = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);

/** batch 1, seq 128: the symbolic dims every model here takes. */
const DIMS = { batch: 1, seq: 128 };

function tensor(name: string, dtype: DTypeName, dims: number[], fill: number | ((i: number) => number)): onnx.ITensorProto {
  const values = Array.from({ length: count(dims) }, (_, i) => (typeof fill === 'number' ? fill : fill(i)));
  return makeTensor({ name, dtype, dims, values });
}

function model(nodes: onnx.INodeProto[], initializers: onnx.ITensorProto[], inputs: onnx.IValueInfoProto[]): ModelSpec {
  const last = nodes[nodes.length - 1].output![0];
  return {
    opset: 17,
    extraOpsets: [{ domain: MS, version: 1 }],
    // The output is declared bare: only inference speaks for its shape.
    graph: graph({ name: 'contrib-speedup', nodes, inputs, outputs: [{ name: last }], initializers }),
  };
}

/**
 * A [batch, seq, K] (float16) times MatMulNBits 'q_proj' (4-bit, N x K, blocks of 32, default zero point 8): codes
 * 1 1 8 8 along K, so every group of 4 holds two zeros (2:4 in the code domain). Packed low nibble first: 0x11, 0x88.
 */
function nbits4(K: number, N: number, blockSize = 32): ModelSpec {
  const kBlocks = K / blockSize;
  const blob = blockSize / 2;
  return model(
    [node('MatMulNBits', ['A', 'B', 'scales'], ['Y'], { K, N, bits: 4, block_size: blockSize }, { name: 'q_proj', domain: MS })],
    [tensor('B', 'uint8', [N, kBlocks, blob], (i) => (i % 2 === 0 ? 0x11 : 0x88)), tensor('scales', 'float16', [N * kBlocks], 0.125)],
    [valueInfo('A', 'float16', ['batch', 'seq', K])],
  );
}

/** QGemm 'qgemm': A uint8 [seq, K] times B int8 stored [N, K] (transB), 8-bit output when `quantizedOutput`. */
function qgemm(K: number, N: number, quantizedOutput: boolean): ModelSpec {
  const inputs = ['A', 'a_scale', 'a_zp', 'B', 'b_scale', 'b_zp', '', ...(quantizedOutput ? ['y_scale', 'y_zp'] : [])];
  const initializers = [
    tensor('a_scale', 'float32', [], 0.5),
    tensor('a_zp', 'uint8', [], 128),
    tensor('B', 'int8', [N, K], (i) => (i % 4 < 2 ? 3 : 0)),
    tensor('b_scale', 'float32', [], 0.25),
    tensor('b_zp', 'int8', [], 0),
  ];
  if (quantizedOutput) initializers.push(tensor('y_scale', 'float32', [], 2), tensor('y_zp', 'uint8', [], 128));
  return model([node('QGemm', inputs, ['Y'], { transB: 1 }, { name: 'qgemm', domain: MS })], initializers, [valueInfo('A', 'uint8', ['seq', K])]);
}

/** The same product as QLinearMatMul (B stored [K, N]) with the same six scalars: the standard op QGemm should match. */
function qlinearMatmul(K: number, N: number): ModelSpec {
  return model(
    [node('QLinearMatMul', ['A', 'a_scale', 'a_zp', 'B', 'b_scale', 'b_zp', 'y_scale', 'y_zp'], ['Y'], {}, { name: 'qgemm' })],
    [
      tensor('a_scale', 'float32', [], 0.5),
      tensor('a_zp', 'uint8', [], 128),
      tensor('B', 'int8', [K, N], (i) => (Math.floor(i / N) % 4 < 2 ? 3 : 0)),
      tensor('b_scale', 'float32', [], 0.25),
      tensor('b_zp', 'int8', [], 0),
      tensor('y_scale', 'float32', [], 2),
      tensor('y_zp', 'uint8', [], 128),
    ],
    [valueInfo('A', 'uint8', ['seq', K])],
  );
}

/** Attention 'attn': X float16 [batch, seq, hidden], weights [hidden, 3 x hidden], bias [3 x hidden]. */
function attention(hidden: number, heads: number): ModelSpec {
  return model(
    [node('Attention', ['X', 'W', 'bias'], ['Y'], { num_heads: heads }, { name: 'attn', domain: MS })],
    [tensor('W', 'float16', [hidden, 3 * hidden], (i) => (Math.floor(i / (3 * hidden)) % 4 < 2 ? 1 : 0)), tensor('bias', 'float16', [3 * hidden], 0.5)],
    [valueInfo('X', 'float16', ['batch', 'seq', hidden])],
  );
}

/** The round-number profile of test/support/profiles.ts, resolved. */
function roundProfile(): HardwareProfile {
  const profile = resolveProfile(ROUND as unknown as HardwareProfile);
  if (typeof profile === 'string') throw new Error(profile);
  return profile;
}

/** name → [dims, elemType] of the values inference gives, with the model's symbolic dims set. */
function inferred(spec: ModelSpec, names: string[], options: ShapeOptions = { dims: DIMS }) {
  const src = new MemorySource('model.onnx', encodeModel(spec));
  const inference = inferShapes(readSkeleton(src), src, new ExternalFiles('model.onnx'), options);
  return { shapes: Object.fromEntries(names.map((n) => [n, inference.shapes.get(n) && [inference.shapes.get(n)!.dims, inference.shapes.get(n)!.elemType]])), inference };
}

async function project(spec: ModelSpec): Promise<Projection> {
  const report = await inspectSpec(spec, { speedup: { hardware: roundProfile(), dims: DIMS } });
  assert.deepEqual(report.unrecognized, []);
  assert.ok(report.projection, 'the report has a projection');
  return report.projection;
}

function onlyLayer(projection: Projection, name: string): LayerProjection {
  assert.deepEqual(projection.layers.map((l) => l.name), [name]);
  return projection.layers[0];
}

/** No value of unknown shape and no "no shape rule" anywhere in the projection's unknowns. */
function assertNothingUnknown(projection: Projection): void {
  assert.deepEqual(projection.unknowns.filter((u) => /no shape rule|unknown/.test(u)), []);
}

/** Seconds of math at `tera` tera-ops per second (a multiply-add is 2 ops), and to move `bytes` at 1000 GB/s. */
const math = (macs: number, tera: number) => (2 * macs) / (tera * 1e12);
const memory = (bytes: number) => bytes / 1e12;

function assertClose(actual: number | null | undefined, expected: number, what: string): void {
  assert.ok(typeof actual === 'number', `${what}: expected a number, got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.abs(expected), `${what}: ${actual} is not ${expected}`);
}

// ---------------------------------------------------------------------------

describe('MatMulNBits (4-bit): an N x K matrix of packed codes, K from the attribute', () => {
  const K = 4096;
  const N = 4096;

  test('A [1, 128, 4096] gives Y [1, 128, 4096] in A\'s type (float16)', () => {
    const { shapes, inference } = inferred(nbits4(K, N), ['Y']);
    assert.deepEqual(shapes, { Y: [[1, 128, N], FLOAT16] });
    assert.deepEqual(inference.unknown, []);
  });

  test('MACs 128 x 4096 x 4096, rows 128, weight bytes the packed codes (K x N / 2) plus the fp16 scales', async () => {
    const projection = await project(nbits4(K, N));
    const q = onlyLayer(projection, 'q_proj');
    assert.equal(q.op, 'MatMulNBits');
    assert.equal(q.macs, 128 * 4096 * 4096);
    assert.equal(q.rows, 128);
    // Codes: 4096 x 4096 / 2 bytes; scales: 4096 rows x 128 blocks, 2 bytes each.
    assert.equal(q.weightBytes, (K * N) / 2 + N * (K / 32) * 2);
    assert.equal(q.computeType, 'float16'); // dequantized and computed in A's type
    assert.deepEqual([q.activationBytesIn, q.activationBytesOut], [128 * K * 2, 128 * N * 2]);
    assertNothingUnknown(projection);
    assert.ok(projection.assumptions.some((a) => a.startsWith("MatMulNBits computes in A's type")));
  });

  test('a GEMV (seq 1) is memory-bound: it passes 2:4 in the code domain and reads 12/16 of its stored bytes', async () => {
    const K1 = 256;
    const N1 = 256;
    const report = await inspectSpec(nbits4(K1, N1), { speedup: { hardware: roundProfile(), dims: { batch: 1, seq: 1 } } });
    const q = onlyLayer(report.projection!, 'q_proj');
    assert.equal(q.passes, true);
    assert.equal(q.macs, K1 * N1);
    const weights = (K1 * N1) / 2 + N1 * (K1 / 32) * 2;
    const act = K1 * 2 + N1 * 2;
    assertClose(q.denseTime, Math.max(math(K1 * N1, 100), memory(weights + act)), 'dense time');
    // 2:4 of 4-bit codes: 2 codes + 2 two-bit indexes per 4, 12 of 16 bits.
    assertClose(q.sparseTime, Math.max(math(K1 * N1, 200), memory(weights * (12 / 16) + act)), 'sparse time');
    assert.equal(q.bound, 'memory');
  });
});

describe('QGemm: Gemm with B at input 3, counted as QLinearMatMul is', () => {
  const K = 1024;
  const N = 512;

  test('A [128, 1024] by B stored [512, 1024] with transB: Y [128, 512], uint8 with y_zero_point, float without', () => {
    assert.deepEqual(inferred(qgemm(K, N, true), ['Y']).shapes, { Y: [[128, N], UINT8] });
    assert.deepEqual(inferred(qgemm(K, N, false), ['Y']).shapes, { Y: [[128, N], FLOAT] });
  });

  test('MACs 128 x 512 x 1024 at the int8 peaks, the same time and bytes as the QLinearMatMul of the same product', async () => {
    const projection = await project(qgemm(K, N, true));
    const q = onlyLayer(projection, 'qgemm');
    assert.equal(q.macs, 128 * N * K);
    assert.equal(q.rows, 128);
    assert.equal(q.computeType, 'int8');
    // B int8, 1 byte each; the scalars: three float32 scales and three 8-bit zero points.
    assert.equal(q.weightBytes, K * N + 3 * 4 + 3);
    assertNothingUnknown(projection);
    const standard = onlyLayer(await project(qlinearMatmul(K, N)), 'qgemm');
    assert.deepEqual(
      [q.macs, q.rows, q.weightBytes, q.activationBytesIn, q.activationBytesOut, q.computeType, q.denseTime, q.sparseTime],
      [standard.macs, standard.rows, standard.weightBytes, standard.activationBytesIn, standard.activationBytesOut, standard.computeType, standard.denseTime, standard.sparseTime],
    );
  });
});

describe('Attention: the layer is its input projection [batch x seq, hidden] x [hidden, 3 x hidden]', () => {
  const hidden = 768;

  test('X [1, 128, 768] with weights [768, 2304] gives Y [1, 128, 768] in X\'s type', () => {
    assert.deepEqual(inferred(attention(hidden, 12), ['Y']).shapes, { Y: [[1, 128, hidden], FLOAT16] });
  });

  test('MACs 128 x 768 x 2304 (the scores and context products are not a layer), rows 128', async () => {
    const projection = await project(attention(hidden, 12));
    const a = onlyLayer(projection, 'attn');
    assert.equal(a.macs, 128 * hidden * 3 * hidden);
    assert.equal(a.rows, 128);
    assert.equal(a.computeType, 'float16');
    assert.equal(a.weightBytes, hidden * 3 * hidden * 2 + 3 * hidden * 2); // weights and bias, float16
    assert.equal(a.passes, true);
    assertNothingUnknown(projection);
  });
});

describe('the other contrib products: shapes and MACs', () => {
  test('DynamicQuantizeMatMul, MatMulIntegerToFloat and FusedMatMul (transB) each give [1, 128, 512] and 128 x 256 x 512 MACs', async () => {
    const K = 256;
    const N = 512;
    const weightKN = tensor('B', 'int8', [K, N], (i) => (Math.floor(i / N) % 4 < 2 ? 3 : 0));
    const cases: [string, ModelSpec, number][] = [
      [
        'DynamicQuantizeMatMul',
        model([node('DynamicQuantizeMatMul', ['A', 'B', 'b_scale'], ['Y'], {}, { name: 'layer', domain: MS })], [weightKN, tensor('b_scale', 'float32', [], 0.5)], [valueInfo('A', 'float32', ['batch', 'seq', K])]),
        FLOAT,
      ],
      [
        'MatMulIntegerToFloat',
        model(
          [node('MatMulIntegerToFloat', ['A', 'B', 'a_scale', 'b_scale'], ['Y'], {}, { name: 'layer', domain: MS })],
          [weightKN, tensor('a_scale', 'float16', [], 0.5), tensor('b_scale', 'float16', [], 0.5)],
          [valueInfo('A', 'int8', ['batch', 'seq', K])],
        ),
        FLOAT16,
      ],
      [
        'FusedMatMul',
        model(
          [node('FusedMatMul', ['A', 'B'], ['Y'], { transB: 1, alpha: { float: 0.5 } }, { name: 'layer', domain: MS })],
          [tensor('B', 'float16', [N, K], (i) => (i % 4 < 2 ? 1 : 0))],
          [valueInfo('A', 'float16', ['batch', 'seq', K])],
        ),
        FLOAT16,
      ],
    ];
    for (const [op, spec, elemType] of cases) {
      assert.deepEqual(inferred(spec, ['Y']).shapes, { Y: [[1, 128, N], elemType] }, op);
      const projection = await project(spec);
      const l = onlyLayer(projection, 'layer');
      assert.deepEqual([l.op, l.macs, l.rows], [op, 128 * K * N, 128], op);
      assertNothingUnknown(projection);
    }
  });

  test('the rules hold in com.microsoft only: a MatMulNBits of another domain has no shape rule', () => {
    const spec = nbits4(64, 32);
    spec.graph.node![0].domain = 'com.example';
    spec.extraOpsets = [{ domain: 'com.example', version: 1 }];
    const { inference } = inferred(spec, ['Y']);
    assert.deepEqual(inference.unknown.map((u) => [u.name, u.why]), [['Y', "no shape rule for op MatMulNBits (domain 'com.example')"]]);
  });
});

describe('GemmFloat8: a Gemm whose FP8 weight is read as stored, one byte per weight', () => {
  const K = 1024;
  const N = 512;
  /** A float8e4m3fn [seq, K] times B float8e4m3fn stored [N, K] (transB), 2:4 along K; Y of `dtype` (absent: float). */
  function gemmFloat8(dtype?: number): ModelSpec {
    const B = makeTensor({ name: 'B', dtype: 'float8e4m3fn', dims: [N, K], values: Array.from({ length: N * K }, (_, i) => (i % 4 < 2 ? 0x38 : 0)), bits: true });
    return model(
      [node('GemmFloat8', ['A', 'B', '', 'scaleA', 'scaleB'], ['Y'], { transB: 1, ...(dtype === undefined ? {} : { dtype }) }, { name: 'gemm8', domain: MS })],
      [B, tensor('scaleA', 'float32', [], 1), tensor('scaleB', 'float32', [], 0.5)],
      [valueInfo('A', 'float8e4m3fn', ['seq', K])],
    );
  }

  test('A [128, 1024] by B stored [512, 1024] with transB: Y [128, 512] of the dtype attribute, float without it', () => {
    assert.deepEqual(inferred(gemmFloat8(FLOAT16), ['Y']).shapes, { Y: [[128, N], FLOAT16] });
    assert.deepEqual(inferred(gemmFloat8(), ['Y']).shapes, { Y: [[128, N], FLOAT] });
  });

  test('MACs 128 x 512 x 1024 on the int8/FP8 peak; weight bytes N x K (one per FP8 weight) plus the two float scales', async () => {
    const projection = await project(gemmFloat8(FLOAT16));
    const g = onlyLayer(projection, 'gemm8');
    assert.equal(g.macs, 128 * N * K);
    assert.equal(g.rows, 128);
    assert.equal(g.computeType, 'int8');
    assert.equal(g.weightBytes, N * K + 2 * 4);
    assert.equal(g.activationBytesIn, 128 * K);
    assert.equal(g.activationBytesOut, 128 * N * 2);
    assert.equal(g.passes, true);
    assertNothingUnknown(projection);
  });
});

describe('QAttention: the input projection of uint8 X by int8 weights [hidden, 3 x hidden], float output from bias', () => {
  const hidden = 256;
  /** X uint8 [batch, seq, hidden]; weight int8 [hidden, 3 hidden] 2:4 along K (axis 0); bias float32; scalar scales and zero points. */
  function qattention(): ModelSpec {
    return model(
      [
        node(
          'QAttention',
          ['X', 'W', 'bias', 'x_scale', 'w_scale', '', 'x_zp', 'w_zp'],
          ['Y'],
          { num_heads: 4 },
          { name: 'qattn', domain: MS },
        ),
      ],
      [
        tensor('W', 'int8', [hidden, 3 * hidden], (i) => (Math.floor(i / (3 * hidden)) % 4 < 2 ? 5 : 0)),
        tensor('bias', 'float32', [3 * hidden], 0.5),
        tensor('x_scale', 'float32', [], 0.1),
        tensor('w_scale', 'float32', [], 0.2),
        tensor('x_zp', 'uint8', [], 128),
        tensor('w_zp', 'int8', [], 0),
      ],
      [valueInfo('X', 'uint8', ['batch', 'seq', hidden])],
    );
  }

  test('X [1, 128, 256] with weights [256, 768] gives Y [1, 128, 256] in the type of bias (float32)', () => {
    assert.deepEqual(inferred(qattention(), ['Y']).shapes, { Y: [[1, 128, hidden], FLOAT] });
  });

  test('MACs 128 x 256 x 768 at the int8 peak, rows 128; weight bytes the int8 weights, the float32 bias and the four scalars', async () => {
    const projection = await project(qattention());
    const q = onlyLayer(projection, 'qattn');
    assert.equal(q.macs, 128 * hidden * 3 * hidden);
    assert.equal(q.rows, 128);
    assert.equal(q.computeType, 'int8');
    assert.equal(q.weightBytes, hidden * 3 * hidden + 3 * hidden * 4 + 4 + 4 + 1 + 1);
    assert.equal(q.activationBytesIn, 128 * hidden);
    assert.equal(q.activationBytesOut, 128 * hidden * 4);
    assert.equal(q.passes, true);
    assertNothingUnknown(projection);
  });
});

describe('MatMulBlockQuantizedFp8Weight / Fp4Weight: A [..., K] by B^T, the weight read as stored', () => {
  const K = 1024;
  const N = 512;
  function blockQuantized(op: 'MatMulBlockQuantizedFp8Weight' | 'MatMulBlockQuantizedFp4Weight'): ModelSpec {
    const fp4 = op === 'MatMulBlockQuantizedFp4Weight';
    // 2:4 along K: FP8 codes 1.0 1.0 0 0; FP4 bytes 0x22 (two 1.0) then 0x00.
    const B = fp4
      ? tensor('B', 'uint8', [N, K / 2], (i) => (i % 2 === 0 ? 0x22 : 0))
      : makeTensor({ name: 'B', dtype: 'float8e4m3fn', dims: [N, K], values: Array.from({ length: N * K }, (_, i) => (i % 4 < 2 ? 0x38 : 0)), bits: true });
    const scales = fp4 ? [tensor('weight_scale', 'uint8', [N, K / 16], 0x38), tensor('weight_scale_2', 'float32', [], 1)] : [tensor('b_scale', 'float32', [N, K / 128], 0.5)];
    return model([node(op, ['A', 'B', ...scales.map((s) => s.name!)], ['Y'], {}, { name: 'mm', domain: MS })], [B, ...scales], [valueInfo('A', 'float16', ['batch', 'seq', K])]);
  }

  test('A [1, 128, 1024] gives Y [1, 128, 512] in A\'s type, for both', () => {
    assert.deepEqual(inferred(blockQuantized('MatMulBlockQuantizedFp8Weight'), ['Y']).shapes, { Y: [[1, 128, N], FLOAT16] });
    assert.deepEqual(inferred(blockQuantized('MatMulBlockQuantizedFp4Weight'), ['Y']).shapes, { Y: [[1, 128, N], FLOAT16] });
  });

  test('MACs 128 x 512 x 1024 in A\'s type (weight-only); weight bytes one per FP8 weight, half a byte per FP4 weight, plus scales', async () => {
    const fp8 = onlyLayer(await project(blockQuantized('MatMulBlockQuantizedFp8Weight')), 'mm');
    assert.deepEqual([fp8.macs, fp8.rows, fp8.computeType, fp8.passes], [128 * N * K, 128, 'float16', true]);
    assert.equal(fp8.weightBytes, N * K + N * (K / 128) * 4);
    const projection = await project(blockQuantized('MatMulBlockQuantizedFp4Weight'));
    const fp4 = onlyLayer(projection, 'mm');
    assert.deepEqual([fp4.macs, fp4.rows, fp4.computeType, fp4.passes], [128 * N * K, 128, 'float16', true]);
    assert.equal(fp4.weightBytes, (N * K) / 2 + N * (K / 16) + 4);
    assertNothingUnknown(projection);
  });
});
