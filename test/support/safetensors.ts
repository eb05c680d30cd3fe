// Builds Hugging Face safetensors files in code for tests (huggingface/safetensors README, "Format"): the 8-byte
// header size, the JSON header, the data. Tensor bytes come from the ONNX builder, so values mean the same.
import { writeFileSync } from 'node:fs';
import { type DTypeName, makeTensor } from './builder';

const ST_DTYPES: Partial<Record<DTypeName, string>> = {
  float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', float8e4m3fn: 'F8_E4M3', float8e5m2: 'F8_E5M2',
  int8: 'I8', uint8: 'U8', int16: 'I16', uint16: 'U16', int32: 'I32', int64: 'I64',
};

export interface StTensor {
  name: string;
  dtype: DTypeName;
  shape: number[];
  values: ArrayLike<number>;
  bits?: boolean;
}

/** A header entry written as given (for malformed files); `bytes` appended to the data in order. */
export interface RawEntry {
  name: string;
  entry: unknown;
  bytes?: Uint8Array;
}

/** The bytes of a safetensors file holding `tensors` in order (offsets contiguous), then any `raw` entries. */
export function safetensorsBytes(tensors: StTensor[], options: { metadata?: Record<string, string>; raw?: RawEntry[]; headerPad?: number } = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const t of tensors) {
    const bytes = makeTensor({ name: t.name, dtype: t.dtype, dims: t.shape, values: t.values, bits: t.bits }).rawData as Uint8Array;
    header[t.name] = { dtype: ST_DTYPES[t.dtype], shape: t.shape, data_offsets: [at, at + bytes.length] };
    parts.push(bytes);
    at += bytes.length;
  }
  for (const r of options.raw ?? []) {
    header[r.name] = r.entry;
    if (r.bytes) parts.push(r.bytes);
  }
  // The reference writer pads the header with spaces to a multiple of 8.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8 + (options.headerPad ?? 0));
  const text = new TextEncoder().encode(json);
  const data = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(8 + text.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  let o = 8 + text.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function writeSafetensors(path: string, tensors: StTensor[], options?: Parameters<typeof safetensorsBytes>[1]): string {
  writeFileSync(path, safetensorsBytes(tensors, options));
  return path;
}
