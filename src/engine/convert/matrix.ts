// A weight as the encoders see it: [rows, K] with K innermost (rows = every other axis in storage order), its
// non-zero flags by the engine's zero rules, and the zero of each row (its output feature's zero point, else 0).
import type { DType } from '../onnx/dtypes';
import type { WeightMatrix } from '../encode';
import { type ZeroPoint, toMagnitudes, zeroPointLookup } from '../sparsity/decode';

export function weightMatrix(dtype: DType, raw: Uint8Array, dims: number[], axis: number, zeroPoint: ZeroPoint | undefined): WeightMatrix {
  const size = dtype.bits / 8;
  const count = dims.reduce((x, y) => x * y, 1);
  const K = dims[axis];
  const A = dims.slice(0, axis).reduce((x, y) => x * y, 1);
  const B = dims.slice(axis + 1).reduce((x, y) => x * y, 1);
  const rows = A * B;
  const mags = new Float32Array(count);
  toMagnitudes(dtype, { bytes: raw, nibble: 0 }, count, mags, 0, dims, zeroPoint);
  // [A, K, B] → [A*B, K]: K innermost.
  const bytes = new Uint8Array(raw.length);
  const nonZero = new Uint8Array(count);
  for (let a = 0; a < A; a++) {
    for (let k = 0; k < K; k++) {
      for (let b = 0; b < B; b++) {
        const from = (a * K + k) * B + b;
        const to = (a * B + b) * K + k;
        nonZero[to] = mags[from] !== 0 ? 1 : 0;
        bytes.set(raw.subarray(from * size, (from + 1) * size), to * size);
      }
    }
  }
  const zeroPointOf = zeroPointLookup(zeroPoint, dims);
  const word = new Uint8Array(4);
  const view = new DataView(word.buffer);
  const zero = new Uint8Array(rows * size);
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      view.setInt32(0, zeroPointOf(a * K * B + b), true);
      zero.set(word.subarray(0, size), (a * B + b) * size);
    }
  }
  return { rows, cols: K, elementSize: size as 1 | 2 | 4, bytes, nonZero, zero };
}
