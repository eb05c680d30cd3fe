// THE table of deployment rules (issue 13): will this layer run sparse on this target? Each rule names the targets
// it applies to, a test over the layer's facts, the reason in plain words, the fix, and its source. verdict.ts
// evaluates them in order; the README's rules table is checked against this one (test/deploy.test.ts).
import type { HardwareProfile } from '../speedup/profiles';
import type { DeployCompute, DeployTarget } from './targets';
import { TARGET_IDS, type DeployPrecision, type TargetId } from './types';

/** What the rules read of one layer: the inspection's findings, under the chosen precision. */
export interface DeployFacts {
  name: string;
  op: string;
  domain: string;
  /** The layer can carry N:M at all (layers.ts eligibility); `reason` says why not. */
  eligible: boolean;
  reason: string | null;
  /** The weight was read and scanned (patterns and blocks are known). */
  scanned: boolean;
  storedDtype: string | null;
  /** The type the GEMM computes in on the target: the stored one unless --precision overrides a float weight. */
  compute: DeployCompute;
  precision: DeployPrecision;
  /** The precision changed the compute type (a float weight built in fp16, say). */
  overridden: boolean;
  /** Weight-only quantized codes (MatMulNBits): dequantized in the kernel, computed in the activations' type. */
  weightOnly: boolean;
  convolution: boolean;
  /** Convolution with a 4-D weight (Conv2D). */
  conv2d: boolean;
  group: number;
  depthwise: boolean;
  /** The GEMM's sparse operand as a [rows = output features, cols = reduction] matrix (a convolution's cols: IC/g x kernel). */
  rows: number | null;
  cols: number | null;
  /** K axis of the stored weight, and whether the weight reaches the layer through a Transpose. */
  kAxis: number | null;
  transposed: boolean;
  /** The report's `patterns` (N:M along K) and 4x1 block-zero ratio. */
  patterns: Record<string, boolean>;
  blocks4x1: number | null;
  /** The weight is quantized with a zero point that is not 0 somewhere. */
  nonZeroZeroPoint: boolean;
  /** The Q/DQ zero points (and scales) run along K, one per reduction index: per-input-channel quantization. */
  quantizedAlongK: boolean;
  /** This tool stored the weight compressed: the format. */
  stored: 'portable' | 'ascend' | 'compressed-tensors' | null;
}

/** What a rule knows besides the layer: the target, its hardware profile, and the projected times where timed. */
export interface RuleContext {
  target: DeployTarget;
  profile: HardwareProfile | null;
  /** Projected dense and sparse times of this layer on the target's profile; null when the projection did not run or could not time it. */
  times: { dense: number; sparse: number } | null;
  /** Why the layer is not timed, when `times` is null. */
  untimed: string;
}

/**
 * 'pattern': whether a sparse kernel can take the weight at all (pattern per compute type, the hardware); the
 * projection gives sparse time only to layers these pass. 'deploy': whether the runtime will use it (shapes, ops,
 * formats, plugins). 'timing': whether the runtime will choose it over the dense kernel. 'note': never blocks.
 */
export type RuleStage = 'pattern' | 'deploy' | 'timing' | 'note';

export interface DeployRule {
  id: string;
  targets: readonly TargetId[];
  stage: RuleStage;
  /** True when the rule has something to say about this layer on this target. */
  when(f: DeployFacts, c: RuleContext): boolean;
  reason(f: DeployFacts, c: RuleContext): string;
  fix?(f: DeployFacts, c: RuleContext): string | undefined;
  /** A note that concerns only a layer that runs sparse so far (said of the others, it would only add noise). */
  onlyIfSparse?: boolean;
  /** Where the rule comes from: a document and section, a tracker thread, or a URL. */
  source: string;
}

const ALL = TARGET_IDS;
const TENSORRT: readonly TargetId[] = ['tensorrt-sm80', 'tensorrt-sm89', 'tensorrt-sm90', 'tensorrt-sm100', 'tensorrt-llm'];
const NVIDIA: readonly TargetId[] = [...TENSORRT, 'cusparselt', 'pytorch'];
const NM_TARGETS: readonly TargetId[] = [...NVIDIA, 'ascend-atc'];
const GEMM_OPS = new Set(['MatMul', 'Gemm', 'MatMulInteger', 'QLinearMatMul', 'QGemm', 'FusedMatMul', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'GemmFloat8', 'MatMulNBits']);

/** The pattern the target's sparse kernels need for the layer's compute type, or undefined when it has none. */
export function neededPattern(f: DeployFacts, target: DeployTarget): string | undefined {
  return target.patterns[f.compute];
}

const COMPUTE_WORDS: Record<DeployCompute, string> = {
  float32: 'float32 (TF32 on tensor cores)',
  float16: 'float16',
  bfloat16: 'bfloat16',
  int8: 'int8',
  fp8: 'fp8',
  fp4: 'fp4 (e2m1)',
  int4: '4-bit integer',
  other: 'this type',
};

/** The profile's peak class for a compute type (profiles.ts keeps float16, int8 and float32 rows). */
function peakOf(profile: HardwareProfile, compute: DeployCompute) {
  return compute === 'float32' ? profile.peaks.float32 : compute === 'float16' || compute === 'bfloat16' ? profile.peaks.float16 : profile.peaks.int8;
}

const us = (seconds: number) => `${Number((seconds * 1e6).toPrecision(3))} us`;

const ruleList: DeployRule[] = [
  {
    id: 'ineligible',
    targets: ALL,
    stage: 'pattern',
    when: (f) => !f.eligible,
    // Repeated for every target: a long reason (an error quoting a file's path) is cut here, whole in the layer's own.
    reason: (f) => `not a layer that can carry sparsity: ${f.reason === null || f.reason === undefined ? 'ineligible' : f.reason.length > 240 ? `${f.reason.slice(0, 200)}… (the layer's reason has it whole)` : f.reason}`,
    source: 'domain.md §2 (which weights, which axis; ineligible layers and why); src/engine/sparsity/layers.ts eligibility',
  },
  {
    id: 'precision-override',
    targets: ALL,
    stage: 'note',
    when: (f) => f.overridden,
    reason: (f) => `computed as ${f.compute} (--precision ${f.precision}), stored as ${f.storedDtype}: the pattern is checked for ${f.compute}`,
    source: 'TensorRT trtexec --fp16 / --bf16 / --int8 / --fp8: float32 layers run in the reduced precision (TensorRT Developer Guide, "Reduced Precision")',
  },
  {
    id: 'ort-contrib-op',
    targets: [...TENSORRT, 'ascend-atc'],
    stage: 'deploy',
    when: (f) => f.eligible && f.domain === 'com.microsoft',
    reason: (f, c) => `${f.op} is an ONNX Runtime contrib op (com.microsoft): ${c.target.family === 'ascend' ? 'ATC' : "TensorRT's ONNX parser"} does not import it, so no sparse kernel applies`,
    fix: () => 'export the layer as standard ONNX ops (MatMul / Gemm / Conv with Q/DQ), or run it in ONNX Runtime',
    source: 'onnx/onnx-tensorrt docs/operators.md (ONNX default-domain operators only); Huawei ATC supported ONNX operator list',
  },
  {
    id: 'stored-ascend',
    targets: [...NVIDIA, 'intel-xeon'],
    stage: 'deploy',
    when: (f) => f.stored === 'ascend',
    reason: () => 'the weight is stored in the Ascend compressed form (Conv2DCompress / MatMulV2Compress / FCCompress): only Ascend reads it',
    fix: () => 'sparsity-lens decompress MODEL (the dense pruned model), then deploy that',
    source: "this tool's Ascend format (README, \"convert --mode ascend\"); domain.md §4.1 (GE's CompressOp and *Compress ops)",
  },
  {
    id: 'compute-unsupported',
    targets: NM_TARGETS,
    stage: 'pattern',
    when: (f, c) => f.eligible && neededPattern(f, c.target) === undefined,
    reason: (f, c) =>
      c.target.family === 'ascend'
        ? `ATC compresses int8 weights only; this layer computes in ${COMPUTE_WORDS[f.compute]}`
        : `${c.target.name} has no sparse kernel for ${COMPUTE_WORDS[f.compute]} weights; it takes ${Object.keys(c.target.patterns).join(', ')}`,
    fix: (f, c) =>
      c.target.family === 'ascend'
        ? 'quantize the weight to int8 (AMCT 2:4 pruning with quantization-aware training) and convert with ATC --sparsity=1'
        : f.compute === 'fp8' || f.compute === 'fp4'
          ? `build for a GPU generation that has ${COMPUTE_WORDS[f.compute]} sparse tensor cores, or --precision fp16`
          : 'build the engine in a precision the sparse kernels take (e.g. --precision fp16 / trtexec --fp16)',
    source: 'NVIDIA cuSPARSELt docs, cusparseLtSparsity_t and "Key features" (data types and SM architectures); Huawei ATC --sparsity (int8 weights only)',
  },
  {
    id: 'pattern-missing',
    targets: NM_TARGETS,
    stage: 'pattern',
    when: (f, c) => {
      const needed = neededPattern(f, c.target);
      return f.eligible && f.scanned && needed !== undefined && !f.patterns[needed];
    },
    reason: (f, c) => {
      const needed = neededPattern(f, c.target)!;
      const held = Object.entries(f.patterns).filter(([, ok]) => ok).map(([p]) => p);
      const tf32 = f.compute === 'float32' ? ': TF32 sparse tensor cores keep 1 of every 2 weights' : '';
      const paired = f.compute === 'fp4' ? ': e2m1 sparse tensor cores keep 4 of every 8 weights in pairs' : '';
      return `${COMPUTE_WORDS[f.compute]} needs ${needed}${tf32}${paired}; the weight holds ${held.length ? held.join(', ') : 'none of the standard patterns'} along K`;
    },
    fix: (f, c) => {
      const needed = neededPattern(f, c.target)!;
      const half = f.compute === 'float32' && f.patterns['2:4'] ? ', or build in half precision (--precision fp16, trtexec --fp16) where the 2:4 it holds suffices' : '';
      return `sparsity-lens convert --mode prune --pattern ${needed}${half}`;
    },
    source: 'NVIDIA cuSPARSELt docs, cusparseLtSparsity_t (1:2 for float/TF32, 2:4 for half, bfloat16, int8, e4m3, e5m2, paired 4:8 for e2m1); PTX ISA "Sparse matrix storage"',
  },
  {
    id: 'fp4-pairing',
    targets: NVIDIA,
    stage: 'note',
    onlyIfSparse: true,
    when: (f, c) => f.eligible && f.compute === 'fp4' && neededPattern(f, c.target) === '4:8' && f.patterns['4:8'] === true,
    reason: () => 'e2m1 needs paired 4:8 (kept weights in adjacent pairs): this tool checks 4:8, not the pairing',
    source: 'NVIDIA cuSPARSELt docs, cusparseLtSparsity_t ("paired 4:8 for e2m1")',
  },
  {
    id: 'no-sparse-cores',
    targets: NVIDIA,
    stage: 'pattern',
    when: (f, c) => f.eligible && !!c.profile && (c.profile.sparsity !== 'nm24' || peakOf(c.profile, f.compute).sparse <= peakOf(c.profile, f.compute).dense),
    reason: (f, c) =>
      c.profile!.sparsity !== 'nm24'
        ? `the hardware profile '${c.profile!.name}' (${c.profile!.description}) has no 2:4 sparse tensor cores`
        : `the hardware profile '${c.profile!.name}' has no sparse tensor-core gain for ${COMPUTE_WORDS[f.compute]} (sparse peak = dense peak), as on GPUs before Ampere (SM < 80)`,
    fix: () => 'deploy on a GPU with sparse tensor cores (Ampere SM80 or later), or choose its profile with --hardware',
    source: 'NVIDIA A100 Tensor Core GPU Architecture whitepaper (sparse tensor cores are new in Ampere); cuSPARSELt docs (SM 8.0 and later)',
  },
  {
    id: 'ascend-ops',
    targets: ['ascend-atc'],
    stage: 'deploy',
    when: (f) => f.eligible && !((f.conv2d && f.group === 1 && f.domain === '') || ((f.op === 'MatMul' || f.op === 'Gemm') && f.domain === '') || f.stored === 'ascend'),
    reason: (f) =>
      f.convolution && f.group > 1
        ? `ATC compresses ungrouped convolutions only (group=${f.group})`
        : `ATC compresses Conv2D, MatMulV2 and FullyConnection weights only, not ${f.op}${f.convolution && !f.conv2d ? ' (not a 2-D convolution)' : ''}: ATC raises no error and the layer runs dense`,
    source: 'Huawei CANN ATC parameter --sparsity (Conv2D / MatMulV2 / FullyConnection, ungrouped); domain.md §4.1',
  },
  {
    id: 'ascend-products',
    targets: ['ascend-atc'],
    stage: 'note',
    onlyIfSparse: true,
    when: (f) => f.eligible,
    reason: () => 'only on Atlas A2/A3 and Atlas 200I/500 A2: on other Ascend products ATC raises no error and gives no gain',
    source: 'Huawei CANN ATC parameter --sparsity, "Applicable Products"; AMCT "2:4 structured sparsity" (no gain on Atlas inference/training series)',
  },
  {
    id: 'grouped-conv',
    targets: NVIDIA,
    stage: 'deploy',
    when: (f) => f.eligible && f.convolution && f.group > 1,
    reason: (f) => `${f.depthwise ? 'depthwise' : 'grouped'} convolution (group=${f.group}): the sparse convolution kernels are for ungrouped convolutions; it runs dense`,
    fix: () => 'none for this layer: sparsity pays off on the ungrouped (pointwise and full) convolutions',
    source: 'NVIDIA/TensorRT #4054 (maintainer: TensorRT does not consider sparse conv kernels for group convs); Huawei ATC --sparsity (ungrouped layers only)',
  },
  {
    id: 'pytorch-linear-only',
    targets: ['pytorch'],
    stage: 'deploy',
    when: (f) => f.eligible && !GEMM_OPS.has(f.op),
    reason: (f) => `PyTorch semi-structured tensors accelerate Linear layers (mm / addmm / linear) only: ${f.op} runs dense`,
    source: 'PyTorch torch.sparse.to_sparse_semi_structured (supported ops: mm, addmm, linear; torch/sparse/_semi_structured_ops.py)',
  },
  {
    id: 'pytorch-shape',
    targets: ['pytorch'],
    stage: 'deploy',
    when: (f) => shapeProblem(f, PYTORCH_CUTLASS) !== undefined,
    reason: (f) => `PyTorch (CUTLASS backend) refuses this ${f.compute} weight: ${shapeProblem(f, PYTORCH_CUTLASS)}`,
    fix: (f) => `pad the layer to multiples of ${PYTORCH_CUTLASS[f.compute]!.join(' x ')} (rows x cols), or leave it dense`,
    source: 'PyTorch SparseSemiStructuredTensorCUTLASS._DTYPE_SHAPE_CONSTRAINTS (torch/sparse/semi_structured.py): int8 16 x 128, float16/bfloat16 32 x 64, float32 32 x 32',
  },
  {
    id: 'cusparselt-shape',
    targets: ['cusparselt'],
    stage: 'deploy',
    when: (f) => shapeProblem(f, CUSPARSELT) !== undefined,
    reason: (f) => `cuSPARSELt (as PyTorch drives it) refuses this ${f.compute} weight: ${shapeProblem(f, CUSPARSELT)}`,
    fix: (f) => `pad the layer to multiples of ${CUSPARSELT[f.compute]!.join(' x ')} (rows x cols), or leave it dense`,
    source: 'PyTorch SparseSemiStructuredTensorCUSPARSELT._DTYPE_SHAPE_CONSTRAINTS: int8 / e4m3 32 x 32, float16/bfloat16 16 x 16, float32 8 x 8; cuSPARSELt docs, cusparseLtStructuredDescriptorInit (alignment)',
  },
  {
    id: 'k-axis-transpose',
    targets: NM_TARGETS,
    stage: 'note',
    when: (f, c) => {
      const needed = neededPattern(f, c.target);
      return f.eligible && f.scanned && f.transposed && needed !== undefined && !f.patterns[needed];
    },
    reason: (f) => `the weight reaches the layer through a Transpose: K is axis ${f.kAxis} of the stored tensor; a pruner that grouped along the stored tensor's last axis pruned the wrong axis`,
    fix: (f, c) => `sparsity-lens convert --mode prune --pattern ${neededPattern(f, c.target)} (groups along K, axis ${f.kAxis} of the stored tensor)`,
    source: 'domain.md §2 (Transpose remaps K through perm; ASP and Polygraphy group along the same K)',
  },
  {
    id: 'qdq-zero-point',
    targets: TENSORRT,
    stage: 'deploy',
    when: (f) => f.eligible && f.nonZeroZeroPoint,
    reason: () => 'the weight is quantized with a non-zero zero point: TensorRT supports symmetric quantization only (zero point 0), so this Q/DQ layer is not built as given',
    fix: () => 're-quantize the weight symmetrically (zero point 0), e.g. with NVIDIA Model Optimizer, then prune the integer codes',
    source: 'NVIDIA TensorRT Developer Guide, "Explicit Quantization" (only symmetric quantization: zero point must be 0)',
  },
  {
    id: 'qdq-axis',
    targets: TENSORRT,
    stage: 'deploy',
    when: (f) => f.eligible && f.quantizedAlongK,
    reason: (f) => `the weight's DequantizeLinear quantizes along K (axis ${f.kAxis}), one scale per input channel: TensorRT takes per-channel weight scales along the output channels only`,
    fix: () => 're-quantize per output channel (the DequantizeLinear axis on the output-feature axis)',
    source: 'NVIDIA TensorRT Developer Guide, "Explicit Quantization" (weights: per-tensor or per-channel along the output-channel axis)',
  },
  {
    id: 'stored-portable',
    targets: TENSORRT,
    stage: 'note',
    when: (f) => f.stored === 'portable',
    reason: () => "the weight is stored in this tool's portable compressed form: a decode graph rebuilds it at load time; whether the TensorRT builder folds it to a constant before it looks for sparse weights is not checked",
    fix: () => 'sparsity-lens decompress MODEL (the dense pruned model) before building the engine',
    source: 'this tool\'s portable format (README, "The portable compressed format"); NVIDIA TensorRT Developer Guide, "Structured Sparsity" (sparsity is detected on build-time constant weights)',
  },
  {
    id: 'gemm-plugin',
    targets: ['tensorrt-llm'],
    stage: 'deploy',
    when: (f) => f.eligible && GEMM_OPS.has(f.op),
    reason: () => "built with TensorRT-LLM's GEMM plugin (trtllm-build --gemm_plugin auto / float16, as this verdict assumes), GEMMs run in cuBLASLt outside TensorRT's tactic selection: no sparse kernel is chosen",
    fix: () => 'build without the GEMM plugin (trtllm-build --gemm_plugin disable) and with --weight_sparsity',
    source: 'NVIDIA/Model-Optimizer #1974 (--gemm_plugin auto --weight_sparsity: GEMMs routed to cuBLASLt, the dense path), #603; NVIDIA/TensorRT-LLM #1559, #1913',
  },
  {
    id: 'intel-block',
    targets: ['intel-xeon'],
    stage: 'pattern',
    when: (f) => f.eligible && f.scanned && !(f.blocks4x1 !== null && f.blocks4x1 > 0),
    reason: () => "no all-zero 4x1 blocks: Neural Compressor's Xeon kernels skip whole blocks (4 output channels x 1 input), N:M sparsity alone gains nothing there",
    fix: () => 'prune to 4x1 blocks with Intel Neural Compressor (pattern "4x1")',
    source: 'Intel Neural Compressor, "Pruning" (NxM block patterns, 4x1); domain.md §1 (block sparsity), §6 (DLRM INT8 1.6x on Xeon)',
  },
  {
    id: 'not-timed',
    targets: TENSORRT,
    stage: 'note',
    onlyIfSparse: true,
    when: (_f, c) => c.times === null,
    reason: (_f, c) => `not timed: ${c.untimed}; TensorRT keeps the sparse kernel only where it is faster`,
    source: 'this tool: the projection (README, "Projected speedup") decides the timing rule only where it has times',
  },
  {
    id: 'dense-faster',
    targets: TENSORRT,
    stage: 'timing',
    when: (_f, c) => c.times !== null && !(c.times.sparse < c.times.dense),
    reason: (_f, c) => `dense is faster here (projected dense ${us(c.times!.dense)}, sparse ${us(c.times!.sparse)} on ${c.profile?.name ?? '?'}): TensorRT times both tactics and keeps the faster (small channels, memory-bound at this batch, decode GEMV)`,
    fix: () => 'larger batch or sequence (--batch), or leave the layer dense',
    source: 'NVIDIA TensorRT Developer Guide, "Structured Sparsity" (sparse tactics are timed like any other); NVIDIA/TensorRT #2169 (dense faster, so TensorRT keeps it), #3849 (sparse conv faster only from C and K of about 256), #1403, #2310, #4065 (no or small gains)',
  },
];

/** Shape limits as [rows, cols] minima that are also multiples, per compute type. */
type ShapeLimits = Partial<Record<DeployCompute, [number, number]>>;
const PYTORCH_CUTLASS: ShapeLimits = { int8: [16, 128], float16: [32, 64], bfloat16: [32, 64], float32: [32, 32] };
const CUSPARSELT: ShapeLimits = { int8: [32, 32], fp8: [32, 32], float16: [16, 16], bfloat16: [16, 16], float32: [8, 8] };

/** Why the weight's [rows, cols] break the limits (each at least, and a multiple of, its minimum), or undefined. */
function shapeProblem(f: DeployFacts, limits: ShapeLimits): string | undefined {
  const limit = limits[f.compute];
  if (!f.eligible || !limit || f.rows === null || f.cols === null) return undefined;
  const [minRows, minCols] = limit;
  const bad: string[] = [];
  if (f.rows < minRows || f.rows % minRows !== 0) bad.push(`rows (output features) ${f.rows} not a multiple of ${minRows}`);
  if (f.cols < minCols || f.cols % minCols !== 0) bad.push(`cols (K) ${f.cols} not a multiple of ${minCols}`);
  return bad.length ? `${bad.join(', ')} (each must be at least and a multiple of ${minRows} x ${minCols})` : undefined;
}

export const RULES: readonly DeployRule[] = ruleList;

const byTarget = new Map<TargetId, readonly DeployRule[]>();

/** The rules that apply to a target, in table order (made once per target: evaluate asks for every layer). */
export function rulesFor(target: TargetId): readonly DeployRule[] {
  let rules = byTarget.get(target);
  if (!rules) byTarget.set(target, (rules = RULES.filter((r) => r.targets.includes(target))));
  return rules;
}

