// com.microsoft MatMulNBits, as ONNX Runtime GenAI and Olive write int4 LLMs: B uint8 [N, k_blocks, blob_size] of
// packed codes, one row per output channel with K contiguous, low bits first; zero points packed the same way along
// the blocks, or 2^(bits-1) by default. A weight is zero when its code equals its block's zero point. Models built
// in code with exact counts; converted with prune (codes set to the zero point, written back packed) and verified.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { ExternalSink, type ModelSpec, graph, makeTensor, node, valueInfo, writeModel } from './support/builder';
import { inspectFile, inspectSpec, layer, tempDir } from './support/models';
import { seededRandom } from '../src/engine/onnx/numbers';
import { convertModel } from '../src/engine/convert/convert';
import { readGroupEncodings } from '../src/engine/sparsity/region';

interface NBits {
  N: number;
  K: number;
  bits: 4 | 8 | 2;
  blockSize: number;
  /** codes[n][k], in 0 .. 2^bits - 1. */
  codes: number[][];
  /** zeroPoints[n][block]; undefined: the default 2^(bits-1), no input 3. */
  zeroPoints?: number[][];
  attrs?: Record<string, number>;
  /** Extra inputs after zero_points (g_idx...), by name. */
  gIdx?: boolean;
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
      const block = Array.from({ length: blockSize }, (_, j) => spec.codes[n][blk * blockSize + j] ?? 0);
      b.push(...pack(block, bits, blob));
    }
  }
  const initializers = [
    makeTensor({ name: 'B', dtype: 'uint8', dims: [N, kBlocks, blob], values: b, storage: spec.external ? { external: 'nbits.data' } : 'raw' }, spec.external),
    makeTensor({ name: 'scales', dtype: 'float32', dims: [N * kBlocks], values: new Array(N * kBlocks).fill(0.125) }),
  ];
  const inputs = ['A', 'B', 'scales'];
  if (spec.zeroPoints) {
    const rowBytes = Math.ceil((kBlocks * bits) / 8);
    const zp = spec.zeroPoints.flatMap((row) => pack(row, bits, rowBytes));
    initializers.push(makeTensor({ name: 'zp', dtype: 'uint8', dims: [N * rowBytes], values: zp }));
    inputs.push('zp');
  }
  if (spec.gIdx) {
    if (!spec.zeroPoints) inputs.push('');
    initializers.push(makeTensor({ name: 'g_idx', dtype: 'int32', dims: [K], values: Array.from({ length: K }, (_, k) => Math.floor(k / blockSize)) }));
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
    assert.deepEqual([l.dtype, l.shape, l.axis, l.outAxis, l.zeroPoint], ['uint4', [4, 3, 16], 2, 0, 'per-block']);
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
    assert.deepEqual([l.dtype, l.shape, l.zeroPoint], ['uint8', [2, 2, 16], 'per-block']);
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
    ['2-bit codes', { N: 2, K: 32, bits: 2, blockSize: 16, codes: codes(2, 32, () => 2, 2) }, 'fixed', 'MatMulNBits: 2-bit codes are not read by this version (4 and 8-bit are)'],
    ['K not a multiple of block_size', { N: 2, K: 40, bits: 4, blockSize: 16, codes: codes(2, 40, () => 8, 4) }, 'fixed', 'MatMulNBits: K = 40 is not a multiple of block_size 16: the padded last block is not read by this version'],
    ['g_idx (act-order)', { N: 2, K: 32, bits: 4, blockSize: 16, codes: codes(2, 32, () => 8, 4), gIdx: true }, 'fixed', 'MatMulNBits: g_idx reorders K (act-order): not read by this version'],
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
    // [N, k_blocks, block_size] with K the last axis: the block is the group's position.
    const row = [...new Array(16).fill(5), 9, 3, 9, 12, ...new Array(12).fill(9)];
    writeModel(input, nbitsModel({ N: 1, K: 32, bits: 4, blockSize: 16, codes: [row], zeroPoints: zps }));
    const picked = readGroupEncodings(input, { n: 2, m: 4 }, 'q_proj', 0, 0, 1);
    assert.equal(picked.dtype, 'uint4');
    assert.deepEqual(picked.values, ['9 (zero point 9)', '3 (zero point 9)', '9 (zero point 9)', '12 (zero point 9)']);
    assert.equal(picked.mask, '0101');
    assert.equal(picked.nonZeros, 2);
  });
});
