// Hardware profiles for the speedup projection, as data with their sources (domain.md §6). Peak numbers are the
// vendors' published datasheet figures unless `assumed` says otherwise; efficiencies and host overheads are this
// tool's model constants, fitted once for the A100 against published measurements (README, "Calibration") and
// carried over to the other NVIDIA profiles as assumptions.

/** Peak math throughput in tera-operations per second (a multiply-add counts as 2). */
export interface Peak {
  dense: number;
  /** With 2:4 structured sparsity (NVIDIA sparse tensor cores); for 'block' profiles, unused. */
  sparse: number;
}

export interface HardwareProfile {
  name: string;
  description: string;
  /** 'nm24': NVIDIA-style 2:4 sparse tensor cores; 'block': software block sparsity (Intel Neural Compressor). */
  sparsity: 'nm24' | 'block';
  /** Peak by the weight's compute type: float16 (also bfloat16), int8 (also fp8 where the profile has it), float32. */
  peaks: Record<'float16' | 'int8' | 'float32', Peak>;
  /** Memory bandwidth, GB/s. */
  bandwidth: number;
  /** Fraction of dense peak math a well-shaped dense GEMM reaches. */
  denseEfficiency: number;
  /** Fraction of sparse peak math a well-shaped sparse GEMM reaches. */
  sparseEfficiency: number;
  /** GEMM rows (tokens x batch) at which sparse kernels reach half their efficiency: small GEMMs gain less. */
  sparseHalfRows: number;
  /** Fraction of bandwidth memory-bound kernels reach. */
  memoryEfficiency: number;
  /** Host time to launch one op (framework dispatch + launch), microseconds; overlaps with device time. */
  hostOverheadUs: number;
  /** Extra host time per sparse op (sparse tensor dispatch, metadata checks), microseconds. */
  sparseHostOverheadUs: number;
  /** Block profiles: speedup of block-sparse math per unit of zero blocks, at 100 % efficiency. */
  blockSparseEfficiency?: number;
  sources: string[];
  /** Which numbers are assumptions rather than published or fitted figures. */
  assumed: string[];
}

/** Model constants fitted on the A100 calibration cases (README): one set for every case. */
const NVIDIA_MODEL = {
  denseEfficiency: 0.7,
  sparseEfficiency: 0.55,
  sparseHalfRows: 256,
  memoryEfficiency: 0.8,
  hostOverheadUs: 8,
  sparseHostOverheadUs: 14,
};

const NVIDIA_ASSUMED = ['efficiencies and host overheads fitted on the A100 and carried over (not measured on this device)'];

export const PROFILES: Record<string, HardwareProfile> = {
  a100: {
    name: 'a100',
    description: 'NVIDIA A100 SXM4 80 GB',
    sparsity: 'nm24',
    peaks: { float16: { dense: 312, sparse: 624 }, int8: { dense: 624, sparse: 1248 }, float32: { dense: 156, sparse: 312 } },
    bandwidth: 2039,
    ...NVIDIA_MODEL,
    sources: ['NVIDIA A100 Tensor Core GPU datasheet (FP16/BF16 312/624 TFLOPS, INT8 624/1248 TOPS, TF32 156/312, 2039 GB/s)'],
    assumed: ['float32 weights run as TF32 on tensor cores'],
  },
  h100: {
    name: 'h100',
    description: 'NVIDIA H100 SXM5 80 GB',
    sparsity: 'nm24',
    peaks: { float16: { dense: 989.4, sparse: 1978.9 }, int8: { dense: 1978.9, sparse: 3957.8 }, float32: { dense: 494.7, sparse: 989.4 } },
    bandwidth: 3350,
    ...NVIDIA_MODEL,
    sources: ['NVIDIA H100 Tensor Core GPU datasheet (FP16/BF16 989.4/1978.9 TFLOPS, FP8/INT8 1978.9/3957.8, TF32 494.7/989.4, 3.35 TB/s)'],
    assumed: [...NVIDIA_ASSUMED, 'float32 weights run as TF32 on tensor cores'],
  },
  b200: {
    name: 'b200',
    description: 'NVIDIA B200 (HGX B200, one GPU)',
    sparsity: 'nm24',
    peaks: { float16: { dense: 2250, sparse: 4500 }, int8: { dense: 4500, sparse: 9000 }, float32: { dense: 1100, sparse: 2200 } },
    bandwidth: 8000,
    ...NVIDIA_MODEL,
    sources: ['NVIDIA HGX B200 / DGX B200 datasheets, per GPU (FP16/BF16 2.25/4.5 PFLOPS, FP8/INT8 4.5/9 POPS, TF32 1.1/2.2, HBM3e 8 TB/s; dense is half the sparse figure)'],
    assumed: [...NVIDIA_ASSUMED, 'per-GPU peaks are the 8-GPU HGX figures divided by 8 (the datasheet gives sparse figures; dense taken as half)', 'FP4 (e2m1) runs at the int8 peak here: the profile has no FP4 row'],
  },
  l4: {
    name: 'l4',
    description: 'NVIDIA L4 24 GB',
    sparsity: 'nm24',
    peaks: { float16: { dense: 121, sparse: 242 }, int8: { dense: 242.5, sparse: 485 }, float32: { dense: 60, sparse: 120 } },
    bandwidth: 300,
    ...NVIDIA_MODEL,
    sources: ['NVIDIA L4 Tensor Core GPU datasheet (FP16 242, INT8 485, TF32 120 with sparsity; dense is half; 300 GB/s)'],
    assumed: [...NVIDIA_ASSUMED],
  },
  orin: {
    name: 'orin',
    description: 'NVIDIA Jetson AGX Orin 64 GB (GPU only)',
    sparsity: 'nm24',
    peaks: { float16: { dense: 42.5, sparse: 85 }, int8: { dense: 85, sparse: 170 }, float32: { dense: 21.25, sparse: 42.5 } },
    bandwidth: 204.8,
    ...NVIDIA_MODEL,
    sources: ['NVIDIA Jetson AGX Orin series technical brief (GPU 170 sparse INT8 TOPS of the module\'s 275; LPDDR5 204.8 GB/s)'],
    assumed: [...NVIDIA_ASSUMED, 'FP16 and TF32 peaks derived as 1/2 and 1/4 of the INT8 peak'],
  },
  'ascend-a2': {
    name: 'ascend-a2',
    description: 'Huawei Ascend 910B (Atlas 800T A2)',
    sparsity: 'nm24',
    peaks: { float16: { dense: 313, sparse: 626 }, int8: { dense: 626, sparse: 1252 }, float32: { dense: 78, sparse: 78 } },
    bandwidth: 1600,
    ...NVIDIA_MODEL,
    sources: ['Huawei Atlas 800T A2 / Ascend 910B public specifications (FP16 ~313 TFLOPS, INT8 ~626 TOPS)', 'ATC --sparsity=1 documentation (2:4 on int8 weights)'],
    assumed: [
      'Huawei publishes no 2:4 sparse peak: sparse = 2 x dense is assumed',
      'HBM bandwidth 1.6 TB/s is assumed',
      'efficiencies and host overheads carried over from the A100 fit',
      'ATC compresses int8 weights only: other layers get no sparse time here (deploy rule compute-unsupported)',
    ],
  },
  'cpu-xeon': {
    name: 'cpu-xeon',
    description: 'Intel Xeon (4th gen, 56 cores, AMX), software block sparsity (Intel Neural Compressor)',
    sparsity: 'block',
    peaks: { float16: { dense: 218, sparse: 218 }, int8: { dense: 436, sparse: 436 }, float32: { dense: 6.8, sparse: 6.8 } },
    bandwidth: 307,
    denseEfficiency: 0.5,
    sparseEfficiency: 0.5,
    sparseHalfRows: 0,
    memoryEfficiency: 0.7,
    hostOverheadUs: 2,
    sparseHostOverheadUs: 0,
    blockSparseEfficiency: 0.6,
    sources: ['Intel Neural Compressor: DLRM INT8 1.6x (sparse INT8 over dense INT8) with block sparsity on Xeon', 'Intel Xeon 4th gen: AMX 2048 INT8 ops/cycle/core; 8 channels DDR5-4800'],
    assumed: ['peaks from 56 cores at 1.9 GHz', 'block sparse efficiency 0.6 chosen so a 4x1 layer at 80 % zero blocks gains about 1.6x on math; not calibrated'],
  },
};

export function profileNames(): string[] {
  return Object.keys(PROFILES);
}

/** A profile by name, or from a user JSON object (validated: required numbers positive, optional ones >= 0). */
export function resolveProfile(spec: string | HardwareProfile): HardwareProfile | string {
  if (typeof spec === 'string') {
    const found = PROFILES[spec.toLowerCase()];
    return found ?? `unknown hardware profile '${spec}'; known: ${profileNames().join(', ')}, or a JSON file`;
  }
  const p = spec as Partial<HardwareProfile>;
  if (p.sparsity !== undefined && p.sparsity !== 'nm24' && p.sparsity !== 'block') return `hardware profile: 'sparsity' must be "nm24" or "block", not ${JSON.stringify(p.sparsity)}`;
  p.sparsity ??= 'nm24';
  const numbers: [string, unknown][] = [
    ['bandwidth', p.bandwidth],
    ['denseEfficiency', p.denseEfficiency],
    ['sparseEfficiency', p.sparseEfficiency],
    ['memoryEfficiency', p.memoryEfficiency],
    ['peaks.float16.dense', p.peaks?.float16?.dense],
    ['peaks.float16.sparse', p.peaks?.float16?.sparse],
    ['peaks.int8.dense', p.peaks?.int8?.dense],
    ['peaks.int8.sparse', p.peaks?.int8?.sparse],
    ['peaks.float32.dense', p.peaks?.float32?.dense],
    ['peaks.float32.sparse', p.peaks?.float32?.sparse],
  ];
  for (const [field, value] of numbers) {
    if (typeof value !== 'number' || !(value > 0 && Number.isFinite(value))) return `hardware profile: '${field}' must be a positive number`;
  }
  const optional: [string, unknown][] = [
    ['sparseHalfRows', p.sparseHalfRows],
    ['hostOverheadUs', p.hostOverheadUs],
    ['sparseHostOverheadUs', p.sparseHostOverheadUs],
    ['blockSparseEfficiency', p.blockSparseEfficiency],
  ];
  for (const [field, value] of optional) {
    // Left out, these default (0, or 1 for blockSparseEfficiency); given, a negative one would make time negative.
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0 && Number.isFinite(value)))) return `hardware profile: '${field}' must be a number >= 0`;
  }
  return {
    name: p.name ?? 'custom',
    description: p.description ?? 'user-defined profile',
    sparsity: p.sparsity as 'nm24' | 'block',
    peaks: p.peaks!,
    bandwidth: p.bandwidth!,
    denseEfficiency: p.denseEfficiency!,
    sparseEfficiency: p.sparseEfficiency!,
    sparseHalfRows: p.sparseHalfRows ?? 0,
    memoryEfficiency: p.memoryEfficiency!,
    hostOverheadUs: p.hostOverheadUs ?? 0,
    sparseHostOverheadUs: p.sparseHostOverheadUs ?? 0,
    blockSparseEfficiency: p.blockSparseEfficiency,
    sources: p.sources ?? ['user-defined'],
    assumed: p.assumed ?? ['every number is the user\'s'],
  };
}
