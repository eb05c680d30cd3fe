// compressed-tensors' `sparse-24-bitmask` format (neuralmagic/compressed-tensors, compressors/sparse_compressors/
// sparse_24_bitmask.py): a dense 2-D weight [rows, cols] stored as `<prefix>.compressed` [rows, cols / 2] (the kept
// values, row by row, in the order of their places), `<prefix>.bitmask` uint8 [rows, ceil(cols / 8)] (one bit per
// place, least significant bit first, set where a value is kept) and `<prefix>.shape` (the dense shape). The writer
// keeps the 2 largest of every 4 places, so every row keeps exactly cols / 2 (some kept values may be zero). Read
// here as the dense weight, decoded row by row as the scan streams it: its 2:4 is verified from the bitmask and the
// values, not assumed.
import { dtypeById, dtypeName } from '../onnx/dtypes';
import { type TensorRef, elementCount } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type ElementBytes, type ElementReader, type ExternalFiles, TensorError, openTensor } from '../onnx/tensorData';
import type { StoredWeight } from '../sparsity/stored';

/** The format's name in config.json (quantization_config.sparsity_config.format). */
export const BITMASK24_FORMAT = 'sparse-24-bitmask';

/** Reads a `sparse-24-bitmask` weight as its dense [rows, cols] elements. */
export function openBitmask24(src: ByteSource, stored: StoredWeight, externals: ExternalFiles): ElementReader {
  const what = `compressed weight '${stored.weight}' (${BITMASK24_FORMAT})`;
  const [rows, cols] = stored.dims;
  const dtype = dtypeById(stored.dtype);
  if (!dtype || ![8, 16, 32].includes(dtype.bits)) throw new TensorError(`${what}: values of type ${dtypeName(stored.dtype)} are not read`);
  const check = (t: TensorRef, role: string, type: number, dims: number[]) => {
    if (t.dtype !== type) throw new TensorError(`${what}: '${t.name}' (${role}) is ${dtypeName(t.dtype)}, not ${dtypeName(type)}`);
    if (t.dims.join(',') !== dims.join(',')) throw new TensorError(`${what}: '${t.name}' (${role}) is [${t.dims.join(', ')}]; the dense shape [${rows}, ${cols}] needs [${dims.join(', ')}]`);
  };
  check(stored.values, 'values', stored.dtype, [rows, cols / 2]);
  check(stored.index, 'bitmask', 2, [rows, Math.ceil(cols / 8)]);
  const open = (t: TensorRef, role: string) => {
    try {
      return openTensor(src, t, externals);
    } catch (err) {
      throw new TensorError(`${what}: '${t.name}' (${role}): ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  return new Bitmask24Reader(what, open(stored.values, 'values'), open(stored.index, 'bitmask'), rows, cols);
}

class Bitmask24Reader implements ElementReader {
  readonly splittable = true;
  readonly dtype;
  readonly count: number;
  private readonly size: number;
  private buffer = new Uint8Array(0);

  constructor(
    private readonly what: string,
    private readonly values: ElementReader,
    private readonly bitmask: ElementReader,
    private readonly rows: number,
    private readonly cols: number,
  ) {
    this.dtype = values.dtype;
    this.count = rows * cols;
    this.size = this.dtype.bits / 8;
  }

  read(start: number, count: number): ElementBytes {
    const size = this.size;
    if (start < 0 || count < 0 || start + count > this.count) throw new TensorError(`${this.what}: elements ${start}..${start + count} lie outside its ${this.count}`);
    if (this.buffer.length < count * size) this.buffer = new Uint8Array(Math.max(count * size, this.buffer.length * 2));
    const out = this.buffer.subarray(0, count * size);
    this.readInto(start, count, out);
    return { bytes: out, nibble: 0 };
  }

  /** Decodes the rows covering [start, start + count): zeros everywhere, then each row's values at its set bits. */
  readInto(start: number, count: number, target: Uint8Array): void {
    const { cols, size } = this;
    const out = target.subarray(0, count * size);
    out.fill(0);
    if (count === 0) return;
    const half = cols / 2;
    const maskBytes = Math.ceil(cols / 8);
    const firstRow = Math.floor(start / cols);
    const lastRow = Math.floor((start + count - 1) / cols);
    const n = lastRow - firstRow + 1;
    const masks = this.bitmask.read(firstRow * maskBytes, n * maskBytes).bytes;
    const values = this.values.read(firstRow * half, n * half).bytes;
    for (let r = 0; r < n; r++) {
      const row = firstRow + r;
      let kept = 0;
      for (let c = 0; c < cols; c++) {
        if (!((masks[r * maskBytes + (c >> 3)] >> (c & 7)) & 1)) continue;
        if (kept === half) throw new TensorError(`${this.what}: bitmask row ${row} keeps more than the ${half} places its values hold`);
        const e = row * cols + c;
        if (e >= start && e < start + count) {
          const from = (r * half + kept) * size;
          out.set(values.subarray(from, from + size), (e - start) * size);
        }
        kept++;
      }
      if (kept !== half) throw new TensorError(`${this.what}: bitmask row ${row} keeps ${kept} places but its values hold ${half}`);
    }
  }
}

/** The bytes of the stored form, for the report: values, bitmask, and the dense weight's. */
export function bitmask24Bytes(stored: StoredWeight): { values: number; bitmask: number } {
  const bytes = (t: TensorRef) => Math.ceil((elementCount(t.dims) * (dtypeById(t.dtype)?.bits ?? 0)) / 8);
  return { values: bytes(stored.values), bitmask: bytes(stored.index) };
}
