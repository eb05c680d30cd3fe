// The protobuf wire format, walked lazily over a ByteSource with protobufjs's Reader primitives.
import { Reader } from 'protobufjs/minimal';
import type { ByteSource } from './source';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export class WireError extends Error {}

/** One field of a message: where its value lies in the file, and the value itself for varints. */
export interface Field {
  no: number;
  wire: number;
  /** Absolute offset of the field's tag (where the whole field starts). */
  start: number;
  /** Absolute offset of the value (after tag and length prefix). */
  pos: number;
  /** Length of the value in bytes. */
  len: number;
  /** The varint value (wire 0), as a JS number; `NaN` when it is not a safe integer. */
  varint: number;
}

const HEADER_MAX = 20; // a 5-byte tag + a 10-byte length prefix, with room to spare

/**
 * A varint as a safe integer, or NaN beyond 2^53. Reader.uint32() keeps only the low 32 bits of a longer varint, so a
 * length of 2^32 + 5 would read as 5: short varints (below 2^28) take that fast path, longer ones are read whole.
 */
function readVarint(reader: Reader): number {
  const { buf, pos } = reader;
  if (buf[pos] < 0x80 || buf[pos + 1] < 0x80 || buf[pos + 2] < 0x80 || buf[pos + 3] < 0x80) return reader.uint32();
  return toSafeNumber(reader.uint64());
}

function toSafeNumber(v: unknown): number {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : NaN;
  const long = v as { toNumber(): number; high: number; low: number; unsigned: boolean };
  const n = long.toNumber();
  return Number.isSafeInteger(n) ? n : NaN;
}

/**
 * Calls `visit` for each field of the message in [start, end). Nothing but the field headers is read,
 * so a 2 GB raw_data costs one header read. Throws WireError on malformed or truncated input.
 */
/** A field that ends past the end of the file: `needed` is the byte where it would end. */
export class TruncatedFileError extends WireError {
  constructor(
    message: string,
    readonly needed: number,
  ) {
    super(message);
  }
}

export function forEachField(src: ByteSource, start: number, end: number, visit: (field: Field) => void): void {
  if (end > src.size) throw new WireError(`message runs past the end of the file (${end} > ${src.size} bytes)`);
  let pos = start;
  const field: Field = { no: 0, wire: 0, start: 0, pos: 0, len: 0, varint: 0 };
  while (pos < end) {
    const header = src.view(pos, Math.min(HEADER_MAX, end - pos));
    const reader = new Reader(header);
    let tag: number;
    field.start = pos;
    try {
      tag = readVarint(reader);
      // Tags are 32-bit (onnx.proto's field numbers are small); a longer one is malformed, as protobuf itself says.
      if (!(tag <= 0xffffffff)) throw new WireError(`invalid tag of more than 32 bits at byte ${pos}`);
      field.no = tag >>> 3;
      field.wire = tag & 7;
      field.varint = 0;
      if (field.no === 0) throw new WireError(`invalid field number 0 at byte ${pos}`);
      switch (field.wire) {
        case WIRE_VARINT: {
          const at = reader.pos;
          field.varint = toSafeNumber(reader.int64());
          field.pos = pos + at;
          field.len = reader.pos - at;
          break;
        }
        case WIRE_I64:
          field.pos = pos + reader.pos;
          field.len = 8;
          break;
        case WIRE_I32:
          field.pos = pos + reader.pos;
          field.len = 4;
          break;
        case WIRE_LEN: {
          const len = readVarint(reader);
          if (Number.isNaN(len)) throw new WireError(`field ${field.no} at byte ${pos} claims a length beyond 2^53 bytes`);
          field.pos = pos + reader.pos;
          field.len = len;
          break;
        }
        default:
          throw new WireError(`unsupported wire type ${field.wire} at byte ${pos}`);
      }
    } catch (err) {
      if (err instanceof WireError) throw err;
      throw new WireError(`truncated or malformed field at byte ${pos}`);
    }
    if (field.pos + field.len > end) {
      const message = `field ${field.no} at byte ${pos} claims ${field.len} bytes, past the end of its message`;
      // Past the end of the file itself: most often a download or copy cut short.
      if (field.pos + field.len > src.size) throw new TruncatedFileError(message, field.pos + field.len);
      throw new WireError(message);
    }
    visit(field);
    pos = field.pos + field.len;
  }
}

// ignoreBOM: a leading U+FEFF is part of the string (the default decoder drops it, which protobuf does not).
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

export function readString(src: ByteSource, f: Field): string {
  if (f.wire !== WIRE_LEN) throw new WireError(`field ${f.no}: expected a string`);
  return utf8.decode(src.view(f.pos, f.len));
}

/** A repeated integer field (packed or one-per-tag) appended to `out`. */
export function readIntegers(src: ByteSource, f: Field, out: number[]): void {
  if (f.wire === WIRE_VARINT) {
    out.push(f.varint);
    return;
  }
  if (f.wire !== WIRE_LEN) throw new WireError(`field ${f.no}: expected integers`);
  const reader = new Reader(src.view(f.pos, f.len));
  try {
    while (reader.pos < reader.len) out.push(toSafeNumber(reader.int64()));
  } catch {
    throw new WireError(`field ${f.no}: malformed packed integers`);
  }
}

/** A repeated float field (packed or one-per-tag) appended to `out`. */
export function readFloats(src: ByteSource, f: Field, out: number[]): void {
  const bytes = src.view(f.pos, f.len);
  if (f.wire !== WIRE_LEN && f.wire !== WIRE_I32) throw new WireError(`field ${f.no}: expected floats`);
  if (bytes.length % 4 !== 0) throw new WireError(`field ${f.no}: packed floats of ${bytes.length} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < bytes.length; i += 4) out.push(dv.getFloat32(i, true));
}

export function readFloat(src: ByteSource, f: Field): number {
  if (f.wire !== WIRE_I32) throw new WireError(`field ${f.no}: expected a float`);
  const b = src.view(f.pos, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
}

/** Calls `visit` with each varint of `bytes` (a packed run, or the single value of an unpacked field). */
export function decodeVarints(bytes: Uint8Array, visit: (value: number) => void): void {
  const reader = new Reader(bytes);
  while (reader.pos < reader.len) {
    let value: number;
    try {
      value = toSafeNumber(reader.int64());
    } catch {
      throw new WireError('malformed packed varints');
    }
    visit(value); // outside the try: what `visit` throws is its own error
  }
}

/** Calls `visit` with all 64 bits of each varint of `bytes` (unsigned): int64 and uint64 values beyond 2^53 exactly. */
export function decodeVarints64(bytes: Uint8Array, visit: (value: bigint) => void): void {
  let value = 0n;
  let shift = 0n;
  for (const byte of bytes) {
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) {
      visit(BigInt.asUintN(64, value));
      value = 0n;
      shift = 0n;
    } else if ((shift += 7n) > 63n) {
      throw new WireError('malformed packed varints');
    }
  }
  if (shift !== 0n) throw new WireError('malformed packed varints');
}
