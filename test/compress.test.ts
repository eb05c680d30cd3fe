// convert --mode compress and decompress (the portable format), and convert --mode ascend (the ATC --sparsity=1
// graph rewrite). A compressed model decompresses to exactly the tensors prune mode writes, runs in ONNX Runtime
// with outputs bit-identical to its decompressed form, and says why any weight was pruned in place instead. Models
// are built here; outputs are read back with onnx-proto (not the engine's reader); numbers are exact.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { type ConvertReport, type LayerChange, convertModel } from '../src/engine/convert/convert';
import { decompressModel } from '../src/engine/convert/decompress';
import { ModelError } from '../src/engine/errors';
import { decodeAscend } from '../src/engine/encode';
import {
  type DTypeName,
  ExternalSink,
  type ModelSpec,
  constantNode,
  graph,
  makeTensor,
  node,
  randomWeights,
  seededRandom,
  valueInfo,
  writeModel,
} from './support/builder';
import { type Pattern, patternName } from '../src/engine/sparsity/pattern';
import { SAMPLE_LAYERS, makeSampleModels } from '../scripts/make-sample';
import { allTensorProtos, decodeModelFile, externalEntries, listFolder, partialFiles, tensorBytes, tensorProto, roundTrip } from './support/convert-read';
import { tempDir } from './support/models';
import { cli } from './support/cli';

const ASCEND_DOMAIN = 'ai.sparsity_lens.ascend';

// ---------------------------------------------------------------------------
// Reading outputs back

interface TensorRecord {
  dataType: number;
  dims: number[];
  bytes: Buffer;
  external: boolean;
}

/** Every tensor of the model (initializers and Constant values of every graph and function) by name. */
function tensorTable(path: string): Map<string, TensorRecord> {
  const table = new Map<string, TensorRecord>();
  for (const [name, t] of allTensorProtos(decodeModelFile(path))) {
    table.set(name, {
      dataType: t.dataType ?? 0,
      dims: (t.dims ?? []).map(Number),
      bytes: Buffer.from(tensorBytes(path, t)),
      external: (t.externalData?.length ?? 0) > 0,
    });
  }
  return table;
}

/** The two models hold the same tensors by name (in any order): same type, dims and bytes. */
function assertSameTensors(actualPath: string, expectedPath: string, label: string): void {
  const actual = tensorTable(actualPath);
  const expected = tensorTable(expectedPath);
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${label}: tensor names`);
  for (const [name, want] of expected) {
    const got = actual.get(name)!;
    assert.equal(got.dataType, want.dataType, `${label}: ${name} data type`);
    assert.deepEqual(got.dims, want.dims, `${label}: ${name} dims`);
    assert.ok(got.bytes.equals(want.bytes), `${label}: ${name} bytes differ`);
  }
}

/** The main graph's nodes, each re-encoded: equal lists mean equal nodes in the same order. */
function encodedNodes(path: string): string[] {
  return (decodeModelFile(path).graph?.node ?? []).map((n) => Buffer.from(onnx.NodeProto.encode(n).finish()).toString('hex'));
}

function metadataKeys(path: string): string[] {
  return (decodeModelFile(path).metadataProps ?? []).map((p) => p.key ?? '');
}

function initializerNames(path: string): string[] {
  return (decodeModelFile(path).graph?.initializer ?? []).map((t) => t.name ?? '');
}

function layerOf(report: ConvertReport, name: string): LayerChange {
  const found = report.layers.find((l) => l.name === name);
  if (!found) throw new Error(`no layer '${name}': ${report.layers.map((l) => l.name).join(', ')}`);
  return found;
}

/** Both runtime comparisons ran, and the compressed model computes exactly what its decompressed form computes. */
function assertRunsIdentical(report: ConvertReport, label: string): void {
  assert.equal(report.runtime?.ran, true, `${label}: ${report.runtime?.note}`);
  assert.equal(report.exact?.ran, true, `${label}: ${report.exact?.note}`);
  assert.ok(report.exact!.outputs.length > 0, `${label}: no outputs compared`);
  for (const o of report.exact!.outputs) {
    assert.equal(o.identical, true, `${label}: output ${o.name} differs (max |diff| ${o.maxAbsDiff})`);
    assert.equal(o.maxAbsDiff, 0, `${label}: output ${o.name}`);
  }
  assert.equal(report.verified, true, label);
}

// ---------------------------------------------------------------------------
// Models: one layer in each layout, its weight in each type

type WeightType = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int16' | 'int32';

interface Layout {
  op: string;
  dims: number[];
  input: number[];
  output: number[];
  attrs: Record<string, number | number[]>;
}

// K = 16 everywhere, so every pattern up to 4:16 divides it; the other dims are deliberately odd.
const LAYOUTS: Record<string, Layout> = {
  'Conv [3, 16, 2, 2]': { op: 'Conv', dims: [3, 16, 2, 2], input: [1, 16, 3, 3], output: [1, 3, 2, 2], attrs: { kernel_shape: [2, 2] } },
  'MatMul B [16, 6]': { op: 'MatMul', dims: [16, 6], input: [1, 16], output: [1, 6], attrs: {} },
  'Gemm transB W [5, 16]': { op: 'Gemm', dims: [5, 16], input: [1, 16], output: [1, 5], attrs: { transB: 1 } },
  'batched MatMul B [2, 16, 3]': { op: 'MatMul', dims: [2, 16, 3], input: [2, 1, 16], output: [2, 1, 3], attrs: {} },
};

const WEIGHT_TYPES: WeightType[] = ['float32', 'float16', 'bfloat16', 'int8', 'uint8', 'int16', 'int32'];
const PATTERNS: Pattern[] = [
  { n: 2, m: 4 },
  { n: 1, m: 4 },
  { n: 2, m: 8 },
  { n: 4, m: 16 },
  { n: 1, m: 2 },
];

/** Dense values of each type: floats in [-1, 1), integers over most of their range (so int32 needs full precision). */
function denseValues(type: WeightType, count: number, rnd: () => number): number[] {
  const ints = (lo: number, hi: number) => Array.from({ length: count }, () => lo + Math.floor(rnd() * (hi - lo + 1)));
  switch (type) {
    case 'int8': return ints(-128, 127);
    case 'uint8': return ints(0, 255);
    case 'int16': return ints(-32768, 32767);
    case 'int32': return ints(-2147483648, 2147483647);
    default: return Array.from(randomWeights(count, rnd));
  }
}

/**
 * One layer reading weight W of `type`: float32 and float16 directly; bfloat16, int16 and int32 through a Cast to
 * float32; int8 (zero point 3) and uint8 (zero point 128) through a per-tensor DequantizeLinear.
 */
function layerModel(layout: Layout, type: WeightType, seed: number): ModelSpec {
  const rnd = seededRandom(seed);
  const count = layout.dims.reduce((a, b) => a * b, 1);
  const io: DTypeName = type === 'float16' ? 'float16' : 'float32';
  const initializers = [makeTensor({ name: 'W', dtype: type, dims: layout.dims, values: denseValues(type, count, rnd) })];
  const nodes: onnx.INodeProto[] = [];
  let weight = 'W';
  if (type === 'bfloat16' || type === 'int16' || type === 'int32') {
    nodes.push(node('Cast', ['W'], ['W_float'], { to: 1 }, { name: 'cast' }));
    weight = 'W_float';
  } else if (type === 'int8' || type === 'uint8') {
    initializers.push(
      makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.0078125] }),
      makeTensor({ name: 'zp', dtype: type, dims: [], values: [type === 'int8' ? 3 : 128] }),
    );
    nodes.push(node('DequantizeLinear', ['W', 'scale', 'zp'], ['W_float'], {}, { name: 'dq' }));
    weight = 'W_float';
  }
  nodes.push(node(layout.op, ['X', weight], ['Y'], layout.attrs, { name: 'layer' }));
  return {
    graph: graph({ name: 'one-layer', nodes, inputs: [valueInfo('X', io, layout.input)], outputs: [valueInfo('Y', io, layout.output)], initializers }),
  };
}

// ---------------------------------------------------------------------------
// 1. Round trips, bit for bit

describe('compress then decompress gives exactly the tensors prune writes', () => {
  let seed = 1;
  for (const pattern of PATTERNS) {
    for (const type of WEIGHT_TYPES) {
      for (const [layoutName, layout] of Object.entries(LAYOUTS)) {
        const caseSeed = seed++;
        test(`${type} ${layoutName} at ${patternName(pattern)}`, async () => {
          const input = join(tempDir(), 'model.onnx');
          writeModel(input, layerModel(layout, type, caseSeed));
          const { pruned, compressed, decompressed, prune, compress } = await roundTrip(input, pattern);
          const label = `${type} ${layoutName} ${patternName(pattern)}`;
          assert.equal(layerOf(prune, 'layer').action, 'prune', label);
          assert.ok(layerOf(prune, 'layer').prunedElements > 0, `${label}: the dense weight lost elements`);
          assert.equal(layerOf(compress, 'layer').action, 'compress', label);
          assert.equal(layerOf(compress, 'layer').reason, null, label);
          assert.equal(layerOf(compress, 'layer').prunedElements, layerOf(prune, 'layer').prunedElements, label);
          // The compressed model holds the streams, not the weight, and records them.
          const names = initializerNames(compressed);
          assert.ok(!names.includes('W'), `${label}: W is gone from the compressed model`);
          assert.ok(names.includes('W.sl_values') && names.includes('W.sl_index'), label);
          assert.deepEqual(metadataKeys(compressed), ['sparsity_lens.compressed'], label);
          // Decompressed: the pruned tensors, the pruned nodes, no metadata left.
          assertSameTensors(decompressed, pruned, label);
          assert.deepEqual(encodedNodes(decompressed), encodedNodes(pruned), `${label}: nodes`);
          assert.deepEqual(metadataKeys(decompressed), [], label);
          assert.equal(layerOf(compress, 'layer').passesAfter, true, label);
          assertRunsIdentical(compress, label);
        });
      }
    }
  }

  test('the streams record the pattern: values [G, N] in the weight type, positions at 1, 2 or 4 bits', async () => {
    // MatMul B [16, 6] float16: 96 elements; G = 96 / M groups.
    const expected: [Pattern, number[], number][] = [
      [{ n: 2, m: 4 }, [24, 2], 12], // 48 positions x 2 bits = 96 bits
      [{ n: 1, m: 4 }, [24, 1], 6], // 24 x 2 bits
      [{ n: 2, m: 8 }, [12, 2], 12], // 24 x 4 bits
      [{ n: 4, m: 16 }, [6, 4], 12], // 24 x 4 bits
      [{ n: 1, m: 2 }, [48, 1], 6], // 48 x 1 bit
    ];
    for (const [pattern, valuesDims, indexBytes] of expected) {
      const input = join(tempDir(), 'model.onnx');
      writeModel(input, layerModel(LAYOUTS['MatMul B [16, 6]'], 'float16', 7));
      const report = await convertModel(input, { mode: 'compress', pattern });
      const out = decodeModelFile(report.output!);
      const values = tensorProto(out, 'W.sl_values');
      const index = tensorProto(out, 'W.sl_index');
      assert.deepEqual([values.dataType, (values.dims ?? []).map(Number), values.rawData?.length], [10, valuesDims, valuesDims[0] * valuesDims[1] * 2], patternName(pattern));
      assert.deepEqual([index.dataType, (index.dims ?? []).map(Number), index.rawData?.length], [2, [indexBytes], indexBytes], patternName(pattern));
      const [entry] = JSON.parse(out.metadataProps!.find((p) => p.key === 'sparsity_lens.compressed')!.value!);
      assert.deepEqual([entry.weight, entry.values, entry.index, entry.dims, entry.axis, entry.pattern, entry.dtype], ['W', 'W.sl_values', 'W.sl_index', [16, 6], 0, patternName(pattern), 'float16']);
      assert.equal(entry.bits, pattern.m <= 2 ? 1 : pattern.m <= 4 ? 2 : 4);
    }
  });

  test('a negative zero comes back as -0 (float32 0x80000000 and float16 0x8000), through the W.sl_negzero mask; every other bit is kept', async () => {
    // MatMul B [8, 1]: group 0 holds -0 and three non-zeros (1 is pruned, -0 stays -0 in prune mode); group 1 holds
    // one non-zero, so its padded value slot points at the -0 right after it.
    const column = [-0, 5, 1, 4, /* | */ 3, -0, 0, -0];
    const cases: [DTypeName, number[], number[]][] = [
      ['float32', column, [0x80000000, 0x40a00000, 0, 0x40800000, 0x40400000, 0x80000000, 0, 0x80000000]],
      ['float16', column, [0x8000, 0x4500, 0, 0x4400, 0x4200, 0x8000, 0, 0x8000]],
    ];
    for (const [dtype, values, prunedBits] of cases) {
      const input = join(tempDir(), 'model.onnx');
      writeModel(input, {
        graph: graph({
          name: 'negative-zero',
          nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'layer' })],
          inputs: [valueInfo('X', dtype, [1, 8])],
          outputs: [valueInfo('Y', dtype, [1, 1])],
          initializers: [makeTensor({ name: 'W', dtype, dims: [8, 1], values })],
        }),
      });
      const { pruned, compressed, decompressed, compress } = await roundTrip(input, { n: 2, m: 4 });
      const bits = (path: string) => {
        const b = tensorTable(path).get('W')!.bytes;
        return dtype === 'float32' ? Array.from({ length: 8 }, (_, i) => b.readUInt32LE(i * 4)) : Array.from({ length: 8 }, (_, i) => b.readUInt16LE(i * 2));
      };
      assert.deepEqual(bits(pruned), prunedBits, `${dtype}: prune keeps -0`);
      assert.deepEqual(bits(decompressed), prunedBits, `${dtype}: decompress writes -0 back`);
      // The -0 at positions 0, 5 and 7: bits 0, 5 and 7 of the mask's one byte.
      assert.deepEqual([...tensorTable(compressed).get('W.sl_negzero')!.bytes], [0xa1], dtype);
      assertRunsIdentical(compress, dtype);
    }
  });
});

describe('where weights live: each place compresses and decompresses', () => {
  const rnd = seededRandom(77);
  const W_VALUES = Array.from(randomWeights(64, rnd));

  /** The bytes of one tensor, by name, wherever it lives. */
  const bytesOf = (path: string, name: string) => tensorTable(path).get(name)!.bytes;

  test('a Constant node whose value tensor has its own name: the decode graph produces the Constant output', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'constant',
        nodes: [constantNode('W', makeTensor({ name: 'W_value', dtype: 'float32', dims: [16, 4], values: W_VALUES }), 'make_w'), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
      }),
    });
    const { pruned, compressed, decompressed, compress } = await roundTrip(input, { n: 2, m: 4 });
    assert.equal(layerOf(compress, 'fc').action, 'compress');
    const nodes = decodeModelFile(compressed).graph!.node!;
    assert.ok(!nodes.some((n) => n.opType === 'Constant'), 'the Constant node is replaced');
    assert.deepEqual(nodes[nodes.length - 2].output, ['W'], 'the decode graph ends in the name MatMul reads');
    assertRunsIdentical(compress, 'constant');
    // Decompressed, the weight is an initializer under the name its consumers read.
    assert.deepEqual(initializerNames(decompressed), ['W']);
    assert.ok(bytesOf(decompressed, 'W').equals(bytesOf(pruned, 'W_value')));
  });

  test('a Constant node whose value tensor is named like its output', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'constant',
        nodes: [constantNode('W', makeTensor({ name: 'W', dtype: 'float32', dims: [16, 4], values: W_VALUES }), 'make_w'), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
      }),
    });
    const { pruned, decompressed, compress } = await roundTrip(input, { n: 2, m: 4 });
    assertRunsIdentical(compress, 'constant');
    assert.ok(bytesOf(decompressed, 'W').equals(bytesOf(pruned, 'W')));
  });

  test('a Constant inside an If branch, and an outer initializer read by the other branch', async () => {
    const branch = (name: string, nodes: onnx.INodeProto[]) => graph({ name, nodes, inputs: [], outputs: [valueInfo(`${name}_out`, 'float32', [1, 4])] });
    const thenBranch = branch('then', [constantNode('Wt', makeTensor({ name: 'Wt', dtype: 'float32', dims: [16, 4], values: W_VALUES })), node('MatMul', ['X', 'Wt'], ['then_out'], {}, { name: 'then_fc' })]);
    const elseBranch = branch('else', [node('Gemm', ['X', 'W_outer'], ['else_out'], { transB: 1 }, { name: 'else_fc' })]);
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'if',
        nodes: [node('If', ['cond'], ['Y'], { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } }, { name: 'branch' })],
        inputs: [{ name: 'cond', type: { tensorType: { elemType: 9, shape: { dim: [] } } } }, valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
        initializers: [makeTensor({ name: 'W_outer', dtype: 'float32', dims: [4, 16], values: W_VALUES })],
      }),
    });
    const { pruned, decompressed, compress } = await roundTrip(input, { n: 2, m: 4 });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action, l.passesAfter]), [
      ['then_fc', 'compress', true],
      ['else_fc', 'compress', true],
    ]);
    assertRunsIdentical(compress, 'if');
    for (const name of ['Wt', 'W_outer']) assert.ok(bytesOf(decompressed, name).equals(bytesOf(pruned, name)), name);
  });

  test('a weight in a typed field (float_data) decompresses to raw_data with the same values', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'typed',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
        initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [16, 4], values: W_VALUES, storage: 'typed' })],
      }),
    });
    const { pruned, decompressed, compress } = await roundTrip(input, { n: 2, m: 4 });
    assertRunsIdentical(compress, 'typed');
    assertSameTensors(decompressed, pruned, 'typed');
  });
});

// ---------------------------------------------------------------------------
// 2. Runs in ONNX Runtime, bit-identical to its decompressed form, and smaller

describe('the compressed sample models run in ONNX Runtime, identical to their decompressed form', () => {
  const dir = tempDir();
  const samples = makeSampleModels(dir);
  const reports = new Map<string, ConvertReport>();
  const prunedReports = new Map<string, ConvertReport>();
  before(async () => {
    for (const path of samples) {
      reports.set(path, await convertModel(path, { mode: 'compress' }));
      prunedReports.set(path, await convertModel(path, { mode: 'prune' }));
    }
  });

  test('every eligible layer is compressed, the per-channel int8 layers too', () => {
    for (const [path, report] of reports) {
      const expected = SAMPLE_LAYERS.map((l) => {
        if (l.expect === 'ineligible') return [l.node, 'skip'];
        return [l.node, 'compress', null];
      });
      assert.deepEqual(
        report.layers.map((l) => (l.action === 'skip' ? [l.name, l.action] : [l.name, l.action, l.reason])),
        expected,
        path,
      );
      for (const l of report.layers) assert.equal(l.passesAfter, l.action === 'skip' ? null : true, `${path} ${l.name}`);
    }
  });

  test('each runs in ONNX Runtime, its outputs bit-identical to the decompressed model, and verifies', () => {
    assert.equal(reports.size, 3);
    for (const [path, report] of reports) {
      assertRunsIdentical(report, path);
      assert.deepEqual(report.exact!.outputs.map((o) => o.name), ['logits'], path);
      assert.ok((report.runtime!.outputs[0].cosine ?? 0) > 0, path);
    }
  });

  test('decompressed, each sample holds exactly the tensors prune mode writes', async () => {
    for (const [path, report] of reports) {
      const decompressed = join(dir, `${path.split('/').pop()}.decompressed.onnx`);
      await decompressModel(report.output!, { out: decompressed });
      assertSameTensors(decompressed, prunedReports.get(path)!.output!, path);
      assert.deepEqual(encodedNodes(decompressed), encodedNodes(prunedReports.get(path)!.output!), path);
    }
  });

  test('the float32 and float16 samples are smaller compressed than pruned (the int8 one is not: its weights are too small to pay for the decode graphs)', () => {
    for (const [path, report] of [...reports].filter(([p]) => !p.endsWith('sample-int8-qdq.onnx'))) {
      const compressed = statSync(report.output!).size;
      const pruned = statSync(prunedReports.get(path)!.output!).size;
      assert.ok(compressed < pruned, `${path}: ${compressed} >= ${pruned}`);
      assert.equal(report.summary.sizeAfter, compressed, path);
    }
  });
});

describe('a [256, 256] MatMul: the weight shrinks to 9/16 (float16), 8.5/16 (float32), 10/16 (int8)', () => {
  // Per weight type: bytes of the dense weight, of the values [16384, 2] and of the 2-bit index stream.
  const cases: [WeightType, number, number, number][] = [
    ['float16', 131072, 65536, 8192],
    ['float32', 262144, 131072, 8192],
    ['int8', 65536, 32768, 8192],
  ];
  for (const [type, dense, valuesBytes, indexBytes] of cases) {
    test(`${type}: values ${valuesBytes} bytes + index ${indexBytes} bytes for ${dense} dense bytes; runs identical`, async () => {
      const layout: Layout = { op: 'MatMul', dims: [256, 256], input: [1, 256], output: [1, 256], attrs: {} };
      const input = join(tempDir(), 'model.onnx');
      writeModel(input, layerModel(layout, type, 256));
      const { pruned, compressed, decompressed, compress } = await roundTrip(input, { n: 2, m: 4 });
      const out = decodeModelFile(compressed);
      const values = tensorProto(out, 'W.sl_values');
      const index = tensorProto(out, 'W.sl_index');
      // G = 65536 / 4 = 16384 groups, N = 2 values each; 32768 positions at 2 bits = 8192 bytes.
      assert.deepEqual((values.dims ?? []).map(Number), [16384, 2]);
      assert.equal(values.rawData?.length, valuesBytes);
      assert.deepEqual((index.dims ?? []).map(Number), [8192]);
      assert.equal(index.rawData?.length, indexBytes);
      assert.equal(tensorTable(pruned).get('W')!.bytes.length, dense);
      assert.equal((valuesBytes + indexBytes) / dense, { float16: 9 / 16, float32: 8.5 / 16, int8: 10 / 16 }[type as string]);
      // The file shrinks by the weight's savings less a decode graph of under 2 kB.
      const saved = statSync(pruned).size - statSync(compressed).size;
      const overhead = dense - valuesBytes - indexBytes - saved;
      assert.ok(overhead > 0 && overhead < 2048, `decode graph overhead ${overhead} bytes`);
      assertRunsIdentical(compress, type);
      assertSameTensors(decompressed, pruned, type);
    });
  }
});

describe('built models with several layers run identical to their decompressed form', () => {
  test('Conv + Gemm (float32) with a compliant weight, a dense one and a bias', async () => {
    const rnd = seededRandom(42);
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'conv-gemm',
        nodes: [
          node('Conv', ['X', 'Wc', 'Bc'], ['C'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' }),
          node('Relu', ['C'], ['R'], {}, { name: 'relu' }),
          node('Flatten', ['R'], ['F'], { axis: 1 }, { name: 'flatten' }),
          node('Gemm', ['F', 'Wg', 'Bg'], ['Y'], { transB: 1 }, { name: 'fc' }),
        ],
        inputs: [valueInfo('X', 'float32', [1, 8, 4, 4])],
        outputs: [valueInfo('Y', 'float32', [1, 10])],
        initializers: [
          makeTensor({ name: 'Wc', dtype: 'float32', dims: [8, 8, 3, 3], values: randomWeights(576, rnd) }),
          makeTensor({ name: 'Bc', dtype: 'float32', dims: [8], values: randomWeights(8, rnd) }),
          makeTensor({ name: 'Wg', dtype: 'float32', dims: [10, 128], values: randomWeights(1280, rnd) }),
          makeTensor({ name: 'Bg', dtype: 'float32', dims: [10], values: randomWeights(10, rnd) }),
        ],
      }),
    });
    const { pruned, decompressed, compress } = await roundTrip(input, { n: 2, m: 4 });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action]), [['conv', 'compress'], ['fc', 'compress']]);
    assertRunsIdentical(compress, 'conv-gemm');
    assertSameTensors(decompressed, pruned, 'conv-gemm');
  });

  test('int8 Conv behind DequantizeLinear (zero point -5) at 2:8', async () => {
    const rnd = seededRandom(43);
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'int8-conv',
        nodes: [
          node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], {}, { name: 'dq' }),
          node('Conv', ['X', 'W'], ['Y'], { kernel_shape: [1, 1] }, { name: 'conv' }),
        ],
        inputs: [valueInfo('X', 'float32', [1, 16, 2, 2])],
        outputs: [valueInfo('Y', 'float32', [1, 4, 2, 2])],
        initializers: [
          makeTensor({ name: 'Wq', dtype: 'int8', dims: [4, 16, 1, 1], values: denseValues('int8', 64, rnd) }),
          makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.25] }),
          makeTensor({ name: 'zp', dtype: 'int8', dims: [], values: [-5] }),
        ],
      }),
    });
    const { pruned, decompressed, compress } = await roundTrip(input, { n: 2, m: 8 });
    assert.equal(layerOf(compress, 'conv').action, 'compress');
    assertRunsIdentical(compress, 'int8-conv');
    assertSameTensors(decompressed, pruned, 'int8-conv');
    // Pruned places hold the zero point, so ConstantOfShape fills with -5 (0xfb).
    const zeros = decodeModelFile(join(input, '..', 'compressed.onnx')).graph!.node!.find((n) => n.opType === 'ConstantOfShape')!;
    assert.deepEqual(Array.from(zeros.attribute![0].t!.rawData!), [0xfb]);
  });
});

// ---------------------------------------------------------------------------
// 3. Fallbacks, with reasons, and refusals

/** Compresses `spec` and prunes it too; returns both reports and outputs. */
async function compressAndPrune(spec: ModelSpec, pattern: Pattern = { n: 2, m: 4 }) {
  const input = join(tempDir(), 'model.onnx');
  writeModel(input, spec);
  const prune = await convertModel(input, { mode: 'prune', pattern, out: join(input, '..', 'pruned.onnx') });
  const compress = await convertModel(input, { mode: 'compress', pattern, out: join(input, '..', 'compressed.onnx') });
  return { input, prune, compress };
}

const DENSE_16 = [1, -2, 3, -4, 5, -6, 7, -8, 8, 7, 6, 5, -4, -3, -2, -1];

describe('per-channel zero points and opset 10 compress; weights that cannot take the portable form are pruned in place, saying why', () => {
  test('per-channel zero points: compressed beside a per-tensor layer, each pruned place filled with its row\'s zero point', async () => {
    const { prune, compress } = await compressAndPrune({
      graph: graph({
        name: 'per-channel',
        nodes: [
          node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0 }, { name: 'dq' }),
          node('Gemm', ['X', 'W'], ['Y1'], { transB: 1 }, { name: 'fc_per_channel' }),
          node('MatMul', ['X', 'W2'], ['Y2'], {}, { name: 'fc' }),
        ],
        inputs: [valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y1', 'float32', [1, 2]), valueInfo('Y2', 'float32', [1, 2])],
        initializers: [
          makeTensor({ name: 'Wq', dtype: 'int8', dims: [2, 8], values: [2, 4, 0, 2, 5, 5, 5, 2, -2, 0, -5, 1, -2, -2, -2, -1] }),
          makeTensor({ name: 'scale', dtype: 'float32', dims: [2], values: [0.5, 0.25] }),
          makeTensor({ name: 'zp', dtype: 'int8', dims: [2], values: [2, -2] }),
          makeTensor({ name: 'W2', dtype: 'float32', dims: [8, 2], values: DENSE_16 }),
        ],
      }),
    });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action, l.reason]), [
      ['fc_per_channel', 'compress', null],
      ['fc', 'compress', null],
    ]);
    // The zero points [2, -2] (along axis 0, not K) are kept as Wq.sl_zeros; the last group of row 1 keeps one value
    // and pads its second slot with that row's zero point, -2.
    const out = decodeModelFile(compress.output!);
    assert.deepEqual(Array.from(new Int8Array(tensorBytes(compress.output!, tensorProto(out, 'Wq.sl_zeros')))), [2, -2]);
    assert.deepEqual(Array.from(new Int8Array(tensorBytes(compress.output!, tensorProto(out, 'Wq.sl_values')))), [4, 0, 5, 5, -5, 1, -1, -2]);
    const decompressed = join(compress.output!, '..', 'decompressed.onnx');
    await decompressModel(compress.output!, { out: decompressed });
    assert.deepEqual(Array.from(new Int8Array(tensorTable(decompressed).get('Wq')!.bytes)), [2, 4, 0, 2, 5, 5, 2, 2, -2, -2, -5, 1, -2, -2, -2, -1]);
    assertSameTensors(decompressed, prune.output!, 'per-channel');
    assert.equal(layerOf(compress, 'fc_per_channel').prunedElements, 2);
    assertRunsIdentical(compress, 'per-channel');
  });

  test('an int4 weight (DequantizeLinear-21): pruned in place; nothing compressed, so no metadata and no exact run', async () => {
    const { prune, compress } = await compressAndPrune({
      opset: 21,
      graph: graph({
        name: 'int4',
        nodes: [node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], {}, { name: 'dq' }), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 4])],
        outputs: [valueInfo('Y', 'float32', [1, 2])],
        initializers: [
          makeTensor({ name: 'Wq', dtype: 'int4', dims: [4, 2], values: [1, 7, -8, -7, 3, 7, 0, 2] }),
          makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.5] }),
          makeTensor({ name: 'zp', dtype: 'int4', dims: [], values: [1] }),
        ],
      }),
    });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action, l.reason]), [['fc', 'prune', 'pruned in place, not compressed: int4 is not compressed (8, 16 and 32-bit types are)']]);
    assert.equal(compress.summary.compressed, 0);
    assert.equal(compress.exact, null);
    assert.equal(compress.verified, true);
    assert.deepEqual(metadataKeys(compress.output!), []);
    assertSameTensors(compress.output!, prune.output!, 'int4');
  });

  test('a weight in a model-local function: pruned in place', async () => {
    const block: onnx.IFunctionProto = {
      name: 'Block',
      domain: 'custom',
      input: ['x'],
      output: ['y'],
      node: [constantNode('w', makeTensor({ name: 'w_value', dtype: 'float32', dims: [16, 1], values: DENSE_16 })), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'block_fc' })],
      opsetImport: [{ domain: '', version: 17 }],
    };
    const { prune, compress } = await compressAndPrune({
      functions: [block],
      extraOpsets: [{ domain: 'custom', version: 1 }],
      graph: graph({
        name: 'function',
        nodes: [node('Block', ['X'], ['Y'], {}, { name: 'block', domain: 'custom' })],
        inputs: [valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 1])],
      }),
    });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action, l.reason]), [
      ['block/block_fc', 'prune', 'pruned in place, not compressed: weights inside functions are not compressed (function bodies hold no initializers)'],
    ]);
    assertSameTensors(compress.output!, prune.output!, 'function');
    assert.equal(compress.runtime?.ran, true, compress.runtime?.note);
  });

  test('an opset 10 model (no ScatterElements, no BitShift): compressed with the gather decode', async () => {
    const { prune, compress } = await compressAndPrune({
      opset: 10,
      graph: graph({
        name: 'opset10',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 1])],
        initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [16, 1], values: DENSE_16 })],
      }),
    });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action, l.reason]), [['fc', 'compress', null]]);
    // Opset 10 ops only (test/compress-opset9.test.ts has the rest): Slice with inputs, no BitShift or ScatterElements.
    const ops = new Set((decodeModelFile(compress.output!).graph?.node ?? []).map((n) => n.opType));
    assert.ok(!ops.has('BitShift') && !ops.has('ScatterElements') && ops.has('Gather') && ops.has('Slice'), [...ops].join(', '));
    const decompressed = join(compress.output!, '..', 'decompressed.onnx');
    await decompressModel(compress.output!, { out: decompressed });
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(tensorTable(decompressed).get('W')!.bytes).buffer)), [0, 0, 3, -4, 0, 0, 7, -8, 8, 7, 0, 0, -4, -3, 0, 0]);
    assertSameTensors(decompressed, prune.output!, 'opset 10');
    assertRunsIdentical(compress, 'opset 10');
  });
});

describe('more fallbacks beside weights that compress', () => {
  test('float64 and a weight that is also a graph input are pruned in place; an initializer of an If branch is compressed there', async () => {
    const rnd = seededRandom(8);
    const thenBranch = graph({
      name: 'then',
      nodes: [node('MatMul', ['X', 'Wb'], ['then_out'], {}, { name: 'then_fc' })],
      inputs: [],
      outputs: [valueInfo('then_out', 'float32', [1, 4])],
      initializers: [makeTensor({ name: 'Wb', dtype: 'float32', dims: [8, 4], values: randomWeights(32, rnd) })],
    });
    const elseBranch = graph({ name: 'else', nodes: [node('MatMul', ['X', 'Wi'], ['else_out'], {}, { name: 'else_fc' })], inputs: [], outputs: [valueInfo('else_out', 'float32', [1, 4])] });
    const { prune, compress } = await compressAndPrune({
      graph: graph({
        name: 'mixed',
        nodes: [
          node('If', ['cond'], ['Y'], { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } }, { name: 'branch' }),
          node('MatMul', ['X64', 'W64'], ['Y64'], {}, { name: 'f64' }),
        ],
        inputs: [{ name: 'cond', type: { tensorType: { elemType: 9, shape: { dim: [] } } } }, valueInfo('X', 'float32', [1, 8]), valueInfo('Wi', 'float32', [8, 4]), valueInfo('X64', 'float64', [1, 8])],
        outputs: [valueInfo('Y', 'float32', [1, 4]), valueInfo('Y64', 'float64', [1, 4])],
        initializers: [
          makeTensor({ name: 'Wi', dtype: 'float32', dims: [8, 4], values: randomWeights(32, rnd) }),
          makeTensor({ name: 'W64', dtype: 'float64', dims: [8, 4], values: randomWeights(32, rnd) }),
        ],
      }),
    });
    assert.deepEqual(compress.layers.map((l) => [l.name, l.action, l.reason]), [
      ['f64', 'prune', 'pruned in place, not compressed: float64 is not compressed (8, 16 and 32-bit types are)'],
      ['then_fc', 'compress', null],
      ['else_fc', 'prune', "pruned in place, not compressed: 'Wi' is also a graph input that callers may override"],
    ]);
    const thenNodes = decodeModelFile(compress.output!).graph!.node![0].attribute!.find((a) => a.name === 'then_branch')!.g!.node!;
    assert.deepEqual(thenNodes.map((n) => n.opType).slice(-3), ['Reshape', 'Transpose', 'MatMul'], 'the decode graph sits in the branch, before its MatMul');
    assertRunsIdentical(compress, 'mixed');
    const decompressed = join(compress.output!, '..', 'decompressed.onnx');
    const report = await decompressModel(compress.output!, { out: decompressed });
    assert.deepEqual(report.weights.map((w) => w.name), ['Wb']);
    assertSameTensors(decompressed, prune.output!, 'mixed');
  });
});

describe('refusals write nothing', () => {
  test('compressing a model already compressed by Sparsity Lens leaves its compressed layer as it is (test/own-outputs.test.ts has the rest)', async () => {
    const { compress } = await compressAndPrune(layerModel(LAYOUTS['MatMul B [16, 6]'], 'float16', 3));
    const again = join(compress.output!, '..', 'again.onnx');
    const report = await convertModel(compress.output!, { mode: 'compress', out: again });
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason]), [['layer', 'unchanged', 'stored compressed (portable): decompress first']]);
    assert.ok(readFileSync(again).equals(readFileSync(compress.output!)));
  });

  test('decompressing a model that is not compressed names the file and what is missing', async () => {
    const { prune } = await compressAndPrune(layerModel(LAYOUTS['MatMul B [16, 6]'], 'float32', 4));
    const dir = join(prune.output!, '..');
    const before = listFolder(dir);
    await assert.rejects(
      () => decompressModel(prune.output!),
      (err: Error) => err instanceof ModelError && err.message.includes('pruned.onnx') && err.message.includes("not a model compressed by Sparsity Lens (no 'sparsity_lens.compressed' metadata)"),
    );
    assert.deepEqual(listFolder(dir), before);
    assert.deepEqual(partialFiles(dir), []);
  });

  test('decompress does not replace an existing output without force', async () => {
    const { compress } = await compressAndPrune(layerModel(LAYOUTS['MatMul B [16, 6]'], 'float32', 5));
    const dir = join(compress.output!, '..');
    await decompressModel(compress.output!, { out: join(dir, 'dense.onnx') });
    const first = readFileSync(join(dir, 'dense.onnx'));
    await assert.rejects(() => decompressModel(compress.output!, { out: join(dir, 'dense.onnx') }), /dense\.onnx' exists; use --force to replace it/);
    await decompressModel(compress.output!, { out: join(dir, 'dense.onnx'), force: true });
    assert.deepEqual(readFileSync(join(dir, 'dense.onnx')), first);
  });
});

// ---------------------------------------------------------------------------
// 4. External data

describe('external data: compressed streams and decompressed weights go to the output data file', () => {
  const dir = tempDir();
  const input = join(dir, 'model.onnx');
  let compress: ConvertReport;
  let prune: ConvertReport;
  let inputData: Buffer;
  before(async () => {
    const rnd = seededRandom(99);
    const sink = new ExternalSink();
    const ext = (name: string, dims: number[], values: ArrayLike<number>) => makeTensor({ name, dtype: 'float16', dims, values, storage: { external: 'weights.bin' } }, sink);
    writeModel(
      input,
      {
        graph: graph({
          name: 'external',
          nodes: [node('MatMul', ['X', 'W'], ['H'], {}, { name: 'fc' }), node('Add', ['H', 'bias'], ['A'], {}, { name: 'add' }), node('Mul', ['A', 'G'], ['Y'], {}, { name: 'gain' })],
          inputs: [valueInfo('X', 'float16', [1, 64])],
          outputs: [valueInfo('Y', 'float16', [1, 32])],
          initializers: [ext('W', [64, 32], randomWeights(2048, rnd)), ext('bias', [32], randomWeights(32, rnd)), makeTensor({ name: 'G', dtype: 'float16', dims: [32], values: new Array(32).fill(2) })],
        }),
      },
      sink,
    );
    inputData = readFileSync(join(dir, 'weights.bin'));
    prune = await convertModel(input, { mode: 'prune', out: join(dir, 'pruned.onnx') });
    compress = await convertModel(input, { mode: 'compress', out: join(dir, 'compressed.onnx') });
  });

  test('values and index live in compressed.data, one after the other; bias is copied there; G stays inline', () => {
    assert.equal(compress.dataFile, join(dir, 'compressed.data'));
    const out = decodeModelFile(join(dir, 'compressed.onnx'));
    const place = (name: string) => {
      const e = externalEntries(tensorProto(out, name));
      return [e.location, Number(e.length)];
    };
    // W [64, 32] float16: 512 groups, 1024 values (2048 bytes), 1024 positions at 2 bits (256 bytes).
    assert.deepEqual(place('W.sl_values'), ['compressed.data', 2048]);
    assert.deepEqual(place('W.sl_index'), ['compressed.data', 256]);
    assert.equal(Number(externalEntries(tensorProto(out, 'W.sl_index')).offset), Number(externalEntries(tensorProto(out, 'W.sl_values')).offset) + 2048);
    assert.deepEqual(place('bias'), ['compressed.data', 64]);
    assert.equal(tensorProto(out, 'G').externalData?.length ?? 0, 0);
    assert.ok(!initializerNames(join(dir, 'compressed.onnx')).includes('W'));
  });

  test('it runs in ONNX Runtime, identical to its decompressed form; the input is untouched', () => {
    assertRunsIdentical(compress, 'external');
    assert.deepEqual(readFileSync(join(dir, 'weights.bin')), inputData);
  });

  test('decompress writes the dense weight back as external data, bit for bit the pruned weight', async () => {
    const report = await decompressModel(join(dir, 'compressed.onnx'), { out: join(dir, 'decompressed.onnx') });
    assert.equal(report.dataFile, join(dir, 'decompressed.data'));
    const table = tensorTable(join(dir, 'decompressed.onnx'));
    assert.deepEqual(['W', 'bias', 'G'].map((n) => [n, table.get(n)!.external]), [['W', true], ['bias', true], ['G', false]]);
    const out = decodeModelFile(join(dir, 'decompressed.onnx'));
    assert.equal(externalEntries(tensorProto(out, 'W')).location, 'decompressed.data');
    assert.equal(Number(externalEntries(tensorProto(out, 'W')).length), 4096);
    assertSameTensors(join(dir, 'decompressed.onnx'), prune.output!, 'external');
    assert.deepEqual(report.weights, [{ name: 'W', dims: [64, 32], dtype: 'float16', pattern: '2:4' }]);
  });
});

// ---------------------------------------------------------------------------
// 5. Ascend: the ATC --sparsity=1 rewrite

/** Y = Gemm(MatMul(Reshape(Conv(X)), Wm), Wg) with Conv pads and strides, Gemm transB and alpha; fp16 or int8 behind DequantizeLinear. */
function ascendModel(type: 'float16' | 'int8'): ModelSpec {
  const rnd = seededRandom(type === 'float16' ? 11 : 12);
  const io: DTypeName = type === 'float16' ? 'float16' : 'float32';
  const weights: [string, number[], number][] = [
    ['Wc', [4, 8, 3, 3], 1],
    ['Wm', [16, 8], -2],
    ['Wg', [4, 8], 0],
  ];
  const initializers: onnx.ITensorProto[] = [
    makeTensor({ name: 'Bc', dtype: io, dims: [4], values: [0.5, -0.5, 0.25, -0.25] }),
    makeTensor({ name: 'C', dtype: io, dims: [4], values: [1, 2, 3, 4] }),
    makeTensor({ name: 'shape', dtype: 'int64', dims: [2], values: [1, 16] }),
  ];
  const nodes: onnx.INodeProto[] = [];
  const w: Record<string, string> = {};
  for (const [name, dims, zp] of weights) {
    const count = dims.reduce((a, b) => a * b, 1);
    if (type === 'float16') {
      initializers.push(makeTensor({ name, dtype: 'float16', dims, values: randomWeights(count, rnd) }));
      w[name] = name;
    } else {
      initializers.push(
        makeTensor({ name: `${name}q`, dtype: 'int8', dims, values: denseValues('int8', count, rnd) }),
        makeTensor({ name: `${name}_scale`, dtype: 'float32', dims: [], values: [0.125] }),
        makeTensor({ name: `${name}_zp`, dtype: 'int8', dims: [], values: [zp] }),
      );
      nodes.push(node('DequantizeLinear', [`${name}q`, `${name}_scale`, `${name}_zp`], [name], {}, { name: `${name}_dq` }));
      w[name] = name;
    }
  }
  nodes.push(
    node('Conv', ['X', w.Wc, 'Bc'], ['conv_out'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }, { name: 'conv' }),
    node('Reshape', ['conv_out', 'shape'], ['flat'], {}, { name: 'flatten' }),
    node('MatMul', ['flat', w.Wm], ['mm_out'], {}, { name: 'mm' }),
    node('Gemm', ['mm_out', w.Wg, 'C'], ['Y'], { transB: 1, alpha: { float: 0.5 } }, { name: 'fc' }),
  );
  return {
    graph: graph({ name: `ascend-${type}`, nodes, inputs: [valueInfo('X', io, [1, 8, 4, 4])], outputs: [valueInfo('Y', io, [1, 4])], initializers }),
  };
}

/** A stored weight viewed as [rows, K], K innermost, rows = the other axes in storage order. */
function asRowsByK(bytes: Uint8Array, dims: number[], axis: number, size: number): Uint8Array {
  const K = dims[axis];
  const A = dims.slice(0, axis).reduce((x, y) => x * y, 1);
  const B = dims.slice(axis + 1).reduce((x, y) => x * y, 1);
  const out = new Uint8Array(bytes.length);
  for (let a = 0; a < A; a++) {
    for (let k = 0; k < K; k++) {
      for (let b = 0; b < B; b++) out.set(bytes.subarray(((a * K + k) * B + b) * size, ((a * K + k) * B + b + 1) * size), ((a * B + b) * K + k) * size);
    }
  }
  return out;
}

function attrSummary(n: onnx.INodeProto): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of n.attribute ?? []) {
    if (a.type === onnx.AttributeProto.AttributeType.INTS) out[a.name!] = (a.ints ?? []).map(Number);
    else if (a.type === onnx.AttributeProto.AttributeType.INT) out[a.name!] = Number(a.i);
    else if (a.type === onnx.AttributeProto.AttributeType.FLOAT) out[a.name!] = a.f;
    else if (a.type === onnx.AttributeProto.AttributeType.STRING) out[a.name!] = new TextDecoder().decode(a.s!);
  }
  return out;
}

/** ONNX's checker without full_check: custom-domain ops have no schema to infer shapes from. */
function onnxCheckPlain(path: string): { status: number | null; stderr: string } {
  const run = spawnSync('/usr/bin/python3', ['-c', 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]))', path], { encoding: 'utf8' });
  return { status: run.status, stderr: run.stderr };
}

for (const type of ['float16', 'int8'] as const) {
  describe(`ascend mode, ${type}${type === 'int8' ? ' behind DequantizeLinear' : ''}: Conv, MatMul and Gemm become the Compress ops`, () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    const output = join(dir, 'ascend.onnx');
    let report: ConvertReport;
    let pruned: string;
    before(async () => {
      writeModel(input, ascendModel(type));
      report = await convertModel(input, { mode: 'ascend', out: output });
      pruned = (await convertModel(input, { mode: 'prune', out: join(dir, 'pruned.onnx') })).output!;
    });

    test('every layer is rewritten and verified; ONNX Runtime is not run, and the report says why', () => {
      assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason, l.passesAfter]), [
        ['conv', 'rewrite', null, true],
        ['mm', 'rewrite', null, true],
        ['fc', 'rewrite', null, true],
      ]);
      assert.equal(report.summary.rewritten, 3);
      assert.equal(report.verified, true);
      assert.deepEqual(report.runtime, { ran: false, note: 'the Ascend model uses custom ops that ONNX Runtime does not have', outputs: [] });
      assert.ok(report.notes.includes('The Ascend model is for toolchains and inspection: ONNX Runtime cannot run its Compress ops.'));
    });

    test('the nodes: a CompressOp before each layer, the layer replaced in place with the exact input list', () => {
      const nodes = decodeModelFile(output).graph!.node!;
      const quant = (w: string) => (type === 'int8' ? [`${w}_scale`, `${w}_zp`] : []);
      const mmInputs = type === 'int8' ? ['flat', 'mm.ascend_cvalues', 'mm.ascend_cindex', '', 'Wm_scale', 'Wm_zp'] : ['flat', 'mm.ascend_cvalues', 'mm.ascend_cindex'];
      const compress = (layer: string, w: string) => [`${layer}.compress`, 'CompressOp', ASCEND_DOMAIN, [`${w}.ascend_values`, `${w}.ascend_index`], [`${layer}.ascend_cvalues`, `${layer}.ascend_cindex`]];
      const wq = (w: string) => (type === 'int8' ? `${w}q` : w);
      assert.deepEqual(
        nodes.map((n) => [n.name, n.opType, n.domain ?? '', n.input, n.output]),
        [
          compress('conv', wq('Wc')),
          ['conv', 'Conv2DCompress', ASCEND_DOMAIN, ['X', 'conv.ascend_cvalues', 'conv.ascend_cindex', 'Bc', ...quant('Wc')], ['conv_out']],
          ['flatten', 'Reshape', '', ['conv_out', 'shape'], ['flat']],
          compress('mm', wq('Wm')),
          ['mm', 'MatMulV2Compress', ASCEND_DOMAIN, mmInputs, ['mm_out']],
          compress('fc', wq('Wg')),
          ['fc', 'FCCompress', ASCEND_DOMAIN, ['mm_out', 'fc.ascend_cvalues', 'fc.ascend_cindex', 'C', ...quant('Wg')], ['Y']],
        ],
      );
    });

    test('the original attributes are kept, plus weight_shape; CompressOp says alg, shape and axis', () => {
      const nodes = decodeModelFile(output).graph!.node!;
      const byName = (name: string) => attrSummary(nodes.find((n) => n.name === name)!);
      assert.deepEqual(byName('conv'), { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], weight_shape: [4, 8, 3, 3] });
      assert.deepEqual(byName('mm'), { weight_shape: [16, 8] });
      assert.deepEqual(byName('fc'), { transB: 1, alpha: 0.5, weight_shape: [4, 8] });
      assert.deepEqual(byName('conv.compress'), { alg: 'sparsity_2_4', weight_shape: [4, 8, 3, 3], weight_axis: 1 });
      assert.deepEqual(byName('mm.compress'), { alg: 'sparsity_2_4', weight_shape: [16, 8], weight_axis: 0 });
      assert.deepEqual(byName('fc.compress'), { alg: 'sparsity_2_4', weight_shape: [4, 8], weight_axis: 1 });
    });

    test('the opset import of the Ascend domain and the metadata entry', () => {
      const model = decodeModelFile(output);
      assert.deepEqual(
        model.opsetImport!.map((o) => [o.domain ?? '', Number(o.version)]),
        [['', 17], [ASCEND_DOMAIN, 1]],
      );
      const meta = JSON.parse(model.metadataProps!.find((p) => p.key === 'sparsity_lens.ascend')!.value!);
      assert.equal(meta.encoding, 'ATC --sparsity=1 (2:4)');
      assert.deepEqual(
        meta.weights.map((w: { layers: string[]; weight: string; shape: number[]; axis: number }) => [w.layers, w.weight, w.shape, w.axis]),
        [[['conv'], type === 'int8' ? 'Wcq' : 'Wc', [4, 8, 3, 3], 1], [['mm'], type === 'int8' ? 'Wmq' : 'Wm', [16, 8], 0], [['fc'], type === 'int8' ? 'Wgq' : 'Wg', [4, 8], 1]],
      );
    });

    test('the weights are gone (and the DequantizeLinear nodes); the streams decode to the pruned weight viewed as [rows, K]', () => {
      const names = initializerNames(output);
      const size = type === 'int8' ? 1 : 2;
      // [rows, K]: Conv rows = 4 x 3 x 3, K = 8; MatMul [16, 8]: rows = N = 8, K = 16; Gemm transB [4, 8]: rows 4, K 8.
      const shapes: [string, number[], number, number, number][] = [
        ['Wc', [4, 8, 3, 3], 1, 36, 8],
        ['Wm', [16, 8], 0, 8, 16],
        ['Wg', [4, 8], 1, 4, 8],
      ];
      const zeroPoints: Record<string, number> = { Wc: 1, Wm: -2, Wg: 0 };
      const table = tensorTable(output);
      const prunedTable = tensorTable(pruned);
      for (const [w, dims, axis, rows, K] of shapes) {
        const stored = type === 'int8' ? `${w}q` : w;
        assert.ok(!names.includes(stored), `${stored} removed`);
        const values = table.get(`${stored}.ascend_values`)!;
        const index = table.get(`${stored}.ascend_index`)!;
        assert.deepEqual([values.dataType, values.dims, values.bytes.length], [type === 'int8' ? 3 : 10, [rows, K / 2], (rows * K * size) / 2], stored);
        assert.deepEqual([index.dataType, index.dims, index.bytes.length], [2, [Math.ceil((rows * K) / 8)], Math.ceil((rows * K) / 8)], stored);
        const zero = type === 'int8' ? Uint8Array.of(zeroPoints[w] & 0xff) : new Uint8Array(2);
        const dense = decodeAscend({ rows, cols: K, elementSize: size, values: new Uint8Array(values.bytes), index: new Uint8Array(index.bytes) }, zero);
        const expected = asRowsByK(new Uint8Array(prunedTable.get(stored)!.bytes), dims, axis, size);
        assert.ok(Buffer.from(dense).equals(Buffer.from(expected)), `${stored}: decoded != pruned`);
      }
      if (type === 'int8') {
        assert.ok(!decodeModelFile(output).graph!.node!.some((n) => n.opType === 'DequantizeLinear'));
        for (const w of ['Wc', 'Wm', 'Wg']) assert.ok(names.includes(`${w}_scale`) && names.includes(`${w}_zp`), w);
      }
    });

    test("ONNX's checker accepts the output (custom ops are not schema-checked)", () => {
      const check = onnxCheckPlain(output);
      assert.equal(check.status, 0, check.stderr);
    });
  });
}

describe('ascend mode: what cannot be rewritten is pruned in place, with the reason', () => {
  test('ConvInteger, a Constant-node weight and a grouped Conv (IC/g = 4) beside a Gemm that is rewritten', async () => {
    const rnd = seededRandom(5);
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'not-rewritten',
        nodes: [
          node('ConvInteger', ['Xu', 'Wi', 'Xu_zp', 'Wi_zp'], ['Yi'], { kernel_shape: [1, 1] }, { name: 'conv_integer' }),
          constantNode('Wk', makeTensor({ name: 'Wk', dtype: 'float32', dims: [8, 2], values: randomWeights(16, rnd) }), 'make_wk'),
          node('MatMul', ['X', 'Wk'], ['Yk'], {}, { name: 'mm_constant' }),
          node('Conv', ['Xg', 'Wgc'], ['Yg'], { kernel_shape: [1, 1], group: 2 }, { name: 'grouped' }),
          node('Gemm', ['X', 'Wf'], ['Yf'], { transB: 1 }, { name: 'fc' }),
        ],
        inputs: [valueInfo('Xu', 'uint8', [1, 8, 1, 1]), valueInfo('X', 'float32', [1, 8]), valueInfo('Xg', 'float32', [1, 8, 2, 2])],
        outputs: [valueInfo('Yi', 'int32', [1, 2, 1, 1]), valueInfo('Yk', 'float32', [1, 2]), valueInfo('Yg', 'float32', [1, 4, 2, 2]), valueInfo('Yf', 'float32', [1, 2])],
        initializers: [
          makeTensor({ name: 'Wi', dtype: 'uint8', dims: [2, 8, 1, 1], values: denseValues('uint8', 16, rnd) }),
          makeTensor({ name: 'Xu_zp', dtype: 'uint8', dims: [], values: [0] }),
          makeTensor({ name: 'Wi_zp', dtype: 'uint8', dims: [], values: [128] }),
          makeTensor({ name: 'Wgc', dtype: 'float32', dims: [4, 4, 1, 1], values: randomWeights(16, rnd) }),
          makeTensor({ name: 'Wf', dtype: 'float32', dims: [2, 8], values: randomWeights(16, rnd) }),
        ],
      }),
    });
    const report = await convertModel(input, { mode: 'ascend', out: join(input, '..', 'ascend.onnx') });
    const prune = await convertModel(input, { mode: 'prune', out: join(input, '..', 'pruned.onnx') });
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason]), [
      ['conv_integer', 'prune', 'pruned in place, not rewritten for Ascend: ConvInteger is not rewritten (ATC compresses Conv2D, MatMulV2 and FullyConnection)'],
      ['mm_constant', 'prune', 'pruned in place, not rewritten for Ascend: only initializers are rewritten (not Constant nodes or weights in functions)'],
      ['grouped', 'prune', 'pruned in place, not rewritten for Ascend: grouped convolutions are not compressed by ATC'],
      ['fc', 'rewrite', null],
    ]);
    assert.equal(report.verified, true);
    const out = tensorTable(report.output!);
    const pruned = tensorTable(prune.output!);
    for (const name of ['Wi', 'Wk', 'Wgc']) assert.ok(out.get(name)!.bytes.equals(pruned.get(name)!.bytes), `${name} pruned in place as prune mode does`);
    assert.deepEqual(
      decodeModelFile(report.output!).graph!.node!.map((n) => n.opType),
      ['ConvInteger', 'Constant', 'MatMul', 'Conv', 'CompressOp', 'FCCompress'],
    );
    const check = onnxCheckPlain(report.output!);
    assert.equal(check.status, 0, check.stderr);
  });

  test('per-channel DequantizeLinear keeps its axis as weight_dequantize_axis; a shared weight gets a CompressOp per layer; constant A and Cast chains are pruned in place', async () => {
    const rnd = seededRandom(6);
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'more',
        nodes: [
          node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0 }, { name: 'dq' }),
          node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'fc' }),
          node('MatMul', ['A', 'X2'], ['Y2'], {}, { name: 'a_const' }),
          node('Cast', ['Wh'], ['Wf'], { to: 1 }, { name: 'cast' }),
          node('MatMul', ['X', 'Wf'], ['Y3'], {}, { name: 'cast_mm' }),
          node('MatMul', ['X', 'Ws'], ['Y4'], {}, { name: 'shared1' }),
          node('MatMul', ['X', 'Ws'], ['Y5'], {}, { name: 'shared2' }),
        ],
        inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('X2', 'float32', [8, 2])],
        outputs: [
          valueInfo('Y', 'float32', [1, 2]),
          valueInfo('Y2', 'float32', [2, 2]),
          valueInfo('Y3', 'float32', [1, 4]),
          valueInfo('Y4', 'float32', [1, 4]),
          valueInfo('Y5', 'float32', [1, 4]),
        ],
        initializers: [
          makeTensor({ name: 'Wq', dtype: 'int8', dims: [2, 8], values: [3, 9, 3, 3, -7, 3, 3, 4, -3, -3, -3, -3, 0, -3, 5, -3] }),
          makeTensor({ name: 'scale', dtype: 'float32', dims: [2], values: [0.5, 0.25] }),
          makeTensor({ name: 'zp', dtype: 'int8', dims: [2], values: [3, -3] }),
          makeTensor({ name: 'A', dtype: 'float32', dims: [2, 8], values: randomWeights(16, rnd) }),
          makeTensor({ name: 'Wh', dtype: 'float16', dims: [8, 4], values: randomWeights(32, rnd) }),
          makeTensor({ name: 'Ws', dtype: 'float32', dims: [8, 4], values: randomWeights(32, rnd) }),
        ],
      }),
    });
    const report = await convertModel(input, { mode: 'ascend', out: join(input, '..', 'ascend.onnx') });
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.reason]), [
      ['fc', 'rewrite', null],
      ['a_const', 'prune', 'pruned in place, not rewritten for Ascend: only a constant weight in the second input (W or B) is rewritten'],
      ['cast_mm', 'prune', 'pruned in place, not rewritten for Ascend: weights behind Cast are not rewritten (a constant or one DequantizeLinear)'],
      ['shared1', 'rewrite', null],
      ['shared2', 'rewrite', null],
    ]);
    assert.equal(report.verified, true);
    const model = decodeModelFile(report.output!);
    const nodes = model.graph!.node!;
    const fc = nodes.find((n) => n.name === 'fc')!;
    assert.deepEqual(fc.input, ['X', 'fc.ascend_cvalues', 'fc.ascend_cindex', '', 'scale', 'zp']);
    assert.deepEqual(attrSummary(fc), { transB: 1, weight_shape: [2, 8], weight_dequantize_axis: 0 });
    assert.deepEqual(
      nodes.filter((n) => n.opType === 'CompressOp').map((n) => [n.name, n.input]),
      [
        ['fc.compress', ['Wq.ascend_values', 'Wq.ascend_index']],
        ['shared1.compress', ['Ws.ascend_values', 'Ws.ascend_index']],
        ['shared2.compress', ['Ws.ascend_values', 'Ws.ascend_index']],
      ],
    );
    assert.deepEqual(initializerNames(report.output!), ['scale', 'zp', 'A', 'Wh', 'Wq.ascend_values', 'Wq.ascend_index', 'Ws.ascend_values', 'Ws.ascend_index']);
    // Row 0 (zp 3): 0100 → 9, zp 3; 1001 → -7, 4. Row 1 (zp -3): 0000 → zp, zp; 1010 → 0, 5.
    const table = tensorTable(report.output!);
    assert.deepEqual(Array.from(new Int8Array(new Uint8Array(table.get('Wq.ascend_values')!.bytes).buffer)), [9, 3, -7, 4, -3, -3, 0, 5]);
    assert.deepEqual(Array.from(table.get('Wq.ascend_index')!.bytes), [0x81, 0x40]);
    const check = onnxCheckPlain(report.output!);
    assert.equal(check.status, 0, check.stderr);
  });

  test('external data: the Ascend values and index go to the output data file', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    const sink = new ExternalSink();
    const rnd = seededRandom(9);
    writeModel(
      input,
      {
        graph: graph({
          name: 'external',
          nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
          inputs: [valueInfo('X', 'float16', [1, 16])],
          outputs: [valueInfo('Y', 'float16', [1, 8])],
          initializers: [makeTensor({ name: 'W', dtype: 'float16', dims: [16, 8], values: randomWeights(128, rnd), storage: { external: 'w.bin' } }, sink)],
        }),
      },
      sink,
    );
    const report = await convertModel(input, { mode: 'ascend', out: join(dir, 'ascend.onnx') });
    const prune = await convertModel(input, { mode: 'prune', out: join(dir, 'pruned.onnx') });
    assert.equal(report.dataFile, join(dir, 'ascend.data'));
    assert.equal(report.verified, true);
    const out = decodeModelFile(report.output!);
    assert.deepEqual(
      ['W.ascend_values', 'W.ascend_index'].map((n) => [externalEntries(tensorProto(out, n)).location, Number(externalEntries(tensorProto(out, n)).length)]),
      [['ascend.data', 128], ['ascend.data', 16]],
    );
    const table = tensorTable(report.output!);
    const dense = decodeAscend({ rows: 8, cols: 16, elementSize: 2, values: new Uint8Array(table.get('W.ascend_values')!.bytes), index: new Uint8Array(table.get('W.ascend_index')!.bytes) }, new Uint8Array(2));
    assert.ok(Buffer.from(dense).equals(Buffer.from(asRowsByK(new Uint8Array(tensorTable(prune.output!).get('W')!.bytes), [16, 8], 0, 2))));
  });

  test('--pattern 1:4 is refused: ATC --sparsity=1 is 2:4 only; nothing is written', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, ascendModel('float16'));
    const before = listFolder(join(input, '..'));
    await assert.rejects(
      () => convertModel(input, { mode: 'ascend', pattern: { n: 1, m: 4 } }),
      (err: Error) => err instanceof ModelError && err.message.includes('ascend mode writes the ATC --sparsity=1 encoding, which is 2:4 only'),
    );
    assert.deepEqual(listFolder(join(input, '..')), before);
  });
});

// ---------------------------------------------------------------------------
// 6. The command line


describe('sparsity-lens convert --mode compress|ascend and decompress', () => {
  test('compress, then decompress: exit 0, the default names, the pruned tensors back', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, layerModel(LAYOUTS['Conv [3, 16, 2, 2]'], 'float16', 21));
    const compress = cli('convert', input, '--mode', 'compress');
    assert.equal(compress.code, 0, compress.stderr);
    assert.match(compress.stdout, /outputs bit-identical to the dense pruned model/);
    const decompress = cli('decompress', join(dir, 'model.compressed-2of4.onnx'));
    assert.equal(decompress.code, 0, decompress.stderr);
    const prune = cli('convert', input, '--mode', 'prune');
    assert.equal(prune.code, 0, prune.stderr);
    assert.deepEqual(listFolder(dir), ['model.compressed-2of4.onnx', 'model.decompressed.onnx', 'model.onnx', 'model.pruned-2of4.onnx']);
    assertSameTensors(join(dir, 'model.decompressed.onnx'), join(dir, 'model.pruned-2of4.onnx'), 'cli');
  });

  test('decompress of a model that is not compressed, and ascend at 1:4: exit 2, a readable message, nothing written', () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, layerModel(LAYOUTS['MatMul B [16, 6]'], 'float32', 22));
    for (const [args, message] of [
      [['decompress', input], /not a model compressed by Sparsity Lens/],
      [['convert', input, '--mode', 'ascend', '--pattern', '1:4'], /2:4 only/],
    ] as const) {
      const run = cli(...args);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      assert.deepEqual(listFolder(dir), ['model.onnx']);
    }
  });
});
