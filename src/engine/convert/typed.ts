// Canonical raw bytes → the typed repeated field ONNX prescribes for a dtype (packed), for tensors stored that way.
import { Writer } from 'protobufjs/minimal';
import type { DType } from '../onnx/dtypes';
import { WIRE_LEN } from '../onnx/wire';

const FIELD_NUMBERS: Record<string, number> = { float_data: 4, int32_data: 5, int64_data: 7, double_data: 10, uint64_data: 11 };

/** The packed typed field (tag included) holding `raw`'s values. */
export function typedFieldBytes(dtype: DType, raw: Uint8Array): Uint8Array {
  const no = FIELD_NUMBERS[dtype.field];
  if (no === undefined) throw new Error(`no typed field for ${dtype.name}`);
  const w = new Writer();
  w.uint32((no << 3) | WIRE_LEN);
  if (dtype.field === 'float_data' || dtype.field === 'double_data') {
    // Fixed-width fields are the little-endian values themselves.
    w.bytes(raw);
    return w.finish();
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  w.fork();
  if (dtype.bits === 4) {
    for (const byte of raw) w.int32(byte); // one packed byte (two nibbles) per entry
  } else if (dtype.bits === 8) {
    for (let i = 0; i < raw.length; i++) w.int32(dtype.signed ? view.getInt8(i) : raw[i]);
  } else if (dtype.bits === 16) {
    // int16 values are signed; fp16/bf16/uint16 bit patterns are stored unsigned.
    for (let i = 0; i < raw.length; i += 2) w.int32(dtype.signed ? view.getInt16(i, true) : view.getUint16(i, true));
  } else if (dtype.bits === 32) {
    for (let i = 0; i < raw.length; i += 4) w.int32(view.getInt32(i, true));
  } else {
    for (let i = 0; i < raw.length; i += 8) w.int64(view.getBigInt64(i, true).toString());
  }
  w.ldelim();
  return w.finish();
}
