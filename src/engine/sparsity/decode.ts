// Raw element bytes → magnitudes |w| (or |q - zero_point|) as float32, with "zero" exactly as domain.md §3 defines it.
import type { DType } from '../onnx/dtypes';
import { unpackCodes } from '../onnx/packedCodes';
import type { TensorRef } from '../onnx/skeleton';
import type { ElementBytes } from '../onnx/tensorData';

/** NaN is non-zero (domain.md §3) but has no magnitude: it stands in as the smallest positive float32. */
export const NAN_MAGNITUDE = Math.fround(1e-45);

/** Zero points of an integer weight: one per tensor, per channel along `axis`, or per block (opset 21). */
export interface ZeroPoint {
  /** Held as bytes where they fit (MatMulNBits / QMoE codes: one per row and block, millions in an LLM). */
  values: readonly number[] | Uint8Array;
  /** Axis of the stored weight the values run along; -1 for a single per-tensor value. */
  axis: number;
  /** Block size along `axis` (DequantizeLinear-21 `block_size`); 0 for per-axis. */
  blockSize: number;
  /** Set where `values` were unpacked from `codeBits`-bit codes: each an integer below 2^codeBits by construction. */
  codeBits?: number;
  /**
   * 4-bit zero points as stored (an int4 LLM's: tens of millions), which the scan reads as they are; `values`
   * unpacks them on first use, for the paths that need them one by one (packedZeroPoints).
   */
  packed?: PackedZeroPoints;
}

/** Zero points packed two to a byte, low nibble first, `perRow` to a row of `rowBytes` bytes. */
export interface PackedZeroPoints {
  /** Every packed row; where the zero points were left in their file (lazyPackedZeroPoints), read whole on first use. */
  readonly bytes: Uint8Array;
  perRow: number;
  rowBytes: number;
  /** Bytes of all the packed rows (bytes.length), known without reading them. */
  byteLength?: number;
  /**
   * Where zero points left in their file lie (lazyPackedZeroPoints): a job posted to a scan worker carries this and
   * not the bytes, and the worker reads the rows it scans itself (rehydrateZeroPoint).
   */
  tensor?: TensorRef;
  /**
   * Packed rows [first, first + count) into `target` (count x rowBytes bytes), read from the file where the bytes were
   * not read whole: a scan reads only the rows of its part.
   */
  readRows?(first: number, count: number, target: Uint8Array): void;
}

/** A reader of a tensor's stored bytes, opened for one use (`done` closes what it opened). */
export interface OpenedBytes {
  reader: { readInto(start: number, count: number, target: Uint8Array): void };
  done(): void;
}

/**
 * Packed 4-bit zero points left in their file until they are used (an int4 LLM holds tens of megabytes of them: read
 * whole, copied to every scan thread, and touched for the first time, they cost a tenth of a second or more before
 * any scan started). `open` opens the tensor's stored bytes (`byteLength` uint8 values) for one read.
 * `bytes` reads them whole on first use and keeps them; `readRows` reads only the rows asked for (kept bytes once
 * read). Neither is enumerable: a job posted to a worker carries `tensor`, and the worker opens it again.
 */
export function lazyPackedZeroPoints(tensor: TensorRef, byteLength: number, perRow: number, rowBytes: number, axis: number, blockSize: number, open: () => OpenedBytes): ZeroPoint {
  let bytes: Uint8Array | undefined;
  const read = (start: number, target: Uint8Array) => {
    const opened = open();
    try {
      opened.reader.readInto(start, target.length, target);
    } finally {
      opened.done();
    }
  };
  const packed = { perRow, rowBytes, byteLength, tensor } as PackedZeroPoints;
  Object.defineProperty(packed, 'bytes', {
    enumerable: false,
    get: () => {
      if (!bytes) {
        const all = new Uint8Array(byteLength);
        read(0, all);
        bytes = all;
      }
      return bytes;
    },
  });
  Object.defineProperty(packed, 'readRows', {
    enumerable: false,
    value: (first: number, count: number, target: Uint8Array) => {
      const from = first * rowBytes;
      const view = target.subarray(0, count * rowBytes);
      if (bytes) view.set(bytes.subarray(from, from + view.length));
      else read(from, view);
    },
  });
  return packedZeroPoints(packed, axis, blockSize);
}

/**
 * A packed zero point's rows [first, first + count) into `target`: read from the file where they were left there
 * (lazyPackedZeroPoints), else copied from the bytes.
 */
export function readPackedZeroPointRows(packed: PackedZeroPoints, first: number, count: number, target: Uint8Array): void {
  if (packed.readRows) packed.readRows(first, count, target);
  else target.set(packed.bytes.subarray(first * packed.rowBytes, (first + count) * packed.rowBytes));
}

/** Whether any packed zero point is not 0, read in pieces where they were left in their file (stops at the first). */
export function anyPackedNonZero(packed: PackedZeroPoints): boolean {
  const total = packed.byteLength ?? packed.bytes.length;
  const rows = packed.rowBytes ? total / packed.rowBytes : 0;
  // A first read of a few rows (the first value is not 0 in most models), then pieces of 64 KB.
  const step = Math.max(1, Math.floor((1 << 16) / Math.max(1, packed.rowBytes)));
  for (let first = 0, count = Math.min(rows, 8); first < rows; first += count, count = Math.min(step, rows - first)) {
    const view = new Uint8Array(count * packed.rowBytes);
    readPackedZeroPointRows(packed, first, count, view);
    // A padding nibble (an odd count of values per row) is 0 by the spec's packing and never read as a value.
    for (let i = 0; i < view.length; i++) if (view[i] !== 0) return true;
  }
  return false;
}

/**
 * A zero point held packed: `values` is unpacked on first read and kept. It is not enumerable, so a job posted to
 * a scan worker carries the packed bytes only, and the worker wraps them again (rehydrateZeroPoint).
 */
export function packedZeroPoints(packed: PackedZeroPoints, axis: number, blockSize: number): ZeroPoint {
  const zp = { axis, blockSize, codeBits: 4, packed } as ZeroPoint;
  let values: Uint8Array | undefined;
  Object.defineProperty(zp, 'values', { enumerable: false, get: () => (values ??= unpackZeroPoints(packed)) });
  return zp;
}

/** Packed zero points one byte each, row after row: value i of row r at r x perRow + i. */
export function unpackZeroPoints(packed: PackedZeroPoints): Uint8Array {
  const rows = packed.rowBytes ? packed.bytes.length / packed.rowBytes : 0;
  return unpackCodes(packed.bytes, { bits: 4, K: packed.perRow, blockSize: packed.rowBytes * 2, storedDims: [rows, packed.rowBytes] }, rows);
}

/**
 * A job's zero point as the thread that runs it needs it. Structured clone keeps a packed zero point's bytes, not
 * the getter: wrapped again. Zero points left in their file (lazyPackedZeroPoints) arrive without their bytes:
 * wrapped again to read through `open` (the thread's own files), also on the thread that planned them, so that a
 * scan never reads through files its planning may have closed.
 */
export function rehydrateZeroPoint(zp: ZeroPoint | undefined, open?: (tensor: TensorRef) => OpenedBytes): ZeroPoint | undefined {
  const packed = zp?.packed;
  if (!zp || !packed) return zp;
  if (packed.tensor && open) {
    const { tensor } = packed;
    return lazyPackedZeroPoints(tensor, packed.byteLength ?? 0, packed.perRow, packed.rowBytes, zp.axis, zp.blockSize, () => open(tensor));
  }
  // hasOwnProperty, not a read: reading `values` would unpack them.
  return !Object.prototype.hasOwnProperty.call(zp, 'values') ? packedZeroPoints(packed, zp.axis, zp.blockSize) : zp;
}


function halfTable(bf16: boolean): Float32Array {
  const table = new Float32Array(0x8000);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let bits = 0; bits < 0x8000; bits++) {
    let v: number;
    if (bf16) {
      u32[0] = bits << 16;
      v = f32[0];
    } else {
      const exp = bits >> 10;
      const frac = bits & 0x3ff;
      v = exp === 0 ? frac * 2 ** -24 : exp === 31 ? (frac ? NaN : Infinity) : (1 + frac / 1024) * 2 ** (exp - 15);
    }
    table[bits] = Number.isNaN(v) ? NAN_MAGNITUDE : v;
  }
  return table;
}

/** |value| of every float8 bit pattern for a format with `expBits` exponent bits and bias `bias`. */
function fp8Table(expBits: number, bias: number, kind: 'fn' | 'e5m2' | 'fnuz'): Float32Array {
  const table = new Float32Array(256);
  const manBits = 7 - expBits;
  for (let bits = 0; bits < 256; bits++) {
    const mag = bits & 0x7f;
    const exp = mag >> manBits;
    const man = mag & ((1 << manBits) - 1);
    let v = exp === 0 ? man * 2 ** (1 - bias - manBits) : (1 + man / (1 << manBits)) * 2 ** (exp - bias);
    if (kind === 'fn' && mag === 0x7f) v = NaN; // e4m3fn: S.1111.111 is NaN, no infinity
    if (kind === 'e5m2' && exp === 31) v = man ? NaN : Infinity;
    if (kind === 'fnuz' && bits === 0x80) v = NaN; // fnuz: the negative zero pattern is NaN
    table[bits] = Number.isNaN(v) ? NAN_MAGNITUDE : v;
  }
  return table;
}

let tables: Record<string, Float32Array> | undefined;
function table(name: string): Float32Array {
  tables ??= {
    float16: halfTable(false),
    bfloat16: halfTable(true),
    float8e4m3fn: fp8Table(4, 7, 'fn'),
    float8e4m3fnuz: fp8Table(4, 8, 'fnuz'),
    float8e5m2: fp8Table(5, 15, 'e5m2'),
    float8e5m2fnuz: fp8Table(5, 16, 'fnuz'),
  };
  return tables[name];
}

/** Decodes integer values of a 4/8/16/32-bit integer type from raw bytes. */
export function integerAt(dtype: DType, bytes: Uint8Array, view: DataView, index: number, nibble: number): number {
  switch (dtype.bits) {
    case 4: {
      const at = index + nibble;
      const raw = (bytes[at >> 1] >> ((at & 1) * 4)) & 0xf;
      return dtype.signed && raw > 7 ? raw - 16 : raw;
    }
    case 8:
      return dtype.signed ? view.getInt8(index) : bytes[index];
    case 16:
      return dtype.signed ? view.getInt16(index * 2, true) : view.getUint16(index * 2, true);
    default:
      return view.getInt32(index * 4, true);
  }
}

/** |value| of each float4e2m1 code (1 sign, 2 exponent, 1 mantissa bits, bias 1): 0, 0.5, 1, 1.5, 2, 3, 4, 6. */
const FP4_MAGNITUDES = new Float32Array([0, 0.5, 1, 1.5, 2, 3, 4, 6, 0, 0.5, 1, 1.5, 2, 3, 4, 6]);

/**
 * Writes the magnitude of `count` elements into `out`. `first` is the element index of the run inside the tensor
 * (for per-channel zero points), `dims` the tensor's dims. Returns how many of them are zeros whose stored bits are
 * not all zero: -0.0 in a float type, a code equal to a non-zero zero point in an integer type (fragile zeros: a
 * kernel or exporter that tests bits, or drops the zero point, sees them as non-zero).
 */
export function toMagnitudes(dtype: DType, run: ElementBytes, count: number, out: Float32Array, first: number, dims: readonly number[], zeroPoint?: ZeroPoint): number {
  const { bytes, nibble } = run;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fragile = 0;
  switch (dtype.zero) {
    case 'float':
      if (dtype.bits === 32) {
        const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice(0, count * 4);
        const src = new Float32Array(aligned.buffer, aligned.byteOffset, count);
        const raw = new Uint32Array(aligned.buffer, aligned.byteOffset, count);
        for (let i = 0; i < count; i++) {
          const v = src[i];
          out[i] = v === v ? (v < 0 ? -v : v) : NAN_MAGNITUDE;
          fragile += raw[i] === 0x80000000 ? 1 : 0;
        }
      } else {
        for (let i = 0; i < count; i++) {
          const v = view.getFloat64(i * 8, true);
          out[i] = v === v ? Math.abs(v) : NAN_MAGNITUDE;
          if (Object.is(v, -0)) fragile++;
        }
      }
      return fragile;
    case 'half': {
      const t = table(dtype.name);
      const src = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Uint16Array(bytes.slice(0, count * 2).buffer);
      for (let i = 0; i < count; i++) {
        const bits = src[i];
        out[i] = t[bits & 0x7fff];
        fragile += bits === 0x8000 ? 1 : 0;
      }
      return fragile;
    }
    case 'fp8':
    case 'fp8uz': {
      const t = table(dtype.name);
      for (let i = 0; i < count; i++) out[i] = t[bytes[i]];
      // fnuz types have no negative zero: their 0x80 is NaN.
      if (dtype.zero === 'fp8') for (let i = 0; i < count; i++) fragile += bytes[i] === 0x80 ? 1 : 0;
      return fragile;
    }
    case 'fp4':
      for (let i = 0; i < count; i++) {
        const at = i + nibble;
        const code = (bytes[at >> 1] >> ((at & 1) * 4)) & 0xf;
        out[i] = FP4_MAGNITUDES[code];
        fragile += code === 0x8 ? 1 : 0;
      }
      return fragile;
    case 'int': {
      const zp = zeroPointLookup(zeroPoint, dims);
      for (let i = 0; i < count; i++) {
        const point = zp(first + i);
        const mag = Math.abs(integerAt(dtype, bytes, view, i, nibble) - point);
        out[i] = mag;
        if (mag === 0 && point !== 0) fragile++;
      }
      return fragile;
    }
  }
  return fragile;
}

/** A function from element index to its zero point. */
export function zeroPointLookup(zeroPoint: ZeroPoint | undefined, dims: readonly number[]): (element: number) => number {
  if (!zeroPoint || zeroPoint.values.length === 0) return () => 0;
  const values = zeroPoint.values;
  if (zeroPoint.axis < 0 || values.length === 1) {
    const only = values[0];
    return () => only;
  }
  const axis = zeroPoint.axis;
  let inner = 1;
  for (let d = axis + 1; d < dims.length; d++) inner *= dims[d];
  const size = dims[axis];
  if (!zeroPoint.blockSize) return (e) => values[Math.floor(e / inner) % size];
  const blocks = Math.ceil(size / zeroPoint.blockSize);
  const bs = zeroPoint.blockSize;
  return (e) => {
    const i = e % inner;
    const k = Math.floor(e / inner) % size;
    const o = Math.floor(e / (inner * size));
    return values[(o * blocks + Math.floor(k / bs)) * inner + i];
  };
}

/**
 * A short key that tells zero points apart (which layers may share one scan): axis, block size, count and a 64-bit
 * hash of the values. Their JSON took seconds and hundreds of MB for the millions of an int4 LLM's blocks.
 */
export function zeroPointKey(zeroPoint: ZeroPoint | undefined): string {
  if (!zeroPoint) return 'none';
  // Packed zero points are told apart by their bytes (the same values, the same packing).
  const values = zeroPoint.packed ? zeroPoint.packed.bytes : zeroPoint.values;
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  if (values instanceof Uint8Array) {
    // Bytes (packed codes' block zero points, millions in an LLM): hashed four at a time, the tail one by one.
    const words = new Uint32Array(values.buffer, values.byteOffset, values.byteOffset % 4 === 0 ? values.length >> 2 : 0);
    for (let i = 0; i < words.length; i++) {
      h1 = Math.imul(h1 ^ words[i], 0x01000193);
      h2 = Math.imul(h2 ^ words[i], 0x85ebca6b) ^ i;
    }
    for (let i = words.length * 4; i < values.length; i++) {
      h1 = Math.imul(h1 ^ values[i], 0x01000193);
      h2 = Math.imul(h2 ^ values[i], 0x85ebca6b) ^ i;
    }
    return `${zeroPoint.axis}:${zeroPoint.blockSize}:${values.length}:${zeroPoint.packed ? 'p' : 'b'}${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
  }
  const f = new Float64Array(1);
  const w = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    h1 = Math.imul(h1 ^ w[0], 0x01000193) ^ Math.imul(h1 ^ w[1], 0x5bd1e995);
    h2 = Math.imul(h2 ^ w[1], 0x85ebca6b) ^ Math.imul(h2 ^ w[0], 0xc2b2ae35) ^ i;
  }
  return `${zeroPoint.axis}:${zeroPoint.blockSize}:${values.length}:${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}
