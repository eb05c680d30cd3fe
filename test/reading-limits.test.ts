// Reading a model never hangs, never reads outside its folder and never lets a small file cost unbounded work:
// special files, a race on external data, length prefixes past 2^32, typed values wider than their type, external
// offsets as ONNX parses them, and caps on names and expanded structure (issue 11, items 5, 6, 10, 13).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { CancelledError, ModelError } from '../src/engine/errors';
import { FileSource, MemorySource } from '../src/engine/onnx/source';
import { readSkeleton, readTensor } from '../src/engine/onnx/skeleton';
import { ExternalFiles, TensorError, checkOpenedExternal, openTensor } from '../src/engine/onnx/tensorData';
import { inspectModel, inspectSource } from '../src/engine/sparsity/inspect';
import { findLayers } from '../src/engine/sparsity/layers';
import { ExternalSink, type ModelSpec, encodeModel, graph, makeTensor, node, valueInfo } from './support/builder';
import { inspectFile, layer, tempDir } from './support/models';

// The bundled CLI, run as users run it.
const CLI = join(__dirname, '..', 'cli.js');

const W_VALUES = [1, 3, 0.5, 2, 0, 1, 0.5, 0, 2, 0, 0.5, 0, 0, 2, 0.5, 2, 0, -4, 0, 1, 0, 0, -1, 2, 0, 0, 0, 3, 0, 0, 1, 4];
const W_BYTES = new Uint8Array(new Float32Array(W_VALUES).buffer);

/** One layer 'ext' reading W [8, 4] float32 from external data at `location`, with `entries` replacing its external_data. */
function externalModel(location: string, entries?: Record<string, string>): ModelSpec {
  const w = makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: W_VALUES, storage: { external: location } }, new ExternalSink());
  if (entries) w.externalData = Object.entries(entries).map(([key, value]) => ({ key, value }));
  return {
    graph: graph({
      name: 'g',
      nodes: [node('MatMul', ['Z', 'W'], ['Y'], {}, { name: 'ext' })],
      inputs: [valueInfo('Z', 'float32', [1, 8])],
      outputs: [valueInfo('Y', 'float32', [1, 4])],
      initializers: [w],
    }),
  };
}

function writeModelFile(dir: string, spec: ModelSpec, files: Record<string, Uint8Array> = {}): string {
  const path = join(dir, 'model.onnx');
  writeFileSync(path, encodeModel(spec));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return path;
}

function mkfifo(path: string): void {
  const made = spawnSync('mkfifo', [path]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
}

describe('special files are refused at once, by name', () => {
  test('a FIFO given as the model is refused without waiting for a writer (CLI: exit 2)', () => {
    const path = join(tempDir(), 'model.onnx');
    mkfifo(path);
    // In a child process: before the fix the open blocked this thread for good, which no test timeout interrupts.
    const run = spawnSync(process.execPath, [CLI, 'inspect', path], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.signal, null, 'the CLI hung on the FIFO and was killed');
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /model\.onnx: cannot open: it is not a regular file \(a FIFO\)\n$/);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
  });

  test('a FIFO given as the model is a ModelError naming the file from inspectModel too', async () => {
    const path = join(tempDir(), 'model.onnx');
    mkfifo(path);
    // FileSource opens before any await: a blocking open would hang here rather than fail the assertion.
    await assert.rejects(inspectModel(path, { workers: 0 }), (err: unknown) => {
      assert.ok(err instanceof ModelError, String(err));
      assert.equal(err.file, path);
      assert.match(err.message, /is not a regular file \(a FIFO\)/);
      return true;
    });
  });

  test('a character device given as the model is refused, not read without end', () => {
    assert.throws(() => new FileSource('/dev/zero'), /\/dev\/zero is not a regular file \(a character device\)/);
  });

  test('a FIFO as the external data location fails its layer saying it is a FIFO', async () => {
    const dir = tempDir();
    mkfifo(join(dir, 'W.bin'));
    const path = writeModelFile(dir, externalModel('W.bin'));
    assert.equal(layer(await inspectFile(path), 'ext').error, "external data location 'W.bin' is not a regular file (a FIFO)");
  });

  test("location '.' is the model's own folder, not a file (not a link leading outside)", async () => {
    for (const location of ['.', './', './.']) {
      const path = writeModelFile(tempDir(), externalModel(location));
      assert.equal(layer(await inspectFile(path), 'ext').error, `external data location '${location}' is the model's own folder, not a file`);
    }
  });

  test('a subfolder as the location is a folder, not a regular file', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    const path = writeModelFile(dir, externalModel('sub'));
    assert.equal(layer(await inspectFile(path), 'ext').error, "external data location 'sub' is a folder, not a regular file");
  });
});

describe('external data is checked after it is opened', () => {
  test('a file whose path now leads inside the folder but which is not the file that was opened is refused', () => {
    const dir = tempDir();
    const outside = tempDir('sparsity-lens-outside-');
    writeFileSync(join(dir, 'W.bin'), W_BYTES);
    writeFileSync(join(outside, 'W.bin'), W_BYTES);
    const model = join(dir, 'model.onnx');
    const identity = (path: string) => {
      const stat = statSync(path, { bigint: true });
      return { dev: stat.dev, ino: stat.ino };
    };
    const changed = (err: unknown) =>
      err instanceof TensorError && err.message === "external data location 'W.bin' changed while it was being opened (a file, folder or link was replaced); refused";
    // What a swap around the open leaves: the descriptor holds the outside file while the path leads inside.
    // Where the system cannot say where an open file lies: the path resolved again is not the opened file.
    assert.throws(() => checkOpenedExternal(model, 'W.bin', { identity: identity(join(outside, 'W.bin')), openedPath: undefined }), changed);
    // Where it can (Linux): the open file's own path is outside, whatever the location leads to now.
    const outsideReal = realpathSync(join(outside, 'W.bin'));
    assert.throws(() => checkOpenedExternal(model, 'W.bin', { identity: identity(outsideReal), openedPath: outsideReal }), changed);
    // The file that is inside passes both ways.
    const insideReal = realpathSync(join(dir, 'W.bin'));
    assert.equal(checkOpenedExternal(model, 'W.bin', { identity: identity(insideReal), openedPath: undefined }), insideReal);
    assert.equal(checkOpenedExternal(model, 'W.bin', { identity: identity(insideReal), openedPath: insideReal }), insideReal);
  });

  test('a folder swapped for a link to outside, again and again while the data is opened, never yields the outside file', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const outside = tempDir('sparsity-lens-outside-');
    mkdirSync(join(dir, 'inner'));
    const insideBytes = new Uint8Array([1, 1, 1, 1]);
    writeFileSync(join(dir, 'inner', 'W.bin'), insideBytes);
    writeFileSync(join(outside, 'W.bin'), new Uint8Array([9, 9, 9, 9]));
    const model = join(dir, 'model.onnx');
    writeFileSync(model, new Uint8Array(0));
    const swapper = startSwapper(dir, outside);
    try {
      await waitForFirstSwap(dir);
      let outsideReads = 0;
      let insideReads = 0;
      let refused = 0;
      const otherErrors = new Set<string>();
      const deadline = Date.now() + 2500;
      while (Date.now() < deadline && outsideReads === 0) {
        const files = new ExternalFiles(model);
        try {
          const first = files.get('inner/W.bin').view(0, 4)[0];
          if (first === 9) outsideReads++;
          else insideReads++;
        } catch (err) {
          if (err instanceof TensorError) refused++;
          else otherErrors.add(String(err).replace(/'.*'/, 'PATH'));
        } finally {
          files.close();
        }
      }
      assert.equal(outsideReads, 0, `read the outside file (${insideReads} inside reads, ${refused} refusals)`);
      assert.deepEqual([...otherErrors], []);
      assert.ok(insideReads + refused > 100, `${insideReads} inside reads, ${refused} refusals`);
    } finally {
      swapper.kill('SIGKILL');
    }
  });
});

/**
 * A process that keeps replacing the folder `dir/inner` by a link to `outside` and back (two renames each way: a
 * folder cannot be renamed over a link), as the probe did.
 */
function startSwapper(dir: string, outside: string): ChildProcess {
  const code = `
    const { renameSync, symlinkSync } = require('node:fs');
    const [dir, outside] = process.argv.slice(1);
    const inner = dir + '/inner', kept = dir + '/inner.kept', link = dir + '/inner.link';
    symlinkSync(outside, link);
    for (;;) {
      renameSync(inner, kept); renameSync(link, inner);
      renameSync(inner, link); renameSync(kept, inner);
    }`;
  const child = spawn(process.execPath, ['-e', code, dir, outside], { stdio: 'ignore' });
  after(() => child.kill('SIGKILL'));
  return child;
}

async function waitForFirstSwap(dir: string): Promise<void> {
  const link = join(dir, 'inner.link');
  for (let i = 0; i < 200; i++) {
    try {
      lstatSync(link);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  throw new Error('the swapper did not start');
}

/** A small valid model: one MatMul 'mm' with an inline float32 weight W [8, 4]. */
function inlineModel(): Uint8Array {
  return encodeModel({
    graph: graph({
      name: 'g',
      nodes: [node('MatMul', ['Z', 'W'], ['Y'], {}, { name: 'mm' })],
      inputs: [valueInfo('Z', 'float32', [1, 8])],
      outputs: [valueInfo('Y', 'float32', [1, 4])],
      initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: W_VALUES })],
    }),
  });
}

function concatBytes(...parts: (Uint8Array | number[])[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

describe('varints are read whole: lengths and tags of 2^32 and more do not wrap', () => {
  const readError = async (bytes: Uint8Array) => {
    try {
      await inspectSource(new MemorySource('wide.onnx', bytes), { workers: 0 });
    } catch (err) {
      assert.ok(err instanceof ModelError, String(err));
      return err.message;
    }
    return 'read without error';
  };

  test('a length prefix of 2^32 + 3 over 3 bytes is past the end of the message, not a length of 3', async () => {
    // producer_name (field 2, LEN) whose 5-byte length varint is 2^32 + 3, then 3 bytes: uint32() read it as 3.
    const bytes = concatBytes(inlineModel(), [0x12, 0x83, 0x80, 0x80, 0x80, 0x10], [0x61, 0x62, 0x63]);
    assert.match(await readError(bytes), /field 2 at byte \d+ claims 4294967299 bytes, past the end of its message/);
  });

  test('a length prefix beyond 2^53 is refused as such', async () => {
    const bytes = concatBytes(inlineModel(), [0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x61]);
    assert.match(await readError(bytes), /field 2 at byte \d+ claims a length beyond 2\^53 bytes/);
  });

  test('a tag of more than 32 bits is malformed, not the field its low bits name', async () => {
    // 2^32 + 0x12: the low 32 bits are field 2 (LEN).
    const bytes = concatBytes(inlineModel(), [0x92, 0x80, 0x80, 0x80, 0x10, 0x03], [0x61, 0x62, 0x63]);
    assert.match(await readError(bytes), /invalid tag of more than 32 bits at byte \d+/);
  });

  test('a raw_data length of 2^32 + 128 fails its tensor\'s layer, not read as 128 bytes', async () => {
    const model = onnx.ModelProto.decode(inlineModel());
    const tensor = onnx.TensorProto.encode(model.graph!.initializer![0]).finish();
    // Re-encode W with its raw_data (field 9) length prefix widened by 2^32: [0x4a, len...].
    const at = tensor.indexOf(0x4a, tensor.length - 128 - 3);
    assert.deepEqual([...tensor.subarray(at, at + 3)], [0x4a, 0x80, 0x01]);
    const widened = concatBytes(tensor.subarray(0, at), [0x4a, 0x80, 0x81, 0x80, 0x80, 0x10], tensor.subarray(at + 3));
    const graphBytes = onnx.GraphProto.encode({ ...model.graph!, initializer: [] }).finish();
    const graphField = concatBytes(graphBytes, [0x2a], varint(widened.length), widened);
    const bytes = concatBytes(onnx.ModelProto.encode({ ...model, graph: null }).finish(), [0x3a], varint(graphField.length), graphField);
    const report = await inspectSource(new MemorySource('wide.onnx', bytes), { workers: 0 });
    assert.match(layer(report, 'mm').error ?? '', /^field 9 at byte \d+ claims 4294967424 bytes, past the end of its message$/);
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A MatMul 'mm' whose weight W [8, 4] of `dtype` is stored in int32_data, the first value replaced by `first`. */
function typedWeightModel(dtype: 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int4', first: number): Uint8Array {
  const values = dtype === 'int4' ? new Array(32).fill(1) : W_VALUES.map((v) => (dtype === 'int8' || dtype === 'uint8' ? Math.abs(Math.round(v)) : v));
  const w = makeTensor({ name: 'W', dtype, dims: [8, 4], values, storage: 'typed' });
  w.int32Data = [first, ...w.int32Data!.slice(1)];
  return encodeModel({
    graph: graph({
      name: 'g',
      nodes: [node('MatMul', ['Z', 'W'], ['Y'], {}, { name: 'mm' })],
      inputs: [valueInfo('Z', dtype, [1, 8])],
      outputs: [valueInfo('Y', dtype, [1, 4])],
      initializers: [w],
    }),
  });
}

describe('typed values that do not fit their type are errors, not masked to their low bits', () => {
  const mmError = async (bytes: Uint8Array) => layer(await inspectSource(new MemorySource('typed.onnx', bytes), { workers: 0 }), 'mm').error;

  test('a float16 bit pattern above 16 bits in int32_data fails its layer', async () => {
    // 0x13c00: masked to 16 bits it is 0x3c00, the float16 1.0.
    assert.equal(await mmError(typedWeightModel('float16', 0x13c00)), 'int32_data value 80896 does not fit float16 (0 to 65535)');
    assert.equal(await mmError(typedWeightModel('bfloat16', -1)), 'int32_data value -1 does not fit bfloat16 (0 to 65535)');
  });

  test('8-bit and 4-bit values outside their range fail their layer', async () => {
    assert.equal(await mmError(typedWeightModel('int8', 200)), 'int32_data value 200 does not fit int8 (-128 to 127)');
    assert.equal(await mmError(typedWeightModel('uint8', 256)), 'int32_data value 256 does not fit uint8 (0 to 255)');
    assert.equal(await mmError(typedWeightModel('int4', 0x111)), 'int32_data value 273 does not fit int4 (one packed byte: 0 to 255)');
  });

  test('values that fit are read as before', async () => {
    assert.equal(await mmError(typedWeightModel('float16', 0x3c00)), null);
    assert.equal(await mmError(typedWeightModel('int8', -128)), null);
  });

  test('an int64_data value beyond 2^53 is read exactly', () => {
    // TensorProto { dims: [2], data_type: INT64, int64_data: [2^63 - 1, -2] (packed), name: 'big' }
    const max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    const minusTwo = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const bytes = concatBytes([0x08, 0x02, 0x10, 0x07, 0x3a, max.length + minusTwo.length], max, minusTwo, [0x42, 0x03], [...Buffer.from('big')]);
    const src = new MemorySource('t.onnx', bytes);
    const reader = openTensor(src, readTensor(src, 0, bytes.length, 0), new ExternalFiles('t.onnx'));
    const read = reader.read(0, 2).bytes;
    const view = new DataView(read.buffer, read.byteOffset, read.byteLength);
    assert.deepEqual([view.getBigInt64(0, true), view.getBigInt64(8, true)], [2n ** 63n - 1n, -2n]);
  });
});

describe("external offsets and lengths are read as ONNX's loader reads them (Python's int())", () => {
  const atOffset = (offset: number) => concatBytes(new Uint8Array(offset), W_BYTES);

  test("'+8192', ' 8_192\\n', '\\x1c8192' and '0_8192' are offset 8192; '-0' and '' are offset 0", async () => {
    const cases: [string, number][] = [['+8192', 8192], [' 8_192\n', 8192], ['\x1c8192', 8192], ['0_8192', 8192], ['-0', 0], ['', 0]];
    for (const [offset, at] of cases) {
      const path = writeModelFile(tempDir(), externalModel('W.bin', { location: 'W.bin', offset, length: '128' }), { 'W.bin': atOffset(at) });
      const ext = layer(await inspectFile(path), 'ext');
      assert.equal(ext.error, null, JSON.stringify(offset));
      assert.deepEqual([ext.groups, ext.validGroups, ext.zeros], [8, 5, 14], JSON.stringify(offset));
    }
  });

  test('an empty length is no length (the rest of the tensor\'s bytes)', async () => {
    const path = writeModelFile(tempDir(), externalModel('W.bin', { location: 'W.bin', offset: '64', length: '' }), { 'W.bin': atOffset(64) });
    assert.equal(layer(await inspectFile(path), 'ext').error, null);
  });

  test("what int() refuses is refused: '8__192', '_8192', '8192_', '1e3', '-64', '\\ufeff8192', '+-8'", async () => {
    for (const offset of ['8__192', '_8192', '8192_', '1e3', '-64', '\ufeff8192', '+-8']) {
      const path = writeModelFile(tempDir(), externalModel('W.bin', { location: 'W.bin', offset }), { 'W.bin': atOffset(8192) });
      assert.equal(layer(await inspectFile(path), 'ext').error, `external data offset '${offset}' is not a non-negative integer`);
    }
  });
});

describe('a tensor whose data_location is EXTERNAL says so, whatever else is wrong with it', () => {
  const tensorOf = (w: onnx.ITensorProto) => {
    const bytes = onnx.TensorProto.encode(w).finish();
    return readTensor(new MemorySource('t.onnx', bytes), 0, bytes.length, 0);
  };
  const external = () => externalModel('W.bin').graph.initializer![0];

  test('usable entries: external data, declared external', () => {
    const t = tensorOf(external());
    assert.equal(t.data.kind, 'external');
    assert.equal(t.declaredExternal, true);
  });

  test('an unusable offset: no data, a problem, and still declared external', () => {
    const w = external();
    w.externalData = [{ key: 'location', value: 'W.bin' }, { key: 'offset', value: '8 192' }];
    const t = tensorOf(w);
    assert.deepEqual([t.data.kind, t.problem, t.declaredExternal], ['none', "external data offset '8 192' is not a non-negative integer", true]);
  });

  test('a malformed field before data_location (a segment): the walk breaks off, the declaration is still found', () => {
    const w = external();
    w.segment = { begin: 0, end: 32 };
    const t = tensorOf(w);
    assert.deepEqual([t.name, t.data.kind, t.problem, t.declaredExternal], ['W', 'none', 'segmented tensors are not supported', true]);
  });

  test('an inline tensor is not declared external', () => {
    const inline = tensorOf(makeTensor({ name: 'G', dtype: 'float32', dims: [2], values: [1, 2] }));
    assert.equal(inline.declaredExternal, false);
  });
});

/** `model` with `extra` appended to its graph's bytes (more fields of GraphProto), re-wrapped as a ModelProto. */
function withGraphBytes(model: Uint8Array, extra: Uint8Array): Uint8Array {
  const decoded = onnx.ModelProto.decode(model);
  const graphBytes = concatBytes(onnx.GraphProto.encode(decoded.graph!).finish(), extra);
  return concatBytes(onnx.ModelProto.encode({ ...decoded, graph: null }).finish(), [0x3a], varint(graphBytes.length), graphBytes);
}

/** Main calls F0 `calls` times; each F<i> holds `width` MatMul layers and calls F<i+1> `calls` times, `levels` deep. */
function callTree(levels: number, calls: number, width: number): Uint8Array {
  const weight = makeTensor({ name: 'w', dtype: 'float32', dims: [8, 8], values: new Float32Array(64).fill(1) });
  const functions = Array.from({ length: levels }, (_, i) => ({
    name: `F${i}`,
    domain: 'custom',
    input: ['a'],
    output: ['b'],
    opsetImport: [{ domain: '', version: 17 }],
    node: [
      node('Constant', [], ['w'], { value: weight }),
      ...Array.from({ length: width }, (_, k) => node('MatMul', ['a', 'w'], [k ? `b${k}` : 'b'], undefined, { name: `mm${k}` })),
      ...(i + 1 < levels ? Array.from({ length: calls }, (_, j) => node(`F${i + 1}`, ['b'], [`out${j}`], undefined, { name: `call${j}`, domain: 'custom' })) : []),
    ],
  }));
  const main = graph({
    name: 'g',
    nodes: Array.from({ length: calls }, (_, j) => node('F0', ['x'], [`y${j}`], undefined, { name: `top${j}`, domain: 'custom' })),
    inputs: [valueInfo('x', 'float32', [1, 8])],
    outputs: [valueInfo('y0', 'float32', [1, 8])],
  });
  return encodeModel({ graph: main, functions, extraOpsets: [{ domain: 'custom', version: 1 }] });
}

function findIn(bytes: Uint8Array, signal?: { aborted: boolean }) {
  const src = new MemorySource('limits.onnx', bytes);
  return findLayers({ model: readSkeleton(src), src, externals: new ExternalFiles('limits.onnx'), signal });
}

function assertRefused(run: () => unknown, problem: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof ModelError, String(err));
    assert.equal(err.file, 'limits.onnx');
    assert.match(err.problem, problem);
    return true;
  });
}

describe('reading the structure is bounded: caps with a ModelError naming the file, and cancel', () => {
  test('nested function calls that would expand past 2^20 nodes are refused (before: a million layers from 40 KB)', { timeout: 120_000 }, () => {
    // 8 top calls, 5 levels of 8 calls: 4,096 call sites (the call-site budget) of bodies with 260 layers each.
    const bytes = callTree(5, 8, 260);
    assert.ok(bytes.length < 50_000, `${bytes.length} bytes`);
    assertRefused(() => findIn(bytes), /^its function calls expand to more than 1048576 nodes beyond the file's own/);
  });

  test('function calls nested more than 16 deep are refused, not silently cut', () => {
    assertRefused(() => findIn(callTree(18, 1, 1)), /^functions call each other more than 16 levels deep \(at 'main\/top0:custom\.F0\/call0:custom\.F1\/.*'\)/);
    assert.equal(findIn(callTree(16, 1, 1)).length, 16);
  });

  test('more than 2^21 items of structure (2 bytes each: empty value infos) are refused', { timeout: 120_000 }, () => {
    const bytes = withGraphBytes(inlineModel(), new Uint8Array(2 * ((1 << 21) + 10)).fill(0x6a).map((b, i) => (i % 2 ? 0 : b)));
    assertRefused(() => readSkeleton(new MemorySource('limits.onnx', bytes)), /^more than 2097152 nodes, graphs, attributes, tensors and value infos/);
  });

  test('subgraph paths built from long names nested deep are refused past 2^27 characters', { timeout: 120_000 }, () => {
    // 64 nested If nodes, each named with 64 KiB: every path repeats the names above it (134 million characters).
    let inner = graph({ name: 'leaf', nodes: [], inputs: [], outputs: [] });
    for (let level = 0; level < 63; level++) {
      const label = String(level % 10).repeat(1 << 16);
      inner = graph({ name: 'g', nodes: [node('If', ['c'], ['o'], { then_branch: { graph: inner } }, { name: label })], inputs: [], outputs: [] });
    }
    const bytes = encodeModel({ graph: graph({ name: 'main', nodes: [node('If', ['c'], ['o'], { then_branch: { graph: inner } }, { name: 'x'.repeat(1 << 16) })], inputs: [], outputs: [] }) });
    assertRefused(() => readSkeleton(new MemorySource('limits.onnx', bytes)), /^subgraph paths add up to more than 134217728 characters/);
  });

  test('a tensor name of 100 KB is a stand-in, not copied into the report; its layer fails saying why', async () => {
    const long = 'w'.repeat(100_000);
    const spec = externalModel('W.bin');
    const w = makeTensor({ name: long, dtype: 'float32', dims: [8, 4], values: W_VALUES });
    const bytes = encodeModel({ graph: { ...spec.graph, node: [node('MatMul', ['Z', long], ['Y'], {}, { name: 'ext' })], initializer: [w] } });
    const report = await inspectSource(new MemorySource('limits.onnx', bytes), { workers: 0 });
    const ext = layer(report, 'ext');
    assert.equal(ext.error, 'node input of 100000 bytes is longer than the 65536 bytes this tool reads');
    assert.match(ext.weight, /^<name of 100000 bytes, sha256 [0-9a-f]{16}>$/);
    assert.ok(JSON.stringify(report).length < 20_000, `${JSON.stringify(report).length} characters of report`);
    const src = new MemorySource('limits.onnx', bytes);
    assert.equal(readSkeleton(src).graph.initializers[0].problem, 'tensor name of 100000 bytes is longer than the 65536 bytes this tool reads');
  });

  test('an aborted signal stops reading the structure and finding the layers', () => {
    const bytes = withGraphBytes(inlineModel(), new Uint8Array(20_000).fill(0x6a).map((b, i) => (i % 2 ? 0 : b)));
    assert.throws(() => readSkeleton(new MemorySource('limits.onnx', bytes), { signal: { aborted: true } }), CancelledError);
    const src = new MemorySource('limits.onnx', callTree(1, 1, 10_000));
    const model = readSkeleton(src);
    assert.throws(() => findLayers({ model, src, externals: new ExternalFiles('limits.onnx'), signal: { aborted: true } }), CancelledError);
  });

  test('100,000 MatMuls sharing one weight: the layers are found in a few seconds (a bound, not a benchmark)', { timeout: 30_000 }, (t) => {
    const w = makeTensor({ name: 'W', dtype: 'float32', dims: [8, 8], values: new Float32Array(64).fill(1) });
    const nodes = Array.from({ length: 100_000 }, (_, i) => node('MatMul', [i ? `h${i - 1}` : 'x', 'W'], [`h${i}`], undefined, { name: `mm${i}` }));
    const bytes = encodeModel({ graph: graph({ name: 'g', nodes, inputs: [valueInfo('x', 'float32', [1, 8])], outputs: [valueInfo('h99999', 'float32', [1, 8])], initializers: [w] }) });
    const started = performance.now();
    const layers = findIn(bytes);
    t.diagnostic(`skeleton and layers of 100,000 nodes: ${Math.round(performance.now() - started)} ms`);
    assert.equal(layers.length, 100_000);
    assert.equal(new Set(layers.map((l) => l.tensor)).size, 1);
  });
});
