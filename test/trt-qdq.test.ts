// TensorRT's own Q/DQ ops (domain 'trt', as NVIDIA Model Optimizer and Transformer Engine export them and TensorRT's
// ONNX parser imports them) in weight chains: TRT_FP8* (x, scale; no zero point), TRT_INT4* (x, scale, zero point;
// per axis or blockwise), TRT_MXFP8* (x, E8M0 scale, block_size); NVFP4 through the standard DequantizeLinear; a
// 'trt' op this version does not know is counted under "not read", never skipped in silence. Every weight is 2:4
// along its true K axis only, so a wrong axis or a zero point not applied fails the exact counts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import type { LayerReport } from '../src/engine/sparsity/inspect';
import { type ModelSpec, graph, makeTensor, node, valueInfo } from './support/builder';
import { inspectSpec } from './support/models';
import { assertTwoOfFour, count, tensor, twoOfFourAlong } from './support/patterns';

const TRT = 'trt';

function model(nodes: onnx.INodeProto[], initializers: onnx.ITensorProto[], opset = 17): ModelSpec {
  return {
    opset,
    extraOpsets: [{ domain: TRT, version: 1 }, { domain: 'com.example', version: 1 }],
    graph: graph({ name: 'trt-qdq', nodes, inputs: [valueInfo('X', 'float16', [1, 16])], outputs: [valueInfo('Y', 'float16', [1, 8])], initializers }),
  };
}

async function onlyLayer(spec: ModelSpec): Promise<LayerReport> {
  const report = await inspectSpec(spec);
  assert.equal(report.layers.length, 1, `layers: ${report.layers.map((l) => `${l.name} (${l.op})`).join(', ')}`);
  assert.deepEqual(report.unrecognized, []);
  return report.layers[0];
}

/**
 * Bit patterns of a float8/float4 weight 2:4 along `axis`: `one` where twoOfFourAlong is non-zero, +0 elsewhere,
 * and one extra non-zero in the first group of K when `violate` (so exactly one group breaks 2:4).
 */
function codesAlong(dims: number[], axis: number, one: number, violate = false): number[] {
  const codes = twoOfFourAlong(dims, axis).map((v) => (v === 0 ? 0 : one));
  if (violate) {
    const stride = count(dims.slice(axis + 1));
    codes[2 * stride] = one; // K index 2 of the first lane: that group now holds 3 non-zeros
  }
  return codes;
}

describe('TensorRT Q/DQ ops (domain trt) carry a weight to its layer', () => {
  test('float8e4m3fn weight -> TRT_FP8DequantizeLinear (x, scale) -> MatMul: K = axis 0, no zero point, exact counts', async () => {
    const dims = [16, 8];
    const l = await onlyLayer(
      model(
        [node('TRT_FP8DequantizeLinear', ['W8', 'scale'], ['W'], {}, { name: 'dq', domain: TRT }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        [makeTensor({ name: 'W8', dtype: 'float8e4m3fn', dims, values: codesAlong(dims, 0, 0x38), bits: true }), tensor('scale', 'float32', [], [0.5])],
      ),
    );
    assert.equal(l.weight, 'W8');
    assert.equal(l.dtype, 'float8e4m3fn');
    assert.deepEqual(l.chain, ['TRT_FP8DequantizeLinear']);
    assert.equal(l.zeroPoint, 'none');
    assertTwoOfFour(l, 0, 1);
    assert.equal(l.groups, 32);
  });

  test('float16 weight -> TRT_FP8QuantizeLinear -> TRT_FP8DequantizeLinear -> Gemm transB: K = axis 1, one group off', async () => {
    const dims = [8, 16];
    const l = await onlyLayer(
      model(
        [
          node('TRT_FP8QuantizeLinear', ['W16', 'scale'], ['Wq'], {}, { name: 'q', domain: TRT }),
          node('TRT_FP8DequantizeLinear', ['Wq', 'scale'], ['W'], {}, { name: 'dq', domain: TRT }),
          node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'fc' }),
        ],
        [makeTensor({ name: 'W16', dtype: 'float16', dims, values: codesAlong(dims, 1, 0x3c00, true), bits: true }), tensor('scale', 'float32', [], [0.5])],
      ),
    );
    assert.deepEqual(l.chain, ['TRT_FP8QuantizeLinear', 'TRT_FP8DequantizeLinear']);
    assert.equal(l.dtype, 'float16');
    assert.deepEqual([l.axis, l.outAxis], [1, 0]);
    assert.deepEqual([l.groups, l.validGroups, l.zeros], [32, 31, 63]);
    assert.equal(l.pass, false);
  });

  test('int4 weight -> TRT_INT4DequantizeLinear blockwise (axis 0, block_size 8): a zero is a code equal to its block zero point', async () => {
    const dims = [16, 8];
    // Zero points [2, 8] (K / block_size x N), as Model Optimizer's INT4 export writes them, with non-zero values.
    const zp = Array.from({ length: 16 }, (_, i) => (i % 5) - 2);
    const zeroAt = (i: number) => zp[Math.floor(Math.floor(i / 8) / 8) * 8 + (i % 8)];
    const l = await onlyLayer(
      model(
        [node('TRT_INT4DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0, block_size: 8 }, { name: 'dq', domain: TRT }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        [tensor('Wq', 'int4', dims, twoOfFourAlong(dims, 0, zeroAt)), tensor('scale', 'float32', [2, 8], new Array(16).fill(0.1)), tensor('zp', 'int4', [2, 8], zp)],
      ),
    );
    assert.equal(l.dtype, 'int4');
    assert.equal(l.zeroPoint, 'per-block');
    assert.deepEqual(l.chain, ['TRT_INT4DequantizeLinear']);
    assertTwoOfFour(l, 0, 1);
    // Zeros held by a non-zero zero point: those of the lanes whose block zero point is not 0.
    const held = twoOfFourAlong(dims, 0, zeroAt).filter((v, i) => v === zeroAt(i) && zeroAt(i) !== 0).length;
    assert.ok(held > 0 && held < l.zeros!);
    assert.equal(l.zeroPointZeros, held);
  });

  test('int4 weight -> TRT_INT4DequantizeLinear per axis (axis 1, one zero point per column) -> MatMul', async () => {
    const dims = [16, 8];
    const zp = [0, 1, -1, 3, 0, -4, 4, 2];
    const l = await onlyLayer(
      model(
        [node('TRT_INT4DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 1 }, { name: 'dq', domain: TRT }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        [tensor('Wq', 'int4', dims, twoOfFourAlong(dims, 0, (i) => zp[i % 8])), tensor('scale', 'float32', [8], new Array(8).fill(0.1)), tensor('zp', 'int4', [8], zp)],
      ),
    );
    assert.equal(l.zeroPoint, 'per-channel');
    assertTwoOfFour(l, 0, 1);
  });

  test('float8 weight -> TRT_MXFP8DequantizeLinear (axis -1, block_size 32, E8M0 scale) -> Gemm transB: no zero point', async () => {
    const dims = [8, 32];
    const l = await onlyLayer(
      model(
        [
          node('TRT_MXFP8DequantizeLinear', ['W8', 'scale'], ['W'], { axis: -1, block_size: 32, output_dtype: 10 }, { name: 'dq', domain: TRT }),
          node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'fc' }),
        ],
        [makeTensor({ name: 'W8', dtype: 'float8e4m3fn', dims, values: codesAlong(dims, 1, 0x38), bits: true }), tensor('scale', 'uint8', [8, 1], new Array(8).fill(127))],
      ),
    );
    assert.deepEqual(l.chain, ['TRT_MXFP8DequantizeLinear']);
    assert.equal(l.zeroPoint, 'none');
    assertTwoOfFour(l, 1, 0);
    assert.equal(l.groups, 64);
  });

  test('NVFP4 as Model Optimizer exports it: float4e2m1 -> DequantizeLinear (block_size 16) -> Gemm transB, exact counts', async () => {
    const dims = [8, 32];
    const l = await onlyLayer(
      model(
        [
          node('DequantizeLinear', ['W4', 'scale'], ['W'], { axis: -1, block_size: 16 }, { name: 'dq' }),
          node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'fc' }),
        ],
        [makeTensor({ name: 'W4', dtype: 'float4e2m1', dims, values: codesAlong(dims, 1, 0x2, true), bits: true }), tensor('scale', 'float32', [8, 2], new Array(16).fill(0.25))],
        23,
      ),
    );
    assert.equal(l.dtype, 'float4e2m1');
    assert.deepEqual([l.axis, l.outAxis], [1, 0]);
    assert.deepEqual([l.groups, l.validGroups, l.zeros, l.pass], [64, 63, 127, false]);
  });
});

describe('trt ops this version does not know, and trt op names outside the trt domain', () => {
  test('an unknown trt op between the weight and the MatMul is counted under "not read", with its domain', async () => {
    const report = await inspectSpec(
      model(
        [node('TRT_FooDequantize', ['W8', 'scale'], ['W'], {}, { name: 'foo', domain: TRT }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        [makeTensor({ name: 'W8', dtype: 'float8e4m3fn', dims: [16, 8], values: codesAlong([16, 8], 0, 0x38), bits: true }), tensor('scale', 'float32', [], [0.5])],
      ),
    );
    // The MatMul's B is computed at run time: a product of two run-time values is no layer.
    assert.deepEqual(report.layers, []);
    assert.deepEqual(report.unrecognized, [{ op: 'TRT_FooDequantize', domain: TRT, nodes: 1 }]);
  });

  test('TRT_FP8DequantizeLinear in the default domain is no chain op: counted as an unknown op of that domain', async () => {
    const report = await inspectSpec(
      model(
        [node('TRT_FP8DequantizeLinear', ['W8', 'scale'], ['W'], {}, { name: 'dq' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        [makeTensor({ name: 'W8', dtype: 'float8e4m3fn', dims: [16, 8], values: codesAlong([16, 8], 0, 0x38), bits: true }), tensor('scale', 'float32', [], [0.5])],
      ),
    );
    assert.deepEqual(report.layers, []);
    assert.deepEqual(report.unrecognized, [{ op: 'TRT_FP8DequantizeLinear', domain: '', nodes: 1 }]);
  });

  test('a trt DQ feeding an op this version does not know: the consumer is counted, not the DQ', async () => {
    const report = await inspectSpec(
      model(
        [node('TRT_FP8DequantizeLinear', ['W8', 'scale'], ['W'], {}, { name: 'dq', domain: TRT }), node('Foo', ['X', 'W'], ['Y'], {}, { name: 'foo', domain: 'com.example' })],
        [makeTensor({ name: 'W8', dtype: 'float8e4m3fn', dims: [16, 8], values: codesAlong([16, 8], 0, 0x38), bits: true }), tensor('scale', 'float32', [], [0.5])],
      ),
    );
    assert.deepEqual(report.layers, []);
    assert.deepEqual(report.unrecognized, [{ op: 'Foo', domain: 'com.example', nodes: 1 }]);
  });
});
