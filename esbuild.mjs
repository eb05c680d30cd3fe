// One build() per bundle: CLI, scan worker, extension host, webview, tests, scripts. The WebAssembly scan
// kernel (AssemblyScript) is compiled first and embedded in the bundles that import 'wasm:scan-kernel'; the bench's
// floor pass (scripts/floor.as.ts) likewise as 'wasm:bench-floor'.
import asc from 'assemblyscript/asc';
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';

async function compileWasm(source) {
  let binary;
  const { error, stderr } = await asc.main(
    [source, '-O3', '--enable', 'simd', '--runtime', 'stub', '--noAssert', '--outFile', 'kernel.wasm'],
    { writeFile: (name, contents) => name.endsWith('.wasm') && (binary = contents) },
  );
  if (error) throw new Error(`AssemblyScript: ${error.message}\n${stderr.toString()}`);
  return binary;
}

const wasm = { 'scan-kernel': await compileWasm('src/engine/sparsity/simd/kernel.as.ts'), 'bench-floor': await compileWasm('scripts/floor.as.ts') };
const wasmKernel = {
  name: 'wasm-kernel',
  setup(b) {
    b.onResolve({ filter: /^wasm:(scan-kernel|bench-floor)$/ }, (args) => ({ path: args.path.slice(5), namespace: 'wasm-kernel' }));
    b.onLoad({ filter: /.*/, namespace: 'wasm-kernel' }, (args) => ({ contents: wasm[args.path], loader: 'binary' }));
  },
};

// ONNX Runtime's WebAssembly build: bundled into dist/ort-worker.js, its Emscripten loader and .wasm copied to dist/ort/
// (found there through env.wasm.wasmPaths), its version told to the report.
const ORT_WEB = 'node_modules/onnxruntime-web';
if (!existsSync(`${ORT_WEB}/package.json`)) throw new Error(`${ORT_WEB} is missing (the WebAssembly ONNX Runtime that verifies conversions): run npm ci`);
mkdirSync('dist/ort', { recursive: true });
for (const file of ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) copyFileSync(`${ORT_WEB}/dist/${file}`, `dist/ort/${file}`);
const ortWebVersion = JSON.parse(readFileSync(`${ORT_WEB}/package.json`, 'utf8')).version;

// onnxruntime-node is native and optional: required at run time, never bundled.
const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [wasmKernel],
  external: ['onnxruntime-node'],
  define: { ORT_WEB_VERSION: JSON.stringify(ortWebVersion) },
};

const tests = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`);
// End-to-end tests in a real VS Code: outside dist/test so that the unit run does not start them.
const e2e = readdirSync('test/e2e').filter((f) => f.endsWith('.e2e.ts')).map((f) => `test/e2e/${f}`);

await Promise.all([
  // The CLI: a small entry (help, dispatch, Ctrl-C) that loads one command bundle on demand (see src/cli/main.ts).
  build({ ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  build({ ...node, entryPoints: ['src/cli/inspectMain.ts'], outfile: 'dist/cli-inspect.js' }),
  build({ ...node, entryPoints: ['src/cli/convertMain.ts'], outfile: 'dist/cli-convert.js' }),
  build({ ...node, entryPoints: ['src/engine/sparsity/scanWorker.ts'], outfile: 'dist/scan-worker.js' }),
  build({ ...node, entryPoints: ['src/worker/worker.ts'], outfile: 'dist/worker.js' }),
  build({ ...node, entryPoints: ['src/engine/convert/wasmWorker.ts'], outfile: 'dist/ort-worker.js' }),
  build({ ...node, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode', 'onnxruntime-node'] }),
  build({ bundle: true, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js', sourcemap: 'external', logLevel: 'warning' }),
  build({ ...node, entryPoints: ['scripts/make-sample.ts', 'scripts/bench.ts', 'scripts/kernel-bench.ts', 'scripts/permute-bench.ts', 'scripts/calibration.ts', 'scripts/rss-probe.ts', 'scripts/fuzz.ts', 'scripts/verify-bench.ts', 'scripts/decode-cost.ts'].filter(existsSync), outdir: 'dist/scripts' }),
  build({ ...node, entryPoints: tests, outdir: 'dist/test', external: ['onnxruntime-node', 'playwright-core'] }),
  build({ ...node, entryPoints: e2e, outdir: 'dist/e2e', external: ['onnxruntime-node', 'playwright-core'] }),
  build({ ...node, entryPoints: ['test/e2e/host/index.ts'], outfile: 'dist/e2e/host/index.js', external: ['vscode', 'onnxruntime-node'] }),
]);
