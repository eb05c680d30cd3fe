// com.microsoft MatMulNBits, as ONNX Runtime GenAI and Olive write int4 LLMs: B uint8 [N, k_blocks, blob_size] of
// packed codes, one row per output channel with K contiguous, low bits first; zero points packed the same way along
// the blocks, or 2^(bits-1) by default. A weight is zero when its code equals its block's zero point. Models built
// in code with exact counts; converted with prune (codes set to the zero point, written back packed) and verified.
import assert from 'node:assert/strict';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { ExternalSink, type ModelSpec, graph, makeTensor, node, valueInfo, writeModel } from './support/builder';
import { inspectFile, inspectSpec, layer, tempDir, writeTempModel } from './support/models';
import { inspectModel } from '../src/engine/sparsity/inspect';
import { seededRandom } from '../src/engine/onnx/numbers';
import { convertModel } from '../src/engine/convert/convert';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { FileSource } from '../src/engine/onnx/source';
import { ExternalFiles, openTensor } from '../src/engine/onnx/tensorData';
import { findLayers } from '../src/engine/sparsity/layers';
import { readPackedZeroPointRows, rehydrateZeroPoint, zeroPointLookup } from '../src/engine/sparsity/decode';
import { readGroupEncodings } from '../src/engine/sparsity/region';
import { formatReport } from '../src/engine/report/format';
import { type HardwareProfile, resolveProfile } from '../src/engine/speedup/profiles';
import { ROUND } from './support/profiles';

interface NBits {
  N: number;
  K: number;
  bits: 4 | 8 | 2;
  blockSize: number;
  /** codes[n][k], in 0 .. 2^bits - 1. */
  codes: number[][];
  /** zeroPoints[n][block]; undefined: the default 2^(bits-1), no input 3. */
  zeroPoints?: number[][];
  /** Zero points unpacked in A's type (float32) instead of packed uint8. */
  floatZeroPoints?: boolean;
  attrs?: Record<string, number>;
  /** g_idx: true for k / block_size, or the block of each k. */
  gIdx?: boolean | number[];
  /** The code stored in the padding beyond K (default 0). */
  padCode?: number;
  /** B in this external data file. */
  external?: ExternalSink;
}

/** Packs `values` (each < 2^bits) low bits first, `8 / bits` per byte, into `bytes` bytes. */
function pack(values: number[], bits: number, bytes: number): number[] {
  const out = new Array<number>(bytes).fill(0);
  const perByte = 8 / bits;
  values.forEach((v, i) => (out[Math.floor(i / perByte)] |= v << (bits * (i % perByte))));
  return out;
}

function nbitsModel(spec: NBits): ModelSpec {
  const { N, K, bits, blockSize } = spec;
  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const b: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < kBlocks; blk++) {
      const block = Array.from({ length: blockSize }, (_, j) => spec.codes[n][blk * blockSize + j] ?? spec.padCode ?? 0);
      b.push(...pack(block, bits, blob));
    }
  }
  const initializers = [
    makeTensor({ name: 'B', dtype: 'uint8', dims: [N, kBlocks, blob], values: b, storage: spec.external ? { external: 'nbits.data' } : 'raw' }, spec.external),
    makeTensor({ name: 'scales', dtype: 'float32', dims: [N * kBlocks], values: new Array(N * kBlocks).fill(0.125) }),
  ];
  const inputs = ['A', 'B', 'scales'];
  if (spec.zeroPoints && spec.floatZeroPoints) {
    initializers.push(makeTensor({ name: 'zp', dtype: 'float32', dims: [N, kBlocks], values: spec.zeroPoints.flat() }));
    inputs.push('zp');
  } else if (spec.zeroPoints) {
    const rowBytes = Math.ceil((kBlocks * bits) / 8);
    const zp = spec.zeroPoints.flatMap((row) => pack(row, bits, rowBytes));
    initializers.push(makeTensor({ name: 'zp', dtype: 'uint8', dims: [N * rowBytes], values: zp }));
    inputs.push('zp');
  }
  if (spec.gIdx) {
    if (!spec.zeroPoints) inputs.push('');
    const gIdx = Array.isArray(spec.gIdx) ? spec.gIdx : Array.from({ length: K }, (_, k) => Math.floor(k / blockSize));
    initializers.push(makeTensor({ name: 'g_idx', dtype: 'int32', dims: [K], values: gIdx }));
    inputs.push('g_idx');
  }
  return {
    graph: graph({
      name: 'nbits',
      nodes: [node('MatMulNBits', inputs, ['Y'], { K, N, bits, block_size: blockSize, ...spec.attrs }, { name: 'q_proj', domain: 'com.microsoft' })],
      inputs: [valueInfo('A', 'float32', [1, K])],
      outputs: [valueInfo('Y', 'float32', [1, N])],
      initializers,
    }),
    extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
  };
}

/**
 * Codes where every group of 4 along K keeps at most 2 codes off the block's zero point, except the groups listed in
 * `violating` ([row, group index]), which keep 3.
 */
function codes(N: number, K: number, zp: (n: number, k: number) => number, bits: number, violating: [number, number][] = [], seed = 1): number[][] {
  const rnd = seededRandom(seed);
  const max = (1 << bits) - 1;
  const off = (z: number) => {
    // A code other than z, within range (d < 2^bits, so never z itself).
    const d = 1 + Math.floor(rnd() * 3);
    return (z + d) % (max + 1);
  };
  return Array.from({ length: N }, (_, n) =>
    Array.from({ length: K }, (_, k) => {
      const g = Math.floor(k / 4);
      const keep = violating.some(([vn, vg]) => vn === n && vg === g) ? 3 : 2;
      return k % 4 < keep ? off(zp(n, k)) : zp(n, k);
    }),
  );
}

describe('MatMulNBits: the codes as stored, zero where a code equals its block zero point', () => {
  // N = 4 rows, K = 48: three blocks of 16 (an odd number: packed zero points hold a lone nibble per row).
  const N = 4;
  const K = 48;
  const zeroPoints = Array.from({ length: N }, (_, n) => Array.from({ length: 3 }, (_, b) => (3 * n + 5 * b) % 16));
  const zpAt = (n: number, k: number) => zeroPoints[n][Math.floor(k / 16)];

  test('4-bit codes with packed zero points: the layer, its shape and exact group counts', async () => {
    const report = await inspectSpec(nbitsModel({ N, K, bits: 4, blockSize: 16, codes: codes(N, K, zpAt, 4, [[1, 5]]), zeroPoints }));
    const l = layer(report, 'q_proj');
    assert.equal(l.op, 'MatMulNBits');
    assert.equal(l.error, null);
    assert.equal(l.eligible, true, l.reason ?? '');
    // The N x K matrix of codes, K along axis 1, stored as 3 blocks of 16.
    assert.deepEqual([l.dtype, l.shape, l.axis, l.outAxis, l.zeroPoint], ['uint4', [4, 48], 1, 0, 'per-block']);
    assert.deepEqual(l.storedShape, [4, 3, 8]);
    assert.equal(l.elements, N * K);
    assert.deepEqual([l.groups, l.validGroups, l.pass], [48, 47, false]);
    // Two of every four codes sit on their zero point, one fewer in the violating group.
    assert.equal(l.zeros, N * K / 2 - 1);
    assert.deepEqual(report.unrecognized, []);
    // Shape advice is about the matrix (K = 48), not the block the groups run in.
    assert.deepEqual(l.warnings, [
      'small layer (K=48, out=4): sparse kernels pay off mainly from about 256 channels (TensorRT)',
      'K=48, out=4 not multiples of 16: cuSPARSELt/CUTLASS pad them and ASP skips such weights',
    ]);
  });

  test('4-bit codes without zero points: the default 8 is the zero', async () => {
    const report = await inspectSpec(nbitsModel({ N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 8, 4) }));
    const l = layer(report, 'q_proj');
    assert.deepEqual([l.zeroPoint, l.groups, l.validGroups, l.pass, l.zeros], ['per-tensor', 16, 16, true, 32]);
  });

  test('8-bit codes with one packed zero point per block', async () => {
    const zps = [
      [128, 100],
      [7, 250],
    ];
    const report = await inspectSpec(nbitsModel({ N: 2, K: 32, bits: 8, blockSize: 16, codes: codes(2, 32, (n, k) => zps[n][Math.floor(k / 16)], 8, [[0, 7]]), zeroPoints: zps }));
    const l = layer(report, 'q_proj');
    assert.deepEqual([l.dtype, l.shape, l.zeroPoint], ['uint8', [2, 32], 'per-block']);
    assert.deepEqual([l.groups, l.validGroups, l.zeros], [16, 15, 31]);
  });

  test('a code on another block\'s zero point is not zero: groups never borrow a neighbour\'s zero point', async () => {
    // Row 0: block 0's zero point is 5, block 1's is 9; block 1 holds code 5 where block 0 would call it zero.
    const zps = [[5, 9]];
    const row = [...new Array(16).fill(5), ...new Array(16).fill(5)];
    const report = await inspectSpec(nbitsModel({ N: 1, K: 32, bits: 4, blockSize: 16, codes: [row], zeroPoints: zps }));
    const l = layer(report, 'q_proj');
    assert.deepEqual([l.groups, l.validGroups, l.zeros], [8, 4, 16]);
  });

  for (const [what, spec, kind, reason] of [
    ['bits=3 over a 4-bit B', { N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 8, 4), attrs: { bits: 3 } }, 'error', 'MatMulNBits: B is uint8 [2, 2, 8] but K=32, N=2, bits=3, block_size=16 need uint8 [2, 2, 6]'],
    ['weight_prepacked', { N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 8, 4), attrs: { weight_prepacked: 1 } }, 'error', 'MatMulNBits: weight_prepacked is set: B holds a GPU-specific layout this tool cannot read'],
    ['B that disagrees with N', { N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 8, 4), attrs: { N: 3 } }, 'error', 'MatMulNBits: B is uint8 [2, 2, 8] but K=32, N=3, bits=4, block_size=16 need uint8 [3, 2, 8]'],
  ] as const) {
    test(`${what}: listed with its reason, never skipped in silence`, async () => {
      const l = layer(await inspectSpec(nbitsModel(spec as NBits)), 'q_proj');
      assert.equal(l.eligible, false);
      assert.equal(kind === 'error' ? l.error : l.reason, reason);
      assert.equal(l.compliance, null);
    });
  }

  // 4-bit zero points stay packed through the scan (an int4 LLM holds tens of millions): a worker receives the
  // packed bytes and reads each slab's from them. The same counts inline, in a worker, and cut into parts.
  for (const blocks of [4, 3]) {
    test(`4-bit packed zero points (${blocks} blocks per row${blocks % 2 ? ': a lone nibble' : ''}) read packed: the same counts inline, in a worker, in parts`, async () => {
      const rows = 64;
      const k = blocks * 32;
      const zps = Array.from({ length: rows }, (_, n) => Array.from({ length: blocks }, (_, b) => (7 * n + 3 * b) % 16));
      const violating: [number, number][] = [[3, 1], [40, 7], [63, 2 * blocks]];
      const path = writeTempModel(nbitsModel({ N: rows, K: k, bits: 4, blockSize: 32, codes: codes(rows, k, (n, kk) => zps[n][Math.floor(kk / 32)], 4, violating), zeroPoints: zps }));
      const inline = layer(await inspectFile(path), 'q_proj');
      const threaded = layer(await inspectModel(path, { workers: 1, inlineBelow: 0, partElements: 1024 }), 'q_proj');
      assert.deepEqual([inline.groups, inline.validGroups, inline.zeros, inline.zeroPoint], [rows * (k / 4), rows * (k / 4) - 3, (rows * k) / 2 - 3, 'per-block']);
      // Zero codes on a non-zero zero point: every zero but those of the blocks whose zero point is 0.
      const onZero = zps.flat().filter((z) => z === 0).length * 16;
      assert.equal(inline.zeroPointZeros, inline.zeros! - onZero);
      for (const key of ['groups', 'validGroups', 'zeros', 'zeroPointZeros', 'retainedMagnitude', 'countHistogram', 'maskHistogram', 'blocks', 'grid'] as const) {
        assert.deepEqual(threaded[key], inline[key], key);
      }
    });
  }
});

describe('one B under several MatMulNBits: layers share a scan only when their zero points are equal', () => {
  // Three nodes read the same B: q and k with zero points of equal values in two tensors, v with other zero points.
  // Codes sit on q's zero points in two of every four places, so q and k pass 2:4 and v sees no zeros at all.
  test('equal zero points in two tensors share one scan; other zero points get a scan of their own', async () => {
    const N = 8;
    const K = 64;
    const spec = nbitsModel({ N, K, bits: 4, blockSize: 32, codes: codes(N, K, () => 3, 4), zeroPoints: Array.from({ length: N }, () => [3, 3]) });
    const g = spec.graph;
    const zp = g.initializer!.find((t) => t.name === 'zp')!;
    const zpOther = onnx.TensorProto.create({ ...zp, name: 'zp_v', rawData: new Uint8Array(zp.rawData!.length).fill(0xcc) });
    g.initializer!.push(onnx.TensorProto.create({ ...zp, name: 'zp_k' }), zpOther);
    const base = g.node![0];
    const attrs = { K, N, bits: 4, block_size: 32 };
    g.node = [
      base,
      node('MatMulNBits', ['A', 'B', 'scales', 'zp_k'], ['Yk'], attrs, { name: 'k_proj', domain: 'com.microsoft' }),
      node('MatMulNBits', ['A', 'B', 'scales', 'zp_v'], ['Yv'], attrs, { name: 'v_proj', domain: 'com.microsoft' }),
    ];
    g.output!.push(valueInfo('Yk', 'float32', [1, N]), valueInfo('Yv', 'float32', [1, N]));
    const report = await inspectSpec(spec);
    const [q, k, v] = ['q_proj', 'k_proj', 'v_proj'].map((name) => layer(report, name));
    assert.deepEqual([q.groups, q.validGroups, q.zeros, q.pass], [(N * K) / 4, (N * K) / 4, (N * K) / 2, true]);
    assert.deepEqual([k.groups, k.validGroups, k.zeros, k.pass], [q.groups, q.validGroups, q.zeros, true]);
    assert.equal(v.zeros, 0, 'no code equals 12, the zero point of v');
    assert.equal(v.pass, false);
  });
});

describe('a MatMulNBits layer\'s shape in the reports: the N x K matrix, then how it is stored', () => {
  test('table, Markdown, CSV and JSON', async () => {
    const report = await inspectSpec(nbitsModel({ N: 2, K: 40, bits: 4, blockSize: 16, codes: codes(2, 40, () => 8, 4) }));
    const storedAs = 'N x K = 2 x 40, stored as 2 x 3 blocks x 16 4-bit codes (the last block padded by 8)';
    assert.equal(layer(report, 'q_proj').storedAs, storedAs);
    assert.ok(formatReport(report, 'table').includes(`[2x40] (${storedAs})`));
    assert.ok(formatReport(report, 'markdown').includes(`| [2x40] (${storedAs}) |`));
    const csv = formatReport(report, 'csv').split('\n');
    const storedColumn = csv[0].split(',').indexOf('storedShape');
    assert.equal(csv[1].split(',')[storedColumn], '2x3x8');
    const json = JSON.parse(formatReport(report, 'json')).layers[0];
    assert.deepEqual([json.shape, json.storedShape, json.storedAs], [[2, 40], [2, 3, 8], storedAs]);
  });
});

describe('convert a MatMulNBits model', () => {
  const N = 4;
  const K = 48;
  const zeroPoints = Array.from({ length: N }, (_, n) => Array.from({ length: 3 }, (_, b) => (3 * n + 5 * b) % 16));
  const zpAt = (n: number, k: number) => zeroPoints[n][Math.floor(k / 16)];
  const original = codes(N, K, zpAt, 4, [[1, 5]]);

  test('prune sets the smallest off-zero code of the violating group to its zero point, written back packed, and verifies', async () => {
    const dir = tempDir();
    const input = join(dir, 'nbits.onnx');
    writeModel(input, nbitsModel({ N, K, bits: 4, blockSize: 16, codes: original, zeroPoints }));
    const report = await convertModel(input, { mode: 'prune' });
    assert.equal(report.verified, true);
    assert.equal(report.written, true);
    assert.deepEqual([report.layers[0].action, report.layers[0].prunedElements, report.layers[0].passesAfter], ['prune', 1, true]);
    // Expected codes: in row 1, group 5 (k = 20..23), the kept code nearest its zero point goes to the zero point.
    const expected = original.map((row) => [...row]);
    const group = [20, 21, 22, 23];
    const z = zpAt(1, 20);
    const smallest = group.filter((k) => expected[1][k] !== z).reduce((a, k) => (Math.abs(expected[1][k] - z) < Math.abs(expected[1][a] - z) ? k : a), group.find((k) => expected[1][k] !== z)!);
    expected[1][smallest] = z;
    const out = onnx.ModelProto.decode(readFileSync(report.output!));
    const b = out.graph!.initializer!.find((t) => t.name === 'B')!;
    const want = expected.flatMap((row) => [0, 1, 2].flatMap((blk) => pack(row.slice(blk * 16, blk * 16 + 16), 4, 8)));
    assert.deepEqual([...b.rawData!], want);
    const after = layer(await inspectFile(report.output!), 'q_proj');
    assert.deepEqual([after.pass, after.validGroups], [true, 48]);
    // ONNX Runtime runs MatMulNBits: input and output compared on the same inputs.
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
  });

  test('B in external data: prune rewrites the codes into the output\'s data file, exactly as inline', async () => {
    const dir = tempDir();
    const sink = new ExternalSink();
    const input = join(dir, 'nbits.onnx');
    writeModel(input, nbitsModel({ N, K, bits: 4, blockSize: 16, codes: original, zeroPoints, external: sink }), sink);
    const inline = join(dir, 'inline.onnx');
    writeModel(inline, nbitsModel({ N, K, bits: 4, blockSize: 16, codes: original, zeroPoints }));
    const report = await convertModel(input, { mode: 'prune' });
    const reference = await convertModel(inline, { mode: 'prune' });
    assert.equal(report.verified, true);
    assert.equal(report.dataFile, join(dir, 'nbits.pruned-2of4.data'));
    const b = onnx.ModelProto.decode(readFileSync(report.output!)).graph!.initializer!.find((t) => t.name === 'B')!;
    const offset = Number(b.externalData!.find((e) => e.key === 'offset')!.value);
    const bytes = readFileSync(report.dataFile!).subarray(offset, offset + N * 3 * 8);
    const want = onnx.ModelProto.decode(readFileSync(reference.output!)).graph!.initializer!.find((t) => t.name === 'B')!.rawData!;
    assert.deepEqual([...bytes], [...want]);
  });

  test('compress and export decline it, saying why', async () => {
    const dir = tempDir();
    const input = join(dir, 'nbits.onnx');
    writeModel(input, nbitsModel({ N, K, bits: 4, blockSize: 16, codes: original, zeroPoints }));
    const report = await convertModel(input, { mode: 'compress', dryRun: true });
    assert.equal(report.layers[0].action, 'prune');
    assert.match(report.layers[0].reason ?? '', /not compressed: MatMulNBits reads its packed codes itself/);
  });
});

describe('the panel\'s drill-down of a MatMulNBits layer', () => {
  test('a picked group shows its codes, each with its block\'s zero point, and which are zero', () => {
    const dir = tempDir();
    const input = join(dir, 'nbits.onnx');
    const zps = [[5, 9]];
    // Row 0, block 1 (zero point 9), its first group (k = 16..19): codes 9, 3, 9, 12. The code view is
    // [N, K]: k = 16..19 is group 4 of row 0, inside block 1.
    const row = [...new Array(16).fill(5), 9, 3, 9, 12, ...new Array(12).fill(9)];
    writeModel(input, nbitsModel({ N: 1, K: 32, bits: 4, blockSize: 16, codes: [row], zeroPoints: zps }));
    const picked = readGroupEncodings(input, { n: 2, m: 4 }, 'q_proj', 0, 4, 0);
    assert.equal(picked.dtype, 'uint4');
    assert.deepEqual(picked.values, ['9 (zero point 9)', '3 (zero point 9)', '9 (zero point 9)', '12 (zero point 9)']);
    assert.equal(picked.mask, '0101');
    assert.equal(picked.nonZeros, 2);
  });
});

/** Magnitude pruning of codes to 2:4 as domain.md §5 defines it: per group the 2 largest |c - z| stay (ties: earlier). */
function prune24(rows: number[][], zpAt: (n: number, k: number) => number): number[][] {
  return rows.map((row, n) => {
    const out = [...row];
    for (let g = 0; g + 4 <= row.length; g += 4) {
      const ks = [g, g + 1, g + 2, g + 3];
      const mag = (k: number) => Math.abs(row[k] - zpAt(n, k));
      if (ks.filter((k) => mag(k) !== 0).length <= 2) continue;
      const keep = [...ks].sort((a, b) => mag(b) - mag(a) || a - b).slice(0, 2);
      for (const k of ks) if (!keep.includes(k)) out[k] = zpAt(n, k);
    }
    return out;
  });
}

/** B's bytes as nbitsModel packs `rows` (padding codes included). */
function packedB(rows: number[][], bits: number, blockSize: number, K: number, padCode = 0): number[] {
  const kBlocks = Math.ceil(K / blockSize);
  return rows.flatMap((row) =>
    Array.from({ length: kBlocks }, (_, blk) => pack(Array.from({ length: blockSize }, (_, j) => row[blk * blockSize + j] ?? padCode), bits, (blockSize * bits) / 8)).flat(),
  );
}

async function pruneModel(spec: NBits) {
  const dir = tempDir();
  const input = join(dir, 'nbits.onnx');
  writeModel(input, nbitsModel(spec));
  const report = await convertModel(input, { mode: 'prune' });
  const out = report.output ? onnx.ModelProto.decode(readFileSync(report.output)) : undefined;
  const b = out?.graph!.initializer!.find((t) => t.name === 'B');
  return { report, bytes: b ? [...b.rawData!] : undefined };
}

describe('MatMulNBits packing edge cases: inspected, pruned in the code domain, re-inspected and run', () => {
  /** ONNX Runtime's output Y for the model of `spec` and A[k] = sin(k). */
  async function runOrt(spec: NBits): Promise<ArrayLike<number>> {
    const input = join(tempDir(), 'run.onnx');
    writeModel(input, nbitsModel(spec));
    const ort = require('onnxruntime-node');
    const session = await ort.InferenceSession.create(input);
    const a = Float32Array.from({ length: spec.K }, (_, k) => Math.sin(k));
    return (await session.run({ A: new ort.Tensor('float32', a, [1, spec.K]) })).Y.data;
  }

  /**
   * ONNX Runtime's output for A = sin(k) against sum_k A[k] x (code - zp(n, k)) x 0.125 (nbitsModel's scales), the
   * codes and zero points as this tool reads them: the layer's view and its zero-point lookup.
   */
  async function runsAsRead(spec: NBits): Promise<void> {
    const dir = tempDir();
    const input = join(dir, 'nbits.onnx');
    writeModel(input, nbitsModel(spec));
    const src = new FileSource(input);
    const externals = new ExternalFiles(input);
    const plan = findLayers({ model: readSkeleton(src), src, externals })[0];
    const reader = openTensor(src, plan.tensor!, externals);
    const codesRead = reader.read(0, reader.count).bytes.slice();
    externals.close();
    src.close();
    const zp = zeroPointLookup(plan.zeroPoint, plan.shape!);
    const a = Array.from({ length: spec.K }, (_, k) => Math.sin(k));
    const y = await runOrt(spec);
    for (let n = 0; n < spec.N; n++) {
      const want = a.reduce((sum, v, k) => sum + v * (codesRead[n * spec.K + k] - zp(n * spec.K + k)) * 0.125, 0);
      assert.ok(Math.abs(y[n] - want) < 1e-4, `${spec.bits}-bit, K=${spec.K}, row ${n}: ${y[n]} vs ${want}`);
    }
  }

  test('ONNX Runtime computes with the codes and zero points as this tool reads them: 2-bit, padded K, g_idx without zero points, float zero points, 8-bit', async () => {
    await runsAsRead({ N: 2, K: 48, bits: 2, blockSize: 16, codes: codes(2, 48, () => 1, 2), zeroPoints: [[1, 3, 0], [2, 0, 3]] });
    await runsAsRead({ N: 2, K: 40, bits: 4, blockSize: 16, codes: codes(2, 40, () => 8, 4), padCode: 3 });
    await runsAsRead({ N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 8, 4), gIdx: Array.from({ length: 32 }, (_, k) => k % 2) });
    await runsAsRead({ N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 3, 4), zeroPoints: [[3, 11.5], [0, 15]], floatZeroPoints: true });
    await runsAsRead({ N: 2, K: 32, bits: 8, blockSize: 16, codes: codes(2, 32, () => 100, 8), zeroPoints: [[128, 3], [255, 0]] });
  });

  test('2-bit codes with packed zero points over an odd number of blocks (3 per row: one byte, a slot unused)', async () => {
    const zps = [
      [1, 3, 0],
      [2, 0, 3],
    ];
    const zpAt = (n: number, k: number) => zps[n][Math.floor(k / 16)];
    const original = codes(2, 48, zpAt, 2, [[0, 3]]);
    const spec: NBits = { N: 2, K: 48, bits: 2, blockSize: 16, codes: original, zeroPoints: zps };
    const l = layer(await inspectSpec(nbitsModel(spec)), 'q_proj');
    assert.deepEqual([l.dtype, l.shape, l.storedShape, l.axis, l.zeroPoint], ['uint2', [2, 48], [2, 3, 4], 1, 'per-block']);
    assert.deepEqual([l.elements, l.groups, l.validGroups, l.zeros], [96, 24, 23, 47]);
    const { report, bytes } = await pruneModel(spec);
    assert.deepEqual([report.verified, report.layers[0].prunedElements, report.layers[0].passesAfter], [true, 1, true]);
    assert.deepEqual(bytes, packedB(prune24(original, zpAt), 2, 16, 48));
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
    const after = layer(await inspectFile(report.output!), 'q_proj');
    assert.deepEqual([after.pass, after.validGroups, after.zeros], [true, 24, 48]);
  });

  test('the drill-down of a 2-bit group shows each code with its zero point', () => {
    const dir = tempDir();
    const input = join(dir, 'nbits.onnx');
    const row = [3, 1, 1, 0, ...new Array(12).fill(1)];
    writeModel(input, nbitsModel({ N: 1, K: 16, bits: 2, blockSize: 16, codes: [row], zeroPoints: [[1]] }));
    const picked = readGroupEncodings(input, { n: 2, m: 4 }, 'q_proj', 0, 0, 0);
    assert.equal(picked.dtype, 'uint2');
    assert.deepEqual(picked.values, ['3 (zero point 1)', '1 (zero point 1)', '1 (zero point 1)', '0 (zero point 1)']);
    assert.deepEqual([picked.mask, picked.nonZeros], ['1001', 2]);
  });

  test('K not a multiple of block_size: the padding codes are no weights, and prune leaves them as they were', async () => {
    // K = 40 in blocks of 16: the last block holds 8 codes and 8 padding codes (3, off the default zero point 8).
    const original = codes(2, 40, () => 8, 4, [[1, 2]]);
    const spec: NBits = { N: 2, K: 40, bits: 4, blockSize: 16, codes: original, padCode: 3 };
    const l = layer(await inspectSpec(nbitsModel(spec)), 'q_proj');
    assert.deepEqual([l.shape, l.storedShape, l.eligible], [[2, 40], [2, 3, 8], true]);
    assert.deepEqual([l.elements, l.groups, l.validGroups, l.zeros], [80, 20, 19, 39]);
    const { report, bytes } = await pruneModel(spec);
    assert.deepEqual([report.verified, report.layers[0].prunedElements], [true, 1]);
    assert.deepEqual(bytes, packedB(prune24(original, () => 8), 4, 16, 40, 3));
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
  });

  test('K not a multiple of M is ineligible; so is an M that does not divide block_size', async () => {
    const padded = layer(await inspectSpec(nbitsModel({ N: 2, K: 42, bits: 4, blockSize: 16, codes: codes(2, 42, () => 8, 4) })), 'q_proj');
    assert.deepEqual([padded.eligible, padded.reason], [false, 'K=42 (axis 1) is not divisible by M=4']);
    const report = await inspectSpec(nbitsModel({ N: 2, K: 48, bits: 4, blockSize: 16, codes: codes(2, 48, () => 8, 4) }), { pattern: { n: 2, m: 3 } });
    assert.equal(layer(report, 'q_proj').reason, 'block_size=16 is not divisible by M=3: groups would cross quantization blocks');
  });

  test('8-bit codes with packed zero points prune to the zero point and run', async () => {
    const zps = [
      [128, 3],
      [255, 0],
    ];
    const zpAt = (n: number, k: number) => zps[n][Math.floor(k / 16)];
    const original = codes(2, 32, zpAt, 8, [[1, 6]]);
    const { report, bytes } = await pruneModel({ N: 2, K: 32, bits: 8, blockSize: 16, codes: original, zeroPoints: zps });
    assert.deepEqual([report.verified, report.layers[0].prunedElements], [true, 1]);
    assert.deepEqual(bytes, packedB(prune24(original, zpAt), 8, 16, 32));
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
  });

  test('g_idx without zero points: every code is measured against 2^(bits-1) wherever g_idx puts its scale; pruned and run', async () => {
    const gIdx = Array.from({ length: 32 }, (_, k) => k % 2);
    const original = codes(2, 32, () => 8, 4, [[1, 3]]);
    const spec: NBits = { N: 2, K: 32, bits: 4, blockSize: 16, codes: original, gIdx };
    const l = layer(await inspectSpec(nbitsModel(spec)), 'q_proj');
    assert.deepEqual([l.zeroPoint, l.groups, l.validGroups, l.zeros], ['per-tensor', 16, 15, 31]);
    const { report, bytes } = await pruneModel(spec);
    assert.deepEqual([report.verified, report.layers[0].prunedElements], [true, 1]);
    assert.deepEqual(bytes, packedB(prune24(original, () => 8), 4, 16, 32));
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
  });

  test('g_idx with zero points is listed with its reason: the kernels disagree on which zero point applies', async () => {
    const l = layer(await inspectSpec(nbitsModel({ N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 5, 4), zeroPoints: [[5, 9], [2, 12]], gIdx: true })), 'q_proj');
    assert.equal(l.eligible, false);
    assert.equal(
      l.reason,
      "MatMulNBits: g_idx with zero points is not read: which zero point applies at each k depends on the kernel (ONNX Runtime's unpacked path looks it up through g_idx, its packed path ignores g_idx, and ONNX Runtime 1.30 on CPU computes such a model as if every zero point were 2^(bits-1))",
    );
  });

  test('what ONNX Runtime 1.30 computes with g_idx and zero points: as if every zero point were 8, g_idx = k / block_size too', async () => {
    for (const gIdx of [true, Array.from({ length: 32 }, (_, k) => k % 2)]) {
      const spec: NBits = { N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 5, 4), zeroPoints: [[5, 9], [2, 12]], gIdx };
      const y = await runOrt(spec);
      for (let n = 0; n < 2; n++) {
        const asIfDefault = spec.codes[n].reduce((sum, c, k) => sum + Math.sin(k) * (c - 8) * 0.125, 0);
        assert.ok(Math.abs(y[n] - asIfDefault) < 1e-4, `row ${n}: ${y[n]} vs ${asIfDefault}`);
      }
    }
  });

  test('zero points in A\'s type: a code is zero where it equals its block\'s zero point; 7.5 makes no code zero and cannot be pruned to', async () => {
    const zps = [
      [3, 11, 7.5],
      [0, 15, 8],
    ];
    // Block 2 of row 0 is generated around 7: half its codes are 7, none is 7.5.
    const zpAt = (n: number, k: number) => Math.floor(zps[n][Math.floor(k / 16)]);
    const spec: NBits = { N: 2, K: 48, bits: 4, blockSize: 16, codes: codes(2, 48, zpAt, 4), zeroPoints: zps, floatZeroPoints: true };
    const l = layer(await inspectSpec(nbitsModel(spec)), 'q_proj');
    assert.deepEqual([l.zeroPoint, l.groups, l.validGroups, l.zeros], ['per-block', 24, 20, 40]);
    const { report } = await pruneModel(spec);
    assert.deepEqual([report.layers[0].action, report.layers[0].reason], ['skip', 'not pruned: MatMulNBits zero point 7.5 is no 4-bit code: a pruned code cannot be set to it']);
  });

  test('integral zero points in A\'s type prune like packed ones and run', async () => {
    const zps = [
      [3, 11],
      [0, 15],
    ];
    const zpAt = (n: number, k: number) => zps[n][Math.floor(k / 16)];
    const original = codes(2, 32, zpAt, 4, [[0, 5]]);
    const { report, bytes } = await pruneModel({ N: 2, K: 32, bits: 4, blockSize: 16, codes: original, zeroPoints: zps, floatZeroPoints: true });
    assert.deepEqual([report.verified, report.layers[0].prunedElements], [true, 1]);
    assert.deepEqual(bytes, packedB(prune24(original, zpAt), 4, 16, 32));
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
  });
});

interface Experts {
  op: 'MoE' | 'QMoE';
  E: number;
  hidden: number;
  inter: number;
  /** weights[e][n][k] per fc: codes (QMoE) or floats (MoE), [E, N, K] as the current spec lays them out. */
  fc1: number[][][];
  fc2: number[][][];
  fc3?: number[][][];
  bits?: 4 | 8;
  blockSize?: number;
  /** Declared hidden size of the input ('h': symbolic). */
  inputHidden?: number | string;
  /** QMoE zero points per fc: [e][n][block] with block_size, else [e][n]; packed as the spec says. */
  zeroPoints?: { fc1: number[][][] | number[][]; fc2: number[][][] | number[][] };
}

function expertsModel(spec: Experts): ModelSpec {
  const { E, hidden, inter, bits = 4 } = spec;
  const quantized = spec.op === 'QMoE';
  const initializers: onnx.ITensorProto[] = [];
  const weight = (name: string, w: number[][][]) => {
    const [N, K] = [w[0].length, w[0][0].length];
    if (quantized) {
      initializers.push(makeTensor({ name, dtype: 'uint8', dims: [E, N, (K * bits) / 8], values: w.flatMap((rows) => rows.flatMap((row) => pack(row, bits, (K * bits) / 8))) }));
      const blocks = spec.blockSize ? K / spec.blockSize : 0;
      const scales = `${name}_scales`;
      initializers.push(makeTensor({ name: scales, dtype: 'float32', dims: blocks ? [E, N, blocks] : [E, N], values: new Array(E * N * Math.max(1, blocks)).fill(0.0625) }));
      return [name, scales, ''];
    }
    initializers.push(makeTensor({ name, dtype: 'float32', dims: [E, N, K], values: w.flat(2) }));
    return [name, ''];
  };
  const inputs = ['input', 'router', ...weight('fc1', spec.fc1), ...weight('fc2', spec.fc2), ...(spec.fc3 ? weight('fc3', spec.fc3) : [])];
  if (spec.zeroPoints) {
    while (inputs.length < 11) inputs.push('');
    for (const fc of ['fc1', 'fc2'] as const) {
      const zp = spec.zeroPoints[fc];
      // Per block: (E, N, blocks / pack) bytes, the blocks of a row packed together; per row: (E, N / pack).
      const rows = spec.blockSize ? (zp as number[][][]).flat() : (zp as number[][]);
      const perRow = rows[0].length;
      const bytes = rows.flatMap((row) => pack(row, bits, Math.ceil((perRow * bits) / 8)));
      const dims = spec.blockSize ? [E, (zp as number[][][])[0].length, Math.ceil((perRow * bits) / 8)] : [E, Math.ceil((perRow * bits) / 8)];
      initializers.push(makeTensor({ name: `${fc}_zp`, dtype: 'uint8', dims, values: bytes }));
      inputs.push(`${fc}_zp`);
    }
  }
  const attrs: Record<string, number | string> = { k: 1, activation_type: 'relu', normalize_routing_weights: 0 };
  if (quantized) {
    attrs.expert_weight_bits = bits;
    if (spec.blockSize) attrs.block_size = spec.blockSize;
  }
  return {
    graph: graph({
      name: 'experts',
      nodes: [node(spec.op, inputs, ['output'], attrs, { name: 'moe', domain: 'com.microsoft' })],
      inputs: [valueInfo('input', 'float32', [2, spec.inputHidden ?? hidden]), valueInfo('router', 'float32', [2, E])],
      outputs: [valueInfo('output', 'float32', [2, spec.inputHidden ?? hidden])],
      initializers,
    }),
    extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
  };
}

/** [E, N, K] weights whose every group of 4 along K keeps 2 off `zero`, except `violating` [expert, row, group] (3). */
function expertWeights(E: number, N: number, K: number, zero: number, off: (rnd: () => number) => number, violating: [number, number, number][] = [], seed = 3): number[][][] {
  const rnd = seededRandom(seed);
  return Array.from({ length: E }, (_, e) =>
    Array.from({ length: N }, (_, n) =>
      Array.from({ length: K }, (_, k) => {
        const keep = violating.some(([ve, vn, vg]) => ve === e && vn === n && vg === Math.floor(k / 4)) ? 3 : 2;
        return k % 4 < keep ? off(rnd) : zero;
      }),
    ),
  );
}

describe('MoE and QMoE: each expert weight is its own layer, experts the leading axis, K the last', () => {
  const E = 2;
  const hidden = 32;
  const inter = 16;
  const code = (rnd: () => number) => [1, 3, 12, 15][Math.floor(rnd() * 4)];

  test('QMoE, 4-bit codes in blocks of 16: fc1 and fc2 read as [E, N, K] codes, pruned to the default zero point 8, and run', async () => {
    const fc1 = expertWeights(E, inter, hidden, 8, code, [[1, 2, 3]]);
    const fc2 = expertWeights(E, hidden, inter, 8, code, [[0, 5, 1], [1, 31, 3]]);
    const spec: Experts = { op: 'QMoE', E, hidden, inter, fc1, fc2, blockSize: 16 };
    const report = await inspectSpec(expertsModel(spec));
    const l1 = layer(report, 'moe/fc1_experts_weights');
    const l2 = layer(report, 'moe/fc2_experts_weights');
    assert.deepEqual([l1.op, l1.dtype, l1.shape, l1.storedShape, l1.axis, l1.outAxis, l1.zeroPoint], ['QMoE', 'uint4', [2, 16, 32], [2, 16, 16], 2, 1, 'per-tensor']);
    assert.deepEqual([l1.groups, l1.validGroups, l1.zeros], [256, 255, 511]);
    // No weights_prepacked attribute (the default -1): the raw layout ONNX Runtime's CPU provider reads, said in a warning.
    assert.ok(l1.warnings.includes("weights_prepacked is the default -1: the execution provider chooses the layout; read as the raw [E, N, K / pack_size] that ONNX Runtime's CPU provider reads (a model written for CUDA's prepacked layout would read wrong)"));
    assert.deepEqual([l2.shape, l2.storedShape, l2.groups, l2.validGroups, l2.zeros], [[2, 32, 16], [2, 32, 8], 256, 254, 510]);
    assert.deepEqual(report.unrecognized, []);
    const dir = tempDir();
    const input = join(dir, 'qmoe.onnx');
    writeModel(input, expertsModel(spec));
    const converted = await convertModel(input, { mode: 'prune' });
    assert.deepEqual(converted.layers.map((c) => [c.name, c.action, c.prunedElements, c.passesAfter]), [
      ['moe/fc1_experts_weights', 'prune', 1, true],
      ['moe/fc2_experts_weights', 'prune', 2, true],
    ]);
    assert.equal(converted.verified, true);
    const out = onnx.ModelProto.decode(readFileSync(converted.output!));
    const fc1Bytes = [...out.graph!.initializer!.find((t) => t.name === 'fc1')!.rawData!];
    const want = prune24(fc1.flat(), () => 8).flatMap((row) => pack(row, 4, 16));
    assert.deepEqual(fc1Bytes, want);
    assert.equal(converted.runtime?.ran, true, converted.runtime?.note);
  });

  /** [E, N, K] codes with 2 of every 4 on their zero point zp(e, n, k), 3 in the `violating` [expert, row, group]. */
  function codesAround(E: number, N: number, K: number, zp: (e: number, n: number, k: number) => number, violating: [number, number, number][] = []): number[][][] {
    const rnd = seededRandom(11);
    return Array.from({ length: E }, (_, e) =>
      Array.from({ length: N }, (_, n) =>
        Array.from({ length: K }, (_, k) => {
          const keep = violating.some(([ve, vn, vg]) => ve === e && vn === n && vg === Math.floor(k / 4)) ? 3 : 2;
          return k % 4 < keep ? (zp(e, n, k) + 1 + Math.floor(rnd() * 3)) % 16 : zp(e, n, k);
        }),
      ),
    );
  }

  test('QMoE zero points per block (block_size 16): each (expert, row, block) has its own; pruned to it, and run', async () => {
    const [H, I] = [64, 32];
    const zp = (e: number, n: number, b: number) => (5 * e + 3 * n + 7 * b) % 16;
    const zps = (N: number, K: number) => Array.from({ length: E }, (_, e) => Array.from({ length: N }, (_, n) => Array.from({ length: K / 16 }, (_, b) => zp(e, n, b))));
    const fc1 = codesAround(E, I, H, (e, n, k) => zp(e, n, Math.floor(k / 16)), [[1, 30, 9]]);
    const fc2 = codesAround(E, H, I, (e, n, k) => zp(e, n, Math.floor(k / 16)));
    const spec: Experts = { op: 'QMoE', E, hidden: H, inter: I, fc1, fc2, blockSize: 16, zeroPoints: { fc1: zps(I, H), fc2: zps(H, I) } };
    const report = await inspectSpec(expertsModel(spec));
    const l1 = layer(report, 'moe/fc1_experts_weights');
    assert.deepEqual([l1.zeroPoint, l1.groups, l1.validGroups, l1.zeros], ['per-block', 1024, 1023, 2047]);
    const l2 = layer(report, 'moe/fc2_experts_weights');
    assert.deepEqual([l2.groups, l2.validGroups, l2.zeros], [1024, 1024, 2048]);
    const dir = tempDir();
    const input = join(dir, 'qmoe.onnx');
    writeModel(input, expertsModel(spec));
    const converted = await convertModel(input, { mode: 'prune' });
    assert.deepEqual(converted.layers.map((c) => [c.action, c.prunedElements, c.passesAfter]), [['prune', 1, true], ['unchanged', 0, true]]);
    const fc1Bytes = [...onnx.ModelProto.decode(readFileSync(converted.output!)).graph!.initializer!.find((t) => t.name === 'fc1')!.rawData!];
    const rows = fc1.flat();
    assert.deepEqual(fc1Bytes, prune24(rows, (r, k) => zp(Math.floor(r / I), r % I, Math.floor(k / 16))).flatMap((row) => pack(row, 4, H / 2)));
    assert.equal(converted.runtime?.ran, true, converted.runtime?.note);
  });

  test('QMoE zero points per row (no block_size): packed along N, one per (expert, row)', async () => {
    const zp = (e: number, n: number) => (3 * e + 5 * n) % 16;
    const zps = (N: number) => Array.from({ length: E }, (_, e) => Array.from({ length: N }, (_, n) => zp(e, n)));
    const fc1 = codesAround(E, inter, hidden, (e, n) => zp(e, n), [[0, 7, 2]]);
    const fc2 = codesAround(E, hidden, inter, (e, n) => zp(e, n));
    const spec: Experts = { op: 'QMoE', E, hidden, inter, fc1, fc2, zeroPoints: { fc1: zps(inter), fc2: zps(hidden) } };
    const report = await inspectSpec(expertsModel(spec));
    assert.deepEqual(
      report.layers.map((l) => [l.zeroPoint, l.groups, l.validGroups, l.zeros]),
      [
        ['per-channel', 256, 255, 511],
        ['per-channel', 256, 256, 512],
      ],
    );
    const dir = tempDir();
    const input = join(dir, 'qmoe.onnx');
    writeModel(input, expertsModel(spec));
    const converted = await convertModel(input, { mode: 'prune' });
    assert.deepEqual([converted.verified, converted.summary.prunedElements], [true, 1]);
    assert.equal(converted.runtime?.ran, true, converted.runtime?.note);
  });

  test('MoE with float weights: fc1, fc2 and fc3 read as [E, N, K] along K, pruned by magnitude, and run', async () => {
    const value = (rnd: () => number) => Math.round((rnd() * 2 - 1) * 64) / 16 || 0.5;
    const fc1 = expertWeights(E, inter, hidden, 0, value, [[0, 0, 0]]);
    const fc2 = expertWeights(E, hidden, inter, 0, value);
    const fc3 = expertWeights(E, inter, hidden, 0, value, [[1, 15, 7]]);
    const spec: Experts = { op: 'MoE', E, hidden, inter, fc1, fc2, fc3 };
    const report = await inspectSpec(expertsModel(spec));
    assert.deepEqual(
      report.layers.map((l) => [l.name, l.shape, l.axis, l.outAxis, l.groups, l.validGroups]),
      [
        ['moe/fc1_experts_weights', [2, 16, 32], 2, 1, 256, 255],
        ['moe/fc2_experts_weights', [2, 32, 16], 2, 1, 256, 256],
        ['moe/fc3_experts_weights', [2, 16, 32], 2, 1, 256, 255],
      ],
    );
    const dir = tempDir();
    const input = join(dir, 'moe.onnx');
    writeModel(input, expertsModel(spec));
    const converted = await convertModel(input, { mode: 'prune' });
    assert.deepEqual(converted.layers.map((c) => [c.action, c.prunedElements, c.passesAfter]), [['prune', 1, true], ['unchanged', 0, true], ['prune', 1, true]]);
    assert.equal(converted.verified, true);
    // ONNX Runtime's CPU MoE has no FC3: the comparison says so; without fc3 both models run and are compared.
    assert.match(converted.runtime?.note ?? '', /FC3 is not implemented for CPU MoE/);
    const twoInput = join(dir, 'moe2.onnx');
    writeModel(twoInput, expertsModel({ ...spec, fc3: undefined }));
    const two = await convertModel(twoInput, { mode: 'prune' });
    assert.deepEqual([two.verified, two.summary.prunedElements], [true, 1]);
    assert.equal(two.runtime?.ran, true, two.runtime?.note);
  });

  test('MoE float weights: compress writes their decode graphs (rebuilt exactly in ONNX Runtime); ascend declines them, saying why', async () => {
    const value = (rnd: () => number) => Math.round((rnd() * 2 - 1) * 64) / 16 || 0.5;
    const spec: Experts = { op: 'MoE', E, hidden, inter, fc1: expertWeights(E, inter, hidden, 0, value, [[0, 0, 0]]), fc2: expertWeights(E, hidden, inter, 0, value) };
    const dir = tempDir();
    const input = join(dir, 'moe.onnx');
    writeModel(input, expertsModel(spec));
    const compressed = await convertModel(input, { mode: 'compress' });
    assert.deepEqual(compressed.layers.map((c) => c.action), ['compress', 'compress']);
    assert.equal(compressed.verified, true);
    assert.equal(compressed.exact?.outputs.every((o) => o.identical), true, compressed.exact?.note);
    const ascend = await convertModel(input, { mode: 'ascend', dryRun: true });
    assert.deepEqual(ascend.layers.map((c) => [c.action, c.reason]), [
      ['prune', 'pruned in place, not rewritten for Ascend: MoE is not rewritten (ATC compresses Conv2D, MatMulV2 and FullyConnection)'],
      ['unchanged', 'already compliant, not rewritten for Ascend: MoE is not rewritten (ATC compresses Conv2D, MatMulV2 and FullyConnection)'],
    ]);
  });

  test('the codes as this tool reads them are the ones ONNX Runtime computes with: its QMoE output equals (code - 8) x scale by hand', async () => {
    const fc1 = expertWeights(E, inter, hidden, 8, code, [], 5);
    const fc2 = expertWeights(E, hidden, inter, 8, code, [], 6);
    const dir = tempDir();
    const input = join(dir, 'qmoe.onnx');
    writeModel(input, expertsModel({ op: 'QMoE', E, hidden, inter, fc1, fc2, blockSize: 16 }));
    // The codes through the tool's own reader (the layer's view of the packed bytes).
    const src = new FileSource(input);
    const externals = new ExternalFiles(input);
    const read = (name: string) => {
      const plan = findLayers({ model: readSkeleton(src), src, externals }).find((l) => l.name === name)!;
      const reader = openTensor(src, plan.tensor!, externals);
      return { codes: reader.read(0, reader.count).bytes.slice(), dims: plan.shape! };
    };
    const w1 = read('moe/fc1_experts_weights');
    const w2 = read('moe/fc2_experts_weights');
    externals.close();
    src.close();
    const x = Array.from({ length: 2 * hidden }, (_, i) => Math.sin(i));
    const ort = require('onnxruntime-node');
    const session = await ort.InferenceSession.create(input);
    // Token 0 goes to expert 0, token 1 to expert 1 (k = 1, weights not normalized: 1 each).
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x), [2, hidden]), router: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 1]), [2, E]) });
    const weight = (w: { codes: Uint8Array; dims: number[] }, e: number, n: number, k: number) => (w.codes[(e * w.dims[1] + n) * w.dims[2] + k] - 8) * 0.0625;
    for (let t = 0; t < 2; t++) {
      const h = Array.from({ length: inter }, (_, n) => Math.max(0, x.slice(t * hidden, (t + 1) * hidden).reduce((sum, v, k) => sum + v * weight(w1, t, n, k), 0)));
      const y = Array.from({ length: hidden }, (_, n) => h.reduce((sum, v, k) => sum + v * weight(w2, t, n, k), 0));
      y.forEach((v, n) => assert.ok(Math.abs(out.output.data[t * hidden + n] - v) < 1e-4, `token ${t}, output ${n}: ${out.output.data[t * hidden + n]} vs ${v}`));
    }
  });

  test('the projection treats a QMoE node as one memory-bound op over all its weights, and says so', async () => {
    const profile = resolveProfile(ROUND as unknown as HardwareProfile);
    if (typeof profile === 'string') throw new Error(profile);
    const spec: Experts = { op: 'QMoE', E, hidden, inter, fc1: expertWeights(E, inter, hidden, 8, code), fc2: expertWeights(E, hidden, inter, 8, code), blockSize: 16 };
    const report = await inspectSpec(expertsModel(spec), { speedup: { hardware: profile } });
    assert.deepEqual(report.projection!.unknowns, [
      "QMoE 'moe' holds 2 layers (moe/fc1_experts_weights, moe/fc2_experts_weights): projected as a dense memory-bound op reading all its weights; which experts a token reads depends on its routing",
    ]);
    assert.deepEqual(report.projection!.layers, []);
  });

  test('expert layout: a declared hidden size that fits only earlier versions\' (E, hidden, inter), or both, is a reason; none declared is a warning', async () => {
    const fc1 = expertWeights(E, inter, hidden, 8, code);
    const fc2 = expertWeights(E, hidden, inter, 8, code);
    const earlier = layer(await inspectSpec(expertsModel({ op: 'QMoE', E, hidden, inter, fc1, fc2, blockSize: 16, inputHidden: 16 })), 'moe/fc1_experts_weights');
    assert.equal(earlier.reason, 'QMoE fc1_experts_weights: fc1 [2, 16, 16] with hidden size 16 is laid out as earlier versions of the spec wrote it, (E, hidden_size, inter_size): not read by this version (the current [E, N, K] is)');
    const square = expertWeights(E, hidden, hidden, 8, code);
    const both = layer(await inspectSpec(expertsModel({ op: 'QMoE', E, hidden, inter: hidden, fc1: square, fc2: square, blockSize: 16 })), 'moe/fc2_experts_weights');
    assert.equal(both.reason, 'QMoE fc2_experts_weights: fc1 [2, 32, 16] with hidden size 32 fits both the current spec\'s [E, N, K] and earlier versions\' (E, hidden_size, inter_size): which axis is K cannot be told');
    const undeclared = layer(await inspectSpec(expertsModel({ op: 'QMoE', E, hidden, inter, fc1, fc2, blockSize: 16, inputHidden: 'h' })), 'moe/fc1_experts_weights');
    assert.equal(undeclared.eligible, true);
    assert.ok(undeclared.warnings.includes("expert weights read as the current spec lays them out, [E, N, K]: the input's hidden size is not declared, so an earlier version's (E, hidden_size, inter_size) could not be ruled out"));
  });
});

describe('MatMulNBitsMlp and MatMulNBitsQkv: two or three MatMulNBits weights behind one norm, each its own layer', () => {
  /** The fused op with its packed weights at `inputs` (name -> [input index, codes [N][K]]), default zero point 8. */
  function fusedModel(op: string, weights: Record<string, [number, number[][]]>, attrs: Record<string, number | string>): ModelSpec {
    const K = 32;
    const inputs = ['A', '', 'norm'];
    const initializers = [makeTensor({ name: 'norm', dtype: 'float32', dims: [K], values: new Array(K).fill(1) })];
    for (const [name, [input, rows]] of Object.entries(weights)) {
      while (inputs.length < input) inputs.push('');
      initializers.push(makeTensor({ name, dtype: 'uint8', dims: [rows.length, 2, 8], values: packedB(rows, 4, 16, K) }));
      initializers.push(makeTensor({ name: `${name}_scales`, dtype: 'float32', dims: [rows.length * 2], values: new Array(rows.length * 2).fill(0.125) }));
      inputs.push(name, `${name}_scales`);
    }
    return {
      graph: graph({
        name: 'fused',
        nodes: [node(op, inputs, op === 'MatMulNBitsQkv' ? ['Q', 'K', 'V'] : ['Y'], { K, bits: 4, block_size: 16, ...attrs }, { name: 'proj', domain: 'com.microsoft' })],
        inputs: [valueInfo('A', 'float32', [1, K])],
        outputs: op === 'MatMulNBitsQkv' ? [valueInfo('Q', 'float32', [1, 8]), valueInfo('K', 'float32', [1, 4]), valueInfo('V', 'float32', [1, 4])] : [valueInfo('Y', 'float32', [1, 4])],
        initializers,
      }),
      extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
    };
  }

  test('MatMulNBitsMlp: gate_B and up_B read as [N, K] codes; prune fixes gate_B alone', async () => {
    const gate = codes(4, 32, () => 8, 4, [[2, 5]]);
    const up = codes(4, 32, () => 8, 4, [], 7);
    const spec = fusedModel('MatMulNBitsMlp', { gate: [3, gate], up: [6, up] }, { N: 4, activation: 'silu' });
    const report = await inspectSpec(spec);
    assert.deepEqual(
      report.layers.map((l) => [l.name, l.shape, l.storedShape, l.groups, l.validGroups]),
      [
        ['proj/gate_B', [4, 32], [4, 2, 8], 32, 31],
        ['proj/up_B', [4, 32], [4, 2, 8], 32, 32],
      ],
    );
    const dir = tempDir();
    const input = join(dir, 'mlp.onnx');
    writeModel(input, spec);
    const converted = await convertModel(input, { mode: 'prune' });
    assert.deepEqual(converted.layers.map((c) => [c.action, c.prunedElements, c.passesAfter]), [['prune', 1, true], ['unchanged', 0, true]]);
    const b = onnx.ModelProto.decode(readFileSync(converted.output!)).graph!.initializer!.find((t) => t.name === 'gate')!;
    assert.deepEqual([...b.rawData!], packedB(prune24(gate, () => 8), 4, 16, 32));
    assert.equal(converted.verified, true);
    // ONNX Runtime's CPU provider has no MatMulNBitsMlp (the spec names its WebGPU kernel): the comparison says so.
    assert.equal(converted.runtime?.note, "ONNX Runtime could not run the model: Could not find an implementation for MatMulNBitsMlp(1) node with name 'proj'");
  });

  test('MatMulNBitsQkv: q_B with Nq rows, k_B and v_B with Nkv', async () => {
    const spec = fusedModel('MatMulNBitsQkv', { q: [3, codes(8, 32, () => 8, 4)], k: [6, codes(4, 32, () => 8, 4, [[0, 0]])], v: [9, codes(4, 32, () => 8, 4)] }, { Nq: 8, Nkv: 4 });
    const report = await inspectSpec(spec);
    assert.deepEqual(
      report.layers.map((l) => [l.name, l.shape, l.groups, l.validGroups]),
      [
        ['proj/q_B', [8, 32], 64, 64],
        ['proj/k_B', [4, 32], 32, 31],
        ['proj/v_B', [4, 32], 32, 32],
      ],
    );
    assert.deepEqual(report.unrecognized, []);
  });
});

describe('4-bit zero points stay in their file: each scan reads the rows of its own part', () => {
  // 64 rows of K = 256 in blocks of 32 (8 zero points a row, 4 packed bytes), a zero point per (row, block).
  const N = 64;
  const K = 256;
  const zeroPoints = Array.from({ length: N }, (_, n) => Array.from({ length: 8 }, (_, b) => (5 * n + 3 * b) % 16));
  const zpAt = (n: number, k: number) => zeroPoints[n][Math.floor(k / 32)];
  const packedZp = zeroPoints.flatMap((row) => pack(row, 4, 4));

  function plan(path: string) {
    const src = new FileSource(path);
    const externals = new ExternalFiles(path);
    return { src, externals, plan: findLayers({ model: readSkeleton(src), src, externals })[0] };
  }

  test('planning reads none of them; a job carries where they lie, not their bytes; a part reads its rows only', () => {
    const dir = tempDir();
    const input = join(dir, 'nbits.onnx');
    writeModel(input, nbitsModel({ N, K, bits: 4, blockSize: 32, codes: codes(N, K, zpAt, 4), zeroPoints }));
    const { src, externals, plan: p } = plan(input);
    try {
      const packed = p.zeroPoint!.packed!;
      assert.equal(packed.byteLength, N * 4);
      // What a worker receives: the tensor's place, no bytes.
      const posted = structuredClone(p.zeroPoint!);
      assert.equal(Object.prototype.hasOwnProperty.call(posted.packed, 'bytes'), false);
      assert.ok(posted.packed!.tensor);
      const reads: [number, number][] = [];
      const again = rehydrateZeroPoint(posted, (tensor) => {
        const reader = openTensor(src, tensor, externals);
        return { reader: { readInto: (start, count, target) => (reads.push([start, count]), reader.readInto(start, count, target)) }, done: () => {} };
      })!;
      const rows = new Uint8Array(3 * 4);
      readPackedZeroPointRows(again.packed!, 10, 3, rows);
      assert.deepEqual(reads, [[40, 12]], 'rows 10..12: 12 bytes from byte 40');
      assert.deepEqual([...rows], packedZp.slice(40, 52));
      // Read whole only when asked for all of them, once.
      assert.deepEqual([...again.packed!.bytes], packedZp);
      assert.deepEqual([...again.values].slice(0, 16), [...zeroPoints[0], ...zeroPoints[1]]);
      assert.equal(reads.length, 2);
    } finally {
      externals.close();
      src.close();
    }
  });

  test('exact counts with the layer cut in parts across threads, each reading its own zero point rows', async () => {
    const dir = tempDir();
    const input = join(dir, 'nbits.onnx');
    // Row 63's last group sits in a block whose zero point is 0.
    const rows = codes(N, K, zpAt, 4, [[7, 3], [40, 60], [63, 63]]);
    writeModel(input, nbitsModel({ N, K, bits: 4, blockSize: 32, codes: rows, zeroPoints }));
    // Codes on a non-zero zero point: the zeros but those of blocks whose zero point is 0 (fragile.ts).
    const onPoint = rows.flatMap((row, n) => row.filter((c, k) => c === zpAt(n, k) && c !== 0)).length;
    assert.equal(onPoint, (N * K) / 2 - 3 - 15 - 16 * (zeroPoints.flat().filter((z) => z === 0).length - 1));
    for (const options of [{ workers: 0, partElements: 4096 }, { workers: 2, partElements: 4096 }, { workers: 1, partElements: 2048 }]) {
      const l = layer(await inspectFile(input, options), 'q_proj');
      assert.deepEqual([l.groups, l.validGroups, l.zeros], [(N * K) / 4, (N * K) / 4 - 3, (N * K) / 2 - 3], JSON.stringify(options));
      assert.equal(l.zeroPointZeros, onPoint, JSON.stringify(options));
    }
  });

  test('read after the inspection closed its files: the model opened again, the same file or an error', () => {
    const dir = tempDir();
    const input = join(dir, 'nbits.onnx');
    writeModel(input, nbitsModel({ N, K, bits: 4, blockSize: 32, codes: codes(N, K, zpAt, 4), zeroPoints }));
    const first = plan(input);
    first.externals.close();
    first.src.close();
    assert.deepEqual([...first.plan.zeroPoint!.packed!.bytes], packedZp);
    assert.throws(() => first.src.readInto(0, new Uint8Array(4)), /was read after it was closed/);
    // Another file put in its place: its zero points are not this plan's.
    const second = plan(input);
    second.externals.close();
    second.src.close();
    const other = join(dir, 'other.onnx');
    writeModel(other, nbitsModel({ N, K, bits: 4, blockSize: 32, codes: codes(N, K, () => 1, 4), zeroPoints: zeroPoints.map((row) => row.map(() => 1)) }));
    renameSync(other, input);
    assert.throws(() => second.plan.zeroPoint!.packed!.bytes, /was replaced since it was opened/);
  });
});
