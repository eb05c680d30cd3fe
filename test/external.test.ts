// External data is read only from inside the model's folder, and only where it fits (domain.md §7:
// CVE-2022-25882, CVE-2024-27318, CVE-2026-27489). A bad location fails its own layer, never the report.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import {
  ExternalSink,
  type ModelSpec,
  constantNode,
  encodeModel,
  graph,
  makeTensor,
  node,
  seededRandom,
  valueInfo,
} from './support/builder';
import { type InspectReport, inspectModel } from '../src/engine/sparsity/inspect';
import { ShapeInfo } from '../src/engine/sparsity/kernel';
import { defaultWorkerScript } from '../src/engine/sparsity/pool';
import { splitParts } from '../src/engine/sparsity/scan';
import { inspectFile, layer, tempDir } from './support/models';

// The external weight W [8, 4] of layer 'ext' (K = axis 0): 5 of 8 groups valid, 14 zeros, 26/31 kept.
const W_VALUES = [1, 3, 0.5, 2, 0, 1, 0.5, 0, 2, 0, 0.5, 0, 0, 2, 0.5, 2, 0, -4, 0, 1, 0, 0, -1, 2, 0, 0, 0, 3, 0, 0, 1, 4];
const W_BYTES = new Uint8Array(new Float32Array(W_VALUES).buffer);

/** An external float32 W [8, 4] at `location`, with its external_data entries replaced by `entries` when given. */
function externalWeight(location: string, entries?: Record<string, string>): onnx.ITensorProto {
  const tensor = makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: W_VALUES, storage: { external: location } }, new ExternalSink());
  if (entries) tensor.externalData = Object.entries(entries).map(([key, value]) => ({ key, value }));
  return tensor;
}

/** Two layers: 'inline' reads G [4, 2] from raw_data (passes 2:4), 'ext' reads the external W. */
function twoLayers(w: onnx.ITensorProto): ModelSpec {
  return {
    graph: graph({
      name: 'external',
      nodes: [
        node('MatMul', ['X', 'G'], ['H'], {}, { name: 'inline' }),
        node('MatMul', ['Z', 'W'], ['Y'], {}, { name: 'ext' }),
      ],
      inputs: [valueInfo('X', 'float32', [1, 4]), valueInfo('Z', 'float32', [1, 8])],
      outputs: [valueInfo('H', 'float32', [1, 2]), valueInfo('Y', 'float32', [1, 4])],
      initializers: [makeTensor({ name: 'G', dtype: 'float32', dims: [4, 2], values: [1, 0, 0, 2, 3, 0, 0, 4] }), w],
    }),
  };
}

/** Writes model.onnx into `dir` by hand (writeModel refuses unsafe locations on purpose); returns its path. */
function writeRaw(dir: string, spec: ModelSpec, files: Record<string, Uint8Array> = {}): string {
  const path = join(dir, 'model.onnx');
  writeFileSync(path, encodeModel(spec));
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  return path;
}

/** A folder next to the model's folder holding a perfectly valid W: reading it would give numbers, not an error. */
function outsideFolder(): string {
  const dir = tempDir('sparsity-lens-outside-');
  writeFileSync(join(dir, 'W.bin'), W_BYTES);
  return dir;
}

function assertInlineLayerFine(report: InspectReport): void {
  const inline = layer(report, 'inline');
  assert.equal(inline.error, null);
  assert.equal(inline.groups, 2);
  assert.equal(inline.validGroups, 2);
  assert.equal(inline.zeros, 4);
  assert.equal(inline.pass, true);
}

function assertExtNumbers(report: InspectReport): void {
  assertInlineLayerFine(report);
  const ext = layer(report, 'ext');
  assert.equal(ext.error, null);
  assert.equal(ext.groups, 8);
  assert.equal(ext.validGroups, 5);
  assert.equal(ext.zeros, 14);
  assert.equal(ext.retainedMagnitude, 26 / 31);
  assert.equal(report.summary.errors, 0);
}

/** Only layer 'ext' failed, with a message matching `problem`; the rest of the report stands. */
function assertOnlyExtFailed(report: InspectReport, problem: RegExp): void {
  assert.equal(report.layers.length, 2);
  assertInlineLayerFine(report);
  const ext = layer(report, 'ext');
  assert.match(ext.error ?? '', problem);
  assert.equal(ext.eligible, false);
  assert.equal(ext.groups, 0);
  assert.equal(ext.zeros, null);
  assert.equal(ext.retainedMagnitude, null);
  assert.equal(report.summary.errors, 1);
  assert.equal(report.summary.passing, 1);
}

describe('external data locations that leave the model folder are refused', () => {
  test('an absolute location fails its layer, even when the file exists and is valid', async () => {
    const outside = outsideFolder();
    const path = writeRaw(tempDir(), twoLayers(externalWeight(join(outside, 'W.bin'))));
    assertOnlyExtFailed(await inspectFile(path), /absolute path/);
  });

  test("a location with '..' fails its layer", async () => {
    const dir = join(tempDir(), 'model');
    mkdirSync(dir);
    writeFileSync(join(dir, '..', 'W.bin'), W_BYTES); // the parent folder holds a valid W
    const path = writeRaw(dir, twoLayers(externalWeight('../W.bin')));
    assertOnlyExtFailed(await inspectFile(path), /contains '\.\.'/);
  });

  test("a '..' hidden after a real subfolder fails its layer", async () => {
    const dir = join(tempDir(), 'model');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, '..', 'W.bin'), W_BYTES);
    const path = writeRaw(dir, twoLayers(externalWeight('sub/../../W.bin')));
    assertOnlyExtFailed(await inspectFile(path), /contains '\.\.'/);
  });

  test("a '..' written with Windows separators fails its layer", async () => {
    const path = writeRaw(tempDir(), twoLayers(externalWeight('..\\W.bin')));
    assertOnlyExtFailed(await inspectFile(path), /contains '\.\.'/);
  });

  test('a Windows drive path fails its layer', async () => {
    const path = writeRaw(tempDir(), twoLayers(externalWeight('C:\\weights\\W.bin')));
    assertOnlyExtFailed(await inspectFile(path), /absolute path/);
  });

  test('a symlink inside the folder pointing to a file outside fails its layer', async () => {
    const outside = outsideFolder();
    const dir = tempDir();
    symlinkSync(join(outside, 'W.bin'), join(dir, 'W.bin'));
    const path = writeRaw(dir, twoLayers(externalWeight('W.bin')));
    assertOnlyExtFailed(await inspectFile(path), /leads outside the model's folder/);
  });

  test('a relative symlink climbing out of the folder fails its layer', async () => {
    const dir = join(tempDir(), 'model');
    mkdirSync(dir);
    writeFileSync(join(dir, '..', 'W.bin'), W_BYTES);
    symlinkSync('../W.bin', join(dir, 'W.bin'));
    const path = writeRaw(dir, twoLayers(externalWeight('W.bin')));
    assertOnlyExtFailed(await inspectFile(path), /leads outside the model's folder/);
  });

  test('a linked subfolder pointing outside fails its layer', async () => {
    const outside = outsideFolder();
    const dir = tempDir();
    symlinkSync(outside, join(dir, 'data'));
    const path = writeRaw(dir, twoLayers(externalWeight('data/W.bin')));
    assertOnlyExtFailed(await inspectFile(path), /leads outside the model's folder/);
  });

  test('the same refusals hold on the worker-thread path', async () => {
    const outside = outsideFolder();
    const dir = tempDir();
    symlinkSync(join(outside, 'W.bin'), join(dir, 'W.bin'));
    const path = writeRaw(dir, twoLayers(externalWeight('W.bin')));
    assertOnlyExtFailed(await inspectModel(path, { workers: 2, inlineBelow: 0 }), /leads outside the model's folder/);
  });
});

describe('external data inside the folder is read, however it is reached', () => {
  test('a symlink inside the folder to a file inside the folder is fine', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'blobs'));
    writeFileSync(join(dir, 'blobs', 'real.bin'), W_BYTES);
    symlinkSync(join(dir, 'blobs', 'real.bin'), join(dir, 'W.bin'));
    const path = writeRaw(dir, twoLayers(externalWeight('W.bin')));
    assertExtNumbers(await inspectFile(path));
  });

  test('a relative symlink to a sibling file is fine', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'real.bin'), W_BYTES);
    symlinkSync('real.bin', join(dir, 'W.bin'));
    const path = writeRaw(dir, twoLayers(externalWeight('W.bin')));
    assertExtNumbers(await inspectFile(path));
  });

  test('a model opened through a linked folder reads the data in the folder the link leads to', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'real'));
    writeRaw(join(dir, 'real'), twoLayers(externalWeight('W.bin')), { 'W.bin': W_BYTES });
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    assertExtNumbers(await inspectFile(join(dir, 'link', 'model.onnx')));
  });

  test("a location starting with './' is inside the folder", async () => {
    const path = writeRaw(tempDir(), twoLayers(externalWeight('./data/W.bin')), { 'data/W.bin': W_BYTES });
    assertExtNumbers(await inspectFile(path));
  });
});

describe('external data that does not fit fails its layer', () => {
  test('a missing file', async () => {
    const path = writeRaw(tempDir(), twoLayers(externalWeight('missing.bin')));
    assertOnlyExtFailed(await inspectFile(path), /'missing\.bin' not found/);
  });

  test('a location that is a folder, not a file', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'W.bin'));
    const path = writeRaw(dir, twoLayers(externalWeight('W.bin')));
    assertOnlyExtFailed(await inspectFile(path), /not a regular file/);
  });

  test('offset + length past the end of the file', async () => {
    // 128 bytes wanted at offset 64 of a 160-byte file.
    const path = writeRaw(tempDir(), twoLayers(externalWeight('W.bin', { location: 'W.bin', offset: '64', length: '128' })), {
      'W.bin': new Uint8Array(160),
    });
    assertOnlyExtFailed(await inspectFile(path), /offset 64 \+ length 128 runs past the end of 'W\.bin' \(160 bytes\)/);
  });

  test('an offset past the end with no length key', async () => {
    const path = writeRaw(tempDir(), twoLayers(externalWeight('W.bin', { location: 'W.bin', offset: '4096' })), { 'W.bin': W_BYTES });
    assertOnlyExtFailed(await inspectFile(path), /runs past the end/);
  });

  test('a file one byte too short', async () => {
    const path = writeRaw(tempDir(), twoLayers(externalWeight('W.bin', { location: 'W.bin', offset: '0', length: '128' })), {
      'W.bin': W_BYTES.subarray(0, 127),
    });
    assertOnlyExtFailed(await inspectFile(path), /runs past the end/);
  });

  test('a length that does not match the dims, even when the file holds that many bytes', async () => {
    const path = writeRaw(tempDir(), twoLayers(externalWeight('W.bin', { location: 'W.bin', offset: '0', length: '64' })), { 'W.bin': W_BYTES });
    assertOnlyExtFailed(await inspectFile(path), /external data length 64 .*need 128 bytes/);
  });

  test('a negative or non-numeric offset', async () => {
    for (const offset of ['-64', 'abc', '1e3']) {
      const path = writeRaw(tempDir(), twoLayers(externalWeight('W.bin', { location: 'W.bin', offset })), { 'W.bin': W_BYTES });
      assertOnlyExtFailed(await inspectFile(path), /offset .* is not a non-negative integer/);
    }
  });

  test('external data without a location', async () => {
    const path = writeRaw(tempDir(), twoLayers(externalWeight('W.bin', { offset: '0', length: '128' })), { 'W.bin': W_BYTES });
    assertOnlyExtFailed(await inspectFile(path), /without a 'location'/);
  });
});

/** Small parts, so that the big weight below is cut into several and merged back. */
const PARTS = 1 << 20;

describe('worker threads read external data exactly as the inline scan does', () => {
  test('every layer, every number, with external data next to the model, in subfolders, split in parts and refused', async () => {
    const dir = tempDir();
    const sink = new ExternalSink();
    const rnd = seededRandom(7);
    // A uint8 weight scanned in several parts (PARTS elements each): [147456, 64], K = axis 0,
    // every group keeping at most 2 values away from the zero point 128 except where i % 1000 == 0.
    const [K, N] = [147456, 64];
    // The premises: a worker script exists (else inspect falls back to inline) and this weight is split.
    assert.ok(defaultWorkerScript(), 'dist/scan-worker.js not found: build first');
    assert.equal(splitParts(new ShapeInfo({ dims: [K, N], kAxis: 0, rAxis: 1 }, { n: 2, m: 4 }), PARTS).length, 9);
    const big = new Uint8Array(K * N);
    for (let i = 0; i < big.length; i++) {
      const k = Math.floor(i / N) % 4;
      big[i] = k < 2 || i % 1000 === 0 ? Math.floor(rnd() * 256) : 128;
    }
    const bigPlace = sink.add('shards/big.bin', big);
    const bigTensor: onnx.ITensorProto = {
      name: 'Bq',
      dataType: 2,
      dims: [K, N],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: 'shards/big.bin' },
        { key: 'offset', value: String(bigPlace.offset) },
        { key: 'length', value: String(bigPlace.length) },
      ],
    };
    const conv = makeTensor({ name: 'C', dtype: 'float16', dims: [8, 4, 3, 3], values: Array.from({ length: 288 }, (_, i) => (i % 3 === 0 ? 0 : i / 8)), storage: { external: 'weights.bin' } }, sink);
    const spec: ModelSpec = {
      graph: graph({
        name: 'workers',
        nodes: [
          constantNode('Cw', conv, 'conv_weight'),
          node('Conv', ['I', 'Cw'], ['J'], { kernel_shape: [3, 3] }, { name: 'conv' }),
          node('MatMul', ['X', 'G'], ['H'], {}, { name: 'inline' }),
          node('MatMul', ['Z', 'W'], ['Y'], {}, { name: 'ext' }),
          node('MatMul', ['Z2', 'W2'], ['Y2'], {}, { name: 'ext_sub' }),
          node('MatMul', ['Z3', 'Wbad'], ['Y3'], {}, { name: 'refused' }),
          node('DequantizeLinear', ['Bq', 'Bs', 'Bzp'], ['B'], {}, { name: 'dq' }),
          node('MatMul', ['V', 'B'], ['U'], {}, { name: 'big' }),
        ],
        inputs: ['I', 'X', 'Z', 'Z2', 'Z3', 'V'].map((n) => valueInfo(n, 'float32', ['batch', 'features'])),
        outputs: ['J', 'H', 'Y', 'Y2', 'Y3', 'U'].map((n) => valueInfo(n, 'float32', ['batch', 'out'])),
        initializers: [
          makeTensor({ name: 'G', dtype: 'float32', dims: [4, 2], values: [1, 0, 0, 2, 3, 0, 0, 4] }),
          makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: W_VALUES, storage: { external: 'weights.bin' } }, sink),
          makeTensor({ name: 'W2', dtype: 'float32', dims: [8, 4], values: W_VALUES, storage: { external: 'a/b/W2.bin' } }, sink),
          { ...externalWeight('../W.bin'), name: 'Wbad' },
          bigTensor,
          makeTensor({ name: 'Bs', dtype: 'float32', dims: [], values: [0.01] }),
          makeTensor({ name: 'Bzp', dtype: 'uint8', dims: [], values: [128] }),
        ],
      }),
    };
    const files = Object.fromEntries(sink.files());
    const path = writeRaw(dir, spec, files);

    const inline = await inspectFile(path, { workers: 0, partElements: PARTS });
    const threaded = await inspectModel(path, { workers: 2, inlineBelow: 0, partElements: PARTS });
    assert.deepEqual(threaded, inline);

    // And the inline numbers are the right ones, so the comparison is not between two wrong reports.
    assert.equal(inline.layers.length, 6);
    for (const name of ['ext', 'ext_sub']) {
      const l = layer(inline, name);
      assert.deepEqual([l.groups, l.validGroups, l.zeros, l.retainedMagnitude], [8, 5, 14, 26 / 31], name);
    }
    assert.match(layer(inline, 'refused').error ?? '', /contains '\.\.'/);
    const bigLayer = layer(inline, 'big');
    assert.equal(bigLayer.error, null);
    assert.equal(bigLayer.zeroPoint, 'per-tensor');
    assert.equal(bigLayer.groups, (K / 4) * N);
    // Groups of [random random 128 128], plus a random non-128 wherever i % 1000 == 0 hits rows 2-3.
    let zeros = 0;
    let valid = 0;
    for (let g = 0; g < K / 4; g++) {
      for (let n = 0; n < N; n++) {
        let nonZero = 0;
        for (let j = 0; j < 4; j++) if (big[(g * 4 + j) * N + n] !== 128) nonZero++;
        zeros += 4 - nonZero;
        if (nonZero <= 2) valid++;
      }
    }
    assert.equal(bigLayer.zeros, zeros);
    assert.equal(bigLayer.validGroups, valid);
    assert.ok(valid < bigLayer.groups, 'some groups must violate 2:4 for the test to mean anything');
    assert.equal(layer(inline, 'conv').error, null);
    assert.equal(layer(inline, 'conv').groups, 8 * 9);
  });
});
