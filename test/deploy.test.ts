// Deploy verdicts (issue 13): for every rule of src/engine/deploy/rules.ts a layer it applies to, built in code,
// with the verdict, the rule id and the reason checked; the projection following the verdicts (float32 needs 1:2);
// the summaries; the CLI's --target, --precision, --deploy and the gate; and a walk over the table that fails when
// a rule has no source, no test, or no row in the README.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { type DTypeName, type ModelSpec, graph, makeTensor, node, valueInfo } from './support/builder';
import { count, twoOfFourAlong } from './support/patterns';
import { inspectSpec, layer, tempDir, writeTempModel } from './support/models';
import { cli } from './support/cli';
import { ROUND } from './support/profiles';
import { type DeployFacts, RULES } from '../src/engine/deploy/rules';
import { evaluate } from '../src/engine/deploy/verdict';
import { TARGETS } from '../src/engine/deploy/targets';
import { TARGET_IDS, type DeployVerdict, type TargetId } from '../src/engine/deploy/types';
import { convertModel } from '../src/engine/convert/convert';
import type { InspectOptions, InspectReport } from '../src/engine/sparsity/inspect';
import { type HardwareProfile, PROFILES, resolveProfile } from '../src/engine/speedup/profiles';

// ---------------------------------------------------------------------------
// Models

/** Values that are 1:2 along `axis` (even positions kept), hence 2:4 too. */
function onePerPairAlong(dims: number[], axis: number): number[] {
  const stride = count(dims.slice(axis + 1));
  return Array.from({ length: count(dims) }, (_, i) => (Math.floor(i / stride) % dims[axis]) % 2 === 0 ? 1 + (i % 3) : 0);
}

/** Every element non-zero: no pattern, no zero block. */
const dense = (dims: number[]) => Array.from({ length: count(dims) }, (_, i) => 1 + (i % 5));

function model(nodes: onnx.INodeProto[], inputs: onnx.IValueInfoProto[], initializers: onnx.ITensorProto[], extraOpsets?: ModelSpec['extraOpsets']): ModelSpec {
  const outputs = nodes[nodes.length - 1].output!.map((name) => ({ name }));
  return { opset: 21, extraOpsets, graph: graph({ name: 'deploy', nodes, inputs, outputs, initializers }) };
}

/** x [m, k] · w [k, n] → y, a MatMul named 'fc' whose weight holds `values` (default 2:4 along K). */
function linear(m: number | string, k: number, n: number, dtype: DTypeName, values?: number[]): ModelSpec {
  const weight = values ?? twoOfFourAlong([k, n], 0);
  // fp8 and fp4 weights are written as bit patterns: 1.0 is 0x38 in e4m3fn, code 2 in e2m1.
  const one = dtype === 'float8e4m3fn' ? 0x38 : dtype === 'float4e2m1' ? 2 : undefined;
  const w = one === undefined ? makeTensor({ name: 'w', dtype, dims: [k, n], values: weight }) : makeTensor({ name: 'w', dtype, dims: [k, n], values: weight.map((v) => (v ? one : 0)), bits: true });
  return model([node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })], [valueInfo('x', dtype, [m, k])], [w]);
}

/** 2:4 along K ([K, N] weight), the kept positions shifted by the output channel: no all-zero 4x1 block. */
function staggered(k: number, n: number): number[] {
  return Array.from({ length: k * n }, (_, i) => ((Math.floor(i / n) + (i % n)) % 4 < 2 ? 1 + (i % 3) : 0));
}

function profile(changes: Record<string, unknown> = {}): HardwareProfile {
  const p = resolveProfile({ ...ROUND, ...changes } as unknown as HardwareProfile);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

// ---------------------------------------------------------------------------
// Checking a verdict and recording the rule it covers

const covered = new Set<string>();

async function verdicts(spec: ModelSpec, name = 'fc', options: InspectOptions = {}): Promise<{ report: InspectReport; deploy: Partial<Record<TargetId, DeployVerdict>> }> {
  const report = await inspectSpec(spec, options);
  const l = layer(report, name);
  assert.ok(l.deploy, `layer '${name}' has verdicts`);
  assert.deepEqual(Object.keys(l.deploy), [...TARGET_IDS], 'a verdict for every target');
  return { report, deploy: l.deploy };
}

/** The verdict is `sparse`, rule `id` decided it (or noted it), and its reason matches. */
function expectRule(v: DeployVerdict | undefined, id: string, sparse: boolean, reason: RegExp, fix?: RegExp): void {
  assert.ok(v, 'a verdict');
  assert.equal(v.sparse, sparse, `sparse: ${JSON.stringify(v)}`);
  const at = v.rules.indexOf(id);
  assert.ok(at >= 0, `rule '${id}' in ${JSON.stringify(v.rules)}`);
  assert.equal(v.reasons.length, v.rules.length, 'one reason per rule');
  assert.match(v.reasons[at], reason);
  if (fix) assert.match(v.fix ?? '', fix);
  covered.add(id);
}

// ---------------------------------------------------------------------------

describe('layers of one kind: their verdicts are worked out once per target and copied', () => {
  test('no rule reads a layer\'s name (verdict.ts shares verdicts between layers whose other facts are equal)', () => {
    // Every target, stage and kind of timing over facts of many kinds, with `name` made to throw: a rule that read
    // it would make the sharing wrong.
    const base: DeployFacts = {
      name: 'fc', op: 'MatMul', domain: '', eligible: true, reason: null, scanned: true, storedDtype: 'float16', compute: 'float16', precision: 'stored',
      overridden: false, weightOnly: false, convolution: false, conv2d: false, group: 1, depthwise: false, rows: 64, cols: 64, kAxis: 0,
      transposed: false, patterns: { '2:4': true, '1:2': false, '4:8': true }, blocks4x1: 0, nonZeroZeroPoint: false, quantizedAlongK: false, stored: null,
    };
    const kinds: Partial<DeployFacts>[] = [
      {},
      { patterns: { '2:4': false, '4:8': false } },
      { eligible: false, reason: 'ConvTranspose has no sparse kernel', scanned: false },
      { storedDtype: 'int8', compute: 'int8', nonZeroZeroPoint: true, quantizedAlongK: true },
      { op: 'Conv', convolution: true, conv2d: true, group: 8, depthwise: true, transposed: true, blocks4x1: 0.5 },
      { op: 'MatMulNBits', domain: 'com.microsoft', storedDtype: 'uint8', compute: 'int4', weightOnly: true },
      { stored: 'ascend' },
      { stored: 'portable' },
      { storedDtype: 'float8e4m3fn', compute: 'fp8' },
      { storedDtype: 'float4e2m1', compute: 'fp4' },
      { rows: 10, cols: 24 },
      { precision: 'fp16', storedDtype: 'float32', overridden: true },
      { op: 'Gemm', storedDtype: 'bfloat16', compute: 'bfloat16', rows: null, cols: null, kAxis: null },
    ];
    for (const kind of kinds) {
      const f: DeployFacts = { ...base, ...kind };
      const nameless = new Proxy(f, { get: (t, k) => (k === 'name' ? assert.fail('a rule read the layer name') : Reflect.get(t, k)) });
      for (const target of TARGET_IDS) {
        for (const [p, times] of [[null, null], [profile(), null], [profile(), { dense: 2e-6, sparse: 1e-6 }], [profile(), { dense: 1e-6, sparse: 2e-6 }]] as const) {
          const context = { profile: p, times, untimed: 'untimed' };
          for (const stage of ['pattern', 'deploy', 'timing'] as const) assert.deepEqual(evaluate(nameless, target, context, stage), evaluate(f, target, context, stage));
        }
      }
    }
  });

  test('two layers of one kind: equal verdicts, each its own object', async () => {
    const w = (name: string) => makeTensor({ name, dtype: 'float16', dims: [64, 64], values: twoOfFourAlong([64, 64], 0) });
    const spec = model([node('MatMul', ['x', 'a'], ['h'], {}, { name: 'fc' }), node('MatMul', ['h', 'b'], ['y'], {}, { name: 'fc2' })], [valueInfo('x', 'float16', [8, 64])], [w('a'), w('b')]);
    const report = await inspectSpec(spec);
    const [one, two] = [layer(report, 'fc').deploy!, layer(report, 'fc2').deploy!];
    for (const target of TARGET_IDS) {
      assert.deepEqual(one[target], two[target]);
      assert.notEqual(one[target], two[target]);
      assert.notEqual(one[target]!.reasons, two[target]!.reasons);
      assert.notEqual(one[target]!.rules, two[target]!.rules);
    }
  });
});

describe('the targets', () => {
  test('every target id has its data: a name, a profile that exists, products and sources', () => {
    for (const id of TARGET_IDS) {
      const t = TARGETS[id];
      assert.equal(t.id, id);
      assert.ok(t.name && t.products.length > 0 && t.sources.length > 0, id);
      assert.ok(t.profile === 'hardware' || PROFILES[t.profile], `${id}: profile ${t.profile}`);
    }
    assert.deepEqual(
      TARGET_IDS.map((id) => [id, TARGETS[id].profile]),
      [
        ['tensorrt-sm80', 'a100'], ['tensorrt-sm89', 'l4'], ['tensorrt-sm90', 'h100'], ['tensorrt-sm100', 'b200'], ['tensorrt-llm', 'h100'],
        ['cusparselt', 'hardware'], ['pytorch', 'hardware'], ['ascend-atc', 'ascend-a2'], ['intel-xeon', 'cpu-xeon'],
      ],
    );
  });
});

describe('the rules, one layer each', () => {
  test('ineligible: K=6 is not divisible by 4, on every target', async () => {
    const { deploy } = await verdicts(linear(4, 6, 8, 'float16', dense([6, 8])));
    for (const id of TARGET_IDS) {
      expectRule(deploy[id], 'ineligible', false, /not a layer that can carry sparsity: K=6 \(axis 0\) is not divisible by M=4/);
      assert.deepEqual(deploy[id]!.rules, ['ineligible']);
    }
  });

  test('pattern-missing: a float32 weight that holds 2:4 but not 1:2 gets no TF32 sparse kernel', async () => {
    const { deploy } = await verdicts(linear(4, 64, 64, 'float32'));
    expectRule(deploy.cusparselt, 'pattern-missing', false, /^float32 \(TF32 on tensor cores\) needs 1:2: TF32 sparse tensor cores keep 1 of every 2 weights; the weight holds 2:4, 4:8 along K$/, /--pattern 1:2, or build in half precision \(--precision fp16/);
    expectRule(deploy['tensorrt-sm90'], 'pattern-missing', false, /needs 1:2/);
    // The same weight in float16 needs only 2:4.
    const half = await verdicts(linear(4, 64, 64, 'float16'));
    assert.equal(half.deploy.cusparselt!.sparse, true);
    assert.deepEqual(half.deploy.cusparselt!.rules, []);
  });

  test('precision-override: --precision fp16 runs the float32 weight in half, where 2:4 suffices', async () => {
    const { deploy, report } = await verdicts(linear(4, 64, 64, 'float32'), 'fc', { precision: 'fp16' });
    expectRule(deploy.cusparselt, 'precision-override', true, /^computed as float16 \(--precision fp16\), stored as float32/);
    assert.deepEqual(deploy.cusparselt!.rules, ['precision-override']);
    assert.equal(report.deployPrecision, 'fp16');
    // An integer weight keeps int8 whatever the precision: no override to note.
    const int8 = await verdicts(linear(4, 64, 64, 'int8'), 'fc', { precision: 'fp16' });
    assert.equal(int8.deploy.cusparselt!.rules.includes('precision-override'), false);
  });

  test('compute-unsupported: fp8 has no sparse kernel on Ampere; float16 none on Ascend', async () => {
    const fp8 = await verdicts(linear(4, 64, 64, 'float8e4m3fn'));
    expectRule(fp8.deploy['tensorrt-sm80'], 'compute-unsupported', false, /TensorRT on Ampere \(SM80\/86\/87\) has no sparse kernel for fp8 weights; it takes float32, float16, bfloat16, int8/);
    assert.equal(fp8.deploy['tensorrt-sm89']!.rules.includes('compute-unsupported'), false, 'Ada has fp8 sparse tensor cores');
    const half = await verdicts(linear(4, 64, 64, 'float16'));
    expectRule(half.deploy['ascend-atc'], 'compute-unsupported', false, /^ATC compresses int8 weights only; this layer computes in float16$/, /AMCT/);
  });

  test('fp4-pairing: a float4e2m1 weight that holds 4:8 runs sparse on Blackwell, with the pairing unchecked', async () => {
    const { deploy } = await verdicts(linear(4, 64, 64, 'float4e2m1'));
    expectRule(deploy['tensorrt-sm100'], 'fp4-pairing', true, /e2m1 needs paired 4:8 .* this tool checks 4:8, not the pairing/);
    expectRule(deploy['tensorrt-sm90'], 'compute-unsupported', false, /no sparse kernel for fp4 \(e2m1\) weights/);
  });

  test('no-sparse-cores: a --hardware profile whose sparse peak equals its dense peak (pre-Ampere)', async () => {
    const flat = profile({ name: 'v100-like', peaks: { float16: { dense: 100, sparse: 100 }, int8: { dense: 200, sparse: 200 }, float32: { dense: 50, sparse: 50 } } });
    const { deploy, report } = await verdicts(linear(4, 64, 64, 'float16'), 'fc', { speedup: { hardware: flat } });
    expectRule(deploy.cusparselt, 'no-sparse-cores', false, /the hardware profile 'v100-like' has no sparse tensor-core gain for float16 \(sparse peak = dense peak\)/);
    expectRule(deploy.pytorch, 'no-sparse-cores', false, /v100-like/);
    // The projection follows: no sparse time for the layer on that profile.
    const fc = report.projection!.layers.find((l) => l.name === 'fc')!;
    assert.equal(fc.passes, false);
    assert.equal(fc.sparseTime, fc.denseTime);
  });

  test('grouped-conv and ascend-ops: an int8 grouped convolution', async () => {
    // ConvInteger, weight int8 [16, 8, 3, 3], group 2: 8 input channels per group, 2:4 along them.
    const dims = [16, 8, 3, 3];
    const spec = model(
      [node('ConvInteger', ['x', 'w'], ['y'], { group: 2, kernel_shape: [3, 3] }, { name: 'conv' })],
      [valueInfo('x', 'uint8', [1, 16, 8, 8])],
      [makeTensor({ name: 'w', dtype: 'int8', dims, values: twoOfFourAlong(dims, 1) })],
    );
    const { deploy } = await verdicts(spec, 'conv');
    expectRule(deploy['tensorrt-sm80'], 'grouped-conv', false, /^grouped convolution \(group=2\): the sparse convolution kernels are for ungrouped convolutions/);
    expectRule(deploy['ascend-atc'], 'ascend-ops', false, /^ATC compresses ungrouped convolutions only \(group=2\)$/);
  });

  test('ascend-ops: a 1-D convolution is no Conv2D: ATC leaves it dense', async () => {
    const dims = [8, 16, 3];
    const spec = model(
      [node('ConvInteger', ['x', 'w'], ['y'], { kernel_shape: [3] }, { name: 'conv1d' })],
      [valueInfo('x', 'uint8', [1, 16, 8])],
      [makeTensor({ name: 'w', dtype: 'int8', dims, values: twoOfFourAlong(dims, 1) })],
    );
    const { deploy } = await verdicts(spec, 'conv1d');
    expectRule(deploy['ascend-atc'], 'ascend-ops', false, /not ConvInteger \(not a 2-D convolution\): ATC raises no error and the layer runs dense/);
  });

  test('ascend-products: an int8 MatMul that holds 2:4 runs sparse on Ascend, only on the listed products', async () => {
    // The Q/DQ form AMCT and ATC work with: an int8 weight, zero point 0, behind DequantizeLinear.
    const dims = [64, 64];
    const spec = model(
      [node('DequantizeLinear', ['wq', 'scale', 'zp'], ['w']), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
      [valueInfo('x', 'float32', [4, 64])],
      [
        makeTensor({ name: 'wq', dtype: 'int8', dims, values: twoOfFourAlong(dims, 0) }),
        makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.5] }),
        makeTensor({ name: 'zp', dtype: 'int8', dims: [], values: [0] }),
      ],
    );
    const { deploy } = await verdicts(spec);
    expectRule(deploy['ascend-atc'], 'ascend-products', true, /^only on Atlas A2\/A3 and Atlas 200I\/500 A2: on other Ascend products ATC raises no error and gives no gain$/);
    assert.deepEqual(deploy['ascend-atc']!.rules, ['ascend-products']);
    // ConvInteger / MatMulInteger are not what ATC compresses (as convert --mode ascend leaves them).
    const integer = await verdicts(model([node('MatMulInteger', ['x', 'w'], ['y'], {}, { name: 'fc' })], [valueInfo('x', 'int8', [4, 64])], [makeTensor({ name: 'w', dtype: 'int8', dims, values: twoOfFourAlong(dims, 0) })]));
    expectRule(integer.deploy['ascend-atc'], 'ascend-ops', false, /not MatMulInteger: ATC raises no error and the layer runs dense/);
  });

  test('pytorch-linear-only: an ungrouped fp16 convolution runs dense in PyTorch', async () => {
    const dims = [64, 64, 1, 1];
    const spec = model(
      [node('Conv', ['x', 'w'], ['y'], { kernel_shape: [1, 1] }, { name: 'conv' })],
      [valueInfo('x', 'float16', [1, 64, 8, 8])],
      [makeTensor({ name: 'w', dtype: 'float16', dims, values: twoOfFourAlong(dims, 1) })],
    );
    const { deploy } = await verdicts(spec, 'conv');
    expectRule(deploy.pytorch, 'pytorch-linear-only', false, /^PyTorch semi-structured tensors accelerate Linear layers \(mm \/ addmm \/ linear\) only: Conv runs dense$/);
    assert.equal(deploy.cusparselt!.sparse, true);
  });

  test('pytorch-shape and cusparselt-shape: the semi-structured shape constraints per dtype', async () => {
    // fp16 w [K=32, N=48]: rows (N) 48 is no multiple of 32, cols (K) 32 under 64 (CUTLASS); cuSPARSELt's 16 x 16 holds.
    const { deploy } = await verdicts(linear(4, 32, 48, 'float16'));
    expectRule(
      deploy.pytorch,
      'pytorch-shape',
      false,
      /^PyTorch \(CUTLASS backend\) refuses this float16 weight: rows \(output features\) 48 not a multiple of 32, cols \(K\) 32 not a multiple of 64 \(each must be at least and a multiple of 32 x 64\)$/,
      /multiples of 32 x 64/,
    );
    assert.equal(deploy.cusparselt!.sparse, true);
    // K=20: no multiple of 16 for cuSPARSELt.
    const odd = await verdicts(linear(4, 20, 32, 'float16'));
    expectRule(odd.deploy.cusparselt, 'cusparselt-shape', false, /cols \(K\) 20 not a multiple of 16/);
  });

  test('k-axis-transpose: a stored [N, K] weight pruned along the wrong axis', async () => {
    // S [32 (N), 32 (K)] holds 2:4 along axis 0 (N), not along K (axis 1): Transpose gives MatMul's [K, N].
    const dims = [32, 32];
    const spec = model(
      [node('Transpose', ['s'], ['w'], { perm: [1, 0] }), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
      [valueInfo('x', 'float16', [4, 32])],
      [makeTensor({ name: 's', dtype: 'float16', dims, values: twoOfFourAlong(dims, 0) })],
    );
    const { deploy, report } = await verdicts(spec);
    assert.equal(layer(report, 'fc').axis, 1);
    expectRule(deploy.cusparselt, 'k-axis-transpose', false, /through a Transpose: K is axis 1 of the stored tensor/, /--pattern 2:4/);
    assert.ok(deploy.cusparselt!.rules.includes('pattern-missing'));
  });

  test('qdq-zero-point: a uint8 weight with zero point 128 behind DequantizeLinear', async () => {
    const dims = [64, 64];
    const spec = model(
      [node('DequantizeLinear', ['wq', 'scale', 'zp'], ['w']), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
      [valueInfo('x', 'float32', [4, 64])],
      [
        makeTensor({ name: 'wq', dtype: 'uint8', dims, values: twoOfFourAlong(dims, 0, () => 128) }),
        makeTensor({ name: 'scale', dtype: 'float32', dims: [], values: [0.5] }),
        makeTensor({ name: 'zp', dtype: 'uint8', dims: [], values: [128] }),
      ],
    );
    const { deploy, report } = await verdicts(spec);
    assert.equal(layer(report, 'fc').pass, true, 'zeros are codes equal to the zero point');
    expectRule(deploy['tensorrt-sm90'], 'qdq-zero-point', false, /non-zero zero point: TensorRT supports symmetric quantization only/);
    assert.equal(deploy.cusparselt!.sparse, true, 'cuSPARSELt takes the int8 codes');
  });

  test('qdq-axis: an int8 weight quantized along K (one scale per input channel)', async () => {
    const dims = [64, 64];
    const qdq = (axis: number) =>
      model(
        [node('DequantizeLinear', ['wq', 'scale', 'zp'], ['w'], { axis }), node('MatMul', ['x', 'w'], ['y'], {}, { name: 'fc' })],
        [valueInfo('x', 'float32', [4, 64])],
        [
          makeTensor({ name: 'wq', dtype: 'int8', dims, values: twoOfFourAlong(dims, 0) }),
          makeTensor({ name: 'scale', dtype: 'float32', dims: [64], values: new Array(64).fill(0.5) }),
          makeTensor({ name: 'zp', dtype: 'int8', dims: [64], values: new Array(64).fill(0) }),
        ],
      );
    const alongK = await verdicts(qdq(0));
    expectRule(alongK.deploy['tensorrt-sm90'], 'qdq-axis', false, /^the weight's DequantizeLinear quantizes along K \(axis 0\), one scale per input channel/, /per output channel/);
    // Per output channel (axis 1 of [K, N]) is what TensorRT takes.
    const alongN = await verdicts(qdq(1));
    assert.equal(alongN.deploy['tensorrt-sm90']!.rules.includes('qdq-axis'), false);
  });

  test('stored-portable: a weight in the portable compressed form gets a note and the decompress fix', async () => {
    const dims = [64, 64];
    const input = writeTempModel(linear(4, 64, 64, 'float16', dense(dims)));
    const out = join(tempDir(), 'compressed.onnx');
    await convertModel(input, { mode: 'compress', out });
    const { inspectFile } = await import('./support/models');
    const fc = (await inspectFile(out)).layers.find((l) => l.stored?.format === 'portable');
    assert.ok(fc, 'a portable-stored layer');
    expectRule(fc.deploy?.['tensorrt-sm80'], 'stored-portable', true, /portable compressed form: a decode graph rebuilds it at load time; whether the TensorRT builder folds it .* is not checked/, /sparsity-lens decompress MODEL/);
  });

  test('stored-ascend: a weight this tool stored in the Ascend form runs only on Ascend', async () => {
    const dims = [8, 16];
    const input = writeTempModel(
      model(
        [node('Gemm', ['x', 'w'], ['y'], { transB: 1 }, { name: 'fc' })],
        [valueInfo('x', 'float16', [1, 16])],
        [makeTensor({ name: 'w', dtype: 'float16', dims, values: dense(dims) })],
      ),
    );
    const out = join(tempDir(), 'ascend.onnx');
    await convertModel(input, { mode: 'ascend', out });
    const { inspectFile } = await import('./support/models');
    const report = await inspectFile(out);
    const fc = report.layers.find((l) => l.stored?.format === 'ascend');
    assert.ok(fc, `an Ascend-stored layer: ${report.layers.map((l) => l.name).join(', ')}`);
    expectRule(fc.deploy?.cusparselt, 'stored-ascend', false, /stored in the Ascend compressed form/, /sparsity-lens decompress MODEL/);
  });

  test('ort-contrib-op: an ONNX Runtime contrib GEMM is not imported by TensorRT', async () => {
    const dims = [64, 64];
    const spec = model(
      [node('FusedMatMul', ['x', 'w'], ['y'], {}, { name: 'fc', domain: 'com.microsoft' })],
      [valueInfo('x', 'float16', [4, 64])],
      [makeTensor({ name: 'w', dtype: 'float16', dims, values: twoOfFourAlong(dims, 0) })],
      [{ domain: 'com.microsoft', version: 1 }],
    );
    const { deploy } = await verdicts(spec);
    expectRule(deploy['tensorrt-sm80'], 'ort-contrib-op', false, /^FusedMatMul is an ONNX Runtime contrib op \(com\.microsoft\): TensorRT's ONNX parser does not import it/);
  });

  test('gemm-plugin: TensorRT-LLM GEMMs run in the plugin, outside tactic selection', async () => {
    const { deploy } = await verdicts(linear(4, 64, 64, 'float16'));
    expectRule(deploy['tensorrt-llm'], 'gemm-plugin', false, /GEMM plugin .* no sparse kernel is chosen/, /--gemm_plugin disable/);
  });

  test('intel-block: N:M without 4x1 zero blocks gains nothing on Xeon; 4x1 blocks do', async () => {
    const { deploy } = await verdicts(linear(4, 64, 64, 'float32', staggered(64, 64)));
    expectRule(deploy['intel-xeon'], 'intel-block', false, /no all-zero 4x1 blocks/, /Neural Compressor/);
    // Output channels 0-3 of every input row zero: 4x1 blocks (4 output channels x 1 input) at 1/16.
    const dims = [64, 64];
    const blocky = await verdicts(linear(4, 64, 64, 'float32', dense(dims).map((v, i) => (i % 64 < 4 ? 0 : v))));
    assert.equal(blocky.deploy['intel-xeon']!.sparse, true);
    assert.equal(layer(blocky.report, 'fc').blocks['4x1'], 1 / 16);
  });

  test('not-timed: without a projection, or where the batch is symbolic', async () => {
    const { deploy } = await verdicts(linear(4, 64, 64, 'float16'));
    expectRule(deploy['tensorrt-sm90'], 'not-timed', true, /^not timed: no projection \(run with --speedup, and --batch N where the batch is symbolic\); TensorRT keeps/);
    assert.equal(deploy['tensorrt-sm90']!.denseTime, undefined);
    const symbolic = await verdicts(linear('batch', 64, 64, 'float16'), 'fc', { speedup: { hardware: PROFILES.a100 } });
    expectRule(symbolic.deploy['tensorrt-sm90'], 'not-timed', true, /not timed: its shapes are unknown \(give --batch N or --dim NAME=N/);
    assert.equal(symbolic.report.summary.deploy!['tensorrt-sm90']!.speedup, symbolic.report.projection!.speedup);
    // A layer that a rule already keeps dense is not "not timed": one reason, the rule's.
    const float = await verdicts(linear(4, 64, 64, 'float32'), 'fc', { speedup: { hardware: PROFILES.a100 } });
    assert.deepEqual(float.deploy['tensorrt-sm80']!.rules, ['pattern-missing']);
  });

  test('dense-faster: a small fp16 GEMM that TensorRT would run dense, with both projected times', async () => {
    const { deploy, report } = await verdicts(linear(4, 64, 64, 'float16'), 'fc', { speedup: { hardware: PROFILES.a100 } });
    const v = deploy['tensorrt-sm80']!;
    expectRule(v, 'dense-faster', false, /^dense is faster here \(projected dense [\d.]+ us, sparse [\d.]+ us on a100\): TensorRT times both tactics/);
    const fc = report.projection!.layers.find((l) => l.name === 'fc')!;
    // The times are the a100 projection's for the layer: memory-bound, the sparse weight read at 9/16 plus the sparse launch.
    assert.equal(v.denseTime, fc.denseTime);
    assert.equal(v.sparseTime, fc.sparseTime);
    assert.ok(v.sparseTime! > v.denseTime!, `${v.sparseTime} > ${v.denseTime}`);
    // A layer no sparse kernel takes has no sparse time: float32 holding only 2:4 on Ampere.
    const float = (await verdicts(linear(4, 64, 64, 'float32'), 'fc', { speedup: { hardware: PROFILES.a100 } })).deploy['tensorrt-sm80']!;
    assert.equal(float.sparseTime, null);
    assert.equal(typeof float.denseTime, 'number');
    // cuSPARSELt and PyTorch run what they are given: sparse (slower or not).
    assert.equal(deploy.cusparselt!.sparse, true);
    const s = report.summary.deploy!['tensorrt-sm80']!;
    assert.deepEqual([s.layers, s.sparseLayers, s.parameters, s.sparseParameters, s.sparseTimeShare, s.profile], [1, 0, 4096, 0, 0, 'a100']);
  });
});

describe('timed verdicts and the projection', () => {
  test('a large fp16 GEMM runs sparse on TensorRT, with the times and the summary of the a100 projection', async () => {
    const { deploy, report } = await verdicts(linear(1024, 1024, 1024, 'float16'), 'fc', { speedup: { hardware: PROFILES.a100 } });
    const v = deploy['tensorrt-sm80']!;
    assert.equal(v.sparse, true);
    assert.deepEqual(v.rules, []);
    const fc = report.projection!.layers.find((l) => l.name === 'fc')!;
    assert.equal(v.denseTime, fc.denseTime);
    assert.equal(v.sparseTime, fc.sparseTime);
    assert.ok(fc.sparseTime < fc.denseTime);
    const s = report.summary.deploy!['tensorrt-sm80']!;
    assert.deepEqual([s.layers, s.sparseLayers, s.parameters, s.sparseParameters, s.sparseTimeShare, s.profile], [1, 1, 1048576, 1048576, fc.share, 'a100']);
    // The a100 is the --hardware profile too: cuSPARSELt's figure is the report's projection.
    assert.equal(s.speedup, report.projection!.speedup);
    assert.equal(report.summary.deploy!.cusparselt!.speedup, report.projection!.speedup);
    // Each target on its own profile: Hopper's figure differs from Ampere's.
    assert.notEqual(report.summary.deploy!['tensorrt-sm90']!.speedup, s.speedup);
    assert.equal(report.summary.deploy!['tensorrt-sm90']!.profile, 'h100');
  });

  test('float32 on the a100: only a weight that holds 1:2 gets the TF32 sparse time (exact figures)', async () => {
    // x [1, 512] · w [512, 512] float32: memory-bound. Dense reads 1 MiB of weight + 4 KiB of activations.
    const bandwidth = 2039e9 * 0.8;
    const denseTime = (1048576 + 4096) / bandwidth;
    const only24 = (await inspectSpec(linear(1, 512, 512, 'float32'), { speedup: { hardware: PROFILES.a100 } })).projection!.layers[0];
    assert.equal(only24.passes, false);
    assert.equal(only24.denseTime, denseTime);
    assert.equal(only24.sparseTime, denseTime);
    assert.match(only24.flags.join('; '), /holds 2:4, but no sparse kernel takes it here/);
    const onePerPair = (await inspectSpec(linear(1, 512, 512, 'float32', onePerPairAlong([512, 512], 0)), { speedup: { hardware: PROFILES.a100 } })).projection!.layers[0];
    assert.equal(onePerPair.passes, true);
    assert.equal(onePerPair.denseTime, denseTime);
    // One row: the sparse kernel's efficiency falls to 0.55 x 1 / (1 + 256), so its TF32 math outlasts the 8.5/16 read.
    assert.equal(onePerPair.sparseTime, Math.max((2 * 262144) / (312 * 1e12 * ((0.55 * 1) / (1 + 256))), ((1048576 * 8.5) / 16 + 4096) / bandwidth));
    assert.equal(onePerPair.sparseTime, 7.852098834498834e-7);
    // Built in half precision, the 2:4 weight gets the fp16 sparse time: 512 KiB at 9/16.
    const half = (await inspectSpec(linear(1, 512, 512, 'float32'), { speedup: { hardware: PROFILES.a100 }, precision: 'fp16' })).projection!.layers[0];
    assert.equal(half.computeType, 'float16');
    assert.equal(half.passes, true);
    assert.equal(half.denseTime, (524288 + 4096) / bandwidth);
    assert.equal(half.sparseTime, Math.max((2 * 262144) / (624 * 1e12 * ((0.55 * 1) / (1 + 256))), ((524288 * 9) / 16 + 4096) / bandwidth));
  });
});

describe('the CLI', () => {
  const small = () => writeTempModel(linear(4, 64, 64, 'float16'));

  test('--target and --precision are checked: a bad value exits 2 naming the valid ones', () => {
    const path = small();
    const bad = cli('inspect', path, '--target', 'tensorrt-sm90,tensorrt-sm75');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown --target 'tensorrt-sm75'; valid targets: tensorrt-sm80, tensorrt-sm89, tensorrt-sm90, tensorrt-sm100, tensorrt-llm, cusparselt, pytorch, ascend-atc, intel-xeon/);
    const precision = cli('inspect', path, '--precision', 'fp32');
    assert.equal(precision.code, 2);
    assert.match(precision.stderr, /--precision must be one of stored, fp16, bf16, int8, fp8, not 'fp32'/);
  });

  test('--target adds the runs-sparse column and the per-target lines; --deploy the per-layer reasons and fix', () => {
    const path = small();
    const table = cli('inspect', path, '--target', 'tensorrt-sm80', '--target', 'cusparselt');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /runs sparse/);
    assert.match(table.stdout, /tensorrt-sm80 no, cusparselt yes/);
    assert.match(table.stdout, /tensorrt-sm80 \(TensorRT on Ampere \(SM80\/86\/87\)\): 0\/1 eligible layers run sparse, 0\/4096 parameters, 0\.0% of projected dense time, projected 1\.00x on a100/);
    assert.match(table.stdout, /  1 x dense-faster: dense is faster here/);
    const view = cli('inspect', path, '--deploy');
    assert.equal(view.code, 0, view.stderr);
    assert.match(view.stdout, /Will it run sparse\? \(deploy verdicts\)/);
    assert.match(view.stdout, /fc  tensorrt-llm  no: .*GEMM plugin.*  fix: build without the GEMM plugin/);
    for (const id of TARGET_IDS) assert.match(view.stdout, new RegExp(`^${id} \\(`, 'm'));
  });

  test('JSON always carries the verdicts; CSV and Markdown with --target', () => {
    const path = small();
    const json = JSON.parse(cli('inspect', path, '--format', 'json').stdout);
    assert.deepEqual(Object.keys(json.layers[0].deploy), [...TARGET_IDS]);
    assert.deepEqual(Object.keys(json.summary.deploy), [...TARGET_IDS]);
    assert.equal(json.deployPrecision, 'stored');
    const csv = cli('inspect', path, '--format', 'csv', '--target', 'pytorch').stdout.split('\n');
    assert.match(csv[0], /,deploy pytorch,deploy pytorch reasons$/);
    assert.match(csv[1], /,yes,$/);
    const md = cli('inspect', path, '--format', 'markdown', '--deploy', '--target', 'gemm', '--precision', 'fp16');
    assert.equal(md.code, 2, 'gemm is no target');
    const markdown = cli('inspect', path, '--format', 'markdown', '--deploy', '--target', 'tensorrt-llm');
    assert.match(markdown.stdout, /## Will it run sparse\? \(deploy verdicts\)/);
    assert.match(markdown.stdout, /\| fc \| tensorrt-llm \| no \|/);
  });

  test('the gate: --fail-under with --target fails when a layer that passes will not run sparse there', () => {
    const path = small();
    const failed = cli('inspect', path, '--fail-under', '0.5', '--target', 'tensorrt-sm80');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^gate failed: 1 layer passes 2:4 but will not run sparse on tensorrt-sm80:\n  'fc': dense is faster here/);
    const passed = cli('inspect', path, '--fail-under', '0.5', '--target', 'cusparselt');
    assert.equal(passed.code, 0, passed.stderr);
    // Without --target the gate is compliance only, as before.
    assert.equal(cli('inspect', path, '--fail-under', '0.5').code, 0);
  });
});

describe('the rules table', () => {
  test('every rule has a source, a reason, targets, and a test above that covered it', () => {
    const ids = RULES.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'rule ids are unique');
    for (const rule of RULES) {
      assert.ok(rule.source.trim().length > 10, `rule '${rule.id}' has a source`);
      assert.ok(rule.targets.length > 0, `rule '${rule.id}' applies somewhere`);
      assert.ok(covered.has(rule.id), `rule '${rule.id}' has a test that builds a layer it applies to`);
    }
  });

  test("the README's rules table lists every rule with its targets, and nothing else", () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('<!-- deploy-rules -->'), readme.indexOf('<!-- /deploy-rules -->'));
    assert.ok(section.length > 0, 'the README marks its rules table');
    const rows = [...section.matchAll(/^\| `([a-z0-9-]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2].trim()]);
    const expected = RULES.map((r) => [r.id, r.targets.length === TARGET_IDS.length ? 'all' : r.targets.join(', ')]);
    assert.deepEqual(rows, expected);
  });
});
