// The deployment targets as data (issue 13): what each runtime and chip is, which hardware profile (profiles.ts)
// gives its projected times, which weight compute types its sparse kernels take and the pattern each needs, and
// where that comes from. The rules that use them are in rules.ts.
import type { TargetId } from './types';

/** The type a layer's GEMM computes in on the target: the weight's stored type unless --precision says otherwise. */
export type DeployCompute = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'fp8' | 'fp4' | 'int4' | 'other';

export interface DeployTarget {
  id: TargetId;
  /** Plain name, as the summary and the panel show it. */
  name: string;
  family: 'tensorrt' | 'tensorrt-llm' | 'cusparselt' | 'pytorch' | 'ascend' | 'intel';
  /** The hardware profile its times come from; 'hardware' = the profile chosen with --hardware (default a100). */
  profile: string;
  /** Per compute type, the N:M pattern its sparse kernels need; a type left out has no sparse kernel there. */
  patterns: Partial<Record<DeployCompute, string>>;
  /** The runtime times its dense and sparse kernels and keeps the faster (TensorRT's tactic selection). */
  timesTactics: boolean;
  products: string[];
  sources: string[];
}

/** The --hardware profile stands in for the chip where the target is a library, not a chip. */
export const HARDWARE_PROFILE = 'hardware';

// Sparse MMA on tensor cores: 2:4 for 16- and 8-bit types, 1:2 for TF32 (PTX ISA, "Sparse matrix storage";
// cuSPARSELt docs, cusparseLtSparsity_t), paired 4:8 for e2m1 on Blackwell (cuSPARSELt docs).
const AMPERE = { float32: '1:2', float16: '2:4', bfloat16: '2:4', int8: '2:4' } as const;
const ADA_HOPPER = { ...AMPERE, fp8: '2:4' } as const;
const BLACKWELL = { ...ADA_HOPPER, fp4: '4:8' } as const;

const TRT_SOURCES = [
  'NVIDIA TensorRT Developer Guide, "Structured Sparsity" (trtexec --sparsity=enable; sparse tactics are timed against dense ones)',
  'NVIDIA blog "Accelerating Inference with Sparsity Using the NVIDIA Ampere Architecture and NVIDIA TensorRT" (TF32, FP16, INT8 sparse tensor cores)',
];

export const TARGETS: Record<TargetId, DeployTarget> = {
  'tensorrt-sm80': {
    id: 'tensorrt-sm80',
    name: 'TensorRT on Ampere (SM80/86/87)',
    family: 'tensorrt',
    profile: 'a100',
    patterns: AMPERE,
    timesTactics: true,
    products: ['A100', 'A30', 'A10', 'A40', 'RTX A6000', 'GeForce RTX 30 series', 'Jetson AGX Orin / Orin NX / Orin Nano (SM87)'],
    sources: [...TRT_SOURCES, 'NVIDIA A100 Tensor Core GPU Architecture whitepaper (sparse tensor cores; no FP8)'],
  },
  'tensorrt-sm89': {
    id: 'tensorrt-sm89',
    name: 'TensorRT on Ada (SM89)',
    family: 'tensorrt',
    profile: 'l4',
    patterns: ADA_HOPPER,
    timesTactics: true,
    products: ['L4', 'L40S', 'RTX 6000 Ada', 'GeForce RTX 40 series'],
    sources: [...TRT_SOURCES, 'NVIDIA Ada GPU Architecture whitepaper (FP8 tensor cores with sparsity)'],
  },
  'tensorrt-sm90': {
    id: 'tensorrt-sm90',
    name: 'TensorRT on Hopper (SM90)',
    family: 'tensorrt',
    profile: 'h100',
    patterns: ADA_HOPPER,
    timesTactics: true,
    products: ['H100', 'H200', 'GH200'],
    sources: [...TRT_SOURCES, 'NVIDIA H100 Tensor Core GPU datasheet (FP16/BF16, FP8, INT8, TF32 with sparsity)'],
  },
  'tensorrt-sm100': {
    id: 'tensorrt-sm100',
    name: 'TensorRT on Blackwell (SM100/SM120)',
    family: 'tensorrt',
    profile: 'b200',
    patterns: BLACKWELL,
    timesTactics: true,
    products: ['B200', 'GB200', 'B100', 'RTX PRO 6000 Blackwell', 'GeForce RTX 50 series (SM120)'],
    sources: [...TRT_SOURCES, 'NVIDIA cuSPARSELt docs, cusparseLtSparsity_t (paired 4:8 for e2m1)'],
  },
  'tensorrt-llm': {
    id: 'tensorrt-llm',
    name: 'TensorRT-LLM on Hopper (SM90)',
    family: 'tensorrt-llm',
    profile: 'h100',
    patterns: ADA_HOPPER,
    timesTactics: true,
    products: ['H100', 'H200', 'GH200 (any GPU TensorRT-LLM builds for; times on the h100 profile)'],
    sources: ['TensorRT-LLM trtllm-build --weight_sparsity and --gemm_plugin', 'NVIDIA/TensorRT-LLM #1913', 'NVIDIA/Model-Optimizer #1974'],
  },
  cusparselt: {
    id: 'cusparselt',
    name: 'cuSPARSELt',
    family: 'cusparselt',
    profile: HARDWARE_PROFILE,
    patterns: BLACKWELL,
    timesTactics: false,
    products: ['any GPU with sparse tensor cores (SM80 and later); times on the --hardware profile'],
    sources: [
      'NVIDIA cuSPARSELt docs, cusparseLtSparsity_t: paired 4:8 for e2m1, 2:4 for half, bfloat16, int8, e4m3, e5m2, 1:2 for float',
      'PyTorch torch/sparse/_semi_structured_ops / semi_structured.py, SparseSemiStructuredTensorCUSPARSELT._DTYPE_SHAPE_CONSTRAINTS',
    ],
  },
  pytorch: {
    id: 'pytorch',
    name: 'PyTorch semi-structured sparse tensors',
    family: 'pytorch',
    profile: HARDWARE_PROFILE,
    patterns: { ...AMPERE, fp8: '2:4' },
    timesTactics: false,
    products: ['any GPU with sparse tensor cores (SM80 and later); times on the --hardware profile'],
    sources: [
      'PyTorch torch.sparse.to_sparse_semi_structured and SparseSemiStructuredTensorCUTLASS._DTYPE_SHAPE_CONSTRAINTS (torch/sparse/semi_structured.py)',
      'PyTorch torch/sparse/_semi_structured_conversions.py (float32 is kept 1:2)',
      'pytorch/pytorch #111339',
    ],
  },
  'ascend-atc': {
    id: 'ascend-atc',
    name: 'Ascend ATC --sparsity=1',
    family: 'ascend',
    profile: 'ascend-a2',
    patterns: { int8: '2:4' },
    timesTactics: false,
    products: ['Atlas A2 training / inference', 'Atlas A3 training / inference', 'Atlas 200I/500 A2 inference'],
    sources: ['Huawei CANN ATC parameter --sparsity (applicable products; int8 weights of Conv2D / MatMulV2 / FullyConnection)', 'Huawei AMCT "2:4 structured sparsity" (supported layers)'],
  },
  'intel-xeon': {
    id: 'intel-xeon',
    name: 'Intel Xeon block sparsity (Neural Compressor)',
    family: 'intel',
    profile: 'cpu-xeon',
    patterns: {},
    timesTactics: false,
    products: ['Intel Xeon (4th gen and later, AMX)'],
    sources: ['Intel Neural Compressor, "Pruning" (NxM block patterns such as 4x1; DLRM INT8 1.6x on Xeon)'],
  },
};

export function targetOf(id: TargetId): DeployTarget {
  return TARGETS[id];
}
