// The hold-out set of the speedup projection (issue 13): published measurements the model constants were NOT fitted
// to (they were fitted once on the A100 cases of scripts/calibration.ts), each rebuilt as an ONNX model of zero
// weights. Its errors are reported as they come out (README, "Calibration"): a check of the projection, not a fit.
import { join } from 'node:path';
import type { onnx } from 'onnx-proto';
import { graph, makeTensor, node, valueInfo, writeModel } from '../test/support/builder';
import { type CalibrationCase, ZeroWeights } from './calibration-support';

export interface HoldoutCase extends CalibrationCase {
  /** The published latencies the measured speedup is computed from (dense / sparse), milliseconds. */
  latencyMs: { dense: number; sparse: number };
  /** Short reference for the README's table (the full one is `source`). */
  ref: string;
  /** What this case assumes that the source does not say. */
  assumed: string[];
}

/** A convolutional graph builder: Conv (BatchNorm folded into its weight and bias, as torch.onnx exports in eval mode) + Relu. */
class ConvNet {
  readonly nodes: onnx.INodeProto[] = [];
  readonly smalls: onnx.ITensorProto[] = [];
  private t = 0;
  constructor(readonly weights: ZeroWeights) {}

  private out(hint: string): string {
    return `${hint}_${this.t++}`;
  }

  op(type: string, inputs: string[], attrs: Record<string, number | number[]> = {}, hint = type.toLowerCase()): string {
    const o = this.out(hint);
    this.nodes.push(node(type, inputs, [o], attrs, { name: o }));
    return o;
  }

  /** torchvision's BasicConv2d: Conv (no bias of its own; BatchNorm's shift becomes one) + BatchNorm + ReLU. */
  conv(x: string, name: string, cin: number, cout: number, kernel: [number, number], opts: { stride?: number; pad?: [number, number] } = {}): string {
    const w = this.weights.add(`${name}.weight`, 'float16', [cout, cin, ...kernel]);
    const b = `${name}.bias`;
    this.smalls.push(makeTensor({ name: b, dtype: 'float16', dims: [cout], values: new Array(cout).fill(0) }));
    const [ph, pw] = opts.pad ?? [0, 0];
    const s = opts.stride ?? 1;
    const y = this.op('Conv', [x, w, b], { kernel_shape: kernel, strides: [s, s], pads: [ph, pw, ph, pw] }, name);
    return this.op('Relu', [y]);
  }

  maxPool(x: string): string {
    return this.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2] });
  }

  /** avg_pool2d(kernel 3, stride 1, padding 1): count_include_pad is PyTorch's default. */
  avgPool(x: string): string {
    return this.op('AveragePool', [x], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], count_include_pad: 1 });
  }

  concat(xs: string[]): string {
    return this.op('Concat', xs, { axis: 1 });
  }
}

/**
 * torchvision's Inception3 (eval mode: no AuxLogits, transform_input off), input 299x299, as torch.onnx exports it
 * with BatchNorm folded into the convolutions. Weights float16: trtexec --fp16 builds the engine in half precision.
 */
function inceptionV3(dir: string): string {
  const net = new ConvNet(new ZeroWeights('inception-v3.data'));
  const c = net.conv.bind(net);
  const k1: [number, number] = [1, 1];
  const k3: [number, number] = [3, 3];
  const inceptionA = (x: string, p: string, cin: number, pool: number) =>
    net.concat([
      c(x, `${p}.branch1x1`, cin, 64, k1),
      c(c(x, `${p}.branch5x5_1`, cin, 48, k1), `${p}.branch5x5_2`, 48, 64, [5, 5], { pad: [2, 2] }),
      c(c(c(x, `${p}.branch3x3dbl_1`, cin, 64, k1), `${p}.branch3x3dbl_2`, 64, 96, k3, { pad: [1, 1] }), `${p}.branch3x3dbl_3`, 96, 96, k3, { pad: [1, 1] }),
      c(net.avgPool(x), `${p}.branch_pool`, cin, pool, k1),
    ]);
  const inceptionB = (x: string, p: string, cin: number) =>
    net.concat([
      c(x, `${p}.branch3x3`, cin, 384, k3, { stride: 2 }),
      c(c(c(x, `${p}.branch3x3dbl_1`, cin, 64, k1), `${p}.branch3x3dbl_2`, 64, 96, k3, { pad: [1, 1] }), `${p}.branch3x3dbl_3`, 96, 96, k3, { stride: 2 }),
      net.maxPool(x),
    ]);
  const inceptionC = (x: string, p: string, c7: number) => {
    const row = (y: string, n: string, cin: number, cout: number) => c(y, n, cin, cout, [1, 7], { pad: [0, 3] });
    const col = (y: string, n: string, cin: number, cout: number) => c(y, n, cin, cout, [7, 1], { pad: [3, 0] });
    return net.concat([
      c(x, `${p}.branch1x1`, 768, 192, k1),
      col(row(c(x, `${p}.branch7x7_1`, 768, c7, k1), `${p}.branch7x7_2`, c7, c7), `${p}.branch7x7_3`, c7, 192),
      row(col(row(col(c(x, `${p}.branch7x7dbl_1`, 768, c7, k1), `${p}.branch7x7dbl_2`, c7, c7), `${p}.branch7x7dbl_3`, c7, c7), `${p}.branch7x7dbl_4`, c7, c7), `${p}.branch7x7dbl_5`, c7, 192),
      c(net.avgPool(x), `${p}.branch_pool`, 768, 192, k1),
    ]);
  };
  const inceptionD = (x: string, p: string) => {
    const a = c(c(x, `${p}.branch3x3_1`, 768, 192, k1), `${p}.branch3x3_2`, 192, 320, k3, { stride: 2 });
    let b = c(x, `${p}.branch7x7x3_1`, 768, 192, k1);
    b = c(b, `${p}.branch7x7x3_2`, 192, 192, [1, 7], { pad: [0, 3] });
    b = c(b, `${p}.branch7x7x3_3`, 192, 192, [7, 1], { pad: [3, 0] });
    b = c(b, `${p}.branch7x7x3_4`, 192, 192, k3, { stride: 2 });
    return net.concat([a, b, net.maxPool(x)]);
  };
  const inceptionE = (x: string, p: string, cin: number) => {
    const split = (y: string, n: string) => net.concat([c(y, `${n}a`, 384, 384, [1, 3], { pad: [0, 1] }), c(y, `${n}b`, 384, 384, [3, 1], { pad: [1, 0] })]);
    return net.concat([
      c(x, `${p}.branch1x1`, cin, 320, k1),
      split(c(x, `${p}.branch3x3_1`, cin, 384, k1), `${p}.branch3x3_2`),
      split(c(c(x, `${p}.branch3x3dbl_1`, cin, 448, k1), `${p}.branch3x3dbl_2`, 448, 384, k3, { pad: [1, 1] }), `${p}.branch3x3dbl_3`),
      c(net.avgPool(x), `${p}.branch_pool`, cin, 192, k1),
    ]);
  };
  let x = c('image', 'Conv2d_1a_3x3', 3, 32, k3, { stride: 2 });
  x = c(x, 'Conv2d_2a_3x3', 32, 32, k3);
  x = c(x, 'Conv2d_2b_3x3', 32, 64, k3, { pad: [1, 1] });
  x = net.maxPool(x);
  x = c(x, 'Conv2d_3b_1x1', 64, 80, k1);
  x = c(x, 'Conv2d_4a_3x3', 80, 192, k3);
  x = net.maxPool(x);
  x = inceptionA(x, 'Mixed_5b', 192, 32);
  x = inceptionA(x, 'Mixed_5c', 256, 64);
  x = inceptionA(x, 'Mixed_5d', 288, 64);
  x = inceptionB(x, 'Mixed_6a', 288);
  x = inceptionC(x, 'Mixed_6b', 128);
  x = inceptionC(x, 'Mixed_6c', 160);
  x = inceptionC(x, 'Mixed_6d', 160);
  x = inceptionC(x, 'Mixed_6e', 192);
  x = inceptionD(x, 'Mixed_7a');
  x = inceptionE(x, 'Mixed_7b', 1280);
  x = inceptionE(x, 'Mixed_7c', 2048);
  x = net.op('Flatten', [net.op('GlobalAveragePool', [x])], { axis: 1 });
  net.smalls.push(makeTensor({ name: 'fc.bias', dtype: 'float16', dims: [1000], values: new Array(1000).fill(0) }));
  const logits = net.op('Gemm', [x, net.weights.add('fc.weight', 'float16', [1000, 2048]), 'fc.bias'], { transB: 1 }, 'fc');
  const path = join(dir, 'inception-v3.onnx');
  net.weights.write(dir);
  writeModel(path, {
    opset: 17,
    graph: graph({
      name: 'inception_v3',
      nodes: net.nodes,
      inputs: [valueInfo('image', 'float16', ['batch', 3, 299, 299])],
      outputs: [valueInfo(logits, 'float16', ['batch', 1000])],
      initializers: [...net.weights.tensors, ...net.smalls],
    }),
  });
  return path;
}

/** The activation shapes of onnxsim's sparsity check: [197, 768], [1, 197, 768], [2048, 768]. */
type MlpShape = '2d197' | '3d197' | '2d2048';
const MLP_INPUTS: Record<MlpShape, number[]> = { '2d197': [197, 768], '3d197': [1, 197, 768], '2d2048': [2048, 768] };

/** onnxsim's ViT-B-shaped MLP stack: 6 x (MatMul 768->3072, Relu, MatMul 3072->768), float16, no biases. */
function mlpStack(dir: string, shape: MlpShape): string {
  const w = new ZeroWeights(`mlp-${shape}.data`);
  const nodes: onnx.INodeProto[] = [];
  let x = 'x';
  for (let l = 0; l < 6; l++) {
    nodes.push(node('MatMul', [x, w.add(`fc1_${l}`, 'float16', [768, 3072])], [`h${l}`], {}, { name: `fc1_${l}` }));
    nodes.push(node('Relu', [`h${l}`], [`a${l}`], {}, { name: `relu_${l}` }));
    nodes.push(node('MatMul', [`a${l}`, w.add(`fc2_${l}`, 'float16', [3072, 768])], [`y${l}`], {}, { name: `fc2_${l}` }));
    x = `y${l}`;
  }
  const path = join(dir, `mlp-${shape}.onnx`);
  w.write(dir);
  writeModel(path, {
    opset: 17,
    graph: graph({ name: `mlp_${shape}`, nodes, inputs: [valueInfo('x', 'float16', MLP_INPUTS[shape])], outputs: [valueInfo(x, 'float16', MLP_INPUTS[shape])], initializers: w.tensors }),
  });
  return path;
}

const TRT_2310 = 'NVIDIA/TensorRT issue #2310, "Performance of structured sparsity for Inceptionv3 on A6000 GPU" (trtexec --fp16 --sparsity=enable, latency in ms)';
const INCEPTION_ASSUMED = [
  'torchvision Inception3 in eval mode (no AuxLogits, transform_input off), 299x299 input, BatchNorm folded into the convolutions',
  'every convolution and the classifier 2:4-pruned (ASP-style), except the first (3 input channels: K not divisible by 4)',
  'weights float16: trtexec --fp16 builds the engine in half precision; the TensorRT version is not stated (its --explicitBatch / --workspace flags are TensorRT 8.x)',
];
const ONNXSIM_1764 = 'onnxsim/onnxsim pull request #1764 and scripts/nvidia/README.md (Jetson Orin Nano 8 GB, JetPack 6, TensorRT 10.3.0, trtexec --fp16 --sparsity=enable, median GPU ms)';
const MLP_ASSUMED = [
  'no biases (the stack is described as 768->3072 ReLU 3072->768)',
  'power mode MAXN_SUPER (the same README\'s other latency tables state it; the sparsity section does not)',
];

const inception = (batch: number, dense: number, sparse: number): HoldoutCase => ({
  name: `InceptionV3 fp16, batch ${batch}`,
  hardware: 'a6000',
  latencyMs: { dense, sparse },
  measured: dense / sparse,
  ref: 'NVIDIA/TensorRT#2310',
  source: TRT_2310,
  assumed: INCEPTION_ASSUMED,
  batch,
  runtime: 'fused',
  build: (dir) => inceptionV3(dir),
});

const mlp = (shape: MlpShape, dense: number, sparse: number): HoldoutCase => ({
  name: `ViT-B MLP x6 fp16, input [${MLP_INPUTS[shape].join(', ')}]`,
  hardware: 'orin-nano-super',
  latencyMs: { dense, sparse },
  measured: dense / sparse,
  ref: 'onnxsim/onnxsim#1764',
  source: ONNXSIM_1764,
  assumed: shape === '2d2048' ? [...MLP_ASSUMED, 'the dense latency is published as "~12.2 ms"'] : MLP_ASSUMED,
  batch: 1,
  runtime: 'fused',
  build: shape === '2d197' ? (dir) => mlpStack(dir, '2d197') : shape === '3d197' ? (dir) => mlpStack(dir, '3d197') : (dir) => mlpStack(dir, '2d2048'),
});

export const HOLDOUT_CASES: HoldoutCase[] = [
  inception(32, 10.4, 9.97),
  inception(64, 19.83, 19.08),
  inception(128, 37.94, 36.69),
  inception(256, 74.73, 91.86),
  // Pruned MatMul (not converted to Gemm): the issue's own finding is that TensorRT 10.3 gives MatMul sparse tactics.
  mlp('2d197', 1.33, 1.061),
  mlp('3d197', 1.34, 1.059),
  mlp('2d2048', 12.2, 10.17),
];
