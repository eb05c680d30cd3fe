// export: the compressed weights and index metadata that the hardware reads, as sidecar files per layer, in the
// Ascend encoding (domain.md §4.1) or NVIDIA's (plain nibble metadata and, where the shape allows, the reordered
// CUTLASS/PyTorch layout, §4.2), with a JSON manifest (layer, tensor, shapes, dtype, encoding, byte order, sizes,
// sha256). The weight is viewed as [rows, K]: K (the reduction axis) innermost, every other axis in storage order.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, ModelError, describeError } from '../errors';
import { encodeAscend, encodeNvidia, nvidiaShapeProblem } from '../encode';
import { readSkeleton } from '../onnx/skeleton';
import { FileSource } from '../onnx/source';
import { ExternalFiles, openTensor } from '../onnx/tensorData';
import { OutputTransaction, removeStaleWork } from '../outputs';
import { externalInputFiles } from './externalData';
import { inspectModel } from '../sparsity/inspect';
import { eligibility, findLayers } from '../sparsity/layers';
import { openStored } from '../sparsity/storedReader';
import { weightMatrix } from './matrix';

export type ExportEncoding = 'ascend' | 'nvidia';

export interface ExportOptions {
  encoding: ExportEncoding;
  /** Only this layer (by name); default every eligible layer that passes 2:4. */
  layer?: string;
  out: string;
  force?: boolean;
  /** Told the work folder (in the output folder) while one exists, so a host can remove it on a hard exit. */
  onWorkFolder?: (path: string | null) => void;
  signal?: AbortSignal;
}

export interface ExportedFile {
  file: string;
  /** What the bytes are, and how they are laid out. */
  content: string;
  dims: number[];
  dtype: string;
  bytes: number;
  sha256: string;
}

export interface ExportedLayer {
  layer: string;
  tensor: string;
  /** Shape of the stored weight, its K axis, and the [rows, K] matrix the encoding sees. */
  shape: number[];
  axis: number;
  matrix: [number, number];
  dtype: string;
  encoding: string;
  files: ExportedFile[];
  /** A weight that is a constant only after folding: what was exported is the effective weight, folded as this says. */
  folded?: string;
}

export interface ExportManifest {
  model: string;
  encoding: ExportEncoding;
  pattern: '2:4';
  byteOrder: string;
  layers: ExportedLayer[];
  skipped: { layer: string; reason: string }[];
}

const BYTE_ORDER: Record<ExportEncoding, string> = {
  ascend:
    'values: 2 per group of 4, little-endian elements, groups row-major. index: 2-bit entries index[0] (first non-zero of e0..e2), ' +
    'index[1] (last non-zero of e1..e3, counted from e1) per group; entry i at bits 2*(i%4)+1..2*(i%4) of byte i/4 (group 2j in bits 3..0 of byte j, index[0] lowest).',
  nvidia:
    'values: the 2 kept elements of each group of 4, row-major [rows, K/2]. metadata (plain): one 4-bit nibble per group (bits 1..0 first kept position, ' +
    'bits 3..2 second), packed least significant first into little-endian int16 words (fp16/bf16, 4 groups) or int32 words (int8, 8 groups), [rows, K/16 or K/32] words. ' +
    'metadata (cutlass): the same words reordered as CUTLASS reorder_meta does, stored ColumnMajorInterleaved<2> (the CUTLASS/PyTorch layout: NVIDIA calls it undocumented and subject to change).',
};

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export async function exportModel(path: string, options: ExportOptions): Promise<ExportManifest> {
  const pattern = { n: 2, m: 4 };
  const inspection = await inspectModel(path, { pattern, signal: options.signal });
  const reports = new Map(inspection.layers.map((l) => [l.name, l]));
  if (options.layer && !reports.has(options.layer)) throw new ModelError(path, `no layer named '${options.layer}' (see 'sparsity-lens inspect')`);
  if (existsSync(options.out)) removeStaleWork(options.out);
  if (existsSync(options.out) && readdirSync(options.out).length > 0 && !options.force) {
    throw new ModelError(path, `the output folder '${options.out}' is not empty; use --force to write into it`);
  }
  const src = new FileSource(path);
  const externals = new ExternalFiles(path);
  const manifest: ExportManifest = { model: path, encoding: options.encoding, pattern: '2:4', byteOrder: BYTE_ORDER[options.encoding], layers: [], skipped: [] };
  let outputs: OutputTransaction | undefined;
  try {
    const model = readSkeleton(src, { signal: options.signal });
    const plans = findLayers({ model, src, externals, signal: options.signal }).filter((p) => !options.layer || p.name === options.layer);
    if (options.signal?.aborted) throw new CancelledError();
    // Files appear in the folder only once all are written; a folder this run had to create goes again on failure.
    outputs = new OutputTransaction(
      options.out,
      'export',
      { model: path, force: Boolean(options.force), inputs: [path, ...externalInputFiles(model, path)], signal: options.signal, onWorkFolder: options.onWorkFolder },
      true,
    );
    const tx = outputs;
    const done = new Set<string>();
    for (const plan of plans) {
      if (options.signal?.aborted) throw new CancelledError();
      const report = reports.get(plan.name)!;
      const elig = eligibility(plan, pattern);
      const skip = (reason: string) => manifest.skipped.push({ layer: plan.name, reason });
      if (!elig.eligible) {
        skip(`ineligible: ${elig.reason}`);
        continue;
      }
      if (!report.pass) {
        skip(`not 2:4 (${report.groups - report.validGroups} of ${report.groups} groups violate): run 'sparsity-lens convert --mode prune' first`);
        continue;
      }
      if (plan.tensor?.codes) {
        skip(`${plan.op} codes are packed for ONNX Runtime's kernel: export writes plain weights`);
        continue;
      }
      const tensor = plan.tensor!;
      // A weight this tool stored compressed is exported from its decoded values: the ones its layer computes with.
      const reader = plan.stored ? openStored(src, plan.stored, externals) : openTensor(src, tensor, externals);
      const size = reader.dtype.bits / 8;
      if (![1, 2, 4].includes(size) || reader.dtype.bits === 4) {
        skip(`${reader.dtype.name} elements are not exported (1, 2 and 4-byte types are)`);
        continue;
      }
      if (plan.zeroPoint && plan.zeroPoint.values.some((z) => z !== 0) && options.encoding === 'nvidia') {
        skip('non-zero zero points: NVIDIA kernels take symmetric int8 weights');
        continue;
      }
      const dims = plan.shape!;
      const axis = plan.axis!;
      const K = dims[axis];
      const A = dims.slice(0, axis).reduce((x, y) => x * y, 1);
      const B = dims.slice(axis + 1).reduce((x, y) => x * y, 1);
      const rows = A * B;
      if (options.encoding === 'nvidia') {
        const problem = size === 4 ? 'float32 has no 2:4 tensor-core path in this layout (fp16, bf16 and int8 do)' : nvidiaShapeProblem(rows, K, size, 'plain');
        if (problem) {
          skip(problem);
          continue;
        }
      }
      const weight = weightMatrix(reader.dtype, reader.read(0, reader.count).bytes, dims, axis, plan.zeroPoint);
      const base = safeName(plan.name);
      const layer: ExportedLayer = { layer: plan.name, tensor: plan.weight, shape: dims, axis, matrix: [rows, K], dtype: reader.dtype.name, encoding: options.encoding, files: [] };
      if (plan.folded) layer.folded = plan.folded.note;
      const emit = (suffix: string, content: string, data: Uint8Array, fileDims: number[], dtype: string) => {
        let file = `${base}.${suffix}`;
        for (let i = 2; done.has(file); i++) file = `${base}-${i}.${suffix}`;
        done.add(file);
        tx.write(join(options.out, file), (out) => out.write(data));
        layer.files.push({ file, content, dims: fileDims, dtype, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
      };
      if (options.encoding === 'ascend') {
        const c = encodeAscend(weight);
        emit('ascend.values.bin', 'kept values, 2 per group of 4', c.values, [rows, K / 2], reader.dtype.name);
        emit('ascend.index.bin', 'index[0]/index[1] 2-bit entries, 4 per byte', c.index, [c.index.length], 'uint8');
      } else {
        const plain = encodeNvidia(weight as Parameters<typeof encodeNvidia>[0], 'plain');
        emit('nvidia.values.bin', 'kept values, 2 per group of 4', plain.values, [rows, K / 2], reader.dtype.name);
        const word = plain.metaWordBytes === 2 ? 'int16' : 'int32';
        emit('nvidia.meta.bin', 'metadata, plain nibbles', plain.metadata, [rows, plain.metaCols], word);
        if (!nvidiaShapeProblem(rows, K, size, 'cutlass')) {
          const reordered = encodeNvidia(weight as Parameters<typeof encodeNvidia>[0], 'cutlass');
          emit('nvidia.meta-cutlass.bin', 'metadata, reordered (CUTLASS/PyTorch layout)', reordered.metadata, [rows, reordered.metaCols], word);
        }
      }
      manifest.layers.push(layer);
    }
    const manifestText = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
    outputs.write(join(options.out, 'manifest.json'), (out) => out.write(manifestText));
    outputs.commit();
    return manifest;
  } catch (err) {
    outputs?.abort();
    if (err instanceof CancelledError || err instanceof ModelError) throw err;
    throw new ModelError(path, `export failed, nothing was written: ${describeError(err)}`);
  } finally {
    externals.close();
    src.close();
  }
}
