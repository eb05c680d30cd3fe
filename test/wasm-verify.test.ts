// Output comparison in ONNX Runtime's WebAssembly build (issue 15): what the VS Code extension runs, since the .vsix
// ships onnxruntime-web's .wasm and not the native runtime. The same comparison as the native path: the same inputs,
// bit identity by Object.is (a -0.0 against a +0.0 is a difference), float16 read from its bits, and a model the
// runtime cannot run said as "not compared", never a crash. Models are built here; numbers are exact.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { convertModel } from '../src/engine/convert/convert';
import { type ModelRunner, type OrtModule, type RuntimeChoice, WASM_SIZE_LIMIT, endIdleWasmThread, nativeRunner, pickRunner, wasmRunner, wasmThreadsStarted } from '../src/engine/convert/runners';
import { compareOutputs } from '../src/engine/convert/runtime';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { FileSource } from '../src/engine/onnx/source';
import { formatConvert } from '../src/engine/report/convertFormat';
import { ExternalSink, type ModelSpec, graph, makeTensor, node, randomWeights, seededRandom, valueInfo, writeModel } from './support/builder';
import { cli } from './support/cli';
import { tempDir } from './support/models';

function wasm(): ModelRunner {
  const runner = wasmRunner();
  assert.ok(typeof runner !== 'string', runner as string);
  return runner;
}

function native(): ModelRunner {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return nativeRunner(require('onnxruntime-node') as OrtModule);
}

/** Y = Where(X > 2, X, C): the inputs are drawn from [-1, 1), so Y is C, bit for bit (a -0.0 included). */
function constantOutput(dtype: 'float32' | 'float16', values: number[], bits = false): ModelSpec {
  const n = values.length;
  const nodes = [node('Greater', ['X', 'two'], ['big'])];
  if (dtype === 'float16') nodes.push(node('Cast', ['X'], ['Xh'], { to: 10 }));
  nodes.push(node('Where', ['big', dtype === 'float16' ? 'Xh' : 'X', 'C'], ['Y']));
  return {
    graph: graph({
      name: 'constant',
      nodes,
      inputs: [valueInfo('X', 'float32', [1, n])],
      outputs: [valueInfo('Y', dtype, [1, n])],
      initializers: [makeTensor({ name: 'two', dtype: 'float32', dims: [], values: [2] }), makeTensor({ name: 'C', dtype, dims: [1, n], values, bits })],
    }),
  };
}

function modelFile(dir: string, name: string, spec: ModelSpec, external?: ExternalSink): string {
  const path = join(dir, name);
  writeModel(path, spec, external);
  return path;
}

async function compareWith(runner: ModelRunner, a: string, b: string) {
  const src = new FileSource(a);
  try {
    return await compareOutputs(a, b, readSkeleton(src), { runner });
  } finally {
    src.close();
  }
}

/** X[1, 64] @ W[64, 32] (+ B), W random and dense: 2:4 prunes half of it. */
function denseMatMul(external?: ExternalSink): ModelSpec {
  const rnd = seededRandom(7);
  const w = makeTensor({ name: 'W', dtype: 'float32', dims: [64, 32], values: randomWeights(64 * 32, rnd), storage: external ? { external: 'weights.bin' } : 'raw' }, external);
  return {
    graph: graph({
      name: 'mlp',
      nodes: [node('MatMul', ['X', 'W'], ['H'], {}, { name: 'fc' }), node('Relu', ['H'], ['Y'], {}, { name: 'act' })],
      inputs: [valueInfo('X', 'float32', ['batch', 64])],
      outputs: [valueInfo('Y', 'float32', ['batch', 32])],
      initializers: [w],
    }),
  };
}

describe('the WebAssembly runtime (onnxruntime-web) compares outputs', () => {
  test('the build ships its loader and .wasm next to the worker: dist/ort/', () => {
    const runner = wasm();
    assert.deepEqual(runner.engine, { kind: 'wasm', package: 'onnxruntime-web', version: '1.30.0' });
    for (const file of ['ort-worker.js', 'ort/ort-wasm-simd-threaded.mjs', 'ort/ort-wasm-simd-threaded.wasm']) assert.ok(existsSync(join(__dirname, '..', file)), file);
  });

  test('auto: the native runtime when onnxruntime-node loads, the WebAssembly one when it does not; native alone says it is missing', () => {
    const picked = (choice: RuntimeChoice, found: boolean) => {
      const runner = pickRunner(choice, () => (found ? (require('onnxruntime-node') as OrtModule) : undefined));
      return typeof runner === 'string' ? runner : runner.engine.kind;
    };
    assert.deepEqual([picked('auto', true), picked('auto', false), picked('wasm', true), picked('native', true)], ['native', 'wasm', 'wasm', 'native']);
    assert.equal(picked('native', false), 'onnxruntime-node is not installed (the WebAssembly build compares without it: --verify-runtime auto or wasm)');
  });

  test('outputs that differ are reported as differing, by exactly how much; the same pair in the native runtime says the same', async () => {
    const dir = tempDir();
    const a = modelFile(dir, 'a.onnx', constantOutput('float32', [1, 2, 0.5, 0.25]));
    const b = modelFile(dir, 'b.onnx', constantOutput('float32', [1, 2.5, 0.5, 0.25]));
    const results = [await compareWith(wasm(), a, b), await compareWith(native(), a, b)];
    for (const r of results) {
      assert.equal(r.ran, true, r.note);
      assert.deepEqual(
        r.outputs.map((o) => [o.name, o.identical, o.maxAbsDiff, o.elements, o.compared]),
        [['Y', false, 0.5, 4, 4]],
      );
    }
    assert.deepEqual(results.map((r) => r.engine?.kind), ['wasm', 'native']);
    assert.equal(results[0].outputs[0].cosine, results[1].outputs[0].cosine);
    // The same model against itself: identical in both.
    for (const r of [await compareWith(wasm(), a, a), await compareWith(native(), a, a)]) assert.deepEqual(r.outputs.map((o) => [o.identical, o.maxAbsDiff]), [[true, 0]]);
  });

  test('a -0.0 against a +0.0 is not bit-identical (max |diff| 0), as in the native runtime', async () => {
    const dir = tempDir();
    const a = modelFile(dir, 'a.onnx', constantOutput('float32', [1, -0, 3, 4]));
    const b = modelFile(dir, 'b.onnx', constantOutput('float32', [1, 0, 3, 4]));
    for (const runner of [wasm(), native()]) {
      const r = await compareWith(runner, a, b);
      assert.deepEqual(r.outputs.map((o) => [o.identical, o.maxAbsDiff, o.cosine]), [[false, 0, 1]], runner.engine.kind);
    }
  });

  test('float16 outputs are read from their bits: 0x3c00 (1) against 0x3e00 (1.5) differs by 0.5', async () => {
    const dir = tempDir();
    const a = modelFile(dir, 'a.onnx', constantOutput('float16', [0x3c00, 0x4000, 0x8000], true));
    const b = modelFile(dir, 'b.onnx', constantOutput('float16', [0x3e00, 0x4000, 0x8000], true));
    for (const runner of [wasm(), native()]) {
      assert.deepEqual((await compareWith(runner, a, b)).outputs.map((o) => [o.identical, o.maxAbsDiff]), [[false, 0.5]], runner.engine.kind);
      assert.deepEqual((await compareWith(runner, b, b)).outputs.map((o) => [o.identical, o.maxAbsDiff]), [[true, 0]], runner.engine.kind);
    }
  });

  test('compress, verified in WebAssembly: the decode graph is bit-identical to the dense pruned model, and the report says which runtime', async () => {
    const dir = tempDir();
    const input = modelFile(dir, 'mlp.onnx', denseMatMul());
    const report = await convertModel(input, { mode: 'compress', verifyRuntime: 'wasm' });
    assert.equal(report.written, true);
    assert.deepEqual(report.layers.map((l) => [l.name, l.action, l.prunedElements]), [['fc', 'compress', 1024]]);
    assert.equal(report.exact?.ran, true, report.exact?.note);
    assert.deepEqual(report.exact!.engine, { kind: 'wasm', package: 'onnxruntime-web', version: '1.30.0' });
    assert.deepEqual(report.exact!.outputs.map((o) => [o.name, o.identical, o.maxAbsDiff]), [['Y', true, 0]]);
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
    assert.equal(report.runtime!.engine?.kind, 'wasm');
    // Half of each group of 4 pruned: the outputs move, and the comparison says so.
    assert.deepEqual(report.runtime!.outputs.map((o) => [o.name, o.identical, o.elements, o.compared]), [['Y', false, 32, 32]]);
    const text = formatConvert(report);
    assert.match(text, /^decode graph: outputs bit-identical to the dense pruned model \(ONNX Runtime 1\.30\.0 WebAssembly\)$/m);
    assert.match(text, /^output 'Y' \(ONNX Runtime 1\.30\.0 WebAssembly, same inputs\): max \|diff\| \S+, cosine \S+$/m);
  });

  test('a compress verification runs its two comparisons in one WebAssembly thread (its start paid once)', async () => {
    const dir = tempDir();
    const input = modelFile(dir, 'mlp.onnx', denseMatMul());
    endIdleWasmThread();
    const before = wasmThreadsStarted();
    const report = await convertModel(input, { mode: 'compress', verifyRuntime: 'wasm' });
    assert.deepEqual([report.exact?.ran, report.runtime?.ran], [true, true]);
    assert.equal(wasmThreadsStarted() - before, 1);
  });

  test('the same conversion in both runtimes: the same verdicts, the same differences to float32 rounding', async () => {
    const dir = tempDir();
    const input = modelFile(dir, 'mlp.onnx', denseMatMul());
    const byWasm = await convertModel(input, { mode: 'prune', out: join(dir, 'wasm.onnx'), verifyRuntime: 'wasm' });
    const byNative = await convertModel(input, { mode: 'prune', out: join(dir, 'native.onnx'), verifyRuntime: 'native' });
    const [w, n] = [byWasm.runtime!.outputs[0], byNative.runtime!.outputs[0]];
    assert.deepEqual([byWasm.runtime!.engine?.kind, byNative.runtime!.engine?.kind], ['wasm', 'native']);
    assert.deepEqual([w.identical, w.elements, w.compared], [n.identical, n.elements, n.compared]);
    assert.ok(Math.abs(w.maxAbsDiff! - n.maxAbsDiff!) <= 1e-5 * n.maxAbsDiff!, `${w.maxAbsDiff} vs ${n.maxAbsDiff}`);
  });

  test('external data is mounted by its location: a model whose weights live in weights.bin compresses and compares', async () => {
    const dir = tempDir();
    const sink = new ExternalSink();
    const input = modelFile(dir, 'mlp.onnx', denseMatMul(sink), sink);
    const report = await convertModel(input, { mode: 'compress', verifyRuntime: 'wasm' });
    assert.ok(report.dataFile, 'the output keeps its weights in a data file');
    assert.equal(report.exact?.ran, true, report.exact?.note);
    assert.deepEqual(report.exact!.outputs.map((o) => o.identical), [true]);
    assert.equal(report.runtime?.ran, true, report.runtime?.note);
  });

  test('an op the runtime has no kernel for: "not compared" with its reason, the output still written and verified', async () => {
    // Rfft (com.microsoft) has CUDA kernels only.
    const dir = tempDir();
    const spec = denseMatMul();
    spec.graph.node!.push(node('Rfft', ['Y'], ['F'], { signal_ndim: 1 }, { name: 'fft', domain: 'com.microsoft' }));
    spec.graph.output = [valueInfo('F', 'float32', ['batch', 17, 2])];
    spec.extraOpsets = [{ domain: 'com.microsoft', version: 1 }];
    const input = modelFile(dir, 'fft.onnx', spec);
    const report = await convertModel(input, { mode: 'prune', verifyRuntime: 'wasm' });
    assert.deepEqual([report.written, report.verified], [true, true]);
    assert.equal(report.runtime?.ran, false);
    assert.equal(report.runtime?.note, "ONNX Runtime (WebAssembly) could not run the model: Could not find an implementation for Rfft(1) node with name 'fft'");
    assert.match(formatConvert(report), /^outputs not compared: ONNX Runtime \(WebAssembly\) could not run the model: Could not find an implementation for Rfft\(1\) node with name 'fft'$/m);
  });

  test('a model over the WebAssembly size limit (512 MB: its memory is 4 GB at most) is not run, and the note says why and what does', async () => {
    const dir = tempDir();
    const a = modelFile(dir, 'a.onnx', constantOutput('float32', [1, 2, 3, 4]));
    const src = new FileSource(a);
    const model = readSkeleton(src);
    src.close();
    const r = await compareOutputs(a, a, model, { runner: wasm(), size: 600 * 2 ** 20 });
    assert.deepEqual(r, {
      ran: false,
      engine: { kind: 'wasm', package: 'onnxruntime-web', version: '1.30.0' },
      note: 'the model (600 MB) is larger than the 512 MB ONNX Runtime 1.30.0 WebAssembly is given (its memory is at most 4 GB; the CLI with onnxruntime-node compares models up to 1024 MB): outputs were not compared',
      outputs: [],
    });
    assert.equal((await compareOutputs(a, a, model, { runner: wasm(), size: WASM_SIZE_LIMIT })).ran, true);
  });

  test('the CLI: --verify-runtime wasm compares in WebAssembly and says so; another value is a usage error', () => {
    const dir = tempDir();
    const input = modelFile(dir, 'mlp.onnx', denseMatMul());
    const run = cli('convert', input, '--mode', 'prune', '--verify-runtime', 'wasm');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^output 'Y' \(ONNX Runtime 1\.30\.0 WebAssembly, same inputs\): max \|diff\| \S+, cosine \S+$/m);
    const wrong = cli('convert', input, '--mode', 'prune', '--verify-runtime', 'gpu', '--force');
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--verify-runtime must be one of auto, native, wasm/);
  });

  test('cancel while the WebAssembly thread runs rejects as cancelled (the thread is terminated, not awaited)', async () => {
    const dir = tempDir();
    const a = modelFile(dir, 'a.onnx', constantOutput('float32', [1, 2, 3, 4]));
    const controller = new AbortController();
    const pending = wasm().run([a, a], { X: { type: 'float32', dims: [1, 4], data: new Float32Array(4) } }, controller.signal);
    controller.abort();
    await assert.rejects(pending, { name: 'CancelledError' });
  });
});
