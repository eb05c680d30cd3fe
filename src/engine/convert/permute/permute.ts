// Channel permutation before N:M pruning (convert --permute): for each selected layer, walk back to the layer that
// produces its input channels (chain.ts), search an order of those channels that keeps more magnitude (search.ts),
// and write a copy of the model with the layer's weight, the producer's weight and bias and the per-channel constants
// in between permuted alike (apply.ts). The copy computes the same function; it is checked against the input in ONNX
// Runtime, then converted as any model is, and the conversion report carries the permutation's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CancelledError, ModelError, describeError } from '../../errors';
import { dtypeById } from '../../onnx/dtypes';
import { type ModelSkeleton, readSkeleton } from '../../onnx/skeleton';
import { FileSource } from '../../onnx/source';
import { ExternalFiles } from '../../onnx/tensorData';
import type { Edit } from '../../onnx/writer';
import { checkOutput } from '../../outputs';
import { eligibility, findLayers } from '../../sparsity/layers';
import { type Pattern, patternName } from '../../sparsity/pattern';
import { convertModel } from '../convert';
import { allTensors, externalInputFiles } from '../externalData';
import { defaultOutputPath } from '../paths';
import { type RuntimeChoice, compareOutputs } from '../runtime';
import type { ConvertOptions, ConvertReport } from '../types';
import { magnitudeColumns, permuteAlong, replaceValues, tensorBytes, writeEdited } from './apply';
import { type PermutationChain, GraphIndex, findChain } from './chain';
import { DEFAULT_BUDGET, searchPermutation } from './search';
import type { PermutationReport, PermutedLayer } from './types';

export type { PermutationReport, PermutedLayer };

export interface PermuteOptions {
  pattern?: Pattern;
  /** Which layers to search (by layer name); default every eligible layer. */
  layers?: (name: string) => boolean;
  /** Work budget of the search per layer (row x split evaluations), default DEFAULT_BUDGET. */
  budget?: number;
  signal?: AbortSignal;
  /** Values of symbolic input dimensions for the ONNX Runtime check (default 1). */
  dims?: Record<string, number>;
  /** Which ONNX Runtime compares the permuted model with the input (convert's --verify-runtime). */
  verifyRuntime?: RuntimeChoice;
  /** Layers searched so far, of those selected: the search of a large layer takes seconds. */
  onProgress?: (done: number, total: number) => void;
}

/** The largest relative disagreement (1 - cosine) a permuted model's outputs may show: float sums in another order. */
const SAME_FUNCTION = 1e-6;

/**
 * Searches a permutation for each selected layer and, when `out` is given and some layer is permuted, writes the
 * permuted model there (a new file) and compares it with the input in ONNX Runtime. The input is never modified.
 */
export async function permuteModel(path: string, out: string | null, options: PermuteOptions = {}): Promise<PermutationReport> {
  const started = Date.now();
  const pattern = options.pattern ?? { n: 2, m: 4 };
  const budget = options.budget ?? DEFAULT_BUDGET;
  const src = new FileSource(path);
  const externals = new ExternalFiles(path);
  try {
    const model = readSkeleton(src, { signal: options.signal });
    const plans = findLayers({ model, src, externals, signal: options.signal });
    const index = new GraphIndex(model);
    const layers: PermutedLayer[] = [];
    // Tensor name -> the permutations it takes (a layer's weight can be one layer's input and another's output side).
    const ops = new Map<string, { chain: PermutationChain; axis: number; perm: Int32Array }[]>();
    let plainKept = 0;
    let permutedKept = 0;
    let total = 0;
    const selected = plans.filter((plan) => eligibility(plan, pattern).eligible && (!options.layers || options.layers(plan.name)));
    for (const plan of selected) {
      if (options.signal?.aborted) throw new CancelledError();
      options.onProgress?.(layers.length, selected.length);
      const entry: PermutedLayer = {
        name: plan.name,
        op: plan.op,
        weight: plan.weight,
        status: 'refused',
        reason: null,
        producer: null,
        through: [],
        tensors: [],
        channels: null,
        retainedPlain: null,
        retainedPermuted: null,
        retainedBound: null,
        moves: 0,
        budgetSpent: false,
      };
      layers.push(entry);
      const chain = findChain(plan, index);
      if (typeof chain === 'string') {
        entry.reason = chain;
        continue;
      }
      // A tensor permuted twice along one axis would need both orders at once (chain.ts allows one reader, so this is a guard).
      const clash = chain.tensors.find((t) => ops.get(t.tensor.name)?.some((o) => o.axis === t.axis));
      if (clash) {
        entry.reason = `'${clash.tensor.name}' is already permuted along axis ${clash.axis} for another layer`;
        continue;
      }
      entry.producer = `${chain.producer.opType} '${chain.producer.name}'`;
      entry.through = chain.through;
      entry.channels = chain.channels;
      entry.tensors = chain.tensors.map((t) => `${t.tensor.name} axis ${t.axis}`);
      let result;
      try {
        const bytes = tensorBytes(src, chain.weight, externals);
        const { columns, rows } = magnitudeColumns(bytes, chain.weight, chain.kAxis);
        result = searchPermutation(columns, rows, chain.channels, { pattern, budget, signal: options.signal });
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        entry.reason = `weight '${chain.weight.name}' could not be read: ${describeError(err)}`;
        continue;
      }
      const fraction = (x: number) => (result.total === 0 ? 1 : x / result.total);
      entry.retainedPlain = fraction(result.plain);
      entry.retainedPermuted = fraction(result.permuted);
      entry.retainedBound = fraction(result.bound);
      entry.moves = result.moves;
      entry.budgetSpent = result.budgetSpent;
      total += result.total;
      plainKept += result.plain;
      permutedKept += result.permuted;
      if (result.permuted <= result.plain) {
        entry.status = 'identity';
        entry.reason = 'no order found that keeps more than the stored one';
        continue;
      }
      entry.status = 'permuted';
      for (const t of chain.tensors) {
        const list = ops.get(t.tensor.name) ?? [];
        list.push({ chain, axis: t.axis, perm: result.perm });
        ops.set(t.tensor.name, list);
      }
    }
    options.onProgress?.(layers.length, selected.length);
    const searched = layers.filter((l) => l.status !== 'refused').length;
    const report: PermutationReport = {
      pattern: patternName(pattern),
      layers,
      summary: {
        permuted: layers.filter((l) => l.status === 'permuted').length,
        identity: layers.filter((l) => l.status === 'identity').length,
        refused: layers.filter((l) => l.status === 'refused').length,
        retainedPlain: searched ? (total === 0 ? 1 : plainKept / total) : null,
        retainedPermuted: searched ? (total === 0 ? 1 : permutedKept / total) : null,
      },
      runtime: null,
      budget,
      seconds: 0,
    };
    if (out && report.summary.permuted > 0) {
      const edits: Edit[] = [];
      for (const [name, list] of ops) {
        const tensor = index.initializers.get(name)!;
        let bytes = tensorBytes(src, tensor, externals);
        const size = dtypeById(tensor.dtype)!.bits / 8;
        for (const o of list) bytes = permuteAlong(bytes, tensor.dims, size, o.axis, o.perm);
        edits.push(...replaceValues(src, tensor, bytes));
      }
      writeEdited(src, edits, out);
      // As convert's own check: a model over the runtime's limit is not run (the report says so).
      report.runtime = await compareOutputs(path, out, model, { dims: options.dims, runtime: options.verifyRuntime, signal: options.signal, size: src.size });
    }
    report.seconds = (Date.now() - started) / 1000;
    return report;
  } finally {
    externals.close();
    src.close();
  }
}

/** Whether ONNX Runtime saw the permuted model compute what the input computes (up to float sums in another order). */
function sameFunction(report: PermutationReport): string | null {
  for (const o of report.runtime?.outputs ?? []) {
    if (o.cosine === null || o.cosine < 1 - SAME_FUNCTION) return `output '${o.name}' of the permuted model differs from the input's (max |diff| ${o.maxAbsDiff}, cosine ${o.cosine})`;
  }
  return null;
}

/** The model's external data, which a permuted copy in another folder could not reach: refused for now. */
function hasExternalData(model: ModelSkeleton): boolean {
  return allTensors(model).some((t) => t.data.kind === 'external' || t.declaredExternal);
}

/**
 * convert with --permute: the layers the conversion would change are searched for a better channel order, a
 * permuted copy of the model is written to a temporary folder and checked, and that copy is converted to the output.
 */
export async function convertWithPermutation(
  path: string,
  options: ConvertOptions & { permuteBudget?: number; onPermuteProgress?: (done: number, total: number) => void },
): Promise<ConvertReport> {
  const pattern = options.pattern ?? { n: 2, m: 4 };
  const planned = await convertModel(path, { ...options, dryRun: true });
  const converted = new Set(planned.layers.filter((l) => l.action === 'prune' || l.action === 'compress' || l.action === 'rewrite').map((l) => l.name));
  const permuteOptions: PermuteOptions = { pattern, layers: (name) => converted.has(name), budget: options.permuteBudget, signal: options.signal, dims: options.dims, verifyRuntime: options.verifyRuntime, onProgress: options.onPermuteProgress };
  const src = new FileSource(path);
  let model: ModelSkeleton;
  try {
    model = readSkeleton(src, { signal: options.signal });
  } finally {
    src.close();
  }
  if (hasExternalData(model)) throw new ModelError(path, '--permute does not handle models with external data yet: convert without --permute');
  if (options.dryRun) {
    planned.permutation = await permuteModel(path, null, permuteOptions);
    return planned;
  }
  const output = options.out ?? defaultOutputPath(path, options.mode, pattern);
  checkOutput(path, output, [path, ...externalInputFiles(model, path)], Boolean(options.force));
  const folder = mkdtempSync(join(tmpdir(), 'sparsity-lens-permute-'));
  try {
    const permuted = join(folder, basename(path));
    let permutation: PermutationReport;
    try {
      permutation = await permuteModel(path, permuted, permuteOptions);
    } catch (err) {
      if (err instanceof CancelledError || err instanceof ModelError) throw err;
      throw new ModelError(path, `channel permutation failed, nothing was written: ${describeError(err)}`);
    }
    if (permutation.summary.permuted === 0) {
      const report = await convertModel(path, options);
      report.permutation = permutation;
      return report;
    }
    const differs = sameFunction(permutation);
    if (differs) throw new ModelError(path, `channel permutation failed its check, nothing was written: ${differs}`);
    let report: ConvertReport;
    try {
      report = await convertModel(permuted, { ...options, out: output, inspection: undefined });
    } catch (err) {
      // Errors name the input the user gave, not the temporary copy.
      if (err instanceof ModelError && err.file === permuted) throw new ModelError(path, err.problem, err.tensor);
      throw err;
    }
    report.model = path;
    report.permutation = permutation;
    report.notes.push('Input channels were permuted before pruning (with the producing layers\' output channels): the permuted model computes what the input does, and the output comparison is against it.');
    return report;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
