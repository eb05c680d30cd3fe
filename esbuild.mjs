// One build() per bundle: CLI, scan worker, extension host, webview, tests, scripts.
import { build } from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';

const node = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'linked', logLevel: 'warning' };

const tests = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`);

await Promise.all([
  build({ ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  build({ ...node, entryPoints: ['src/engine/sparsity/scanWorker.ts'], outfile: 'dist/scan-worker.js' }),
  build({ ...node, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] }),
  build({ bundle: true, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js', logLevel: 'warning' }),
  build({ ...node, entryPoints: ['scripts/make-sample.ts', 'scripts/bench.ts'].filter(existsSync), outdir: 'dist/scripts' }),
  build({ ...node, entryPoints: tests, outdir: 'dist/test' }),
]);
