// `decompress` of a compressed-tensors sparse-24-bitmask checkpoint (issue 16): each .compressed/.bitmask/.shape
// triplet becomes the dense `<prefix>.weight` (zeros where nothing is kept), every other tensor is copied byte for
// byte, in the same files and order, so that any safetensors loader reads the result. One file gives one file; a
// sharded checkpoint gives the same shards and a new index in an output folder. Written through OutputTransaction
// (outputs.ts): nothing replaces an input, nothing partial is left behind on an error or a cancel.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { CancelledError, ModelError } from '../errors';
import { dtypeById } from '../onnx/dtypes';
import { FileSource } from '../onnx/source';
import { ExternalFiles, TensorError, openTensor } from '../onnx/tensorData';
import type { Out } from '../onnx/writer';
import { OutputTransaction } from '../outputs';
import type { StoredWeight } from '../sparsity/stored';
import { BITMASK24_FORMAT, openBitmask24 } from './bitmask24';
import { type CheckpointDiscovery, type CheckpointTensor, discoverCheckpoint } from './checkpoint';
import { SafetensorsError } from './header';

export interface CheckpointDecompressOptions {
  /** The output file (one-file checkpoints) or folder (sharded ones). */
  out?: string;
  force?: boolean;
  signal?: AbortSignal;
  onWorkFolder?: (path: string | null) => void;
}

export interface CheckpointDecompressReport {
  model: string;
  /** The output file, or the output index of a sharded checkpoint. */
  output: string;
  files: string[];
  weights: { name: string; dims: number[]; dtype: string; pattern: string }[];
  /** What a loader needs to know, e.g. that config.json still names the sparsity format. */
  notes: string[];
  sizeBefore: number;
  sizeAfter: number;
}

/** The safetensors dtype names, by ONNX type id (header.ts's table read backwards). */
const ST_NAMES: Record<number, string> = { 11: 'F64', 1: 'F32', 10: 'F16', 16: 'BF16', 17: 'F8_E4M3', 19: 'F8_E5M2', 7: 'I64', 13: 'U64', 6: 'I32', 12: 'U32', 5: 'I16', 4: 'U16', 3: 'I8', 2: 'U8', 9: 'BOOL' };

/** A tensor of an output file: copied from the input, or a compressed weight decoded. */
type Planned = { name: string; dtype: string; shape: number[]; bytes: number } & ({ copy: CheckpointTensor } | { decode: StoredWeight });

export async function decompressCheckpoint(path: string, options: CheckpointDecompressOptions = {}): Promise<CheckpointDecompressReport> {
  const src = new FileSource(path);
  const externals = new ExternalFiles(path);
  try {
    let found: CheckpointDiscovery;
    try {
      found = discoverCheckpoint(src, externals);
    } catch (err) {
      if (err instanceof SafetensorsError) throw new ModelError(path, err.message);
      throw err;
    }
    const bad = found.unreadable[0] ?? found.tensors.find((t) => t.problem);
    if (bad) throw new ModelError(path, `cannot decompress: '${bad.name}': ${'problem' in bad ? bad.problem : ''}`, bad.name);
    const stored = new Map(found.layers.filter((l) => l.stored).map((l) => [l.stored!.values.name, l]));
    for (const l of stored.values()) if (l.error) throw new ModelError(path, `cannot decompress '${l.name}': ${l.error}`, l.name);
    if (stored.size === 0) throw new ModelError(path, `no ${BITMASK24_FORMAT} weights (<prefix>.compressed, .bitmask, .shape): nothing to decompress`);
    const inputFiles = found.sharded ? [...new Set(found.tensors.map((t) => t.file))] : [''];
    const inputs = [path, ...inputFiles.filter(Boolean).map((f) => join(dirname(path), f))];
    const outFolder = found.sharded ? resolve(options.out ?? join(dirname(path), 'decompressed')) : dirname(resolve(options.out ?? defaultOutput(path)));
    const report: CheckpointDecompressReport = { model: path, output: '', files: [], weights: [], notes: [], sizeBefore: 0, sizeAfter: 0 };
    const tx = new OutputTransaction(outFolder, found.sharded ? 'model.safetensors.index.json' : basename(options.out ?? defaultOutput(path)), { model: path, force: Boolean(options.force), inputs, signal: options.signal, onWorkFolder: options.onWorkFolder }, found.sharded);
    try {
      const weightMap: Record<string, string> = {};
      let totalSize = 0;
      for (const file of inputFiles) {
        const plan = planFile(found, file, stored);
        const final = found.sharded ? join(outFolder, file) : resolve(options.out ?? defaultOutput(path));
        const header = headerBytes(plan, file ? {} : found.model.metadata);
        report.sizeAfter += tx.write(final, (out) => {
          out.write(header);
          for (const t of plan) writeTensor(t, out, src, externals, options.signal);
        });
        report.sizeBefore += file ? externals.get(file).size : src.size;
        report.files.push(final);
        for (const t of plan) {
          weightMap[t.name] = file;
          totalSize += t.bytes;
          if ('decode' in t) report.weights.push({ name: t.name, dims: t.shape, dtype: dtypeById(t.decode.dtype)?.name ?? t.dtype, pattern: '2:4' });
        }
      }
      if (found.sharded) {
        const index = join(outFolder, 'model.safetensors.index.json');
        const text = JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2);
        tx.write(index, (out) => out.write(new TextEncoder().encode(`${text}\n`)));
        report.output = index;
        report.files.push(index);
      } else report.output = report.files[0];
      const config = configNote(path, outFolder, tx);
      if (config) report.notes.push(config.note);
      if (config?.file) report.files.push(config.file);
      tx.commit();
    } catch (err) {
      tx.abort();
      throw err;
    }
    return report;
  } finally {
    externals.close();
    src.close();
  }
}

function defaultOutput(path: string): string {
  return join(dirname(path), `${basename(path, extname(path))}.decompressed.safetensors`);
}

/** The tensors of one input file, in order, with each triplet replaced by its dense weight where its values were. */
function planFile(found: CheckpointDiscovery, file: string, stored: Map<string, { name: string; stored?: StoredWeight }>): Planned[] {
  const plan: Planned[] = [];
  const parts = new Set<string>();
  for (const l of stored.values()) {
    const prefix = l.stored!.values.name.replace(/\.compressed$/, '');
    for (const p of ['compressed', 'bitmask', 'shape']) parts.add(`${prefix}.${p}`);
  }
  for (const t of found.tensors.filter((x) => x.file === file)) {
    const layer = stored.get(t.name);
    if (layer) {
      const s = layer.stored!;
      const size = (dtypeById(s.dtype)?.bits ?? 0) / 8;
      plan.push({ name: layer.name, dtype: ST_NAMES[s.dtype], shape: s.dims, bytes: s.dims[0] * s.dims[1] * size, decode: s });
    } else if (!parts.has(t.name)) plan.push({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.end - t.begin, copy: t });
  }
  return plan;
}

/** The 8-byte size and the JSON header, offsets contiguous in plan order, padded with spaces to a multiple of 8. */
function headerBytes(plan: Planned[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let at = 0;
  for (const t of plan) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.bytes] };
    at += t.bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

const CHUNK = 4 << 20;

function writeTensor(t: Planned, out: Out, src: FileSource, externals: ExternalFiles, signal?: AbortSignal): void {
  if ('copy' in t) {
    const ref = { name: t.name, dtype: 2, dims: [t.bytes], data: t.copy.file ? { kind: 'external' as const, location: t.copy.file, offset: t.copy.begin, length: t.bytes } : { kind: 'raw' as const, offset: t.copy.begin, length: t.bytes }, span: { offset: t.copy.begin, length: t.bytes }, fieldStart: t.copy.begin, declaredExternal: Boolean(t.copy.file) };
    const reader = openTensor(src, ref, externals);
    for (let at = 0; at < t.bytes; at += CHUNK) {
      if (signal?.aborted) throw new CancelledError();
      out.write(reader.read(at, Math.min(CHUNK, t.bytes - at)).bytes);
    }
    return;
  }
  const reader = openBitmask24(src, t.decode, externals);
  const [rows, cols] = t.decode.dims;
  const perChunk = Math.max(1, Math.floor(CHUNK / Math.max(1, cols * (reader.dtype.bits / 8))));
  for (let r = 0; r < rows; r += perChunk) {
    if (signal?.aborted) throw new CancelledError();
    const n = Math.min(perChunk, rows - r);
    try {
      out.write(reader.read(r * cols, n * cols).bytes);
    } catch (err) {
      if (err instanceof TensorError) throw new ModelError(src.path, err.message, t.name);
      throw err;
    }
  }
}

/**
 * config.json names the sparsity format its loaders decompress: beside an output in another folder, a copy without
 * it is written; beside one in the checkpoint's own folder the note says what to change.
 */
function configNote(path: string, outFolder: string, tx: OutputTransaction): { note: string; file?: string } | undefined {
  const configPath = join(dirname(path), 'config.json');
  if (!existsSync(configPath)) return undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch {
    return { note: 'config.json beside the checkpoint is not valid JSON: not copied' };
  }
  const q = json.quantization_config as Record<string, unknown> | undefined;
  if (!q || typeof q !== 'object' || !q.sparsity_config) return undefined;
  if (resolve(outFolder) === resolve(dirname(path))) {
    return { note: 'config.json in this folder still names quantization_config.sparsity_config: a loader reading these dense weights needs a config without it' };
  }
  const copy = { ...json, quantization_config: { ...q } } as Record<string, unknown> & { quantization_config: Record<string, unknown> };
  delete copy.quantization_config.sparsity_config;
  // A config that only described sparsity describes nothing now.
  if (Object.keys(copy.quantization_config).every((k) => k === 'quant_method' || k === 'format' || k === 'version')) delete (copy as Record<string, unknown>).quantization_config;
  const file = join(outFolder, 'config.json');
  tx.write(file, (out) => out.write(new TextEncoder().encode(`${JSON.stringify(copy, null, 2)}\n`)));
  return { note: 'config.json copied to the output folder without quantization_config.sparsity_config', file };
}
