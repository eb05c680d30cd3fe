// Convert with sparsity: choose layers, prune their weights to N:M, write the output model (and its external data)
// atomically next to the input, then re-read it and verify. The input is never modified.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CancelledError, ModelError, describeError } from '../errors';
import { dtypeById, rawByteLength } from '../onnx/dtypes';
import { type ModelSkeleton, type TensorRef, elementCount, readSkeleton } from '../onnx/skeleton';
import { type ByteSource, FileSource } from '../onnx/source';
import { ExternalFiles, type ElementReader, openTensor } from '../onnx/tensorData';
import { foldSignature } from '../onnx/folded';
import type { FoldedWeight } from '../sparsity/fold';
import { type Edit, type Out, spliceModel } from '../onnx/writer';
import { OutputTransaction, checkOutput } from '../outputs';
import { type LayerReport, inspectModel } from '../sparsity/inspect';
import { type LayerPlan, eligibility, findLayers } from '../sparsity/layers';
import { type Pattern, patternName } from '../sparsity/pattern';
import { ShapeInfo, kAlignment } from '../sparsity/kernel';
import { zeroPointKey } from '../sparsity/decode';
import { pruneReadSimd, simdApplies } from '../sparsity/simd/simdScan';
import { type PruneTotals, emptyTotals, pruneSlab } from './prune';
import { RUNTIME_SIZE_LIMIT, type RuntimeComparison, compareOutputs } from './runtime';
import { type PortableWork, entries, planPortableWork, portableEdits, tensorPlaces, whyNotPortable, writeStreams } from './compressEdits';
import { COMPRESSED_KEY, metadataField, removeMetadata } from './portable';
import { ASCEND_KEY, compressedEntries } from '../sparsity/stored';
import { type ExternalAction, allTensors, concat, externalInputFiles, fieldsOf, rewriteExternalData, tensorKey } from './externalData';
import { type AscendWork, ascendEdits, ascendModelFields, planAscendWork, whyNotAscend, writeAscendStreams } from './ascendEdits';
import { decompressModel } from './decompress';
import { decodeAscend } from '../encode';
import { weightMatrix } from './matrix';
import { typedFieldBytes } from './typed';
import { prunedCodeBytes } from './codesPrune';
import { PackedCodesReader } from '../onnx/packedCodes';

import type { ConvertMode } from './paths';
import { defaultOutputPath } from './paths';

export type { ConvertMode };
export { defaultOutputPath };

export interface LayerSelection {
  /** Only layers whose name matches. */
  only?: RegExp;
  /** Not the layers whose name matches. */
  skip?: RegExp;
  /** Not layers with fewer weight elements. */
  minParams?: number;
  /** Not the first eligible layer in graph order (stem convolutions are sensitive: ASP and INC users skip them). */
  skipFirst?: boolean;
  /** Not the last eligible layer in graph order (the classifier head). */
  skipHead?: boolean;
}

export interface ConvertOptions extends LayerSelection {
  mode: ConvertMode;
  pattern?: Pattern;
  /** Output path; default next to the input: NAME.pruned-2of4.onnx. */
  out?: string;
  /** Replace an existing output. */
  force?: boolean;
  /** Plan and report only; write nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Told the work folder (next to the output) while one exists, so a host can remove it on a hard exit. */
  onWorkFolder?: (path: string | null) => void;
  /** Values of symbolic input dimensions for the runtime comparison (default 1). */
  dims?: Record<string, number>;
}

export type LayerAction = 'prune' | 'compress' | 'rewrite' | 'unchanged' | 'skip';

export interface LayerChange {
  name: string;
  op: string;
  graph: string;
  weight: string;
  shape: number[] | null;
  dtype: string | null;
  axis: number | null;
  action: LayerAction;
  /** Why a layer is skipped or left unchanged. */
  reason: string | null;
  /** Before conversion. */
  compliance: number | null;
  violatingGroups: number | null;
  /** Fraction of sum |w| kept; 1 for layers left unchanged; null for skipped layers. */
  retainedMagnitude: number | null;
  /** Elements set to zero (or the zero point). */
  prunedElements: number;
  /** After conversion, from re-reading the output: whether the layer passes the pattern. */
  passesAfter: boolean | null;
}

export interface ConvertReport {
  model: string;
  output: string | null;
  dataFile: string | null;
  mode: ConvertMode;
  pattern: string;
  dryRun: boolean;
  /** Whether the output files are in place: false for a dry run and when verification failed (nothing is kept then). */
  written: boolean;
  layers: LayerChange[];
  summary: {
    pruned: number;
    compressed: number;
    /** Ascend mode: layers rewritten to the Compress ops. */
    rewritten: number;
    unchanged: number;
    skipped: number;
    prunedElements: number;
    /** Over the converted weights: sum |w| kept / sum |w|. */
    retainedMagnitude: number | null;
    sizeBefore: number;
    sizeAfter: number | null;
  };
  /** Re-reading the output: every converted layer passes the pattern. */
  verified: boolean | null;
  /** Both models run in ONNX Runtime on the same generated inputs, every output compared. */
  runtime: RuntimeComparison | null;
  /** Compress mode: the compressed model against its decompressed (dense pruned) form in ONNX Runtime: identical. */
  exact: RuntimeComparison | null;
  /** Where the input breaks the ONNX spec and what the tool assumed (as in the inspection); the output keeps those assumptions. */
  warnings: string[];
  notes: string[];
}

/** One weight tensor to convert, with every layer that consumes it. */
interface WeightWork {
  tensor: TensorRef;
  layers: LayerPlan[];
  shape: ShapeInfo;
  totals: PruneTotals;
}

/** Plans which layers change and why, without writing anything. */
function planChanges(
  plans: LayerPlan[],
  reports: Map<string, LayerReport>,
  pattern: Pattern,
  sel: LayerSelection,
  mode: ConvertMode,
): { changes: LayerChange[]; changeOf: Map<LayerPlan, LayerChange>; work: Map<string, WeightWork> } {
  const eligibleOrder = plans.filter((p) => eligibility(p, pattern).eligible);
  const first = sel.skipFirst ? eligibleOrder[0] : undefined;
  const head = sel.skipHead ? eligibleOrder[eligibleOrder.length - 1] : undefined;
  const changes: LayerChange[] = [];
  const changeOf = new Map<LayerPlan, LayerChange>();
  const work = new Map<string, WeightWork>();
  const byWeight = new Map<string, LayerPlan[]>();
  for (const plan of plans) {
    const report = reports.get(plan.name);
    const elig = eligibility(plan, pattern);
    const change: LayerChange = {
      name: plan.name,
      op: plan.op,
      graph: plan.graph,
      weight: plan.weight,
      shape: plan.shape,
      dtype: plan.dtype,
      axis: plan.axis,
      action: 'skip',
      reason: null,
      compliance: report?.compliance ?? null,
      violatingGroups: report && report.compliance !== null ? report.groups - report.validGroups : null,
      retainedMagnitude: null,
      prunedElements: 0,
      passesAfter: null,
    };
    changes.push(change);
    changeOf.set(plan, change);
    const count = plan.shape ? elementCount(plan.shape) : 0;
    if (!elig.eligible) change.reason = `ineligible: ${elig.reason}`;
    else if (report?.error) change.reason = `error: ${report.error}`;
    else if (plan.stored) {
      // Already compressed by this tool: pruning or compressing its decoded form again would be blind to its streams.
      change.action = 'unchanged';
      change.reason = `stored compressed (${plan.stored.format}): decompress first`;
      change.retainedMagnitude = 1;
    }
    else if (sel.only && !sel.only.test(plan.name)) change.reason = 'not selected (--only)';
    else if (sel.skip && sel.skip.test(plan.name)) change.reason = 'not selected (--skip)';
    else if (sel.minParams !== undefined && count < sel.minParams) change.reason = `not selected: ${count} parameters < --min-params ${sel.minParams}`;
    else if (plan === first) change.reason = 'not selected: first layer (--skip-first)';
    else if (plan === head) change.reason = 'not selected: classifier head (--skip-head)';
    else if (plan.noPrune) change.reason = `not pruned: ${plan.noPrune}`;
    else if (plan.tensor?.data.kind === 'sparse') change.reason = 'sparse_initializer weights are not converted by this version';
    else if (plan.folded && (mode !== 'prune' || (plan.folded.unwritable && !report?.pass))) change.reason = foldedReason(plan.folded, mode);
    else {
      change.action = mode === 'compress' ? 'compress' : mode === 'ascend' ? 'rewrite' : report?.pass ? 'unchanged' : 'prune';
      if (change.action === 'unchanged') {
        change.reason = `already ${patternName(pattern)}`;
        change.retainedMagnitude = 1;
      }
      const key = tensorKey(plan.tensor!);
      const list = byWeight.get(key) ?? [];
      list.push(plan);
      byWeight.set(key, list);
    }
  }
  // Planning stays linear in the number of layers: 100k nodes may share one weight.
  const readers = new Map<string, LayerPlan[]>();
  for (const plan of plans) {
    if (!plan.tensor) continue;
    const key = tensorKey(plan.tensor);
    const list = readers.get(key);
    if (list) list.push(plan);
    else readers.set(key, [plan]);
  }
  for (const [key, layers] of byWeight) {
    // A weight also read by a layer that is not converted must stay as it is, for that layer's sake.
    const converted = new Set(layers);
    const others = (readers.get(key) ?? []).filter((p) => !converted.has(p));
    if (others.length) {
      const names = nameList(others.map((o) => o.name));
      for (const l of layers) {
        const change = changeOf.get(l)!;
        change.action = 'skip';
        change.retainedMagnitude = null;
        change.reason = `weight '${l.weight}' is also read by ${names}, which ${others.length > 1 ? 'are' : 'is'} not converted`;
      }
      continue;
    }
    // A weight shared by layers that read it along different axes (or zero points, or folded differently) has no single N:M pruning.
    const signature = (l: LayerPlan) => `${l.axis}:${l.outAxis}:${zeroPointKey(l.zeroPoint)}:${l.shape?.join(' ')}:${l.tensor?.fold ? foldSignature(l.tensor.fold) : ''}`;
    if (new Set(layers.map(signature)).size > 1) {
      const axes = nameList(layers.map((x) => `${x.name}: axis ${x.axis}`), '');
      for (const l of layers) {
        const change = changeOf.get(l)!;
        change.action = 'skip';
        change.retainedMagnitude = null;
        change.reason = `weight '${l.weight}' is shared by layers that read it along different axes (${axes})`;
      }
      continue;
    }
    const action = changeOf.get(layers[0])!.action;
    if (action !== 'prune' && action !== 'compress' && action !== 'rewrite') continue;
    const l = layers[0];
    const geometry = { dims: l.shape!, kAxis: l.axis!, rAxis: l.outAxis! };
    work.set(key, { tensor: l.tensor!, layers, shape: new ShapeInfo(geometry, pattern), totals: emptyTotals() });
    // Consistency: every layer of a converted weight is converted (the weight is converted once, for all of them).
    for (const x of layers) changeOf.get(x)!.action = action;
  }
  return { changes, changeOf, work };
}

/** Why a layer whose weight was folded is not converted: only prune writes a folded weight back, and only where exact. */
function foldedReason(folded: FoldedWeight, mode: string): string {
  const from = `${folded.ops.join(', ')} of ${folded.from.map((f) => `'${f}'`).join(', ')}`;
  if (mode === 'prune') return `folded weight (${from}) not written back: ${folded.unwritable}`;
  return `folded weight (${from}): ${mode} rewrites stored constants only; prune it instead`;
}

/** At most five names, quoted, then how many more: a reason stays one readable line whatever the model. */
function nameList(names: string[], quote = "'"): string {
  const shown = names.slice(0, 5).map((n) => `${quote}${n}${quote}`).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

const SLAB_ELEMENTS = 1 << 20;
/** More layers than this (function calls count each time) and the models are not run in ONNX Runtime. */
const RUNTIME_LAYER_LIMIT = 2048;

/** Streams a weight's pruned bytes (raw, little-endian) to `out`, slab by slab. */
function writePruned(reader: ElementReader, work: WeightWork, sink: Out, progress: (n: number) => void, signal?: AbortSignal): void {
  const { A, K, B } = work.shape;
  const layer = work.layers[0];
  const dtype = reader.dtype;
  // A folded product (W x a 0/1 mask) holds -0.0 where W is negative and the mask 0: written back into W as +0.0,
  // so that pruning does not leave the bits fragile sparsity warns about.
  const out = layer.tensor?.fold ? positiveZeros(sink, dtype) : sink;
  const dims = layer.shape!;
  const pattern = work.shape.pattern;
  const scratch = { mags: new Float64Array(0), single: new Float32Array(0) };
  if (reader instanceof PackedCodesReader) {
    out.write(prunedCodeBytes(reader, dims, pattern, layer.zeroPoint, work.totals));
    progress(reader.count);
    return;
  }
  if (dtype.bits === 4) {
    // Two elements per byte: one slab, so that no slab starts on a high nibble.
    const all = reader.read(0, reader.count);
    const bytes = all.bytes.slice();
    for (let a = 0; a < A; a++) {
      const first = a * K * B;
      const view = bytes.subarray(Math.floor(first / 2));
      pruneSlab(dtype, view, first & 1, K, B, pattern, first, dims, layer.zeroPoint, work.totals, scratch);
    }
    out.write(bytes);
    progress(reader.count);
    return;
  }
  const align = kAlignment(pattern.m);
  const height = K * B <= SLAB_ELEMENTS ? K : Math.max(align, Math.floor(SLAB_ELEMENTS / Math.max(1, B) / align) * align);
  const simd = simdApplies(dtype.name, pattern, layer.zeroPoint);
  for (let a = 0; a < A; a++) {
    for (let k0 = 0; k0 < K; k0 += height) {
      if (signal?.aborted) throw new CancelledError();
      const h = Math.min(height, K - k0);
      const first = (a * K + k0) * B;
      if (simd) {
        // Read into the kernel's memory, pruned there, written from there.
        pruneReadSimd(reader, first, h, B, pattern.n, work.totals, out, layer.zeroPoint);
        progress(h * B);
        continue;
      }
      const run = reader.read(first, h * B);
      pruneSlab(dtype, run.bytes, 0, h, B, pattern, first, dims, layer.zeroPoint, work.totals, scratch);
      out.write(run.bytes);
      progress(h * B);
    }
  }
}

/** An Out that writes each float -0.0 as +0.0 (16 and 32-bit floats; other types pass through). */
function positiveZeros(out: Out, dtype: { name: string; bits: number }): Out {
  if (dtype.name !== 'float32' && dtype.name !== 'float16' && dtype.name !== 'bfloat16') return out;
  return {
    write(bytes: Uint8Array) {
      const copy = bytes.slice();
      const view = new DataView(copy.buffer);
      if (dtype.bits === 32) {
        for (let i = 0; i + 4 <= copy.length; i += 4) if (view.getUint32(i, true) === 0x80000000) view.setUint32(i, 0, true);
      } else {
        for (let i = 0; i + 2 <= copy.length; i += 2) if (view.getUint16(i, true) === 0x8000) view.setUint16(i, 0, true);
      }
      out.write(copy);
    },
  };
}

/** Converts the model at `path`. Throws ModelError for bad input or refused outputs; writes nothing on any failure. */
export async function convertModel(path: string, options: ConvertOptions): Promise<ConvertReport> {
  const pattern = options.pattern ?? { n: 2, m: 4 };
  const inspection = await inspectModel(path, { pattern, signal: options.signal });
  const reports = new Map(inspection.layers.map((l) => [l.name, l]));
  const src = new FileSource(path);
  const externals = new ExternalFiles(path);
  try {
    const model = readSkeleton(src, { signal: options.signal });
    const plans = findLayers({ model, src, externals, signal: options.signal });
    if (options.mode === 'ascend' && (pattern.n !== 2 || pattern.m !== 4)) throw new ModelError(path, 'ascend mode writes the ATC --sparsity=1 encoding, which is 2:4 only');
    if (options.signal?.aborted) throw new CancelledError();
    const { changes, changeOf, work } = planChanges(plans, reports, pattern, options, options.mode);
    if (options.signal?.aborted) throw new CancelledError();
    const ascend = options.mode === 'ascend' ? planAscend(model, src, externals, work, changeOf, reports, options.signal) : new Map<string, AscendWork>();
    const portable = options.mode === 'compress' ? planPortables(model, src, externals, work, changeOf, pattern, reports, options.signal) : new Map<string, PortableWork>();
    const output = options.out ?? defaultOutputPath(path, options.mode, pattern);
    const report: ConvertReport = {
      model: path,
      output: options.dryRun ? null : output,
      dataFile: null,
      mode: options.mode,
      pattern: patternName(pattern),
      dryRun: Boolean(options.dryRun),
      written: false,
      layers: changes,
      summary: {
        pruned: changes.filter((c) => c.action === 'prune').length,
        compressed: changes.filter((c) => c.action === 'compress').length,
        rewritten: changes.filter((c) => c.action === 'rewrite').length,
        unchanged: changes.filter((c) => c.action === 'unchanged').length,
        skipped: changes.filter((c) => c.action === 'skip').length,
        prunedElements: 0,
        retainedMagnitude: null,
        sizeBefore: src.size + externalBytes(model, path),
        sizeAfter: null,
      },
      verified: null,
      runtime: null,
      exact: null,
      warnings: inspection.warnings,
      notes: ['One-shot magnitude pruning without fine-tuning loses accuracy; sparse-training flows (ASP, SR-STE, AMCT, INC) retrain after pruning.'],
    };
    if (report.warnings.length) report.notes.push('The input breaks the ONNX spec (see the warnings): the layers were found, and the output written, under the assumptions they state.');
    if (options.dryRun) return report;
    // A tensor declared external whose entries could not be read still needs a place in the new data file.
    const hasExternal = allTensors(model).some((t) => t.data.kind === 'external' || t.declaredExternal);
    const dataFile = hasExternal ? `${output.replace(/\.onnx$/i, '')}.data` : null;
    const inputFiles = [path, ...externalInputFiles(model, path)];
    const force = Boolean(options.force);
    checkOutput(path, output, inputFiles, force);
    if (dataFile) checkOutput(path, dataFile, inputFiles, force);
    report.dataFile = dataFile;
    if (options.signal?.aborted) throw new CancelledError();

    const total = [...work.values()].reduce((s, w) => s + elementCount(w.layers[0].shape!), 0);
    let done = 0;
    const progress = (n: number) => {
      done += n;
      options.onProgress?.(done, total);
    };
    // Written into a work folder next to the output, verified there, and only then put in place.
    const outputs = new OutputTransaction(dirname(resolve(output)), basename(output), {
      model: path,
      force,
      inputs: inputFiles,
      signal: options.signal,
      onWorkFolder: options.onWorkFolder,
    });
    try {
      const edits: Edit[] = [];
      if (dataFile) {
        const location = basename(dataFile);
        edits.push(
          ...rewriteExternalData(src, model, externals, outputs, dataFile, (t): ExternalAction => {
            const key = tensorKey(t);
            const rewritten = ascend.get(key);
            if (rewritten) {
              return {
                kind: 'replace',
                length: rewritten.valuesLength + rewritten.indexLength,
                write: (out) => writeAscendStreams(rewritten, out),
                placed: (values) => ascendEdits(src, rewritten, { location, values, index: values + rewritten.valuesLength }),
              };
            }
            const compressed = portable.get(key);
            if (compressed) {
              // Values then index stream in the data file; the tensor itself is replaced by its decode graph.
              return {
                kind: 'replace',
                length: compressed.plan.valuesLength + compressed.plan.indexLength,
                write: (out) => writeStreams(compressed, pattern, out),
                placed: (values) => portableEdits(compressed, pattern, { location, values, index: values + compressed.plan.valuesLength }),
              };
            }
            const w = work.get(key);
            // The layer's view of the tensor (MatMulNBits: its codes, one byte each), written back packed by writePruned.
            return w ? { kind: 'rewrite', write: (out) => writePruned(openTensor(src, w.tensor, externals), w, out, progress, options.signal) } : { kind: 'copy' };
          }),
        );
      }
      for (const [key, w] of work) {
        if (options.signal?.aborted) throw new CancelledError();
        const data = w.tensor.data;
        const compressed = portable.get(key);
        if (compressed) {
          if (data.kind !== 'external') edits.push(...portableEdits(compressed, pattern));
          continue;
        }
        const rewritten = ascend.get(key);
        if (rewritten) {
          if (data.kind !== 'external') edits.push(...ascendEdits(src, rewritten));
          continue;
        }
        if (data.kind === 'external') continue;
        const reader = openTensor(src, w.tensor, externals);
        if (data.kind === 'raw') {
          edits.push({ kind: 'overwrite', offset: data.offset, length: data.length, write: (out) => writePruned(reader, w, out, progress, options.signal) });
        } else if (data.kind === 'typed') {
          // Typed fields hold varints of varying size: prune now, re-encode the field.
          const chunks: Uint8Array[] = [];
          writePruned(reader, w, { write: (b) => chunks.push(b.slice()) }, progress, options.signal);
          const raw = concat(chunks);
          const t = w.tensor;
          for (const f of fieldsOf(src, t.span.offset, t.span.offset + t.span.length, [4, 5, 7, 10, 11])) edits.push({ kind: 'remove', ...f });
          edits.push({ kind: 'append', message: t.span.offset, end: t.span.offset + t.span.length, bytes: typedFieldBytes(dtypeById(t.dtype)!, raw) });
        }
      }
      // A model compressed before keeps its entries: one metadata entry lists old and new weights.
      if (portable.size) {
        const before = model.metadata[COMPRESSED_KEY] !== undefined ? compressedEntries(model) : [];
        if (before.length) edits.push(...removeMetadata(src, COMPRESSED_KEY));
        edits.push({ kind: 'append', message: 0, end: src.size, bytes: metadataField([...before, ...entries([...portable.values()])]) });
      }
      if (ascend.size) {
        if (model.metadata[ASCEND_KEY] !== undefined) edits.push(...removeMetadata(src, ASCEND_KEY));
        edits.push({ kind: 'append', message: 0, end: src.size, bytes: ascendModelFields([...ascend.values()], model) });
      }
      report.summary.sizeAfter = outputs.write(output, (out) => spliceModel(src, edits, out)) + (dataFile ? outputs.sizeOf(dataFile) : 0);
      summarize(report, work, changeOf);
      await verifyStaged(report, outputs, output, path, model, pattern, ascend, portable, options);
      if (report.verified === false) {
        // A model that failed its own verification is not kept: the output path stays as it was.
        outputs.abort();
        report.notes.push(`Verification failed: the output was not written; '${output}' is as it was.`);
        return report;
      }
      outputs.commit();
      report.written = true;
      return report;
    } catch (err) {
      outputs.abort();
      if (err instanceof CancelledError || err instanceof ModelError) throw err;
      throw new ModelError(path, `conversion failed, nothing was written: ${describeError(err)}`);
    }
  } finally {
    externals.close();
    src.close();
  }
}

/**
 * Verifies the output where it was written, in the work folder, before anything is put in place: every converted
 * layer re-read and checked; compressed weights decompressed (in the work folder too) and compared bit for bit in
 * ONNX Runtime; the outputs of input and output compared. Honours cancel between every step.
 */
async function verifyStaged(
  report: ConvertReport,
  outputs: OutputTransaction,
  output: string,
  input: string,
  model: ModelSkeleton,
  pattern: Pattern,
  ascend: Map<string, AscendWork>,
  portable: Map<string, PortableWork>,
  options: ConvertOptions,
): Promise<void> {
  const staged = outputs.staged(output);
  const cancelled = () => {
    if (options.signal?.aborted) throw new CancelledError();
  };
  cancelled();
  // Bounded work: a small file whose functions expand to thousands of layer calls is as costly to run as a large one.
  const small = report.summary.sizeBefore <= RUNTIME_SIZE_LIMIT && report.layers.length <= RUNTIME_LAYER_LIMIT;
  const tooLarge = {
    ran: false,
    note:
      report.layers.length > RUNTIME_LAYER_LIMIT
        ? `the model has ${report.layers.length} layers (calls through functions included), more than ${RUNTIME_LAYER_LIMIT}: outputs were not compared`
        : `the model is larger than ${RUNTIME_SIZE_LIMIT} bytes: outputs were not compared`,
    outputs: [],
  };
  if (ascend.size) {
    await verifyAscend(report, staged, [...ascend.values()], pattern, options.signal);
    report.notes.push('The Ascend model is for toolchains and inspection: ONNX Runtime cannot run its Compress ops.');
    report.runtime = { ran: false, note: 'the Ascend model uses custom ops that ONNX Runtime does not have', outputs: [] };
    return;
  }
  if (portable.size === 0) await verify(report, staged, pattern, options.signal);
  else {
    // A compressed weight is rebuilt at load time: verify its decoded form, and that the decode graph rebuilds it exactly.
    const dir = join(outputs.dir, 'verify');
    mkdirSync(dir);
    const dense = join(dir, 'decompressed.onnx');
    await decompressModel(staged, { out: dense, signal: options.signal });
    await verify(report, dense, pattern, options.signal);
    cancelled();
    report.exact = small ? await compareOutputs(dense, staged, model, options.dims) : tooLarge;
    if (report.exact.ran && !report.exact.outputs.every((o) => o.identical)) report.verified = false;
  }
  cancelled();
  report.runtime = small ? await compareOutputs(input, staged, model, options.dims) : tooLarge;
  cancelled();
}

/** For ascend mode: which weights are rewritten; the others are pruned in place, saying why. */
function planAscend(
  model: ModelSkeleton,
  src: ByteSource,
  externals: ExternalFiles,
  work: Map<string, WeightWork>,
  changeOf: Map<LayerPlan, LayerChange>,
  reports: Map<string, LayerReport>,
  signal?: AbortSignal,
): Map<string, AscendWork> {
  const places = tensorPlaces(model);
  const ascend = new Map<string, AscendWork>();
  for (const [key, w] of [...work]) {
    if (signal?.aborted) throw new CancelledError();
    const place = places.get(w.tensor.fieldStart);
    const why = w.layers.map((l) => whyNotAscend(l, place)).find((x) => x !== undefined);
    if (why) {
      const compliant = w.layers.every((l) => reports.get(l.name)?.pass);
      for (const l of w.layers) {
        const change = changeOf.get(l)!;
        change.action = compliant ? 'unchanged' : 'prune';
        change.reason = `${compliant ? 'already compliant' : 'pruned in place'}, not rewritten for Ascend: ${why}`;
        if (compliant) change.retainedMagnitude = 1;
      }
      if (compliant) work.delete(key);
      continue;
    }
    ascend.set(key, planAscendWork(w.layers, place!, () => prunedBytes(src, externals, w)));
  }
  return ascend;
}

/** A weight's pruned bytes, whole (for the encoders). */
function prunedBytes(src: ByteSource, externals: ExternalFiles, w: WeightWork): Uint8Array {
  const chunks: Uint8Array[] = [];
  writePruned(openTensor(src, w.tensor, externals), w, { write: (b) => chunks.push(b.slice()) }, () => {});
  return concat(chunks);
}

/**
 * Ascend outputs cannot run in ONNX Runtime. Layers pruned in place are re-inspected; each rewritten weight's
 * values and index are read back from the written file, decoded, and must equal the pruned weight bit for bit
 * (pruned places hold the zero or the row's zero point).
 */
async function verifyAscend(report: ConvertReport, output: string, works: AscendWork[], pattern: Pattern, signal?: AbortSignal): Promise<void> {
  await verify(report, output, pattern, signal);
  const src = new FileSource(output);
  const externals = new ExternalFiles(output);
  try {
    const model = readSkeleton(src);
    const byName = new Map<string, TensorRef>();
    const visit = (g: ModelSkeleton['graph']) => {
      for (const t of g.initializers) byName.set(t.name, t);
      for (const n of g.nodes) for (const a of n.attributes.values()) [...(a.g ? [a.g] : []), ...(a.graphs ?? [])].forEach(visit);
    };
    visit(model.graph);
    const changesByName = new Map<string, LayerChange[]>();
    for (const c of report.layers) {
      const list = changesByName.get(c.name);
      if (list) list.push(c);
      else changesByName.set(c.name, [c]);
    }
    for (const w of works) {
      if (signal?.aborted) throw new CancelledError();
      const values = byName.get(w.valuesName);
      const index = byName.get(w.indexName);
      let same = false;
      if (values && index) {
        const read = (t: TensorRef) => {
          const r = openTensor(src, t, externals);
          return r.read(0, r.count).bytes;
        };
        const expected = weightMatrix(w.dtype, w.prune(), w.layer.shape!, w.layer.axis!, w.layer.zeroPoint);
        const size = expected.elementSize;
        const dense = decodeAscend({ rows: w.rows, cols: w.K, elementSize: size, values: read(values), index: read(index) }, expected.zero);
        same = true;
        for (let i = 0; i < expected.nonZero.length && same; i++) {
          // Non-zeros must come back exactly; zeros come back as the row's zero.
          const want = expected.nonZero[i] ? expected.bytes : expected.zero!;
          const at = expected.nonZero[i] ? i * size : Math.floor(i / w.K) * size;
          for (let b = 0; b < size; b++) if (dense[i * size + b] !== want[at + b]) same = false;
        }
      }
      for (const l of w.layers) for (const c of changesByName.get(l.name) ?? []) c.passesAfter = same;
    }
    report.verified = report.layers.every((c) => c.action === 'skip' || c.passesAfter === true);
  } finally {
    externals.close();
    src.close();
  }
}

/** For compress mode: which weights take the portable format; the others are pruned in place, saying why. */
function planPortables(
  model: ModelSkeleton,
  src: ByteSource,
  externals: ExternalFiles,
  work: Map<string, WeightWork>,
  changeOf: Map<LayerPlan, LayerChange>,
  pattern: Pattern,
  reports: Map<string, LayerReport>,
  signal?: AbortSignal,
): Map<string, PortableWork> {
  const opset = model.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  const places = tensorPlaces(model);
  const portable = new Map<string, PortableWork>();
  for (const [key, w] of [...work]) {
    if (signal?.aborted) throw new CancelledError();
    const layer = w.layers[0];
    const why = whyNotPortable(w.tensor, layer, places.get(w.tensor.fieldStart), opset, pattern);
    if (why) {
      const compliant = w.layers.every((l) => reports.get(l.name)?.pass);
      for (const l of w.layers) {
        const change = changeOf.get(l)!;
        change.action = compliant ? 'unchanged' : 'prune';
        change.reason = `${compliant ? 'already compliant' : 'pruned in place'}, not compressed: ${why}`;
        if (compliant) change.retainedMagnitude = 1;
      }
      if (compliant) work.delete(key);
      continue;
    }
    portable.set(
      key,
      planPortableWork(w.tensor, layer, places.get(w.tensor.fieldStart)!, pattern, () => {
        const chunks: Uint8Array[] = [];
        writePruned(openTensor(src, w.tensor, externals), w, { write: (b) => chunks.push(b.slice()) }, () => {});
        return concat(chunks);
      }),
    );
  }
  return portable;
}


function externalBytes(model: ModelSkeleton, path: string): number {
  let total = 0;
  for (const t of allTensors(model)) {
    if (t.data.kind === 'external') {
      const dtype = dtypeById(t.dtype);
      total += t.data.length ?? (dtype ? rawByteLength(dtype, elementCount(t.dims)) : 0);
    }
  }
  void path;
  return total;
}

function summarize(report: ConvertReport, work: Map<string, WeightWork>, changeOf: Map<LayerPlan, LayerChange>): void {
  let sum = 0;
  let kept = 0;
  for (const w of work.values()) {
    sum += w.totals.sumMagnitude;
    kept += w.totals.keptMagnitude;
    report.summary.prunedElements += w.totals.pruned;
    const retained = w.totals.sumMagnitude === 0 ? 1 : w.totals.keptMagnitude / w.totals.sumMagnitude;
    for (const l of w.layers) {
      const change = changeOf.get(l)!;
      change.prunedElements = w.totals.pruned;
      change.retainedMagnitude = Number.isFinite(retained) ? retained : null;
    }
  }
  const retained = sum === 0 ? 1 : kept / sum;
  report.summary.retainedMagnitude = work.size === 0 || !Number.isFinite(retained) ? null : retained;
}

/** Re-reads the output (or its decompressed form) and checks that every converted layer passes the pattern. */
async function verify(report: ConvertReport, output: string, pattern: Pattern, signal?: AbortSignal): Promise<void> {
  const after = await inspectModel(output, { pattern, signal });
  const byName = new Map(after.layers.map((l) => [l.name, l]));
  let ok = true;
  for (const change of report.layers) {
    const l = byName.get(change.name);
    if (change.action === 'skip') continue;
    change.passesAfter = l ? l.pass : false;
    if (!l?.pass) ok = false;
  }
  report.verified = ok;
}
