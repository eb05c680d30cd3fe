// Every place ONNX lets a weight live (raw_data, typed fields, external files, Constant nodes, sparse
// initializers) must give the same report, down to the last number (domain.md §2, §3).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Writer } from 'protobufjs/minimal';
import { onnx } from 'onnx-proto';
import {
  ExternalSink,
  type ModelSpec,
  type TensorSpec,
  constantNode,
  encodeModel,
  graph,
  makeTensor,
  node,
  sparseTensor,
  valueInfo,
} from './support/builder';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { MemorySource } from '../src/engine/onnx/source';
import { ExternalFiles, openTensor } from '../src/engine/onnx/tensorData';
import { type LayerReport, inspectSource } from '../src/engine/sparsity/inspect';
import { withEncodedInitializer } from './support/encode';
import { inspectFile, inspectSpec, layer, writeTempModel } from './support/models';

// MatMul B [K=8, N=4]: K is axis 0, so each column holds two groups of four (rows 0-3 and 4-7).
//   column 0: [1 0 2 0]  [0 0 0 0]    2 and 0 non-zeros: valid, valid
//   column 1: [3 1 0 2]  [-4 0 0 0]   3 (keeps 3+2 of 6) and 1: invalid, valid
//   column 2: [.5 .5 .5 .5] [0 -1 0 1] 4 (keeps 1 of 2) and 2: invalid, valid
//   column 3: [2 0 0 2]  [1 2 3 4]    2 and 4 (keeps 7 of 10): valid, invalid
// zeros 6+4+2+2 = 14; sum |w| = 3+10+4+14 = 31; kept = 3+9+3+11 = 26.
const W_DIMS = [8, 4];
const W_VALUES = [
  1, 3, 0.5, 2,
  0, 1, 0.5, 0,
  2, 0, 0.5, 0,
  0, 2, 0.5, 2,
  0, -4, 0, 1,
  0, 0, -1, 2,
  0, 0, 0, 3,
  0, 0, 1, 4,
];

function weight(storage?: TensorSpec['storage']): TensorSpec {
  return { name: 'W', dtype: 'float32', dims: W_DIMS, values: W_VALUES, storage };
}

/** X [1, 8] x W [8, 4] → Y [1, 4], W supplied as an initializer, a sparse initializer or a Constant node. */
function matmulModel(w: { initializer?: onnx.ITensorProto; sparse?: onnx.ISparseTensorProto; constant?: onnx.INodeProto }): ModelSpec {
  return {
    graph: graph({
      name: 'storage',
      nodes: [...(w.constant ? [w.constant] : []), node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
      inputs: [valueInfo('X', 'float32', [1, 8])],
      outputs: [valueInfo('Y', 'float32', [1, 4])],
      initializers: w.initializer ? [w.initializer] : [],
      sparseInitializers: w.sparse ? [w.sparse] : [],
    }),
  };
}

function assertKnownNumbers(fc: LayerReport): void {
  assert.equal(fc.error, null);
  assert.equal(fc.eligible, true);
  assert.deepEqual(fc.shape, [8, 4]);
  assert.equal(fc.axis, 0);
  assert.equal(fc.elements, 32);
  assert.equal(fc.groups, 8);
  assert.equal(fc.validGroups, 5);
  assert.equal(fc.compliance, 5 / 8);
  assert.equal(fc.pass, false);
  assert.equal(fc.zeros, 14);
  assert.equal(fc.retainedMagnitude, 26 / 31);
  assert.deepEqual(fc.countHistogram, [1, 1, 3, 1, 2]);
}

/** The report of W stored as raw_data, the reference every other form must equal. */
async function reference(): Promise<LayerReport> {
  return layer(await inspectSpec(matmulModel({ initializer: makeTensor(weight('raw')) })), 'fc');
}

describe('every storage form of a weight gives the same report', () => {
  test('raw_data: 5 of 8 groups valid, 14 zeros, 26/31 of the magnitude kept', async () => {
    assertKnownNumbers(await reference());
  });

  test('float_data (typed field) equals raw_data', async () => {
    const fc = layer(await inspectSpec(matmulModel({ initializer: makeTensor(weight('typed')) })), 'fc');
    assertKnownNumbers(fc);
    assert.deepEqual(fc, await reference());
  });

  test('float_data written one value per tag (unpacked) equals raw_data', async () => {
    // protobufjs always packs; older exporters did not, so the tensor is encoded by hand here.
    const tensor = Writer.create();
    tensor.uint32((1 << 3) | 2).fork();
    for (const d of W_DIMS) tensor.int64(d);
    tensor.ldelim(); // dims, packed
    tensor.uint32((2 << 3) | 0).int32(1); // data_type FLOAT
    for (const v of W_VALUES) tensor.uint32((4 << 3) | 5).float(v); // float_data, one fixed32 per tag
    tensor.uint32((8 << 3) | 2).string('W');
    const bytes = withEncodedInitializer(matmulModel({}), tensor.finish());
    const fc = layer(await inspectSource(new MemorySource('model.onnx', bytes)), 'fc');
    assertKnownNumbers(fc);
    assert.deepEqual(fc, await reference());
  });

  test('external data in a file next to the model equals raw_data', async () => {
    const sink = new ExternalSink();
    const path = writeTempModel(matmulModel({ initializer: makeTensor(weight({ external: 'W.bin' }), sink) }), sink);
    const fc = layer(await inspectFile(path), 'fc');
    assertKnownNumbers(fc);
    assert.deepEqual(fc, await reference());
  });

  test('external data in a subfolder equals raw_data', async () => {
    const sink = new ExternalSink();
    const path = writeTempModel(matmulModel({ initializer: makeTensor(weight({ external: 'weights/layer0/W.bin' }), sink) }), sink);
    const fc = layer(await inspectFile(path), 'fc');
    assertKnownNumbers(fc);
    assert.deepEqual(fc, await reference());
  });

  test('external data without a length key reads the bytes its dims need', async () => {
    const sink = new ExternalSink();
    const tensor = makeTensor(weight({ external: 'W.bin' }), sink);
    tensor.externalData = tensor.externalData!.filter((e) => e.key !== 'length');
    const path = writeTempModel(matmulModel({ initializer: tensor }), sink);
    assert.deepEqual(layer(await inspectFile(path), 'fc'), await reference());
  });

  test('external data at a non-zero offset, after another tensor in the same file, equals raw_data', async () => {
    const sink = new ExternalSink();
    const padding = makeTensor({ name: 'unused', dtype: 'float32', dims: [3], values: [7, 7, 7], storage: { external: 'all.bin' } }, sink);
    const tensor = makeTensor(weight({ external: 'all.bin' }), sink);
    assert.equal(tensor.externalData!.find((e) => e.key === 'offset')!.value, '64'); // ExternalSink aligns to 64
    const spec = matmulModel({ initializer: tensor });
    spec.graph.initializer!.push(padding);
    const path = writeTempModel(spec, sink);
    assert.deepEqual(layer(await inspectFile(path), 'fc'), await reference());
  });

  test("a Constant node's value attribute equals an initializer", async () => {
    const fc = layer(await inspectSpec(matmulModel({ constant: constantNode('W', makeTensor(weight('raw')), 'W_const') })), 'fc');
    assertKnownNumbers(fc);
    assert.deepEqual(fc, await reference());
  });

  test("a Constant node holding typed float_data equals an initializer", async () => {
    const fc = layer(await inspectSpec(matmulModel({ constant: constantNode('W', makeTensor(weight('typed'))) })), 'fc');
    assert.deepEqual(fc, await reference());
  });

  test("a Constant node whose value lives in an external file equals an initializer", async () => {
    const sink = new ExternalSink();
    const path = writeTempModel(matmulModel({ constant: constantNode('W', makeTensor(weight({ external: 'const.bin' }), sink)) }), sink);
    assert.deepEqual(layer(await inspectFile(path), 'fc'), await reference());
  });

  test('a sparse_initializer with linear indices equals raw_data', async () => {
    const sparse = sparseTensor({ name: 'W', dtype: 'float32', dims: W_DIMS, values: W_VALUES, indexForm: 'linear' });
    assert.deepEqual(sparse.indices!.dims, [18]); // the 32 - 14 non-zeros
    const fc = layer(await inspectSpec(matmulModel({ sparse })), 'fc');
    assertKnownNumbers(fc);
    assert.deepEqual(fc, await reference());
  });

  test('a sparse_initializer with coordinate indices equals raw_data', async () => {
    const sparse = sparseTensor({ name: 'W', dtype: 'float32', dims: W_DIMS, values: W_VALUES, indexForm: 'coordinate' });
    assert.deepEqual(sparse.indices!.dims, [18, 2]);
    const fc = layer(await inspectSpec(matmulModel({ sparse })), 'fc');
    assertKnownNumbers(fc);
    assert.deepEqual(fc, await reference());
  });

  test("a Constant node's sparse_value attribute equals raw_data", async () => {
    const sparse = sparseTensor({ name: 'W', dtype: 'float32', dims: W_DIMS, values: W_VALUES });
    const constant = node('Constant', [], ['W'], { sparse_value: { sparse } }, { name: 'W_const' });
    const fc = layer(await inspectSpec(matmulModel({ constant })), 'fc');
    assert.deepEqual(fc, await reference());
  });

  test('a sparse_initializer with unsorted indices densifies to the same weight', async () => {
    const sparse = sparseTensor({ name: 'W', dtype: 'float32', dims: W_DIMS, values: W_VALUES });
    // Reverse both the kept values and their indices: same pairs, different order.
    const values = onnx.TensorProto.decode(onnx.TensorProto.encode(sparse.values!).finish());
    const floats = new Float32Array(new Uint8Array(values.rawData).buffer).reverse();
    sparse.values = { ...sparse.values, rawData: new Uint8Array(floats.buffer) };
    const indices = onnx.TensorProto.decode(onnx.TensorProto.encode(sparse.indices!).finish());
    const positions = new BigInt64Array(new Uint8Array(indices.rawData).buffer).reverse();
    sparse.indices = { ...sparse.indices, rawData: new Uint8Array(positions.buffer) };
    assert.deepEqual(layer(await inspectSpec(matmulModel({ sparse })), 'fc'), await reference());
  });

  test('a Conv weight gives the same report from raw_data, float_data and an external file', async () => {
    // Conv W [OC=2, IC=4, 1, 2]: K = IC (axis 1); groups at each (oc, kernel position): 2 x 2 = 4 groups.
    //   oc 0, kw 0: [1 0 0 1] valid;  oc 0, kw 1: [0 0 0 0] valid
    //   oc 1, kw 0: [1 2 3 0] invalid (keeps 5 of 6);  oc 1, kw 1: [0 -2 0 0] valid
    // Stored [oc][ic][kw]: element (oc, ic, kw) at oc*8 + ic*2 + kw.
    const values = [1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 2, -2, 3, 0, 0, 0];
    const conv = (w: onnx.ITensorProto): ModelSpec => ({
      graph: graph({
        name: 'conv',
        nodes: [node('Conv', ['X', 'W'], ['Y'], { kernel_shape: [1, 2] }, { name: 'conv' })],
        inputs: [valueInfo('X', 'float32', [1, 4, 3, 3])],
        outputs: [valueInfo('Y', 'float32', [1, 2, 3, 2])],
        initializers: [w],
      }),
    });
    const spec = (storage: TensorSpec['storage']): TensorSpec => ({ name: 'W', dtype: 'float32', dims: [2, 4, 1, 2], values, storage });
    const raw = layer(await inspectSpec(conv(makeTensor(spec('raw')))), 'conv');
    assert.equal(raw.axis, 1);
    assert.equal(raw.groups, 4);
    assert.equal(raw.validGroups, 3);
    assert.equal(raw.zeros, 10);
    assert.equal(raw.retainedMagnitude, 9 / 10);
    assert.deepEqual(layer(await inspectSpec(conv(makeTensor(spec('typed')))), 'conv'), raw);
    const sink = new ExternalSink();
    const path = writeTempModel(conv(makeTensor(spec({ external: 'conv.bin' }), sink)), sink);
    assert.deepEqual(layer(await inspectFile(path), 'conv'), raw);
  });
});

describe('openTensor returns the same canonical bytes for every storage form', () => {
  const expected = new Uint8Array(new Float32Array(W_VALUES).buffer);

  function bytesOf(spec: ModelSpec, find: (g: ReturnType<typeof readSkeleton>['graph']) => Parameters<typeof openTensor>[1]): Uint8Array {
    const src = new MemorySource('model.onnx', encodeModel(spec));
    const skeleton = readSkeleton(src);
    const externals = new ExternalFiles(src.path);
    const reader = openTensor(src, find(skeleton.graph), externals);
    assert.equal(reader.count, 32);
    return reader.read(0, reader.count).bytes.slice();
  }

  test('raw_data, float_data, a Constant node and both sparse index forms', () => {
    assert.deepEqual(bytesOf(matmulModel({ initializer: makeTensor(weight('raw')) }), (g) => g.initializers[0]), expected);
    assert.deepEqual(bytesOf(matmulModel({ initializer: makeTensor(weight('typed')) }), (g) => g.initializers[0]), expected);
    assert.deepEqual(
      bytesOf(matmulModel({ constant: constantNode('W', makeTensor(weight('raw'))) }), (g) => g.nodes[0].attributes.get('value')!.t!),
      expected,
    );
    for (const indexForm of ['linear', 'coordinate'] as const) {
      const sparse = sparseTensor({ name: 'W', dtype: 'float32', dims: W_DIMS, values: W_VALUES, indexForm });
      assert.deepEqual(bytesOf(matmulModel({ sparse }), (g) => g.sparseInitializers[0]), expected);
    }
  });

  test('a read of a middle run returns just those elements', () => {
    const src = new MemorySource('model.onnx', encodeModel(matmulModel({ initializer: makeTensor(weight('raw')) })));
    const reader = openTensor(src, readSkeleton(src).graph.initializers[0], new ExternalFiles(src.path));
    const run = reader.read(16, 4); // row 4: [0, -4, 0, 1]
    assert.deepEqual([...new Float32Array(run.bytes.slice().buffer)], [0, -4, 0, 1]);
    assert.equal(run.nibble, 0);
  });
});
