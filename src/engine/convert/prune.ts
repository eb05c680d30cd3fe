// Magnitude pruning to N:M along the reduction axis (domain.md §5): in every group the N largest |w| (or
// |q - zero_point|) survive, ties keep the earlier position, and every other non-zero becomes 0 (or the zero point).
// Elements that are already zero are never touched, so a compliant weight comes out byte-identical.
import type { DType } from '../onnx/dtypes';
import { type ZeroPoint, toMagnitudes, zeroPointLookup } from '../sparsity/decode';
import type { Pattern } from '../sparsity/pattern';
import { pruneSlabSimd, simdApplies } from '../sparsity/simd/simdScan';

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
