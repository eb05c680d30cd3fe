// Magnitude pruning to N:M along the reduction axis (domain.md §5): in every group the N largest |w| (or
// |q - zero_point|) survive, ties keep the earlier position, and every other non-zero becomes 0 (or the zero point).
// Elements that are already zero are never touched, so a compliant weight comes out byte-identical.
// pruneWeight streams a whole weight (slab by slab, through the SIMD kernel where it applies); pruneSlab is one slab.
import { CancelledError } from '../errors';
import { type DType, dtypeById } from '../onnx/dtypes';
import { PackedCodesReader, repackCodes, unpackCodes } from '../onnx/packedCodes';
import type { ElementReader } from '../onnx/tensorData';
import type { Out } from '../onnx/writer';
import { type ZeroPoint, toMagnitudes, zeroPointLookup } from '../sparsity/decode';
import { type ShapeInfo, kAlignment } from '../sparsity/kernel';
import type { Pattern } from '../sparsity/pattern';
import { pruneReadSimd, pruneSlabSimd, simdApplies } from '../sparsity/simd/simdScan';

export interface PruneTotals {
  /** Sum of all magnitudes, and of the magnitudes that survive. */
  sumMagnitude: number;
  keptMagnitude: number;
  /** Elements set to zero. */
  pruned: number;
}

export function emptyTotals(): PruneTotals {
  return { sumMagnitude: 0, keptMagnitude: 0, pruned: 0 };
}

const SLAB_ELEMENTS = 1 << 20;

/** The weight being pruned: its geometry, its zero point, and whether it is a folded product. */
export interface WeightToPrune {
  shape: ShapeInfo;
  dims: readonly number[];
  zeroPoint: ZeroPoint | undefined;
  /** A folded product (W x a 0/1 mask): its -0.0 are written back as +0.0. */
  folded: boolean;
}

/** Streams a weight's pruned bytes (raw, little-endian, or its packed codes) to `sink`, slab by slab. */
export function pruneWeight(reader: ElementReader, weight: WeightToPrune, totals: PruneTotals, sink: Out, progress: (n: number) => void, signal?: AbortSignal): void {
  const { A, K, B, pattern } = weight.shape;
  const { dims, zeroPoint } = weight;
  const dtype = reader.dtype;
  // A folded product (W x a 0/1 mask) holds -0.0 where W is negative and the mask 0: written back into W as +0.0,
  // so that pruning does not leave the bits fragile sparsity warns about.
  const out = weight.folded ? positiveZeros(sink, dtype) : sink;
  const scratch = { mags: new Float64Array(0), single: new Float32Array(0) };
  if (reader instanceof PackedCodesReader) {
    out.write(prunedCodeBytes(reader, dims, pattern, zeroPoint, totals));
    progress(reader.count);
    return;
  }
  if (dtype.bits === 4) {
    // Two elements per byte: one slab, so that no slab starts on a high nibble.
    const bytes = reader.read(0, reader.count).bytes.slice();
    for (let a = 0; a < A; a++) {
      const first = a * K * B;
      pruneSlab(dtype, bytes.subarray(Math.floor(first / 2)), first & 1, K, B, pattern, first, dims, zeroPoint, totals, scratch);
    }
    out.write(bytes);
    progress(reader.count);
    return;
  }
  const align = kAlignment(pattern.m);
  const height = K * B <= SLAB_ELEMENTS ? K : Math.max(align, Math.floor(SLAB_ELEMENTS / Math.max(1, B) / align) * align);
  const simd = simdApplies(dtype.name, pattern, zeroPoint);
  for (let a = 0; a < A; a++) {
    for (let k0 = 0; k0 < K; k0 += height) {
      if (signal?.aborted) throw new CancelledError();
      const h = Math.min(height, K - k0);
      const first = (a * K + k0) * B;
      if (simd) {
        // Read into the kernel's memory, pruned there, written from there.
        pruneReadSimd(reader, first, h, B, pattern.n, totals, out, zeroPoint);
        progress(h * B);
        continue;
      }
      const run = reader.read(first, h * B);
      pruneSlab(dtype, run.bytes, 0, h, B, pattern, first, dims, zeroPoint, totals, scratch);
      out.write(run.bytes);
      progress(h * B);
    }
  }
}

/** An Out that writes each float -0.0 as +0.0 (16 and 32-bit floats; other types pass through). */
function positiveZeros(out: Out, dtype: { name: string; bits: number }): Out {
  if (dtype.name !== 'float32' && dtype.name !== 'float16' && dtype.name !== 'bfloat16') return out;
  return {
    write(bytes: Uint8Array) {
      const copy = bytes.slice();
      const view = new DataView(copy.buffer);
      if (dtype.bits === 32) {
        for (let i = 0; i + 4 <= copy.length; i += 4) if (view.getUint32(i, true) === 0x80000000) view.setUint32(i, 0, true);
      } else {
        for (let i = 0; i + 2 <= copy.length; i += 2) if (view.getUint16(i, true) === 0x8000) view.setUint16(i, 0, true);
      }
      out.write(copy);
    },
  };
}

// Bit-packed codes (MatMulNBits, QMoE) are pruned in the code domain: unpacked one byte each, pruned as uint8 against
// their blocks' zero points (pruned codes become the zero point), and written back packed into a copy of the stored
// bytes. Padding codes beyond K are no weights: they stay as they were.
/** The pruned stored bytes of the codes `reader` views ([..., K], K a multiple of M: the layer is eligible). */
export function prunedCodeBytes(reader: PackedCodesReader, dims: readonly number[], pattern: Pattern, zeroPoint: ZeroPoint | undefined, totals: PruneTotals): Uint8Array {
  const { K } = reader.codes;
  const stored = reader.stored.read(0, reader.stored.count).bytes.slice();
  const rows = reader.count / K;
  const values = unpackCodes(stored, reader.codes, rows);
  const uint8 = dtypeById(2)!;
  const scratch = { mags: new Float64Array(0), single: new Float32Array(0) };
  // One row of K codes per slab: K is the reduction axis and the last, so lanes B = 1.
  for (let r = 0; r < rows; r++) pruneSlab(uint8, values.subarray(r * K, (r + 1) * K), 0, K, 1, pattern, r * K, dims, zeroPoint, totals, scratch);
  return repackCodes(stored, values, reader.codes, rows);
}

/** Sets element `index` (of a run starting at `nibble` for 4-bit types) to the zero of its type. */
function zeroElement(dtype: DType, bytes: Uint8Array, view: DataView, index: number, nibble: number, zeroPoint: number): void {
  switch (dtype.bits) {
    case 4: {
      const at = index + nibble;
      const shift = (at & 1) * 4;
      bytes[at >> 1] = (bytes[at >> 1] & ~(0xf << shift)) | ((zeroPoint & 0xf) << shift);
      return;
    }
    case 8:
      bytes[index] = zeroPoint & 0xff;
      return;
    case 16:
      view.setUint16(index * 2, zeroPoint & 0xffff, true);
      return;
    case 32:
      view.setInt32(index * 4, zeroPoint | 0, true);
      return;
    default:
      view.setBigInt64(index * 8, BigInt(zeroPoint), true);
  }
}

/**
 * Prunes one slab in place: raw bytes of `h` K-rows x `B` lanes (row-major, K the slower axis) of a weight whose
 * first element here is element `first` of the tensor. `h` is a multiple of M.
 */
export function pruneSlab(
  dtype: DType,
  bytes: Uint8Array,
  nibble: number,
  h: number,
  B: number,
  pattern: Pattern,
  first: number,
  dims: readonly number[],
  zeroPoint: ZeroPoint | undefined,
  totals: PruneTotals,
  scratch: { mags: Float64Array; single: Float32Array },
): void {
  if (nibble === 0 && simdApplies(dtype.name, pattern, zeroPoint)) {
    pruneSlabSimd(dtype.name, bytes.subarray(0, h * B * (dtype.bits / 8)), h, B, pattern.n, totals, zeroPoint);
    return;
  }
  pruneSlabReference(dtype, bytes, nibble, h, B, pattern, first, dims, zeroPoint, totals, scratch);
}

/** The plain TypeScript pruning pass: every type and pattern; the SIMD kernel must agree with it (test/simd.test.ts). */
export function pruneSlabReference(
  dtype: DType,
  bytes: Uint8Array,
  nibble: number,
  h: number,
  B: number,
  pattern: Pattern,
  first: number,
  dims: readonly number[],
  zeroPoint: ZeroPoint | undefined,
  totals: PruneTotals,
  scratch: { mags: Float64Array; single: Float32Array },
): void {
  const count = h * B;
  let mags: Float32Array | Float64Array;
  const zp = zeroPointLookup(zeroPoint, dims);
  if (dtype.name === 'float64' || dtype.name === 'int32') {
    // Full precision: near-ties between doubles, or int32 values beyond 2^24, are decided by their true order.
    if (scratch.mags.length < count) scratch.mags = new Float64Array(count);
    mags = scratch.mags;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) {
      const v = dtype.name === 'int32' ? view.getInt32(i * 4, true) - zp(first + i) : view.getFloat64(i * 8, true);
      mags[i] = v === v ? Math.abs(v) : Number.MIN_VALUE;
    }
  } else {
    // Every other weight type's magnitude is exact in float32.
    if (scratch.single.length < count) scratch.single = new Float32Array(count);
    mags = scratch.single;
    toMagnitudes(dtype, { bytes, nibble }, count, mags, first, dims, zeroPoint);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { n, m } = pattern;
  let sumAll = 0;
  let keptAll = 0;
  // Group rows outermost, lanes inner: the M rows of a group row are read along contiguous lanes.
  for (let g0 = 0; g0 < h; g0 += m) {
    const row = g0 * B;
    for (let b = 0; b < B; b++) {
      let sum = 0;
      let nonZero = 0;
      for (let j = 0; j < m; j++) {
        const v = mags[row + j * B + b];
        sum += v;
        if (v !== 0) nonZero++;
      }
      sumAll += sum;
      if (nonZero <= n) {
        keptAll += sum;
        continue;
      }
      let keep = 0;
      if (m === 4) {
        // Rank by pairwise comparison: element i beats j when larger, or equal and earlier.
        const v0 = mags[row + b];
        const v1 = mags[row + B + b];
        const v2 = mags[row + 2 * B + b];
        const v3 = mags[row + 3 * B + b];
        const r0 = (v1 > v0 ? 1 : 0) + (v2 > v0 ? 1 : 0) + (v3 > v0 ? 1 : 0);
        const r1 = (v0 >= v1 ? 1 : 0) + (v2 > v1 ? 1 : 0) + (v3 > v1 ? 1 : 0);
        const r2 = (v0 >= v2 ? 1 : 0) + (v1 >= v2 ? 1 : 0) + (v3 > v2 ? 1 : 0);
        const r3 = (v0 >= v3 ? 1 : 0) + (v1 >= v3 ? 1 : 0) + (v2 >= v3 ? 1 : 0);
        if (r0 < n) {
          keep |= 1;
          keptAll += v0;
        }
        if (r1 < n) {
          keep |= 2;
          keptAll += v1;
        }
        if (r2 < n) {
          keep |= 4;
          keptAll += v2;
        }
        if (r3 < n) {
          keep |= 8;
          keptAll += v3;
        }
      } else {
        // Select the n largest; strict '>' keeps the earlier position on ties.
        for (let t = 0; t < n; t++) {
          let best = -1;
          let at = -1;
          for (let j = 0; j < m; j++) {
            const v = mags[row + j * B + b];
            if (!((keep >> j) & 1) && v > best) {
              best = v;
              at = j;
            }
          }
          keep |= 1 << at;
          keptAll += best;
        }
      }
      for (let j = 0; j < m; j++) {
        const i = row + j * B + b;
        if ((keep >> j) & 1 || mags[i] === 0) continue;
        zeroElement(dtype, bytes, view, i, nibble, zp(first + i));
        totals.pruned++;
      }
    }
  }
  totals.sumMagnitude += sumAll;
  totals.keptMagnitude += keptAll;
}
