// Reads a compressed weight (stored.ts) as its dense elements in storage order, decoding only the groups a read
// touches: the scanner, the drill-down and the tests see exactly what the decode graph or the Ascend decoder
// rebuilds, in bounded memory. Portable: slot j of a group holds element positions[j] (domain.md §4.3, the same
// stream decompress decodes). Ascend (domain.md §4.1): slot 0 holds e[index[0]], slot 1 e[1 + index[1]] unless that
// is the same element; the index stream is index[0], index[1] per group, 2 bits each, LSB first (encode/ascend.ts).
import { dtypeById, dtypeName, rawByteLength } from '../onnx/dtypes';
import { type TensorRef, elementCount } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type ElementBytes, type ElementReader, type ExternalFiles, TensorError, openTensor } from '../onnx/tensorData';
import { zeroPointLookup } from './decode';
import type { StoredWeight } from './stored';

/** Groups read in one piece across rows when they lie this close together; farther apart, row by row. */
const SPAN_SLACK = 4096;

/** Opens a stored weight for reading. Throws TensorError, naming the tensor, when its parts disagree in size or type. */
export function openStored(src: ByteSource, stored: StoredWeight, externals: ExternalFiles): ElementReader {
  if (stored.problem) throw new TensorError(stored.problem);
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
  return new StoredReader(stored, what, values, index, K);
}

class StoredReader implements ElementReader {
  readonly splittable = true;
  readonly dtype;
  readonly count: number;
  private readonly size: number;
  private readonly B: number;
  private readonly groupsPerRow: number;
  private buffer = new Uint8Array(0);
  /** Undefined when every zero is all zero bytes (floats; integers with zero point 0). */
  private readonly fillAt?: (element: number, out: Uint8Array, at: number) => void;

  constructor(
    private readonly stored: StoredWeight,
    private readonly what: string,
    private readonly values: ElementReader,
    private readonly index: ElementReader,
    private readonly K: number,
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
    out.fill(0);
    if (this.fillAt) for (let i = 0; i < count; i++) this.fillAt(start + i, out, i * size);
    if (count === 0) return { bytes: out, nibble: 0 };
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
    const gpr = this.groupsPerRow;
    const needed = rows.reduce((s, [, g0, g1]) => s + g1 - g0 + 1, 0);
    const first = rows[0][0] * gpr + rows[0][1];
    const last = rows[rows.length - 1][0] * gpr + rows[rows.length - 1][2];
    if (last - first + 1 <= needed + SPAN_SLACK) this.decodeGroups(first, last, start, end, out);
    else for (const row of rows) this.decodeGroups(row[0] * gpr + row[1], row[0] * gpr + row[2], start, end, out);
    return { bytes: out, nibble: 0 };
  }

  /** Decodes groups [g0, g1] (flat over the rows) into `out` where their elements fall in [start, end). */
  private decodeGroups(g0: number, g1: number, start: number, end: number, out: Uint8Array): void {
    const { n, m, bits, format } = this.stored;
    const size = this.size;
    const { K, B } = this;
    const gpr = this.groupsPerRow;
    const slot0 = g0 * n;
    const slots = (g1 - g0 + 1) * n;
    const values = this.values.read(slot0, slots).bytes;
    const bit0 = slot0 * bits;
    const byte0 = Math.floor(bit0 / 8);
    const index = this.index.read(byte0, Math.ceil(((slot0 + slots) * bits) / 8) - byte0).bytes;
    const mask = (1 << bits) - 1;
    for (let g = g0; g <= g1; g++) {
      const row = Math.floor(g / gpr);
      const a = Math.floor(row / B);
      const b = row % B;
      const kBase = (g % gpr) * m;
      let seen = 0;
      for (let j = 0; j < n; j++) {
        const slot = g * n + j;
        const bit = slot * bits;
        const field = (index[(bit >> 3) - byte0] >> (bit & 7)) & mask;
        // Ascend: slot 1 counts from element 1, and yields to slot 0 on the same element (encode/ascend.ts).
        const position = format === 'ascend' ? (j === 0 ? field : 1 + field) : field;
        if (format === 'ascend' ? field === 3 : position >= m || (seen >> position) & 1) {
          const why = format === 'ascend' ? `index ${j} is 11, not a position 0..2` : position >= m ? `position ${position} is not below M = ${m}` : `position ${position} is listed twice`;
          throw new TensorError(`${this.what}: index tensor '${this.stored.index.name}', row ${row}, group ${g % gpr}: ${why}`);
        }
        if (format === 'ascend' && j === 1 && (seen >> position) & 1) continue;
        seen |= 1 << position;
        const e = (a * K + kBase + position) * B + b;
        if (e < start || e >= end) continue;
        out.set(values.subarray((slot - slot0) * size, (slot - slot0 + 1) * size), (e - start) * size);
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
