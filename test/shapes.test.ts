// Activation shapes for the speedup projection (issue 4): every value of small models built in code, from the
// graph inputs through each op's rule, with symbolic dims given by the user or listed as unresolved.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type DTypeName, type ModelSpec, constantNode, encodeModel, graph, makeTensor, node, valueInfo } from './support/builder';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { MemorySource } from '../src/engine/onnx/source';
import { ExternalFiles } from '../src/engine/onnx/tensorData';
import { type ShapeInference, type ShapeOptions, type TensorShape, gemmDims, inferShapes, nodeIo, shapeBytes, shapeElements } from '../src/engine/speedup/shapes';

const count = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);

function tensor(name: string, dtype: DTypeName, dims: number[], fill = 0): onnx.ITensorProto {
  return makeTensor({ name, dtype, dims, values: new Array<number>(count(dims)).fill(fill) });
}

const weight = (name: string, dims: number[]) => tensor(name, 'float32', dims, 0.5);
const int64s = (name: string, values: number[], dims = [values.length]) => makeTensor({ name, dtype: 'int64', dims, values });
const scalar = (name: string, dtype: DTypeName, value: number) => makeTensor({ name, dtype, dims: [], values: [value] });

/** A graph output declared without a type or shape, so that only inference speaks for it. */
const bareOutput = (name: string): onnx.IValueInfoProto => ({ name });

function model(spec: {
  inputs: onnx.IValueInfoProto[];
  nodes: onnx.INodeProto[];
  initializers?: onnx.ITensorProto[];
  outputs?: onnx.IValueInfoProto[];
  valueInfo?: onnx.IValueInfoProto[];
  opset?: number;
}): ModelSpec {
  const lastOutput = spec.nodes[spec.nodes.length - 1]?.output?.[0] ?? 'y';
  return {
    graph: graph({
      name: 'shapes',
      nodes: spec.nodes,
      inputs: spec.inputs,
      outputs: spec.outputs ?? [bareOutput(lastOutput)],
      initializers: spec.initializers,
      valueInfo: spec.valueInfo,
    }),
    opset: spec.opset ?? 17,
    extraOpsets: [{ domain: 'com.example', version: 1 }],
  };
}

function infer(spec: ModelSpec, options: ShapeOptions = {}) {
  const src = new MemorySource('model.onnx', encodeModel(spec));
  const skeleton = readSkeleton(src);
  return { skeleton, inference: inferShapes(skeleton, src, new ExternalFiles('model.onnx'), options) };
}

/** name → dims of the named values (undefined where not even the rank is known). */
function dimsOf(inference: ShapeInference, names: string[]): Record<string, (number | null)[] | undefined> {
  return Object.fromEntries(names.map((n) => [n, inference.shapes.get(n)?.dims]));
}

/** The GEMM view of the node that produces `output`. */
function gemmOf(spec: ModelSpec, output: string, options: ShapeOptions = {}) {
  const { skeleton, inference } = infer(spec, options);
  const io = nodeIo(skeleton, inference).find((n) => n.node.outputs.includes(output));
  assert.ok(io, `no node produces ${output}`);
  return gemmDims(io);
}

// ---------------------------------------------------------------------------

describe('a small CNN', () => {
  // X → Conv (pads, strides) → Relu → Conv (dilated) → Conv (4 groups, strided) → MaxPool (ceil) → GAP → Flatten → Gemm
  const cnn = model({
    inputs: [valueInfo('X', 'float32', [1, 3, 32, 32])],
    nodes: [
      node('Conv', ['X', 'W1', 'B1'], ['conv1'], { pads: [1, 1, 1, 1], strides: [2, 2] }, { name: 'conv1' }),
      node('Relu', ['conv1'], ['relu1']),
      node('Conv', ['relu1', 'W2'], ['conv2'], { dilations: [2, 2], pads: [2, 2, 2, 2] }, { name: 'conv2' }),
      node('Conv', ['conv2', 'W3'], ['conv3'], { group: 4, strides: [2, 2] }, { name: 'conv3' }),
      node('MaxPool', ['conv3'], ['pool'], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
      node('GlobalAveragePool', ['pool'], ['gap']),
      node('Flatten', ['gap'], ['flat']),
      node('Gemm', ['flat', 'Wfc', 'Bfc'], ['logits'], { transB: 1 }, { name: 'fc' }),
    ],
    initializers: [weight('W1', [16, 3, 3, 3]), weight('B1', [16]), weight('W2', [16, 16, 3, 3]), weight('W3', [32, 4, 3, 3]), weight('Wfc', [10, 32]), weight('Bfc', [10])],
    outputs: [valueInfo('logits', 'float32', [1, 10])],
  });

  test('every activation has its exact shape, and nothing is unknown', () => {
    const { inference } = infer(cnn);
    assert.deepEqual(dimsOf(inference, ['X', 'conv1', 'relu1', 'conv2', 'conv3', 'pool', 'gap', 'flat', 'logits', 'W3']), {
      X: [1, 3, 32, 32],
      conv1: [1, 16, 16, 16], // floor((32 + 2 - 3) / 2) + 1
      relu1: [1, 16, 16, 16],
      conv2: [1, 16, 16, 16], // a dilated 3×3 spans 5: 16 + 4 - 5 + 1
      conv3: [1, 32, 7, 7], // floor((16 - 3) / 2) + 1
      pool: [1, 32, 4, 4], // ceil((7 - 2) / 2) + 1; floor would give 3
      gap: [1, 32, 1, 1],
      flat: [1, 32],
      logits: [1, 10],
      W3: [32, 4, 3, 3],
    });
    assert.deepEqual(inference.unknown, []);
    assert.deepEqual(inference.notes, []);
    assert.equal(inference.shapes.get('logits')?.elemType, 1);
  });

  test('layers read as GEMMs: convolutions per group, Gemm with transB', () => {
    assert.deepEqual(gemmOf(cnn, 'conv1'), { batch: 1, m: 256, n: 16, k: 27 });
    assert.deepEqual(gemmOf(cnn, 'conv3'), { batch: 4, m: 49, n: 8, k: 36 }); // 16 channels in 4 groups of 4
    assert.deepEqual(gemmOf(cnn, 'logits'), { batch: 1, m: 1, n: 10, k: 32 });
    assert.equal(gemmOf(cnn, 'pool'), undefined);
  });

  test('nodeIo gives each node its input and output shapes, weights included', () => {
    const { skeleton, inference } = infer(cnn);
    const io = nodeIo(skeleton, inference);
    assert.deepEqual(io.map((n) => n.node.opType), ['Conv', 'Relu', 'Conv', 'Conv', 'MaxPool', 'GlobalAveragePool', 'Flatten', 'Gemm']);
    const conv1 = io[0];
    assert.deepEqual(conv1.inputs, [
      { dims: [1, 3, 32, 32], elemType: 1 },
      { dims: [16, 3, 3, 3], elemType: 1 },
      { dims: [16], elemType: 1 },
    ]);
    assert.deepEqual(conv1.outputs, [{ dims: [1, 16, 16, 16], elemType: 1 }]);
    assert.equal(shapeElements(conv1.outputs[0]), 4096);
    assert.equal(shapeBytes(conv1.outputs[0]), 16384);
  });
});

describe('pools', () => {
  test('ceil_mode rounds up but drops a last window that would start in the end padding; SAME and VALID ignore pads', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', [1, 2, 7, 7])],
        nodes: [
          node('MaxPool', ['X'], ['floor'], { kernel_shape: [2, 2], strides: [2, 2] }),
          node('MaxPool', ['X'], ['ceil'], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
          // span 7 + 2 - 2 = 7 gives ceil(3.5) + 1 = 5 windows, but the 5th would start at 8 ≥ 7 + 1: PyTorch and ONNX keep 4.
          node('MaxPool', ['X'], ['ceilPadded'], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }),
          node('AveragePool', ['X'], ['same'], { kernel_shape: [3, 3], strides: [3, 3], auto_pad: 'SAME_UPPER' }),
          node('AveragePool', ['X'], ['valid'], { kernel_shape: [3, 3], strides: [3, 3], auto_pad: 'VALID', pads: [0, 0, 0, 0] }),
          node('LpPool', ['X'], ['lp'], { kernel_shape: [3, 2] }),
          node('GlobalMaxPool', ['X'], ['gmp']),
        ],
        outputs: ['floor', 'ceil', 'ceilPadded', 'same', 'valid', 'lp', 'gmp'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['floor', 'ceil', 'ceilPadded', 'same', 'valid', 'lp', 'gmp']), {
      floor: [1, 2, 3, 3],
      ceil: [1, 2, 4, 4],
      ceilPadded: [1, 2, 4, 4],
      same: [1, 2, 3, 3], // ceil(7 / 3)
      valid: [1, 2, 2, 2], // floor((7 - 3) / 3) + 1
      lp: [1, 2, 5, 6],
      gmp: [1, 2, 1, 1],
    });
  });
});

/**
 * One pre-norm transformer block as torch.onnx exports it (opset 17): 4 heads of 16 over hidden 64, head shapes
 * built by Shape → Gather → Unsqueeze → Concat, attention as MatMul of two activations, GELU as x·½·(1 + erf(x/√2)).
 */
function transformerBlock(): ModelSpec {
  const hidden = 64;
  return model({
    inputs: [valueInfo('X', 'float32', ['batch', 'sequence', hidden])],
    nodes: [
      node('LayerNormalization', ['X', 'g1', 'b1'], ['ln1'], { axis: -1, epsilon: { float: 1e-5 } }),
      node('MatMul', ['ln1', 'Wqkv'], ['qkv'], undefined, { name: 'qkv_proj' }),
      node('Add', ['qkv', 'Bqkv'], ['qkvb']),
      node('Split', ['qkvb', 'qkv_sizes'], ['q', 'k', 'v'], { axis: 2 }),
      node('Shape', ['q'], ['q_shape']),
      constantNode('zero', int64s('zero', [0], [])),
      constantNode('one', int64s('one', [1], [])),
      node('Gather', ['q_shape', 'zero'], ['dim_b'], { axis: 0 }),
      node('Gather', ['q_shape', 'one'], ['dim_s'], { axis: 0 }),
      constantNode('axes0', int64s('axes0', [0])),
      node('Unsqueeze', ['dim_b', 'axes0'], ['b_1']),
      node('Unsqueeze', ['dim_s', 'axes0'], ['s_1']),
      constantNode('heads', int64s('heads', [4, 16])),
      node('Concat', ['b_1', 's_1', 'heads'], ['heads_shape'], { axis: 0 }),
      node('Reshape', ['q', 'heads_shape'], ['q4']),
      node('Reshape', ['k', 'heads_shape'], ['k4']),
      node('Reshape', ['v', 'heads_shape'], ['v4']),
      node('Transpose', ['q4'], ['qt'], { perm: [0, 2, 1, 3] }),
      node('Transpose', ['k4'], ['kt'], { perm: [0, 2, 3, 1] }),
      node('Transpose', ['v4'], ['vt'], { perm: [0, 2, 1, 3] }),
      node('MatMul', ['qt', 'kt'], ['scores'], undefined, { name: 'scores' }),
      node('Div', ['scores', 'sqrt_d'], ['scaled']),
      node('Softmax', ['scaled'], ['probs'], { axis: -1 }),
      node('MatMul', ['probs', 'vt'], ['context'], undefined, { name: 'context' }),
      node('Transpose', ['context'], ['context_t'], { perm: [0, 2, 1, 3] }),
      constantNode('hidden', int64s('hidden', [hidden])),
      node('Concat', ['b_1', 's_1', 'hidden'], ['merged_shape'], { axis: 0 }),
      node('Reshape', ['context_t', 'merged_shape'], ['merged']),
      node('MatMul', ['merged', 'Wo'], ['attn']),
      node('Add', ['attn', 'X'], ['res1']),
      node('LayerNormalization', ['res1', 'g2', 'b2'], ['ln2'], { axis: -1, epsilon: { float: 1e-5 } }),
      node('MatMul', ['ln2', 'Wup'], ['up']),
      node('Div', ['up', 'sqrt2'], ['erf_in']),
      node('Erf', ['erf_in'], ['erf']),
      node('Add', ['erf', 'one_f'], ['erf1']),
      node('Mul', ['up', 'erf1'], ['gelu_x']),
      node('Mul', ['gelu_x', 'half'], ['gelu']),
      node('MatMul', ['gelu', 'Wdown'], ['down']),
      node('Add', ['down', 'res1'], ['Y']),
    ],
    initializers: [
      weight('g1', [hidden]), weight('b1', [hidden]), weight('Wqkv', [hidden, 3 * hidden]), weight('Bqkv', [3 * hidden]),
      int64s('qkv_sizes', [hidden, hidden, hidden]), scalar('sqrt_d', 'float32', 4), weight('Wo', [hidden, hidden]),
      weight('g2', [hidden]), weight('b2', [hidden]), weight('Wup', [hidden, 4 * hidden]), scalar('sqrt2', 'float32', Math.SQRT2),
      scalar('one_f', 'float32', 1), scalar('half', 'float32', 0.5), weight('Wdown', [4 * hidden, hidden]),
    ],
    outputs: [valueInfo('Y', 'float32', ['batch', 'sequence', hidden])],
  });
}

describe('a transformer block as torch exports it', () => {
  const KEY_VALUES = ['ln1', 'qkv', 'q', 'q_shape', 'dim_b', 'b_1', 'heads_shape', 'q4', 'qt', 'kt', 'vt', 'scores', 'probs', 'context', 'context_t', 'merged', 'res1', 'up', 'gelu', 'Y'];

  test('batch and sequence from the options give every shape, through the Shape → Gather → Unsqueeze → Concat reshapes', () => {
    const { inference } = infer(transformerBlock(), { dims: { batch: 2, sequence: 8 } });
    assert.deepEqual(dimsOf(inference, KEY_VALUES), {
      ln1: [2, 8, 64],
      qkv: [2, 8, 192],
      q: [2, 8, 64],
      q_shape: [3],
      dim_b: [],
      b_1: [1],
      heads_shape: [4],
      q4: [2, 8, 4, 16],
      qt: [2, 4, 8, 16],
      kt: [2, 4, 16, 8],
      vt: [2, 4, 8, 16],
      scores: [2, 4, 8, 8],
      probs: [2, 4, 8, 8],
      context: [2, 4, 8, 16],
      context_t: [2, 8, 4, 16],
      merged: [2, 8, 64],
      res1: [2, 8, 64],
      up: [2, 8, 256],
      gelu: [2, 8, 256],
      Y: [2, 8, 64],
    });
    assert.deepEqual(inference.shapes.get('q_shape'), { dims: [3], elemType: 7 });
    assert.deepEqual(inference.symbols, { batch: 2, sequence: 8 });
    assert.deepEqual(inference.unresolvedSymbols, []);
    assert.deepEqual(inference.unknown, []);
    assert.deepEqual(inference.notes, []);
  });

  test('projections and attention read as batched GEMMs', () => {
    const options = { dims: { batch: 2, sequence: 8 } };
    assert.deepEqual(gemmOf(transformerBlock(), 'qkv', options), { batch: 2, m: 8, n: 192, k: 64 });
    assert.deepEqual(gemmOf(transformerBlock(), 'scores', options), { batch: 8, m: 8, n: 8, k: 16 });
    assert.deepEqual(gemmOf(transformerBlock(), 'context', options), { batch: 8, m: 8, n: 16, k: 8 });
  });

  test('--batch fills a symbolic first dim; a sequence nobody gives stays unknown, with why, all the way down', () => {
    const { inference } = infer(transformerBlock(), { batch: 3 });
    assert.deepEqual(inference.symbols, { batch: 3 });
    assert.deepEqual(inference.unresolvedSymbols, ['sequence']);
    assert.deepEqual(dimsOf(inference, ['q_shape', 'heads_shape', 'q4', 'kt', 'scores', 'merged', 'Y']), {
      q_shape: [3],
      heads_shape: [4],
      q4: [3, null, 4, 16],
      kt: [3, 4, 16, null],
      scores: [3, 4, null, null],
      merged: [3, null, 64],
      Y: [3, null, 64],
    });
    const why = (name: string) => inference.unknown.find((u) => u.name === name);
    assert.deepEqual(inference.unknown[0], { name: 'X', node: '', op: '', why: "symbolic dim 'sequence' has no value" });
    assert.deepEqual(why('ln1'), { name: 'ln1', node: 'LayerNormalization_0', op: 'LayerNormalization', why: "input 'X' has unknown dims" });
    assert.deepEqual(why('q4'), { name: 'q4', node: 'Reshape_14', op: 'Reshape', why: "input 'q' has unknown dims" });
    assert.equal(why('heads_shape'), undefined); // a shape tensor of 4 entries: its shape is known, only a value is not
    assert.equal(gemmOf(transformerBlock(), 'scores', { batch: 3 }), undefined);
  });

  test('with no values, both symbols are listed unresolved and nothing is guessed', () => {
    const { inference } = infer(transformerBlock());
    assert.deepEqual(inference.symbols, {});
    assert.deepEqual(inference.unresolvedSymbols, ['batch', 'sequence']);
    assert.deepEqual(inference.shapes.get('scores')?.dims, [null, 4, null, null]);
    assert.deepEqual(inference.unknown[0], { name: 'X', node: '', op: '', why: "symbolic dims 'batch', 'sequence' have no value" });
  });

  test('dims by name win over --batch; a name the graph does not use, or a bad value, is noted and ignored', () => {
    const { inference } = infer(transformerBlock(), { dims: { batch: 5, sequence: 8, seq: 16, heads: 0 }, batch: 3 });
    assert.deepEqual(inference.symbols, { batch: 5, sequence: 8 });
    assert.deepEqual(inference.shapes.get('scores')?.dims, [5, 4, 8, 8]);
    assert.deepEqual(inference.notes, [
      { name: 'heads', node: '', op: '', why: 'dims.heads = 0 is not a positive integer: ignored' },
      { name: 'seq', node: '', op: '', why: 'dims.seq names no symbolic dim of the graph' },
    ]);
  });
});

describe('older exports', () => {
  // IR 3 lists every initializer as a graph input too; some exporters leave the batch dim unnamed.
  const unnamedBatch: onnx.IValueInfoProto = { name: 'X', type: { tensorType: { elemType: 1, shape: { dim: [{}, { dimValue: 12 }] } } } };
  const old = model({
    inputs: [unnamedBatch, valueInfo('target', 'int64', [2])],
    nodes: [node('Reshape', ['X', 'target'], ['r']), node('Constant', [], ['c'], { value_ints: [3, -1] }), node('Reshape', ['X', 'c'], ['r2'])],
    initializers: [int64s('target', [-1, 3])],
    outputs: ['r', 'r2'].map(bareOutput),
  });

  test('an unnamed first dim takes --batch, recorded as input[0]; initializers listed as inputs stay constants', () => {
    const { inference } = infer(old, { batch: 2 });
    assert.deepEqual(dimsOf(inference, ['X', 'target', 'c', 'r', 'r2']), { X: [2, 12], target: [2], c: [2], r: [8, 3], r2: [3, 8] });
    assert.deepEqual(inference.symbols, { 'X[0]': 2 });
    assert.deepEqual(inference.unknown, []);
  });

  test('without --batch the unnamed dim stays unknown, and says so', () => {
    const { inference } = infer(old);
    assert.deepEqual(dimsOf(inference, ['X', 'r', 'r2']), { X: [null, 12], r: [null, 3], r2: [3, null] });
    assert.deepEqual(inference.unknown[0], { name: 'X', node: '', op: '', why: 'dim 0 has neither a value nor a name' });
    assert.deepEqual(inference.unresolvedSymbols, []);
  });
});

describe('graph value_info', () => {
  const chain = (valueInfos: onnx.IValueInfoProto[], outputs?: onnx.IValueInfoProto[]) =>
    model({
      inputs: [valueInfo('X', 'float32', [2, 8])],
      nodes: [
        node('Relu', ['X'], ['r1']),
        node('MyOp', ['r1'], ['c'], undefined, { name: 'custom', domain: 'com.example' }),
        node('Relu', ['c'], ['r2']),
        node('Add', ['r2', 'X'], ['y']),
      ],
      valueInfo: valueInfos,
      outputs,
    });

  test('an op without a rule leaves its outputs unknown, and everything downstream says which input it lacks', () => {
    const { inference } = infer(chain([]));
    assert.deepEqual(dimsOf(inference, ['r1', 'c', 'r2', 'y']), { r1: [2, 8], c: undefined, r2: undefined, y: undefined });
    assert.deepEqual(inference.unknown, [
      { name: 'c', node: 'custom', op: 'MyOp', why: "no shape rule for op MyOp (domain 'com.example')" },
      { name: 'r2', node: 'Relu_2', op: 'Relu', why: "input 'c' has unknown shape" },
      { name: 'y', node: 'Add_3', op: 'Add', why: "input 'r2' has unknown shape" },
    ]);
  });

  test("the graph's own value_info fills in what no rule knows", () => {
    const { inference } = infer(chain([valueInfo('c', 'float32', [2, 8])]));
    assert.deepEqual(dimsOf(inference, ['c', 'r2', 'y']), { c: [2, 8], r2: [2, 8], y: [2, 8] });
    assert.deepEqual(inference.unknown, []);
  });

  test("where value_info contradicts inference, the graph's is kept and the contradiction noted", () => {
    const { inference } = infer(chain([valueInfo('c', 'float32', [2, 8])], [valueInfo('y', 'float32', [2, 8, 1])]));
    assert.deepEqual(inference.shapes.get('y'), { dims: [2, 8, 1], elemType: 1 });
    assert.deepEqual(inference.notes, [{ name: 'y', node: 'Add_3', op: 'Add', why: "the graph declares [2, 8, 1], inference gives [2, 8]: the graph's is kept" }]);
  });

  test('symbolic dims of value_info take the values given for them', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', ['batch', 8])],
        nodes: [node('MyOp', ['X'], ['c'], undefined, { domain: 'com.example' }), node('Relu', ['c'], ['y'])],
        valueInfo: [valueInfo('c', 'float32', ['batch', 'width'])],
      }),
      { dims: { batch: 4, width: 6 } },
    );
    assert.deepEqual(dimsOf(inference, ['X', 'c', 'y']), { X: [4, 8], c: [4, 6], y: [4, 6] });
    assert.deepEqual(inference.symbols, { batch: 4, width: 6 });
  });
});

describe('ConvTranspose', () => {
  test('strides, pads, output_padding and groups; output_shape; SAME padding, short of size × stride when the kernel is narrower than the stride', () => {
    const { skeleton, inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', [1, 8, 5, 5])],
        nodes: [
          node('ConvTranspose', ['X', 'W'], ['up'], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1], group: 2 }),
          node('ConvTranspose', ['X', 'W'], ['fixed'], { strides: [2, 2], output_shape: [11, 11], group: 2 }),
          node('ConvTranspose', ['X', 'W3'], ['same'], { strides: [3, 3], auto_pad: 'SAME_UPPER' }),
          node('ConvTranspose', ['X', 'W'], ['doubled'], { strides: [2, 2], auto_pad: 'SAME_LOWER', group: 2 }),
        ],
        initializers: [weight('W', [8, 4, 3, 3]), weight('W3', [8, 3, 2, 2])],
        outputs: ['up', 'fixed', 'same', 'doubled'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['up', 'fixed', 'same', 'doubled']), {
      up: [1, 8, 10, 10], // 2·(5 − 1) + 1 + 3 − 2; 4 channels per group × 2 groups
      fixed: [1, 8, 11, 11],
      same: [1, 3, 14, 14], // SAME aims at 5 · 3, but a 2-wide kernel cannot fill a stride of 3: 3 · 4 + 2
      doubled: [1, 8, 10, 10], // 5 · 2
    });
    assert.deepEqual(gemmDims(nodeIo(skeleton, inference)[0]), { batch: 2, m: 25, n: 36, k: 4 });
  });
});

describe('shape manipulation', () => {
  test('Slice: negative starts and ends count from the end, out-of-range ones clamp, negative steps walk back', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', [4, 10, 6])],
        nodes: [
          node('Slice', ['X', 'starts', 'ends', 'axes', 'steps'], ['s1']),
          node('Slice', ['X', 'start_4', 'end_1', 'last_axis'], ['s2']),
          node('Slice', ['X', 'start_20', 'end_30', 'axis_1'], ['s3']),
        ],
        initializers: [
          int64s('starts', [2, -3, -1]),
          int64s('ends', [100, Number.MAX_SAFE_INTEGER, -1000]),
          int64s('axes', [0, 1, 2]),
          int64s('steps', [1, 1, -2]),
          int64s('start_4', [-4]),
          int64s('end_1', [-1]),
          int64s('last_axis', [-1]),
          int64s('start_20', [20]),
          int64s('end_30', [30]),
          int64s('axis_1', [1]),
        ],
        outputs: ['s1', 's2', 's3'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['s1', 's2', 's3']), {
      s1: [2, 3, 3], // rows 2..3; columns 7..9; depth 5, 3, 1
      s2: [4, 10, 3], // 2..4 of 6
      s3: [4, 0, 6], // both clamp to 10: empty
    });
  });

  test('Slice-1 reads starts, ends and axes from attributes', () => {
    const { inference } = infer(
      model({
        opset: 9,
        inputs: [valueInfo('X', 'float32', [4, 10])],
        nodes: [node('Slice', ['X'], ['y'], { starts: [1, -4], ends: [3, 1000], axes: [0, 1] })],
      }),
    );
    assert.deepEqual(inference.shapes.get('y')?.dims, [2, 4]);
  });

  test('Concat adds up the axis and checks the other dims', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('A', 'float32', [2, 3, 4]), valueInfo('B', 'float32', [2, 5, 4])],
        nodes: [
          node('Concat', ['A', 'B'], ['rows'], { axis: 1 }),
          node('Concat', ['A', 'A', 'A'], ['last'], { axis: -1 }),
          node('Concat', ['A', 'B'], ['bad'], { axis: 0 }),
        ],
        outputs: ['rows', 'last', 'bad'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['rows', 'last', 'bad']), { rows: [2, 8, 4], last: [2, 3, 12], bad: undefined });
    assert.deepEqual(inference.unknown, [{ name: 'bad', node: 'Concat_2', op: 'Concat', why: 'dim 1 of the inputs: 3 and 5 differ' }]);
  });

  test('Split: sizes as an input (opset 13), as an attribute (opset 11), equal parts, num_outputs (opset 18)', () => {
    const split = (opset: number, n: onnx.INodeProto, initializers: onnx.ITensorProto[] = []) =>
      infer(model({ opset, inputs: [valueInfo('X', 'float32', [2, 10])], nodes: [n], initializers, outputs: (n.output ?? []).map(bareOutput) })).inference;
    assert.deepEqual(dimsOf(split(13, node('Split', ['X', 'sizes'], ['a', 'b'], { axis: 1 }), [int64s('sizes', [3, 7])]), ['a', 'b']), { a: [2, 3], b: [2, 7] });
    assert.deepEqual(dimsOf(split(11, node('Split', ['X'], ['a', 'b'], { axis: 1, split: [4, 6] })), ['a', 'b']), { a: [2, 4], b: [2, 6] });
    assert.deepEqual(dimsOf(split(13, node('Split', ['X'], ['a', 'b'], { axis: -1 })), ['a', 'b']), { a: [2, 5], b: [2, 5] });
    assert.deepEqual(dimsOf(split(18, node('Split', ['X'], ['a', 'b', 'c'], { axis: 1, num_outputs: 3 })), ['a', 'b', 'c']), { a: [2, 4], b: [2, 4], c: [2, 2] });
    assert.deepEqual(split(13, node('Split', ['X'], ['a', 'b', 'c'], { axis: 1 })).unknown[0]?.why, 'dim 10 does not split into 3 parts');
  });

  test('Squeeze and Unsqueeze take axes as attributes before opset 13 and as inputs since', () => {
    const nodes = (asInputs: boolean) => [
      node('Squeeze', asInputs ? ['X', 'axes1'] : ['X'], ['sq'], asInputs ? undefined : { axes: [1] }),
      node('Unsqueeze', asInputs ? ['sq', 'axes0_last'] : ['sq'], ['us'], asInputs ? undefined : { axes: [0, -1] }),
      node('Squeeze', ['us'], ['all']),
    ];
    for (const [opset, asInputs] of [[11, false], [13, true]] as const) {
      const { inference } = infer(
        model({
          opset,
          inputs: [valueInfo('X', 'float32', [3, 1, 4])],
          nodes: nodes(asInputs),
          initializers: asInputs ? [int64s('axes1', [1]), int64s('axes0_last', [0, -1])] : [],
        }),
      );
      assert.deepEqual(dimsOf(inference, ['sq', 'us', 'all']), { sq: [3, 4], us: [1, 3, 4, 1], all: [3, 4] }, `opset ${opset}`);
    }
  });

  test('Reshape copies 0s and infers -1; Flatten, Transpose, Expand, Tile, Pad, Gather', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', [2, 3, 4]), valueInfo('ids', 'int64', [2, 5]), valueInfo('col', 'float32', [3, 1])],
        nodes: [
          node('Reshape', ['X', 'keep_first'], ['r']),
          node('Flatten', ['X'], ['f'], { axis: -1 }),
          node('Transpose', ['X'], ['t']),
          node('Expand', ['col', 'to_234'], ['e']),
          node('Tile', ['X', 'reps'], ['tiled']),
          node('Pad', ['X', 'pads'], ['padded']),
          node('Gather', ['table', 'ids'], ['embedded']),
          node('Gather', ['X', 'pick'], ['picked'], { axis: 1 }),
        ],
        initializers: [
          int64s('keep_first', [0, -1]),
          int64s('to_234', [2, 3, 4]),
          int64s('reps', [1, 2, 3]),
          int64s('pads', [0, 1, 2, 0, 1, 2]),
          weight('table', [100, 16]),
          int64s('pick', [2], []),
        ],
        outputs: ['r', 'f', 't', 'e', 'tiled', 'padded', 'embedded', 'picked'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['r', 'f', 't', 'e', 'tiled', 'padded', 'embedded', 'picked']), {
      r: [2, 12],
      f: [6, 4],
      t: [4, 3, 2],
      e: [2, 3, 4],
      tiled: [2, 6, 12],
      padded: [2, 5, 8],
      embedded: [2, 5, 16],
      picked: [2, 4],
    });
  });

  test('shape values travel through Shape, Slice, Concat, Cast, ConstantOfShape and Range', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', [2, 3, 4])],
        nodes: [
          node('Shape', ['X'], ['shape']),
          node('Slice', ['shape', 'from1', 'to_end'], ['tail']), // [3, 4]
          node('Concat', ['minus1', 'tail'], ['target'], { axis: 0 }), // [-1, 3, 4]
          node('Cast', ['target'], ['target32'], { to: 6 }),
          node('Cast', ['target32'], ['target64'], { to: 7 }),
          node('Reshape', ['X', 'target64'], ['same']),
          node('ConstantOfShape', ['tail'], ['zeros']),
          node('Gather', ['shape', 'last'], ['width']),
          node('Range', ['start', 'width', 'step'], ['positions']),
          node('Size', ['X'], ['n']),
        ],
        initializers: [int64s('from1', [1]), int64s('to_end', [Number.MAX_SAFE_INTEGER]), int64s('minus1', [-1]), int64s('last', [-1], []), int64s('start', [0], []), int64s('step', [1], [])],
        outputs: ['same', 'zeros', 'positions', 'n'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['tail', 'target', 'same', 'zeros', 'width', 'positions', 'n']), {
      tail: [2],
      target: [3],
      same: [2, 3, 4],
      zeros: [3, 4],
      width: [],
      positions: [4],
      n: [],
    });
    assert.deepEqual(inference.shapes.get('target32'), { dims: [3], elemType: 6 });
    assert.deepEqual(inference.shapes.get('zeros'), { dims: [3, 4], elemType: 1 });
  });

  test('Resize by scales and by sizes, Upsample, ReduceMean with axes as attribute and as input', () => {
    const { inference } = infer(
      model({
        opset: 18,
        inputs: [valueInfo('X', 'float32', [1, 3, 10, 10])],
        nodes: [
          node('Resize', ['X', '', 'scales'], ['scaled'], { mode: 'nearest' }),
          node('Resize', ['X', '', '', 'sizes'], ['sized']),
          node('Resize', ['X', '', '', 'hw'], ['aspect'], { axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' }),
          node('ReduceMean', ['X', 'hw_axes'], ['mean'], { keepdims: 0 }),
          node('ReduceSum', ['X'], ['total'], { keepdims: 1 }),
        ],
        initializers: [
          makeTensor({ name: 'scales', dtype: 'float32', dims: [4], values: [1, 1, 2, 1.5] }),
          int64s('sizes', [1, 3, 7, 9]),
          int64s('hw', [5, 8]),
          int64s('hw_axes', [2, -1]),
        ],
        outputs: ['scaled', 'sized', 'aspect', 'mean', 'total'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['scaled', 'sized', 'aspect', 'mean', 'total']), {
      scaled: [1, 3, 20, 15],
      sized: [1, 3, 7, 9],
      aspect: [1, 3, 5, 5], // one scale for both: min(5/10, 8/10)
      mean: [1, 3],
      total: [1, 1, 1, 1],
    });
    const upsample = infer(
      model({
        opset: 9,
        inputs: [valueInfo('X', 'float32', [1, 3, 10, 10])],
        nodes: [node('Upsample', ['X', 'scales'], ['up']), node('ReduceMax', ['up'], ['m'], { axes: [1] })],
        initializers: [makeTensor({ name: 'scales', dtype: 'float32', dims: [4], values: [1, 1, 2, 2] })],
      }),
    ).inference;
    assert.deepEqual(dimsOf(upsample, ['up', 'm']), { up: [1, 3, 20, 20], m: [1, 1, 20, 20] });
  });
});

describe('products, quantization and types', () => {
  test('MatMul broadcasts batch dims and drops the unit dim of a 1-D operand', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('A', 'float32', [5, 1, 3, 4]), valueInfo('B', 'float32', [6, 4, 2]), valueInfo('v', 'float32', [4])],
        nodes: [node('MatMul', ['A', 'B'], ['ab']), node('MatMul', ['A', 'v'], ['av']), node('MatMul', ['v', 'B'], ['vb']), node('MatMul', ['B', 'A'], ['bad'])],
        outputs: ['ab', 'av', 'vb', 'bad'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['ab', 'av', 'vb', 'bad']), { ab: [5, 6, 3, 2], av: [5, 1, 3], vb: [6, 2], bad: undefined });
    assert.deepEqual(inference.unknown, [{ name: 'bad', node: 'MatMul_3', op: 'MatMul', why: 'inner dims of the product: 2 and 3 differ' }]);
  });

  test('Einsum: batched products, implicit output, ellipsis', () => {
    const { inference } = infer(
      model({
        inputs: [
          valueInfo('A', 'float32', [2, 3, 4]),
          valueInfo('B', 'float32', [2, 4, 5]),
          valueInfo('Q', 'float32', [2, 4, 8, 16]),
          valueInfo('K', 'float32', [2, 4, 10, 16]),
          valueInfo('M', 'float32', [4, 5]),
          valueInfo('N', 'float32', [16, 5]),
        ],
        nodes: [
          node('Einsum', ['A', 'B'], ['bmm'], { equation: 'bij,bjk->bik' }),
          node('Einsum', ['Q', 'K'], ['attn'], { equation: 'bhqd, bhkd -> bhqk' }),
          node('Einsum', ['A', 'M'], ['implicit'], { equation: 'bij,jk' }),
          node('Einsum', ['Q', 'N'], ['rest'], { equation: '...ij,jk->...ik' }),
          node('Einsum', ['Q', 'M'], ['bad'], { equation: '...ij,jk->...ik' }),
        ],
        outputs: ['bmm', 'attn', 'implicit', 'rest', 'bad'].map(bareOutput),
      }),
    );
    assert.deepEqual(dimsOf(inference, ['bmm', 'attn', 'implicit', 'rest']), {
      bmm: [2, 3, 5],
      attn: [2, 4, 8, 10],
      implicit: [2, 3, 5], // letters seen once, sorted: b, i, k
      rest: [2, 4, 8, 5],
    });
    assert.deepEqual(inference.unknown, [{ name: 'bad', node: 'Einsum_4', op: 'Einsum', why: "dims of 'j': 16 and 4 differ" }]);
  });

  test('quantized layers take the types of their zero points; integer products are int32', () => {
    const { skeleton, inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', [1, 3, 8, 8]), valueInfo('a', 'uint8', [2, 3])],
        nodes: [
          node('QuantizeLinear', ['X', 's', 'zp_u8'], ['xq']),
          node('QLinearConv', ['xq', 's', 'zp_u8', 'Wq', 's', 'zp_i8', 's', 'zp_u8'], ['yq'], { pads: [1, 1, 1, 1] }),
          node('DequantizeLinear', ['yq', 's', 'zp_u8'], ['y']),
          node('ConvInteger', ['xq', 'Wq'], ['acc']),
          node('MatMulInteger', ['a', 'Bq'], ['mm']),
          node('DynamicQuantizeLinear', ['X'], ['dq', 'dq_scale', 'dq_zp']),
          node('Cast', ['acc'], ['acc_f'], { to: 1 }),
        ],
        initializers: [
          scalar('s', 'float32', 0.1),
          scalar('zp_u8', 'uint8', 128),
          scalar('zp_i8', 'int8', 0),
          tensor('Wq', 'int8', [4, 3, 3, 3], 1),
          tensor('Bq', 'uint8', [3, 5], 1),
        ],
        outputs: ['y', 'acc_f', 'mm', 'dq', 'dq_scale', 'dq_zp'].map(bareOutput),
      }),
    );
    const shapes = Object.fromEntries(['xq', 'yq', 'y', 'acc', 'acc_f', 'mm', 'dq', 'dq_scale'].map((n) => [n, inference.shapes.get(n)]));
    assert.deepEqual(shapes, {
      xq: { dims: [1, 3, 8, 8], elemType: 2 },
      yq: { dims: [1, 4, 8, 8], elemType: 2 },
      y: { dims: [1, 4, 8, 8], elemType: 1 },
      acc: { dims: [1, 4, 6, 6], elemType: 6 },
      acc_f: { dims: [1, 4, 6, 6], elemType: 1 },
      mm: { dims: [2, 5], elemType: 6 },
      dq: { dims: [1, 3, 8, 8], elemType: 2 },
      dq_scale: { dims: [], elemType: 1 },
    } satisfies Record<string, TensorShape>);
    const io = nodeIo(skeleton, inference);
    assert.deepEqual(gemmDims(io[1]), { batch: 1, m: 64, n: 4, k: 27 }); // QLinearConv's weight is input 3
    assert.equal(shapeBytes(inference.shapes.get('xq')), 192);
  });

  test('elementwise ops keep their input shape and type; Cast and comparisons change the type', () => {
    const unary = ['Relu', 'Sigmoid', 'Tanh', 'Erf', 'Gelu', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Clip', 'Identity', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Mish', 'Softmax', 'LogSoftmax'];
    const { inference } = infer(
      model({
        opset: 20, // Gelu
        inputs: [valueInfo('X', 'float32', [2, 3, 5])],
        nodes: [...unary.map((op) => node(op, ['X'], [op])), node('Cast', ['X'], ['half'], { to: 10 }), node('IsNaN', ['X'], ['nan'])],
        outputs: [...unary, 'half', 'nan'].map(bareOutput),
      }),
    );
    for (const op of unary) assert.deepEqual(inference.shapes.get(op), { dims: [2, 3, 5], elemType: 1 }, op);
    assert.deepEqual(inference.shapes.get('half'), { dims: [2, 3, 5], elemType: 10 });
    assert.deepEqual(inference.shapes.get('nan'), { dims: [2, 3, 5], elemType: 9 });
    assert.deepEqual(inference.unknown, []);
  });

  test('Where, comparisons and normalization statistics', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', [2, 1, 6]), valueInfo('Y', 'float32', [5, 1])],
        nodes: [
          node('Greater', ['X', 'Y'], ['mask']),
          node('Where', ['mask', 'X', 'zero'], ['w']),
          node('LayerNormalization', ['w', 'g', 'b'], ['ln', 'mean', 'inv_std'], { axis: 1 }),
          node('BatchNormalization', ['X', 'c', 'c', 'c', 'c'], ['bn']),
          node('Dropout', ['w'], ['d', 'd_mask']),
        ],
        initializers: [scalar('zero', 'float32', 0), weight('g', [5, 6]), weight('b', [5, 6]), weight('c', [1])],
        outputs: ['ln', 'mean', 'inv_std', 'bn', 'd', 'd_mask'].map(bareOutput),
      }),
    );
    const shapes = Object.fromEntries(['mask', 'w', 'ln', 'mean', 'bn', 'd_mask'].map((n) => [n, inference.shapes.get(n)]));
    assert.deepEqual(shapes, {
      mask: { dims: [2, 5, 6], elemType: 9 },
      w: { dims: [2, 5, 6], elemType: 1 },
      ln: { dims: [2, 5, 6], elemType: 1 },
      mean: { dims: [2, 1, 1], elemType: 1 },
      bn: { dims: [2, 1, 6], elemType: 1 },
      d_mask: { dims: [2, 5, 6], elemType: 9 },
    } satisfies Record<string, TensorShape>);
  });
});

describe('broken models give unknown entries, never exceptions', () => {
  test('bad attributes and impossible shapes name what is wrong', () => {
    const { inference } = infer(
      model({
        inputs: [valueInfo('X', 'float32', [2, 8]), valueInfo('I', 'float32', [1, 4, 6, 6])],
        nodes: [
          node('Transpose', ['X'], ['t'], { perm: [0, 0] }),
          node('Reshape', ['X', 'three_by_five'], ['r']),
          node('Gather', ['X', 'idx'], ['g'], { axis: 5 }),
          node('Conv', ['I', 'W'], ['c']),
          node('MaxPool', ['I'], ['p']),
          node('Reshape', ['X', 'X'], ['dyn']),
          node('Conv', ['I', 'Wbig'], ['tooBig']),
        ],
        initializers: [int64s('three_by_five', [3, 5]), int64s('idx', [0], []), weight('W', [8, 3, 3, 3]), weight('Wbig', [8, 4, 9, 9])],
        outputs: ['t', 'r', 'g', 'c', 'p', 'dyn', 'tooBig'].map(bareOutput),
      }),
    );
    assert.deepEqual(
      inference.unknown.map((u) => [u.name, u.why]),
      [
        ['t', 'perm [0,0] is not a permutation of 2 axes'],
        ['r', '16 elements do not reshape to [3,5]'],
        ['g', 'axis 5 is out of range for rank 2'],
        ['c', 'input channels and weight channels × group: 4 and 3 differ'],
        ['p', 'attribute kernel_shape is missing'],
        ['dyn', "the target shape 'X' is neither a constant nor computed from known shapes"],
        ['tooBig', 'a window of 9 does not fit in spatial dim 6 with pads [0,0,0,0]'],
      ],
    );
  });
});
