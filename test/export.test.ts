// export: the compressed values and index metadata the hardware reads, one file each per layer, with a manifest
// whose sizes and sha256 match the files. NVIDIA (plain nibbles, and the CUTLASS/PyTorch reordering where the shape
// allows it) and Ascend (ATC --sparsity=1, fillers = the row's zero point). Models are built here; the files are
// decoded back with the engine's decoders and compared with the stored weight viewed as [rows, K].
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { type ExportManifest, exportModel } from '../src/engine/convert/export';
import { ModelError } from '../src/engine/errors';
import { decodeAscend, decodeNvidia } from '../src/engine/encode';
import { type DTypeName, type ModelSpec, graph, makeTensor, node, pruneTo, randomWeights, seededRandom, valueInfo, writeModel } from './support/builder';
import { listFolder } from './support/convert-read';
import { tempDir } from './support/models';
import { cli } from './support/cli';


// ---------------------------------------------------------------------------
// Models

/** float16 bit patterns, little-endian. */
function fp16Bytes(bits: number[]): Uint8Array {
  return new Uint8Array(Uint16Array.from(bits).buffer);
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

/** Row 0 of fc's weight, by hand: groups 1100, 0101, 1001, 0000 (element order). */
const FC_ROW0 = [1, 2, 0, 0, /* | */ 0, 3, 0, 4, /* | */ 5, 0, 0, 6, /* | */ 0, 0, 0, 0];

/**
 * float16: mm = MatMul B [64, 32] (rows 32, K 64: the CUTLASS layout applies), fc = Gemm transB W [16, 16] (plain
 * only), both already 2:4; dense = MatMul B [16, 8] not pruned; narrow = Gemm transB W [4, 6] (K = 6: ineligible).
 */
function nvidiaModel(dtype: 'float16' | 'float32' = 'float16'): { spec: ModelSpec; weights: Record<string, { dims: number[]; values: Float32Array }> } {
  const rnd = seededRandom(2024);
  const mm = pruneTo(randomWeights(64 * 32, rnd), [64, 32], 0, 2, 4);
  const fc = pruneTo(Float32Array.from([...FC_ROW0, ...randomWeights(15 * 16, rnd)]), [16, 16], 1, 2, 4);
  const dense = randomWeights(16 * 8, rnd);
  const narrow = randomWeights(24, rnd);
  const t = (name: string, dims: number[], values: ArrayLike<number>) => makeTensor({ name, dtype, dims, values });
  const io: DTypeName = dtype;
  return {
    weights: { Wm: { dims: [64, 32], values: mm }, Wf: { dims: [16, 16], values: fc } },
    spec: {
      graph: graph({
        name: 'nvidia',
        nodes: [
          node('MatMul', ['X1', 'Wm'], ['Y1'], {}, { name: 'mm' }),
          node('Gemm', ['X2', 'Wf'], ['Y2'], { transB: 1 }, { name: 'fc' }),
          node('MatMul', ['X2', 'Wd'], ['Y3'], {}, { name: 'dense' }),
          node('Gemm', ['X3', 'Wn'], ['Y4'], { transB: 1 }, { name: 'narrow' }),
        ],
        inputs: [valueInfo('X1', io, [1, 64]), valueInfo('X2', io, [1, 16]), valueInfo('X3', io, [1, 6])],
        outputs: [valueInfo('Y1', io, [1, 32]), valueInfo('Y2', io, [1, 16]), valueInfo('Y3', io, [1, 8]), valueInfo('Y4', io, [1, 4])],
        initializers: [t('Wm', [64, 32], mm), t('Wf', [16, 16], fc), t('Wd', [16, 8], dense), t('Wn', [4, 6], narrow)],
      }),
    },
  };
}

/**
 * int8 behind per-channel DequantizeLinear (axis 0): fc = Gemm transB Wq [4, 8] with zero points [3, -2, 0, 5],
 * groups chosen by hand; conv = Conv Wc [2, 4, 1, 2] with zero points [1, -1] (rows in (oc, kh, kw) order).
 */
const FC_Q = [
  [3, 7, 3, 3, /* | */ 9, 3, 3, -1], // zp 3: 0100, 1001
  [-2, -2, -2, -2, /* | */ -2, -2, 4, -2], // zp -2: 0000, 0010
  [1, 0, 2, 0, /* | */ 0, 0, 0, 5], // zp 0: 1010, 0001
  [5, 6, 7, 5, /* | */ 5, 5, 5, 5], // zp 5: 0110, 0000
];
const FC_ZP = [3, -2, 0, 5];
// Conv [2, 4, 1, 2]: w[oc][ic][0][kw]; groups run along ic at each kw.
const CONV_Q = [
  [[9, 1], [1, 1], [-7, 8], [1, 1]], // zp 1: kw 0 keeps 9, -7; kw 1 keeps 8
  [[-1, -1], [4, -1], [-1, -9], [-1, -1]], // zp -1: kw 0 keeps 4; kw 1 keeps -9
];
const CONV_ZP = [1, -1];

function int8Model(): ModelSpec {
  const t = (name: string, dtype: DTypeName, dims: number[], values: number[]) => makeTensor({ name, dtype, dims, values });
  return {
    graph: graph({
      name: 'int8-per-channel',
      nodes: [
        node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0 }, { name: 'dq' }),
        node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'fc' }),
        node('DequantizeLinear', ['Wcq', 'cscale', 'czp'], ['Wc'], { axis: 0 }, { name: 'cdq' }),
        node('Conv', ['Xc', 'Wc'], ['Yc'], { kernel_shape: [1, 2] }, { name: 'conv' }),
      ],
      inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('Xc', 'float32', [1, 4, 1, 3])],
      outputs: [valueInfo('Y', 'float32', [1, 4]), valueInfo('Yc', 'float32', [1, 2, 1, 2])],
      initializers: [
        t('Wq', 'int8', [4, 8], FC_Q.flat()),
        t('scale', 'float32', [4], [0.5, 0.5, 0.25, 0.25]),
        t('zp', 'int8', [4], FC_ZP),
        t('Wcq', 'int8', [2, 4, 1, 2], CONV_Q.flat(2)),
        t('cscale', 'float32', [2], [0.5, 0.5]),
        t('czp', 'int8', [2], CONV_ZP),
      ],
    }),
  };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every file the manifest lists exists with the listed size and sha256; the folder holds nothing else. */
function assertManifestMatchesFiles(dir: string, manifest: ExportManifest): void {
  const listed = manifest.layers.flatMap((l) => l.files.map((f) => f.file));
  assert.deepEqual(listFolder(dir), [...listed, 'manifest.json'].sort());
  for (const l of manifest.layers) {
    for (const f of l.files) {
      const bytes = readFileSync(join(dir, f.file));
      assert.equal(f.bytes, bytes.length, f.file);
      assert.equal(f.sha256, sha256(bytes), f.file);
    }
  }
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')), manifest);
}

const fileOf = (dir: string, name: string) => new Uint8Array(readFileSync(join(dir, name)));

// ---------------------------------------------------------------------------
// NVIDIA

describe('export --encoding nvidia, float16', () => {
  const dir = tempDir();
  const input = join(dir, 'model.onnx');
  const out = join(dir, 'export');
  const { spec, weights } = nvidiaModel();
  let manifest: ExportManifest;
  before(async () => {
    writeModel(input, spec);
    manifest = await exportModel(input, { encoding: 'nvidia', out });
  });

  test('mm [32 rows, K 64] gets values, plain and CUTLASS metadata; fc [16, 16] values and plain metadata only', () => {
    assert.deepEqual(
      manifest.layers.map((l) => [l.layer, l.tensor, l.shape, l.axis, l.matrix, l.dtype, l.encoding]),
      [
        ['mm', 'Wm', [64, 32], 0, [32, 64], 'float16', 'nvidia'],
        ['fc', 'Wf', [16, 16], 1, [16, 16], 'float16', 'nvidia'],
      ],
    );
    assert.deepEqual(
      manifest.layers.flatMap((l) => l.files.map((f) => [f.file, f.dims, f.dtype, f.bytes])),
      [
        ['mm.nvidia.values.bin', [32, 32], 'float16', 2048],
        ['mm.nvidia.meta.bin', [32, 4], 'int16', 256],
        ['mm.nvidia.meta-cutlass.bin', [32, 4], 'int16', 256],
        ['fc.nvidia.values.bin', [16, 8], 'float16', 256],
        ['fc.nvidia.meta.bin', [16, 1], 'int16', 32],
      ],
    );
    assert.deepEqual([manifest.encoding, manifest.pattern, manifest.model], ['nvidia', '2:4', input]);
  });

  test('the layers that cannot be exported are listed with their reasons', () => {
    assert.deepEqual(manifest.skipped, [
      { layer: 'dense', reason: "not 2:4 (32 of 32 groups violate): run 'sparsity-lens convert --mode prune' first" },
      { layer: 'narrow', reason: 'ineligible: K=6 (axis 1) is not divisible by M=4' },
    ]);
  });

  test('sizes and sha256 in the manifest (and manifest.json) match the files', () => {
    assertManifestMatchesFiles(out, manifest);
  });

  test('values with either metadata layout decode to the weight viewed as [rows, K]', () => {
    const fp16 = (name: string) => {
      const w = weights[name];
      return asRowsByK(new Uint8Array(makeTensor({ name, dtype: 'float16', dims: w.dims, values: w.values }).rawData as Uint8Array), w.dims, name === 'Wm' ? 0 : 1, 2);
    };
    const mm = { rows: 32, cols: 64, elementSize: 2 as const, values: fileOf(out, 'mm.nvidia.values.bin'), metaWordBytes: 2 as const, metaCols: 4 };
    assert.deepEqual(decodeNvidia({ ...mm, metadata: fileOf(out, 'mm.nvidia.meta.bin'), layout: 'plain' }), fp16('Wm'));
    assert.deepEqual(decodeNvidia({ ...mm, metadata: fileOf(out, 'mm.nvidia.meta-cutlass.bin'), layout: 'cutlass' }), fp16('Wm'));
    const fc = { rows: 16, cols: 16, elementSize: 2 as const, values: fileOf(out, 'fc.nvidia.values.bin'), metaWordBytes: 2 as const, metaCols: 1, layout: 'plain' as const };
    assert.deepEqual(decodeNvidia({ ...fc, metadata: fileOf(out, 'fc.nvidia.meta.bin') }), fp16('Wf'));
    // The two layouts hold the same words in a different order.
    assert.deepEqual([...fileOf(out, 'mm.nvidia.meta-cutlass.bin')].sort(), [...fileOf(out, 'mm.nvidia.meta.bin')].sort());
    assert.notDeepEqual(fileOf(out, 'mm.nvidia.meta-cutlass.bin'), fileOf(out, 'mm.nvidia.meta.bin'));
  });

  test("fc's first row, by hand: nibbles 0100, 1101, 1100 and the filler 1110 in one little-endian int16; values 1 2 3 4 5 6 0 0", () => {
    const meta = fileOf(out, 'fc.nvidia.meta.bin');
    assert.equal(meta[0] | (meta[1] << 8), 0b1110_1100_1101_0100);
    assert.deepEqual(fileOf(out, 'fc.nvidia.values.bin').subarray(0, 16), fp16Bytes([0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600, 0, 0]));
  });
});

describe('export: what is skipped, and the choice of layers', () => {
  test('float32 with nvidia is skipped with its reason; nothing but the manifest is written', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, nvidiaModel('float32').spec);
    const out = join(dir, 'export');
    const manifest = await exportModel(input, { encoding: 'nvidia', out });
    assert.deepEqual(manifest.layers, []);
    assert.deepEqual(manifest.skipped.slice(0, 2), [
      { layer: 'mm', reason: 'float32 has no 2:4 tensor-core path in this layout (fp16, bf16 and int8 do)' },
      { layer: 'fc', reason: 'float32 has no 2:4 tensor-core path in this layout (fp16, bf16 and int8 do)' },
    ]);
    assert.deepEqual(listFolder(out), ['manifest.json']);
  });

  test('int8 with per-channel zero points is skipped for nvidia (its kernels take symmetric int8)', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, int8Model());
    const manifest = await exportModel(input, { encoding: 'nvidia', out: join(dir, 'export') });
    assert.deepEqual(manifest.layers, []);
    assert.deepEqual(manifest.skipped, [
      { layer: 'fc', reason: 'non-zero zero points: NVIDIA kernels take symmetric int8 weights' },
      { layer: 'conv', reason: 'non-zero zero points: NVIDIA kernels take symmetric int8 weights' },
    ]);
  });

  test('--layer NAME exports that layer only; an unknown name is refused before anything is written', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, nvidiaModel().spec);
    const out = join(dir, 'export');
    const manifest = await exportModel(input, { encoding: 'nvidia', out, layer: 'fc' });
    assert.deepEqual(manifest.layers.map((l) => l.layer), ['fc']);
    assert.deepEqual(manifest.skipped, []);
    assert.deepEqual(listFolder(out), ['fc.nvidia.meta.bin', 'fc.nvidia.values.bin', 'manifest.json']);
    assertManifestMatchesFiles(out, manifest);
    await assert.rejects(
      () => exportModel(input, { encoding: 'nvidia', out: join(dir, 'other'), layer: 'nope' }),
      (err: Error) => err instanceof ModelError && err.message.includes("no layer named 'nope' (see 'sparsity-lens inspect')"),
    );
    assert.deepEqual(listFolder(dir), ['export', 'model.onnx']);
  });

  test('a non-empty output folder is refused without force and left as it was; with force the export goes in beside', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.onnx');
    writeModel(input, nvidiaModel().spec);
    const out = join(dir, 'export');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    await assert.rejects(
      () => exportModel(input, { encoding: 'nvidia', out }),
      (err: Error) => err instanceof ModelError && err.message.includes(`the output folder '${out}' is not empty; use --force to write into it`),
    );
    assert.deepEqual(listFolder(out), ['notes.txt']);
    const manifest = await exportModel(input, { encoding: 'nvidia', out, force: true });
    assert.equal(manifest.layers.length, 2);
    assert.deepEqual(listFolder(out).filter((f) => f.endsWith('.txt')), ['notes.txt']);
    assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  });
});

// ---------------------------------------------------------------------------
// Ascend

describe('export --encoding ascend, int8 with per-channel zero points', () => {
  const dir = tempDir();
  const input = join(dir, 'model.onnx');
  const out = join(dir, 'export');
  let manifest: ExportManifest;
  before(async () => {
    writeModel(input, int8Model());
    manifest = await exportModel(input, { encoding: 'ascend', out });
  });

  test('the manifest: fc as [4, 8], conv [2, 4, 1, 2] as [rows 2 x 1 x 2, K 4]; files, sizes, sha256', () => {
    assert.deepEqual(
      manifest.layers.map((l) => [l.layer, l.tensor, l.shape, l.axis, l.matrix, l.dtype]),
      [
        ['fc', 'Wq', [4, 8], 1, [4, 8], 'int8'],
        ['conv', 'Wcq', [2, 4, 1, 2], 1, [4, 4], 'int8'],
      ],
    );
    assert.deepEqual(
      manifest.layers.flatMap((l) => l.files.map((f) => [f.file, f.dims, f.dtype, f.bytes])),
      [
        ['fc.ascend.values.bin', [4, 4], 'int8', 16],
        ['fc.ascend.index.bin', [4], 'uint8', 4],
        ['conv.ascend.values.bin', [4, 2], 'int8', 8],
        ['conv.ascend.index.bin', [2], 'uint8', 2],
      ],
    );
    assert.deepEqual(manifest.skipped, []);
    assertManifestMatchesFiles(out, manifest);
  });

  test("fc, by hand: a value slot that holds no weight holds the row's zero point", () => {
    // Row 0 (zp 3): 0100 → 7, zp; 1001 → 9, -1. Row 1 (zp -2): 0000 → zp, zp; 0010 → 4, zp (both indexes on e2).
    // Row 2 (zp 0): 1010 → 1, 2; 0001 → 0, 5. Row 3 (zp 5): 0110 → 6, 7; 0000 → zp, zp.
    assert.deepEqual(Array.from(new Int8Array(fileOf(out, 'fc.ascend.values.bin').buffer)), [7, 3, 9, -1, -2, -2, 4, -2, 1, 2, 0, 5, 6, 7, 5, 5]);
    // index[0] | index[1] << 2 per group, even group in the low nibble: (01,00)(00,10), (00,00)(10,01), (00,01)(00,10), (01,01)(00,00).
    assert.deepEqual(Array.from(fileOf(out, 'fc.ascend.index.bin')), [0x81, 0x60, 0x84, 0x05]);
  });

  test('both layers decode, with one zero point per row, to the stored int8 weight viewed as [rows, K]', () => {
    const int8 = (values: number[]) => new Uint8Array(Int8Array.from(values).buffer);
    const fc = decodeAscend({ rows: 4, cols: 8, elementSize: 1, values: fileOf(out, 'fc.ascend.values.bin'), index: fileOf(out, 'fc.ascend.index.bin') }, int8(FC_ZP));
    assert.deepEqual(fc, int8(FC_Q.flat()));
    // Conv rows in (oc, kh, kw) order: (0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 0, 1), each with its output channel's zero point.
    const conv = decodeAscend({ rows: 4, cols: 4, elementSize: 1, values: fileOf(out, 'conv.ascend.values.bin'), index: fileOf(out, 'conv.ascend.index.bin') }, int8([1, 1, -1, -1]));
    assert.deepEqual(conv, asRowsByK(int8(CONV_Q.flat(2)), [2, 4, 1, 2], 1, 1));
    assert.deepEqual(Array.from(new Int8Array(conv.buffer)), [9, 1, -7, 1, 1, 1, 8, 1, -1, 4, -1, -1, -1, -1, -9, -1]);
  });
});

// ---------------------------------------------------------------------------
// The command line


describe('sparsity-lens export', () => {
  const dir = tempDir();
  const input = join(dir, 'model.onnx');
  writeModel(input, nvidiaModel().spec);

  test('exit 0: the files, the skipped layers and the manifest are listed; --format json prints the manifest', () => {
    const table = cli('export', input, '--encoding', 'nvidia', '--out', join(dir, 'table'));
    assert.equal(table.code, 0, table.stderr);
    for (const line of [
      'mm.nvidia.values.bin  2048 bytes  kept values, 2 per group of 4',
      'mm.nvidia.meta-cutlass.bin  256 bytes  metadata, reordered (CUTLASS/PyTorch layout)',
      "skipped dense: not 2:4 (32 of 32 groups violate): run 'sparsity-lens convert --mode prune' first",
      'manifest.json',
    ]) {
      assert.ok(table.stdout.includes(line), line);
    }
    const json = cli('export', input, '--encoding', 'ascend', '--out', join(dir, 'json'), '--format', 'json');
    assert.equal(json.code, 0, json.stderr);
    const manifest = JSON.parse(json.stdout) as ExportManifest;
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'json', 'manifest.json'), 'utf8')), manifest);
    assert.deepEqual(manifest.layers.map((l) => l.layer), ['mm', 'fc']);
  });

  test('exit 2 with a readable message and no stack trace: no --out, a bad --encoding, an unknown layer, a non-empty folder, a missing model', () => {
    const cases: [string[], RegExp][] = [
      [['export', input, '--encoding', 'nvidia'], /export needs --out DIR/],
      [['export', input, '--encoding', 'tpu', '--out', join(dir, 'x')], /--encoding must be ascend or nvidia/],
      [['export', input, '--encoding', 'nvidia', '--out', join(dir, 'x'), '--layer', 'nope'], /no layer named 'nope'/],
      [['export', input, '--encoding', 'nvidia', '--out', join(dir, 'table')], /is not empty; use --force/],
      [['export', join(dir, 'missing.onnx'), '--encoding', 'nvidia', '--out', join(dir, 'x')], /missing\.onnx/],
    ];
    for (const [args, message] of cases) {
      const run = cli(...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.deepEqual(listFolder(dir), ['json', 'model.onnx', 'table']);
  });

  test('--force writes into the non-empty folder: exit 0', () => {
    const run = cli('export', input, '--encoding', 'nvidia', '--out', join(dir, 'table'), '--force', '--layer', 'fc');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'table', 'manifest.json'), 'utf8')).layers.map((l: { layer: string }) => l.layer), ['fc']);
  });
});
