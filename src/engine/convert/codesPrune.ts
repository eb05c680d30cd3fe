// Pruning bit-packed codes (MatMulNBits, QMoE) in the code domain: the codes are unpacked one byte each, pruned as
// uint8 against their blocks' zero points (pruned codes become the zero point), and written back packed into a copy
// of the stored bytes. Padding codes beyond K are no weights: they stay as they were.
import { dtypeById } from '../onnx/dtypes';
import { type PackedCodesReader, repackCodes, unpackCodes } from '../onnx/packedCodes';
import type { ZeroPoint } from '../sparsity/decode';
import type { Pattern } from '../sparsity/pattern';
import { type PruneTotals, pruneSlab } from './prune';

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
