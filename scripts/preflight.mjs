// Checks, once and before any test runs, that every part the tests use is here, and says how to install what is
// missing (instead of a hundred tests failing one by one). `npm test` installs all of them on a fresh machine; this
// catches a set-up that went wrong, or `npm run test:unit` on a machine that never ran `npm test`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(`${process.cwd()}/package.json`);
const missing = [];
const found = [];

try {
  const ort = require('onnxruntime-node');
  if (typeof ort.InferenceSession?.create !== 'function') throw new Error('no InferenceSession');
  found.push(`onnxruntime-node ${require('onnxruntime-node/package.json').version}`);
} catch (err) {
  missing.push({
    part: `onnxruntime-node (convert's output comparison): ${String(err.message).split('\n')[0]}`,
    install: "npm ci  (package.json's allowScripts keeps its CUDA download step from running; with an npm older than 11.19, run: npm i --no-save onnxruntime-node@1.30.0 --onnxruntime-node-install=skip)",
  });
}
try {
  found.push(`playwright-core ${require('playwright-core/package.json').version}`);
} catch {
  missing.push({ part: 'playwright-core (drives the browser)', install: 'npm ci' });
}
if (existsSync('/usr/bin/chromium')) found.push('chromium');
else missing.push({ part: "Debian's chromium (the webview tests' browser)", install: 'sudo apt-get install -y chromium  (or: bash scripts/setup-browser.sh as root)' });
try {
  const version = execFileSync('/usr/bin/python3', ['-c', 'import onnx, numpy; print(onnx.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  found.push(`python3-onnx ${version}`);
} catch {
  missing.push({ part: "Debian's python3-onnx and python3-numpy (ONNX's reference checker)", install: 'sudo apt-get install -y python3-onnx python3-numpy  (or: bash scripts/setup-system.sh as root)' });
}

if (missing.length > 0) {
  process.stderr.write(`preflight: ${missing.length} part(s) the tests need are missing; no test was run.\n`);
  for (const m of missing) process.stderr.write(`  - ${m.part}\n    install: ${m.install}\n`);
  process.exit(1);
}
process.stdout.write(`preflight: ${found.join(', ')}\n`);
