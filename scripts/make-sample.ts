// Generates the bundled sample models (float32, float16, int8 Q/DQ) from seeded random weights; no download.
// Usage: node dist/scripts/make-sample.js [OUTDIR=media]
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { onnx } from 'onnx-proto';
import {
  type DTypeName,
  graph,
  makeTensor,
  node,
  pruneTo,
  randomWeights,
  seededRandom,
  valueInfo,
  writeModel,
} from '../test/support/builder';

/** What each sample layer is meant to show: tests can compare the engine's verdicts with this. */
export interface SampleLayer {
  node: string;
  op: 'Conv' | 'Gemm' | 'MatMul';
  /** Weight shape as stored. */
  dims: number[];
  /** Reduction axis of the weight, where 2:4 pruning happens. */
  kAxis: number;
  expect: 'pass' | 'nearly' | 'fail' | 'ineligible';
  /** Groups deliberately left violating 2:4 (only conv2). */
  violations?: number;
  /** Length of the bias. */
  bias: number;
  /** Conv group count. */
  group?: number;
  /** int8 variant: per-output-channel scale and zero point 3 instead of per-tensor with zero point 0. */
  perChannel?: boolean;
}

export const SAMPLE_LAYERS: readonly SampleLayer[] = [
  { node: 'conv1', op: 'Conv', dims: [32, 16, 3, 3], kAxis: 1, expect: 'pass', bias: 32, perChannel: true },
  { node: 'conv2', op: 'Conv', dims: [32, 32, 3, 3], kAxis: 1, expect: 'nearly', violations: 5, bias: 32 },
  { node: 'dw', op: 'Conv', dims: [32, 1, 3, 3], kAxis: 1, expect: 'ineligible', bias: 32, group: 32 },
  { node: 'conv3', op: 'Conv', dims: [64, 32, 1, 1], kAxis: 1, expect: 'fail', bias: 64 },
  { node: 'fc1', op: 'Gemm', dims: [128, 64], kAxis: 1, expect: 'pass', bias: 128, perChannel: true },
  { node: 'fc2', op: 'MatMul', dims: [128, 96], kAxis: 0, expect: 'fail', bias: 96 },
  { node: 'fc3', op: 'MatMul', dims: [96, 30], kAxis: 0, expect: 'pass', bias: 30 },
  { node: 'head', op: 'Gemm', dims: [30, 10], kAxis: 0, expect: 'ineligible', bias: 10 },
];

const SEED = 0x5ba15e;
const INPUT_DIMS = [1, 16, 16, 16];
const OUTPUT_DIMS = [1, 10];
const PER_CHANNEL_ZERO_POINT = 3;

interface LayerWeights {
  layer: SampleLayer;
  weight: Float32Array;
  bias: Float32Array;
}

// ---------------------------------------------------------------------------
// Float32 weights, built once and shared by all three variants

function sampleWeights(): LayerWeights[] {
  const rnd = seededRandom(SEED);
  return SAMPLE_LAYERS.map((layer) => {
    const scale = 1 / Math.sqrt(fanIn(layer)); // keeps activations O(1) through the stack
    let weight = randomWeights(count(layer.dims), rnd, scale);
    if (layer.expect === 'pass' || layer.expect === 'nearly') weight = pruneTo(weight, layer.dims, layer.kAxis, 2, 4);
    if (layer.violations) breakGroups(weight, layer, scale);
    return { layer, weight, bias: randomWeights(layer.bias, rnd, 0.1) };
  });
}

function count(dims: readonly number[]): number {
  return dims.reduce((a, d) => a * d, 1);
}

/** Inputs summed per output: IC/g x kernel for Conv, K for Gemm/MatMul. */
function fanIn(layer: SampleLayer): number {
  return layer.op === 'Conv' ? count(layer.dims.slice(1)) : layer.dims[layer.kAxis];
}

/**
 * Makes `layer.violations` distinct 2:4 groups (along axis 1 of a 4-D conv weight) hold 3 non-zeros by
 * refilling one pruned element each, with a value large enough to survive fp16 and int8 rounding.
 */
function breakGroups(weight: Float32Array, layer: SampleLayer, scale: number): void {
  const [oc, ic, kh, kw] = layer.dims;
  const inner = kh * kw;
  for (let t = 0; t < (layer.violations ?? 0); t++) {
    // A different output channel per t, so the groups are distinct.
    const o = (3 + 7 * t) % oc;
    const g = t % (ic / 4);
    const pos = (2 * t) % inner;
    for (let j = 0; j < 4; j++) {
      const at = (o * ic + g * 4 + j) * inner + pos;
      if (weight[at] === 0) {
        weight[at] = (t % 2 === 0 ? 0.5 : -0.5) * scale;
        break;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Graph topology, shared: `weightInput` names what each layer reads as its weight

function networkNodes(weightInput: (layer: string) => string): onnx.INodeProto[] {
  const w = weightInput;
  const conv = (name: string, x: string, attrs: Record<string, number | number[]>) => [
    node('Conv', [x, w(name), `${name}.bias`], [`${name}_out`], attrs, { name }),
    node('Relu', [`${name}_out`], [`${name}_act`], {}, { name: `${name}_relu` }),
  ];
  const pad1 = { kernel_shape: [3, 3], pads: [1, 1, 1, 1] };
  return [
    ...conv('conv1', 'input', pad1),
    ...conv('conv2', 'conv1_act', pad1),
    ...conv('dw', 'conv2_act', { ...pad1, group: 32 }),
    ...conv('conv3', 'dw_act', { kernel_shape: [1, 1] }),
    node('GlobalAveragePool', ['conv3_act'], ['pooled'], {}, { name: 'pool' }),
    node('Flatten', ['pooled'], ['features'], { axis: 1 }, { name: 'flatten' }),
    node('Gemm', ['features', w('fc1'), 'fc1.bias'], ['fc1_out'], { transB: 1 }, { name: 'fc1' }),
    node('Relu', ['fc1_out'], ['fc1_act'], {}, { name: 'fc1_relu' }),
    node('MatMul', ['fc1_act', w('fc2')], ['fc2_mm'], {}, { name: 'fc2' }),
    node('Add', ['fc2_mm', 'fc2.bias'], ['fc2_out'], {}, { name: 'fc2_add' }),
    node('Relu', ['fc2_out'], ['fc2_act'], {}, { name: 'fc2_relu' }),
    // Attention-ish tail: one 96-wide token, a batched MatMul and a Softmax over its 30 scores.
    node('Reshape', ['fc2_act', 'tokens.shape'], ['tokens'], {}, { name: 'to_tokens' }),
    node('MatMul', ['tokens', w('fc3')], ['fc3_mm'], {}, { name: 'fc3' }),
    node('Add', ['fc3_mm', 'fc3.bias'], ['fc3_out'], {}, { name: 'fc3_add' }),
    node('Softmax', ['fc3_out'], ['attn'], { axis: -1 }, { name: 'attn_softmax' }),
    node('Reshape', ['attn', 'attn.shape'], ['attn_flat'], {}, { name: 'from_tokens' }),
    node('Gemm', ['attn_flat', w('head'), 'head.bias'], ['logits'], { transB: 0 }, { name: 'head' }),
  ];
}

function shapeInitializers(): onnx.ITensorProto[] {
  return [
    makeTensor({ name: 'tokens.shape', dtype: 'int64', dims: [3], values: [1, 1, 96] }),
    makeTensor({ name: 'attn.shape', dtype: 'int64', dims: [2], values: [1, 30] }),
  ];
}

function sampleGraph(name: string, io: DTypeName, nodes: onnx.INodeProto[], initializers: onnx.ITensorProto[]): onnx.IGraphProto {
  return graph({
    name,
    nodes,
    inputs: [valueInfo('input', io, INPUT_DIMS)],
    outputs: [valueInfo('logits', io, OUTPUT_DIMS)],
    initializers: [...initializers, ...shapeInitializers()],
  });
}

// ---------------------------------------------------------------------------
// The three variants

/** float32 or float16: the same values, converted by makeTensor (pruned zeros stay zeros). */
function floatGraph(weights: LayerWeights[], dtype: 'float32' | 'float16'): onnx.IGraphProto {
  const initializers = weights.flatMap(({ layer, weight, bias }) => [
    makeTensor({ name: `${layer.node}.weight`, dtype, dims: layer.dims, values: weight }),
    makeTensor({ name: `${layer.node}.bias`, dtype, dims: [layer.bias], values: bias }),
  ]);
  return sampleGraph(`sparsity-lens sample (${dtype})`, dtype, networkNodes((l) => `${l}.weight`), initializers);
}

/** int8 weights behind DequantizeLinear; biases and activations stay float32. */
function qdqGraph(weights: LayerWeights[]): onnx.IGraphProto {
  const initializers: onnx.ITensorProto[] = [];
  const dequant: onnx.INodeProto[] = [];
  for (const { layer, weight, bias } of weights) {
    const name = layer.node;
    const channels = layer.perChannel ? layer.dims[0] : 1;
    const zeroPoint = layer.perChannel ? PER_CHANNEL_ZERO_POINT : 0;
    const { q, scales } = quantize(weight, channels, zeroPoint);
    const paramDims = layer.perChannel ? [channels] : [];
    initializers.push(
      makeTensor({ name: `${name}.weight_q`, dtype: 'int8', dims: layer.dims, values: q }),
      makeTensor({ name: `${name}.weight_scale`, dtype: 'float32', dims: paramDims, values: scales }),
      makeTensor({ name: `${name}.weight_zero_point`, dtype: 'int8', dims: paramDims, values: new Array(channels).fill(zeroPoint) }),
      makeTensor({ name: `${name}.bias`, dtype: 'float32', dims: [layer.bias], values: bias }),
    );
    const inputs = [`${name}.weight_q`, `${name}.weight_scale`, `${name}.weight_zero_point`];
    const attrs: Record<string, number> = layer.perChannel ? { axis: 0 } : {};
    dequant.push(node('DequantizeLinear', inputs, [`${name}.weight_dq`], attrs, { name: `${name}_dequant` }));
  }
  const nodes = [...dequant, ...networkNodes((l) => `${l}.weight_dq`)];
  return sampleGraph('sparsity-lens sample (int8 Q/DQ)', 'float32', nodes, initializers);
}

/**
 * Symmetric int8 quantization per output channel (axis 0; channels = 1 for per-tensor):
 * q = round(w / scale) + zp, clamped; w == 0 maps exactly to zp so pruned weights stay "zero".
 */
function quantize(weight: Float32Array, channels: number, zeroPoint: number): { q: Int8Array; scales: number[] } {
  const per = weight.length / channels;
  const q = new Int8Array(weight.length);
  const scales: number[] = [];
  for (let c = 0; c < channels; c++) {
    const slice = weight.subarray(c * per, (c + 1) * per);
    const maxAbs = slice.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const scale = Math.fround(maxAbs > 0 ? maxAbs / (127 - Math.abs(zeroPoint)) : 1); // headroom for zp
    scales.push(scale);
    slice.forEach((w, i) => {
      q[c * per + i] = w === 0 ? zeroPoint : Math.min(127, Math.max(-128, roundHalfEven(w / scale) + zeroPoint));
    });
  }
  return { q, scales };
}

// ONNX's QuantizeLinear rounds half to even.
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---------------------------------------------------------------------------
// Entry points

/** Writes sample.onnx, sample-fp16.onnx and sample-int8-qdq.onnx into outDir; returns their paths. */
export function makeSampleModels(outDir: string): string[] {
  const weights = sampleWeights();
  const models: [string, onnx.IGraphProto][] = [
    ['sample.onnx', floatGraph(weights, 'float32')],
    ['sample-fp16.onnx', floatGraph(weights, 'float16')],
    ['sample-int8-qdq.onnx', qdqGraph(weights)],
  ];
  return models.map(([file, g]) => {
    const path = join(outDir, file);
    writeModel(path, { graph: g, opset: 17, producer: 'sparsity-lens make-sample', docString: 'Sparsity Lens sample model (seeded random weights)' });
    return path;
  });
}

// Bundled into a test, `require.main === module` holds there too: run only as the make-sample script itself.
if (require.main === module && /make-sample\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  const outDir = process.argv[2] ?? 'media';
  for (const path of makeSampleModels(outDir)) console.log(`${path}: ${statSync(path).size} bytes`);
}
