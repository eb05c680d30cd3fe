// What every encoder takes (domain.md §4): a weight already viewed as a row-major [rows, cols] matrix with
// cols = K running contiguous, its raw element bytes, which elements are non-zero, and the zero a pruned place
// holds. The caller does any transposition and decides "non-zero" by the engine's zero rules (domain.md §3).

/** Bytes per element: 1 (int8, uint8, fp8), 2 (fp16, bf16), 4 (fp32). */
export type ElementSize = 1 | 2 | 4;

/** The shape of a dense weight and the zero its pruned places hold: what a decoder needs besides the streams. */
export interface DenseShape {
  /** Output features (for Conv: output channels x kernel positions, after the caller's transposition). */
  rows: number;
  /** K, the reduction axis; a group is M consecutive columns of one row. */
  cols: number;
  elementSize: ElementSize;
}

export interface WeightMatrix extends DenseShape {
  /** rows * cols * elementSize raw little-endian element bytes, row-major. */
  bytes: Uint8Array;
  /** rows * cols flags, non-zero (1) where the element counts as non-zero (domain.md §3), 0 where it is zero. */
  nonZero: Uint8Array;
  /**
   * The zero written wherever a value slot holds no weight: the zero point for integers, 0 for floats.
   * elementSize bytes (one zero for the tensor) or rows * elementSize bytes (one per row, for per-channel zero
   * points). All zero bytes when left out.
   */
  zero?: Uint8Array;
}

/** A shape or stream problem the caller can fix (wrong sizes, not divisible, a corrupt index). */
export class EncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncodeError';
  }
}

/** A group holds more non-zeros than the pattern keeps: the weight must be pruned before it can be encoded. */
export class GroupTooDenseError extends EncodeError {
  constructor(
    readonly row: number,
    /** Group index within the row: columns group*m .. group*m + m - 1. */
    readonly group: number,
    readonly n: number,
    readonly m: number,
    /** The group's non-zero flags in element order, e.g. '1110'. */
    readonly groupMask: string,
  ) {
    const nonZeros = [...groupMask].filter((c) => c === '1').length;
    super(
      `row ${row}, group ${group} (columns ${group * m}..${group * m + m - 1}) holds ${nonZeros} non-zeros ` +
        `(${groupMask}); ${n}:${m} keeps at most ${n} of every ${m}: prune the weight to ${n}:${m} first`,
    );
    this.name = 'GroupTooDenseError';
  }
}

/** Flags for `count` elements from a predicate, for callers that decide zero element by element. */
export function nonZeroFlags(count: number, isNonZero: (index: number) => boolean): Uint8Array {
  const flags = new Uint8Array(count);
  for (let i = 0; i < count; i++) flags[i] = isNonZero(i) ? 1 : 0;
  return flags;
}

/** A group's flags as written in the docs, element 0 first: bit i of `mask` is element i. */
export function groupMaskText(mask: number, m: number): string {
  let text = '';
  for (let i = 0; i < m; i++) text += (mask >> i) & 1 ? '1' : '0';
  return text;
}

/** Bit i = element i non-zero, for the m flags from `first` on. */
export function groupMaskAt(nonZero: Uint8Array, first: number, m: number): number {
  let mask = 0;
  for (let i = 0; i < m; i++) if (nonZero[first + i] !== 0) mask |= 1 << i;
  return mask;
}

/**
 * Checks a weight against what an encoder with groups of `m` needs and returns its zero bytes with the row
 * stride into them (0 for one zero per tensor).
 */
export function checkWeight(weight: WeightMatrix, m: number, encoding: string): { zero: Uint8Array; zeroStride: number } {
  checkShape(weight, m, encoding);
  const { rows, cols, elementSize } = weight;
  if (weight.bytes.length !== rows * cols * elementSize) {
    throw new EncodeError(`${encoding}: ${rows}x${cols} elements of ${elementSize} bytes need ${rows * cols * elementSize} bytes, got ${weight.bytes.length}`);
  }
  if (weight.nonZero.length !== rows * cols) {
    throw new EncodeError(`${encoding}: ${rows}x${cols} elements need ${rows * cols} non-zero flags, got ${weight.nonZero.length}`);
  }
  return zeroBytes(weight.zero, weight, encoding);
}

/** Checks the dense shape itself: whole numbers, element size, K divisible by m. */
export function checkShape(shape: DenseShape, m: number, encoding: string): void {
  const { rows, cols, elementSize } = shape;
  if (!Number.isSafeInteger(rows) || rows < 0 || !Number.isSafeInteger(cols) || cols < 0) {
    throw new EncodeError(`${encoding}: rows and cols must be whole numbers >= 0, got ${rows}x${cols}`);
  }
  if (elementSize !== 1 && elementSize !== 2 && elementSize !== 4) {
    throw new EncodeError(`${encoding}: element size must be 1, 2 or 4 bytes, got ${elementSize}`);
  }
  if (cols % m !== 0) {
    throw new EncodeError(`${encoding}: K = ${cols} columns is not divisible by M = ${m}; pad K or leave this layer dense`);
  }
}

/** The zero bytes a decoder or encoder writes, checked against the shape (per tensor or per row). */
export function zeroBytes(zero: Uint8Array | undefined, shape: DenseShape, encoding: string): { zero: Uint8Array; zeroStride: number } {
  const { rows, elementSize } = shape;
  if (zero === undefined) return { zero: new Uint8Array(elementSize), zeroStride: 0 };
  if (zero.length === elementSize) return { zero, zeroStride: 0 };
  if (zero.length === rows * elementSize) return { zero, zeroStride: elementSize };
  throw new EncodeError(`${encoding}: the zero must be ${elementSize} bytes (one per tensor) or ${rows * elementSize} (one per row), got ${zero.length}`);
}

/** A dense [rows, cols] byte matrix with every element set to its row's zero. */
export function zeroFilledDense(shape: DenseShape, zero: Uint8Array, zeroStride: number): Uint8Array {
  const { rows, cols, elementSize } = shape;
  const dense = new Uint8Array(rows * cols * elementSize);
  let allZero = true;
  for (let i = 0; i < zero.length; i++) if (zero[i] !== 0) allZero = false;
  if (allZero) return dense;
  for (let r = 0; r < rows; r++) {
    const z = r * zeroStride;
    const rowStart = r * cols * elementSize;
    for (let c = 0; c < cols; c++) {
      const at = rowStart + c * elementSize;
      for (let b = 0; b < elementSize; b++) dense[at + b] = zero[z + b];
    }
  }
  return dense;
}

/** Checks that a stream has the length its shape implies. */
export function checkLength(what: string, actual: number, expected: number, encoding: string): void {
  if (actual !== expected) throw new EncodeError(`${encoding}: ${what} must be ${expected} bytes for this shape, got ${actual}`);
}
