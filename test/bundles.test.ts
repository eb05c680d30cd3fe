// What ships: the bundles the CLI and the extension load hold no test code, and each CLI process loads only what
// its command needs (the start-up a user waits for). Read from each bundle's source map, as esbuild wrote it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

// dist/test/ → dist/
const DIST = join(__dirname, '..');

function sources(bundle: string): string[] {
  const map = JSON.parse(readFileSync(join(DIST, `${bundle}.map`), 'utf8')) as { sources: string[] };
  return map.sources.map((s) => s.replace(/^(\.\.\/)+/, ''));
}

const SHIPPED = ['cli.js', 'cli-inspect.js', 'cli-convert.js', 'scan-worker.js', 'worker.js', 'ort-worker.js', 'extension.js', 'webview.js'];

describe('shipped bundles', () => {
  for (const bundle of SHIPPED) {
    test(`${bundle} holds no test code (test/, the model builder)`, () => {
      const leaked = sources(bundle).filter((s) => s.startsWith('test/') || s.startsWith('scripts/') || s.endsWith('/builder.ts'));
      assert.deepEqual(leaked, []);
    });
  }

  test('the CLI entry (dist/cli.js) holds only the dispatch and the help texts: --help loads nothing else', () => {
    const own = sources('cli.js').filter((s) => !s.startsWith('node_modules/'));
    // sanitize.ts and safeText.ts: the entry's own error messages go through them too; jit.ts sets V8's budget for
    // a command about to run (node:v8 loaded only then).
    assert.deepEqual(own.sort(), ['src/cli/common.ts', 'src/cli/help.ts', 'src/cli/jit.ts', 'src/cli/main.ts', 'src/cli/sanitize.ts', 'src/engine/safeText.ts', 'src/engine/sharedAbort.ts']);
    assert.deepEqual(sources('cli.js').filter((s) => s.startsWith('node_modules/')), []);
    assert.ok(statSync(join(DIST, 'cli.js')).size < 32 * 1024, 'dist/cli.js stays small');
  });

  // protobufjs costs each thread that loads it 12-22 ms (wire.ts decodes varints itself).
  test('inspect (dist/cli-inspect.js) loads neither onnx-proto, protobufjs nor the convert engine', () => {
    const all = sources('cli-inspect.js');
    assert.deepEqual(all.filter((s) => s.includes('onnx-proto') || s.includes('protobufjs') || s.startsWith('src/engine/convert/') || s.startsWith('src/engine/encode/')), []);
  });

  test('the .vsix ships the WebAssembly runtime the extension compares outputs with: its worker, loader and .wasm (vsce ls)', () => {
    const vsce = join(DIST, '..', 'node_modules', '@vscode', 'vsce', 'vsce');
    const listed = spawnSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: join(DIST, '..'), encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    const files = listed.stdout.split('\n').map((l) => l.trim());
    for (const file of ['dist/ort-worker.js', 'dist/ort/ort-wasm-simd-threaded.mjs', 'dist/ort/ort-wasm-simd-threaded.wasm']) assert.ok(files.includes(file), `${file} is not in the .vsix: ${files.join(', ')}`);
    // Only the single-threaded SIMD build the worker loads, not onnxruntime-web's other variants (JSEP, JSPI, asyncify).
    assert.deepEqual(files.filter((f) => f.endsWith('.wasm')), ['dist/ort/ort-wasm-simd-threaded.wasm']);
  });

  test('the extension bundle leaves onnxruntime-web to its worker (dist/ort-worker.js)', () => {
    assert.deepEqual(sources('extension.js').filter((s) => s.includes('onnxruntime-web')), []);
    assert.deepEqual(sources('worker.js').filter((s) => s.includes('onnxruntime-web')), []);
    assert.ok(sources('ort-worker.js').some((s) => s.includes('node_modules/onnxruntime-web/')));
  });

  test('the scan worker (dist/scan-worker.js) loads neither onnx-proto, protobufjs nor the report or projection code', () => {
    const all = sources('scan-worker.js');
    assert.deepEqual(all.filter((s) => s.includes('onnx-proto') || s.includes('protobufjs') || s.startsWith('src/engine/speedup/') || s.startsWith('src/engine/report/')), []);
  });
});
