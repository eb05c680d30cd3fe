// The WebAssembly SIMD kernel must agree with the JavaScript reference kernel on every statistic, for every
// layout (K strided across lanes, K contiguous, tails), dtype it handles, special values and N.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DTypeName, encodeModel, graph, makeTensor, node, seededRandom, valueInfo } from './support/builder';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { MemorySource } from '../src/engine/onnx/source';
import { ExternalFiles, openTensor } from '../src/engine/onnx/tensorData';
import { PackedCodesReader, repackCodes } from '../src/engine/onnx/packedCodes';
import { packedDistancesSimd } from '../src/engine/sparsity/simd/packedDistances';
import type { ScanStats } from '../src/engine/sparsity/kernel';
import { type ZeroPoint, packedZeroPoints } from '../src/engine/sparsity/decode';
import { type ScanPart, scanPart, splitParts } from '../src/engine/sparsity/scan';
import { ShapeInfo } from '../src/engine/sparsity/kernel';
import { simdApplies } from '../src/engine/sparsity/simd/simdScan';
import { pruneSlab, pruneSlabReference } from '../src/engine/convert/prune';
import { dtypeById } from '../src/engine/onnx/dtypes';
import { DTYPE_IDS } from './support/builder';

const SPECIALS: Record<string, number[]> = {
  // -0, +inf, -inf, NaN, smallest subnormal, largest finite
  float16: [0x8000, 0x7c00, 0xfc00, 0x7e01, 0x0001, 0x7bff],
  bfloat16: [0x8000, 0x7f80, 0xff80, 0x7fc1, 0x0001, 0x7f7f],
  float32: [-0, Infinity, -Infinity, NaN, 1.4e-45, 3.4e38],
};

/**
 * Random weights with a share `zeros` of zeros (0.45: every count 0..4 occurs; 0.8: most groups of 8 lanes are all
 * valid, the kernel's fast path), optionally special values.
 */
function weights(dtype: DTypeName, count: number, seed: number, specials: boolean, zeros: number): number[] {
  const rnd = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const roll = rnd();
    if (roll < zeros) out.push(0);
    else if (specials && roll < zeros + 0.05) out.push(SPECIALS[dtype][Math.floor(rnd() * 6)]);
    else if (dtype === 'float32') out.push(Math.fround((rnd() - 0.5) * 8));
    else out.push(Math.floor(rnd() * 0x7bff) | (rnd() < 0.5 ? 0x8000 : 0) || 1);
  }
  return out;
}

function reader(dtype: DTypeName, dims: number[], values: number[]) {
  const bytes = encodeModel({
    graph: graph({
      name: 'g',
      nodes: [node('Identity', ['w'], ['y'])],
      inputs: [],
      outputs: [valueInfo('y', dtype, dims)],
      initializers: [makeTensor({ name: 'w', dtype, dims, values, bits: dtype !== 'float32' })],
    }),
  });
  const src = new MemorySource('simd.onnx', bytes);
  return openTensor(src, readSkeleton(src).graph.initializers[0], new ExternalFiles('simd.onnx'));
}

function assertSame(simd: ScanStats, js: ScanStats, label: string): void {
  const { sumMagnitude: s1, keptMagnitude: k1, ...rest1 } = simd;
  const { sumMagnitude: s2, keptMagnitude: k2, ...rest2 } = js;
  assert.deepEqual(rest1, rest2, label);
  // The SIMD kernel adds magnitudes in float32 over runs of at most 32 values, then in float64: both sums agree
  // with the reference's to 1e-6 of the total (the bound of such runs is 32 x 2^-24, about 2e-6; typically 1e-8).
  for (const [a, b] of [[s1, s2], [k1, k2]]) {
    if (!Number.isFinite(a) || !Number.isFinite(b)) assert.equal(a, b, label);
    else assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(s2)), `${label}: ${a} vs ${b}`);
  }
}

const CASES: { label: string; dims: number[]; kAxis: number; rAxis: number }[] = [
  { label: 'Conv [24, 20, 3, 3] (K strided, 9 lanes: one vector and a scalar tail)', dims: [24, 20, 3, 3], kAxis: 1, rAxis: 0 },
  { label: 'Conv 1x1 [16, 48, 1, 1] (K contiguous)', dims: [16, 48, 1, 1], kAxis: 1, rAxis: 0 },
  { label: 'MatMul B [36, 21] (K strided, 21 lanes, K % 16 = 4)', dims: [36, 21], kAxis: 0, rAxis: 1 },
  { label: 'MatMul B [64, 40] (r across lanes, blocks 4x16)', dims: [64, 40], kAxis: 0, rAxis: 1 },
  { label: 'Gemm transB [12, 40] (K contiguous, K % 16 = 8)', dims: [12, 40], kAxis: 1, rAxis: 0 },
  { label: 'MatMul A [8, 100] (K contiguous, tail of 4)', dims: [8, 100], kAxis: 1, rAxis: 0 },
  { label: 'batched MatMul B [3, 32, 12]', dims: [3, 32, 12], kAxis: 1, rAxis: 2 },
  { label: 'batched MatMul A [2, 6, 48] (r in A with a batch axis)', dims: [2, 6, 48], kAxis: 2, rAxis: 1 },
  { label: 'MatMul B [32, 1100] (8-lane vectors inside one tile row, and straddling two)', dims: [32, 1100], kAxis: 0, rAxis: 1 },
  { label: 'Gemm transB [8, 4160] (K contiguous, uneven columns of several words)', dims: [8, 4160], kAxis: 1, rAxis: 0 },
];

/**
 * Prunes every A-row of the weight with the SIMD pass and the reference pass; bytes and counts must be identical.
 * Float magnitudes (summed in float32 over short runs, as in the scan) agree to 1e-6 of the total; integer ones
 * exactly.
 */
function comparePruning(r: ReturnType<typeof reader>, dtype: DTypeName, c: { dims: number[]; kAxis: number; rAxis: number }, n: number, zp?: ZeroPoint): void {
  const pattern = { n, m: 4 };
  assert.ok(simdApplies(dtype, pattern, zp));
  const { A, K, B } = new ShapeInfo({ dims: c.dims, kAxis: c.kAxis, rAxis: c.rAxis }, pattern);
  const dt = dtypeById(DTYPE_IDS[dtype])!;
  const scratch = { mags: new Float64Array(0), single: new Float32Array(0) };
  for (let a = 0; a < A; a++) {
    const first = a * K * B;
    const simd = r.read(first, K * B).bytes.slice();
    const js = simd.slice();
    const t1 = { sumMagnitude: 0, keptMagnitude: 0, pruned: 0 };
    const t2 = { sumMagnitude: 0, keptMagnitude: 0, pruned: 0 };
    pruneSlab(dt, simd, 0, K, B, pattern, first, c.dims, zp, t1, scratch);
    pruneSlabReference(dt, js, 0, K, B, pattern, first, c.dims, zp, t2, scratch);
    assert.deepEqual(simd, js, `row ${a}: pruned bytes differ`);
    assert.equal(t1.pruned, t2.pruned);
    const tolerance = dt.integer ? 0 : 1e-6;
    for (const [x, y] of [[t1.sumMagnitude, t2.sumMagnitude], [t1.keptMagnitude, t2.keptMagnitude]]) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) assert.equal(x, y);
      else assert.ok(Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(t2.sumMagnitude)), `${x} vs ${y}`);
    }
  }
}

describe('SIMD kernel agrees with the JavaScript kernel', () => {
  for (const dtype of ['float16', 'bfloat16', 'float32'] as DTypeName[]) {
    for (const c of CASES) {
      for (const [n, zeros] of [[1, 0.45], [2, 0.45], [3, 0.45], [2, 0.8]]) {
        test(`${dtype} ${c.label}, ${n}:4, ${zeros * 100}% zeros`, () => {
          const count = c.dims.reduce((x, y) => x * y, 1);
          const values = weights(dtype, count, count * 31 + n, n === 2, zeros);
          const r = reader(dtype, c.dims, values);
          const pattern = { n, m: 4 };
          assert.ok(simdApplies(dtype, pattern, undefined));
          const geometry = { dims: c.dims, kAxis: c.kAxis, rAxis: c.rAxis };
          const shape = new ShapeInfo(geometry, pattern);
          const whole: ScanPart = { a0: 0, a1: shape.A, k0: 0, k1: shape.K };
          const js = scanPart(r, { geometry, pattern, kernel: 'js' }, whole);
          assertSame(scanPart(r, { geometry, pattern }, whole), js, 'whole tensor');
          // Parts cut along A or K (small target) must add up to the same statistics.
          for (const part of splitParts(shape, 200)) {
            assertSame(scanPart(r, { geometry, pattern }, part), scanPart(r, { geometry, pattern, kernel: 'js' }, part), `part ${JSON.stringify(part)}`);
          }
        });
      }
    }
  }
});

describe('SIMD kernel on 8-bit integers agrees with the JavaScript kernel', () => {
  // One zero point for the whole tensor (none, a scalar, or per-channel values that are all equal); magnitudes are
  // |q - zp| and their sums exact, so every statistic must be identical.
  const ZERO_POINTS: { label: string; dtype: DTypeName; zp: (dims: number[], rAxis: number) => ZeroPoint | undefined; value: number }[] = [
    { label: 'int8, no zero point', dtype: 'int8', zp: () => undefined, value: 0 },
    { label: 'int8, zero point -3', dtype: 'int8', zp: () => ({ values: [-3], axis: -1, blockSize: 0 }), value: -3 },
    { label: 'uint8, zero point 128', dtype: 'uint8', zp: () => ({ values: [128], axis: -1, blockSize: 0 }), value: 128 },
    { label: 'uint8, per-channel zero points all 7', dtype: 'uint8', zp: (dims, rAxis) => ({ values: new Array(dims[rAxis]).fill(7), axis: rAxis, blockSize: 0 }), value: 7 },
  ];
  for (const z of ZERO_POINTS) {
    for (const c of CASES) {
      for (const [n, zeros] of [[1, 0.45], [2, 0.45], [3, 0.45], [2, 0.8]]) {
        test(`${z.label}: ${c.label}, ${n}:4, ${zeros * 100}% zeros`, () => {
          const count = c.dims.reduce((x, y) => x * y, 1);
          const rnd = seededRandom(count * 13 + n);
          const [lo, hi] = z.dtype === 'int8' ? [-128, 127] : [0, 255];
          // Zeros are the zero point; the extremes of the type occur too.
          const values = Array.from({ length: count }, (_, i) => (rnd() < zeros ? z.value : i % 17 === 0 ? (i % 2 ? lo : hi) : lo + Math.floor(rnd() * (hi - lo + 1))));
          const r = reader(z.dtype, c.dims, values);
          const pattern = { n, m: 4 };
          const zeroPoint = z.zp(c.dims, c.rAxis);
          assert.ok(simdApplies(z.dtype, pattern, zeroPoint));
          const geometry = { dims: c.dims, kAxis: c.kAxis, rAxis: c.rAxis };
          const shape = new ShapeInfo(geometry, pattern);
          const whole: ScanPart = { a0: 0, a1: shape.A, k0: 0, k1: shape.K };
          const js = scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, whole);
          assert.deepEqual(scanPart(r, { geometry, pattern, zeroPoint }, whole), js);
          for (const part of splitParts(shape, 200)) {
            assert.deepEqual(scanPart(r, { geometry, pattern, zeroPoint }, part), scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, part), `part ${JSON.stringify(part)}`);
          }
        });
      }
    }
  }

  test('per-channel zero points that differ stay with the JavaScript kernel', () => {
    assert.equal(simdApplies('int8', { n: 2, m: 4 }, { values: [0, 1], axis: 0, blockSize: 0 }), false);
    assert.equal(simdApplies('int8', { n: 2, m: 8 }, undefined), false);
    assert.equal(simdApplies('int16', { n: 2, m: 4 }, undefined), false);
  });
});

describe('integers with differing zero points, and 4-bit integers, scan as distances |q - zp| in the SIMD kernel', () => {
  // Zero points per channel, per block along K (int4 LLM exports) or none, on 8- and 4-bit weights: every statistic,
  // the fragile zero-point zeros included, must equal the JavaScript kernel's.
  const CASES_ZP: { label: string; dtype: DTypeName; dims: number[]; kAxis: number; rAxis: number; zp?: (rnd: () => number) => ZeroPoint }[] = [
    { label: 'uint8 per-channel zero points, MatMul B [36, 21] (K strided)', dtype: 'uint8', dims: [36, 21], kAxis: 0, rAxis: 1, zp: (rnd) => ({ values: Array.from({ length: 21 }, () => Math.floor(rnd() * 256)), axis: 1, blockSize: 0 }) },
    { label: 'int8 per-channel zero points, Gemm transB [12, 40] (K contiguous)', dtype: 'int8', dims: [12, 40], kAxis: 1, rAxis: 0, zp: (rnd) => ({ values: Array.from({ length: 12 }, () => Math.floor(rnd() * 256) - 128), axis: 0, blockSize: 0 }) },
    { label: 'uint8 zero points per block of 16 along K, [24, 64]', dtype: 'uint8', dims: [24, 64], kAxis: 1, rAxis: 0, zp: (rnd) => ({ values: Array.from({ length: 24 * 4 }, () => Math.floor(rnd() * 16)), axis: 1, blockSize: 16 }) },
    { label: 'uint8 zero points per block of 32 along K, a short last block, [8, 80]', dtype: 'uint8', dims: [8, 80], kAxis: 1, rAxis: 0, zp: (rnd) => ({ values: Array.from({ length: 8 * 3 }, () => Math.floor(rnd() * 16)), axis: 1, blockSize: 32 }) },
    { label: 'uint4 zero points per block of 16 along K, [16, 48]', dtype: 'uint4', dims: [16, 48], kAxis: 1, rAxis: 0, zp: (rnd) => ({ values: Array.from({ length: 16 * 3 }, () => Math.floor(rnd() * 16)), axis: 1, blockSize: 16 }) },
    { label: 'int4 without zero point, MatMul B [32, 12] (K strided)', dtype: 'int4', dims: [32, 12], kAxis: 0, rAxis: 1 },
    { label: 'uint4 zero point 8, [20, 36]', dtype: 'uint4', dims: [20, 36], kAxis: 1, rAxis: 0, zp: () => ({ values: [8], axis: -1, blockSize: 0 }) },
  ];
  for (const c of CASES_ZP) {
    for (const [n, zeros] of [[2, 0.45], [1, 0.45], [2, 0.8]]) {
      test(`${c.label}, ${n}:4, ${zeros * 100}% zeros`, () => {
        const count = c.dims.reduce((x, y) => x * y, 1);
        const rnd = seededRandom(count * 7 + n);
        const zeroPoint = c.zp?.(rnd);
        const geometry = { dims: c.dims, kAxis: c.kAxis, rAxis: c.rAxis };
        const pattern = { n, m: 4 };
        const point = (i: number) => (zeroPoint ? zeroPointAt(zeroPoint, c.dims, i) : 0);
        const [lo, hi] = c.dtype === 'int8' ? [-128, 127] : c.dtype === 'uint8' ? [0, 255] : c.dtype === 'int4' ? [-8, 7] : [0, 15];
        const values = Array.from({ length: count }, (_, i) => (rnd() < zeros ? point(i) : lo + Math.floor(rnd() * (hi - lo + 1))));
        const r = reader(c.dtype, c.dims, values);
        assert.equal(simdApplies(c.dtype, pattern, zeroPoint), false, 'not the 8-bit one-zero-point SIMD path');
        const shape = new ShapeInfo(geometry, pattern);
        const whole: ScanPart = { a0: 0, a1: shape.A, k0: 0, k1: shape.K };
        const js = scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, whole);
        assert.ok(js.zeros > 0);
        assert.deepEqual(scanPart(r, { geometry, pattern, zeroPoint }, whole), js);
        for (const part of splitParts(shape, 100)) {
          assert.deepEqual(scanPart(r, { geometry, pattern, zeroPoint }, part), scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, part), `part ${JSON.stringify(part)}`);
        }
      });
    }
  }
});

describe('4-bit packed codes (MatMulNBits) scan as distances in one pass over their bytes', () => {
  // Rows of K codes in blobs of block_size, the last one padded; zero points per (row, block), or one for all.
  for (const { label, rows, K, blockSize, perBlock } of [
    { label: 'K = 64 in blocks of 16, zero points per block', rows: 24, K: 64, blockSize: 16, perBlock: true },
    { label: 'K = 40 in blocks of 16 (the last padded), zero points per block', rows: 9, K: 40, blockSize: 16, perBlock: true },
    { label: 'K = 96 in blocks of 32, the default zero point 8', rows: 12, K: 96, blockSize: 32, perBlock: false },
    { label: 'K = 300 in blocks of 128 (the last padded, 44 codes), zero points per block, many rows', rows: 70, K: 300, blockSize: 128, perBlock: true },
    { label: 'K = 200 in blocks of 64 (the last padded, 8 codes), the default zero point 8', rows: 33, K: 200, blockSize: 64, perBlock: false },
    { label: 'K = 4096 in blocks of 128, 160 rows: more than one slab of 512 K', rows: 160, K: 4096, blockSize: 128, perBlock: true },
    // K and the block multiples of 64: measured as read, in registers (kernel scanPacked4).
    { label: 'K = 256 in blocks of 64, zero points per block, measured as read', rows: 40, K: 256, blockSize: 64, perBlock: true },
    { label: 'K = 192 in blocks of 64 (3 a row: packed zero points end in a lone nibble), measured as read', rows: 17, K: 192, blockSize: 64, perBlock: true },
    { label: 'K = 128 in one block of 128, the default zero point 8, measured as read', rows: 50, K: 128, blockSize: 128, perBlock: false },
    { label: 'K = 1024 in blocks of 256, 600 rows: several reads of whole rows, measured as read', rows: 600, K: 1024, blockSize: 256, perBlock: true },
    { label: 'K = 128 in blocks of 32 (two zero points in each 64 codes), measured as read', rows: 30, K: 128, blockSize: 32, perBlock: true },
    { label: 'K = 320 in blocks of 16 (four zero points in each 64 codes), measured as read', rows: 21, K: 320, blockSize: 16, perBlock: true },
  ]) {
    for (const [n, zeros, form] of [[2, 0.45, 'bytes'], [1, 0.45, 'bytes'], [3, 0.45, 'bytes'], [2, 0.8, 'bytes'], [2, 0.45, 'packed']] as const) {
      if (form === 'packed' && !perBlock) continue;
      test(`${label}, ${n}:4, ${zeros * 100}% zeros${form === 'packed' ? ', zero points held packed' : ''}`, () => {
        const rnd = seededRandom(rows * K + n);
        const blocks = Math.ceil(K / blockSize);
        const points = perBlock ? Uint8Array.from({ length: rows * blocks }, () => Math.floor(rnd() * 16)) : undefined;
        let zeroPoint: ZeroPoint = points ? { values: points, axis: 1, blockSize } : { values: [8], axis: -1, blockSize: 0 };
        if (points && form === 'packed') {
          // As MatMulNBits stores them: two a byte, low nibble first, each row padded to whole bytes.
          const rowBytes = Math.ceil(blocks / 2);
          const bytes = new Uint8Array(rows * rowBytes);
          for (let r = 0; r < rows; r++) for (let b = 0; b < blocks; b++) bytes[r * rowBytes + (b >> 1)] |= points[r * blocks + b] << ((b & 1) * 4);
          zeroPoint = packedZeroPoints({ bytes, perRow: blocks, rowBytes }, 1, blockSize);
        }
        const blob = blockSize / 2;
        const stored = new Uint8Array(rows * blocks * blob);
        for (let r = 0; r < rows; r++) {
          for (let k = 0; k < blocks * blockSize; k++) {
            const point = points ? points[r * blocks + Math.floor(k / blockSize)] : 8;
            const code = k < K && rnd() < zeros ? point : Math.floor(rnd() * 16);
            const at = r * blocks * blob + (k >> 1);
            stored[at] |= code << ((k & 1) * 4);
          }
        }
        const codes = { bits: 4 as const, K, blockSize, storedDims: [rows, blocks, blob] };
        const r = new PackedCodesReader(reader('uint8', [rows, blocks, blob], [...stored]), codes, rows * K);
        assert.notEqual(packedDistancesSimd(r, 0, K, new Uint8Array(K), points ?? 8), null, 'WebAssembly SIMD runs here');
        const geometry = { dims: [rows, K], kAxis: 1, rAxis: 0 };
        const pattern = { n, m: 4 };
        const shape = new ShapeInfo(geometry, pattern);
        const whole: ScanPart = { a0: 0, a1: shape.A, k0: 0, k1: shape.K };
        const js = scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, whole);
        assert.ok(js.zeros > 0 && js.zeroPointZeros > 0);
        assert.deepEqual(scanPart(r, { geometry, pattern, zeroPoint }, whole), js);
        for (const part of splitParts(shape, 100)) {
          assert.deepEqual(scanPart(r, { geometry, pattern, zeroPoint }, part), scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, part), `part ${JSON.stringify(part)}`);
        }
      });
    }
  }
});

/**
 * `rows` rows of K 4-bit codes in blocks of `blockSize`, packed as MatMulNBits stores them (K a multiple of the
 * block: no padding), with a zero point per (row, block): `code(r, k, point)` gives each code. The reader, its zero
 * points and what scanPart needs to scan it whole.
 */
function packedCodes(rows: number, K: number, blockSize: number, points: Uint8Array, code: (r: number, k: number, point: number) => number) {
  const blocks = K / blockSize;
  const stored = new Uint8Array((rows * K) / 2);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < K; k++) stored[(r * K + k) >> 1] |= code(r, k, points[r * blocks + Math.floor(k / blockSize)]) << ((k & 1) * 4);
  }
  const codes = { bits: 4 as const, K, blockSize, storedDims: [rows, blocks, blockSize / 2] };
  return {
    reader: new PackedCodesReader(reader('uint8', [rows, blocks, blockSize / 2], [...stored]), codes, rows * K),
    zeroPoint: { values: points, axis: 1, blockSize } as ZeroPoint,
    geometry: { dims: [rows, K], kAxis: 1, rAxis: 0 },
    whole: { a0: 0, a1: rows, k0: 0, k1: K } as ScanPart,
  };
}

describe('4-bit packed codes at the largest distances: the kernel\'s partial sums never overflow', () => {
  // Every code 15 places from its zero point (code 15 on zero point 0, code 0 on 15) except a few on it, over two
  // rows of 32 768 codes: more than one flush of the kernel's byte and 16-bit partial sums per row.
  for (const blockSize of [16, 128]) {
    test(`K = 32768 in blocks of ${blockSize}, distances of 15`, () => {
      const rows = 3;
      const K = 32768;
      const blocks = K / blockSize;
      const rnd = seededRandom(blockSize);
      const points = Uint8Array.from({ length: rows * blocks }, (_, i) => (i % 3 === 0 ? 15 : 0));
      const { reader: r, zeroPoint, geometry, whole } = packedCodes(rows, K, blockSize, points, (_r, _k, point) => (rnd() < 0.02 ? point : 15 - point));
      const pattern = { n: 2, m: 4 };
      const js = scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, whole);
      const simd = scanPart(r, { geometry, pattern, zeroPoint }, whole);
      assert.equal(js.sumMagnitude, 15 * (rows * K - js.zeros));
      assert.deepEqual(simd, js);
    });
  }
  // Blocks larger than the kernel's chunk of 16 384 codes (each chunk inside one block; a row's second block's zero
  // point the high nibble of its packed byte), some zero points 0: the codes on them counted apart (fragile.ts).
  for (const form of ['a byte each', 'packed'] as const) {
    test(`K = 65536 in blocks of 32768, zero points ${form}, some 0`, () => {
      const rows = 3;
      const K = 65536;
      const blockSize = 32768;
      const points = Uint8Array.from([0, 9, 15, 0, 3, 0]);
      const rnd = seededRandom(5);
      const made = packedCodes(rows, K, blockSize, points, (_r, _k, point) => (rnd() < 0.3 ? point : Math.floor(rnd() * 16)));
      const zeroPoint = form === 'packed' ? packedZeroPoints({ bytes: Uint8Array.from([0x90, 0x0f, 0x03]), perRow: 2, rowBytes: 1 }, 1, blockSize) : made.zeroPoint;
      const pattern = { n: 2, m: 4 };
      const js = scanPart(made.reader, { geometry: made.geometry, pattern, zeroPoint, kernel: 'js' }, made.whole);
      const simd = scanPart(made.reader, { geometry: made.geometry, pattern, zeroPoint }, made.whole);
      assert.ok(js.zeroPointZeros! > 0 && js.zeroPointZeros! < js.zeros, `some zeros on a zero point of 0 (${js.zeroPointZeros} of ${js.zeros})`);
      assert.deepEqual(simd, js);
    });
  }
});

describe('4-bit packed codes: block shapes over rows measured four rows at a time, and across reads', () => {
  // K = 3904: a read holds 537 whole rows (2 M codes), so the block of rows 536..539 is split between two reads and
  // is counted through the partial ORs (rowBlocksFull); the other blocks of 4 rows are measured together (kernel
  // rowQuad). Rows of 244 words: 30 vectors of 8 and 4 more. Zeros come in runs along rows and across them, so
  // blocks of 2 and 4 rows are often all zero.
  test('K = 3904, 560 rows: the same 2x1, 4x1 and 4x16 counts as the JavaScript kernel', () => {
    const rows = 560;
    const K = 3904;
    const blockSize = 64;
    const blocks = K / blockSize;
    const rnd = seededRandom(3904);
    const points = Uint8Array.from({ length: rows * blocks }, () => Math.floor(rnd() * 16));
    // A zero where the 16-code column and the 4-row block say so, or by chance.
    const { reader: r, zeroPoint, geometry, whole } = packedCodes(rows, K, blockSize, points, (row, k, point) =>
      ((k >> 4) + (row >> 2)) % 3 === 0 || rnd() < 0.3 ? point : (point + 1 + Math.floor(rnd() * 15)) % 16,
    );
    const pattern = { n: 2, m: 4 };
    const js = scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, whole);
    // Blocks of rows that are all zero, and some that are not.
    const b = js.blocks;
    assert.ok(b['2x1']!.zero > 0 && b['4x1']!.zero > 0 && b['4x16']!.zero > 0 && b['4x16']!.zero < b['4x16']!.total);
    assert.deepEqual(scanPart(r, { geometry, pattern, zeroPoint }, whole), js);
    // A part from row 4 (parts start at a multiple of 4 rows): its first read ends after row 540, inside the block
    // of rows 540..543.
    const part: ScanPart = { a0: 4, a1: 560, k0: 0, k1: K };
    assert.deepEqual(scanPart(r, { geometry, pattern, zeroPoint }, part), scanPart(r, { geometry, pattern, zeroPoint, kernel: 'js' }, part));
  });
});

describe('4-bit packed codes as distances: WebAssembly SIMD and the JavaScript pass agree with the codes, at any start and end', () => {
  // Runs that start and end inside a byte, a block or a row, span rows, or cover a padded last block: the distances
  // |code - zp| of the unpacked codes, and the count of codes equal to a non-zero zero point, exactly.
  for (const { label, rows, K, blockSize, perBlock } of [
    { label: 'K = 300 in blocks of 128 (the last padded), zero points per block', rows: 7, K: 300, blockSize: 128, perBlock: true },
    { label: 'K = 4096 in blocks of 128, zero points per block', rows: 3, K: 4096, blockSize: 128, perBlock: true },
    { label: 'K = 77 in blocks of 32 (the last padded), the default zero point 8', rows: 9, K: 77, blockSize: 32, perBlock: false },
    { label: 'K = 40 in blocks of 16 (the last padded), zero points per block', rows: 11, K: 40, blockSize: 16, perBlock: true },
  ]) {
    test(label, () => {
      const rnd = seededRandom(rows * K + blockSize);
      const blocks = Math.ceil(K / blockSize);
      const blob = blockSize / 2;
      // Zero points 0..15, 0 included (its codes' zeros are not counted); codes often equal to their zero point.
      const points = perBlock ? Uint8Array.from({ length: rows * blocks }, (_, i) => (i % 5 === 0 ? 0 : Math.floor(rnd() * 16))) : undefined;
      const pointOf = (e: number) => (points ? points[Math.floor(e / K) * blocks + Math.floor((e % K) / blockSize)] : 8);
      const stored = Uint8Array.from({ length: rows * blocks * blob }, () => Math.floor(rnd() * 256));
      const codes = { bits: 4 as const, K, blockSize, storedDims: [rows, blocks, blob] };
      const r = new PackedCodesReader(reader('uint8', [rows, blocks, blob], [...stored]), codes, rows * K);
      // Make about a third of the real codes equal to their zero point.
      const unpacked = r.read(0, rows * K).bytes.slice();
      for (let e = 0; e < rows * K; e++) if (rnd() < 0.3) unpacked[e] = pointOf(e);
      const packedReader = new PackedCodesReader(reader('uint8', [rows, blocks, blob], [...repackCodes(stored, unpacked, codes, rows)]), codes, rows * K);
      const runs: [number, number][] = [[0, rows * K], [1, rows * K - 2], [K - 33, 67], [K + 3, 1], [K + 3, 2], [K - 1, K + 2], [blockSize - 1, 66], [5, blockSize + 31]];
      for (let i = 0; i < 40; i++) {
        const start = Math.floor(rnd() * rows * K);
        runs.push([start, Math.floor(rnd() * (rows * K - start + 1))]);
      }
      for (const [start, count] of runs) {
        const expected = new Uint8Array(count);
        let equal = 0;
        for (let i = 0; i < count; i++) {
          const point = pointOf(start + i);
          expected[i] = Math.abs(unpacked[start + i] - point);
          if (expected[i] === 0 && point !== 0) equal++;
        }
        const simd = new Uint8Array(count);
        assert.equal(packedDistancesSimd(packedReader, start, count, simd, points ?? 8), equal, `WebAssembly count, run ${start} + ${count}`);
        assert.deepEqual(simd, expected, `WebAssembly distances, run ${start} + ${count}`);
        const js = new Uint8Array(count);
        assert.equal(packedReader.readDistances(start, count, js, points ?? 8), equal, `JavaScript count, run ${start} + ${count}`);
        assert.deepEqual(js, expected, `JavaScript distances, run ${start} + ${count}`);
      }
    });
  }
});

/** The zero point of element i (row-major) by the same rule as decode.ts, written out: per tensor, channel or block. */
function zeroPointAt(zp: ZeroPoint, dims: number[], i: number): number {
  if (zp.axis < 0) return zp.values[0];
  const inner = dims.slice(zp.axis + 1).reduce((x, y) => x * y, 1);
  const size = dims[zp.axis];
  const k = Math.floor(i / inner) % size;
  if (!zp.blockSize) return zp.values[k];
  const outer = Math.floor(i / (inner * size));
  return zp.values[(outer * Math.ceil(size / zp.blockSize) + Math.floor(k / zp.blockSize)) * inner + (i % inner)];
}

describe('SIMD pruning of 8-bit integers agrees with the JavaScript pruning pass', () => {
  const ZPS: { dtype: DTypeName; value: number; zp?: ZeroPoint }[] = [
    { dtype: 'int8', value: 0 },
    { dtype: 'int8', value: -3, zp: { values: [-3], axis: -1, blockSize: 0 } },
    { dtype: 'uint8', value: 128, zp: { values: [128], axis: -1, blockSize: 0 } },
  ];
  for (const z of ZPS) {
    for (const c of CASES) {
      for (const [n, zeros] of [[1, 0.45], [2, 0.45], [3, 0.45], [2, 0.8]]) {
        test(`${z.dtype} zero point ${z.value}: ${c.label}, ${n}:4, ${zeros * 100}% zeros`, () => {
          const count = c.dims.reduce((x, y) => x * y, 1);
          const rnd = seededRandom(count * 19 + n);
          const [lo, hi] = z.dtype === 'int8' ? [-128, 127] : [0, 255];
          // Ties: the same distance from the zero point on both sides; and the type's extremes.
          const values = Array.from({ length: count }, (_, i) =>
            rnd() < zeros ? z.value : i % 7 === 0 ? z.value + 5 : i % 11 === 0 ? z.value - 5 : i % 13 === 0 ? (i % 2 ? lo : hi) : lo + Math.floor(rnd() * (hi - lo + 1)),
          );
          comparePruning(reader(z.dtype, c.dims, values), z.dtype, c, n, z.zp);
        });
      }
    }
  }
});

describe('SIMD kernel on structured weights (whole rows dense, 2:4-valid or mixed)', () => {
  // Rows of one kind take the kernel's shortcuts (no valid group / every group valid); random weights never do.
  const layouts = [
    { label: 'K contiguous [12, 4160]', dims: [12, 4160], kAxis: 1, rAxis: 0 },
    { label: 'K contiguous [12, 4168] (a short last word)', dims: [12, 4168], kAxis: 1, rAxis: 0 },
    { label: 'K strided [64, 1100]', dims: [64, 1100], kAxis: 0, rAxis: 1 },
  ];
  for (const dtype of ['float16', 'bfloat16'] as DTypeName[]) {
    for (const c of layouts) {
      test(`${dtype} ${c.label}`, () => {
        const rnd = seededRandom(c.dims[1]);
        const [rows, cols] = c.dims;
        const values: number[] = [];
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) {
            // The kind follows the output feature: i for K contiguous, j (lanes) for K strided.
            const r = c.kAxis === 1 ? i : j;
            const k = c.kAxis === 1 ? j : i;
            const kind = r % 3; // 0 dense, 1 valid 2:4, 2 valid except one group
            const zero = kind !== 0 && (k & 3) >= 2;
            const broken = kind === 2 && k >> 2 === (r % 7) && (k & 3) === 2;
            values.push(zero && !broken ? 0 : Math.floor(rnd() * 0x3bff) + 1);
          }
        }
        const r = reader(dtype, c.dims, values);
        for (const n of [1, 2, 3]) {
          const pattern = { n, m: 4 };
          const geometry = { dims: c.dims, kAxis: c.kAxis, rAxis: c.rAxis };
          const shape = new ShapeInfo(geometry, pattern);
          const whole: ScanPart = { a0: 0, a1: shape.A, k0: 0, k1: shape.K };
          const js = scanPart(r, { geometry, pattern, kernel: 'js' }, whole);
          if (n === 2) assert.ok(js.validGroups > 0 && js.validGroups < js.groups, 'the weight mixes valid and invalid groups');
          assertSame(scanPart(r, { geometry, pattern }, whole), js, `${n}:4`);
        }
      });
    }
  }
});

describe('SIMD pruning agrees with the JavaScript pruning pass', () => {
  for (const dtype of ['float16', 'bfloat16', 'float32'] as DTypeName[]) {
    for (const c of CASES) {
      for (const [n, zeros] of [[1, 0.45], [2, 0.45], [3, 0.45], [2, 0.8]]) {
        test(`${dtype} ${c.label}, ${n}:4, ${zeros * 100}% zeros`, () => {
          const count = c.dims.reduce((x, y) => x * y, 1);
          // Ties too: a few repeated magnitudes of both signs.
          const values = weights(dtype, count, count * 17 + n, true, zeros).map((v, i) => (i % 7 === 0 ? (dtype === 'float32' ? -1.5 : 0xbe00) : i % 11 === 0 ? (dtype === 'float32' ? 1.5 : 0x3e00) : v));
          comparePruning(reader(dtype, c.dims, values), dtype, c, n);
        });
      }
    }
  }
});
