// Fragile sparsity (issue 12): zeros the scan counts, whose encoding a runtime may not read as zero. Pruned places
// stored as -0.0 fail a bit test (vLLM issue #13198 produced garbage from a 2:4 weight holding them); integer zeros
// that are codes equal to a non-zero zero point are lost when a runtime drops or re-quantizes the zero point.
// Each becomes a warning on the layer, with the exact count the scan took.
import type { ZeroPoint } from './decode';
import { opDomain } from './opTable';

/** The counts a scan delivers for one weight (ScanStats). */
export interface FragileCounts {
  zeros: number;
  negativeZeros: number;
  zeroPointZeros: number;
}

/**
 * Ops whose zero point is part of their packed weight format, applied by every kernel of the op: no runtime drops
 * it, so their zero-point zeros are not fragile. MatMulNBits: "default 2^(bits - 1)" when the input is absent; QMoE
 * and the fused MatMulNBitsMlp / MatMulNBitsQkv hold the same packed codes (sparsity/nbits.ts).
 */
const FORMAT_ZERO_POINT_OPS = new Set(['com.microsoft:MatMulNBits', 'com.microsoft:QMoE', 'com.microsoft:MatMulNBitsMlp', 'com.microsoft:MatMulNBitsQkv']);

/** Zero point values named in a warning, at most. */
const ZERO_POINTS_SHOWN = 8;

/** The warnings for one scanned weight: none when its zeros are all stored as plain zero bits. */
export function fragileZeroWarnings(counts: FragileCounts, zeroPoint: ZeroPoint | undefined, op: { domain: string; opType: string } | undefined, folded = false): string[] {
  const warnings: string[] = [];
  const of = (n: number) => `${n} of its ${counts.zeros} zero${counts.zeros === 1 ? '' : 's'}`;
  if (counts.negativeZeros > 0) {
    warnings.push(
      `${of(counts.negativeZeros)} ${counts.negativeZeros === 1 ? 'is' : 'are'} stored as -0.0 (sign bit set): counted as zero here, but a kernel or exporter that tests bits instead of values sees a non-zero (vLLM issue #13198); ${folded ? "here they come from folding (a negative weight times a mask's 0 is -0.0, as a runtime folds it): store +0.0 in the weight where the mask is 0 ('convert --mode prune' writes it so)" : 'store +0.0 where the weight is pruned'}`,
    );
  }
  const formatZeroPoint = op !== undefined && FORMAT_ZERO_POINT_OPS.has(`${opDomain(op.domain)}:${op.opType}`);
  if (counts.zeroPointZeros > 0 && !formatZeroPoint) {
    const points = [...new Set(zeroPoint?.values ?? [])].filter((v) => v !== 0).sort((a, b) => a - b);
    const shown = points.slice(0, ZERO_POINTS_SHOWN).join(', ') + (points.length > ZERO_POINTS_SHOWN ? `, ... (${points.length} values)` : '');
    warnings.push(
      `${of(counts.zeroPointZeros)} ${counts.zeroPointZeros === 1 ? 'is a code' : 'are codes'} equal to a non-zero zero point (${shown}), not 0: a runtime that drops or re-quantizes the zero point loses them`,
    );
  }
  return warnings;
}
