// ONNX tensor element types: sizes, the typed field that may hold them, and what "zero" means (domain.md §3).

export type ZeroRule =
  | 'float' // x == 0, either sign; NaN is non-zero
  | 'half' // (bits & 0x7fff) == 0: float16, bfloat16
  | 'fp8' // (bits & 0x7f) == 0: e4m3fn, e5m2
  | 'fp8uz' // bits == 0 (0x80 is NaN): e4m3fnuz, e5m2fnuz
  | 'fp4' // (code & 0x7) == 0: float4e2m1 (two per byte, low nibble first; no NaN or infinity)
  | 'int'; // q == zero_point

/** Which repeated field of TensorProto holds the values when raw_data is absent. */
export type TypedField = 'float_data' | 'int32_data' | 'int64_data' | 'double_data' | 'uint64_data' | 'none';

export interface DType {
  id: number;
  name: string;
  /** Bits per element in raw_data (4 for int4/uint4, packed two per byte, low nibble first). */
  bits: number;
  field: TypedField;
  zero: ZeroRule;
  /** A type whose values a sparse kernel could consume as weights. */
  weight: boolean;
  signed?: boolean;
  integer?: boolean;
}

const TABLE: DType[] = [
  { id: 1, name: 'float32', bits: 32, field: 'float_data', zero: 'float', weight: true },
  { id: 2, name: 'uint8', bits: 8, field: 'int32_data', zero: 'int', weight: true, integer: true },
  { id: 3, name: 'int8', bits: 8, field: 'int32_data', zero: 'int', weight: true, integer: true, signed: true },
  { id: 4, name: 'uint16', bits: 16, field: 'int32_data', zero: 'int', weight: true, integer: true },
  { id: 5, name: 'int16', bits: 16, field: 'int32_data', zero: 'int', weight: true, integer: true, signed: true },
  { id: 6, name: 'int32', bits: 32, field: 'int32_data', zero: 'int', weight: true, integer: true, signed: true },
  { id: 7, name: 'int64', bits: 64, field: 'int64_data', zero: 'int', weight: false, integer: true, signed: true },
  { id: 8, name: 'string', bits: 0, field: 'none', zero: 'int', weight: false },
  { id: 9, name: 'bool', bits: 8, field: 'int32_data', zero: 'int', weight: false, integer: true },
  { id: 10, name: 'float16', bits: 16, field: 'int32_data', zero: 'half', weight: true },
  { id: 11, name: 'float64', bits: 64, field: 'double_data', zero: 'float', weight: true },
  { id: 12, name: 'uint32', bits: 32, field: 'uint64_data', zero: 'int', weight: false, integer: true },
  { id: 13, name: 'uint64', bits: 64, field: 'uint64_data', zero: 'int', weight: false, integer: true },
  { id: 14, name: 'complex64', bits: 64, field: 'float_data', zero: 'float', weight: false },
  { id: 15, name: 'complex128', bits: 128, field: 'double_data', zero: 'float', weight: false },
  { id: 16, name: 'bfloat16', bits: 16, field: 'int32_data', zero: 'half', weight: true },
  { id: 17, name: 'float8e4m3fn', bits: 8, field: 'int32_data', zero: 'fp8', weight: true },
  { id: 18, name: 'float8e4m3fnuz', bits: 8, field: 'int32_data', zero: 'fp8uz', weight: true },
  { id: 19, name: 'float8e5m2', bits: 8, field: 'int32_data', zero: 'fp8', weight: true },
  { id: 20, name: 'float8e5m2fnuz', bits: 8, field: 'int32_data', zero: 'fp8uz', weight: true },
  { id: 21, name: 'uint4', bits: 4, field: 'int32_data', zero: 'int', weight: true, integer: true },
  { id: 22, name: 'int4', bits: 4, field: 'int32_data', zero: 'int', weight: true, integer: true, signed: true },
  { id: 23, name: 'float4e2m1', bits: 4, field: 'int32_data', zero: 'fp4', weight: true },
];

const BY_ID = new Map(TABLE.map((d) => [d.id, d]));

export function dtypeById(id: number): DType | undefined {
  return BY_ID.get(id);
}

export function dtypeName(id: number): string {
  return BY_ID.get(id)?.name ?? `unknown(${id})`;
}

/** Bytes that `count` elements occupy in raw_data. */
export function rawByteLength(dtype: DType, count: number): number {
  return dtype.bits === 4 ? Math.ceil(count / 2) : (count * dtype.bits) / 8;
}
