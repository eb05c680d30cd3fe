// The protobuf wire format, walked lazily over a ByteSource. Its own varint decoding, not protobufjs's Reader: loading
// protobufjs costs each thread 12-22 ms (it looks for optional modules it does not find), and a scan worker needs
// none of it.
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

/** A field that ends past the end of the file: `needed` is the byte where it would end. */
export class TruncatedFileError extends WireError {
  constructor(
    message: string,
    readonly needed: number,
  ) {
    super(message);
  }
}

/**
 * Calls `visit` for each field of the message in [start, end). Nothing but the field headers is read,
 * so a 2 GB raw_data costs one header read. Throws WireError on malformed or truncated input.
 */
export function forEachField(src: ByteSource, start: number, end: number, visit: (field: Field) => void): void {
  if (end > src.size) throw new WireError(`message runs past the end of the file (${end} > ${src.size} bytes)`);
  let pos = start;
  const field: Field = { no: 0, wire: 0, start: 0, pos: 0, len: 0, varint: 0 };
  // Headers are decoded in place from a copy of up to HEADER_CHUNK bytes of the message (from `base`): no view and no
  // reader per field. A copy, not a view: `visit` may read elsewhere and refill the source's window.
  let chunk = NO_BYTES;
  let base = start;
  while (pos < end) {
    if (pos + HEADER_MAX > base + chunk.length && base + chunk.length < end) {
      chunk = new Uint8Array(src.view(pos, Math.min(HEADER_CHUNK, end - pos)));
      base = pos;
    }
    field.start = pos;
    const tag = decodeVarint(chunk, pos - base, false);
    if (tag === undefined) throw new WireError(`truncated or malformed field at byte ${pos}`);
    // Tags are 32-bit (onnx.proto's field numbers are small); a longer one is malformed, as protobuf itself says.
    if (!(tag <= 0xffffffff)) throw new WireError(`invalid tag of more than 32 bits at byte ${pos}`);
    const at = varintEnd;
    field.no = tag >>> 3;
    field.wire = tag & 7;
    field.varint = 0;
    if (field.no === 0) throw new WireError(`invalid field number 0 at byte ${pos}`);
    switch (field.wire) {
      case WIRE_VARINT: {
        const value = decodeVarint(chunk, at, true);
        if (value === undefined) throw new WireError(`truncated or malformed field at byte ${pos}`);
        field.varint = value;
        field.pos = base + at;
        field.len = varintEnd - at;
        break;
      }
      case WIRE_I64:
        field.pos = base + at;
        field.len = 8;
        break;
      case WIRE_I32:
        field.pos = base + at;
        field.len = 4;
        break;
      case WIRE_LEN: {
        const len = decodeVarint(chunk, at, false);
        if (len === undefined) throw new WireError(`truncated or malformed field at byte ${pos}`);
        if (Number.isNaN(len)) throw new WireError(`field ${field.no} at byte ${pos} claims a length beyond 2^53 bytes`);
        field.pos = base + varintEnd;
        field.len = len;
        break;
      }
      default:
        throw new WireError(`unsupported wire type ${field.wire} at byte ${pos}`);
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

/** Bytes of a message copied at a time for its field headers: a node, an attribute or a tensor's header in one. */
const HEADER_CHUNK = 4096;
const NO_BYTES = new Uint8Array(0);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Where the last decodeVarint ended (an index into its bytes): kept here, not returned, so that a walk allocates nothing per field. */
let varintEnd = 0;

/**
 * The varint at bytes[i] as a safe integer (NaN beyond 2^53), as protobuf reads it: `signed`, as an int64 (two's
 * complement of its 64 bits), else as a uint64; bits beyond the 64th are dropped. Undefined where it runs past the
 * bytes or past 10 bytes (malformed). Sets varintEnd.
 */
function decodeVarint(bytes: Uint8Array, i: number, signed: boolean): number | undefined {
  let value = 0;
  let scale = 1;
  // Up to 7 bytes (49 bits): exact as a number.
  for (let k = i; k < i + 7; k++) {
    if (k >= bytes.length) return undefined;
    const b = bytes[k];
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      varintEnd = k + 1;
      return value;
    }
    scale *= 128;
  }
  let big = BigInt(value);
  for (let k = i + 7; k < i + 10; k++) {
    if (k >= bytes.length) return undefined;
    const b = bytes[k];
    big |= BigInt(b & 0x7f) << BigInt(7 * (k - i));
    if (b < 0x80) {
      varintEnd = k + 1;
      const v = signed ? BigInt.asIntN(64, big) : BigInt.asUintN(64, big);
      return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : NaN;
    }
  }
  return undefined;
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
  const bytes = src.view(f.pos, f.len);
  for (let i = 0; i < bytes.length; i = varintEnd) {
    const value = decodeVarint(bytes, i, true);
    if (value === undefined) throw new WireError(`field ${f.no}: malformed packed integers`);
    out.push(value);
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
  for (let i = 0; i < bytes.length; ) {
    const value = decodeVarint(bytes, i, true);
    if (value === undefined) throw new WireError('malformed packed varints');
    // (varintEnd read before `visit`, which may decode varints of its own.)
    i = varintEnd;
    visit(value);
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
