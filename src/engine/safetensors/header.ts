// The header of a Hugging Face safetensors file (huggingface/safetensors README, "Format"): 8 bytes, a little-endian
// u64 N; N bytes of UTF-8 JSON mapping each tensor name to {dtype, shape, data_offsets: [begin, end)} relative to
// the byte buffer after the header, plus an optional "__metadata__" map of strings; then the byte buffer. Only the
// header is read here; tensor bytes are streamed later, as for ONNX. The format's own safety rules are kept: a
// header size cap (the reference implementation's 100 000 000 bytes), offsets inside the buffer, in order, without
// overlaps, and a byte count that matches the dtype and shape. A bad tensor is marked with its problem (its layer
// fails); only a header that cannot be read at all fails the file.
import type { ByteSource } from '../onnx/source';

/** The reference implementation's cap (safetensors' MAX_HEADER_SIZE): a larger header is refused, not read. */
export const MAX_HEADER_BYTES = 100_000_000;

/** safetensors dtype → ONNX TensorProto.DataType (the ids dtypes.ts knows), with the bytes per element. */
const DTYPES: Record<string, { onnx: number; bytes: number }> = {
  F64: { onnx: 11, bytes: 8 },
  F32: { onnx: 1, bytes: 4 },
  F16: { onnx: 10, bytes: 2 },
  BF16: { onnx: 16, bytes: 2 },
  F8_E4M3: { onnx: 17, bytes: 1 },
  F8_E5M2: { onnx: 19, bytes: 1 },
  I64: { onnx: 7, bytes: 8 },
  U64: { onnx: 13, bytes: 8 },
  I32: { onnx: 6, bytes: 4 },
  U32: { onnx: 12, bytes: 4 },
  I16: { onnx: 5, bytes: 2 },
  U16: { onnx: 4, bytes: 2 },
  I8: { onnx: 3, bytes: 1 },
  U8: { onnx: 2, bytes: 1 },
  BOOL: { onnx: 9, bytes: 1 },
};

export interface SafetensorsTensor {
  name: string;
  /** As the header spells it (F16, BF16, F8_E4M3...). */
  dtype: string;
  /** The ONNX data type id, or undefined for a dtype this tool does not read. */
  onnxType: number | undefined;
  shape: number[];
  /** Absolute byte offsets of the tensor's data in the file: [begin, end). */
  begin: number;
  end: number;
  /** Why the tensor cannot be read (its layer fails); undefined when it can. */
  problem?: string;
}

export interface SafetensorsHeader {
  /** Byte offset of the data buffer: 8 + N. */
  dataStart: number;
  metadata: Record<string, string>;
  /** In the header's order. */
  tensors: SafetensorsTensor[];
  /** File-level findings that change no number (e.g. bytes no tensor claims). */
  warnings: string[];
}

/** Thrown when the file is not a readable safetensors file at all. */
export class SafetensorsError extends Error {}

/** Reads and checks the header of the safetensors file `src`. */
export function readSafetensorsHeader(src: ByteSource): SafetensorsHeader {
  if (src.size < 8) throw new SafetensorsError(`the file has ${src.size} bytes: a safetensors file starts with an 8-byte header size`);
  const sizeBytes = src.view(0, 8);
  const claimed = new DataView(sizeBytes.buffer, sizeBytes.byteOffset, 8).getBigUint64(0, true);
  if (claimed > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`the header claims ${claimed} bytes, over the format's cap of ${MAX_HEADER_BYTES}`);
  const n = Number(claimed);
  if (8 + n > src.size) throw new SafetensorsError(`the header claims ${n} bytes but the file has ${src.size - 8} after the size field (incomplete download or copy?)`);
  const bytes = new Uint8Array(n);
  src.readInto(8, bytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SafetensorsError('the header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(`the header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SafetensorsError('the header is not a JSON object');
  const dataStart = 8 + n;
  const bufferBytes = src.size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensor[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new SafetensorsError('__metadata__ is not a map of strings');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__ '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.push(tensorEntry(name, entry, dataStart, bufferBytes));
  }
  const warnings = checkLayout(tensors, dataStart, bufferBytes);
  return { dataStart, metadata, tensors, warnings };
}

function tensorEntry(name: string, entry: unknown, dataStart: number, bufferBytes: number): SafetensorsTensor {
  const bad = (problem: string): SafetensorsTensor => ({ name, dtype: '?', onnxType: undefined, shape: [], begin: dataStart, end: dataStart, problem });
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return bad('its header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string') return bad('its header entry has no dtype');
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return bad(`its shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    return bad(`its data_offsets ${JSON.stringify(offsets)} are not two non-negative integers`);
  }
  const [b, e] = offsets as number[];
  const t: SafetensorsTensor = { name, dtype, onnxType: DTYPES[dtype]?.onnx, shape: shape as number[], begin: dataStart + b, end: dataStart + e };
  const known = DTYPES[dtype];
  const elements = (shape as number[]).reduce((x, y) => x * y, 1);
  if (e < b) t.problem = `its data_offsets [${b}, ${e}] end before they begin`;
  else if (e > bufferBytes) t.problem = `its data_offsets [${b}, ${e}] run past the end of the data (${bufferBytes} bytes after the header)`;
  else if (!known) t.problem = `dtype ${dtype} is not read by this tool`;
  else if (elements * known.bytes !== e - b) t.problem = `${dtype} shape [${(shape as number[]).join(', ')}] needs ${elements * known.bytes} bytes but data_offsets [${b}, ${e}] hold ${e - b}`;
  return t;
}

/**
 * Offsets in order and without overlaps (the reference implementation requires each tensor to start where the
 * previous one ends): tensors that overlap another fail; bytes no tensor claims are a warning.
 */
function checkLayout(tensors: SafetensorsTensor[], dataStart: number, bufferBytes: number): string[] {
  const warnings: string[] = [];
  const placed = tensors.filter((t) => !t.problem && t.end > t.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let end = dataStart;
  let previous: SafetensorsTensor | undefined;
  for (const t of placed) {
    if (t.begin < end && previous) {
      const clash = `its bytes [${t.begin - dataStart}, ${t.end - dataStart}) overlap those of '${previous.name}' [${previous.begin - dataStart}, ${previous.end - dataStart})`;
      t.problem = clash;
      previous.problem ??= `its bytes overlap those of '${t.name}'`;
    } else if (t.begin > end) {
      warnings.push(`bytes ${end - dataStart}..${t.begin - dataStart} of the data belong to no tensor`);
    }
    if (t.end > end) {
      end = t.end;
      previous = t;
    }
  }
  if (end < dataStart + bufferBytes) warnings.push(`the last ${dataStart + bufferBytes - end} bytes of the file belong to no tensor`);
  return warnings;
}
