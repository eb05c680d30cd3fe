// npm run bench:verify: the runtime comparison of a conversion (input and output run on the same inputs) in the native
// ONNX Runtime (onnxruntime-node) against its WebAssembly build (onnxruntime-web, what the VS Code extension runs), on
// the bundled sample and on a float32 MLP built here (default 47 MB; --mb N for another size). Each timing is the
// median of --runs (default 3) whole comparisons; WebAssembly twice: in a fresh thread (compiling the .wasm and
// initialising ONNX Runtime: what a conversion's first comparison pays) and in the thread the previous comparison
// left (a compress verification's second). Peak resident memory of the process is sampled while each runs.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { convertModel } from '../src/engine/convert/convert';
import { type ModelRunner, type OrtModule, endIdleWasmThread, nativeRunner, wasmRunner } from '../src/engine/convert/runners';
import { compareOutputs } from '../src/engine/convert/runtime';
import { readSkeleton } from '../src/engine/onnx/skeleton';
import { FileSource } from '../src/engine/onnx/source';
import { graph, makeTensor, node, randomWeights, seededRandom, valueInfo, writeModel } from '../test/support/builder';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '47' }, runs: { type: 'string', default: '3' } } });
const RUNS = Number(values.runs);

/** Square float32 MatMul layers of width `width` with Relu between them, about `mb` MB of weights. */
function writeMlp(path: string, mb: number): void {
  const width = 1536;
  const layers = Math.max(1, Math.round((mb * 1e6) / (width * width * 4)));
  const rnd = seededRandom(11);
  const nodes = [];
  const initializers = [];
  let x = 'X';
  for (let i = 0; i < layers; i++) {
    initializers.push(makeTensor({ name: `W${i}`, dtype: 'float32', dims: [width, width], values: randomWeights(width * width, rnd, 1 / Math.sqrt(width)) }));
    nodes.push(node('MatMul', [x, `W${i}`], [`H${i}`], {}, { name: `fc${i}` }), node('Relu', [`H${i}`], [`A${i}`], {}, { name: `act${i}` }));
    x = `A${i}`;
  }
  nodes.push(node('Identity', [x], ['Y']));
  writeModel(path, { graph: graph({ name: 'mlp', nodes, initializers, inputs: [valueInfo('X', 'float32', [1, width])], outputs: [valueInfo('Y', 'float32', [1, width])] }) });
}

/** `cold`: a fresh WebAssembly thread for each comparison; otherwise the one the previous comparison left. */
async function timeComparison(runner: ModelRunner, input: string, output: string, cold: boolean): Promise<{ ms: number; cpuMs: number; peakMb: number; identical: boolean[] }> {
  const src = new FileSource(input);
  const model = readSkeleton(src);
  src.close();
  const times: number[] = [];
  const cpu: number[] = [];
  let peak = process.memoryUsage().rss;
  let identical: boolean[] = [];
  if (!cold) await compareOutputs(input, output, model, { runner });
  for (let i = 0; i < RUNS; i++) {
    if (cold) endIdleWasmThread();
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const start = performance.now();
    // CPU time of every thread of the process (the WebAssembly thread, ONNX Runtime's native pool): less sensitive
    // than wall time to other work on a shared machine.
    const cpuStart = process.cpuUsage();
    const r = await compareOutputs(input, output, model, { runner });
    times.push(performance.now() - start);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
    clearInterval(sampler);
    if (!r.ran) throw new Error(`${runner.engine.kind}: ${r.note}`);
    identical = r.outputs.map((o) => o.identical);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { ms: median(times), cpuMs: median(cpu), peakMb: peak / 1e6, identical };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'sparsity-lens-verify-bench-'));
  try {
    const mlp = join(dir, 'mlp.onnx');
    writeMlp(mlp, Number(values.mb));
    const models = [resolve('media/sample.onnx'), mlp];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const runners = [nativeRunner(require('onnxruntime-node') as OrtModule), wasmRunner()];
    console.log(`runs per timing: ${RUNS} (median); load average at start: ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
    for (const input of models) {
      const report = await convertModel(input, { mode: 'prune', out: join(dir, `pruned-${models.indexOf(input)}.onnx`), verifyRuntime: 'native', force: true });
      const size = statSync(input).size;
      const line: string[] = [`${input.endsWith('sample.onnx') ? 'media/sample.onnx' : 'float32 MLP'} (${(size / 1e6).toFixed(1)} MB)`];
      const ms: number[] = [];
      const cpuMs: number[] = [];
      const runs: [ModelRunner | string, boolean, string][] = [
        [runners[0], true, 'native'],
        [runners[1], true, 'wasm, fresh thread'],
        [runners[1], false, 'wasm, thread reused'],
      ];
      for (const [runner, cold, name] of runs) {
        if (typeof runner === 'string') throw new Error(runner);
        const t = await timeComparison(runner, input, report.output!, cold);
        ms.push(t.ms);
        cpuMs.push(t.cpuMs);
        line.push(`${name} ${(t.ms / 1000).toFixed(2)} s wall, ${(t.cpuMs / 1000).toFixed(2)} s CPU (peak RSS ${t.peakMb.toFixed(0)} MB, identical ${t.identical.join(',')})`);
      }
      line.push(`WebAssembly (fresh) / native ${(ms[1] / ms[0]).toFixed(1)}x wall, ${(cpuMs[1] / cpuMs[0]).toFixed(1)}x CPU`);
      console.log(line.join('; '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
