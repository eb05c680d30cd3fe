// Convert with sparsity: choose layers, prune their weights to N:M, write the output model (and its external data)
// atomically next to the input, then re-read it and verify. The input is never modified.
// The steps live in their own modules: plan.ts (selection), write.ts (edits), verify.ts, and one module per output
// format under formats/ (prune in place, compress, ascend).
import { basename, dirname, resolve } from 'node:path';
import { CancelledError, ModelError, describeError } from '../errors';
import { elementCount, readSkeleton } from '../onnx/skeleton';
import { FileSource } from '../onnx/source';
import { ExternalFiles } from '../onnx/tensorData';
import { spliceModel } from '../onnx/writer';
import { OutputTransaction, checkOutput } from '../outputs';
import { type InspectReport, inspectModel } from '../sparsity/inspect';
import { findLayers } from '../sparsity/layers';
import { type Pattern, patternName } from '../sparsity/pattern';
import { tensorPlaces } from './compressEdits';
import { allTensors, externalInputFiles } from './externalData';
import { FORMATS, type FormatContext, type VerifyContext } from './formats';
import { verifyInPlace } from './formats/inPlace';
import { planChanges, planRewrites, summarize } from './plan';
import type { ConvertOptions, ConvertReport } from './types';
import { checkCancelled } from './verify';
import { conversionEdits, externalBytes, prunedBytes } from './write';

import type { ConvertMode } from './paths';
import { defaultOutputPath } from './paths';

export type { ConvertMode };
export { defaultOutputPath };
export type { ConvertOptions, ConvertReport, LayerAction, LayerChange, LayerSelection } from './types';

/** The caller's inspection when it is of this file's size with this pattern; otherwise a fresh one. */
async function inspectionFor(path: string, pattern: Pattern, options: ConvertOptions): Promise<InspectReport> {
  const given = options.inspection;
  if (given && given.pattern === patternName(pattern) && given.model === path) {
    const src = new FileSource(path);
    const size = src.size;
    src.close();
    if (given.fileSize === size) return given;
  }
  return inspectModel(path, { pattern, signal: options.signal });
}

/** Converts the model at `path`. Throws ModelError for bad input or refused outputs; writes nothing on any failure. */
export async function convertModel(path: string, options: ConvertOptions): Promise<ConvertReport> {
  const pattern = options.pattern ?? { n: 2, m: 4 };
  const format = FORMATS[options.mode];
  const inspection = await inspectionFor(path, pattern, options);
  const reports = new Map(inspection.layers.map((l) => [l.name, l]));
  const src = new FileSource(path);
  const externals = new ExternalFiles(path);
  try {
    const model = readSkeleton(src, { signal: options.signal });
    const plans = findLayers({ model, src, externals, signal: options.signal });
    const refused = format.refuse?.(pattern);
    if (refused) throw new ModelError(path, refused);
    checkCancelled(options.signal);
    const { changes, changeOf, work } = planChanges(plans, reports, pattern, options, format);
    checkCancelled(options.signal);
    const ctx: FormatContext = {
      model,
      src,
      externals,
      pattern,
      places: tensorPlaces(model),
      opset: model.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0,
      reports,
    };
    const rewrite = format.rewrite;
    const rewrites = rewrite ? planRewrites(rewrite, work, changeOf, reports, ctx, (w) => prunedBytes(src, externals, w), options.signal) : new Map<string, unknown>();
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
        sizeBefore: src.size + externalBytes(model),
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
    checkCancelled(options.signal);

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
      const edits = conversionEdits({ ctx, work, rewrites, rewrite, dataFile, outputs, progress, signal: options.signal });
      report.summary.sizeAfter = outputs.write(output, (out) => spliceModel(src, edits, out)) + (dataFile ? outputs.sizeOf(dataFile) : 0);
      summarize(report, work, changeOf);
      // Verified where it was written, in the work folder, before anything is put in place; cancel is honoured between steps.
      const v: VerifyContext = { report, outputs, staged: outputs.staged(output), input: path, model, pattern, options };
      checkCancelled(options.signal);
      // A format that rewrote nothing verifies as prune in place.
      if (rewrite && rewrites.size === 0) await verifyInPlace(v);
      else await format.verify(v, [...rewrites.values()]);
      checkCancelled(options.signal);
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
