// Raw element bytes → magnitudes |w| (or |q - zero_point|) as float32, with "zero" exactly as domain.md §3 defines it.
import type { DType } from '../onnx/dtypes';
import type { ElementBytes } from '../onnx/tensorData';

/** NaN is non-zero (domain.md §3) but has no magnitude: it stands in as the smallest positive float32. */
export const NAN_MAGNITUDE = Math.fround(1e-45);

/** Zero points of an integer weight: one per tensor, per channel along `axis`, or per block (opset 21). */
export interface ZeroPoint {
  values: number[];
  /** Axis of the stored weight the values run along; -1 for a single per-tensor value. */
  axis: number;
  /** Block size along `axis` (DequantizeLinear-21 `block_size`); 0 for per-axis. */
  blockSize: number;
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

/**
 * Writes the magnitude of `count` elements into `out`. `first` is the element index of the run inside the tensor
 * (for per-channel zero points), `dims` the tensor's dims.
 */
export function toMagnitudes(dtype: DType, run: ElementBytes, count: number, out: Float32Array, first: number, dims: readonly number[], zeroPoint?: ZeroPoint): void {
  const { bytes, nibble } = run;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype.zero) {
    case 'float':
      if (dtype.bits === 32) {
        const src = bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, count) : new Float32Array(bytes.slice(0, count * 4).buffer);
        for (let i = 0; i < count; i++) {
          const v = src[i];
          out[i] = v === v ? (v < 0 ? -v : v) : NAN_MAGNITUDE;
        }
      } else {
        for (let i = 0; i < count; i++) {
          const v = view.getFloat64(i * 8, true);
          out[i] = v === v ? Math.abs(v) : NAN_MAGNITUDE;
        }
      }
      return;
    case 'half': {
      const t = table(dtype.name);
      const src = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Uint16Array(bytes.slice(0, count * 2).buffer);
      for (let i = 0; i < count; i++) out[i] = t[src[i] & 0x7fff];
      return;
    }
    case 'fp8':
    case 'fp8uz': {
      const t = table(dtype.name);
      for (let i = 0; i < count; i++) out[i] = t[bytes[i]];
      return;
    }
    case 'int': {
      const zp = zeroPointLookup(zeroPoint, dims);
      for (let i = 0; i < count; i++) out[i] = Math.abs(integerAt(dtype, bytes, view, i, nibble) - zp(first + i));
      return;
    }
  }
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
