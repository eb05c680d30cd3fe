// Channel permutation before N:M pruning (convert --permute, src/engine/convert/permute): the search keeps more
// magnitude and never less; the permuted model computes what the input computes (ONNX Runtime, before pruning);
// layers whose producer cannot take the permutation are refused with the reason; pruning after the permutation keeps
// at least as much magnitude as pruning without it, through the CLI too.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { convertModel } from '../src/engine/convert/convert';
import { permuteAlong } from '../src/engine/convert/permute/apply';
import { convertWithPermutation, permuteModel } from '../src/engine/convert/permute/permute';
import { keptMagnitude, searchPermutation } from '../src/engine/convert/permute/search';
import type { PermutationReport } from '../src/engine/convert/permute/types';
import { CancelledError } from '../src/engine/errors';
import { ExternalSink, graph, makeTensor, node, randomWeights, seededRandom, valueInfo, writeModel } from './support/builder';
import { cli } from './support/cli';
import { tempDir } from './support/models';
import type { onnx } from 'onnx-proto';

const ROOT = join(__dirname, '..', '..');
const PATTERN = { n: 2, m: 4 };

/** A seeded R x K matrix of magnitudes uniform in [0, 1), column-major (as ASP's README tests a random 128 x 64 one). */
function randomColumns(R: number, K: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  return Float32Array.from({ length: R * K }, () => rnd());
}

function isPermutation(perm: Int32Array): boolean {
  return [...perm].sort((a, b) => a - b).every((v, i) => v === i);
}

describe('the permutation search', () => {
  test('raises the magnitude 2:4 keeps on a seeded random 128 x 64 matrix, below the unstructured bound', () => {
    const R = 128;
    const K = 64;
    const columns = randomColumns(R, K, 1);
    const r = searchPermutation(columns, R, K, { pattern: PATTERN });
    assert.ok(isPermutation(r.perm));
    const identity = Int32Array.from({ length: K }, (_, i) => i);
    assert.equal(r.plain, keptMagnitude(columns, R, K, identity, 2, 4));
    assert.equal(r.permuted, keptMagnitude(columns, R, K, r.perm, 2, 4));
    assert.ok(r.permuted > r.plain, `permuted ${r.permuted} > plain ${r.plain}`);
    assert.ok(r.permuted <= r.bound);
    assert.equal(r.budgetSpent, false, 'a 128 x 64 matrix converges within the default budget');
    // Efficacy as ASP states it: the share of the gap to the bound that the permutation closes.
    const efficacy = (r.permuted - r.plain) / (r.bound - r.plain);
    assert.ok(efficacy > 0.2, `efficacy ${efficacy}`);
  });

  test('is deterministic: the same matrix gives the same order', () => {
    const columns = randomColumns(64, 32, 7);
    const a = searchPermutation(columns, 64, 32, { pattern: PATTERN });
    const b = searchPermutation(columns, 64, 32, { pattern: PATTERN });
    assert.deepEqual([...a.perm], [...b.perm]);
  });

  test('keeps the identity when no order keeps more (a matrix already 2:4 along K)', () => {
    const R = 32;
    const K = 16;
    const columns = randomColumns(R, K, 3);
    // Channels 2 and 3 of every group are zero: pruning keeps everything, so nothing can beat the stored order.
    for (let c = 0; c < K; c++) if (c % 4 >= 2) columns.fill(0, c * R, (c + 1) * R);
    const r = searchPermutation(columns, R, K, { pattern: PATTERN });
    assert.deepEqual([...r.perm], [...Array(K).keys()]);
    assert.equal(r.permuted, r.plain);
    assert.equal(r.plain, r.total);
  });

  test('never lowers the kept magnitude, whatever the budget (a budget of one pair evaluation)', () => {
    for (const seed of [11, 12, 13]) {
      const columns = randomColumns(40, 24, seed);
      const r = searchPermutation(columns, 40, 24, { pattern: PATTERN, budget: 1 });
      assert.ok(r.permuted >= r.plain);
      assert.equal(r.permuted, keptMagnitude(columns, 40, 24, r.perm, 2, 4));
    }
  });

  test('searches other patterns (1:4, 2:8) and a sample of the rows of a tall matrix', () => {
    const columns = randomColumns(600, 32, 5);
    for (const pattern of [{ n: 1, m: 4 }, { n: 2, m: 8 }]) {
      const r = searchPermutation(columns, 600, 32, { pattern, sampleRows: 128 });
      assert.ok(isPermutation(r.perm));
      assert.ok(r.permuted > r.plain, `${pattern.n}:${pattern.m}: ${r.permuted} > ${r.plain}`);
      assert.equal(r.permuted, keptMagnitude(columns, 600, 32, r.perm, pattern.n, pattern.m));
    }
  });

  test('stops on a cancel', () => {
    const columns = randomColumns(128, 64, 1);
    assert.throws(() => searchPermutation(columns, 128, 64, { pattern: PATTERN, signal: { aborted: true } }), CancelledError);
  });

  test('permuteAlong moves whole slices: index c along the axis holds what index perm[c] held', () => {
    // dims [2, 3, 2] of one-byte elements, numbered by position.
    const bytes = Uint8Array.from({ length: 12 }, (_, i) => i);
    const out = permuteAlong(bytes, [2, 3, 2], 1, 1, Int32Array.from([2, 0, 1]));
    assert.deepEqual([...out], [4, 5, 0, 1, 2, 3, 10, 11, 6, 7, 8, 9]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Models built in code

const rnd = seededRandom(2021);
const f32 = (name: string, dims: number[], values?: Float32Array) => makeTensor({ name, dtype: 'float32', dims, values: values ?? randomWeights(dims.reduce((a, b) => a * b, 1), rnd) });
const positive = (name: string, n: number) => f32(name, [n], Float32Array.from({ length: n }, () => 0.5 + rnd()));

function write(dir: string, name: string, nodes: onnx.INodeProto[], inputs: onnx.IValueInfoProto[], outputs: onnx.IValueInfoProto[], initializers: onnx.ITensorProto[], opset = 17): string {
  const path = join(dir, `${name}.onnx`);
  writeModel(path, { graph: graph({ name, nodes, inputs, outputs, initializers }), opset });
  return path;
}

/** X [1, 8, 6, 6] -> Conv 'c1' (16 out, bias) -> BatchNormalization -> Relu -> Conv 'c2' (16 -> 8) -> Y. */
function convChain(dir: string): string {
  return write(
    dir,
    'conv',
    [
      node('Conv', ['X', 'W1', 'B1'], ['A'], { pads: [1, 1, 1, 1] }, { name: 'c1' }),
      node('BatchNormalization', ['A', 'S', 'Bb', 'M', 'V'], ['N'], {}, { name: 'bn' }),
      node('Relu', ['N'], ['R'], {}, { name: 'relu' }),
      node('Conv', ['R', 'W2'], ['Y'], { pads: [1, 1, 1, 1] }, { name: 'c2' }),
    ],
    [valueInfo('X', 'float32', [1, 8, 6, 6])],
    [valueInfo('Y', 'float32', [1, 8, 6, 6])],
    [f32('W1', [16, 8, 3, 3]), f32('B1', [16]), positive('S', 16), f32('Bb', [16]), f32('M', [16]), positive('V', 16), f32('W2', [8, 16, 3, 3])],
  );
}

/** X [1, 8, 6, 6] -> Conv 'pw1' (16 out) -> Relu -> depthwise Conv 'dw' (bias) -> Conv 'pw2' (16 -> 8): MobileNet's pattern. */
function depthwiseChain(dir: string): string {
  return write(
    dir,
    'depthwise',
    [
      node('Conv', ['X', 'W1'], ['A'], {}, { name: 'pw1' }),
      node('Relu', ['A'], ['R'], {}, { name: 'relu' }),
      node('Conv', ['R', 'Wd', 'Bd'], ['D'], { group: 16, pads: [1, 1, 1, 1] }, { name: 'dw' }),
      node('Conv', ['D', 'W2'], ['Y'], {}, { name: 'pw2' }),
    ],
    [valueInfo('X', 'float32', [1, 8, 6, 6])],
    [valueInfo('Y', 'float32', [1, 8, 6, 6])],
    [f32('W1', [16, 8, 1, 1]), f32('Wd', [16, 1, 3, 3]), f32('Bd', [16]), f32('W2', [8, 16, 1, 1])],
  );
}

/** X [2, 16] -> Gemm 'g1' (B [16, 32], C [32]) -> Relu -> Gemm 'g2' (transB, B [8, 32], C [8]) -> Y. */
function gemmChain(dir: string, width = 32): string {
  return write(
    dir,
    'gemm',
    [
      node('Gemm', ['X', 'G1', 'C1'], ['A'], {}, { name: 'g1' }),
      node('Relu', ['A'], ['R'], {}, { name: 'relu' }),
      node('Gemm', ['R', 'G2', 'C2'], ['Y'], { transB: 1 }, { name: 'g2' }),
    ],
    [valueInfo('X', 'float32', [2, 16])],
    [valueInfo('Y', 'float32', [2, 8])],
    [f32('G1', [16, width]), f32('C1', [width]), f32('G2', [8, width]), f32('C2', [8])],
  );
}

/** X [2, 3, 16] -> MatMul 'm1' (W [16, 32]) -> Add (bias [32]) -> Gelu -> MatMul 'm2' (W [32, 8]) -> Y (opset 20: Gelu). */
function matmulChain(dir: string): string {
  return write(
    dir,
    'matmul',
    [
      node('MatMul', ['X', 'W1'], ['A'], {}, { name: 'm1' }),
      node('Add', ['A', 'Bias'], ['B'], {}, { name: 'add' }),
      node('Gelu', ['B'], ['G'], {}, { name: 'gelu' }),
      node('MatMul', ['G', 'W2'], ['Y'], {}, { name: 'm2' }),
    ],
    [valueInfo('X', 'float32', [2, 3, 16])],
    [valueInfo('Y', 'float32', [2, 3, 8])],
    [f32('W1', [16, 32]), f32('Bias', [32]), f32('W2', [32, 8])],
    20,
  );
}

/** Both models on the same seeded input: every output element's largest difference, and whether all are bit-identical. */
async function runBoth(a: string, b: string, inputs: Record<string, number[]>): Promise<{ maxAbsDiff: number; maxAbs: number; identical: boolean }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node');
  const feeds: Record<string, unknown> = {};
  const r = seededRandom(99);
  for (const [name, dims] of Object.entries(inputs)) {
    feeds[name] = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, () => r() * 2 - 1), dims);
  }
  const run = async (path: string) => {
    const session = await ort.InferenceSession.create(path);
    const out = await session.run(feeds);
    await session.release();
    return out.Y.data as Float32Array;
  };
  const x = await run(a);
  const y = await run(b);
  let maxAbsDiff = 0;
  let maxAbs = 0;
  let identical = true;
  for (let i = 0; i < x.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x[i] - y[i]));
    maxAbs = Math.max(maxAbs, Math.abs(x[i]));
    if (!Object.is(x[i], y[i])) identical = false;
  }
  return { maxAbsDiff, maxAbs, identical };
}

function layerOf(report: PermutationReport, name: string) {
  const found = report.layers.find((l) => l.name === name);
  assert.ok(found, `no layer '${name}' in ${report.layers.map((l) => l.name).join(', ')}`);
  return found;
}

describe('the permuted model computes what the input computes (ONNX Runtime, before pruning)', () => {
  const cases: [string, (dir: string) => string, string, string, string[], Record<string, number[]>][] = [
    ['Conv -> BatchNormalization -> Relu -> Conv', convChain, 'c2', "Conv 'c1'", ['W2 axis 1', 'W1 axis 0', 'B1 axis 0', 'S axis 0', 'Bb axis 0', 'M axis 0', 'V axis 0'], { X: [1, 8, 6, 6] }],
    ['Conv -> Relu -> depthwise Conv -> Conv (the permutation passes back through the depthwise layer)', depthwiseChain, 'pw2', "Conv 'pw1'", ['W2 axis 1', 'Wd axis 0', 'Bd axis 0', 'W1 axis 0'], { X: [1, 8, 6, 6] }],
    ['Gemm -> Relu -> Gemm (transB)', gemmChain, 'g2', "Gemm 'g1'", ['G2 axis 1', 'G1 axis 1', 'C1 axis 0'], { X: [2, 16] }],
    ['MatMul -> Add -> Gelu -> MatMul', matmulChain, 'm2', "MatMul 'm1'", ['W2 axis 0', 'Bias axis 0', 'W1 axis 1'], { X: [2, 3, 16] }],
  ];
  for (const [title, build, layer, producer, tensors, inputs] of cases) {
    test(title, async () => {
      const dir = tempDir();
      const input = build(dir);
      const output = join(dir, 'permuted.onnx');
      const report = await permuteModel(input, output, { pattern: PATTERN });
      const l = layerOf(report, layer);
      assert.equal(l.status, 'permuted', l.reason ?? '');
      assert.equal(l.producer, producer);
      assert.deepEqual(l.tensors.sort(), [...tensors].sort());
      assert.ok(l.retainedPermuted! > l.retainedPlain!);
      // The weights did change on disk.
      assert.notDeepEqual(readFileSync(output), readFileSync(input));
      const { maxAbsDiff, maxAbs, identical } = await runBoth(input, output, inputs);
      // Not bit-exact in general: the layer sums its input channels in another order, and float addition is not
      // associative. A few ulps of the largest output, far below any pruning effect.
      assert.ok(maxAbsDiff <= maxAbs * 1e-5, `max |diff| ${maxAbsDiff} against max |y| ${maxAbs} (identical: ${identical})`);
      // The report's own ONNX Runtime check agrees.
      assert.equal(report.runtime?.ran, true, report.runtime?.note);
      assert.ok(report.runtime!.outputs.every((o) => o.cosine! > 1 - 1e-9));
    });
  }
});

test('weights stored in typed fields (float_data) are permuted there, and the model still computes the same', async () => {
  const dir = tempDir();
  const typed = (name: string, dims: number[]) => makeTensor({ name, dtype: 'float32', dims, values: randomWeights(dims.reduce((x, y) => x * y, 1), rnd), storage: 'typed' });
  const input = write(
    dir,
    'typed',
    [node('MatMul', ['X', 'W1'], ['A'], {}, { name: 'm1' }), node('Add', ['A', 'Bias'], ['B'], {}, { name: 'add' }), node('Relu', ['B'], ['R']), node('MatMul', ['R', 'W2'], ['Y'], {}, { name: 'm2' })],
    [valueInfo('X', 'float32', [2, 16])],
    [valueInfo('Y', 'float32', [2, 8])],
    [typed('W1', [16, 32]), typed('Bias', [32]), typed('W2', [32, 8])],
  );
  const output = join(dir, 'permuted.onnx');
  const report = await permuteModel(input, output);
  assert.equal(layerOf(report, 'm2').status, 'permuted');
  assert.notDeepEqual(readFileSync(output), readFileSync(input));
  const { maxAbsDiff, maxAbs } = await runBoth(input, output, { X: [2, 16] });
  assert.ok(maxAbsDiff <= maxAbs * 1e-5, `max |diff| ${maxAbsDiff} against max |y| ${maxAbs}`);
});

describe('layers whose producer cannot take the permutation are refused, with the reason', () => {
  test('a layer fed by a graph input', async () => {
    const dir = tempDir();
    const path = write(dir, 'input', [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], [valueInfo('X', 'float32', [2, 16])], [valueInfo('Y', 'float32', [2, 8])], [f32('W', [16, 8])]);
    const l = layerOf(await permuteModel(path, null), 'fc');
    assert.equal(l.status, 'refused');
    assert.match(l.reason!, /its input 'X' is a graph input: there is no producer to permute/);
  });

  test('a residual Add fed by two producers', async () => {
    const dir = tempDir();
    const path = write(
      dir,
      'residual',
      [
        node('MatMul', ['X', 'W1'], ['A'], {}, { name: 'fc1' }),
        node('MatMul', ['X', 'W2'], ['B'], {}, { name: 'fc2' }),
        node('Add', ['A', 'B'], ['S'], {}, { name: 'residual' }),
        node('MatMul', ['S', 'W3'], ['Y'], {}, { name: 'fc3' }),
      ],
      [valueInfo('X', 'float32', [2, 16])],
      [valueInfo('Y', 'float32', [2, 8])],
      [f32('W1', [16, 16]), f32('W2', [16, 16]), f32('W3', [16, 8])],
    );
    const l = layerOf(await permuteModel(path, null), 'fc3');
    assert.equal(l.status, 'refused');
    assert.match(l.reason!, /'Add' node 'residual' combines two computed tensors \(a residual connection\?\)/);
  });

  test('a tensor read by two layers (a branch)', async () => {
    const dir = tempDir();
    const path = write(
      dir,
      'branch',
      [
        node('MatMul', ['X', 'W1'], ['A'], {}, { name: 'fc1' }),
        node('MatMul', ['A', 'W2'], ['Y'], {}, { name: 'fc2' }),
        node('MatMul', ['A', 'W3'], ['Z'], {}, { name: 'fc3' }),
      ],
      [valueInfo('X', 'float32', [2, 16])],
      [valueInfo('Y', 'float32', [2, 8]), valueInfo('Z', 'float32', [2, 8])],
      [f32('W1', [16, 16]), f32('W2', [16, 8]), f32('W3', [16, 8])],
    );
    const l = layerOf(await permuteModel(path, null), 'fc2');
    assert.match(l.reason!, /'A' is read by 2 nodes or graph outputs/);
  });

  test('a Reshape between the producer and the layer', async () => {
    const dir = tempDir();
    const shape = makeTensor({ name: 'shape', dtype: 'int64', dims: [2], values: [2, 16] });
    const path = write(
      dir,
      'reshape',
      [node('MatMul', ['X', 'W1'], ['A'], {}, { name: 'fc1' }), node('Reshape', ['A', 'shape'], ['R'], {}, { name: 'reshape' }), node('MatMul', ['R', 'W2'], ['Y'], {}, { name: 'fc2' })],
      [valueInfo('X', 'float32', [2, 16])],
      [valueInfo('Y', 'float32', [2, 8])],
      [f32('W1', [16, 16]), shape, f32('W2', [16, 8])],
    );
    const l = layerOf(await permuteModel(path, null), 'fc2');
    assert.equal(l.status, 'refused');
    assert.match(l.reason!, /'Reshape' node 'reshape' between the producer and the layer changes the layout/);
  });

  test('a depthwise convolution as the layer (never searched: not eligible), a grouped one as the producer', async () => {
    const dir = tempDir();
    const path = write(
      dir,
      'grouped-producer',
      [
        node('Conv', ['X', 'Wd'], ['D'], { group: 8, pads: [1, 1, 1, 1] }, { name: 'dw' }),
        node('Conv', ['D', 'Wg'], ['G'], { group: 2 }, { name: 'cg' }),
        node('Conv', ['G', 'W2'], ['Y'], {}, { name: 'c2' }),
      ],
      [valueInfo('X', 'float32', [1, 8, 6, 6])],
      [valueInfo('Y', 'float32', [1, 8, 6, 6])],
      [f32('Wd', [8, 1, 3, 3]), f32('Wg', [16, 4, 1, 1]), f32('W2', [8, 16, 1, 1])],
    );
    const report = await permuteModel(path, null);
    // 1 input channel per group < M = 4: the depthwise layer is not eligible for 2:4, so it is never searched.
    assert.equal(report.layers.some((l) => l.name === 'dw'), false);
    assert.match(layerOf(report, 'c2').reason!, /producer 'Conv' node 'cg': grouped convolution \(group=2\): its output channels are tied to their groups/);
  });

  test('a grouped convolution as the layer', async () => {
    const dir = tempDir();
    const path = write(
      dir,
      'grouped',
      [node('Conv', ['X', 'W1'], ['A'], {}, { name: 'c1' }), node('Conv', ['A', 'Wg'], ['Y'], { group: 2 }, { name: 'cg' })],
      [valueInfo('X', 'float32', [1, 8, 4, 4])],
      [valueInfo('Y', 'float32', [1, 8, 4, 4])],
      [f32('W1', [16, 8, 1, 1]), f32('Wg', [8, 8, 1, 1])],
    );
    assert.match(layerOf(await permuteModel(path, null), 'cg').reason!, /^grouped convolution \(group=2\): its input channels are tied to their groups$/);
  });
});

describe('--permute: what it does not do yet, progress and cancel', () => {
  test('a model with external data is refused as a whole, naming the file, and nothing is written', async () => {
    const dir = tempDir();
    const sink = new ExternalSink();
    const path = join(dir, 'external.onnx');
    const w1 = makeTensor({ name: 'W1', dtype: 'float32', dims: [16, 16], values: randomWeights(256, rnd), storage: { external: 'weights.bin' } }, sink);
    writeModel(
      path,
      {
        graph: graph({
          name: 'external',
          nodes: [node('MatMul', ['X', 'W1'], ['A'], {}, { name: 'fc1' }), node('Relu', ['A'], ['R']), node('MatMul', ['R', 'W2'], ['Y'], {}, { name: 'fc2' })],
          inputs: [valueInfo('X', 'float32', [2, 16])],
          outputs: [valueInfo('Y', 'float32', [2, 8])],
          initializers: [w1, f32('W2', [16, 8])],
        }),
      },
      sink,
    );
    const out = join(dir, 'out.onnx');
    await assert.rejects(convertWithPermutation(path, { mode: 'prune', out }), /external\.onnx: --permute does not handle models with external data yet: convert without --permute/);
    assert.equal(existsSync(out), false);
  });

  test('says how many layers it has searched, as it goes', async () => {
    const dir = tempDir();
    const calls: [number, number][] = [];
    await permuteModel(gemmChain(dir), null, { onProgress: (done, total) => calls.push([done, total]) });
    assert.deepEqual(calls, [[0, 2], [1, 2], [2, 2]]);
  });

  test('a cancel before the search stops it', async () => {
    const dir = tempDir();
    await assert.rejects(permuteModel(gemmChain(dir), null, { signal: AbortSignal.abort() }), CancelledError);
  });
});

describe('pruning after the permutation keeps at least the magnitude pruning keeps without it', () => {
  test('a Gemm -> Relu -> Gemm model: the pruned permuted model keeps more, and every layer passes', async () => {
    const dir = tempDir();
    const input = gemmChain(dir, 64);
    const plain = await convertModel(input, { mode: 'prune', out: join(dir, 'plain.onnx') });
    const permuted = await convertWithPermutation(input, { mode: 'prune', out: join(dir, 'permuted.onnx') });
    assert.equal(permuted.written, true);
    assert.equal(permuted.verified, true);
    assert.equal(permuted.model, input);
    const g2 = permuted.permutation!.layers.find((l) => l.name === 'g2')!;
    assert.equal(g2.status, 'permuted');
    // The pruner's own count on the written weight is what the search promised.
    const changed = permuted.layers.find((l) => l.name === 'g2')!;
    assert.ok(Math.abs(changed.retainedMagnitude! - g2.retainedPermuted!) < 1e-6);
    assert.ok(Math.abs(plain.layers.find((l) => l.name === 'g2')!.retainedMagnitude! - g2.retainedPlain!) < 1e-6);
    assert.ok(permuted.summary.retainedMagnitude! > plain.summary.retainedMagnitude!);
    // Pruning changes the outputs by the same kind of amount either way: both compared with ONNX Runtime.
    assert.equal(permuted.runtime?.ran, true);
  });

  test('media/sample.onnx: retained magnitude with --permute >= without', async () => {
    const dir = tempDir();
    const sample = join(ROOT, 'media', 'sample.onnx');
    const plain = await convertModel(sample, { mode: 'prune', out: join(dir, 'plain.onnx') });
    const permuted = await convertWithPermutation(sample, { mode: 'prune', out: join(dir, 'permuted.onnx') });
    assert.equal(permuted.verified, true);
    assert.ok(permuted.summary.retainedMagnitude! >= plain.summary.retainedMagnitude!, `${permuted.summary.retainedMagnitude} >= ${plain.summary.retainedMagnitude}`);
    const p = permuted.permutation!;
    // conv2 is nearly 2:4 already: no order beats the stored one; conv3 is reached through the depthwise dw.
    assert.deepEqual(Object.fromEntries(p.layers.map((l) => [l.name, l.status])), { conv2: 'identity', conv3: 'permuted', fc2: 'permuted' });
    assert.equal(layerOf(p, 'conv3').producer, "Conv 'conv2'");
    assert.ok(p.summary.retainedPermuted! >= p.summary.retainedPlain!);
    assert.ok(p.runtime?.ran);
  });

  test('the CLI: convert --permute prints the permutation section; --mode compress composes', () => {
    const dir = tempDir();
    const input = gemmChain(dir, 64);
    const run = cli('convert', input, '--mode', 'compress', '--permute', '--out', join(dir, 'out.onnx'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /channel permutation \(2:4\): 1 permuted, 0 kept their order, 1 refused/);
    assert.match(run.stdout, /g2 +permuted +\d+\.\d\d% +\d+\.\d\d% +\d+\.\d\d% +from Gemm 'g1' through Relu/);
    assert.match(run.stdout, /g1 +refused .*its input 'X' is a graph input/);
    assert.match(run.stdout, /decode graph: outputs bit-identical to the dense pruned model/);
    const json = JSON.parse(cli('convert', input, '--mode', 'prune', '--permute', '--dry-run', '--format', 'json').stdout);
    assert.equal(json.permutation.summary.permuted, 1);
  });
});
