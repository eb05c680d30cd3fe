// Convert with sparsity: choose layers, prune their weights to N:M, write the output model (and its external data)
// atomically next to the input, then re-read it and verify. The input is never modified.
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { CancelledError, ModelError, describeError } from '../errors';
import { dtypeById, rawByteLength } from '../onnx/dtypes';
import { type ModelSkeleton, type TensorRef, elementCount, readSkeleton } from '../onnx/skeleton';
import { type ByteSource, FileSource } from '../onnx/source';
import { ExternalFiles, type ElementReader, openTensor, resolveExternalPath } from '../onnx/tensorData';
import { AtomicOutputs, type Edit, type Out, copyBytes, lenField, spliceModel } from '../onnx/writer';
import { WIRE_LEN, forEachField } from '../onnx/wire';
import { type LayerReport, inspectModel } from '../sparsity/inspect';
import { type LayerPlan, eligibility, findLayers } from '../sparsity/layers';
import { type Pattern, patternName } from '../sparsity/pattern';
import { ShapeInfo, kAlignment } from '../sparsity/kernel';
import { type PruneTotals, emptyTotals, pruneSlab } from './prune';
import { RUNTIME_SIZE_LIMIT, type RuntimeComparison, compareOutputs } from './runtime';
import { typedFieldBytes } from './typed';

export type ConvertMode = 'prune';

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
  /** Values of symbolic input dimensions for the runtime comparison (default 1). */
  dims?: Record<string, number>;
}

export type LayerAction = 'prune' | 'unchanged' | 'skip';

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
  layers: LayerChange[];
  summary: {
    pruned: number;
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
  notes: string[];
}

const SUFFIX: Record<ConvertMode, string> = { prune: 'pruned' };

export function defaultOutputPath(model: string, mode: ConvertMode, pattern: Pattern): string {
  const ext = extname(model) || '.onnx';
  return join(dirname(model), `${basename(model, extname(model))}.${SUFFIX[mode]}-${pattern.n}of${pattern.m}${ext}`);
}

/** One weight tensor to convert, with every layer that consumes it. */
interface WeightWork {
  tensor: TensorRef;
  layers: LayerPlan[];
  shape: ShapeInfo;
  totals: PruneTotals;
}

function tensorKey(t: TensorRef): string {
  return `${t.span.offset}:${t.data.kind === 'external' ? t.data.location : ''}`;
}

/** Plans which layers change and why, without writing anything. */
function planChanges(plans: LayerPlan[], reports: Map<string, LayerReport>, pattern: Pattern, sel: LayerSelection): { changes: LayerChange[]; work: Map<string, WeightWork> } {
  const eligibleOrder = plans.filter((p) => eligibility(p, pattern).eligible);
  const first = sel.skipFirst ? eligibleOrder[0] : undefined;
  const head = sel.skipHead ? eligibleOrder[eligibleOrder.length - 1] : undefined;
  const changes: LayerChange[] = [];
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
    const count = plan.shape ? elementCount(plan.shape) : 0;
    if (!elig.eligible) change.reason = `ineligible: ${elig.reason}`;
    else if (report?.error) change.reason = `error: ${report.error}`;
    else if (sel.only && !sel.only.test(plan.name)) change.reason = 'not selected (--only)';
    else if (sel.skip && sel.skip.test(plan.name)) change.reason = 'not selected (--skip)';
    else if (sel.minParams !== undefined && count < sel.minParams) change.reason = `not selected: ${count} parameters < --min-params ${sel.minParams}`;
    else if (plan === first) change.reason = 'not selected: first layer (--skip-first)';
    else if (plan === head) change.reason = 'not selected: classifier head (--skip-head)';
    else if (plan.tensor?.data.kind === 'sparse') change.reason = 'sparse_initializer weights are not converted by this version';
    else {
      change.action = report?.pass ? 'unchanged' : 'prune';
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
  for (const [key, layers] of byWeight) {
    // A weight shared by layers that read it along different axes (or zero points) has no single N:M pruning.
    const signature = (l: LayerPlan) => `${l.axis}:${l.outAxis}:${JSON.stringify(l.zeroPoint ?? null)}`;
    if (new Set(layers.map(signature)).size > 1) {
      for (const l of layers) {
        const change = changes.find((c) => c.name === l.name)!;
        change.action = 'skip';
        change.retainedMagnitude = null;
        change.reason = `weight '${l.weight}' is shared by layers that read it along different axes (${layers.map((x) => `${x.name}: axis ${x.axis}`).join(', ')})`;
      }
      continue;
    }
    const needsPruning = layers.some((l) => changes.find((c) => c.name === l.name)!.action === 'prune');
    if (!needsPruning) continue;
    const l = layers[0];
    const geometry = { dims: l.shape!, kAxis: l.axis!, rAxis: l.outAxis! };
    work.set(key, { tensor: l.tensor!, layers, shape: new ShapeInfo(geometry, pattern), totals: emptyTotals() });
    // Consistency: every layer of a pruned weight is pruned (the weight is pruned once, for all of them).
    for (const x of layers) changes.find((c) => c.name === x.name)!.action = 'prune';
  }
  return { changes, work };
}

const SLAB_ELEMENTS = 1 << 20;

/** Streams a weight's pruned bytes (raw, little-endian) to `out`, slab by slab. */
function writePruned(reader: ElementReader, work: WeightWork, out: Out, progress: (n: number) => void, signal?: AbortSignal): void {
  const { A, K, B } = work.shape;
  const layer = work.layers[0];
  const dtype = reader.dtype;
  const dims = layer.shape!;
  const pattern = work.shape.pattern;
  const scratch = { mags: new Float64Array(0), single: new Float32Array(0) };
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
  for (let a = 0; a < A; a++) {
    for (let k0 = 0; k0 < K; k0 += height) {
      if (signal?.aborted) throw new CancelledError();
      const h = Math.min(height, K - k0);
      const first = (a * K + k0) * B;
      const run = reader.read(first, h * B);
      pruneSlab(dtype, run.bytes, 0, h, B, pattern, first, dims, layer.zeroPoint, work.totals, scratch);
      out.write(run.bytes);
      progress(h * B);
    }
  }
}

/** Start and end of every field numbered `numbers` directly inside the message [start, end). */
function fieldsOf(src: ByteSource, start: number, end: number, numbers: number[]): { start: number; end: number }[] {
  const found: { start: number; end: number }[] = [];
  forEachField(src, start, end, (f) => {
    if (numbers.includes(f.no)) found.push({ start: f.start, end: f.pos + f.len });
  });
  return found;
}

function stringEntry(key: string, value: string): Uint8Array {
  const enc = new TextEncoder();
  const k = lenField(1, enc.encode(key));
  const v = lenField(2, enc.encode(value));
  const entry = new Uint8Array(k.length + v.length);
  entry.set(k);
  entry.set(v, k.length);
  return lenField(13, entry);
}

function checkOutputPath(model: string, output: string, force: boolean, inputs: string[]): void {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  for (const input of inputs) {
    if (real(input) === real(output)) throw new ModelError(model, `the output '${output}' would overwrite an input file; choose another --out`);
  }
  if (existsSync(output) && !force) throw new ModelError(model, `the output '${output}' exists; use --force to replace it`);
}

/** Converts the model at `path`. Throws ModelError for bad input or refused outputs; writes nothing on any failure. */
export async function convertModel(path: string, options: ConvertOptions): Promise<ConvertReport> {
  const pattern = options.pattern ?? { n: 2, m: 4 };
  const inspection = await inspectModel(path, { pattern, signal: options.signal });
  const reports = new Map(inspection.layers.map((l) => [l.name, l]));
  const src = new FileSource(path);
  const externals = new ExternalFiles(path);
  try {
    const model = readSkeleton(src);
    const plans = findLayers({ model, src, externals });
    const { changes, work } = planChanges(plans, reports, pattern, options);
    const output = options.out ?? defaultOutputPath(path, options.mode, pattern);
    const report: ConvertReport = {
      model: path,
      output: options.dryRun ? null : output,
      dataFile: null,
      mode: options.mode,
      pattern: patternName(pattern),
      dryRun: Boolean(options.dryRun),
      layers: changes,
      summary: {
        pruned: changes.filter((c) => c.action === 'prune').length,
        unchanged: changes.filter((c) => c.action === 'unchanged').length,
        skipped: changes.filter((c) => c.action === 'skip').length,
        prunedElements: 0,
        retainedMagnitude: null,
        sizeBefore: src.size + externalBytes(model, path),
        sizeAfter: null,
      },
      verified: null,
      runtime: null,
      notes: ['One-shot magnitude pruning without fine-tuning loses accuracy; sparse-training flows (ASP, SR-STE, AMCT, INC) retrain after pruning.'],
    };
    if (options.dryRun) return report;
    const hasExternal = allTensors(model).some((t) => t.data.kind === 'external');
    const dataFile = hasExternal ? `${output.replace(/\.onnx$/i, '')}.data` : null;
    const inputFiles = [path, ...externalFiles(model, path)];
    checkOutputPath(path, output, Boolean(options.force), inputFiles);
    if (dataFile) checkOutputPath(path, dataFile, Boolean(options.force), inputFiles);
    report.dataFile = dataFile;

    const total = [...work.values()].reduce((s, w) => s + elementCount(w.layers[0].shape!), 0);
    let done = 0;
    const progress = (n: number) => {
      done += n;
      options.onProgress?.(done, total);
    };
    const outputs = new AtomicOutputs();
    try {
      const edits: Edit[] = [];
      if (dataFile) edits.push(...writeExternalData(src, model, externals, work, outputs, dataFile, progress, options.signal));
      for (const [key, w] of work) {
        const data = w.tensor.data;
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
        void key;
      }
      report.summary.sizeAfter = outputs.write(output, (out) => spliceModel(src, edits, out)) + (dataFile ? outputs.sizeOf(dataFile) : 0);
      outputs.commit();
    } catch (err) {
      outputs.abort();
      if (err instanceof CancelledError || err instanceof ModelError) throw err;
      throw new ModelError(path, `conversion failed, nothing was written: ${describeError(err)}`);
    }
    summarize(report, work);
    await verify(report, output, pattern);
    report.runtime =
      report.summary.sizeBefore <= RUNTIME_SIZE_LIMIT
        ? await compareOutputs(path, output, model, options.dims)
        : { ran: false, note: `the model is larger than ${RUNTIME_SIZE_LIMIT} bytes: outputs were not compared`, outputs: [] };
    return report;
  } finally {
    externals.close();
    src.close();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Every tensor of the model (initializers, Constant values, sparse initializers) in every graph. */
function allTensors(model: ModelSkeleton): TensorRef[] {
  const out: TensorRef[] = [];
  const visit = (g: ModelSkeleton['graph']) => {
    out.push(...g.initializers, ...g.sparseInitializers);
    for (const node of g.nodes) {
      for (const attr of node.attributes.values()) {
        if (attr.t) out.push(attr.t);
        if (attr.g) visit(attr.g);
        for (const sub of attr.graphs ?? []) visit(sub);
      }
    }
  };
  visit(model.graph);
  model.functions.forEach(visit);
  return out;
}

function externalFiles(model: ModelSkeleton, path: string): string[] {
  const files = new Set<string>();
  for (const t of allTensors(model)) {
    if (t.data.kind !== 'external') continue;
    try {
      files.add(resolveExternalPath(path, t.data.location));
    } catch {
      // reported by the layer that uses it
    }
  }
  return [...files];
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

/**
 * Writes every external tensor of the model into one new data file (pruned where converted, copied otherwise) and
 * returns the edits that point the model's tensors at it.
 */
function writeExternalData(
  src: ByteSource,
  model: ModelSkeleton,
  externals: ExternalFiles,
  work: Map<string, WeightWork>,
  outputs: AtomicOutputs,
  dataFile: string,
  progress: (n: number) => void,
  signal?: AbortSignal,
): Edit[] {
  const edits: Edit[] = [];
  const placed = new Map<string, { offset: number; length: number }>();
  const location = basename(dataFile);
  outputs.write(dataFile, (out) => {
    let offset = 0;
    const pad = (to: number) => {
      if (to > offset) out.write(new Uint8Array(to - offset));
      offset = to;
    };
    for (const t of allTensors(model)) {
      const data = t.data;
      if (data.kind !== 'external') continue;
      const key = tensorKey(t);
      let place = placed.get(key);
      if (!place) {
        // 64-byte alignment, as ONNX's own external-data writer does for mmap-friendly offsets.
        pad(Math.ceil(offset / 64) * 64);
        const reader = openTensor(src, t, externals);
        const length = rawByteLength(reader.dtype, reader.count);
        const w = work.get(key);
        if (w) writePruned(reader, w, out, progress, signal);
        else copyBytes(externals.get(data.location), data.offset, data.offset + length, out);
        place = { offset, length };
        offset += length;
        placed.set(key, place);
      }
      // Point the tensor at its new place: drop its external_data entries, append new ones.
      for (const f of fieldsOf(src, t.span.offset, t.span.offset + t.span.length, [13])) edits.push({ kind: 'remove', ...f });
      const entries = [stringEntry('location', location), stringEntry('offset', String(place.offset)), stringEntry('length', String(place.length))];
      edits.push({ kind: 'append', message: t.span.offset, end: t.span.offset + t.span.length, bytes: concat(entries) });
    }
  });
  return edits;
}

function summarize(report: ConvertReport, work: Map<string, WeightWork>): void {
  let sum = 0;
  let kept = 0;
  for (const w of work.values()) {
    sum += w.totals.sumMagnitude;
    kept += w.totals.keptMagnitude;
    report.summary.prunedElements += w.totals.pruned;
    const retained = w.totals.sumMagnitude === 0 ? 1 : w.totals.keptMagnitude / w.totals.sumMagnitude;
    for (const l of w.layers) {
      const change = report.layers.find((c) => c.name === l.name)!;
      change.prunedElements = w.totals.pruned;
      change.retainedMagnitude = Number.isFinite(retained) ? retained : null;
    }
  }
  report.summary.retainedMagnitude = work.size === 0 ? null : sum === 0 ? 1 : kept / sum;
}

/** Re-reads the output and checks that every converted layer passes the pattern. */
async function verify(report: ConvertReport, output: string, pattern: Pattern): Promise<void> {
  const after = await inspectModel(output, { pattern });
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
