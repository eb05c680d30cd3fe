// Magnitude pruning to N:M along the reduction axis (domain.md §5): in every group the N largest |w| (or
// |q - zero_point|) survive, ties keep the earlier position, and every other non-zero becomes 0 (or the zero point).
// Elements that are already zero are never touched, so a compliant weight comes out byte-identical.
import type { DType } from '../onnx/dtypes';
import { type ZeroPoint, toMagnitudes, zeroPointLookup } from '../sparsity/decode';
import type { Pattern } from '../sparsity/pattern';

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
  const count = h * B;
  if (scratch.mags.length < count) {
    scratch.mags = new Float64Array(count);
    scratch.single = new Float32Array(count);
  }
  const mags = scratch.mags;
  if (dtype.name === 'float64') {
    // Full precision, so that near-ties between doubles are decided by their true order.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) {
      const v = view.getFloat64(i * 8, true);
      mags[i] = v === v ? Math.abs(v) : Number.MIN_VALUE;
    }
  } else if (dtype.zero === 'int' && dtype.bits === 32) {
    // |q - zero_point| of int32 needs up to 33 bits: float32 magnitudes would turn near-ties into false ties.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const zpAt = zeroPointLookup(zeroPoint, dims);
    for (let i = 0; i < count; i++) mags[i] = Math.abs(view.getInt32(i * 4, true) - zpAt(first + i));
  } else {
    toMagnitudes(dtype, { bytes, nibble }, count, scratch.single, first, dims, zeroPoint);
    for (let i = 0; i < count; i++) mags[i] = scratch.single[i];
  }
  const zp = zeroPointLookup(zeroPoint, dims);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { n, m } = pattern;
  const keep = new Uint8Array(m);
  for (let b = 0; b < B; b++) {
    for (let g0 = 0; g0 < h; g0 += m) {
      let sum = 0;
      let nonZero = 0;
      for (let j = 0; j < m; j++) {
        const v = mags[(g0 + j) * B + b];
        sum += v;
        if (v !== 0) nonZero++;
      }
      totals.sumMagnitude += sum;
      if (nonZero <= n) {
        totals.keptMagnitude += sum;
        continue;
      }
      // Select the n largest; strict '>' keeps the earlier position on ties.
      keep.fill(0);
      for (let t = 0; t < n; t++) {
        let best = -1;
        let at = -1;
        for (let j = 0; j < m; j++) {
          const v = mags[(g0 + j) * B + b];
          if (!keep[j] && v > best) {
            best = v;
            at = j;
          }
        }
        keep[at] = 1;
        totals.keptMagnitude += best;
      }
      for (let j = 0; j < m; j++) {
        const i = (g0 + j) * B + b;
        if (keep[j] || mags[i] === 0) continue;
        zeroElement(dtype, bytes, view, i, nibble, zp(first + i));
        totals.pruned++;
      }
    }
  }
}
