// export: the compressed weights and index metadata that the hardware reads, as sidecar files per layer, in the
// Ascend encoding (domain.md §4.1) or NVIDIA's (plain nibble metadata and, where the shape allows, the reordered
// CUTLASS/PyTorch layout, §4.2), with a JSON manifest (layer, tensor, shapes, dtype, encoding, byte order, sizes,
// sha256). The weight is viewed as [rows, K]: K (the reduction axis) innermost, every other axis in storage order.
// This module runs the export; what a layer takes, its plan, files and verification are the format, formats/export.ts.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, ModelError, describeError } from '../errors';
import { readSkeleton } from '../onnx/skeleton';
import { FileSource } from '../onnx/source';
import { ExternalFiles, openTensor } from '../onnx/tensorData';
import { OutputTransaction, removeStaleWork } from '../outputs';
import { externalInputFiles } from './externalData';
import { inspectModel } from '../sparsity/inspect';
import { findLayers } from '../sparsity/layers';
import { openStored } from '../sparsity/storedReader';
import { type ExportEncoding, encodeExport, exportFiles, planExport, verifyExport, whyNotLayer, whyNotWeight } from './formats/export';

export type { ExportEncoding };

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
      const skip = (reason: string) => manifest.skipped.push({ layer: plan.name, reason });
      const notLayer = whyNotLayer(plan, report);
      if (notLayer) {
        skip(notLayer);
        continue;
      }
      const tensor = plan.tensor!;
      // A weight this tool stored compressed is exported from its decoded values: the ones its layer computes with.
      const reader = plan.stored ? openStored(src, plan.stored, externals) : openTensor(src, tensor, externals);
      const notWeight = whyNotWeight(plan, reader.dtype, options.encoding);
      if (notWeight) {
        skip(notWeight);
        continue;
      }
      const planned = planExport(plan, reader.dtype, reader.read(0, reader.count).bytes);
      const streams = encodeExport(planned, options.encoding);
      const wrong = verifyExport(planned, streams);
      if (wrong) throw new ModelError(path, `layer '${plan.name}': ${wrong}`, plan.weight);
      const base = safeName(plan.name);
      const layer: ExportedLayer = {
        layer: plan.name,
        tensor: plan.weight,
        shape: planned.dims,
        axis: planned.axis,
        matrix: [planned.rows, planned.K],
        dtype: reader.dtype.name,
        encoding: options.encoding,
        files: [],
      };
      if (plan.folded) layer.folded = plan.folded.note;
      for (const f of exportFiles(planned, streams)) {
        let file = `${base}.${f.suffix}`;
        for (let i = 2; done.has(file); i++) file = `${base}-${i}.${f.suffix}`;
        done.add(file);
        tx.write(join(options.out, file), (out) => out.write(f.data));
        layer.files.push({ file, content: f.content, dims: f.dims, dtype: f.dtype, bytes: f.data.length, sha256: createHash('sha256').update(f.data).digest('hex') });
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
