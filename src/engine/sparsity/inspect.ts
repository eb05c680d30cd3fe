// Inspection: the lazy skeleton, the layers, one scan of each distinct weight (inline or on a worker pool),
// and the report whose JSON form is the CLI's stable contract (README, "JSON contract").
import { CancelledError, ModelError, canRetry, describeError } from '../errors';
import { checkModel } from '../onnx/checks';
import { dtypeById } from '../onnx/dtypes';
import { type ModelSkeleton, type TensorRef, elementCount, readSkeleton } from '../onnx/skeleton';
import { type ByteSource, FileSource } from '../onnx/source';
import type { Worker } from 'node:worker_threads';
import { foldSignature } from '../onnx/folded';
import { ExternalFiles, openTensor } from '../onnx/tensorData';
import { JobSources, type ScanJob } from './job';
import { type ZeroPoint, zeroPointKey } from './decode';
import { fragileZeroWarnings } from './fragile';
import { GRID_MAX, type Grid, type PartStats, type ScanStats, ShapeInfo, absorbPart, emptyStats } from './kernel';
import { countGraphOps } from './graphOps';
import { type LayerPlan, type UnrecognizedOp, discover, eligibility } from './layers';
import { BLOCK_SHAPES, type Pattern, STANDARD_PATTERNS, patternName } from './pattern';
import { defaultWorkerCount, defaultWorkerScript, runPool, spawnWorkers } from './pool';
import { splitParts, wholeTensor } from './scan';
import { type StoredReport, storedReport } from './stored';
import { openStored } from './storedReader';
import type { DeployPrecision, DeploySummary, DeployVerdict, TargetId } from '../deploy/types';
import { applyDeploy, headlineProjection } from '../deploy/verdict';
import type { BatchPoint, ProjectOptions, Projection } from '../speedup/project';
import { discoverCheckpoint, isCheckpointPath } from '../safetensors/checkpoint';
import { SafetensorsError } from '../safetensors/header';

export const NEARLY_PASSING = 0.99;

export interface InspectOptions {
  pattern?: Pattern;
  /** Only layers whose name matches. */
  layers?: RegExp;
  /** Scan worker threads besides this one (which scans too); 0 scans inline. Default: one per core but one. */
  workers?: number;
  /** Without `workers`, models smaller than this (bytes of weights) are scanned inline. */
  inlineBelow?: number;
  nearlyThreshold?: number;
  gridMax?: number;
  /** Weights larger than this many elements are cut into parts scanned in parallel (default: partTarget). */
  partElements?: number;
  /** Adds the projected speedup on a hardware profile, and times the deploy verdicts on each target's profile. */
  speedup?: ProjectOptions;
  /** With `speedup` and a symbolic batch: the end-to-end projection at these batch sizes too (report.batchSweep). */
  batchSweep?: number[];
  /** The precision the deploy verdicts and the projection assume the engine is built with (default: as stored). */
  precision?: DeployPrecision;
  /** Called with (elements scanned, elements to scan). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  workerScript?: string;
}

export interface LayerReport {
  name: string;
  op: string;
  graph: string;
  weight: string;
  shape: number[] | null;
  /**
   * Only where the layer reads a view of its stored tensor (MatMulNBits and QMoE codes): the stored dims, e.g.
   * [N, k_blocks, blob_size] for a `shape` [N, K]; `shape`, `axis` and the statistics are the view's.
   */
  storedShape?: number[];
  /** With storedShape: the matrix and its storage in words, e.g. "N x K = 4096 x 4096, stored as 4096 x 32 blocks x 128 4-bit codes". */
  storedAs?: string;
  dtype: string | null;
  /** Reduction axis K of the stored weight, non-negative; null when unknown (dynamic weight). */
  axis: number | null;
  outAxis: number | null;
  chain: string[];
  /** The weight is a constant only after folding: the ops folded, the constants folded from, and a note; null otherwise. */
  folded: { ops: string[]; from: string[]; note: string } | null;
  zeroPoint: 'none' | 'per-tensor' | 'per-channel' | 'per-block';
  eligible: boolean;
  reason: string | null;
  warnings: string[];
  error: string | null;
  groups: number;
  validGroups: number;
  /** validGroups / groups; null when not scanned. */
  compliance: number | null;
  pass: boolean;
  nearlyPassing: boolean;
  elements: number;
  zeros: number | null;
  /** Zeros stored as -0.0 (float weights); null when not scanned. Each fragile kind of zero also warns. */
  negativeZeros: number | null;
  /** Zeros of an integer weight that are codes equal to a non-zero zero point; null when not scanned. */
  zeroPointZeros: number | null;
  /** Fraction of sum |w| kept if pruned to the pattern by magnitude; 1 when already compliant. */
  retainedMagnitude: number | null;
  /** countHistogram[c] = groups with c non-zeros. */
  countHistogram: number[] | null;
  maskHistogram: number[] | null;
  patterns: Record<string, boolean>;
  blocks: Record<string, number | null>;
  grid: Grid | null;
  /** The weight is stored compressed by this tool (convert --mode compress or ascend): format and bytes; null otherwise. */
  stored: StoredReport | null;
  /** The graph node that reads the weight: its name ('' when unnamed) and first output; null for a checkpoint's tensors. */
  node: { name: string; output: string } | null;
  /** Whether each deployment target will run this layer sparse, why (not), and the fix (src/engine/deploy, issue 13). */
  deploy?: Partial<Record<TargetId, DeployVerdict>>;
}

export interface InspectSummary {
  layers: number;
  eligible: number;
  passing: number;
  nearlyPassing: number;
  failing: number;
  ineligible: number;
  /** Layers whose weights could not be read: they count as failing (compliance 0) in `compliance` and the gate. */
  errors: number;
  /** Elements of all weights that were found. */
  parameters: number;
  eligibleParameters: number;
  /**
   * Compliance of eligible layers weighted by their element counts, with every layer that could not be read counted
   * as 0 (a CI gate must not pass a model because its only failing layer is broken); null when no layer was either.
   */
  compliance: number | null;
  retainedMagnitude: number | null;
  /** Per deployment target: how many layers, parameters and how much projected time run sparse (issue 13). */
  deploy?: Partial<Record<TargetId, DeploySummary>>;
}

export interface InspectReport {
  model: string;
  /** What the file is: an ONNX model, or a Hugging Face safetensors checkpoint (weights, no graph; issue 16). */
  modelFormat: 'onnx' | 'safetensors';
  pattern: string;
  fileSize: number;
  irVersion: number;
  producer: string;
  opset: number | null;
  /**
   * Where the model breaks the ONNX spec in a way that changes the answer (node order, cycles, names defined twice
   * or never, a tensor with two data fields, an initializer contradicting its declared type), each saying what is
   * wrong and what the tool assumed (src/engine/onnx/checks.ts); empty for a model that passes these checks.
   */
  warnings: string[];
  summary: InspectSummary;
  layers: LayerReport[];
  /**
   * Nodes that consume a constant weight (2+ dims, 16+ elements) of an op this tool neither reads nor lists as
   * ineligible, counted by op and domain ('' = ONNX's default), most first: nothing that carries a weight is skipped
   * in silence. Empty when every such weight is a layer.
   */
  unrecognized: UnrecognizedOp[];
  /** Only when no layer was found: every op of the model, counted, so that an empty report says what it saw (graphOps.ts). */
  graphOps?: UnrecognizedOp[];
  /** The precision the deploy verdicts assume (--precision; 'stored': each weight as stored). */
  deployPrecision?: DeployPrecision;
  /** With `speedup`: the whole projection (inputs, per-layer times, traps, assumptions, unknowns). */
  projection?: Projection;
  /** With `batchSweep` and a model whose batch is symbolic: the end-to-end projection at each of those batch sizes. */
  batchSweep?: BatchPoint[];
}

/** Per-layer projection fields added to each layer with `speedup` (README, "Projected speedup"). */
export interface LayerSpeedup {
  macs: number | null;
  /** Device time on the chosen hardware, seconds. */
  denseTime: number | null;
  sparseTime: number | null;
  bound: 'math' | 'memory' | 'none' | null;
  speedup: number | null;
}

/** Summary fields added with `speedup`. */
export interface SummarySpeedup {
  speedup: number | null;
  hardware: string;
  assumptions: string[];
}

/** Inspects the model at `path`. Throws ModelError when the file is not a readable model; a bad tensor fails only its layer. */
export async function inspectModel(path: string, options: InspectOptions = {}): Promise<InspectReport> {
  let src: ByteSource;
  try {
    src = new FileSource(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder, not a model file' : code === 'EFTYPE' ? (err as Error).message.replace(`${path} `, 'it ') : describeError(err);
    throw new ModelError(path, `cannot open: ${what}`, undefined, canRetry(err));
  }
  try {
    return await inspectSource(src, options);
  } finally {
    src.close();
  }
}

/** Inspects a model from any byte source (files, memory). Memory sources are always scanned inline. */
export async function inspectSource(src: ByteSource, options: InspectOptions = {}): Promise<InspectReport> {
  const pattern = options.pattern ?? { n: 2, m: 4 };
  const externals = new ExternalFiles(src.path);
  try {
    // A Hugging Face safetensors checkpoint (issue 16) has layers but no graph; an ONNX model has both.
    const checkpoint = isCheckpointPath(src.path) ? discoverCheckpointOrFail(src, externals) : undefined;
    // Scan workers take a tenth of a second to start: where the weights will be scanned in threads, they start as
    // soon as the structure walk has seen enough bytes of initializers, while the rest is read, checked and its
    // layers are found.
    const early = checkpoint ? undefined : earlyWorkers(src, options);
    const model = checkpoint?.model ?? readSkeleton(src, { signal: options.signal, onInitializer: early?.count });
    early?.walked(model);
    let results: ScanResult[];
    let plans: LayerPlan[];
    let scans: WeightScan[];
    let all: LayerPlan[];
    let unrecognized: UnrecognizedOp[];
    let warnings: string[];
    try {
      warnings = checkpoint ? [] : checkModel(model);
      const found = checkpoint ?? discover({ model, src, externals, signal: options.signal });
      ({ layers: all, unrecognized } = found);
      warnings.push(...found.warnings);
      plans = all.filter((l) => !options.layers || options.layers.test(l.name));
      scans = planScans(plans, pattern, options.gridMax ?? GRID_MAX);
      results = await runScans(src, scans, options, externals, early);
    } finally {
      // Those runScans did not take (it failed before, or needed fewer): stopped.
      early?.release();
    }
    const report = buildReport(model, pattern, plans, scans, results, options.nearlyThreshold ?? NEARLY_PASSING, warnings);
    report.unrecognized = unrecognized;
    if (!checkpoint && all.length === 0) report.graphOps = countGraphOps(model);
    if (checkpoint) report.modelFormat = 'safetensors';
    // A checkpoint has no graph to project: its verdicts come from the rules alone, and the report says why.
    if (checkpoint && options.speedup) report.warnings.push('no speedup projection: a checkpoint holds weights but no graph (shapes of activations, the other ops); project the ONNX export');
    projectReport(report, { model, src, externals, plans: all, checkpoint: Boolean(checkpoint), filtered: plans.length < all.length }, options);
    return report;
  } finally {
    externals.close();
  }
}

/** What projectReport reads besides the report: the model's graph and every layer found (the projection needs them all). */
export interface ProjectionContext {
  model: ModelSkeleton;
  src: ByteSource;
  externals: ExternalFiles;
  plans: LayerPlan[];
  checkpoint: boolean;
  /** --layers left some layers out of the report. */
  filtered: boolean;
}

/**
 * Fills the report's deploy verdicts and projection from its scan statistics: all that a new hardware, batch, runtime
 * or precision changes, so the panel recomputes only this (reproject.ts), never the weight scan.
 */
export function projectReport(report: InspectReport, context: ProjectionContext, options: Pick<InspectOptions, 'speedup' | 'precision' | 'batchSweep'>): void {
  const { model, src, externals, plans, checkpoint } = context;
  // Deploy verdicts per layer and target (src/engine/deploy); the projection follows them.
  const input = { model, src, externals, plans, layers: report.layers, precision: options.precision };
  const deploy = applyDeploy({ ...input, speedup: checkpoint ? undefined : options.speedup });
  report.summary.deploy = deploy.summary;
  report.deployPrecision = options.precision ?? 'stored';
  if (deploy.projection) attachProjection(report, deploy.projection, context.filtered);
  if (deploy.projection?.batchUsed && options.speedup && options.batchSweep?.length) {
    report.batchSweep = options.batchSweep.map((batch) => {
      const p = batch === deploy.projection!.batch ? deploy.projection! : headlineProjection({ ...input, speedup: { ...options.speedup!, batch } });
      return { batch, speedup: p.speedup, speedupIfAllPass: p.speedupIfAllPass, denseTime: p.denseTime, sparseTime: p.sparseTime, launchBound: p.hostBound.sparse };
    });
  }
}

/** A checkpoint's layers; a file that is no readable checkpoint is a ModelError naming it. */
function discoverCheckpointOrFail(src: ByteSource, externals: ExternalFiles) {
  try {
    return discoverCheckpoint(src, externals);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new ModelError(src.path, err.message);
    throw err;
  }
}

/** One distinct weight to scan: layers sharing a tensor, axis and zero point share its scan. */
interface WeightScan {
  tensor: TensorRef;
  layer: LayerPlan;
  shape: ShapeInfo;
  layers: LayerPlan[];
}

function scanKey(layer: LayerPlan): string {
  const t = layer.tensor!;
  // A folded weight or a reshaped view shares its constant's place but not its values or dims.
  const view = layer.folded ? `:${t.dims.join(' ')}:${t.fold ? foldSignature(t.fold) : ''}` : '';
  return `${t.span.offset}:${t.data.kind === 'external' ? t.data.location : ''}:${layer.axis}:${layer.outAxis}${view}`;
}

/** One key per stored tensor (its place in the file); runtime weights, which have none, by graph and name. */
function weightKey(plan: LayerPlan): string {
  const t = plan.tensor;
  if (t?.fold) return `fold:${foldSignature(t.fold)}`;
  return t ? `${t.span.offset}:${t.data.kind === 'external' ? t.data.location : ''}` : `${plan.graph}:${plan.weight}`;
}

function planScans(plans: LayerPlan[], pattern: Pattern, gridMax: number): WeightScan[] {
  // Zero points are compared (hashed: an int4 LLM's are tens of MB) only between layers of one weight.
  const byKey = new Map<string, WeightScan[]>();
  const zpKeys = new Map<ZeroPoint | undefined, string>();
  const zpKey = (zp: ZeroPoint | undefined) => {
    let key = zpKeys.get(zp);
    if (key === undefined) zpKeys.set(zp, (key = zeroPointKey(zp)));
    return key;
  };
  const scans: WeightScan[] = [];
  for (const layer of plans) {
    if (!eligibility(layer, pattern).eligible) continue;
    const key = scanKey(layer);
    const same = byKey.get(key) ?? [];
    const existing = same.find((s) => s.layer.zeroPoint === layer.zeroPoint || zpKey(s.layer.zeroPoint) === zpKey(layer.zeroPoint));
    if (existing) existing.layers.push(layer);
    else {
      const geometry = { dims: layer.shape!, kAxis: layer.axis!, rAxis: layer.outAxis! };
      const scan = { tensor: layer.tensor!, layer, shape: new ShapeInfo(geometry, pattern, gridMax), layers: [layer] };
      byKey.set(key, [...same, scan]);
      scans.push(scan);
    }
  }
  return scans;
}

interface ScanResult {
  stats?: ScanStats;
  error?: string;
}

/**
 * Without an explicit worker count, models with fewer bytes of weights than this are scanned in this thread only:
 * a scan worker's start-up (a thread, its bundle, the kernel) costs more than it saves below about this size on
 * 2 cores (npm run bench: ResNet-50's 102 MB, 0.29 s inline against 0.32 s with a worker).
 */
const INLINE_BELOW = 256 << 20;
export const PART_ELEMENTS = 64 << 20;
const MIN_PART_ELEMENTS = 4 << 20;

/**
 * Elements per part: about an eighth of the model (enough parts to keep every core busy to the end), between 4M
 * (each part has a fixed cost: its statistics, grid and a message) and PART_ELEMENTS. Independent of the thread
 * count, so that parts, and hence float sums, are the same inline and threaded.
 */
export function partTarget(totalElements: number): number {
  return Math.min(PART_ELEMENTS, Math.max(MIN_PART_ELEMENTS, Math.ceil(totalElements / 8)));
}

/**
 * Scan workers started before the layers are known (earlyWorkers): `count` takes each initializer as the structure
 * walk reads it, `walked` the whole structure once read; runScans takes what it needs, release() stops the rest.
 */
interface EarlyWorkers {
  count(tensor: TensorRef): void;
  walked(model: ModelSkeleton): void;
  take(count: number): Worker[];
  release(): void;
}

/** Bytes of a tensor as its dims and type say (0 where they say nothing readable). */
function tensorBytes(t: TensorRef): number {
  const bits = dtypeById(t.dtype)?.bits ?? 0;
  return t.dims.every((d) => Number.isSafeInteger(d) && d >= 0) ? (elementCount(t.dims) * bits) / 8 : 0;
}

/**
 * Workers started while the model's structure is read, once its initializers hold at least INLINE_BELOW bytes and
 * threads would scan them (runScans decides again on the layers found, and stops what it does not use). The main
 * graph's initializers count as they are read (an int4 LLM's 672 of them take 50 ms to walk: its workers start
 * while the rest is read); the functions' once the walk is done.
 */
function earlyWorkers(src: ByteSource, options: InspectOptions): EarlyWorkers | undefined {
  const threads = options.workers ?? defaultWorkerCount();
  const script = options.workerScript ?? defaultWorkerScript();
  if (!(src instanceof FileSource) || threads === 0 || !script || options.workers !== undefined) return undefined;
  const limit = options.inlineBelow ?? INLINE_BELOW;
  let bytes = 0;
  let pool: Worker[] | undefined;
  const start = () => {
    if (!pool && bytes >= limit) pool = spawnWorkers(script, threads);
  };
  return {
    count: (tensor) => {
      if (pool) return;
      bytes += tensorBytes(tensor);
      start();
    },
    walked: (model) => {
      for (const fn of model.functions) for (const t of fn.initializers) bytes += tensorBytes(t);
      start();
    },
    take: (count) => {
      // None started early (too few bytes of initializers: the weights may be Constant nodes): started now.
      if (!pool) {
        pool = [];
        return count ? spawnWorkers(script, count) : [];
      }
      const taken = pool.slice(0, count);
      const rest = pool.slice(count);
      pool = [];
      for (const w of rest) void w.terminate();
      return taken;
    },
    release: () => {
      for (const w of pool ?? []) void w.terminate();
      pool = [];
    },
  };
}

async function runScans(src: ByteSource, scans: WeightScan[], options: InspectOptions, externals: ExternalFiles, early?: EarlyWorkers): Promise<ScanResult[]> {
  // Decide inline or threaded first, so that the workers boot while the jobs are prepared.
  const threads = options.workers ?? defaultWorkerCount();
  const script = options.workerScript ?? defaultWorkerScript();
  const plannedBytes = scans.reduce((sum, s) => sum + (elementCount(s.shape.geometry.dims) * (dtypeById(s.tensor.dtype)?.bits ?? 8)) / 8, 0);
  const small = options.workers === undefined && plannedBytes < (options.inlineBelow ?? INLINE_BELOW);
  const inline = !(src instanceof FileSource) || threads === 0 || !script || small;
  const target = options.partElements ?? partTarget(scans.reduce((sum, s) => sum + elementCount(s.shape.geometry.dims), 0));
  // No more workers than parts besides the one this thread takes (counted, not cut: the dims of a broken tensor can
  // claim 10^14 elements).
  const parts = scans.reduce((sum, s) => sum + Math.max(1, Math.ceil(elementCount(s.shape.geometry.dims) / target)), 0);
  const count = inline || parts < 2 ? 0 : Math.min(threads, parts - 1);
  const workers = early ? early.take(count) : count ? spawnWorkers(script!, count) : [];
  try {
    return await scanAll(src, scans, options, externals, workers.length === 0, workers, target);
  } catch (err) {
    // runPool terminates its workers; these never reached it.
    if (workers.length) void Promise.all(workers.map((w) => w.terminate()));
    throw err;
  }
}

async function scanAll(
  src: ByteSource,
  scans: WeightScan[],
  options: InspectOptions,
  externals: ExternalFiles,
  inline: boolean,
  workers: Worker[],
  target: number,
): Promise<ScanResult[]> {
  // A weight's first part is taken as its statistics, later parts merge into it (in job order); a weight with no
  // part gets empty statistics at the end.
  const results: ScanResult[] = scans.map(() => ({}));
  const jobs: ScanJob[] = [];
  scans.forEach((scan, weight) => {
    // A folded weight is evaluated whole, in the one thread that scans it.
    const stored = scan.layer.stored;
    const splittable = !scan.tensor.fold && (stored !== undefined || scan.tensor.data.kind === 'raw' || scan.tensor.data.kind === 'external');
    // Check the stored bytes against the dims before cutting parts: a few bytes of dims can claim 10^14 elements.
    const problem = splittable ? storageProblem(src, scan.layer, externals) : undefined;
    if (problem !== undefined) {
      results[weight] = { error: problem };
      return;
    }
    const parts = splittable ? splitParts(scan.shape, target) : [wholeTensor(scan.shape)];
    for (const part of parts) {
      jobs.push({
        id: jobs.length,
        weight,
        tensor: scan.tensor,
        geometry: scan.shape.geometry,
        pattern: scan.shape.pattern,
        zeroPoint: scan.layer.zeroPoint,
        gridMax: options.gridMax ?? GRID_MAX,
        part,
        stored,
      });
    }
  });
  const scanned = scans.filter((_, weight) => results[weight].error === undefined);
  const total = scanned.reduce((sum, s) => sum + elementCount(s.shape.geometry.dims), 0);
  let done = 0;
  const progress = (n: number) => {
    done += n;
    options.onProgress?.(done, total);
  };

  const absorb = (job: ScanJob, stats?: PartStats, error?: string) => {
    const result = results[job.weight];
    if (error !== undefined) {
      result.error ??= error;
      result.stats = undefined;
    } else if (result.error === undefined && stats) result.stats = absorbPart(result.stats, stats, scans[job.weight].shape);
  };
  if (inline) {
    const sources = new JobSources(src);
    const signal = options.signal ?? { aborted: false };
    try {
      for (const job of jobs) {
        // Between parts, let the event loop run: a Ctrl-C handler (the CLI scans inline in its only thread) or a
        // cancel message gets to raise the abort before the next part starts.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal.aborted) throw new CancelledError();
        try {
          absorb(job, sources.run(job, progress, signal));
        } catch (err) {
          if (err instanceof CancelledError) throw err;
          absorb(job, undefined, describeError(err));
        }
      }
    } finally {
      sources.closeExternals();
    }
  } else {
    jobs.sort((x, y) => elementCount(y.geometry.dims) - elementCount(x.geometry.dims));
    // This thread scans too, from the same queue: it starts while the workers boot.
    const sources = new JobSources(src);
    const signal = options.signal ?? { aborted: false };
    let outcomes;
    try {
      outcomes = await runPool(workers, src.path, jobs, progress, options.signal, (job) => sources.run(job, progress, signal));
    } finally {
      sources.closeExternals();
    }
    // Merge in job order, as inline does, so that float sums are identical whatever the thread count.
    outcomes.sort((x, y) => x.job.id - y.job.id);
    for (const o of outcomes) absorb(o.job, o.stats, o.error);
  }
  results.forEach((r, weight) => {
    if (r.error === undefined && !r.stats) r.stats = emptyStats(scans[weight].shape);
  });
  return results;
}

/** Why the tensor's raw or external bytes cannot hold its dims, or undefined when they can (a cheap check: nothing is read). */
function storageProblem(src: ByteSource, layer: LayerPlan, externals: ExternalFiles): string | undefined {
  try {
    if (layer.stored) openStored(src, layer.stored, externals);
    else openTensor(src, layer.tensor!, externals);
    return undefined;
  } catch (err) {
    return describeError(err);
  }
}

function buildReport(model: ModelSkeleton, pattern: Pattern, plans: LayerPlan[], scans: WeightScan[], results: ScanResult[], nearly: number, warnings: string[]): InspectReport {
  const resultOf = new Map<LayerPlan, ScanResult>();
  scans.forEach((scan, i) => scan.layers.forEach((l) => resultOf.set(l, results[i])));
  const layers = plans.map((plan) => layerReport(plan, pattern, resultOf.get(plan), nearly));
  const summary: InspectSummary = {
    layers: layers.length,
    eligible: 0,
    passing: 0,
    nearlyPassing: 0,
    failing: 0,
    ineligible: 0,
    errors: 0,
    parameters: 0,
    eligibleParameters: 0,
    compliance: null,
    retainedMagnitude: null,
  };
  let weightedCompliance = 0;
  let unreadableParameters = 0;
  let sum = 0;
  let kept = 0;
  const counted = new Set<string>();
  for (const [i, layer] of layers.entries()) {
    if (layer.error) summary.errors++;
    else if (!layer.eligible) summary.ineligible++;
    else {
      summary.eligible++;
      if (layer.pass) summary.passing++;
      else if (layer.nearlyPassing) summary.nearlyPassing++;
      else summary.failing++;
    }
    // Shared weights count once towards the model's parameters, even when used from a subgraph.
    const key = weightKey(plans[i]);
    if (counted.has(key)) continue;
    counted.add(key);
    summary.parameters += layer.elements;
    if (layer.eligible && layer.compliance !== null) {
      summary.eligibleParameters += layer.elements;
      weightedCompliance += layer.compliance * layer.elements;
    } else if (layer.error) unreadableParameters += layer.elements;
  }
  for (const { stats } of results) {
    if (stats) {
      sum += stats.sumMagnitude;
      kept += stats.keptMagnitude;
    }
  }
  const weighed = summary.eligibleParameters + unreadableParameters;
  if (weighed > 0) summary.compliance = weightedCompliance / weighed;
  else if (summary.errors > 0) summary.compliance = 0; // unreadable layers of unknown size: nothing passes for certain
  if (summary.eligible > 0) summary.retainedMagnitude = retained(kept, sum);
  const opset = model.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? null;
  return {
    model: model.path,
    modelFormat: 'onnx',
    pattern: patternName(pattern),
    fileSize: model.size,
    irVersion: model.irVersion,
    producer: [model.producer, model.producerVersion].filter(Boolean).join(' '),
    opset,
    warnings,
    summary,
    layers,
    unrecognized: [],
  };
}

function attachProjection(report: InspectReport, projection: Projection, filtered: boolean): void {
  if (filtered) projection.unknowns.push('layers left out by --layers were not scanned: they are projected as not passing');
  report.projection = projection;
  const byName = new Map(projection.layers.map((l) => [l.name, l]));
  for (const layer of report.layers) {
    const p = byName.get(layer.name);
    Object.assign(layer, {
      macs: p?.macs ?? null,
      denseTime: p?.denseTime ?? null,
      sparseTime: p?.sparseTime ?? null,
      bound: p?.bound ?? null,
      speedup: p?.speedup ?? null,
    } satisfies LayerSpeedup);
  }
  Object.assign(report.summary, {
    speedup: projection.speedup,
    hardware: projection.hardware.name,
    assumptions: projection.assumptions,
  } satisfies SummarySpeedup);
}

function retained(kept: number, sum: number): number | null {
  if (sum === 0) return 1;
  const r = kept / sum;
  return Number.isFinite(r) ? r : null;
}

function layerReport(plan: LayerPlan, pattern: Pattern, result: ScanResult | undefined, nearly: number): LayerReport {
  const elig = eligibility(plan, pattern);
  const zp = plan.zeroPoint;
  const report: LayerReport = {
    name: plan.name,
    op: plan.op,
    graph: plan.graph,
    weight: plan.weight,
    shape: plan.shape,
    dtype: plan.dtype,
    axis: plan.axis,
    outAxis: plan.outAxis,
    chain: plan.chain,
    folded: plan.folded ? { ops: plan.folded.ops, from: plan.folded.from, note: plan.folded.note } : null,
    // A block as long as its whole axis (QMoE without block_size: one zero point per expert and row) is per channel.
    zeroPoint: !zp ? 'none' : zp.axis < 0 ? 'per-tensor' : zp.blockSize && zp.blockSize !== plan.shape?.[zp.axis] ? 'per-block' : 'per-channel',
    eligible: elig.eligible,
    reason: elig.reason,
    warnings: elig.warnings,
    error: plan.error ?? null,
    groups: 0,
    validGroups: 0,
    compliance: null,
    pass: false,
    nearlyPassing: false,
    elements: plan.shape ? elementCount(plan.shape) : 0,
    zeros: null,
    negativeZeros: null,
    zeroPointZeros: null,
    retainedMagnitude: null,
    countHistogram: null,
    maskHistogram: null,
    patterns: Object.fromEntries(STANDARD_PATTERNS.map((p) => [patternName(p), false])),
    blocks: Object.fromEntries(BLOCK_SHAPES.map((b) => [b.name, null])),
    grid: null,
    stored: plan.stored && !plan.stored.problem ? storedReport(plan.stored) : null,
    node: plan.node ? { name: plan.node.name, output: plan.node.outputs[0] ?? '' } : null,
  };
  if (plan.storedShape) report.storedShape = plan.storedShape;
  if (plan.storedAs) report.storedAs = plan.storedAs;
  if (result?.error !== undefined) {
    report.eligible = false;
    report.error = result.error;
    report.reason = result.error;
    return report;
  }
  const stats = result?.stats;
  if (!elig.eligible || !stats) return report;
  report.groups = stats.groups;
  report.validGroups = stats.validGroups;
  report.compliance = stats.groups ? stats.validGroups / stats.groups : 1;
  report.pass = stats.validGroups === stats.groups;
  report.nearlyPassing = !report.pass && report.compliance >= nearly;
  report.zeros = stats.zeros;
  report.negativeZeros = stats.negativeZeros;
  report.zeroPointZeros = stats.zeroPointZeros;
  report.warnings = [...report.warnings, ...fragileZeroWarnings(stats, plan.zeroPoint, plan.node, plan.folded !== undefined)];
  report.retainedMagnitude = report.pass ? 1 : retained(stats.keptMagnitude, stats.sumMagnitude);
  report.countHistogram = stats.countHistogram;
  report.maskHistogram = stats.maskHistogram;
  report.patterns = Object.fromEntries(Object.entries(stats.patternViolations).map(([k, v]) => [k, v === 0]));
  report.blocks = Object.fromEntries(Object.entries(stats.blocks).map(([k, v]) => [k, v && v.total ? v.zero / v.total : null]));
  report.grid = stats.grid;
  return report;
}
