// Reading a tensor's values as canonical little-endian raw bytes, whatever its storage:
// raw_data, typed repeated fields, external files (safely resolved), sparse tensors.
import { realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { openFolded } from './folded';
import { type DType, dtypeById, dtypeName, rawByteLength } from './dtypes';
import { PackedCodesReader } from './packedCodes';
import { type TensorRef, elementCount } from './skeleton';
import { type ByteSource, FileSource, NotRegularFileError, type OpenedFile } from './source';
import { decodeVarints, decodeVarints64 } from './wire';

/** Thrown for a problem with one tensor: the layer using it fails, the report stands. */
export class TensorError extends Error {}

/** Canonical raw bytes for a run of elements; int4/uint4 runs may start on the high nibble of the first byte. */
export interface ElementBytes {
  bytes: Uint8Array;
  /** 1 when the first element is the high nibble of bytes[0] (4-bit types only). */
  nibble: number;
}

export interface ElementReader {
  readonly dtype: DType;
  readonly count: number;
  /** Whether reads of disjoint ranges are cheap and independent (the pool may split the tensor). */
  readonly splittable: boolean;
  read(start: number, count: number): ElementBytes;
  /** Copies the raw bytes of elements [start, start + count) into `target` (types of 8 bits and more). */
  readInto(start: number, count: number, target: Uint8Array): void;
}

const MAX_DECODED_BYTES = 256 << 20;

/** External data files of one model, opened once and shared by the tensors that live in them. */
export class ExternalFiles {
  private readonly open = new Map<string, FileSource>();
  constructor(readonly modelPath: string) {}

  /** The file for `location`, confined to the model's folder (domain.md §7). */
  get(location: string): FileSource {
    let src = this.open.get(location);
    if (!src) {
      src = openExternal(this.modelPath, location);
      this.open.set(location, src);
    }
    return src;
  }

  close(): void {
    for (const src of this.open.values()) src.close();
    this.open.clear();
  }
}

/**
 * Opens an external-data file inside the model's folder. Rejects absolute paths, `..` segments and links that lead
 * outside the folder (CVE-2022-25882, CVE-2024-27318, CVE-2026-27489). Open first, then check what was opened: a
 * check of the path followed by an open of the path would let a folder swapped for a link in between lead anywhere.
 */
export function openExternal(modelPath: string, location: string): FileSource {
  return openConfined(modelPath, location).file;
}

/** Where `location` leads (its real path), checked as openExternal checks it; the file is opened and closed again. */
export function resolveExternalPath(modelPath: string, location: string): string {
  const { file, real } = openConfined(modelPath, location);
  file.close();
  return real;
}

function openConfined(modelPath: string, location: string): { file: FileSource; real: string } {
  checkLocationText(location);
  const folder = dirname(modelPath);
  // Refuse a link leading outside before opening anything there; the check after the open is the one that counts.
  confinedRealPath(folder, location);
  let file: FileSource;
  try {
    file = new FileSource(join(folder, location));
  } catch (err) {
    throw openFailure(location, err as NodeJS.ErrnoException);
  }
  try {
    return { file, real: checkOpenedExternal(modelPath, location, file) };
  } catch (err) {
    file.close();
    throw err;
  }
}

/**
 * The real path of the file opened for `location`, if it lies inside the model's real folder; otherwise a TensorError.
 * Where the system tells where the open file lies (Linux), that path is checked, so no swap after the open can change
 * the answer. Elsewhere the path is resolved again and must lead to the same device and inode as the open file: a
 * swap before the open is caught, though one back and forth between that resolution and its stat is not.
 */
export function checkOpenedExternal(modelPath: string, location: string, opened: OpenedFile): string {
  const folder = dirname(modelPath);
  const where = opened.openedPath;
  const real = where !== undefined ? where : confinedRealPath(folder, location);
  const now = statSync(real, { bigint: true, throwIfNoEntry: false });
  const inside = where === undefined || isInside(realFolderOf(folder, location), where);
  if (!inside || !now || now.dev !== opened.identity.dev || now.ino !== opened.identity.ino) {
    throw new TensorError(`external data location '${location}' changed while it was being opened (a file, folder or link was replaced); refused`);
  }
  return real;
}

function checkLocationText(location: string): void {
  if (location === '' || location.includes('\0')) throw new TensorError(`external data location '${location}' is empty or invalid`);
  if (isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith('\\') || location.startsWith('/')) {
    throw new TensorError(`external data location '${location}' is an absolute path; only paths inside the model's folder are allowed`);
  }
  if (location.split(/[\\/]/).some((seg) => seg === '..')) {
    throw new TensorError(`external data location '${location}' contains '..'; only paths inside the model's folder are allowed`);
  }
}

/** The real path `location` leads to now, if it is inside the real `folder` (and not the folder itself). */
function confinedRealPath(folder: string, location: string): string {
  const realFolder = realFolderOf(folder, location);
  let real: string;
  try {
    real = realpathSync(join(folder, location));
  } catch (err) {
    throw openFailure(location, err as NodeJS.ErrnoException);
  }
  if (real === realFolder) throw new TensorError(`external data location '${location}' is the model's own folder, not a file`);
  if (!isInside(realFolder, real)) throw new TensorError(`external data location '${location}' leads outside the model's folder (through a link)`);
  return real;
}

function realFolderOf(folder: string, location: string): string {
  try {
    return realpathSync(folder);
  } catch (err) {
    throw openFailure(location, err as NodeJS.ErrnoException);
  }
}

/** Whether real path `real` lies strictly inside real folder `realFolder`. */
function isInside(realFolder: string, real: string): boolean {
  const rel = relative(realFolder, real);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** A failed realpath or open of `location`, in words. */
function openFailure(location: string, err: NodeJS.ErrnoException): TensorError {
  if (err instanceof NotRegularFileError) {
    const what = err.kind === 'a folder' ? 'a folder, not a regular file' : `not a regular file (${err.kind})`;
    return new TensorError(`external data location '${location}' is ${what}`);
  }
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new TensorError(`external data file '${location}' not found next to the model`);
    case 'ELOOP':
      return new TensorError(`external data location '${location}' is a loop of links`);
    case 'ENAMETOOLONG':
      return new TensorError(`external data location of ${location.length} characters is too long for a path`);
    case 'EACCES':
    case 'EPERM':
      return new TensorError(`external data file '${location}' cannot be read: permission denied`);
    default:
      return new TensorError(`external data file '${location}' cannot be opened (${err.code ?? err.message})`);
  }
}

/** Opens a tensor for reading. Throws TensorError when its storage is inconsistent with its type and dims. */
export function openTensor(src: ByteSource, tensor: TensorRef, externals: ExternalFiles): ElementReader {
  if (tensor.problem) throw new TensorError(tensor.problem);
  if (tensor.fold) return openFolded(src, tensor, externals);
  if (tensor.codes) {
    const stored = openTensor(src, { ...tensor, codes: undefined, dtype: 2, dims: tensor.codes.storedDims }, externals);
    return new PackedCodesReader(stored, tensor.codes, elementCount(tensor.dims));
  }
  const dtype = dtypeById(tensor.dtype);
  if (!dtype || dtype.bits === 0) throw new TensorError(`unsupported data type ${dtypeName(tensor.dtype)}`);
  const count = elementCount(tensor.dims);
  const expected = rawByteLength(dtype, count);
  const data = tensor.data;
  switch (data.kind) {
    case 'raw':
      if (data.length !== expected) {
        throw new TensorError(`raw_data holds ${data.length} bytes but ${dtype.name} dims [${tensor.dims.join(', ')}] need ${expected}`);
      }
      return new RangeReader(src, data.offset, dtype, count);
    case 'external': {
      const file = externals.get(data.location);
      const length = data.length ?? expected;
      if (length !== expected) {
        throw new TensorError(`external data length ${length} but ${dtype.name} dims [${tensor.dims.join(', ')}] need ${expected} bytes`);
      }
      if (data.offset + length > file.size) {
        throw new TensorError(`external data offset ${data.offset} + length ${length} runs past the end of '${data.location}' (${file.size} bytes)`);
      }
      return new RangeReader(file, data.offset, dtype, count);
    }
    case 'typed':
      return new BufferReader(dtype, count, decodeTyped(src, tensor, dtype, count, expected));
    case 'sparse':
      return new BufferReader(dtype, count, densifySparse(src, tensor, dtype, count, expected, externals));
    case 'none':
      if (count === 0) return new BufferReader(dtype, 0, new Uint8Array(0));
      throw new TensorError(`no data: neither raw_data, a typed field nor external data holds the ${count} values`);
  }
}

class RangeReader implements ElementReader {
  readonly splittable = true;
  private buffer = new Uint8Array(0);
  constructor(
    private readonly src: ByteSource,
    private readonly offset: number,
    readonly dtype: DType,
    readonly count: number,
  ) {}

  read(start: number, count: number): ElementBytes {
    const { first, length, nibble } = byteSpan(this.dtype, start, count);
    if (this.buffer.length < length) this.buffer = new Uint8Array(Math.max(length, this.buffer.length * 2));
    const bytes = this.buffer.subarray(0, length);
    this.src.readInto(this.offset + first, bytes);
    return { bytes, nibble };
  }

  readInto(start: number, count: number, target: Uint8Array): void {
    const { first, length } = byteSpan(this.dtype, start, count);
    this.src.readInto(this.offset + first, target.subarray(0, length));
  }
}

/** Elements held in memory (decoded typed fields, densified sparse tensors, folded weights). */
export class BufferReader implements ElementReader {
  constructor(
    readonly dtype: DType,
    readonly count: number,
    private readonly data: Uint8Array,
    readonly splittable = true,
  ) {}
  read(start: number, count: number): ElementBytes {
    const { first, length, nibble } = byteSpan(this.dtype, start, count);
    return { bytes: this.data.subarray(first, first + length), nibble };
  }

  readInto(start: number, count: number, target: Uint8Array): void {
    target.set(this.read(start, count).bytes);
  }
}

function byteSpan(dtype: DType, start: number, count: number): { first: number; length: number; nibble: number } {
  if (dtype.bits === 4) {
    const first = Math.floor(start / 2);
    return { first, length: Math.ceil((start + count) / 2) - first, nibble: start & 1 };
  }
  const size = dtype.bits / 8;
  return { first: start * size, length: count * size, nibble: 0 };
}

/**
 * The integers a varint field may hold for a type narrower than 64 bits: its values (int8 -128 to 127...), the bit
 * patterns of float16, bfloat16 and float8 (unsigned), one packed byte for int4/uint4 (onnx.helper.make_tensor).
 */
function storedRange(dtype: DType): { min: number; max: number; what: string } {
  if (dtype.bits === 4) return { min: 0, max: 0xff, what: 'one packed byte: 0 to 255' };
  const min = dtype.signed ? -(2 ** (dtype.bits - 1)) : 0;
  const max = dtype.signed ? 2 ** (dtype.bits - 1) - 1 : 2 ** dtype.bits - 1;
  return { min, max, what: `${min} to ${max}` };
}

/** Typed repeated fields → canonical raw bytes (ONNX: fp16/bf16/fp8 bit patterns and small ints live in int32_data). */
function decodeTyped(src: ByteSource, tensor: TensorRef, dtype: DType, count: number, expected: number): Uint8Array {
  const data = tensor.data as Extract<TensorRef['data'], { kind: 'typed' }>;
  if (expected > MAX_DECODED_BYTES) throw new TensorError(`${expected} bytes in typed fields is more than this tool decodes (${MAX_DECODED_BYTES}); store the tensor in raw_data`);
  const out = new Uint8Array(expected);
  const dv = new DataView(out.buffer);
  // int4/uint4: each int32_data entry is one packed byte (two values, low nibble first).
  const entries = dtype.bits === 4 ? expected : count;
  const range = storedRange(dtype);
  let n = 0;
  // A value that does not fit is an error, not masked to its low bits (a float16 pattern of 70000 is no float16).
  const put = (value: number) => {
    if (!(value >= range.min && value <= range.max)) {
      throw new TensorError(`${data.field} value ${Number.isNaN(value) ? 'beyond 2^53' : value} does not fit ${dtype.name} (${range.what})`);
    }
    if (n >= entries) {
      n++;
      return;
    }
    switch (dtype.bits) {
      case 4:
      case 8:
        out[n] = value & 0xff;
        break;
      case 16:
        dv.setUint16(n * 2, value & 0xffff, true);
        break;
      case 32:
        dv.setInt32(n * 4, value | 0, true);
        break;
    }
    n++;
  };
  // int64/uint64 values as all their 64 bits: beyond 2^53 a JS number is not exact.
  const put64 = (value: bigint) => {
    if (n < entries) dv.setBigUint64(n * 8, value, true);
    n++;
  };
  for (const run of data.runs) {
    const bytes = src.view(run.offset, run.length);
    if (data.field === 'float_data' || data.field === 'double_data') {
      // Fixed-width fields are already little-endian IEEE values, packed or not.
      const width = data.field === 'float_data' ? 4 : 8;
      if (bytes.length % width !== 0) throw new TensorError(`${data.field} run of ${bytes.length} bytes is not a multiple of ${width}`);
      const values = bytes.length / width;
      if (n + values <= entries) out.set(bytes, n * width);
      n += values;
    } else if (dtype.bits === 64) {
      decodeVarints64(bytes, put64);
    } else {
      decodeVarints(bytes, put); // one varint when unpacked, many when packed
    }
  }
  if (n !== entries) {
    throw new TensorError(`${data.field} holds ${n} values but ${dtype.name} dims [${tensor.dims.join(', ')}] need ${entries}`);
  }
  return out;
}

/** A sparse tensor made dense: values at their (linear or coordinate) indices, zero elsewhere. */
function densifySparse(src: ByteSource, tensor: TensorRef, dtype: DType, count: number, expected: number, externals: ExternalFiles): Uint8Array {
  const data = tensor.data as Extract<TensorRef['data'], { kind: 'sparse' }>;
  if (expected > MAX_DECODED_BYTES) throw new TensorError(`sparse tensor of ${expected} dense bytes is more than this tool densifies (${MAX_DECODED_BYTES})`);
  if (dtype.bits === 4) throw new TensorError('sparse 4-bit tensors are not supported');
  const values = openTensor(src, data.values, externals);
  if (values.dtype.id !== dtype.id) throw new TensorError('sparse values and tensor disagree on the data type');
  const nnz = values.count;
  const indices = openTensor(src, data.indices, externals);
  if (indices.dtype.name !== 'int64') throw new TensorError(`sparse indices must be int64, not ${indices.dtype.name}`);
  const rank = tensor.dims.length;
  const coordinate = data.indices.dims.length === 2;
  if (coordinate ? data.indices.dims[0] !== nnz || data.indices.dims[1] !== rank : indices.count !== nnz) {
    throw new TensorError(`sparse indices of shape [${data.indices.dims.join(', ')}] do not match ${nnz} values of rank ${rank}`);
  }
  const idx = indices.read(0, indices.count).bytes;
  const idxView = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  const valBytes = values.read(0, nnz).bytes;
  const size = dtype.bits / 8;
  const out = new Uint8Array(expected);
  for (let v = 0; v < nnz; v++) {
    let linear = 0;
    if (coordinate) {
      for (let d = 0; d < rank; d++) {
        const c = Number(idxView.getBigInt64((v * rank + d) * 8, true));
        if (c < 0 || c >= tensor.dims[d]) throw new TensorError(`sparse index ${c} out of range for dimension ${d} (size ${tensor.dims[d]})`);
        linear = linear * tensor.dims[d] + c;
      }
    } else {
      linear = Number(idxView.getBigInt64(v * 8, true));
    }
    if (!(linear >= 0 && linear < count)) throw new TensorError(`sparse index ${linear} out of range for ${count} elements`);
    out.set(valBytes.subarray(v * size, (v + 1) * size), linear * size);
  }
  return out;
}
