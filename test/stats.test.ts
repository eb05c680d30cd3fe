// Exact per-layer statistics on weights small enough to check by hand (domain.md §1, §2, §4.3), the tile
// grid, and the same numbers whether a large weight is scanned inline or split across worker threads.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type ModelSpec, encodeModel, graph, makeTensor, node, valueInfo } from './support/builder';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { MemorySource } from '../src/engine/onnx/source';
import { ExternalFiles, openTensor } from '../src/engine/onnx/tensorData';
import { type InspectOptions, type LayerReport, inspectModel } from '../src/engine/sparsity/inspect';
import { ShapeInfo, absorbPart, emptyStats, gridTotals, mergeStats } from '../src/engine/sparsity/kernel';
import { scanPart, scanPartCompact, splitParts, wholeTensor } from '../src/engine/sparsity/scan';
import { inspectFile, inspectSpec, layer, tempDir, writeTempModel } from './support/models';

const count = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);
const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, x) => a + x, 0);
/** A layer's grid with plain arrays, to compare with a literal. */
const plainGrid = (g: LayerReport['grid']) => g && { rows: g.rows, cols: g.cols, valid: Array.from(g.valid), total: Array.from(g.total) };

function model(nodes: onnx.INodeProto[], initializers: onnx.ITensorProto[]): ModelSpec {
  return {
    graph: graph({
      name: 'stats',
      nodes,
      inputs: [valueInfo('X', 'float32', ['n', 'k'])],
      outputs: [valueInfo('Y', 'float32', ['n', 'm'])],
      initializers,
    }),
  };
}

/** The report of one float32 weight `W` feeding `op` (MatMul B by default). */
async function scan(dims: number[], values: number[], options: InspectOptions = {}, op: 'MatMul' | 'Conv' | 'Gemm' = 'MatMul', attrs = {}): Promise<LayerReport> {
  const spec = model([node(op, ['X', 'W'], ['Y'], attrs, { name: 'w' })], [makeTensor({ name: 'W', dtype: 'float32', dims, values })]);
  return layer(await inspectSpec(spec, options), 'w');
}

/** A histogram of `size` bins that is zero except at the given bins. */
function histogram(size: number, bins: Record<number, number>): number[] {
  const out = new Array<number>(size).fill(0);
  for (const [bin, n] of Object.entries(bins)) out[Number(bin)] = n;
  return out;
}

const NO_PATTERNS = { '1:2': false, '2:4': false, '1:4': false, '2:8': false, '4:8': false, '1:8': false };

describe('2:4 statistics by hand', () => {
  test('MatMul B [8, 2]: groups of four run down each column', async () => {
    // K is axis 0: column 0 holds groups [1 0 -2 0] and [4 1 0 -3], column 1 holds [0 0 3 1] and [0 2 -1 0].
    const values = [
      1, 0,
      0, 0,
      -2, 3,
      0, 1,
      4, 0,
      1, 2,
      0, -1,
      -3, 0,
    ];
    const w = await scan([8, 2], values);
    assert.equal(w.axis, 0);
    assert.equal(w.elements, 16);
    assert.equal(w.zeros, 7);
    assert.equal(w.groups, 4);
    assert.equal(w.validGroups, 3); // [4 1 0 -3] holds three non-zeros
    assert.equal(w.compliance, 0.75);
    assert.equal(w.pass, false);
    assert.equal(w.nearlyPassing, false);
    assert.deepEqual(w.countHistogram, [0, 0, 3, 1, 0]);
    // Bit i = element i of the group along K: 0101, 1101 (elements 0, 1, 3), 1100, 0110.
    assert.deepEqual(w.maskHistogram, histogram(16, { 0b0101: 1, 0b1011: 1, 0b1100: 1, 0b0110: 1 }));
    // sum |w| = 11 + 7; pruning keeps everything but the 1 in [4 1 0 -3].
    assert.equal(w.retainedMagnitude, 17 / 18);
    assert.deepEqual(w.patterns, NO_PATTERNS);
    // 2x1: only row 1 is zero in both columns; 1x4: no column holds four zeros in a row; 4 rows/16 K don't divide.
    assert.deepEqual(w.blocks, { '2x1': 1 / 8, '4x1': null, '1x4': 0, '4x16': null });
    // One tile per column n: K = 8 fits in one 16-row chunk.
    assert.deepEqual(plainGrid(w.grid), { rows: 2, cols: 1, valid: [1, 2], total: [2, 2] });
  });

  test('Conv [2, 4, 1, 2]: groups along input channels at each (output channel, kernel position)', async () => {
    // Along IC: (oc 0, x 0) [1 2 0 0], (oc 0, x 1) [0 0 0 5], (oc 1, x 0) [0 0 0 3], (oc 1, x 1) [1 1 1 0].
    const values = [
      1, 0, /**/ 2, 0, /**/ 0, 0, /**/ 0, 5, // oc 0: ic 0..3, each [x0, x1]
      0, 1, /**/ 0, 1, /**/ 0, 1, /**/ 3, 0, // oc 1
    ];
    const w = await scan([2, 4, 1, 2], values, {}, 'Conv');
    assert.equal(w.axis, 1);
    assert.equal(w.elements, 16);
    assert.equal(w.zeros, 9);
    assert.equal(w.groups, 4);
    assert.equal(w.validGroups, 3);
    assert.equal(w.compliance, 0.75);
    assert.deepEqual(w.countHistogram, [0, 2, 1, 1, 0]);
    assert.deepEqual(w.maskHistogram, histogram(16, { 0b0011: 1, 0b1000: 2, 0b0111: 1 }));
    assert.equal(w.retainedMagnitude, 13 / 14);
    assert.deepEqual(w.patterns, NO_PATTERNS);
    // 2x1 (both output channels, one ic, one position): only ic 2 at x 0.
    assert.deepEqual(w.blocks, { '2x1': 1 / 8, '4x1': null, '1x4': 0, '4x16': null });
    // Rows are output channels, columns are (16-row chunk of K, kernel position).
    assert.deepEqual(plainGrid(w.grid), { rows: 2, cols: 2, valid: [1, 1, 1, 0], total: [1, 1, 1, 1] });
  });

  test('batched MatMul B [2, 4, 2]: groups along axis 1 at each (batch, column)', async () => {
    const values = [
      1, 0, /**/ 1, 0, /**/ 1, 0, /**/ 0, 0, // batch 0: k 0..3, each [n0, n1]
      0, 2, /**/ 0, 0, /**/ 3, 0, /**/ 0, -2, // batch 1
    ];
    const w = await scan([2, 4, 2], values);
    assert.equal(w.axis, 1);
    assert.equal(w.zeros, 10);
    assert.equal(w.groups, 4);
    assert.equal(w.validGroups, 3); // (batch 0, n 0) = [1 1 1 0]
    assert.deepEqual(w.countHistogram, [1, 1, 1, 1, 0]);
    assert.deepEqual(w.maskHistogram, histogram(16, { 0b0111: 1, 0b0000: 1, 0b0100: 1, 0b1001: 1 }));
    assert.equal(w.retainedMagnitude, 9 / 10);
    // 2x1: (batch 0, k 3) and (batch 1, k 1) are zero in both columns; 1x4: (batch 0, n 1) is all zero.
    assert.deepEqual(w.blocks, { '2x1': 2 / 8, '4x1': null, '1x4': 1 / 4, '4x16': null });
    // Rows are columns n, tile columns are batches.
    assert.deepEqual(plainGrid(w.grid), { rows: 2, cols: 2, valid: [0, 1, 1, 1], total: [1, 1, 1, 1] });
  });

  test('a compliant weight passes, keeps all its magnitude, and lists the standard patterns it meets', async () => {
    // Column 0 = [1 0 0 0 | 0 0 2 0], column 1 = [0 3 0 0 | 0 0 0 0].
    const values = [1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0];
    const w = await scan([8, 2], values);
    assert.equal(w.pass, true);
    assert.equal(w.compliance, 1);
    assert.equal(w.validGroups, 4);
    assert.equal(w.zeros, 13);
    assert.equal(w.retainedMagnitude, 1);
    assert.deepEqual(w.countHistogram, [1, 3, 0, 0, 0]);
    assert.deepEqual(w.maskHistogram, histogram(16, { 0b0001: 1, 0b0100: 1, 0b0010: 1, 0b0000: 1 }));
    // Column 0 has two non-zeros in its eight: 1:8 is the only standard pattern it breaks.
    assert.deepEqual(w.patterns, { '1:2': true, '2:4': true, '1:4': true, '2:8': true, '4:8': true, '1:8': false });
    assert.deepEqual(w.blocks, { '2x1': 5 / 8, '4x1': null, '1x4': 1 / 4, '4x16': null });
  });

  test('patterns whose M does not divide K are false even when no group breaks them', async () => {
    const values = new Array<number>(12).fill(0);
    values[0] = 1;
    const w = await scan([12, 1], values);
    assert.equal(w.pass, true);
    assert.deepEqual(w.patterns, { '1:2': true, '2:4': true, '1:4': true, '2:8': false, '4:8': false, '1:8': false });
    // One output feature: no 2- or 4-row blocks; K = 12 is no multiple of 16.
    assert.deepEqual(w.blocks, { '2x1': null, '4x1': null, '1x4': 2 / 3, '4x16': null });
  });

  test('block ratios count all-zero out x in blocks, the same whether stored [K, N] or [N, K]', async () => {
    // [K=32, N=8] with five non-zeros at (k, n) = (0, 0), (1, 0), (20, 1), (17, 5), (31, 7).
    const K = 32;
    const N = 8;
    const nonZeros = [[0, 0], [1, 0], [20, 1], [17, 5], [31, 7]];
    const kn = new Array<number>(K * N).fill(0);
    const nk = new Array<number>(K * N).fill(0);
    for (const [k, n] of nonZeros) {
      kn[k * N + n] = 1;
      nk[n * K + k] = 1;
    }
    // 4x16: 4 blocks, only (k 0-15, n 4-7) is empty. 4x1: 64 blocks, 5 hold a non-zero; 2x1: 128, 5; 1x4: 64, 4
    // ((0, 0) and (1, 0) share one).
    const expected = { '2x1': 123 / 128, '4x1': 59 / 64, '1x4': 60 / 64, '4x16': 1 / 4 };
    const matmul = await scan([K, N], kn);
    assert.deepEqual(matmul.blocks, expected);
    assert.equal(matmul.pass, true);
    const gemm = await scan([N, K], nk, {}, 'Gemm', { transB: 1 });
    assert.equal(gemm.axis, 1);
    assert.deepEqual(gemm.blocks, expected);
    assert.deepEqual(
      { ...gemm, name: '', op: '', axis: 0, outAxis: 0, shape: [], grid: null },
      { ...matmul, name: '', op: '', axis: 0, outAxis: 0, shape: [], grid: null },
    );
  });
});

describe('other patterns (--pattern)', () => {
  // MatMul B [16, 2]: column 0 = [4 0 0 0 | 0 1 0 0 | 0 0 2 0 | 0 0 0 0], column 1 = [1 1 0 0 | 1 1 0 0 | 0 0 0 0 | 0 0 0 3].
  const column0 = [4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0];
  const column1 = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
  const values = column0.flatMap((v, k) => [v, column1[k]]);
  // Pattern-independent: 1:2 breaks on [1 1], 1:4 and 2:8 on column 1, 1:8 on column 0's [4 .. 1 ..].
  const standard = { '1:2': false, '2:4': true, '1:4': false, '2:8': false, '4:8': true, '1:8': false };
  // 2x1: rows 0, 1, 4, 5, 10 and 15 hold a non-zero; 1x4: column 0's last four and column 1's third four are zero.
  const blocks = { '2x1': 10 / 16, '4x1': null, '1x4': 2 / 8, '4x16': null };

  test('1:4: two groups of column 1 hold two non-zeros', async () => {
    const w = await scan([16, 2], values, { pattern: { n: 1, m: 4 } });
    assert.equal(w.groups, 8);
    assert.equal(w.validGroups, 6);
    assert.equal(w.compliance, 0.75);
    assert.deepEqual(w.countHistogram, [2, 4, 2, 0, 0]);
    assert.deepEqual(w.maskHistogram, histogram(16, { 0b0000: 2, 0b0001: 1, 0b0010: 1, 0b0100: 1, 0b0011: 2, 0b1000: 1 }));
    // sum |w| = 7 + 7; each [1 1 0 0] keeps one 1.
    assert.equal(w.retainedMagnitude, 12 / 14);
    assert.deepEqual(w.patterns, standard);
    assert.deepEqual(w.blocks, blocks);
  });

  test('4:8: every group of eight holds at most four, with 8-bit masks', async () => {
    const w = await scan([16, 2], values, { pattern: { n: 4, m: 8 } });
    assert.equal(w.groups, 4);
    assert.equal(w.validGroups, 4);
    assert.equal(w.pass, true);
    assert.equal(w.retainedMagnitude, 1);
    assert.deepEqual(w.countHistogram, [0, 2, 1, 0, 1, 0, 0, 0, 0]);
    // Elements 0 and 5; element 2; elements 0, 1, 4, 5; element 7.
    assert.deepEqual(w.maskHistogram, histogram(256, { 0b00100001: 1, 0b00000100: 1, 0b00110011: 1, 0b10000000: 1 }));
    assert.deepEqual(w.patterns, standard);
    assert.deepEqual(w.blocks, blocks);
  });

  test('3:16: one group per column, no mask histogram beyond M = 8', async () => {
    const report = await inspectSpec(model([node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'w' })], [makeTensor({ name: 'W', dtype: 'float32', dims: [16, 2], values })]), {
      pattern: { n: 3, m: 16 },
    });
    assert.equal(report.pattern, '3:16');
    const w = layer(report, 'w');
    assert.equal(w.groups, 2);
    assert.equal(w.validGroups, 1); // column 1 holds five non-zeros
    assert.equal(w.compliance, 0.5);
    assert.deepEqual(w.countHistogram, histogram(17, { 3: 1, 5: 1 }));
    assert.equal(w.maskHistogram, null);
    // Column 1 keeps 3 + 1 + 1 of its 7.
    assert.equal(w.retainedMagnitude, 12 / 14);
    assert.deepEqual(w.patterns, standard);
    assert.deepEqual(w.blocks, blocks);
    assert.deepEqual(plainGrid(w.grid), { rows: 2, cols: 1, valid: [1, 0], total: [1, 1] });
  });

  test('a pattern whose M does not divide K makes the layer ineligible', async () => {
    const w = await scan([8, 2], new Array<number>(16).fill(1), { pattern: { n: 3, m: 16 } });
    assert.equal(w.eligible, false);
    assert.equal(w.reason, 'K=8 (axis 0) is not divisible by M=16');
    assert.equal(w.compliance, null);
    assert.equal(w.countHistogram, null);
  });
});

describe('the tile grid', () => {
  test('columns are 16-row chunks of K: a bad group in rows 32-35 lands in the third column', async () => {
    // MatMul B [64, 2]: all zero except column 1's group at k 32..35 = [1 1 1 1].
    const values = new Array<number>(64 * 2).fill(0);
    for (let k = 32; k < 36; k++) values[k * 2 + 1] = 1;
    const w = await scan([64, 2], values);
    assert.deepEqual(plainGrid(w.grid), { rows: 2, cols: 4, valid: [4, 4, 4, 4, 4, 4, 3, 4], total: [4, 4, 4, 4, 4, 4, 4, 4] });
  });

  test('rows are capped at 128 output features; one bad group lands in the last row of tiles', async () => {
    // MatMul B [8, 200]: all zero except column 199's second group [1 1 1 1].
    const values = new Array<number>(8 * 200).fill(0);
    for (let k = 4; k < 8; k++) values[k * 200 + 199] = 1;
    const w = await scan([8, 200], values);
    assert.equal(w.groups, 400);
    assert.equal(w.validGroups, 399);
    const grid = w.grid!;
    assert.equal(grid.rows, 128);
    assert.equal(grid.cols, 1);
    assert.equal(sum(grid.total), 400);
    assert.equal(sum(grid.valid), 399);
    // Feature 199 → tile row floor(199 * 128 / 200) = 127 (its only column: K = 8 is one chunk).
    const bad = 127;
    grid.total.forEach((total, tile) => assert.equal(grid.valid[tile], tile === bad ? total - 1 : total, `tile ${tile}`));
  });

  test('columns (chunks of K x kernel positions) are capped at 128, every tile covering the same share', async () => {
    // Conv [4, 8, 16, 16]: 1 chunk x 256 positions = 256 columns → 128 tiles of 2 positions x 2 groups per channel.
    const dims = [4, 8, 16, 16];
    const values = Array.from({ length: count(dims) }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const w = await scan(dims, values, {}, 'Conv');
    const grid = w.grid!;
    assert.equal(grid.rows, 4);
    assert.equal(grid.cols, 128);
    assert.deepEqual(Array.from(grid.total), new Array(4 * 128).fill(4));
    assert.equal(sum(grid.total), w.groups);
    assert.equal(sum(grid.valid), w.validGroups);
    assert.equal(w.groups, 4 * 512);
  });
});

// ---------------------------------------------------------------------------
// Weights split into parts for scanning, inline or on worker threads.

/** A 32-bit integer hash of a few integers (deterministic, cheap, well mixed). */
function hash(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(c + 0x165667b1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Coordinates of element i along K, along the output features, and of everything else (lane position p). */
function coordinatesOf(dims: number[], kAxis: number, rAxis: number) {
  const stride = (a: number) => count(dims.slice(a + 1));
  const sk = stride(kAxis);
  const sr = stride(rAxis);
  return (i: number) => {
    const k = Math.floor(i / sk) % dims[kAxis];
    const r = Math.floor(i / sr) % dims[rAxis];
    return { k, r, p: i - k * sk - r * sr };
  };
}

/**
 * Weights with every kind of structure near every part boundary: zero 4x16, 2x1 and 1x4 blocks scattered by a
 * hash, mostly-2:4 groups elsewhere, and a few stray non-zeros that break groups. Small integers, so that
 * magnitude sums are exact in any order and parts can be compared with the whole to the last bit.
 */
function structuredWeights(dims: number[], kAxis: number, rAxis: number): Float32Array {
  const at = coordinatesOf(dims, kAxis, rAxis);
  const out = new Float32Array(count(dims));
  for (let i = 0; i < out.length; i++) {
    const { k, r, p } = at(i);
    const h = hash(i, 1, 2);
    const zero =
      hash(r >> 2, k >> 4, p) % 4 === 0 || // a 4x16 block
      hash(r >> 1, k, p + 0x10000000) % 8 === 0 || // a 2x1 block
      hash(r, k >> 2, p + 0x20000000) % 6 === 0 || // a 1x4 block
      (k % 4 >= 2 && h % 100 >= 2); // mostly 2:4, 2 % strays
    out[i] = zero ? 0 : ((h >>> 8) % 9 + 1) * (h & 1 ? -1 : 1);
  }
  return out;
}

/** Groups, valid groups, zeros and block ratios counted the slow, obvious way. */
function referenceStats(values: Float32Array, dims: number[], kAxis: number, rAxis: number, n: number, m: number) {
  const rank = dims.length;
  const radix = (out: number, inK: number) => dims.map((d, a) => (a === rAxis ? d / out : a === kAxis ? d / inK : d));
  const shapes = { '2x1': [2, 1], '4x1': [4, 1], '1x4': [1, 4], '4x16': [4, 16] } as const;
  const groupRadix = radix(1, m);
  const groupCounts = new Uint8Array(count(groupRadix));
  const blockRadix = Object.values(shapes).map(([o, k]) => radix(o, k));
  const blockNonZero = blockRadix.map((r) => new Uint8Array(count(r)));
  const coord = new Array<number>(rank).fill(0);
  const id = (r: number[], out: number, inK: number) => {
    let x = 0;
    for (let a = 0; a < rank; a++) x = x * r[a] + Math.floor(coord[a] / (a === rAxis ? out : a === kAxis ? inK : 1));
    return x;
  };
  let zeros = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] === 0) zeros++;
    else {
      groupCounts[id(groupRadix, 1, m)]++;
      Object.values(shapes).forEach(([o, k], s) => (blockNonZero[s][id(blockRadix[s], o, k)] = 1));
    }
    for (let a = rank - 1; a >= 0 && ++coord[a] === dims[a]; a--) coord[a] = 0;
  }
  // Shapes that do not divide the weight have no ratio.
  const blocks: Record<string, number | null> = {};
  Object.entries(shapes).forEach(([name, [o, k]], s) => {
    const divides = dims[rAxis] % o === 0 && dims[kAxis] % k === 0;
    blocks[name] = divides ? blockNonZero[s].filter((x) => x === 0).length / blockNonZero[s].length : null;
  });
  return { zeros, groups: groupCounts.length, validGroups: groupCounts.filter((c) => c <= n).length, blocks };
}

/** An element reader over `values` stored as a float32 initializer, as the scan jobs get it. */
function readerOf(dims: number[], values: Float32Array) {
  const src = new MemorySource('model.onnx', encodeModel(model([], [makeTensor({ name: 'W', dtype: 'float32', dims, values })])));
  return openTensor(src, readSkeleton(src).graph.initializers[0], new ExternalFiles(src.path));
}

/** The patterns the part and grid tests scan each weight with. */
const PATTERNS = [{ n: 2, m: 4 }, { n: 1, m: 4 }, { n: 4, m: 8 }, { n: 3, m: 16 }];

/** A structuredWeights weight of the case's dims and axes, with its reader and geometry. */
function structuredCase(c: { dims: readonly number[]; kAxis: number; rAxis: number }) {
  const dims = [...c.dims];
  const values = structuredWeights(dims, c.kAxis, c.rAxis);
  return { dims, values, reader: readerOf(dims, values), geometry: { dims, kAxis: c.kAxis, rAxis: c.rAxis } };
}

describe('a weight scanned in parts equals one whole scan and a direct count', () => {
  // Each geometry is cut the way splitParts cuts it, at a small target so that there are several parts.
  const cases = [
    { what: 'MatMul B [K, N], cut along K', dims: [1024, 96], kAxis: 0, rAxis: 1, target: 16 << 10, cut: 'k' },
    { what: 'Conv [OC, IC, kh, kw], cut along output channels', dims: [64, 32, 3, 3], kAxis: 1, rAxis: 0, target: 4 << 10, cut: 'a' },
    { what: 'Gemm transB = 1 [N, K], cut along output features', dims: [64, 96], kAxis: 1, rAxis: 0, target: 1 << 10, cut: 'a' },
    { what: 'batched MatMul B [b, K, N], cut along the batch', dims: [4, 64, 24], kAxis: 1, rAxis: 2, target: 2 << 10, cut: 'a' },
    { what: 'batched MatMul A [b, M, K] with M = 6, cut along rows', dims: [3, 6, 64], kAxis: 2, rAxis: 1, target: 256, cut: 'a' },
    { what: 'conv weight [OC, kh, kw, IC] behind a Transpose, cut across positions', dims: [16, 3, 3, 32], kAxis: 3, rAxis: 0, target: 2 << 10, cut: 'a' },
  ] as const;

  for (const c of cases) {
    test(c.what, () => {
      const { dims, values, reader, geometry } = structuredCase(c);
      for (const pattern of PATTERNS) {
        const label = `${c.what}, ${pattern.n}:${pattern.m}`;
        const shape = new ShapeInfo(geometry, pattern);
        const parts = splitParts(shape, c.target);
        assert.ok(parts.length >= 3, `${label}: ${parts.length} parts`);
        assert.ok(parts.every((p) => (c.cut === 'k' ? p.a1 - p.a0 === shape.A : p.k1 - p.k0 === shape.K)), `${label}: cut along ${c.cut}`);
        const whole = scanPart(reader, { geometry, pattern, kernel: 'js' }, wholeTensor(shape));
        const merged = parts.reduce((acc, part) => mergeStats(acc, scanPart(reader, { geometry, pattern }, part)), emptyStats(shape));
        assert.deepEqual(merged, whole, label);
        // One tile (what the CLI asks for without --grid): every other statistic unchanged, the tile holds all groups.
        const coarse = scanPart(reader, { geometry, pattern, gridMax: 1 }, wholeTensor(shape));
        assert.deepEqual({ ...coarse, grid: null }, { ...whole, grid: null }, `${label}, one tile`);
        assert.deepEqual(plainGrid(coarse.grid), { rows: 1, cols: 1, valid: [whole.validGroups], total: [whole.groups] }, `${label}, one tile`);
        const expected = referenceStats(values, dims, c.kAxis, c.rAxis, pattern.n, pattern.m);
        assert.deepEqual(
          { zeros: whole.zeros, groups: whole.groups, validGroups: whole.validGroups, elements: whole.elements },
          { zeros: expected.zeros, groups: expected.groups, validGroups: expected.validGroups, elements: values.length },
          label,
        );
        const ratios = Object.fromEntries(Object.entries(whole.blocks).map(([k, v]) => [k, v && v.zero / v.total]));
        assert.deepEqual(ratios, expected.blocks, label);
        assert.ok(whole.validGroups > 0 && whole.validGroups < whole.groups, `${label}: some groups valid, some not`);
      }
    });
  }
});

describe('a scan job compacts its grid (PartGrid), and the weight\'s grid comes out whole', () => {
  // Odd sizes too: K not a multiple of M or of 16, fewer features or chunks than tiles, a grid of 5 or 3 tiles a side.
  const cases = [
    { what: 'MatMul B [K, N]', dims: [1024, 96], kAxis: 0, rAxis: 1 },
    { what: 'Conv [OC, IC, kh, kw]', dims: [64, 32, 3, 3], kAxis: 1, rAxis: 0 },
    { what: 'Gemm transB = 1 [N, K], K = 100', dims: [60, 100], kAxis: 1, rAxis: 0 },
    { what: 'batched MatMul B [b, K, N], K = 37', dims: [4, 37, 24], kAxis: 1, rAxis: 2 },
    { what: 'batched MatMul A [b, M, K]', dims: [3, 6, 64], kAxis: 2, rAxis: 1 },
    { what: 'conv weight [OC, kh, kw, IC], IC = 30', dims: [16, 3, 3, 30], kAxis: 3, rAxis: 0 },
    { what: 'one long row [1, 3000]', dims: [1, 3000], kAxis: 1, rAxis: 0 },
    { what: 'K = 3 (no whole group of 4)', dims: [3, 40], kAxis: 0, rAxis: 1 },
  ] as const;

  for (const c of cases) {
    test(c.what, () => {
      const { dims, reader, geometry } = structuredCase(c);
      for (const pattern of PATTERNS) {
        for (const gridMax of [128, 5, 3]) {
          const label = `${c.what}, ${pattern.n}:${pattern.m}, grid ${gridMax}`;
          const shape = new ShapeInfo(geometry, pattern, gridMax);
          const js = scanPart(reader, { geometry, pattern, gridMax, kernel: 'js' }, wholeTensor(shape));
          const simd = scanPart(reader, { geometry, pattern, gridMax }, wholeTensor(shape));
          // The shape's totals are what both kernels count, tile by tile.
          assert.deepEqual(Array.from(gridTotals(shape)), Array.from(js.grid.total), `${label}: totals (JavaScript kernel)`);
          assert.deepEqual(Array.from(gridTotals(shape)), Array.from(simd.grid.total), `${label}: totals (SIMD kernel)`);
          const compact = scanPartCompact(reader, { geometry, pattern, gridMax }, wholeTensor(shape));
          assert.equal(compact.grid.total, null, `${label}: a whole weight sends no totals`);
          assert.deepEqual(absorbPart(undefined, compact, shape), simd, `${label}: whole`);
          const parts = splitParts(shape, Math.max(256, Math.ceil(count(dims) / 5)));
          const merged = parts.reduce<ReturnType<typeof absorbPart> | undefined>((acc, part) => absorbPart(acc, scanPartCompact(reader, { geometry, pattern, gridMax }, part), shape), undefined);
          assert.deepEqual(merged, simd, `${label}: ${parts.length} parts`);
        }
      }
    });
  }

  test('a weight with every group valid shares one array for valid and total; one with none shares zeros; merging never writes a shared array', () => {
    const dims = [64, 48];
    const geometry = { dims, kAxis: 0, rAxis: 1 };
    const pattern = { n: 2, m: 4 };
    const shape = new ShapeInfo(geometry, pattern);
    const sparse = readerOf(dims, Float32Array.from({ length: 64 * 48 }, (_, i) => (Math.floor(i / 48) % 4 < 2 ? 1 + (i % 7) : 0)));
    const dense = readerOf(dims, Float32Array.from({ length: 64 * 48 }, (_, i) => 1 + (i % 5)));
    const whole = wholeTensor(shape);
    const passing = scanPartCompact(sparse, { geometry, pattern }, whole);
    assert.equal(passing.grid.valid, 'total');
    const failing = scanPartCompact(dense, { geometry, pattern }, whole);
    assert.equal(failing.grid.valid, null);
    const a = absorbPart(undefined, passing, shape);
    const b = absorbPart(undefined, failing, shape);
    assert.equal(a.grid.valid, a.grid.total, 'valid is total');
    assert.equal(a.grid.total, b.grid.total, 'one shape, one array of totals');
    assert.equal(sum(b.grid.valid), 0);
    const snapshot = (x: typeof a) => [Array.from(x.grid.valid), Array.from(x.grid.total)];
    const [aBefore, bBefore] = [snapshot(a), snapshot(b)];
    // A third weight of the same shape, scanned in parts: its merges copy before they add.
    const parts = splitParts(shape, 1024);
    assert.ok(parts.length > 1);
    let c: ReturnType<typeof absorbPart> | undefined;
    for (const part of parts) c = absorbPart(c, scanPartCompact(sparse, { geometry, pattern }, part), shape);
    assert.deepEqual(snapshot(c!), aBefore, 'parts merge to the whole');
    assert.deepEqual([snapshot(a), snapshot(b)], [aBefore, bBefore], 'the shared arrays are unchanged');
    assert.notEqual(c!.grid.total, a.grid.total);
  });
});

describe('inline and worker-pool inspections', () => {
  test('cut into parts, give the same report down to the last bit, and the same counts as whole scans', async () => {
    const fcDims = [1152, 512];
    const convDims = [128, 256, 3, 3];
    // fc spread over 2^-15..2^15: float64 sums of it depend on the order in which parts are merged.
    const fc = structuredWeights(fcDims, 0, 1).map((v, i) => (v / 7) * 2 ** ((i % 31) - 15));
    const path = writeTempModel(
      model(
        [node('MatMul', ['X', 'W_fc'], ['H'], {}, { name: 'fc' }), node('Conv', ['X', 'W_conv'], ['Y'], {}, { name: 'conv' })],
        [
          makeTensor({ name: 'W_fc', dtype: 'float32', dims: fcDims, values: fc }),
          makeTensor({ name: 'W_conv', dtype: 'float16', dims: convDims, values: structuredWeights(convDims, 1, 0) }),
        ],
      ),
    );
    // 64K elements per part: fc is cut into 9 parts along K, conv into 5 along output channels.
    const partElements = 1 << 16;
    for (const pattern of [{ n: 2, m: 4 }, { n: 4, m: 8 }]) {
      const inline = await inspectFile(path, { pattern, partElements });
      const pooled = await inspectFile(path, { pattern, partElements, workers: 2, inlineBelow: 0 });
      assert.deepEqual(pooled, inline);
      assert.deepEqual(inline.layers.map((l) => [l.name, l.eligible, l.pass]), [['fc', true, false], ['conv', true, false]]);
      const whole = await inspectFile(path, { pattern });
      const withoutSums = (l: LayerReport) => ({ ...l, retainedMagnitude: null });
      assert.deepEqual(inline.layers.map(withoutSums), whole.layers.map(withoutSums));
      for (const [i, l] of inline.layers.entries()) assert.ok(Math.abs(l.retainedMagnitude! - whole.layers[i].retainedMagnitude!) < 1e-12, l.name);
      // Without a worker count, workers start as soon as the structure is read (the initializers hold enough
      // bytes): the same report.
      assert.deepEqual(await inspectModel(path, { pattern, partElements, inlineBelow: 0 }), inline);
    }
  });

  test('a worker started early that fails to start: the inspection fails saying so, it neither hangs nor crashes', async () => {
    const path = writeTempModel(
      model([node('MatMul', ['X', 'W'], ['H'], {}, { name: 'fc' })], [makeTensor({ name: 'W', dtype: 'float32', dims: [256, 256], values: structuredWeights([256, 256], 0, 1) })]),
    );
    const script = join(tempDir(), 'broken-worker.js');
    writeFileSync(script, "throw new Error('this worker cannot start');\n");
    await assert.rejects(inspectModel(path, { partElements: 1 << 12, inlineBelow: 0, workerScript: script }), /scan worker failed: this worker cannot start/);
    // A model whose layers are too few to share: the early workers are stopped and the scan runs inline.
    const one = await inspectModel(path, { inlineBelow: 0, workerScript: script });
    assert.equal(layer(one, 'fc').eligible, true);
  });
});
