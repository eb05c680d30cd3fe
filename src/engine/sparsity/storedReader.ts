// Reads a compressed weight (stored.ts) as its dense elements in storage order, decoding only the groups a read
// touches: the scanner, the drill-down and the tests see exactly what the decode graph or the Ascend decoder
// rebuilds, in bounded memory. Portable: slot j of a group holds element positions[j] (domain.md §4.3, the same
// stream decompress decodes). Ascend (domain.md §4.1): slot 0 holds e[index[0]], slot 1 e[1 + index[1]] unless that
// is the same element; the index stream is index[0], index[1] per group, 2 bits each, LSB first (encode/ascend.ts).
import { openBitmask24 } from '../safetensors/bitmask24';
import { dtypeById, dtypeName, rawByteLength } from '../onnx/dtypes';
import { type TensorRef, elementCount } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type ElementBytes, type ElementReader, type ExternalFiles, TensorError, openTensor } from '../onnx/tensorData';
import { zeroPointLookup } from './decode';
import type { StoredWeight } from './stored';

/** Bytes of values read in one piece for consecutive rows (their index stream with them). */
const SPAN_BYTES = 8 << 20;
/** Dense elements decoded ahead for a scan (16 MB of float32): fewer, larger reads when K is not the last axis. */
const WINDOW_ELEMENTS = 4 << 20;
/** Reads of fewer elements are decoded on their own, never through the window. */
const WINDOW_MIN = 4096;

/** Opens a stored weight for reading. Throws TensorError, naming the tensor, when its parts disagree in size or type. */
export function openStored(src: ByteSource, stored: StoredWeight, externals: ExternalFiles): ElementReader {
  if (stored.problem) throw new TensorError(stored.problem);
  if (stored.format === 'compressed-tensors') return openBitmask24(src, stored, externals);
  const what = `compressed weight '${stored.weight}' (${stored.format})`;
  const dtype = dtypeById(stored.dtype);
  if (!dtype || ![8, 16, 32].includes(dtype.bits)) throw new TensorError(`${what}: values of type ${dtypeName(stored.dtype)} are not read`);
  const count = elementCount(stored.dims);
  const K = stored.dims[stored.axis];
  const groups = count / stored.m;
  const slots = groups * stored.n;
  const check = (t: TensorRef, role: string, type: number, elements: number) => {
    if (t.dtype !== type) throw new TensorError(`${what}: its ${role} tensor '${t.name}' is ${dtypeName(t.dtype)}, not ${dtypeName(type)}`);
    if (elementCount(t.dims) !== elements) {
      throw new TensorError(`${what}: its ${role} tensor '${t.name}' holds ${elementCount(t.dims)} elements; ${stored.n}:${stored.m} over dims [${stored.dims.join(', ')}] needs ${elements}`);
    }
  };
  check(stored.values, 'values', stored.dtype, slots);
  check(stored.index, 'index', 2, Math.ceil((slots * stored.bits) / 8));
  const open = (t: TensorRef, role: string) => {
    try {
      return openTensor(src, t, externals);
    } catch (err) {
      throw new TensorError(`${what}: its ${role} tensor '${t.name}': ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const values = open(stored.values, 'values');
  const index = open(stored.index, 'index');
  return new StoredReader(stored, what, values, index, K, stored.negativeZeros && open(stored.negativeZeros, 'negative-zero mask'));
}

class StoredReader implements ElementReader {
  readonly splittable = true;
  readonly dtype;
  readonly count: number;
  private readonly size: number;
  private readonly B: number;
  private readonly groupsPerRow: number;
  private buffer = new Uint8Array(0);
  private window?: { a: number; k0: number; k1: number; bytes: Uint8Array };
  /** Undefined when every zero is all zero bytes (floats; integers with zero point 0). */
  private readonly fillAt?: (element: number, out: Uint8Array, at: number) => void;

  constructor(
    private readonly stored: StoredWeight,
    private readonly what: string,
    private readonly values: ElementReader,
    private readonly index: ElementReader,
    private readonly K: number,
    /** Portable: the -0.0 mask, 1 bit per element of the [A*B, K] view (the decode graph sets those after the scatter). */
    private readonly negativeZeros?: ElementReader,
  ) {
    this.dtype = values.dtype;
    this.count = elementCount(stored.dims);
    this.size = this.dtype.bits / 8;
    this.B = stored.dims.slice(stored.axis + 1).reduce((x, y) => x * y, 1);
    this.groupsPerRow = K / stored.m;
    this.fillAt = this.filler();
  }

  /** Writes the zero of an element: the portable decode graph's one zero, or the Ascend zero point of its place. */
  private filler(): ((element: number, out: Uint8Array, at: number) => void) | undefined {
    const size = this.size;
    if (this.stored.zero) {
      const zero = Uint8Array.from(this.stored.zero);
      return zero.some((x) => x !== 0) ? (_e, out, at) => out.set(zero, at) : undefined;
    }
    if (!this.stored.zeroPoint || this.stored.zeroPoint.values.every((v) => v === 0)) return undefined;
    const lookup = zeroPointLookup(this.stored.zeroPoint, this.stored.dims);
    const word = new Uint8Array(4);
    const view = new DataView(word.buffer);
    return (e, out, at) => {
      view.setInt32(0, lookup(e), true);
      out.set(word.subarray(0, size), at);
    };
  }

  read(start: number, count: number): ElementBytes {
    const size = this.size;
    if (start < 0 || count < 0 || start + count > this.count) throw new TensorError(`${this.what}: elements ${start}..${start + count} lie outside its ${this.count}`);
    if (this.buffer.length < count * size) this.buffer = new Uint8Array(Math.max(count * size, this.buffer.length * 2));
    const out = this.buffer.subarray(0, count * size);
    const block = this.K * this.B;
    const a = Math.floor(start / block);
    // A scan's slab (many elements in one row a of [A, K, B]) is served from a decoded window of K rows; a few
    // elements (the drill-down) are decoded on their own.
    if (count >= WINDOW_MIN && Math.floor((start + count - 1) / block) === a) {
      const kFrom = Math.floor((start - a * block) / this.B);
      const kTo = Math.floor((start + count - 1 - a * block) / this.B);
      const w = this.window;
      const window = w && w.a === a && kFrom >= w.k0 && kTo < w.k1 ? w : this.decodeWindow(a, kFrom, kTo);
      const offset = (start - (a * this.K + window.k0) * this.B) * size;
      out.set(window.bytes.subarray(offset, offset + count * size));
    } else this.decodeInto(start, count, out);
    return { bytes: out, nibble: 0 };
  }

  /** Decodes K rows [k0, k1) of row a, all of B, covering [kFrom, kTo] and about WINDOW_ELEMENTS in all. */
  private decodeWindow(a: number, kFrom: number, kTo: number): { a: number; k0: number; k1: number; bytes: Uint8Array } {
    const { K, B } = this;
    const m = this.stored.m;
    const k0 = Math.floor(kFrom / m) * m;
    const height = Math.max(Math.ceil((kTo + 1 - k0) / m) * m, Math.floor(WINDOW_ELEMENTS / B / m) * m);
    const k1 = Math.min(K, k0 + height);
    const length = (k1 - k0) * B * this.size;
    const bytes = this.window && this.window.bytes.length >= length ? this.window.bytes.subarray(0, length) : new Uint8Array(length);
    this.window = undefined; // a failed decode leaves no half-filled window behind
    this.decodeInto((a * K + k0) * B, (k1 - k0) * B, bytes);
    this.window = { a, k0, k1, bytes };
    return this.window;
  }

  /** Decodes elements [start, start + count) into `out` (their zeros first, then every kept value among them). */
  private decodeInto(start: number, count: number, out: Uint8Array): void {
    const size = this.size;
    out.fill(0);
    if (this.fillAt) for (let i = 0; i < count; i++) this.fillAt(start + i, out, i * size);
    if (count === 0) return;
    const { K, B } = this;
    const end = start + count;
    // The groups each row (a, b) of the [A*B, K] view has in [start, end), as [row, first group, last group].
    const rows: [number, number, number][] = [];
    const aFirst = Math.floor(start / (K * B));
    const aLast = Math.floor((end - 1) / (K * B));
    for (let a = aFirst; a <= aLast; a++) {
      const from = Math.max(start, a * K * B) - a * K * B;
      const to = Math.min(end, (a + 1) * K * B) - a * K * B;
      const kFrom = Math.floor(from / B);
      const kTo = Math.floor((to - 1) / B);
      // A partial first or last k row holds only some b: a group there is decoded, and its elements outside dropped.
      for (let b = 0; b < B; b++) rows.push([a * B + b, Math.floor(kFrom / this.stored.m), Math.floor(kTo / this.stored.m)]);
    }
    // Consecutive rows share one read while the groups from the first to the last fit SPAN_BYTES of values: a read
    // per row costs a system call each (thousands per slab when K is not the last axis).
    const gpr = this.groupsPerRow;
    const budget = Math.max(gpr, Math.floor(SPAN_BYTES / (this.stored.n * this.size)));
    for (let i = 0; i < rows.length; ) {
      const first = rows[i][0] * gpr + rows[i][1];
      let j = i;
      while (j + 1 < rows.length && rows[j + 1][0] * gpr + rows[j + 1][2] - first < budget) j++;
      this.decodeRows(rows.slice(i, j + 1), start, end, out);
      i = j + 1;
    }
  }

  /** Decodes the groups [g0, g1] of each [row, g0, g1] (one read for all) into `out` where they fall in [start, end). */
  private decodeRows(rows: [number, number, number][], start: number, end: number, out: Uint8Array): void {
    const { n, m, bits } = this.stored;
    const ascend = this.stored.format === 'ascend';
    const size = this.size;
    const { K, B } = this;
    const gpr = this.groupsPerRow;
    const gFirst = rows[0][0] * gpr + rows[0][1];
    const gLast = rows[rows.length - 1][0] * gpr + rows[rows.length - 1][2];
    const slot0 = gFirst * n;
    const slots = (gLast - gFirst + 1) * n;
    const values = this.values.read(slot0, slots).bytes;
    const byte0 = Math.floor((slot0 * bits) / 8);
    const index = this.index.read(byte0, Math.ceil(((slot0 + slots) * bits) / 8) - byte0).bytes;
    // Bit offsets relative to the bytes read: small numbers whatever the tensor's size.
    const bitShift = slot0 * bits - byte0 * 8;
    const mask = (1 << bits) - 1;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r][0];
      const g0 = rows[r][1];
      const g1 = rows[r][2];
      const a = Math.floor(row / B);
      const b = row - a * B;
      // Element 0 of group g0 in storage order, relative to `start`; each next group is m K-rows further.
      let first = (a * K + g0 * m) * B + b - start;
      const step = m * B;
      const count = end - start;
      let slot = (row * gpr + g0 - gFirst) * n;
      for (let group = g0; group <= g1; group++, first += step) {
        let seen = 0;
        for (let j = 0; j < n; j++, slot++) {
          const bit = slot * bits + bitShift;
          const field = (index[bit >> 3] >> (bit & 7)) & mask;
          // Ascend: slot 1 counts from element 1, and yields to slot 0 on the same element (encode/ascend.ts).
          const position = ascend && j === 1 ? 1 + field : field;
          if (ascend ? field === 3 : position >= m || (seen >> position) & 1) {
            const why = ascend ? `index ${j} is 11, not a position 0..2` : position >= m ? `position ${position} is not below M = ${m}` : `position ${position} is listed twice`;
            throw new TensorError(`${this.what}: index tensor '${this.stored.index.name}', row ${row}, group ${group}: ${why}`);
          }
          if (ascend && j === 1 && (seen >> position) & 1) continue;
          seen |= 1 << position;
          const e = first + position * B;
          if (e < 0 || e >= count) continue;
          const from = slot * size;
          const to = e * size;
          for (let i = 0; i < size; i++) out[to + i] = values[from + i];
        }
      }
    }
    if (this.negativeZeros) this.applyNegativeZeros(rows, start, end, out);
  }

  /** Sets the elements the -0.0 mask flags among the groups of `rows` to the zero with its sign bit set, as the decode graph does. */
  private applyNegativeZeros(rows: [number, number, number][], start: number, end: number, out: Uint8Array): void {
    const { m } = this.stored;
    const { K, B, size } = this;
    const gpr = this.groupsPerRow;
    const bit0 = (rows[0][0] * gpr + rows[0][1]) * m;
    const bit1 = (rows[rows.length - 1][0] * gpr + rows[rows.length - 1][2] + 1) * m;
    const byte0 = bit0 >> 3;
    const mask = this.negativeZeros!.read(byte0, Math.ceil(bit1 / 8) - byte0).bytes;
    const negative = Uint8Array.from(this.stored.zero ?? new Array(size).fill(0));
    negative[size - 1] |= 0x80;
    for (const [row, g0, g1] of rows) {
      const a = Math.floor(row / B);
      const b = row - a * B;
      for (let k = g0 * m; k < (g1 + 1) * m; k++) {
        const bit = row * K + k - byte0 * 8;
        if (!((mask[bit >> 3] >> (bit & 7)) & 1)) continue;
        const e = (a * K + k) * B + b - start;
        if (e < 0 || e >= end - start) continue;
        out.set(negative, e * size);
      }
    }
  }



  readInto(start: number, count: number, target: Uint8Array): void {
    target.set(this.read(start, count).bytes);
  }
}

/** Bytes of a stored weight's dense form (for planning reads). */
export function denseBytes(stored: StoredWeight): number {
  const dtype = dtypeById(stored.dtype);
  return dtype ? rawByteLength(dtype, elementCount(stored.dims)) : 0;
}
