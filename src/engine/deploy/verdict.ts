// The deploy verdicts (issue 13): for every layer and every target, the rules of rules.ts in table order, then
// per target the model's figures. With a projection, each target's layers are projected on its profile twice:
// first with the sparse time for the layers the pattern rules let through (the timing rule compares those two
// times, so it is not circular), then with the final verdicts, for the summary's speedup.
import { dtypeById } from '../onnx/dtypes';
import { type ZeroPoint, anyPackedNonZero } from '../sparsity/decode';
import type { ModelSkeleton } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import type { ExternalFiles } from '../onnx/tensorData';
import type { LayerPlan } from '../sparsity/layers';
import { PROFILES, type HardwareProfile } from '../speedup/profiles';
import { type LayerFacts, type ProjectOptions, type Projection, projectSpeedup, projectionShapes } from '../speedup/project';
import type { ShapeInference } from '../speedup/shapes';
import { type DeployFacts, type RuleContext, type RuleStage, rulesFor } from './rules';
import { type DeployCompute, HARDWARE_PROFILE, TARGETS } from './targets';
import { TARGET_IDS, type DeployPrecision, type DeploySummary, type DeployVerdict, type TargetId } from './types';

/** What the verdicts read of one layer of the report. */
export interface DeployLayer {
  name: string;
  op: string;
  eligible: boolean;
  reason: string | null;
  error: string | null;
  dtype: string | null;
  shape: number[] | null;
  axis: number | null;
  outAxis: number | null;
  chain: string[];
  compliance: number | null;
  elements: number;
  patterns: Record<string, boolean>;
  blocks: Record<string, number | null>;
  deploy?: Partial<Record<TargetId, DeployVerdict>>;
}

export interface DeployInput {
  model: ModelSkeleton;
  src: ByteSource;
  externals: ExternalFiles;
  /** Every layer found (the projection needs them all), and the report's layers (maybe fewer: --layers). */
  plans: LayerPlan[];
  layers: DeployLayer[];
  precision?: DeployPrecision;
  /** With it, the timing rule and the summaries' times; its hardware is the profile of cusparselt and pytorch. */
  speedup?: ProjectOptions;
}

export interface DeployResult {
  summary: Partial<Record<TargetId, DeploySummary>>;
  /** The projection on the --hardware profile, following the verdicts of the target that profile stands for. */
  projection?: Projection;
}

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);
const PRECISION_COMPUTE: Record<Exclude<DeployPrecision, 'stored'>, DeployCompute> = { fp16: 'float16', bf16: 'bfloat16', int8: 'int8', fp8: 'fp8' };

/** The type the GEMM computes in: the stored one, or --precision's for a float weight (integer codes stay integer). */
function computeOf(dtype: string | null, weightOnly: boolean, precision: DeployPrecision): { compute: DeployCompute; overridden: boolean } {
  const stored: DeployCompute = dtype === 'float32' || dtype === 'float64' ? 'float32'
    : dtype === 'float16' ? 'float16'
    : dtype === 'bfloat16' ? 'bfloat16'
    : dtype === 'int8' || dtype === 'uint8' ? 'int8'
    : dtype?.startsWith('float8') ? 'fp8'
    : dtype === 'float4e2m1' ? 'fp4'
    : dtype === 'int4' || dtype === 'uint4' ? 'int4'
    : 'other';
  if (precision === 'stored' || !FLOAT_TYPES.has(dtype ?? '')) return { compute: stored, overridden: false };
  const compute = PRECISION_COMPUTE[precision];
  return { compute, overridden: compute !== stored };
}

const WEIGHT_ONLY = new Set(['MatMulNBits', 'MatMulBlockQuantizedFp4Weight']);

/** The facts the rules read, from the layer's plan and its line of the report. */
export function deployFacts(plan: LayerPlan, layer: DeployLayer | undefined, precision: DeployPrecision, valueTypes: ReadonlyMap<string, string> = new Map()): DeployFacts {
  const domain = plan.node?.domain ?? '';
  const weightOnly = domain === 'com.microsoft' && WEIGHT_ONLY.has(plan.op);
  const dtype = layer?.dtype ?? plan.dtype;
  // Weight-only codes are dequantized in the kernel and computed in A's type (as the projection does); float16 when undeclared.
  const { compute, overridden } = computeOf(weightOnly ? (valueTypes.get(plan.node?.inputs[0] ?? '') ?? 'float16') : dtype, weightOnly, precision);
  const dims = plan.shape;
  const convolution = /Conv/.test(plan.op) && !/Transpose/.test(plan.op);
  const rows = dims && plan.outAxis !== null ? dims[plan.outAxis] : null;
  const count = dims ? dims.reduce((a, d) => a * d, 1) : 0;
  // A convolution is an implicit GEMM: its reduction runs over IC/g and the kernel window.
  const cols = dims && plan.axis !== null ? (convolution && rows ? count / rows : dims[plan.axis]) : null;
  const zp = plan.zeroPoint;
  const eligible = layer ? layer.eligible : false;
  return {
    name: plan.name,
    op: plan.op,
    domain,
    eligible,
    reason: layer ? (layer.error ?? layer.reason) : 'not scanned (left out by --layers)',
    scanned: eligible && layer!.compliance !== null,
    storedDtype: dtype,
    compute,
    precision,
    overridden,
    weightOnly,
    convolution,
    conv2d: convolution && dims?.length === 4,
    group: plan.group,
    depthwise: convolution && plan.group > 1 && dims?.[1] === 1,
    rows,
    cols,
    kAxis: plan.axis,
    transposed: plan.chain.includes('Transpose'),
    patterns: layer?.patterns ?? {},
    blocks4x1: layer?.blocks['4x1'] ?? null,
    nonZeroZeroPoint: !!zp && hasNonZero(zp),
    quantizedAlongK: !!zp && zp.axis >= 0 && zp.axis === plan.axis && !zp.blockSize,
    stored: plan.stored && !plan.stored.problem ? plan.stored.format : null,
  };
}

/** The stages in the order they are taken (a note is said whatever the stage). */
const STAGE_ORDER: Record<RuleStage, number> = { pattern: 0, deploy: 1, timing: 2, note: 3 };

/** One layer on one target: the rules up to `upTo` in order; every reason, the first fix. */
export function evaluate(facts: DeployFacts, target: TargetId, context: Omit<RuleContext, 'target'>, upTo: RuleStage = 'timing'): DeployVerdict {
  const ctx: RuleContext = { ...context, target: TARGETS[target] };
  const verdict: DeployVerdict = { sparse: true, reasons: [], rules: [] };
  let fix: string | undefined;
  const last = STAGE_ORDER[upTo];
  for (const rule of rulesFor(target)) {
    if (rule.stage !== 'note' && STAGE_ORDER[rule.stage] > last) continue;
    // Timing only decides between kernels that could both run; notes say nothing about an ineligible layer.
    if ((rule.stage === 'timing' || rule.onlyIfSparse) && !verdict.sparse) continue;
    if (!rule.when(facts, ctx)) continue;
    verdict.rules.push(rule.id);
    verdict.reasons.push(rule.reason(facts, ctx));
    if (rule.stage !== 'note') verdict.sparse = false;
    fix ??= rule.fix?.(facts, ctx);
    // An ineligible layer has no pattern to check: nothing more to say.
    if (rule.id === 'ineligible') break;
  }
  // Set only when there is one (a deleted property would leave every verdict a slower dictionary object).
  if (fix !== undefined) verdict.fix = fix;
  return verdict;
}

/** What a layer's verdicts depend on: every fact but its name. */
function factsKind(f: DeployFacts): string {
  let key = '';
  for (const [k, v] of Object.entries(f)) if (k !== 'name') key += `${k}=${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)};`;
  return key;
}

function copyVerdict(v: DeployVerdict): DeployVerdict {
  const copy: DeployVerdict = { sparse: v.sparse, reasons: v.reasons.slice(), rules: v.rules.slice() };
  if (v.fix !== undefined) copy.fix = v.fix;
  return copy;
}

/** The hardware profile a target's times come from. */
function profileFor(target: TargetId, hardware: HardwareProfile | undefined): HardwareProfile | null {
  const name = TARGETS[target].profile;
  if (name === HARDWARE_PROFILE) return hardware ?? PROFILES.a100;
  return PROFILES[name] ?? null;
}

/** The target whose verdicts the --hardware projection follows: the one that profile stands for, else cuSPARSELt. */
export function targetForProfile(profile: HardwareProfile): TargetId {
  if (profile.name === TARGETS['ascend-atc'].profile) return 'ascend-atc';
  if (profile.name === TARGETS['intel-xeon'].profile) return 'intel-xeon';
  return 'cusparselt';
}

/** Fills `layers[].deploy` and returns the summaries (and the --hardware projection, with `speedup`). */
export function applyDeploy(input: DeployInput): DeployResult {
  const precision = input.precision ?? 'stored';
  const byName = new Map(input.layers.map((l) => [l.name, l]));
  const facts = factsOf(input);
  const reported = new Set(input.layers.map((l) => l.name));
  const hardware = input.speedup?.hardware;
  const shapes: ShapeInference | undefined = input.speedup ? projectionShapes(input.model, input.src, input.externals, input.speedup) : undefined;
  // Targets on one profile with the same sparse layers share a projection (a100: Ampere, cuSPARSELt, PyTorch).
  const cache = new Map<HardwareProfile, Map<string, Projection>>();
  const projectFor = (profile: HardwareProfile, runs: boolean[]) => {
    const key = runs.map((r) => (r ? '1' : '0')).join('');
    const byRuns = cache.get(profile) ?? new Map<string, Projection>();
    cache.set(profile, byRuns);
    let projection = byRuns.get(key);
    if (!projection) {
      const facts = input.plans.map((plan, i) => projectionFacts(plan, byName.get(plan.name), runs[i]));
      projection = projectSpeedup(input.model, input.src, input.externals, facts, { ...input.speedup!, hardware: profile, precision }, shapes);
      byRuns.set(key, projection);
    }
    return projection;
  };
  const untimedWithout = 'no projection (run with --speedup, and --batch N where the batch is symbolic)';
  const summary: Partial<Record<TargetId, DeploySummary>> = {};
  // Layers whose facts differ only in their names get the same verdicts from one context (no rule reads the
  // name): each kind is evaluated once per target and stage, and every layer gets its own copy. An LLM's 224 layers
  // are a dozen kinds.
  const kindOf = new Map<string, number>();
  const kinds = facts.map((f) => {
    const key = factsKind(f);
    let kind = kindOf.get(key);
    if (kind === undefined) kindOf.set(key, (kind = kindOf.size));
    return kind;
  });
  for (const target of TARGET_IDS) {
    // Per kind: the verdict up to 'deploy', then the whole one.
    const seen: (DeployVerdict | undefined)[] = new Array(kindOf.size * 2);
    const once = (i: number, stage: 'deploy' | 'timing', run: () => DeployVerdict): DeployVerdict => {
      const at = kinds[i] * 2 + (stage === 'deploy' ? 0 : 1);
      return copyVerdict((seen[at] ??= run()));
    };
    const profile = profileFor(target, hardware);
    const base = { profile, times: null, untimed: untimedWithout };
    // Stage 1: what a sparse kernel can take; the projection gives these layers the sparse time. Without a
    // projection nothing reads it (an LLM's 224 layers on 8 targets: a third of the verdicts' time).
    const upToDeploy = shapes && profile ? facts.map((f, i) => once(i, 'deploy', () => evaluate(f, target, base, 'deploy'))) : [];
    let first: Projection | undefined;
    if (shapes && profile) first = projectFor(profile, upToDeploy.map((v) => v.sparse));
    const timed = new Map(first?.layers.map((l) => [l.name, l]));
    const verdicts = facts.map((f, i) => {
      if (!first) return once(i, 'timing', () => evaluate(f, target, base));
      const p = timed.get(f.name);
      const known = p && p.macs !== null;
      return evaluate(f, target, {
        profile,
        times: known && upToDeploy[i].sparse ? { dense: p.denseTime, sparse: p.sparseTime } : null,
        untimed: !p ? 'the projection does not cover this layer (inside a subgraph, or one of several layers of one node)' : `its shapes are unknown (give --batch N or --dim NAME=N for symbolic dimensions)`,
      });
    });
    // Stage 2: the model's figures with the final verdicts.
    const final = first ? projectFor(profile!, verdicts.map((v) => v.sparse)) : undefined;
    const finalLayers = new Map(final?.layers.map((l) => [l.name, l]));
    let layers = 0, sparseLayers = 0, parameters = 0, sparseParameters = 0, share = 0;
    facts.forEach((f, i) => {
      if (!reported.has(f.name)) return;
      const layer = byName.get(f.name)!;
      const v = verdicts[i];
      if (first) {
        const p = timed.get(f.name);
        // The sparse kernel's time where one could take the layer (chosen or not), null where none could.
        if (p && p.macs !== null) Object.assign(v, { denseTime: p.denseTime, sparseTime: upToDeploy[i].sparse ? p.sparseTime : null });
      }
      (layer.deploy ??= {})[target] = v;
      if (!f.eligible) return;
      layers++;
      parameters += layer.elements;
      if (v.sparse) {
        sparseLayers++;
        sparseParameters += layer.elements;
        share += finalLayers.get(f.name)?.share ?? 0;
      }
    });
    summary[target] = {
      target,
      name: TARGETS[target].name,
      layers,
      sparseLayers,
      parameters,
      sparseParameters,
      sparseTimeShare: final ? share : null,
      speedup: final ? final.speedup : null,
      profile: profile?.name ?? null,
    };
  }
  let projection: Projection | undefined;
  if (shapes && hardware) {
    const target = targetForProfile(hardware);
    projection = projectFor(hardware, facts.map((f) => evaluate(f, target, { profile: hardware, times: null, untimed: '' }, 'pattern').sparse));
  }
  return { summary, projection };
}

/** Every plan's deploy facts, read with the types the graph declares. */
function factsOf(input: DeployInput): DeployFacts[] {
  const byName = new Map(input.layers.map((l) => [l.name, l]));
  const valueTypes = new Map<string, string>();
  for (const v of [...input.model.graph.inputs, ...input.model.graph.valueInfo, ...input.model.graph.outputs]) {
    const name = v.elemType !== undefined ? dtypeById(v.elemType)?.name : undefined;
    if (name) valueTypes.set(v.name, name);
  }
  return input.plans.map((plan) => deployFacts(plan, byName.get(plan.name), input.precision ?? 'stored', valueTypes));
}

/**
 * The --hardware projection alone, as applyDeploy makes it (the pattern stage of the target the profile stands for),
 * without the verdicts: what the panel's batch sweep repeats at other batch sizes.
 */
export function headlineProjection(input: DeployInput & { speedup: ProjectOptions }): Projection {
  const hardware = input.speedup.hardware;
  const byName = new Map(input.layers.map((l) => [l.name, l]));
  const target = targetForProfile(hardware);
  const facts = factsOf(input).map((f, i) => projectionFacts(input.plans[i], byName.get(f.name), evaluate(f, target, { profile: hardware, times: null, untimed: '' }, 'pattern').sparse));
  return projectSpeedup(input.model, input.src, input.externals, facts, { ...input.speedup, precision: input.precision ?? 'stored' });
}

/** What the projection reads of a layer: eligibility, 2:4, blocks, and whether the deploy rules let it run sparse. */
function projectionFacts(plan: LayerPlan, layer: DeployLayer | undefined, runsSparse: boolean): LayerFacts {
  return {
    name: plan.name,
    plan,
    eligible: layer ? layer.eligible : false,
    passes24: Boolean(layer?.patterns['2:4']),
    blockZeroRatio: layer?.blocks['4x1'] ?? null,
    compliance: layer?.compliance ?? null,
    runsSparse,
  };
}


/** Whether any zero point is not 0, read where they are held (4-bit ones packed: never unpacked for this). */
function hasNonZero(zp: ZeroPoint): boolean {
  if (zp.packed) return anyPackedNonZero(zp.packed);
  const { values } = zp;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) return true;
  return false;
}
