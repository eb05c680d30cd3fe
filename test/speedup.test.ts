// The speedup projection (issue 4, domain.md §6): MACs of each layer kind, the roofline worked out by hand on a
// profile of round numbers, folding and epilogue fusion, symbolic dims, the hardware profiles, the CLI, and the
// calibration against published measurements that the README documents.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type DTypeName, type ModelSpec, graph, makeTensor, node, valueInfo } from './support/builder';
import type { InspectReport, LayerReport, LayerSpeedup } from '../src/engine/sparsity/inspect';
import { type HardwareProfile, PROFILES, resolveProfile } from '../src/engine/speedup/profiles';
import type { LayerProjection, ProjectOptions, Projection } from '../src/engine/speedup/project';
import { CALIBRATION_CASES, runCalibration } from '../scripts/calibration';
import { inspectSpec, tempDir, writeTempModel } from './support/models';
import { ROUND } from './support/profiles';

// ---------------------------------------------------------------------------
// Models and profiles

const count = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);

/** A weight [K, N] (or any dims, K on `kAxis`) that passes 2:4: along K, positions 0 and 1 of each group of 4 are kept. */
function passing(name: string, dtype: DTypeName, dims: number[], kAxis = 0): onnx.ITensorProto {
  const inner = count(dims.slice(kAxis + 1));
  const values = Array.from({ length: count(dims) }, (_, i) => (Math.floor(i / inner) % dims[kAxis]) % 4 < 2 ? 1 : 0);
  return makeTensor({ name, dtype, dims, values });
}

/** A weight [K, N] that holds 1:2 (and so 2:4) along K: even positions kept, what float32 (TF32) sparse kernels need. */
function onePerPair(name: string, dtype: DTypeName, dims: number[], kAxis = 0): onnx.ITensorProto {
  const inner = count(dims.slice(kAxis + 1));
  const values = Array.from({ length: count(dims) }, (_, i) => ((Math.floor(i / inner) % dims[kAxis]) % 2 === 0 ? 1 : 0));
  return makeTensor({ name, dtype, dims, values });
}

/** A dense weight: every element 1, so every group of 4 fails 2:4. */
function dense(name: string, dtype: DTypeName, dims: number[]): onnx.ITensorProto {
  return makeTensor({ name, dtype, dims, values: new Array<number>(count(dims)).fill(1) });
}

function model(spec: { inputs: onnx.IValueInfoProto[]; nodes: onnx.INodeProto[]; initializers?: onnx.ITensorProto[]; opset?: number }): ModelSpec {
  const last = spec.nodes[spec.nodes.length - 1].output![0];
  return {
    opset: spec.opset ?? 17,
    graph: graph({ name: 'speedup', nodes: spec.nodes, inputs: spec.inputs, outputs: [{ name: last }], initializers: spec.initializers }),
  };
}

/** x [m, k] → MatMul by a weight [k, n] named 'fc' → y. */
function linear(m: number, k: number, n: number, dtype: DTypeName, weight: typeof passing = passing): ModelSpec {
  return model({
    inputs: [valueInfo('x', dtype, [m, k])],
    nodes: [node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
    initializers: [weight('w', dtype, [k, n])],
  });
}

function roundProfile(changes: Record<string, unknown> = {}): HardwareProfile {
  const profile = resolveProfile({ ...ROUND, ...changes } as unknown as HardwareProfile);
  if (typeof profile === 'string') throw new Error(profile);
  return profile;
}

/** Seconds of math at `tera` tera-ops per second: a multiply-add is 2 ops. */
const math = (macs: number, tera: number) => (2 * macs) / (tera * 1e12);
/** Seconds to move `bytes` at the round profile's 1000 GB/s. */
const memory = (bytes: number) => bytes / 1e12;

async function inspectWith(spec: ModelSpec, options: Partial<ProjectOptions> = {}): Promise<InspectReport> {
  return inspectSpec(spec, { speedup: { hardware: roundProfile(), ...options } });
}

async function project(spec: ModelSpec, options: Partial<ProjectOptions> = {}): Promise<Projection> {
  const projection = (await inspectWith(spec, options)).projection;
  assert.ok(projection, 'the report has a projection');
  return projection;
}

function layerOf(projection: Projection, name: string): LayerProjection {
  const found = projection.layers.find((l) => l.name === name);
  assert.ok(found, `no layer '${name}' in the projection: ${projection.layers.map((l) => l.name).join(', ')}`);
  return found;
}

/** Equal to within 1e-12 relative: the projection is a handful of float operations. */
function assertClose(actual: number | null | undefined, expected: number, what = ''): void {
  assert.ok(typeof actual === 'number', `${what}: expected a number, got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.abs(expected), `${what}: ${actual} is not ${expected}`);
}

// ---------------------------------------------------------------------------

describe('MACs of each kind of layer', () => {
  test('Conv with pads, strides, dilations and groups: N·OC·OH·OW·(IC/g)·kh·kw', async () => {
    // x [2, 8, 10, 12], w [16, 4, 3, 3] in 2 groups: OH = floor((10 + 1 + 1 - 5) / 2) + 1 = 4 (a dilated 3 spans 5),
    // OW = floor((12 + 2 + 2 - 3) / 3) + 1 = 5.
    const spec = model({
      inputs: [valueInfo('x', 'float32', [2, 8, 10, 12])],
      nodes: [node('Conv', ['x', 'w'], ['y'], { group: 2, pads: [1, 2, 1, 2], strides: [2, 3], dilations: [2, 1] }, { name: 'conv' })],
      initializers: [passing('w', 'float32', [16, 4, 3, 3], 1)],
    });
    const report = await inspectWith(spec);
    assert.equal(layerOf(report.projection!, 'conv').macs, 2 * 16 * 4 * 5 * 4 * 3 * 3);
    assert.equal((report.layers[0] as LayerReport & LayerSpeedup).macs, 23040); // and on the report's layer
  });

  test('MatMul of a 3-D activation [b, s, h] by a weight [h, n]: b·s·h·n, as one GEMM of b·s rows', async () => {
    const spec = model({
      inputs: [valueInfo('x', 'float16', [3, 5, 8])],
      nodes: [node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
      initializers: [passing('w', 'float16', [8, 12])],
    });
    const fc = layerOf(await project(spec), 'fc');
    assert.equal(fc.macs, 3 * 5 * 8 * 12);
    assert.equal(fc.rows, 15);
  });

  test('Gemm with transA and transB: A stored [K, M], B stored [N, K]', async () => {
    const spec = model({
      inputs: [valueInfo('a', 'float32', [8, 6])],
      nodes: [node('Gemm', ['a', 'b'], ['y'], { transA: 1, transB: 1 }, { name: 'gemm' })],
      initializers: [passing('b', 'float32', [12, 8], 1)],
    });
    const gemm = layerOf(await project(spec), 'gemm');
    assert.equal(gemm.macs, 6 * 12 * 8);
    assert.equal(gemm.rows, 6);
  });

  test('MatMul by a batched weight [4, 8, 12] broadcasts a 2-D activation [5, 8]: 4·5·8·12', async () => {
    const spec = model({
      inputs: [valueInfo('x', 'float32', [5, 8])],
      nodes: [node('MatMul', ['x', 'w'], ['y'], {}, { name: 'batched' })],
      initializers: [passing('w', 'float32', [4, 8, 12], 1)],
    });
    assert.equal(layerOf(await project(spec), 'batched').macs, 1920);
  });

  test('ConvTranspose runs its GEMM from the input side: N·IC·IH·IW·(OC/g)·kh·kw, and is never sparse', async () => {
    // x [1, 8, 5, 5], w [8, 2, 3, 3] in 2 groups: 4 output channels.
    const spec = model({
      inputs: [valueInfo('x', 'float32', [1, 8, 5, 5])],
      nodes: [node('ConvTranspose', ['x', 'w'], ['y'], { group: 2, strides: [2, 2] }, { name: 'up' })],
      initializers: [passing('w', 'float32', [8, 2, 3, 3], 1)],
    });
    const up = layerOf(await project(spec), 'up');
    assert.equal(up.macs, 1 * 8 * 5 * 5 * 2 * 3 * 3);
    // y [1, 4, 11, 11]: (5 - 1) · 2 + 3. Its weight is read once: 144 fp32 values.
    assert.deepEqual([up.weightBytes, up.activationBytesIn, up.activationBytesOut], [576, 800, 1936]);
    assertClose(up.denseTime, memory(576 + 800 + 1936), 'dense');
    assert.equal(up.passes, false);
    assert.equal(up.sparseTime, up.denseTime);
    assert.deepEqual(up.flags, ['ineligible: always dense']);
  });

  test('an activation × activation MatMul is no layer, but its time counts, the same dense and sparse', async () => {
    // x [2048, 512] → fc (weight [512, 512], passes) → h; h × b [512, 2048] → y. Both GEMMs are math-bound.
    const spec = model({
      inputs: [valueInfo('x', 'float16', [2048, 512]), valueInfo('b', 'float16', [512, 2048])],
      nodes: [node('MatMul', ['x', 'w'], ['h'], {}, { name: 'fc' }), node('MatMul', ['h', 'b'], ['y'], {}, { name: 'scores' })],
      initializers: [passing('w', 'float16', [512, 512])],
    });
    const p = await project(spec);
    assert.deepEqual(p.layers.map((l) => l.name), ['fc']);
    const scores = math(2048 * 512 * 2048, 100); // 4.29e-5 s; its 12 MiB of bytes take 1.26e-5 s
    assertClose(p.denseTime, math(2048 * 512 * 512, 100) + scores, 'dense');
    assertClose(p.sparseTime, math(2048 * 512 * 512, 200) + scores, 'sparse');
    assert.equal(p.otherOps.count, 1);
    assertClose(p.otherOps.denseTime, scores, 'other ops');
  });
});

describe('the roofline, by hand on a profile of round numbers', () => {
  test('a math-bound fp16 layer: 2·MACs / peak, dense at 100 and sparse at 200 TFLOPS, exactly 2x', async () => {
    // x [4096, 512] · w [512, 512]: 2^30 MACs. Bytes: weight 512 KiB (288 KiB compressed), activations 8 MiB.
    const fc = layerOf(await project(linear(4096, 512, 512, 'float16')), 'fc');
    assert.equal(fc.macs, 2 ** 30);
    assert.equal(fc.weightBytes, 524288);
    assert.equal(fc.activationBytesIn, 4194304);
    assert.equal(fc.activationBytesOut, 4194304);
    assertClose(fc.denseTime, 2.147483648e-5, 'dense'); // memory would be 8.91e-6
    assertClose(fc.sparseTime, 1.073741824e-5, 'sparse'); // memory would be 8.68e-6
    assert.equal(fc.bound, 'math');
    assert.equal(fc.sparseBound, 'math');
    assertClose(fc.speedup, 2, 'speedup');
    assert.equal(fc.passes, true);
    assert.equal(fc.speedupIfFixed, null);
    assert.deepEqual(fc.flags, []);
  });

  test('a memory-bound fp16 GEMV reads 9/16 of the weight bytes sparse', async () => {
    const p = await project(linear(1, 512, 512, 'float16'));
    const fc = layerOf(p, 'fc');
    assertClose(fc.denseTime, memory(524288 + 1024 + 1024), 'dense');
    assertClose(fc.sparseTime, memory((524288 * 9) / 16 + 2048), 'sparse');
    assert.equal(fc.bound, 'memory');
    assert.equal(fc.sparseBound, 'memory');
    assertClose(fc.speedup, 526336 / 296960, 'speedup');
    assert.equal(fc.flags.length, 1);
    assert.match(fc.flags[0], /^memory-bound at these sizes: sparsity saves only weight bytes, not math$/);
  });

  test('a memory-bound int8 GEMV (weight behind DequantizeLinear) reads 10/16, at the int8 peaks', async () => {
    const spec = model({
      inputs: [valueInfo('x', 'float32', [1, 512])],
      nodes: [node('DequantizeLinear', ['w_q', 'scale'], ['w']), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
      initializers: [passing('w_q', 'int8', [512, 512]), makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.01] })],
    });
    const fc = layerOf(await project(spec), 'fc');
    assert.equal(fc.computeType, 'int8');
    assert.equal(fc.weightBytes, 262144);
    assertClose(fc.denseTime, memory(262144 + 2048 + 2048), 'dense');
    assertClose(fc.sparseTime, memory((262144 * 10) / 16 + 4096), 'sparse');
    assertClose(fc.speedup, 266240 / 167936, 'speedup');
  });

  test('a memory-bound fp32 GEMV reads 8.5/16', async () => {
    // TF32 sparse tensor cores need 1:2 (issue 13): a weight that holds only 2:4 stays dense (test/deploy.test.ts).
    const fc = layerOf(await project(linear(1, 512, 512, 'float32', onePerPair)), 'fc');
    assert.equal(fc.computeType, 'float32');
    assertClose(fc.denseTime, memory(1048576 + 4096), 'dense');
    assertClose(fc.sparseTime, memory((1048576 * 8.5) / 16 + 4096), 'sparse');
  });

  test('int8 math runs at the int8 peaks: 200 dense, 400 sparse', async () => {
    // x int8 [4096, 2048] · w int8 [2048, 512] → int32: 2^32 MACs; 17.4 MB sparse take 1.74e-5 s, the math 2.15e-5 s.
    const spec = model({
      inputs: [valueInfo('x', 'int8', [4096, 2048])],
      nodes: [node('MatMulInteger', ['x', 'w'], ['y'], {}, { name: 'fc' })],
      initializers: [passing('w', 'int8', [2048, 512])],
    });
    const fc = layerOf(await project(spec), 'fc');
    assert.equal(fc.computeType, 'int8');
    assert.equal(fc.activationBytesOut, 4096 * 512 * 4);
    assertClose(fc.denseTime, math(2 ** 32, 200), 'dense');
    assertClose(fc.sparseTime, math(2 ** 32, 400), 'sparse');
    assert.deepEqual([fc.bound, fc.sparseBound], ['math', 'math']);
  });

  test('a layer that fails 2:4 keeps its dense time and says what fixing it would buy', async () => {
    const p = await project(linear(4096, 512, 512, 'float16', dense));
    const fc = layerOf(p, 'fc');
    assert.equal(fc.passes, false);
    assertClose(fc.denseTime, 2.147483648e-5, 'dense');
    assert.equal(fc.sparseTime, fc.denseTime);
    assert.equal(fc.speedup, 1);
    assertClose(fc.speedupIfFixed, 2, 'if fixed');
    assert.deepEqual(fc.flags, ['fails 2:4 (100.00% of groups violate): fixing it would make the model 2.000x']);
    assert.equal(p.speedup, 1);
    assertClose(p.speedupIfAllPass, 2, 'if all pass');
  });

  test('an ineligible layer (K = 510, not a multiple of 4) stays dense, with nothing to fix', async () => {
    const p = await project(linear(4096, 510, 512, 'float16', dense));
    const fc = layerOf(p, 'fc');
    assertClose(fc.denseTime, math(4096 * 510 * 512, 100), 'dense');
    assert.equal(fc.sparseTime, fc.denseTime);
    assert.equal(fc.speedupIfFixed, null);
    assert.deepEqual(fc.flags, ['ineligible: always dense']);
    assert.equal(p.speedupIfAllPass, 1);
  });

  test('a Relu is memory-bound: bytes in + out over the bandwidth, the same dense and sparse', async () => {
    const p = await project(model({ inputs: [valueInfo('x', 'float16', [4096, 512])], nodes: [node('Relu', ['x'], ['y'])] }));
    assert.deepEqual(p.layers, []);
    assertClose(p.denseTime, memory(2 * 4194304), 'dense');
    assert.equal(p.sparseTime, p.denseTime);
    assert.equal(p.speedup, 1);
    assert.deepEqual(p.otherOps, { count: 1, denseTime: p.denseTime, share: 1 });
  });

  test('end to end is total dense over total sparse (Amdahl): a passing layer, a Relu, a failing layer', async () => {
    const spec = model({
      inputs: [valueInfo('x', 'float16', [4096, 512])],
      nodes: [node('MatMul', ['x', 'w1'], ['h'], {}, { name: 'fc1' }), node('Relu', ['h'], ['r']), node('MatMul', ['r', 'w2'], ['y'], {}, { name: 'fc2' })],
      initializers: [passing('w1', 'float16', [512, 512]), dense('w2', 'float16', [512, 512])],
    });
    const p = await project(spec);
    const gemmDense = 2.147483648e-5;
    const gemmSparse = 1.073741824e-5;
    const relu = 8.388608e-6;
    assertClose(p.denseTime, gemmDense + relu + gemmDense, 'dense');
    assertClose(p.sparseTime, gemmSparse + relu + gemmDense, 'sparse');
    assertClose(p.speedup, (2 * gemmDense + relu) / (gemmSparse + relu + gemmDense), 'speedup'); // 1.2898...
    assertClose(p.speedupIfAllPass, (2 * gemmDense + relu) / (2 * gemmSparse + relu), 'if all pass');
    assertClose(layerOf(p, 'fc1').share, gemmDense / (2 * gemmDense + relu), 'share');
    assertClose(layerOf(p, 'fc2').speedupIfFixed, (2 * gemmDense + relu) / (2 * gemmSparse + relu), 'fc2 if fixed');
    assert.equal(p.otherOps.count, 1);
    assert.deepEqual(p.hostBound, { dense: false, sparse: false });
  });

  test('with a large host overhead the model is host-bound, and the sparse ops\' extra overhead makes it slower', async () => {
    // GEMV + Relu: under a microsecond of device time against 100 us of launch per op, +50 us per sparse op.
    const spec = model({
      inputs: [valueInfo('x', 'float16', [1, 512])],
      nodes: [node('MatMul', ['x', 'w'], ['h'], {}, { name: 'fc' }), node('Relu', ['h'], ['y'])],
      initializers: [passing('w', 'float16', [512, 512])],
    });
    const p = await project(spec, { hardware: roundProfile({ hostOverheadUs: 100, sparseHostOverheadUs: 50 }) });
    assertClose(p.denseTime, 200e-6, 'dense');
    assertClose(p.sparseTime, 250e-6, 'sparse');
    assertClose(p.speedup, 0.8, 'speedup');
    assert.deepEqual(p.hostBound, { dense: true, sparse: true });
    assert.ok(layerOf(p, 'fc').speedup! > 1.7, 'the layer itself is faster on the device');
  });

  test('the sparse efficiency falls with few rows: effS · rows / (rows + half)', async () => {
    // 4096 rows, half at 4096: the sparse peak is worth 200 · 0.5 = 100 TFLOPS, the same as dense.
    const fc = layerOf(await project(linear(4096, 512, 512, 'float16'), { hardware: roundProfile({ sparseHalfRows: 4096 }) }), 'fc');
    assertClose(fc.sparseTime, 2.147483648e-5, 'sparse');
    assertClose(fc.speedup, 1, 'speedup');
  });
});

describe('folding and fusion', () => {
  test('a weight\'s DequantizeLinear on constants is folded: no time', async () => {
    const spec = model({
      inputs: [valueInfo('x', 'float32', [1, 512])],
      nodes: [node('DequantizeLinear', ['w_q', 'scale'], ['w']), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
      initializers: [passing('w_q', 'int8', [512, 512]), makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.01] })],
    });
    const p = await project(spec);
    assert.equal(p.otherOps.count, 0);
    assert.equal(p.denseTime, layerOf(p, 'fc').denseTime);
  });

  test('a bias Add right after a layer runs in its epilogue: no time', async () => {
    const spec = model({
      inputs: [valueInfo('x', 'float16', [4096, 512])],
      nodes: [node('MatMul', ['x', 'w'], ['h'], {}, { name: 'fc' }), node('Add', ['h', 'bias'], ['y'])],
      initializers: [passing('w', 'float16', [512, 512]), dense('bias', 'float16', [512])],
    });
    const p = await project(spec);
    assert.equal(p.otherOps.count, 0);
    assertClose(p.denseTime, 2.147483648e-5, 'dense');
    assertClose(p.sparseTime, 1.073741824e-5, 'sparse');
  });

  test('an Add of two activations is memory-bound time', async () => {
    const spec = model({ inputs: [valueInfo('a', 'float16', [4096, 512]), valueInfo('b', 'float16', [4096, 512])], nodes: [node('Add', ['a', 'b'], ['y'])] });
    const p = await project(spec);
    assert.equal(p.otherOps.count, 1);
    assertClose(p.denseTime, memory(3 * 4194304), 'dense');
  });

  test('a bias Add is not fused when the layer\'s output is read elsewhere too', async () => {
    // h feeds the Add and a Relu: the GEMM must write h, and the Add reads it back.
    const spec = model({
      inputs: [valueInfo('x', 'float16', [4096, 512])],
      nodes: [node('MatMul', ['x', 'w'], ['h'], {}, { name: 'fc' }), node('Relu', ['h'], ['r']), node('Add', ['h', 'bias'], ['y'])],
      initializers: [passing('w', 'float16', [512, 512]), dense('bias', 'float16', [512])],
    });
    const p = await project(spec);
    assert.equal(p.otherOps.count, 2);
    assertClose(p.otherOps.denseTime, memory(2 * 4194304) + memory(1024 + 2 * 4194304), 'Relu + Add');
  });
});

describe('symbolic dims', () => {
  const symbolic = () =>
    model({
      inputs: [valueInfo('x', 'float16', ['batch', 'sequence', 512])],
      nodes: [node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
      initializers: [passing('w', 'float16', [512, 256])],
    });

  test('batch and dims give symbolic dims their values, and MACs scale linearly with them', async () => {
    const p2 = await project(symbolic(), { batch: 2, dims: { sequence: 10 } });
    const p4 = await project(symbolic(), { batch: 4, dims: { sequence: 10 } });
    const p4s30 = await project(symbolic(), { batch: 4, dims: { sequence: 30 } });
    assert.deepEqual(p2.symbols, { batch: 2, sequence: 10 });
    assert.equal(layerOf(p2, 'fc').macs, 2 * 10 * 512 * 256);
    assert.equal(layerOf(p4, 'fc').macs, 4 * 10 * 512 * 256);
    assert.equal(layerOf(p4s30, 'fc').macs, 4 * 30 * 512 * 256);
    assert.equal(p2.batch, 2);
    assert.deepEqual(p2.unknowns, []);
  });

  test('a symbol nobody gave a value is reported, and the layer\'s MACs are unknown', async () => {
    const p = await project(symbolic(), { batch: 2 });
    assert.ok(p.unknowns.includes("symbolic dimension 'sequence' has no value: give --dim sequence=N"), p.unknowns.join('\n'));
    assert.equal(layerOf(p, 'fc').macs, null);
  });

  test('--batch on a model with a fixed batch is reported as not used', async () => {
    const p = await project(linear(1, 512, 512, 'float16'), { batch: 8 });
    assert.deepEqual(p.unknowns, ['--batch 8 was not used: no input has a symbolic batch dimension (the model\'s own sizes are used)']);
    assert.equal(layerOf(p, 'fc').macs, 512 * 512);
  });

  test('--batch is reported as not used even when another symbol happens to have the same value', async () => {
    const spec = graph({
      name: 'fixed-batch',
      nodes: [node('MatMul', ['x', 'W'], ['y'], {}, { name: 'fc' })],
      inputs: [valueInfo('x', 'float16', [1, 'sequence', 512])],
      outputs: [valueInfo('y', 'float16', [1, 'sequence', 512])],
      initializers: [makeTensor({ name: 'W', dtype: 'float16', dims: [512, 512], values: new Array(512 * 512).fill(0) })],
    });
    const p = await project({ graph: spec }, { batch: 8, dims: { sequence: 8 } });
    assert.ok(p.unknowns.some((u) => u.startsWith('--batch 8 was not used')), p.unknowns.join('\n'));
    assert.equal(p.batchUsed, false);
  });
});

describe('hardware profiles', () => {
  test('every built-in profile resolves by name (any case) and cites its sources', () => {
    for (const name of Object.keys(PROFILES)) {
      const profile = resolveProfile(name.toUpperCase());
      assert.ok(typeof profile !== 'string', `${name}: ${profile}`);
      assert.equal(profile.name, name);
      assert.ok(profile.sources.length > 0 && profile.sources.every((s) => s.length > 0), name);
    }
  });

  test('the NVIDIA profiles\' sparse peaks are 2x dense (to the datasheets\' 0.1 rounding)', () => {
    for (const name of ['a100', 'h100', 'l4', 'orin']) {
      for (const [type, peak] of Object.entries(PROFILES[name].peaks)) {
        assert.ok(Math.abs(peak.sparse - 2 * peak.dense) <= 0.1 + 1e-9, `${name} ${type}: ${peak.sparse} vs 2 x ${peak.dense}`);
      }
    }
    assert.deepEqual(PROFILES.a100.peaks.float16, { dense: 312, sparse: 624 });
    assert.deepEqual(PROFILES.h100.peaks.float16, { dense: 989.4, sparse: 1978.9 });
  });

  test('a user profile with a missing or negative number is refused, naming the field', () => {
    const without = (field: keyof typeof ROUND) => Object.fromEntries(Object.entries(ROUND).filter(([k]) => k !== field));
    assert.equal(resolveProfile(without('bandwidth') as unknown as HardwareProfile), "hardware profile: 'bandwidth' must be a positive number");
    assert.equal(resolveProfile({ ...ROUND, denseEfficiency: -0.5 } as unknown as HardwareProfile), "hardware profile: 'denseEfficiency' must be a positive number");
    const peaks = { ...ROUND.peaks, int8: { dense: 200 } };
    assert.equal(resolveProfile({ ...ROUND, peaks } as unknown as HardwareProfile), "hardware profile: 'peaks.int8.sparse' must be a positive number");
  });

  test('a user profile\'s optional numbers, when given, must not be negative', () => {
    for (const field of ['hostOverheadUs', 'sparseHostOverheadUs', 'sparseHalfRows', 'blockSparseEfficiency']) {
      assert.equal(resolveProfile({ ...ROUND, [field]: -1 } as unknown as HardwareProfile), `hardware profile: '${field}' must be a number >= 0`, field);
      assert.equal(resolveProfile({ ...ROUND, [field]: '8' } as unknown as HardwareProfile), `hardware profile: '${field}' must be a number >= 0`, field);
    }
  });
});

// ---------------------------------------------------------------------------
// The command line: the bundled dist/cli.js (dist/test/ → dist/cli.js) in a child process.

const CLI = join(__dirname, '..', 'cli.js');

function cli(...args: string[]) {
  const { status, stdout, stderr } = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: status, stdout, stderr };
}

describe('the CLI', () => {
  // x [batch, sequence, 512] → fc (passes 2:4) → Add bias → Relu; the names are what the user passes to --dim.
  const path = writeTempModel(
    model({
      inputs: [valueInfo('x', 'float16', ['batch', 'sequence', 512])],
      nodes: [node('MatMul', ['x', 'w'], ['h'], {}, { name: 'fc' }), node('Add', ['h', 'bias'], ['a']), node('Relu', ['a'], ['y'])],
      initializers: [passing('w', 'float16', [512, 512]), dense('bias', 'float16', [512])],
    }),
  );
  const roundFile = join(tempDir(), 'round.json');
  writeFileSync(roundFile, JSON.stringify(ROUND));

  test('--format json carries the per-layer figures and the summary', () => {
    const run = cli('inspect', path, '--speedup', '--batch', '2', '--dim', 'sequence=384', '--format', 'json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as InspectReport & { layers: (LayerReport & LayerSpeedup)[]; summary: { speedup: number; hardware: string; assumptions: string[] } };
    const fc = report.layers[0];
    assert.equal(fc.macs, 2 * 384 * 512 * 512);
    for (const field of ['denseTime', 'sparseTime', 'speedup'] as const) assert.equal(typeof fc[field], 'number', field);
    assert.ok(fc.bound === 'math' || fc.bound === 'memory');
    assert.equal(report.summary.hardware, 'a100');
    assert.equal(typeof report.summary.speedup, 'number');
    assert.ok(report.summary.assumptions.length > 0);
    assert.deepEqual(report.projection?.symbols, { batch: 2, sequence: 384 });
  });

  test('--hardware FILE.json projects on the user\'s profile', () => {
    const run = cli('inspect', path, '--hardware', roundFile, '--batch', '2', '--dim', 'sequence=384', '--format', 'json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as InspectReport;
    assert.equal(report.projection?.hardware.name, 'round');
    // 768 rows: math-bound dense and sparse, the Add in the epilogue, the Relu reading and writing 768 KiB each.
    const relu = memory(2 * 768 * 512 * 2);
    assertClose(report.projection?.speedup, (math(768 * 512 * 512, 100) + relu) / (math(768 * 512 * 512, 200) + relu), 'speedup');
  });

  test('table and markdown print the projected speedup section', () => {
    const table = cli('inspect', path, '--speedup', '--batch', '2', '--dim', 'sequence=384');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /\nProjected speedup on NVIDIA A100 SXM4 80 GB, batch 2 \(batch=2, sequence=384\)\n/);
    assert.match(table.stdout, /\nend to end: \d+\.\d\dx/);
    const markdown = cli('inspect', path, '--speedup', '--batch', '2', '--dim', 'sequence=384', '--format', 'markdown');
    assert.equal(markdown.code, 0, markdown.stderr);
    assert.match(markdown.stdout, /\n## Projected speedup on NVIDIA A100 SXM4 80 GB, batch 2/);
    assert.match(markdown.stdout, /\n\| layer \| op \| GMACs \| bound \| dense us \| sparse us \| speedup \| share \| flags \|\n/);
  });

  test('csv adds the projection columns', () => {
    const run = cli('inspect', path, '--speedup', '--batch', '2', '--dim', 'sequence=384', '--format', 'csv');
    assert.equal(run.code, 0, run.stderr);
    const [header, row] = run.stdout.trimEnd().split('\n');
    assert.ok(header.endsWith(',macs,denseTime,sparseTime,bound,speedup'), header);
    assert.equal(row.split(',').at(-5), String(2 * 384 * 512 * 512));
  });

  test('bad --hardware and --dim exit 2 with a message', () => {
    const bogus = cli('inspect', path, '--hardware', 'bogus');
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /unknown hardware profile 'bogus'; known: a100, h100, b200, l4, orin, ascend-a2, cpu-xeon, or a JSON file/);
    assert.equal(bogus.stdout, '');
    const bad = cli('inspect', path, '--dim', 'bad');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--dim 'bad' is not NAME=VALUE with a whole VALUE >= 1/);
    const negative = join(tempDir(), 'negative.json');
    writeFileSync(negative, JSON.stringify({ ...ROUND, bandwidth: -1 }));
    const refused = cli('inspect', path, '--hardware', negative);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /'bandwidth' must be a positive number/);
  });
});

// ---------------------------------------------------------------------------
describe('runtime: eager runs every op, fused keeps attention scores on chip and folds epilogues', () => {
  // q, k, v [64, 64] fp32 → scores = q k → / 8 → Softmax → probs v → Relu: one attention head and an epilogue.
  const attention = () =>
    model({
      inputs: ['q', 'k', 'v'].map((n) => valueInfo(n, 'float32', [64, 64])),
      nodes: [
        node('MatMul', ['q', 'k'], ['scores'], {}, { name: 'scores' }),
        node('Div', ['scores', 'scale'], ['scaled'], {}, { name: 'scale' }),
        node('Softmax', ['scaled'], ['probs'], { axis: -1 }, { name: 'softmax' }),
        node('MatMul', ['probs', 'v'], ['context'], {}, { name: 'context' }),
        node('Relu', ['context'], ['out'], {}, { name: 'relu' }),
      ],
      initializers: [makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [8] })],
    });

  test('eager counts each op; fused counts only the two GEMMs, reading q, k, v and writing the context', async () => {
    const eager = await project(attention(), { hardware: roundProfile(), runtime: 'eager' });
    const fused = await project(attention(), { hardware: roundProfile(), runtime: 'fused' });
    assert.equal(eager.otherOps.count, 5);
    assert.equal(fused.otherOps.count, 2);
    // Memory-bound on the round profile: eager moves 5 ops' bytes, fused q + k (scores GEMM) and v + context.
    const tile = 64 * 64 * 4;
    const bandwidth = ROUND.bandwidth * 1e9;
    assert.ok(Math.abs(fused.denseTime - (2 * tile + 2 * tile) / bandwidth) <= 1e-12 * fused.denseTime, `${fused.denseTime}`);
    assert.ok(eager.denseTime > fused.denseTime);
    assert.ok(fused.assumptions.some((a) => a.startsWith('runtime fused')));
  });
});

// Calibration: the published measurements of domain.md §6, rebuilt by scripts/calibration.ts.

interface DocumentedRow {
  name: string;
  runtime: string;
  measured: number;
  projected: number;
  /** Percent, signed. */
  error: number;
}

/** The rows of the table in the README's "Calibration" section: case | runtime | measured | projected | error. */
function readmeCalibration(): DocumentedRow[] {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8').split('\n');
  const start = readme.findIndex((line) => /^#+\s+Calibration\s*$/.test(line));
  assert.ok(start >= 0, 'the README has a "Calibration" section');
  const rows: DocumentedRow[] = [];
  for (const line of readme.slice(start + 1)) {
    if (/^#+\s/.test(line)) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const [measured, projected, error] = cells.slice(2, 5).map((c) => Number(c.replace(/[x%]$/, '')));
    if (cells.length === 5 && [measured, projected, error].every(Number.isFinite)) rows.push({ name: cells[0], runtime: cells[1], measured, projected, error });
  }
  return rows;
}

describe('calibration against published measurements', () => {
  test('each case projects within 20 % of its measurement, with the runtime it was measured on, as the README documents', { timeout: 120_000 }, async () => {
    const documented = readmeCalibration();
    const rows = await runCalibration();
    assert.deepEqual(rows.map((r) => r.name), CALIBRATION_CASES.map((c) => c.name));
    assert.deepEqual(documented.map((d) => d.name), rows.map((r) => r.name), 'the README documents every case, and no other');
    for (const row of rows) {
      const doc = documented.find((d) => d.name === row.name);
      assert.ok(doc, `the README's calibration table has no row '${row.name}'`);
      assert.ok(row.projected !== null && row.error !== null, `${row.name}: no projection`);
      assert.equal(doc.measured.toFixed(2), row.measured.toFixed(2), `${row.name}: the README's measured figure`);
      assert.equal(doc.projected.toFixed(2), row.projected.toFixed(2), `${row.name}: the README documents ${doc.projected}x, the engine projects ${row.projected}`);
      assert.equal(doc.error.toFixed(1), (row.error * 100).toFixed(1), `${row.name}: the README's error`);
      assert.equal(doc.runtime, CALIBRATION_CASES.find((c) => c.name === row.name)!.runtime, `${row.name}: the README's runtime`);
      assert.ok(Math.abs(row.error) <= 0.2, `${row.name}: ${row.projected.toFixed(3)}x is ${(row.error * 100).toFixed(1)}% off ${row.measured}x`);
    }
  });
});
