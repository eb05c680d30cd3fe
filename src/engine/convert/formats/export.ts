// Export as an output format: the seam of the convert formats (format.ts) — why a layer cannot take it, plan, edits,
// verification — for the kept values and index metadata the hardware reads (Ascend, domain.md §4.1; NVIDIA with
// plain and, where the shape allows, CUTLASS/PyTorch-reordered metadata, §4.2). Its edits are sidecar files, not
// model edits (export leaves the model as it is), so it is not an entry of FORMATS; export.ts runs it per layer.
import { type AscendCompressed, type NvidiaCompressed, type WeightMatrix, decodeAscend, decodeNvidia, encodeAscend, encodeNvidia, nvidiaShapeProblem } from '../../encode';
import type { DType } from '../../onnx/dtypes';
import type { LayerReport } from '../../sparsity/inspect';
import { type LayerPlan, eligibility } from '../../sparsity/layers';
import { weightMatrix } from '../matrix';

export type ExportEncoding = 'ascend' | 'nvidia';

const PATTERN = { n: 2, m: 4 };

/** One layer's weight as the encoders see it: [rows, K], K innermost. */
export interface ExportPlan {
  dims: number[];
  axis: number;
  rows: number;
  K: number;
  dtype: DType;
  weight: WeightMatrix;
}

/** The encoded streams of a layer. */
export type ExportStreams = { encoding: 'ascend'; ascend: AscendCompressed } | { encoding: 'nvidia'; plain: NvidiaCompressed; cutlass?: NvidiaCompressed };

/** One file of a layer: its name suffix, what its bytes are, and their shape and type. */
export interface ExportFileSpec {
  suffix: string;
  content: string;
  data: Uint8Array;
  dims: number[];
  dtype: string;
}

/** Why a layer is not exported, before its weight is opened (the layer itself), or undefined. */
export function whyNotLayer(plan: LayerPlan, report: LayerReport): string | undefined {
  const elig = eligibility(plan, PATTERN);
  if (!elig.eligible) return `ineligible: ${elig.reason}`;
  if (!report.pass) return `not 2:4 (${report.groups - report.validGroups} of ${report.groups} groups violate): run 'sparsity-lens convert --mode prune' first`;
  if (plan.tensor?.codes) return `${plan.op} codes are packed for ONNX Runtime's kernel: export writes plain weights`;
  return undefined;
}

/** Why a layer's weight of element type `dtype` cannot take `encoding`, or undefined. */
export function whyNotWeight(plan: LayerPlan, dtype: DType, encoding: ExportEncoding): string | undefined {
  const size = dtype.bits / 8;
  if (![1, 2, 4].includes(size) || dtype.bits === 4) return `${dtype.name} elements are not exported (1, 2 and 4-byte types are)`;
  if (plan.zeroPoint && plan.zeroPoint.values.some((z) => z !== 0) && encoding === 'nvidia') return 'non-zero zero points: NVIDIA kernels take symmetric int8 weights';
  if (encoding === 'nvidia') {
    const { rows, K } = matrixShape(plan);
    return size === 4 ? 'float32 has no 2:4 tensor-core path in this layout (fp16, bf16 and int8 do)' : nvidiaShapeProblem(rows, K, size, 'plain');
  }
  return undefined;
}

function matrixShape(plan: LayerPlan): { rows: number; K: number } {
  const dims = plan.shape!;
  const axis = plan.axis!;
  const K = dims[axis];
  return { rows: dims.reduce((x, y) => x * y, 1) / K, K };
}

/** The plan: the weight's raw bytes viewed as [rows, K]. */
export function planExport(plan: LayerPlan, dtype: DType, raw: Uint8Array): ExportPlan {
  const dims = plan.shape!;
  const axis = plan.axis!;
  return { dims, axis, ...matrixShape(plan), dtype, weight: weightMatrix(dtype, raw, dims, axis, plan.zeroPoint) };
}

export function encodeExport(p: ExportPlan, encoding: ExportEncoding): ExportStreams {
  if (encoding === 'ascend') return { encoding, ascend: encodeAscend(p.weight) };
  const weight = p.weight as Parameters<typeof encodeNvidia>[0];
  const plain = encodeNvidia(weight, 'plain');
  return { encoding, plain, ...(nvidiaShapeProblem(p.rows, p.K, p.dtype.bits / 8, 'cutlass') ? {} : { cutlass: encodeNvidia(weight, 'cutlass') }) };
}

/** The edits: the layer's files, in the order they are written. */
export function exportFiles(p: ExportPlan, s: ExportStreams): ExportFileSpec[] {
  const values = (data: Uint8Array, suffix: string): ExportFileSpec => ({ suffix, content: 'kept values, 2 per group of 4', data, dims: [p.rows, p.K / 2], dtype: p.dtype.name });
  if (s.encoding === 'ascend') {
    return [
      values(s.ascend.values, 'ascend.values.bin'),
      { suffix: 'ascend.index.bin', content: 'index[0]/index[1] 2-bit entries, 4 per byte', data: s.ascend.index, dims: [s.ascend.index.length], dtype: 'uint8' },
    ];
  }
  const word = s.plain.metaWordBytes === 2 ? 'int16' : 'int32';
  const files = [values(s.plain.values, 'nvidia.values.bin'), { suffix: 'nvidia.meta.bin', content: 'metadata, plain nibbles', data: s.plain.metadata, dims: [p.rows, s.plain.metaCols], dtype: word }];
  if (s.cutlass) files.push({ suffix: 'nvidia.meta-cutlass.bin', content: 'metadata, reordered (CUTLASS/PyTorch layout)', data: s.cutlass.metadata, dims: [p.rows, s.cutlass.metaCols], dtype: word });
  return files;
}

/**
 * Verification: each stream set decodes back to the weight (kept values exactly; every other place its row's zero,
 * which the weight holds there, as export takes layers that pass 2:4 only). A message naming the stream, or undefined.
 */
export function verifyExport(p: ExportPlan, s: ExportStreams): string | undefined {
  const { weight } = p;
  const size = weight.elementSize;
  const decoded: [string, Uint8Array][] =
    s.encoding === 'ascend'
      ? [['Ascend values and index', decodeAscend(s.ascend, weight.zero)]]
      : [['NVIDIA values and metadata', decodeNvidia(s.plain, weight.zero)], ...(s.cutlass ? [['NVIDIA CUTLASS metadata', decodeNvidia(s.cutlass, weight.zero)] as [string, Uint8Array]] : [])];
  const zeroStride = weight.zero && weight.zero.length > size ? size : 0;
  for (const [what, dense] of decoded) {
    for (let i = 0; i < weight.nonZero.length; i++) {
      const row = Math.floor(i / weight.cols);
      for (let b = 0; b < size; b++) {
        const want = weight.nonZero[i] ? weight.bytes[i * size + b] : (weight.zero?.[row * zeroStride + b] ?? 0);
        if (dense[i * size + b] !== want) return `the ${what} decode to a different element at row ${row}, column ${i % weight.cols}`;
      }
    }
  }
  return undefined;
}
