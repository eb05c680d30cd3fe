// Writing a changed model without re-encoding what did not change: the output is the input's bytes with edits
// spliced in, and only the length prefixes of the messages that enclose an edit re-encoded. Fields this tool does
// not know (newer than onnx-proto's schema) pass through byte for byte.
import { Writer } from 'protobufjs/minimal';
import type { ByteSource } from './source';
import { WIRE_LEN, forEachField } from './wire';

/** Streams bytes into the output. */
export interface Out {
  write(bytes: Uint8Array): void;
}

/** Bytes to splice in: given, or produced on demand (size known in advance) so large values stream. */
export type Bytes = Uint8Array | { size: number; write: (out: Out) => void };

const byteSize = (b: Bytes) => (b instanceof Uint8Array ? b.length : b.size);

export type Edit =
  /** Replace the value of the LEN field whose value is [offset, offset + length) with `size` new bytes. */
  | { kind: 'value'; offset: number; length: number; size: number; write: (out: Out) => void }
  /** Drop the whole field that starts (at its tag) at `start` and ends at `end`. */
  | { kind: 'remove'; start: number; end: number }
  /** Insert whole fields (tags included) before the field whose tag starts at `before`. */
  | { kind: 'insert'; before: number; bytes: Bytes }
  /** Append whole fields (tags included) at the end of the message whose value is [message, end). */
  | { kind: 'append'; message: number; end: number; bytes: Bytes }
  /** Overwrite [offset, offset + length) with the same number of bytes: no structure changes. */
  | { kind: 'overwrite'; offset: number; length: number; write: (out: Out) => void };

export function encodeVarint(n: number): Uint8Array {
  return new Writer().uint64(n).finish();
}

/** The tag and length prefix of a LEN field. */
export function lenHeader(fieldNo: number, length: number): Uint8Array {
  return new Writer().uint32((fieldNo << 3) | WIRE_LEN).uint32(length).finish();
}

/** A LEN field: header and value. */
export function lenField(fieldNo: number, value: Uint8Array): Uint8Array {
  const header = lenHeader(fieldNo, value.length);
  const out = new Uint8Array(header.length + value.length);
  out.set(header);
  out.set(value, header.length);
  return out;
}

/** Applies `edits` to the model in `src` and streams the result to `out`. Returns the number of bytes written. */
export function spliceModel(src: ByteSource, edits: Edit[], out: Out): void {
  const plan = new SplicePlan(src, edits);
  plan.emit(0, src.size, out);
}

class SplicePlan {
  private readonly values = new Map<number, Extract<Edit, { kind: 'value' }>>();
  private readonly removes = new Map<number, Extract<Edit, { kind: 'remove' }>>();
  private readonly inserts = new Map<number, Bytes[]>();
  private readonly appends = new Map<number, Bytes[]>();
  private readonly overwrites: Extract<Edit, { kind: 'overwrite' }>[];
  /** Sorted offsets of structural edits, to tell whether a field encloses one. */
  private readonly structural: number[];
  private readonly sizes = new Map<number, number>();

  constructor(
    private readonly src: ByteSource,
    edits: Edit[],
  ) {
    const points: number[] = [];
    for (const e of edits) {
      if (e.kind === 'value') {
        this.values.set(e.offset, e);
        points.push(e.offset);
      } else if (e.kind === 'remove') {
        this.removes.set(e.start, e);
        points.push(e.start);
      } else if (e.kind === 'insert') {
        const list = this.inserts.get(e.before) ?? [];
        list.push(e.bytes);
        this.inserts.set(e.before, list);
        points.push(e.before);
      } else if (e.kind === 'append') {
        if (e.end <= e.message) throw new Error('internal error: append to an empty message');
        const list = this.appends.get(e.message) ?? [];
        list.push(e.bytes);
        this.appends.set(e.message, list);
        points.push(e.message);
      }
    }
    this.structural = points.sort((a, b) => a - b);
    this.overwrites = edits.filter((e): e is Extract<Edit, { kind: 'overwrite' }> => e.kind === 'overwrite').sort((a, b) => a.offset - b.offset);
  }

  /** Whether a structural edit lies in [from, to). */
  private touches(from: number, to: number): boolean {
    let lo = 0;
    let hi = this.structural.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.structural[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.structural.length && this.structural[lo] < to;
  }

  /** New byte length of the message content [start, end). */
  size(start: number, end: number): number {
    const known = this.sizes.get(start);
    if (known !== undefined) return known;
    let size = 0;
    forEachField(this.src, start, end, (f) => {
      for (const bytes of this.inserts.get(f.start) ?? []) size += byteSize(bytes);
      if (this.removes.has(f.start)) return;
      const fieldEnd = f.pos + f.len;
      const value = this.values.get(f.pos);
      if (value && value.length === f.len && f.wire === WIRE_LEN) {
        size += lenHeader(f.no, value.size).length + value.size;
      } else if (f.wire === WIRE_LEN && this.touches(f.pos, fieldEnd)) {
        const inner = this.size(f.pos, fieldEnd);
        size += lenHeader(f.no, inner).length + inner;
      } else {
        size += fieldEnd - f.start;
      }
    });
    for (const bytes of this.appends.get(start) ?? []) size += byteSize(bytes);
    this.sizes.set(start, size);
    return size;
  }

  emit(start: number, end: number, out: Out): void {
    // Fields are visited in order; verbatim runs are copied in one go.
    let runStart = start;
    let runEnd = start;
    const flush = () => {
      if (runEnd > runStart) this.copy(runStart, runEnd, out);
      runStart = runEnd;
    };
    const fields: { no: number; start: number; pos: number; len: number; wire: number }[] = [];
    forEachField(this.src, start, end, (f) => fields.push({ no: f.no, start: f.start, pos: f.pos, len: f.len, wire: f.wire }));
    for (const f of fields) {
      const fieldEnd = f.pos + f.len;
      const inserted = this.inserts.get(f.start);
      const value = this.values.get(f.pos);
      const removed = this.removes.has(f.start);
      const nested = !value && !removed && f.wire === WIRE_LEN && this.touches(f.pos, fieldEnd);
      if (!inserted && !removed && !(value && value.length === f.len) && !nested) {
        runEnd = fieldEnd;
        continue;
      }
      flush();
      for (const bytes of inserted ?? []) writeBytes(bytes, out);
      if (removed) {
        // dropped
      } else if (value && value.length === f.len && f.wire === WIRE_LEN) {
        out.write(lenHeader(f.no, value.size));
        writeExactly(value.size, value.write, out, `the new value of field ${f.no} at byte ${f.start}`);
      } else if (nested) {
        out.write(lenHeader(f.no, this.size(f.pos, fieldEnd)));
        this.emit(f.pos, fieldEnd, out);
      } else {
        this.copy(f.start, fieldEnd, out);
      }
      runStart = runEnd = fieldEnd;
    }
    flush();
    for (const bytes of this.appends.get(start) ?? []) writeBytes(bytes, out);
  }

  /** Copies [from, to) of the input, applying same-length overwrites that fall inside it. */
  private copy(from: number, to: number, out: Out): void {
    let at = from;
    for (const o of this.overwrites) {
      if (o.offset + o.length <= at || o.offset >= to) continue;
      if (o.offset < at || o.offset + o.length > to) throw new Error(`overwrite at ${o.offset} straddles a copied range`);
      this.copyRaw(at, o.offset, out);
      writeExactly(o.length, o.write, out, `the overwrite at byte ${o.offset}`);
      at = o.offset + o.length;
    }
    this.copyRaw(at, to, out);
  }

  private copyRaw(from: number, to: number, out: Out): void {
    copyBytes(this.src, from, to, out);
  }
}

const COPY_CHUNK = 8 << 20;
let copyBuffer: Buffer | undefined;

/** Copies bytes [from, to) of `src` to `out` through one reusable buffer. */
export function copyBytes(src: ByteSource, from: number, to: number, out: Out): void {
  copyBuffer ??= Buffer.allocUnsafe(COPY_CHUNK);
  for (let at = from; at < to; at += COPY_CHUNK) {
    const chunk = copyBuffer.subarray(0, Math.min(COPY_CHUNK, to - at));
    src.readInto(at, chunk);
    out.write(chunk);
  }
}

function writeBytes(bytes: Bytes, out: Out): void {
  if (bytes instanceof Uint8Array) out.write(bytes);
  else writeExactly(bytes.size, bytes.write, out, 'spliced bytes');
}

/** Runs `write` and checks it produced exactly `size` bytes: a wrong count would corrupt every length prefix. */
function writeExactly(size: number, write: (out: Out) => void, out: Out, what: string): void {
  let count = 0;
  write({
    write(bytes) {
      count += bytes.length;
      out.write(bytes);
    },
  });
  if (count !== size) throw new Error(`internal error: ${what} wrote ${count} bytes, ${size} announced`);
}
