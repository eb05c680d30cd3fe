// The calibration cases of the speedup projection (issue 4): published measurements, each rebuilt as an ONNX model
// (shapes matter, weights do not: the weights are external data in a sparse file of zeros, which pass 2:4).
// `node dist/scripts/calibration.js` prints the table in the README and the hold-out set's (calibration-holdout.ts);
// test/speedup.test.ts and test/calibration-holdout.test.ts check that the README's tables are what the engine computes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { graph, makeTensor, node, valueInfo, writeModel } from '../test/support/builder';
import { inspectModel } from '../src/engine/sparsity/inspect';
import { PROFILES } from '../src/engine/speedup/profiles';
import { type CalibrationCase, ZeroWeights } from './calibration-support';
import { type HoldoutCase, HOLDOUT_CASES } from './calibration-holdout';

export type { CalibrationCase, HoldoutCase };
export { HOLDOUT_CASES };

interface BertConfig {
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
  seq: number;
  vocab: number;
  /** Weight type: float16, or int8 behind DequantizeLinear (a QAT export). */
  weights: 'float16' | 'int8';
}

/** A BERT encoder as torch.onnx exports it: MatMul + Add, Reshape/Transpose heads, Softmax, LayerNormalization, Gelu. */
function bert(cfg: BertConfig, dir: string, name: string): string {
  const w = new ZeroWeights(`${name}.data`);
  const nodes: onnx.INodeProto[] = [];
  const smalls: onnx.ITensorProto[] = [];
  const f16 = (n: string, dims: number[], value = 0) => {
    smalls.push(makeTensor({ name: n, dtype: 'float16', dims, values: new Array(dims.reduce((a, b) => a * b, 1)).fill(value) }));
    return n;
  };
  const i64 = (n: string, values: number[]) => {
    smalls.push(makeTensor({ name: n, dtype: 'int64', dims: [values.length], values }));
    return n;
  };
  let t = 0;
  const out = (hint: string) => `${hint}_${t++}`;
  const op = (type: string, inputs: string[], attrs: Record<string, unknown> = {}, hint = type.toLowerCase()) => {
    const o = out(hint);
    nodes.push(node(type, inputs, [o], attrs as never, { name: o }));
    return o;
  };
  const weight = (n: string, dims: number[]) => {
    if (cfg.weights === 'float16') return w.add(n, 'float16', dims);
    w.add(`${n}_q`, 'int8', dims);
    smalls.push(makeTensor({ name: `${n}_scale`, dtype: 'float16', dims: [], values: [0.01] }));
    return op('DequantizeLinear', [`${n}_q`, `${n}_scale`], {}, `${n}_dq`);
  };
  const linear = (x: string, n: string, inDim: number, outDim: number) => op('Add', [op('MatMul', [x, weight(n, [inDim, outDim])], {}, n), f16(`${n}.bias`, [outDim])]);
  const layerNorm = (x: string, n: string) => op('LayerNormalization', [x, f16(`${n}.gamma`, [cfg.hidden], 1), f16(`${n}.beta`, [cfg.hidden])], { axis: -1 });
  const d = cfg.hidden / cfg.heads;
  let h = op('Gather', [w.add('embeddings', 'float16', [cfg.vocab, cfg.hidden]), 'input_ids']);
  h = layerNorm(op('Add', [h, f16('positions', [cfg.seq, cfg.hidden])]), 'embeddings.norm');
  const headShape = i64('head_shape', [0, 0, cfg.heads, d]);
  const mergedShape = i64('merged_shape', [0, 0, cfg.hidden]);
  const scale = f16('attention_scale', [], Math.sqrt(d));
  for (let l = 0; l < cfg.layers; l++) {
    const p = `layer${l}`;
    const heads = (x: string, perm: number[]) => op('Transpose', [op('Reshape', [x, headShape])], { perm });
    const q = heads(linear(h, `${p}.query`, cfg.hidden, cfg.hidden), [0, 2, 1, 3]);
    const k = heads(linear(h, `${p}.key`, cfg.hidden, cfg.hidden), [0, 2, 3, 1]);
    const v = heads(linear(h, `${p}.value`, cfg.hidden, cfg.hidden), [0, 2, 1, 3]);
    const probs = op('Softmax', [op('Div', [op('MatMul', [q, k]), scale])], { axis: -1 });
    const context = op('Reshape', [op('Transpose', [op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), mergedShape]);
    const attended = layerNorm(op('Add', [linear(context, `${p}.output`, cfg.hidden, cfg.hidden), h]), `${p}.attention.norm`);
    const ffn = linear(op('Gelu', [linear(attended, `${p}.intermediate`, cfg.hidden, cfg.ffn)]), `${p}.ffn_output`, cfg.ffn, cfg.hidden);
    h = layerNorm(op('Add', [ffn, attended]), `${p}.norm`);
  }
  const logits = op('MatMul', [h, w.add('qa_outputs', 'float16', [cfg.hidden, 2])], {}, 'qa_outputs');
  const path = join(dir, `${name}.onnx`);
  w.write(dir);
  writeModel(path, {
    opset: 20,
    graph: graph({
      name,
      nodes,
      inputs: [valueInfo('input_ids', 'int64', ['batch', cfg.seq])],
      outputs: [valueInfo(logits, 'float16', ['batch', cfg.seq, 2])],
      initializers: [...w.tensors, ...smalls],
    }),
  });
  return path;
}

function linearModel(dir: string): string {
  const w = new ZeroWeights('linear.data');
  const path = join(dir, 'linear.onnx');
  w.add('weight', 'float16', [10240, 3072]);
  w.write(dir);
  writeModel(path, {
    graph: graph({
      name: 'linear',
      nodes: [node('MatMul', ['x', 'weight'], ['y'], {}, { name: 'linear' }), node('Add', ['y', 'bias'], ['out'], {}, { name: 'bias' })],
      inputs: [valueInfo('x', 'float16', [3072, 10240])],
      outputs: [valueInfo('out', 'float16', [3072, 3072])],
      initializers: [...w.tensors, makeTensor({ name: 'bias', dtype: 'float16', dims: [3072], values: new Array(3072).fill(0) })],
    }),
  });
  return path;
}

const BERT_BASE: BertConfig = { layers: 12, hidden: 768, heads: 12, ffn: 3072, seq: 384, vocab: 30522, weights: 'float16' };
const BERT_LARGE_INT8: BertConfig = { layers: 24, hidden: 1024, heads: 16, ffn: 4096, seq: 384, vocab: 30522, weights: 'int8' };
const TUTORIAL = 'PyTorch tutorial "Accelerating BERT with semi-structured (2:4) sparsity" (A100, fp16, SQuAD max_length 384)';

export const CALIBRATION_CASES: CalibrationCase[] = [
  { name: 'fp16 Linear 10240->3072, input 3072x10240', hardware: 'a100', measured: 1.38, source: TUTORIAL, batch: 1, runtime: 'eager', build: linearModel },
  { name: 'BERT-base fp16, batch 4, seq 384', hardware: 'a100', measured: 0.71, source: TUTORIAL, batch: 4, runtime: 'eager', build: (dir) => bert(BERT_BASE, dir, 'bert-base') },
  { name: 'BERT-base fp16, batch 16, seq 384', hardware: 'a100', measured: 1.23, source: TUTORIAL, batch: 16, runtime: 'eager', build: (dir) => bert(BERT_BASE, dir, 'bert-base') },
  { name: 'BERT-base fp16, batch 256, seq 384', hardware: 'a100', measured: 1.14, source: TUTORIAL, batch: 256, runtime: 'eager', build: (dir) => bert(BERT_BASE, dir, 'bert-base') },
  {
    name: 'BERT-Large INT8, batch 32, seq 384',
    hardware: 'a100',
    measured: 1.5,
    source: 'NVIDIA, sparse INT8 BERT-Large with TensorRT on A100 (batch and sequence length assumed: 32, 384)',
    batch: 32,
    runtime: 'fused',
    build: (dir) => bert(BERT_LARGE_INT8, dir, 'bert-large-int8'),
  },
];

export interface CalibrationRow {
  name: string;
  measured: number;
  projected: number | null;
  error: number | null;
  hostBound: boolean;
}

export async function runCalibration(cases: CalibrationCase[] = CALIBRATION_CASES): Promise<CalibrationRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sparsity-lens-calibration-'));
  const rows: CalibrationRow[] = [];
  try {
    const built = new Map<string, string>();
    for (const c of cases) {
      const key = c.build.toString();
      if (!built.has(key)) built.set(key, c.build(dir));
      const report = await inspectModel(built.get(key)!, { workers: 0, speedup: { hardware: PROFILES[c.hardware], batch: c.batch, runtime: c.runtime } });
      const projected = report.projection?.speedup ?? null;
      rows.push({
        name: c.name,
        measured: c.measured,
        projected,
        error: projected === null ? null : (projected - c.measured) / c.measured,
        hostBound: Boolean(report.projection?.hostBound.sparse),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The fitting set's table as the README prints it. */
export function fittingTable(rows: CalibrationRow[], cases = CALIBRATION_CASES): string[] {
  return [
    '| case (A100) | runtime | measured | projected | error |',
    '|---|---|---|---|---|',
    ...rows.map((r, i) => `| ${r.name} | ${cases[i].runtime} | ${r.measured.toFixed(2)}x | ${r.projected?.toFixed(2) ?? '-'}x | ${percent(r.error)} |`),
  ];
}

/** The hold-out set's table as the README prints it: each case's device, runtime and source beside its error. */
export function holdoutTable(rows: CalibrationRow[], cases: HoldoutCase[] = HOLDOUT_CASES): string[] {
  return [
    '| hold-out case | hardware | runtime | measured | projected | error | source |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r, i) => {
      const c = cases[i];
      const measured = `${c.latencyMs.dense} / ${c.latencyMs.sparse} ms = ${r.measured.toFixed(2)}x`;
      return `| ${r.name} | ${c.hardware} | ${c.runtime} | ${measured} | ${r.projected?.toFixed(2) ?? '-'}x | ${percent(r.error)} | ${c.ref} |`;
    }),
  ];
}

function percent(error: number | null): string {
  return error === null ? '-' : `${error >= 0 ? '+' : ''}${(error * 100).toFixed(1)}%`;
}

if (require.main === module && /calibration\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  (async () => {
    console.log('Fitting set (the model constants are fitted on these):\n');
    console.log(fittingTable(await runCalibration()).join('\n'));
    console.log('\nHold-out set (not used for fitting):\n');
    const holdout = await runCalibration(HOLDOUT_CASES);
    console.log(holdoutTable(holdout).join('\n'));
    const errors = holdout.map((r) => Math.abs(r.error ?? NaN));
    console.log(`\nhold-out mean |error| ${((errors.reduce((a, b) => a + b, 0) / errors.length) * 100).toFixed(1)} %, largest ${(Math.max(...errors) * 100).toFixed(1)} %`);
  })();
}
