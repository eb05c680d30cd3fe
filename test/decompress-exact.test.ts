// The portable round trip is exact: decompress(compress(x)) equals prune(x) byte for byte, -0.0 included (kept in
// place by pruning, in groups that were pruned and in groups whose padded value slots point at them), and the decode
// graph rebuilds the same bytes inside ONNX Runtime. A weight without -0.0 is written as before (no mask), so files
// written before the mask existed read as they did.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { type InspectReport, type LayerReport, inspectModel } from '../src/engine/sparsity/inspect';
import { resolveProfile } from '../src/engine/speedup/profiles';
import { type DTypeName, ExternalSink, graph, makeTensor, node, randomWeights, seededRandom, valueInfo, writeModel } from './support/builder';
import { allTensorProtos, decodeModelFile, roundTrip, tensorBytes } from './support/convert-read';
import { tempDir } from './support/models';

/** Every tensor's bytes by name. */
function tensorBytesByName(path: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, t] of allTensorProtos(decodeModelFile(path))) out.set(name, Buffer.from(tensorBytes(path, t)));
  return out;
}

function entries(path: string): { weight: string; negativeZeros?: string }[] {
  const meta = decodeModelFile(path).metadataProps?.find((p) => p.key === 'sparsity_lens.compressed');
  return meta ? JSON.parse(meta.value!) : [];
}

/**
 * Dense weights with -0.0 planted every 4th group at a random place (those groups keep more than N non-zeros, so
 * pruning happens beside the -0.0), and every 5th group reduced to one non-zero and -0.0 elsewhere (padded slots).
 * K (axis `axis`) groups are contiguous only for the last axis: plant along storage order, the test counts what landed.
 */
function plantedWeights(count: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  const values = Array.from(randomWeights(count, rnd));
  for (let i = 0; i < count; i++) {
    if (i % 16 === 3) values[i] = -0;
    if (i % 20 >= 16) values[i] = i % 20 === 16 ? values[i] : -0;
  }
  return values;
}

/** Y = layer(X, W), W in `dtype` (bfloat16 through a Cast to float32). */
function model(op: 'MatMul' | 'Conv', dtype: DTypeName, dims: number[], values: number[], sink?: ExternalSink): onnx.IModelProto | Parameters<typeof writeModel>[1] {
  const io = dtype === 'float16' ? 'float16' : 'float32';
  const w = makeTensor({ name: 'W', dtype, dims, values, ...(sink ? { storage: { external: 'weights.bin' } } : {}) }, sink);
  const nodes: onnx.INodeProto[] = [];
  let weight = 'W';
  if (dtype === 'bfloat16') {
    nodes.push(node('Cast', ['W'], ['W_float'], { to: 1 }, { name: 'cast' }));
    weight = 'W_float';
  }
  const conv = op === 'Conv';
  nodes.push(node(op, ['X', weight], ['Y'], conv ? { kernel_shape: [dims[2], dims[3]] } : {}, { name: 'layer' }));
  return {
    graph: graph({
      name: 'negative-zeros',
      nodes,
      inputs: [valueInfo('X', io, conv ? [1, dims[1], dims[2], dims[3]] : [1, dims[0]])],
      outputs: [valueInfo('Y', io, conv ? [1, dims[0], 1, 1] : [1, dims[1]])],
      initializers: [w],
    }),
  };
}

/** Float bit patterns of an ONNX Runtime output, as unsigned integers. */
function outputBits(data: Float32Array | Uint16Array): number[] {
  return data instanceof Float32Array ? Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length)) : Array.from(data);
}

function storedBits(bytes: Buffer, dtype: DTypeName): number[] {
  const size = dtype === 'float32' ? 4 : 2;
  return Array.from({ length: bytes.length / size }, (_, i) => (size === 4 ? bytes.readUInt32LE(i * 4) : bytes.readUInt16LE(i * 2)));
}

const NEG: Record<string, number> = { float32: 0x80000000, float16: 0x8000, bfloat16: 0x8000 };

describe('decompress(compress(x)) is prune(x) byte for byte, -0.0 included', () => {
  const cases: [string, 'MatMul' | 'Conv', DTypeName, number[], { n: number; m: number }][] = [
    ['MatMul [32, 8] float32 2:4', 'MatMul', 'float32', [32, 8], { n: 2, m: 4 }],
    ['MatMul [32, 8] float16 1:4', 'MatMul', 'float16', [32, 8], { n: 1, m: 4 }],
    ['Conv [4, 16, 2, 2] float32 2:4 (K is not the last axis)', 'Conv', 'float32', [4, 16, 2, 2], { n: 2, m: 4 }],
    ['Conv [4, 16, 2, 2] float16 2:8', 'Conv', 'float16', [4, 16, 2, 2], { n: 2, m: 8 }],
    ['MatMul [32, 8] bfloat16 (through a Cast) 2:4', 'MatMul', 'bfloat16', [32, 8], { n: 2, m: 4 }],
    // Large enough for the SIMD scan and prune kernels and several scan slabs.
    ['MatMul [512, 256] float16 2:4', 'MatMul', 'float16', [512, 256], { n: 2, m: 4 }],
    ['MatMul [512, 256] float32 2:4', 'MatMul', 'float32', [512, 256], { n: 2, m: 4 }],
  ];
  for (const [label, op, dtype, dims, pattern] of cases) {
    test(label, async () => {
      const dir = tempDir();
      const count = dims.reduce((a, b) => a * b, 1);
      writeModel(join(dir, 'model.onnx'), model(op, dtype, dims, plantedWeights(count, count + pattern.m)) as Parameters<typeof writeModel>[1]);
      const { prune, compress, pruned, compressed, decompressed } = await roundTrip(join(dir, 'model.onnx'), pattern);
      const want = tensorBytesByName(pruned).get('W')!;
      const negatives = storedBits(want, dtype).filter((b) => b === NEG[dtype]).length;
      assert.ok(negatives >= count / 16, `${label}: ${negatives} -0.0 in the pruned weight`);
      assert.ok(prune.layers[0].prunedElements > 0, label);
      assert.equal(compress.layers[0].action, 'compress', label);
      assert.deepEqual(entries(compressed).map((e) => e.negativeZeros), ['W.sl_negzero'], label);
      assert.equal(tensorBytesByName(compressed).get('W.sl_negzero')!.length, Math.ceil(count / 8), label);
      assert.ok(tensorBytesByName(decompressed).get('W')!.equals(want), `${label}: decompressed W differs from pruned W`);
      // Inspecting the compressed model reads the mask too: the same -0.0 count (and warning) as the pruned model.
      const [before, after] = await Promise.all([inspectModel(pruned, { pattern }), inspectModel(compressed, { pattern })]);
      assert.equal(after.layers[0].negativeZeros, negatives, label);
      assert.deepEqual(
        [after.layers[0].zeros, after.layers[0].validGroups, after.layers[0].warnings],
        [before.layers[0].zeros, before.layers[0].validGroups, before.layers[0].warnings],
        label,
      );
      // In ONNX Runtime the decode graph rebuilds the same bits; its outputs match the decompressed model's exactly.
      assert.equal(compress.exact?.ran, true, compress.exact?.note);
      assert.ok(compress.exact!.outputs.every((o) => o.identical), label);
      assert.equal(compress.verified, true, label);
      if (dtype !== 'bfloat16') {
        // The decode graph's output W made a graph output of a copy of the compressed model: ONNX Runtime shows its bytes.
        const copy = decodeModelFile(compressed);
        copy.graph!.output!.push(valueInfo('W', dtype, dims));
        const withW = join(dir, 'compressed-with-w.onnx');
        writeFileSync(withW, onnx.ModelProto.encode(copy).finish());
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const ort = require('onnxruntime-node');
        const session = await ort.InferenceSession.create(withW);
        const xDims = op === 'Conv' ? [1, dims[1], dims[2], dims[3]] : [1, dims[0]];
        const size = xDims.reduce((a, b) => a * b, 1);
        const x = dtype === 'float16' ? new ort.Tensor('float16', new Uint16Array(size).fill(0x3c00), xDims) : new ort.Tensor('float32', new Float32Array(size).fill(1), xDims);
        const out = await session.run({ X: x });
        assert.deepEqual(outputBits(out.W.data), storedBits(want, dtype), `${label}: the decode graph's W in ONNX Runtime`);
      }
    });
  }

  test('the speedup projection of a compressed weight with a mask is the one of the pruned model: its decode graph folds', async () => {
    const hardware = resolveProfile('a100');
    if (typeof hardware === 'string') throw new Error(hardware);
    for (const [op, dtype, dims] of [['MatMul', 'float32', [32, 8]], ['Conv', 'float16', [4, 16, 2, 2]]] as const) {
      const dir = tempDir();
      writeModel(join(dir, 'model.onnx'), model(op, dtype, [...dims], plantedWeights(dims.reduce((a, b) => a * b, 1), 11)) as Parameters<typeof writeModel>[1]);
      const { pruned, compressed } = await roundTrip(join(dir, 'model.onnx'));
      const before: InspectReport = await inspectModel(pruned, { speedup: { hardware } });
      const after: InspectReport = await inspectModel(compressed, { speedup: { hardware } });
      const pick = (r: InspectReport) => r.layers.map((l) => l as LayerReport & Record<string, unknown>).map((l) => [l.name, l.macs, l.denseTime, l.sparseTime]);
      assert.deepEqual(pick(after), pick(before), op);
      assert.deepEqual([after.projection!.speedup, after.projection!.unknowns], [before.projection!.speedup, before.projection!.unknowns], op);
    }
  });

  test('external data: the mask follows the index in the data file, and decompress restores every -0.0', async () => {
    const dir = tempDir();
    const sink = new ExternalSink();
    writeModel(join(dir, 'model.onnx'), model('MatMul', 'float16', [64, 32], plantedWeights(2048, 5), sink) as Parameters<typeof writeModel>[1], sink);
    const { compress, pruned, compressed, decompressed } = await roundTrip(join(dir, 'model.onnx'));
    const out = decodeModelFile(compressed);
    const place = (name: string) => {
      const t = out.graph!.initializer!.find((i) => i.name === name)!;
      const kv = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]));
      return [kv.location, Number(kv.offset), Number(kv.length)];
    };
    const [, indexAt, indexLength] = place('W.sl_index');
    assert.deepEqual(place('W.sl_negzero'), ['compressed.data', Number(indexAt) + Number(indexLength), 256]);
    assert.ok(tensorBytesByName(decompressed).get('W')!.equals(tensorBytesByName(pruned).get('W')!));
    assert.equal(compress.verified, true);
  });

  test('a weight without -0.0 has no mask and no negativeZeros field: the format is the one older files use', async () => {
    const dir = tempDir();
    const rnd = seededRandom(3);
    writeModel(join(dir, 'model.onnx'), model('MatMul', 'float32', [32, 8], Array.from(randomWeights(256, rnd)).map((v) => v || 0.5)) as Parameters<typeof writeModel>[1]);
    const { compressed, decompressed, pruned } = await roundTrip(join(dir, 'model.onnx'));
    assert.deepEqual(entries(compressed), [{ ...entries(compressed)[0], negativeZeros: undefined }].map(({ negativeZeros, ...e }) => (void negativeZeros, e)));
    assert.ok(!tensorBytesByName(compressed).has('W.sl_negzero'));
    assert.ok(tensorBytesByName(decompressed).get('W')!.equals(tensorBytesByName(pruned).get('W')!));
  });
});
