// Hugging Face safetensors checkpoints as models to inspect (issue 16): one `*.safetensors` file, or a sharded one
// opened through `model.safetensors.index.json` (its `weight_map` names each tensor's shard). Only the headers are
// read here; each tensor becomes a TensorRef over its bytes (raw in the file, or in a shard as external data, which
// ExternalFiles confines to the checkpoint's folder), so the scan streams them as it streams ONNX weights.
// Which tensors are layer weights, and along which axis, is decided by checkpointLayers (roles.ts).
import { basename } from 'node:path';
import type { ModelSkeleton, TensorRef } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type ElementReader, type ExternalFiles, TensorError, openExternal, openTensor } from '../onnx/tensorData';
import type { Discovery } from '../sparsity/layers';
import { type SafetensorsHeader, SafetensorsError, type SafetensorsTensor, readSafetensorsHeader } from './header';
import { type CheckpointConfig, checkpointLayers, readConfig } from './roles';

/** An index file larger than this is refused: real ones list a few thousand names (a 405 B model's: about 100 KB). */
const MAX_INDEX_BYTES = 64 << 20;

/** Whether `path` names a safetensors checkpoint (by its name, as the editor's file patterns do). */
export function isCheckpointPath(path: string): boolean {
  const name = basename(path).toLowerCase();
  return name.endsWith('.safetensors') || name.endsWith('.safetensors.index.json');
}

export interface CheckpointDiscovery extends Discovery {
  /** A skeleton with no graph: the report's model, size and producer. */
  model: ModelSkeleton;
  /** Every tensor the headers list, in file and header order, and where its bytes are (for decompress). */
  tensors: CheckpointTensor[];
  refs: Map<string, TensorRef>;
  sharded: boolean;
  /** Tensors the index names that could not be found or read. */
  unreadable: { name: string; problem: string }[];
}

/** A tensor of the checkpoint and where its bytes are: '' for the opened file itself, else the shard's file name. */
export interface CheckpointTensor extends SafetensorsTensor {
  file: string;
}

/**
 * The checkpoint's layers. Throws SafetensorsError when the file (or the index) cannot be read at all; a shard or a
 * tensor that cannot be read fails only its layers.
 */
export function discoverCheckpoint(src: ByteSource, externals: ExternalFiles): CheckpointDiscovery {
  const warnings: string[] = [];
  const tensors: CheckpointTensor[] = [];
  const unreadable: { name: string; problem: string }[] = [];
  let metadata: Record<string, string> = {};
  let sharded = false;
  if (basename(src.path).toLowerCase().endsWith('.index.json')) {
    sharded = true;
    const weightMap = readIndex(src);
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(weightMap)) byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
    for (const [shard, names] of byShard) {
      let header: SafetensorsHeader;
      try {
        header = readSafetensorsHeader(externals.get(shard));
      } catch (err) {
        if (!(err instanceof SafetensorsError || err instanceof TensorError)) throw err;
        for (const name of names) unreadable.push({ name, problem: `shard '${shard}': ${err.message}` });
        continue;
      }
      const listed = new Set(names);
      for (const w of header.warnings) warnings.push(`shard '${shard}': ${w}`);
      for (const t of header.tensors) {
        if (listed.has(t.name)) tensors.push({ ...t, file: shard });
        else warnings.push(`shard '${shard}' holds '${t.name}', which the index does not list: not inspected`);
      }
      const found = new Set(header.tensors.map((t) => t.name));
      for (const name of names) if (!found.has(name)) unreadable.push({ name, problem: `the index places it in '${shard}', which does not hold it` });
      if (Object.keys(metadata).length === 0) metadata = header.metadata;
    }
  } else {
    const header = readSafetensorsHeader(src);
    warnings.push(...header.warnings);
    metadata = header.metadata;
    for (const t of header.tensors) tensors.push({ ...t, file: '' });
  }
  const config = readConfigBeside(src.path, warnings);
  const refs = new Map(tensors.map((t) => [t.name, tensorRef(t, sharded)]));
  const readInts = (name: string, most = 16): number[] => {
    const ref = refs.get(name)!;
    if (ref.problem) throw new TensorError(ref.problem);
    const count = ref.dims.reduce((a, b) => a * b, 1);
    if (count > most) throw new TensorError(most === 16 ? `holds ${ref.dims.join(' x ')} values, not a shape` : `holds ${count} values, more than the ${most} expected`);
    return readIntegers(openTensor(src, ref, externals));
  };
  const layers = checkpointLayers(tensors, refs, unreadable, config, readInts);
  const model: ModelSkeleton = {
    path: src.path,
    size: src.size,
    irVersion: 0,
    producer: ['safetensors', metadata.format ? `(${metadata.format})` : ''].filter(Boolean).join(' '),
    producerVersion: '',
    opsets: [],
    metadata,
    graph: { name: '', path: 'main', nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [], span: { offset: 0, length: 0 } },
    functions: [],
  };
  return { model, layers, unrecognized: [], warnings, tensors, refs, sharded, unreadable };
}

/** The index's weight_map: tensor name → shard file name. */
export function readIndex(src: ByteSource): Record<string, string> {
  if (src.size > MAX_INDEX_BYTES) throw new SafetensorsError(`the index has ${src.size} bytes, over the ${MAX_INDEX_BYTES} this tool reads`);
  const bytes = new Uint8Array(src.size);
  src.readInto(0, bytes);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new SafetensorsError(`the index is not valid JSON (${(err as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new SafetensorsError('the index has no weight_map object');
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string') throw new SafetensorsError(`weight_map '${name}' is not a file name`);
  }
  return map as Record<string, string>;
}

/** config.json beside the checkpoint, if there is one (architecture, tied embeddings, quantization). */
function readConfigBeside(path: string, warnings: string[]): CheckpointConfig | undefined {
  let file: ByteSource;
  try {
    file = openExternal(path, 'config.json');
  } catch {
    return undefined; // none: names and shapes decide alone
  }
  try {
    if (file.size > MAX_INDEX_BYTES) {
      warnings.push(`config.json has ${file.size} bytes: not read`);
      return undefined;
    }
    const bytes = new Uint8Array(file.size);
    file.readInto(0, bytes);
    return readConfig(new TextDecoder().decode(bytes), warnings);
  } finally {
    file.close();
  }
}

function tensorRef(t: CheckpointTensor, sharded: boolean): TensorRef {
  const length = t.end - t.begin;
  return {
    name: t.name,
    dtype: t.onnxType ?? 0,
    dims: t.shape,
    data: t.file ? { kind: 'external', location: t.file, offset: t.begin, length } : { kind: 'raw', offset: t.begin, length },
    // The tensor's place: its bytes (a shard's tensors are told apart by the location as well).
    span: { offset: t.begin, length },
    fieldStart: t.begin,
    declaredExternal: sharded,
    ...(t.problem ? { problem: t.problem } : {}),
  };
}

/** The values of a small integer tensor (a stored shape, zero points). */
function readIntegers(reader: ElementReader): number[] {
  const { dtype, count } = reader;
  if (!dtype.integer || dtype.bits < 8) throw new TensorError(`is ${dtype.name}, not an integer shape`);
  const bytes = reader.read(0, count).bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = dtype.bits / 8;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * size;
    if (size === 8) out.push(Number(dtype.signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true)));
    else if (size === 4) out.push(dtype.signed ? view.getInt32(at, true) : view.getUint32(at, true));
    else if (size === 2) out.push(dtype.signed ? view.getInt16(at, true) : view.getUint16(at, true));
    else out.push(dtype.signed ? view.getInt8(at) : view.getUint8(at));
  }
  return out;
}
