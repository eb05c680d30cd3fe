// npm run bench:decode: what the portable decode graph costs in ONNX Runtime, against the pruned (dense) model in the
// same run. Per model: file sizes; session creation (ONNX Runtime folds the decode graph into a constant there) and
// one inference, pruned vs compressed (medians); and the decode subgraph alone run unoptimised (what a runtime that
// does not fold it would pay per run). Opset 9 models take the gather decode, opset 13 and up BitShift + ScatterElements.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { convertModel } from '../src/engine/convert/convert';
import { type DTypeName, type ModelSpec, graph, makeTensor, node, randomWeights, seededRandom, valueInfo, writeModel } from '../test/support/builder';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

interface Case {
  label: string;
  spec: ModelSpec;
  weight: { name: string; dtype: DTypeName; dims: number[] };
  input: { name: string; type: string; dims: number[] };
}

function matmul(opset: number, dtype: 'float32' | 'float16'): Case {
  const rnd = seededRandom(1);
  const io = dtype;
  return {
    label: `MatMul [1024, 1024] ${dtype}, opset ${opset}`,
    spec: {
      opset,
      irVersion: opset < 11 ? 5 : 8,
      graph: graph({
        name: 'matmul',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', io, [1, 1024])],
        outputs: [valueInfo('Y', io, [1, 1024])],
        initializers: [makeTensor({ name: 'W', dtype, dims: [1024, 1024], values: randomWeights(1 << 20, rnd) })],
      }),
    },
    weight: { name: 'W', dtype, dims: [1024, 1024] },
    input: { name: 'X', type: io, dims: [1, 1024] },
  };
}

function conv(opset: number): Case {
  const rnd = seededRandom(2);
  return {
    label: `Conv [256, 256, 3, 3] float32, opset ${opset}`,
    spec: {
      opset,
      irVersion: opset < 11 ? 5 : 8,
      graph: graph({
        name: 'conv',
        nodes: [node('Conv', ['X', 'W'], ['Y'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' })],
        inputs: [valueInfo('X', 'float32', [1, 256, 14, 14])],
        outputs: [valueInfo('Y', 'float32', [1, 256, 14, 14])],
        initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [256, 256, 3, 3], values: randomWeights(589824, rnd) })],
      }),
    },
    weight: { name: 'W', dtype: 'float32', dims: [256, 256, 3, 3] },
    input: { name: 'X', type: 'float32', dims: [1, 256, 14, 14] },
  };
}

/** QLinearConv (opset 10: the gather decode) or Q/DQ Conv (opset 13), int8 weights with zero points per channel. */
function int8Conv(opset: 10 | 13): Case {
  const rnd = seededRandom(3);
  const dims = [256, 256, 3, 3];
  const count = 589824;
  const w = makeTensor({ name: 'Wq', dtype: 'int8', dims, values: Array.from({ length: count }, () => Math.floor(rnd() * 81) - 40) });
  const zp = makeTensor({ name: 'zp', dtype: 'int8', dims: [256], values: Array.from({ length: 256 }, (_, i) => (i % 7) - 3) });
  const scale = makeTensor({ name: 'scale', dtype: 'float32', dims: [256], values: Array.from({ length: 256 }, (_, i) => 0.01 * (1 + (i % 4))) });
  const qlinear = opset === 10;
  return {
    label: qlinear ? 'QLinearConv [256, 256, 3, 3] int8 per channel, opset 10' : 'Q/DQ Conv [256, 256, 3, 3] int8 per channel, opset 13',
    spec: {
      opset,
      irVersion: qlinear ? 5 : 8,
      graph: graph({
        name: 'int8conv',
        nodes: qlinear
          ? [node('QLinearConv', ['X', 'x_scale', 'x_zp', 'Wq', 'scale', 'zp', 'y_scale', 'y_zp'], ['Y'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' })]
          : [node('DequantizeLinear', ['Wq', 'scale', 'zp'], ['W'], { axis: 0 }, { name: 'dq' }), node('Conv', ['X', 'W'], ['Y'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' })],
        inputs: [valueInfo('X', qlinear ? 'uint8' : 'float32', [1, 256, 14, 14])],
        outputs: [valueInfo('Y', qlinear ? 'uint8' : 'float32', [1, 256, 14, 14])],
        initializers: [
          w,
          zp,
          scale,
          ...(qlinear
            ? [
                makeTensor({ name: 'x_scale', dtype: 'float32', dims: [], values: [0.05] }),
                makeTensor({ name: 'x_zp', dtype: 'uint8', dims: [], values: [8] }),
                makeTensor({ name: 'y_scale', dtype: 'float32', dims: [], values: [0.5] }),
                makeTensor({ name: 'y_zp', dtype: 'uint8', dims: [], values: [128] }),
              ]
            : []),
        ],
      }),
    },
    weight: { name: 'Wq', dtype: 'int8', dims },
    input: { name: 'X', type: qlinear ? 'uint8' : 'float32', dims: [1, 256, 14, 14] },
  };
}

function feed(input: Case['input']): Record<string, unknown> {
  const n = input.dims.reduce((a, b) => a * b, 1);
  const data = input.type === 'float16' ? new Uint16Array(n).fill(0x3c00) : input.type === 'uint8' ? new Uint8Array(n).fill(9) : new Float32Array(n).fill(0.5);
  return { [input.name]: new ort.Tensor(input.type, data, input.dims) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function timeModel(path: string, feeds: Record<string, unknown>, options: object = {}): Promise<{ create: number; run: number }> {
  const creates: number[] = [];
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(path, options);
    creates.push(performance.now() - t0);
    if (i === 2) {
      await session.run(feeds);
      for (let r = 0; r < 10; r++) {
        const t1 = performance.now();
        await session.run(feeds);
        runs.push(performance.now() - t1);
      }
    }
    await session.release?.();
  }
  return { create: median(creates), run: median(runs) };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'sparsity-lens-decode-'));
  const cases = [matmul(9, 'float32'), matmul(17, 'float32'), matmul(9, 'float16'), matmul(17, 'float16'), conv(9), conv(17), int8Conv(10), int8Conv(13)];
  console.log('model | pruned bytes | compressed bytes | session create pruned / compressed | run pruned / compressed | decode alone, unoptimised run');
  let warm = false;
  try {
    for (const c of cases) {
      const dir = join(root, c.label.replace(/[^a-z0-9]+/gi, '-'));
      mkdirSync(dir);
      const input = join(dir, 'model.onnx');
      writeModel(input, c.spec);
      const pruned = join(dir, 'pruned.onnx');
      const compressed = join(dir, 'compressed.onnx');
      await convertModel(input, { mode: 'prune', out: pruned });
      const report = await convertModel(input, { mode: 'compress', out: compressed });
      if (report.summary.compressed === 0) throw new Error(`${c.label}: not compressed: ${report.layers.map((l) => l.reason).join('; ')}`);
      const feeds = feed(c.input);
      // The first session of the process pays ONNX Runtime's own start: not a cost of either model.
      if (!warm) await timeModel(pruned, feeds);
      warm = true;
      const a = await timeModel(pruned, feeds);
      const b = await timeModel(compressed, feeds);
      // The decode subgraph alone: the compressed model with the decoded weight as its only output, not optimised.
      const copy = onnx.ModelProto.decode(readFileSync(compressed));
      copy.graph!.output = [valueInfo(c.weight.name, c.weight.dtype, c.weight.dims)] as onnx.ValueInfoProto[];
      const decodeOnly = join(dir, 'decode-only.onnx');
      writeFileSync(decodeOnly, onnx.ModelProto.encode(copy).finish());
      const d = await timeModel(decodeOnly, feeds, { graphOptimizationLevel: 'disabled' });
      console.log(
        `${c.label} | ${statSync(pruned).size} | ${statSync(compressed).size} (${((statSync(compressed).size / statSync(pruned).size) * 100).toFixed(1)} %) | ` +
          `${ms(a.create)} / ${ms(b.create)} | ${ms(a.run)} / ${ms(b.run)} | ${ms(d.run)}`,
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
