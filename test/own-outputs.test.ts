// Inspect recognises this tool's own compressed outputs (issue 12): a model written by `convert --mode compress`
// (portable format) or `--mode ascend` inspects with each layer's real op, shape, type and K axis and exactly the
// statistics of the pruned-but-uncompressed model, says it is stored compressed and at what size (figures checked
// here against the tensors read back with onnx-proto), fails only the layer whose stored data is corrupt, and
// `convert` leaves such layers unchanged with the reason. Models are built in code; the bundled sample too.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { type ConvertReport, convertModel } from '../src/engine/convert/convert';
import { decompressModel } from '../src/engine/convert/decompress';
import { exportModel } from '../src/engine/convert/export';
import { type InspectReport, type LayerReport, inspectModel } from '../src/engine/sparsity/inspect';
import type { Pattern } from '../src/engine/sparsity/pattern';
import { readGroupEncodings, readRegion } from '../src/engine/sparsity/region';
import { ExternalSink, type ModelSpec, constantNode, graph, makeTensor, node, randomWeights, seededRandom, valueInfo, writeModel } from './support/builder';
import { cli } from './support/cli';
import { allTensorProtos, decodeModelFile, tensorBytes } from './support/convert-read';
import { tempDir } from './support/models';
import { ROUND } from './support/profiles';
import { type HardwareProfile, resolveProfile } from '../src/engine/speedup/profiles';

const SAMPLE = join(__dirname, '..', '..', 'media', 'sample.onnx');

/**
 * Four layers in the layouts the formats handle differently: a Conv (K on axis 1 with kernel positions after it),
 * an fp16 MatMul B [K, N] (K on axis 0), an int8 Gemm transB behind a DequantizeLinear with zero point 3, and a
 * batched MatMul [2, 16, 8].
 */
function mixedModel(seed: number): ModelSpec {
  const rnd = seededRandom(seed);
  const floats = (dims: number[]) => Array.from(randomWeights(dims.reduce((a, b) => a * b, 1), rnd));
  const ints = (n: number) => Array.from({ length: n }, () => -128 + Math.floor(rnd() * 256));
  return {
    graph: graph({
      name: 'mixed',
      nodes: [
        node('Conv', ['X', 'Wc'], ['C'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' }),
        node('Reshape', ['C', 'flat_shape'], ['F'], {}, { name: 'flatten' }),
        node('Cast', ['F'], ['F16'], { to: 10 }, { name: 'to16' }),
        node('MatMul', ['F16', 'Wm'], ['M16'], {}, { name: 'fc16' }),
        node('Cast', ['M16'], ['M'], { to: 1 }, { name: 'to32' }),
        node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['Wq_f'], {}, { name: 'dq' }),
        node('Gemm', ['M', 'Wq_f'], ['G'], { transB: 1 }, { name: 'gemm_int8' }),
        node('Reshape', ['G', 'batch_shape'], ['Gb'], {}, { name: 'split' }),
        node('MatMul', ['Gb', 'Wb'], ['Y'], {}, { name: 'batched' }),
      ],
      inputs: [valueInfo('X', 'float32', [1, 8, 2, 2])],
      outputs: [valueInfo('Y', 'float32', [2, 1, 8])],
      initializers: [
        makeTensor({ name: 'Wc', dtype: 'float32', dims: [8, 8, 3, 3], values: floats([8, 8, 3, 3]) }),
        makeTensor({ name: 'flat_shape', dtype: 'int64', dims: [2], values: [1, 32] }),
        makeTensor({ name: 'Wm', dtype: 'float16', dims: [32, 12], values: floats([32, 12]) }),
        makeTensor({ name: 'Wq', dtype: 'int8', dims: [32, 12], values: ints(32 * 12) }),
        makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.0078125] }),
        makeTensor({ name: 'zp', dtype: 'int8', dims: [], values: [3] }),
        makeTensor({ name: 'batch_shape', dtype: 'int64', dims: [3], values: [2, 1, 16] }),
        makeTensor({ name: 'Wb', dtype: 'float32', dims: [2, 16, 8], values: floats([2, 16, 8]) }),
      ],
    }),
  };
}

interface Outputs {
  dir: string;
  input: string;
  pruned: string;
  compressed: string;
  ascend: string;
  reports: Record<'prune' | 'compress' | 'ascend', ConvertReport>;
}

async function convertAll(input: string, pattern: Pattern = { n: 2, m: 4 }): Promise<Outputs> {
  const dir = join(input, '..');
  const out = { dir, input, pruned: join(dir, 'pruned.onnx'), compressed: join(dir, 'compressed.onnx'), ascend: join(dir, 'ascend.onnx') };
  const prune = await convertModel(input, { mode: 'prune', pattern, out: out.pruned });
  const compress = await convertModel(input, { mode: 'compress', pattern, out: out.compressed });
  const ascend = pattern.n === 2 && pattern.m === 4 ? await convertModel(input, { mode: 'ascend', out: out.ascend }) : prune;
  return { ...out, reports: { prune, compress, ascend } };
}

/** What a layer's report says about its weight and statistics: everything but how it is stored. */
function facts(l: LayerReport) {
  const { stored: _stored, deploy: _deploy, ...rest } = l;
  return rest;
}

/** The deploy verdicts' rules per target, but for those about the stored form (stored-portable, stored-ascend). */
function deployRules(l: LayerReport): Record<string, string[]> {
  return Object.fromEntries(Object.entries(l.deploy ?? {}).map(([t, v]) => [t, v!.rules.filter((r) => !r.startsWith('stored-'))]));
}

/** Every layer of `actual` equals the same layer of `expected` (the pruned model), field for field, storage aside. */
function assertSameLayers(actual: InspectReport, expected: InspectReport, label: string): void {
  assert.deepEqual(actual.layers.map((l) => l.name), expected.layers.map((l) => l.name), `${label}: layer names`);
  for (const [i, want] of expected.layers.entries()) {
    assert.deepEqual(facts(actual.layers[i]), facts(want), `${label}: layer ${want.name}`);
    // A stored weight's verdicts say how it is held (a decode graph, the Ascend form); the rest are the pruned layer's.
    // Where a stored-form rule decides (the Ascend form: only Ascend reads it), later rules are not reached.
    const decided = new Set(Object.entries(actual.layers[i].deploy ?? {}).filter(([, v]) => !v!.sparse && v!.rules.some((r) => r.startsWith('stored-'))).map(([t]) => t));
    const open = (rules: Record<string, string[]>) => Object.fromEntries(Object.entries(rules).filter(([t]) => !decided.has(t)));
    assert.deepEqual(open(deployRules(actual.layers[i])), open(deployRules(want)), `${label}: layer ${want.name}: deploy rules`);
  }
  const { deploy: _a, ...summary } = actual.summary;
  const { deploy: _e, ...wanted } = expected.summary;
  assert.deepEqual(summary, wanted, `${label}: summary`);
  assert.deepEqual(actual.unrecognized, [], `${label}: the decode helpers are no unrecognized ops`);
}

/** Bytes of a tensor as stored in the output, read back with onnx-proto. */
function storedBytes(path: string, name: string): number {
  const t = allTensorProtos(decodeModelFile(path)).get(name);
  assert.ok(t, `tensor '${name}' in ${path}`);
  return tensorBytes(path, t).length;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, float16: 2, int8: 1, uint8: 1 };

/** The stored-size figures of every compressed layer, computed again from the tensors the output holds. */
function assertStoredSizes(report: InspectReport, path: string, format: 'portable' | 'ascend', compressedLayers: string[]): void {
  assert.deepEqual(report.layers.filter((l) => l.stored).map((l) => l.name), compressedLayers, `${format}: layers stored compressed`);
  for (const l of report.layers) {
    if (!l.stored) continue;
    const s = l.stored;
    const suffix = format === 'portable' ? '.sl' : '.ascend';
    assert.equal(s.values, `${l.weight}${suffix}_values`);
    assert.equal(s.index, `${l.weight}${suffix}_index`);
    const values = storedBytes(path, s.values);
    const index = storedBytes(path, s.index);
    const dense = l.elements * DTYPE_BYTES[l.dtype!];
    assert.deepEqual([s.format, s.valuesBytes, s.indexBytes, s.storedBytes, s.denseBytes], [format, values, index, values + index, dense], `${format} ${l.name}`);
    assert.equal(s.text, `stored compressed (${format} ${s.pattern}): ${values} B values + ${index} B index = ${values + index} B, ${(((values + index) / dense) * 100).toFixed(1)}% of ${dense} B dense`);
  }
}

/** Rewrites one tensor's raw bytes in a model file (onnx-proto in, onnx-proto out). */
function corrupt(from: string, to: string, tensor: string, change: (bytes: Uint8Array) => void): void {
  const model = decodeModelFile(from);
  const t = allTensorProtos(model).get(tensor);
  assert.ok(t?.rawData, `raw tensor '${tensor}'`);
  const bytes = Uint8Array.from(t.rawData);
  change(bytes);
  t.rawData = bytes;
  writeFileSync(to, onnx.ModelProto.encode(model).finish());
}

describe('inspect reads its own compressed outputs exactly', () => {
  test('portable and Ascend outputs of a mixed model: every layer as in the pruned model, stored sizes exact', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(7));
    const o = await convertAll(input);
    assert.deepEqual(o.reports.compress.layers.map((l) => l.action), ['compress', 'compress', 'compress', 'compress']);
    assert.deepEqual(o.reports.ascend.layers.map((l) => l.action), ['rewrite', 'rewrite', 'rewrite', 'rewrite']);
    const pruned = await inspectModel(o.pruned);
    assert.equal(pruned.summary.passing, 4);
    for (const [format, path] of [['portable', o.compressed], ['ascend', o.ascend]] as const) {
      const report = await inspectModel(path);
      assertSameLayers(report, pruned, format);
      assertStoredSizes(report, path, format, ['conv', 'fc16', 'gemm_int8', 'batched']);
      assert.deepEqual(report.layers.map((l) => [l.op, l.dtype, l.zeroPoint]), [['Conv', 'float32', 'none'], ['MatMul', 'float16', 'none'], ['Gemm', 'int8', 'per-tensor'], ['MatMul', 'float32', 'none']]);
      // The same numbers at another pattern, and when scanned in parts by a worker thread.
      assertSameLayers(await inspectModel(path, { pattern: { n: 1, m: 4 } }), await inspectModel(o.pruned, { pattern: { n: 1, m: 4 } }), `${format} at 1:4`);
      assertSameLayers(await inspectModel(path, { workers: 1, partElements: 64 }), await inspectModel(o.pruned, { workers: 1, partElements: 64 }), `${format} in a worker, in parts`);
    }
  });

  test('a portable output at 2:8 (4-bit positions) and at 1:2 (1-bit) inspects as its pruned model', async () => {
    for (const pattern of [{ n: 2, m: 8 }, { n: 1, m: 2 }]) {
      const input = join(tempDir(), 'model.onnx');
      writeModel(input, mixedModel(11));
      const o = await convertAll(input, pattern);
      // At 2:8 the Gemm's K = 12 is not a multiple of M: it is left as it is.
      const compressed = o.reports.compress.layers.filter((l) => l.action === 'compress').map((l) => l.name);
      assert.deepEqual(compressed, pattern.m === 8 ? ['conv', 'fc16', 'batched'] : ['conv', 'fc16', 'gemm_int8', 'batched']);
      for (const p of [pattern, { n: 2, m: 4 }]) {
        const report = await inspectModel(o.compressed, { pattern: p });
        assertSameLayers(report, await inspectModel(o.pruned, { pattern: p }), `${pattern.n}:${pattern.m} inspected at ${p.n}:${p.m}`);
        assertStoredSizes(report, o.compressed, 'portable', compressed);
        assert.equal(report.layers[0].stored!.pattern, `${pattern.n}:${pattern.m}`);
      }
    }
  });

  test('weights in a Constant node, in an If branch and in external data: the outputs inspect as the pruned model', async () => {
    const rnd = seededRandom(23);
    const external = new ExternalSink();
    const thenBranch = graph({
      name: 'then',
      nodes: [node('MatMul', ['H', 'Wt'], ['then_out'], {}, { name: 'then_fc' })],
      inputs: [],
      outputs: [valueInfo('then_out', 'float32', [1, 4])],
      initializers: [makeTensor({ name: 'Wt', dtype: 'float32', dims: [8, 4], values: randomWeights(32, rnd) })],
    });
    const elseBranch = graph({ name: 'else', nodes: [node('Identity', ['H4'], ['else_out'], {}, { name: 'pass' })], inputs: [], outputs: [valueInfo('else_out', 'float32', [1, 4])] });
    const spec: ModelSpec = {
      graph: graph({
        name: 'places',
        nodes: [
          constantNode('Wk', makeTensor({ name: 'Wk_value', dtype: 'float32', dims: [16, 8], values: randomWeights(128, rnd) }), 'const_w'),
          node('MatMul', ['X', 'Wk'], ['H'], {}, { name: 'from_constant' }),
          node('MatMul', ['H', 'We'], ['H4'], {}, { name: 'from_external' }),
          node('If', ['cond'], ['Y'], { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } }, { name: 'branch' }),
        ],
        inputs: [{ name: 'cond', type: { tensorType: { elemType: 9, shape: { dim: [] } } } }, valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
        initializers: [makeTensor({ name: 'We', dtype: 'float32', dims: [8, 4], values: randomWeights(32, rnd), storage: { external: 'model.data' } }, external)],
      }),
    };
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, spec, external);
    const o = await convertAll(input);
    assert.deepEqual(o.reports.compress.layers.map((l) => [l.name, l.action]), [['from_constant', 'compress'], ['from_external', 'compress'], ['then_fc', 'compress']]);
    assert.deepEqual(o.reports.ascend.layers.map((l) => [l.name, l.action]), [['from_constant', 'prune'], ['from_external', 'rewrite'], ['then_fc', 'rewrite']]);
    const pruned = await inspectModel(o.pruned);
    const portable = await inspectModel(o.compressed);
    assertSameLayers(portable, pruned, 'portable');
    assertStoredSizes(portable, o.compressed, 'portable', ['from_constant', 'from_external', 'then_fc']);
    const ascend = await inspectModel(o.ascend);
    assertSameLayers(ascend, pruned, 'ascend');
    assertStoredSizes(ascend, o.ascend, 'ascend', ['from_external', 'then_fc']);
  });

  test('a weight larger than the decode window (4M elements): K rows decoded in two windows, rows read in two batches', async () => {
    // MatMul B [2048, 2056] float32: K on axis 0 with 2056 positions after it, so a scan's slabs are served from a
    // window of 2040 K rows, then one holding the last ones; a window's 2056 rows of values (8.4 MB for the first)
    // take two reads of at most 8 MB (rows 0-2047, then 2048-2055).
    const rnd = seededRandom(29);
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, {
      graph: graph({
        name: 'wide',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'wide' })],
        inputs: [valueInfo('X', 'float32', [1, 2048])],
        outputs: [valueInfo('Y', 'float32', [1, 2056])],
        initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [2048, 2056], values: randomWeights(2048 * 2056, rnd) })],
      }),
    });
    const dir = join(input, '..');
    await convertModel(input, { mode: 'prune', out: join(dir, 'pruned.onnx') });
    await convertModel(input, { mode: 'compress', out: join(dir, 'compressed.onnx') });
    const pruned = await inspectModel(join(dir, 'pruned.onnx'));
    const compressed = await inspectModel(join(dir, 'compressed.onnx'));
    assertSameLayers(compressed, pruned, 'wide');
    assert.equal(compressed.layers[0].validGroups, 2048 * 2056 / 4);
    assertStoredSizes(compressed, join(dir, 'compressed.onnx'), 'portable', ['wide']);
  });

  test('an Ascend output of int8 weights with per-channel zero points inspects as the pruned model', async () => {
    const rnd = seededRandom(31);
    const input = join(tempDir(), 'model.onnx');
    const zeroPoints = Array.from({ length: 8 }, (_, i) => i * 9 - 30);
    writeModel(input, {
      graph: graph({
        name: 'per-channel',
        nodes: [node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0 }, { name: 'dq' }), node('Gemm', ['X', 'W'], ['Y'], { transB: 1 }, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 16])],
        outputs: [valueInfo('Y', 'float32', [1, 8])],
        initializers: [
          makeTensor({ name: 'Wq', dtype: 'int8', dims: [8, 16], values: Array.from({ length: 128 }, () => -128 + Math.floor(rnd() * 256)) }),
          makeTensor({ name: 'scale', dtype: 'float32', dims: [8], values: Array(8).fill(0.01) }),
          makeTensor({ name: 'zp', dtype: 'int8', dims: [8], values: zeroPoints }),
        ],
      }),
    });
    const o = await convertAll(input);
    assert.deepEqual(o.reports.ascend.layers.map((l) => l.action), ['rewrite']);
    const pruned = await inspectModel(o.pruned);
    assert.equal(pruned.layers[0].zeroPoint, 'per-channel');
    const ascend = await inspectModel(o.ascend);
    assertSameLayers(ascend, pruned, 'per-channel ascend');
    // Every pruned place holds its row's zero point, so the zeros are exactly the pruned model's.
    assert.equal(ascend.layers[0].zeros, pruned.layers[0].zeros);
    assert.deepEqual(readGroupEncodings(o.ascend, { n: 2, m: 4 }, 'fc', 5, 2, 0), readGroupEncodings(o.pruned, { n: 2, m: 4 }, 'fc', 5, 2, 0));
  });

  test('a metadata entry that no decode graph matches is a model warning; the rest inspects', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(37));
    const o = await convertAll(input);
    const model = decodeModelFile(o.compressed);
    const meta = model.metadataProps!.find((p) => p.key === 'sparsity_lens.compressed')!;
    const entries = JSON.parse(meta.value!) as { weight: string }[];
    meta.value = JSON.stringify([...entries, { ...entries[0], weight: 'nowhere', nodes: ['nowhere.sl/reshape'] }]);
    const path = join(o.dir, 'extra-entry.onnx');
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
    const report = await inspectModel(path);
    assert.deepEqual(report.warnings, ["compressed weight 'nowhere' (in the 'sparsity_lens.compressed' metadata) has no decode graph producing it: not recognised"]);
    assert.deepEqual(report.layers.map(facts), (await inspectModel(o.pruned)).layers.map(facts));
  });

  test('the bundled sample: compress and ascend outputs inspect as the pruned sample', async () => {
    const dir = tempDir();
    const input = join(dir, 'sample.onnx');
    copyFileSync(SAMPLE, input);
    const o = await convertAll(input);
    const pruned = await inspectModel(o.pruned);
    const converted = (r: ConvertReport, action: string) => r.layers.filter((l) => l.action === action).map((l) => l.name);
    const compressedLayers = converted(o.reports.compress, 'compress');
    assert.equal(compressedLayers.length, 6);
    const portable = await inspectModel(o.compressed);
    assertSameLayers(portable, pruned, 'sample portable');
    assertStoredSizes(portable, o.compressed, 'portable', compressedLayers);
    const ascend = await inspectModel(o.ascend);
    assertSameLayers(ascend, pruned, 'sample ascend');
    assertStoredSizes(ascend, o.ascend, 'ascend', converted(o.reports.ascend, 'rewrite'));
  });

  test('the speedup projection of portable and Ascend outputs uses the real shapes: the same per-layer figures as the pruned model', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(5));
    const o = await convertAll(input);
    const hardware = resolveProfile(ROUND as unknown as HardwareProfile);
    if (typeof hardware === 'string') throw new Error(hardware);
    const pick = (r: InspectReport) => r.layers.map((l) => l as LayerReport & Record<string, unknown>).map((l) => [l.name, l.macs, l.denseTime, l.sparseTime, l.bound]);
    const pruned = await inspectModel(o.pruned, { speedup: { hardware } });
    assert.deepEqual(pick(pruned).map((l) => l[1]), [8 * 72 * 4, 32 * 12, 12 * 32, 2 * 16 * 8]);
    for (const path of [o.compressed, o.ascend]) {
      const stored = await inspectModel(path, { speedup: { hardware } });
      assert.deepEqual(pick(stored), pick(pruned), path);
      assert.deepEqual([stored.projection!.speedup, stored.projection!.unknowns], [pruned.projection!.speedup, pruned.projection!.unknowns], path);
    }
  });

  test('the drill-down shows the decoded values of a compressed layer', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(3));
    const o = await convertAll(input);
    const pattern = { n: 2, m: 4 };
    for (const path of [o.compressed, o.ascend]) {
      for (const layer of ['conv', 'fc16', 'gemm_int8']) {
        const region = { layer, row0: 0, row1: 4, group0: 0, group1: 2, position: 1 };
        assert.deepEqual(readRegion(path, pattern, region), readRegion(o.pruned, pattern, region), `${path} ${layer}`);
        assert.deepEqual(readGroupEncodings(path, pattern, layer, 1, 1, 0), readGroupEncodings(o.pruned, pattern, layer, 1, 1, 0), `${path} ${layer}`);
      }
    }
  });
});

describe('a corrupt compressed weight fails only its layer', () => {
  test('portable: a position listed twice, and metadata whose dims disagree with the values', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(9));
    const o = await convertAll(input);
    const pruned = await inspectModel(o.pruned);
    const bad = join(o.dir, 'bad-index.onnx');
    // Byte 0 holds the positions of group 0's two slots (and group 1's): all zero lists position 0 twice.
    corrupt(o.compressed, bad, 'Wm.sl_index', (b) => (b[0] = 0));
    const report = await inspectModel(bad);
    const fc16 = report.layers.find((l) => l.name === 'fc16')!;
    assert.equal(fc16.error, "compressed weight 'Wm' (portable): index tensor 'Wm.sl_index', row 0, group 0: position 0 is listed twice");
    assert.equal(fc16.compliance, null);
    const others = (r: InspectReport) => r.layers.filter((l) => l.name !== 'fc16').map(facts);
    assert.deepEqual(others(report), others(pruned));
    assert.equal(report.summary.errors, 1);

    const model = decodeModelFile(o.compressed);
    const meta = model.metadataProps!.find((p) => p.key === 'sparsity_lens.compressed')!;
    const entries = JSON.parse(meta.value!) as { weight: string; dims: number[] }[];
    entries.find((e) => e.weight === 'Wc')!.dims = [8, 8, 3, 6];
    meta.value = JSON.stringify(entries);
    const badMeta = join(o.dir, 'bad-meta.onnx');
    writeFileSync(badMeta, onnx.ModelProto.encode(model).finish());
    const r2 = await inspectModel(badMeta);
    const conv = r2.layers.find((l) => l.name === 'conv')!;
    assert.equal(conv.error, "compressed weight 'Wc' (portable): its values tensor 'Wc.sl_values' holds 288 elements; 2:4 over dims [8, 8, 3, 6] needs 576");
    assert.deepEqual(r2.layers.filter((l) => l.name !== 'conv').map(facts), pruned.layers.filter((l) => l.name !== 'conv').map(facts));
  });

  test('ascend: an index 11 fails its layer, naming the index tensor', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(9));
    const o = await convertAll(input);
    const pruned = await inspectModel(o.pruned);
    const bad = join(o.dir, 'bad-ascend.onnx');
    corrupt(o.ascend, bad, 'Wb.ascend_index', (b) => (b[0] = 0xff));
    const report = await inspectModel(bad);
    const batched = report.layers.find((l) => l.name === 'batched')!;
    assert.equal(batched.error, "compressed weight 'Wb' (ascend): index tensor 'Wb.ascend_index', row 0, group 0: index 0 is 11, not a position 0..2");
    assert.deepEqual(report.layers.filter((l) => l.name !== 'batched').map(facts), pruned.layers.filter((l) => l.name !== 'batched').map(facts));
  });
});

describe('convert of a compressed model', () => {
  test('prune, compress and ascend leave compressed layers unchanged, with the reason', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(13));
    const o = await convertAll(input);
    for (const [format, path] of [['portable', o.compressed], ['ascend', o.ascend]] as const) {
      for (const mode of ['prune', 'compress', 'ascend'] as const) {
        const out = join(o.dir, `${format}-${mode}.onnx`);
        const report = await convertModel(path, { mode, out });
        assert.deepEqual(
          report.layers.map((l) => [l.name, l.action, l.reason, l.passesAfter]),
          ['conv', 'fc16', 'gemm_int8', 'batched'].map((name) => [name, 'unchanged', `stored compressed (${format}): decompress first`, true]),
          `${format} ${mode}`,
        );
        assert.ok(readFileSync(out).equals(readFileSync(path)), `${format} ${mode}: the output is the input, byte for byte`);
      }
    }
  });

  test('compressing a partly compressed model compresses the rest; one metadata entry lists all; it decompresses to the pruned model', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(17));
    const o = await convertAll(input);
    const partly = join(o.dir, 'partly.onnx');
    const first = await convertModel(input, { mode: 'compress', only: /^(conv|fc16)$/, out: partly });
    assert.deepEqual(first.layers.map((l) => l.action), ['compress', 'compress', 'skip', 'skip']);
    const again = join(o.dir, 'again.onnx');
    const second = await convertModel(partly, { mode: 'compress', out: again });
    assert.deepEqual(second.layers.map((l) => [l.action, l.reason]), [
      ['unchanged', 'stored compressed (portable): decompress first'],
      ['unchanged', 'stored compressed (portable): decompress first'],
      ['compress', null],
      ['compress', null],
    ]);
    assert.equal(second.exact?.ran, true, second.exact?.note);
    assert.ok(second.exact!.outputs.every((x) => x.identical));
    const keys = (decodeModelFile(again).metadataProps ?? []).map((p) => p.key);
    assert.deepEqual(keys.filter((k) => k === 'sparsity_lens.compressed'), ['sparsity_lens.compressed']);
    const report = await inspectModel(again);
    assertSameLayers(report, await inspectModel(o.pruned), 'compressed twice');
    const decompressed = join(o.dir, 'decompressed.onnx');
    const back = await decompressModel(again, { out: decompressed });
    assert.deepEqual(back.weights.map((w) => w.name).sort(), ['Wb', 'Wc', 'Wm', 'Wq']);
    for (const name of ['Wb', 'Wc', 'Wm', 'Wq']) {
      const a = allTensorProtos(decodeModelFile(decompressed)).get(name)!;
      const b = allTensorProtos(decodeModelFile(o.pruned)).get(name)!;
      assert.ok(Buffer.from(tensorBytes(decompressed, a)).equals(Buffer.from(tensorBytes(o.pruned, b))), name);
    }
  });
});

describe('export of a compressed model', () => {
  test('exports the decoded weights: the same files as the export of the pruned model', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(41));
    const o = await convertAll(input);
    for (const encoding of ['ascend', 'nvidia'] as const) {
      const files = async (path: string, out: string) => {
        const manifest = await exportModel(path, { encoding, out: join(o.dir, out) });
        return { layers: manifest.layers.map((l) => [l.layer, l.files.map((f) => [f.file, f.bytes, f.sha256])]), skipped: manifest.skipped };
      };
      const pruned = await files(o.pruned, `${encoding}-pruned`);
      assert.ok(pruned.layers.length >= (encoding === 'ascend' ? 4 : 1), `${encoding}: ${JSON.stringify(pruned)}`);
      assert.deepEqual(await files(o.compressed, `${encoding}-portable`), pruned, `${encoding} of the portable output`);
      assert.deepEqual(await files(o.ascend, `${encoding}-ascend`), pruned, `${encoding} of the Ascend output`);
    }
  });
});

describe('the CLI says it is stored compressed', () => {
  test('table, Markdown, CSV and JSON', async () => {
    const input = join(tempDir(), 'model.onnx');
    writeModel(input, mixedModel(19));
    const o = await convertAll(input);
    const json = cli('inspect', o.compressed, '--format', 'json');
    assert.equal(json.code, 0, json.stderr);
    const layers = JSON.parse(json.stdout).layers as LayerReport[];
    const fc16 = layers.find((l) => l.name === 'fc16')!;
    const values = storedBytes(o.compressed, 'Wm.sl_values');
    const index = storedBytes(o.compressed, 'Wm.sl_index');
    assert.deepEqual([fc16.shape, fc16.dtype, fc16.axis, fc16.stored!.valuesBytes, fc16.stored!.indexBytes, fc16.stored!.denseBytes], [[32, 12], 'float16', 0, values, index, 768]);
    const text = `stored compressed (portable 2:4): ${values} B values + ${index} B index = ${values + index} B, ${(((values + index) / 768) * 100).toFixed(1)}% of 768 B dense`;
    assert.equal(fc16.stored!.text, text);
    for (const format of ['table', 'markdown', 'csv']) {
      const run = cli('inspect', o.compressed, '--format', format);
      assert.equal(run.code, 0, run.stderr);
      const line = run.stdout.split('\n').find((l) => l.includes('fc16'));
      assert.ok(line?.includes(text), `${format}: ${line}`);
      assert.ok(!run.stdout.includes('computed at run time'), format);
    }
    const convert = cli('convert', o.compressed, '--mode', 'prune', '--out', join(o.dir, 'again.onnx'));
    assert.equal(convert.code, 0, convert.stderr);
    assert.match(convert.stdout, /^layers: 0 to convert, 0 already compliant and 4 stored compressed \(unchanged\), 0 skipped$/m);
    assert.match(convert.stdout, /^fc16 +MatMul +unchanged .*stored compressed \(portable\): decompress first$/m);
    const ascend = cli('inspect', o.ascend);
    assert.match(ascend.stdout, /gemm_int8 +Gemm +\[32x12\] +int8 +1 +PASS .*stored compressed \(ascend 2:4\): 192 B values \+ 48 B index = 240 B, 62\.5% of 384 B dense/);
  });
});
