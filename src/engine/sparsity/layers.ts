// Finding the layers: every node that consumes a constant weight (initializer, Constant node, sparse initializer),
// through Q/DQ, Cast, Identity and Transpose chains, in the main graph, subgraphs and functions (domain.md §2).
import { CancelledError, ModelError } from '../errors';
import { dtypeById, dtypeName } from '../onnx/dtypes';
import { type GraphSkeleton, type ModelSkeleton, type NodeSkeleton, type TensorRef, elementCount } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type ExternalFiles, TensorError, openTensor } from '../onnx/tensorData';
import { type ZeroPoint, integerAt } from './decode';
import { type FoldOutcome, type FoldedWeight, foldWeight, isFoldOp, useCounts } from './fold';
import {
  KERNEL_MULTIPLE,
  LARGE_CHANNELS,
  NOT_WEIGHT_BEARING,
  type OpRule,
  UNRECOGNIZED_MIN_ELEMENTS,
  UNRECOGNIZED_MIN_RANK,
  chainStep,
  isChainOp,
  opDomain,
  ruleFor,
  unacceleratedFor,
} from './opTable';
import { isFusedNBits, planExperts, planFusedNBits, planMatMulNBits } from './nbits';
import type { Pattern } from './pattern';
import { type AscendLayer, type StoredWeight, recognizeStored, storedTensor } from './stored';

/** A layer as found in the graph, before any weight value is read. */
export interface LayerPlan {
  name: string;
  op: string;
  /** Where the node is: "main", a subgraph path, a function body at a call site ("main/block:custom.Block"), or "function:custom.Block" for a function never called. */
  graph: string;
  /** Name of the constant weight tensor (the initializer, or the Constant node's output). */
  weight: string;
  tensor?: TensorRef;
  shape: number[] | null;
  dtype: string | null;
  /** Reduction axis K of the stored weight (non-negative), after remapping through Transpose. */
  axis: number | null;
  /** Output-feature axis of the stored weight. */
  outAxis: number | null;
  /** Ops between the constant and the layer, constant side first. */
  chain: string[];
  /** Set when the weight is a constant only after folding (Mul by a mask, Where, Reshape, Concat, Slice...): from what. */
  folded?: FoldedWeight;
  zeroPoint?: ZeroPoint;
  /** Why the layer cannot carry N:M sparsity whatever its values (pattern-independent reasons). */
  fixedReason?: string;
  /** Convolution group count (1 for non-convolutions). */
  group: number;
  /** Groups of M must lie inside blocks of this many elements along K (quantization blocks: nbits.ts). */
  kBlock?: number;
  /** The stored tensor's dims when the layer reads a view of it (packed codes: MatMulNBits [N, k_blocks, blob_size]). */
  storedShape?: number[];
  /** The matrix and how it is stored, in words, where the two differ ("N x K = 4096 x 4096, stored as ..."). */
  storedAs?: string;
  /** Why convert cannot prune this weight though it can be inspected (e.g. a zero point that is no code). */
  noPrune?: string;
  /** Facts about how the weight was read, shown with the layer's warnings. */
  notes?: string[];
  /** A problem reading this layer's weight: the layer fails, the report stands. */
  error?: string;
  /** The node itself, the scope it sits in, the weight input index and the chain nodes (for graph rewrites). */
  node?: NodeSkeleton;
  scope?: Scope;
  weightInput?: number;
  chainNodes?: NodeSkeleton[];
  /** The weight is stored compressed by this tool (portable or Ascend): read it with openStored, never openTensor. */
  stored?: StoredWeight;
}

type Producer =
  | { kind: 'constant'; tensor: TensorRef; name: string }
  | { kind: 'node'; node: NodeSkeleton; scope: Scope }
  | { kind: 'input' };

/**
 * Where names resolve: a graph, the scope it is nested in (subgraphs see outer names) and, for the body of a
 * model-local function at one call site, the caller's values bound to the function's formal inputs.
 */
export interface Scope {
  graph: GraphSkeleton;
  /** "main", "main/If_3.then_branch", "main/block:custom.Block" (a function body at call site "block"). */
  path: string;
  parent?: Scope;
  bindings?: Map<string, { name: string; scope: Scope }>;
  /** Prefix for layer names inside a function body at a call site ("block/"). */
  namePrefix: string;
}

export class Scopes {
  private readonly index = new Map<GraphSkeleton, Map<string, Producer>>();
  /** Decode-graph outputs of this tool's compressed weights: constants, for the layers that read them. */
  constructor(readonly stored: Map<NodeSkeleton, StoredWeight> = new Map()) {}

  private producers(graph: GraphSkeleton, scope: Scope): Map<string, Producer> {
    let map = this.index.get(graph);
    if (!map) {
      map = new Map();
      for (const input of graph.inputs) map.set(input.name, { kind: 'input' });
      // Initializers win over a same-named graph input (IR < 4 models list them as inputs too).
      for (const t of graph.initializers) map.set(t.name, { kind: 'constant', tensor: t, name: t.name });
      for (const t of graph.sparseInitializers) map.set(t.name, { kind: 'constant', tensor: t, name: t.name });
      for (const node of graph.nodes) {
        const value = node.opType === 'Constant' && !node.domain ? (node.attributes.get('value') ?? node.attributes.get('sparse_value')) : undefined;
        for (const out of node.outputs) {
          if (!out) continue;
          // The scope is filled in per lookup: one graph may be seen from several scopes (function call sites).
          map.set(out, value?.t ? { kind: 'constant', tensor: value.t, name: out } : { kind: 'node', node, scope });
        }
      }
      this.index.set(graph, map);
    }
    return map;
  }

  /** Resolves a name in `scope`, then through bindings and enclosing scopes (outer-scope references). */
  lookup(name: string, scope: Scope, depth = 0): Producer | undefined {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const bound = s.bindings?.get(name);
      if (bound) return depth < 32 ? this.lookup(bound.name, bound.scope, depth + 1) : undefined;
      const found = this.producers(s.graph, s).get(name);
      if (found) return found.kind === 'node' ? { ...found, scope: s } : found;
    }
    return undefined;
  }
}

export interface Trace {
  constant?: { tensor: TensorRef; name: string; stored?: StoredWeight };
  /** Chain nodes from the constant towards the layer. */
  chain: NodeSkeleton[];
  /** The scope each chain node sits in (its own other inputs, e.g. a zero point, resolve there). */
  scopes: Map<NodeSkeleton, Scope>;
  dynamic?: string;
  /** The node the trace stopped at (the op that computes the weight at run time). */
  computedBy?: NodeSkeleton;
  /** The weight was folded (sparsity/fold.ts): from what, and the nodes folded. */
  folded?: FoldedWeight;
  foldNodes?: NodeSkeleton[];
  /** Folding failed on constants (a cap, a shape that does not fit...), not because an operand is an activation. */
  unfoldable?: boolean;
}

/** Folds a FOLD_OPS node met on the way up from a layer's weight input. */
type Folder = (node: NodeSkeleton, scope: Scope) => FoldOutcome;

export function trace(scopes: Scopes, name: string, scope: Scope, fold?: Folder): Trace {
  const chain: NodeSkeleton[] = [];
  const nodeScopes = new Map<NodeSkeleton, Scope>();
  let current = name;
  let s = scope;
  for (let step = 0; step < 64; step++) {
    const producer = scopes.lookup(current, s);
    if (!producer || producer.kind === 'input') return { chain, scopes: nodeScopes, dynamic: `'${current}' is a graph input` };
    if (producer.kind === 'constant') return { constant: producer, chain: chain.reverse(), scopes: nodeScopes };
    const stored = scopes.stored.get(producer.node);
    if (stored) return { constant: { tensor: storedTensor(stored), name: current, stored }, chain: chain.reverse(), scopes: nodeScopes };
    const op = producer.node.opType;
    if (fold && isFoldOp(producer.node.domain, op)) {
      const folded = fold(producer.node, producer.scope);
      if (folded.ok) return { constant: { tensor: folded.tensor, name: folded.name }, chain: chain.reverse(), scopes: nodeScopes, folded: folded.folded, foldNodes: folded.nodes };
      return { chain, scopes: nodeScopes, dynamic: `not folded: ${folded.reason}`, computedBy: producer.node, foldNodes: folded.nodes, unfoldable: !folded.runtime };
    }
    if (!isChainOp(producer.node.domain, op)) {
      return { chain, scopes: nodeScopes, dynamic: `computed at run time by ${op} '${producer.node.name || current}'`, computedBy: producer.node };
    }
    chain.push(producer.node);
    nodeScopes.set(producer.node, producer.scope);
    current = producer.node.inputs[0] ?? '';
    s = producer.scope;
  }
  return { chain, scopes: nodeScopes, dynamic: 'chain of ops too long' };
}

const MAX_CALL_DEPTH = 16;
/** Function bodies searched at call sites, in all: a few calls per body must not multiply into millions of scopes. */
const MAX_CALL_SITES = 4096;
/**
 * Nodes searched again because a function body (with its subgraphs) is searched once per call site: beyond the
 * file's own nodes, at most this many. A 45 KB file of nested calls reached 1.2 million layers without it.
 */
export const MAX_EXPANDED_NODES = 1 << 20;
/** Characters of the scope paths and layer names built while searching (nesting repeats every enclosing name). */
export const MAX_DERIVED_CHARS = 1 << 27;
const CANCEL_CHECK_EVERY = 4096;

/** What finding the layers may cost: counted as it goes, a ModelError naming the model when a cap is passed. */
class SearchBudget {
  private seen = new Set<GraphSkeleton>();
  private expanded = 0;
  private chars = 0;
  private nodes = 0;
  constructor(
    private readonly modelPath: string,
    private readonly signal?: { readonly aborted: boolean },
  ) {}

  /** A scope about to be searched: its nodes count when its graph was searched before (at another call site). */
  scope(scope: Scope): void {
    if (this.seen.has(scope.graph)) {
      this.expanded += scope.graph.nodes.length;
      if (this.expanded > MAX_EXPANDED_NODES) {
        throw new ModelError(
          this.modelPath,
          `its function calls expand to more than ${MAX_EXPANDED_NODES} nodes beyond the file's own (each call searches the function's body again): more than this tool searches`,
        );
      }
    } else {
      this.seen.add(scope.graph);
    }
    this.text(scope.path.length + scope.namePrefix.length);
  }

  /** Characters of a path or name built from the model's names. */
  text(length: number): void {
    this.chars += length;
    if (this.chars > MAX_DERIVED_CHARS) {
      throw new ModelError(this.modelPath, `layer names and graph paths built from its nesting add up to more than ${MAX_DERIVED_CHARS} characters: more than this tool searches`);
    }
  }

  /** One node searched; now and then, a look for a cancel. */
  node(): void {
    if (++this.nodes % CANCEL_CHECK_EVERY === 0 && this.signal?.aborted) throw new CancelledError();
  }
}

/**
 * Every scope to search for layers, in graph order: the main graph with its subgraphs, the body of each model-local
 * function at each of its call sites (so weights passed in as arguments are found), and the bodies of functions
 * never called.
 */
function allScopes(model: ModelSkeleton, budget: SearchBudget): Scope[] {
  const functions = new Map<string, GraphSkeleton>();
  for (const fn of model.functions) functions.set(fn.path, fn);
  const called = new Set<GraphSkeleton>();
  const out: Scope[] = [];
  let callSites = 0;
  // `active`: the functions whose bodies enclose this scope. ONNX functions may not recurse; a body calling itself is not searched again.
  const visit = (scope: Scope, depth: number, active: ReadonlySet<GraphSkeleton>) => {
    budget.scope(scope);
    out.push(scope);
    for (const node of scope.graph.nodes) {
      budget.node();
      const label = node.name || `${node.opType}_${node.index}`;
      for (const attr of node.attributes.values()) {
        if (attr.g) visit({ graph: attr.g, path: `${scope.path}/${label}.${attr.name}`, parent: scope, namePrefix: scope.namePrefix }, depth, active);
        for (const sub of attr.graphs ?? []) {
          visit({ graph: sub, path: `${scope.path}/${label}.${attr.name}`, parent: scope, namePrefix: scope.namePrefix }, depth, active);
        }
      }
      const fn = functions.get(`function:${node.domain ? `${node.domain}.` : ''}${node.opType}`);
      if (!fn || active.has(fn) || callSites >= MAX_CALL_SITES) continue;
      if (depth >= MAX_CALL_DEPTH) {
        throw new ModelError(model.path, `functions call each other more than ${MAX_CALL_DEPTH} levels deep (at '${scope.path}/${label}'): more than this tool searches`);
      }
      callSites++;
      called.add(fn);
      const bindings = new Map<string, { name: string; scope: Scope }>();
      fn.inputs.forEach((formal, i) => {
        if (node.inputs[i]) bindings.set(formal.name, { name: node.inputs[i], scope });
      });
      visit({ graph: fn, path: `${scope.path}/${label}:${fn.path.slice('function:'.length)}`, bindings, namePrefix: `${scope.namePrefix}${label}/` }, depth + 1, new Set(active).add(fn));
    }
  };
  visit({ graph: model.graph, path: 'main', namePrefix: '' }, 0, new Set());
  for (const fn of model.functions) if (!called.has(fn)) visit({ graph: fn, path: fn.path, namePrefix: '' }, 1, new Set([fn]));
  return out;
}

export function intAttr(node: NodeSkeleton, name: string): number | undefined {
  return node.attributes.get(name)?.i;
}

/** Reads a small integer constant (a zero point) as numbers. */
export function readIntegers(src: ByteSource, tensor: TensorRef, externals: ExternalFiles): number[] {
  const reader = openTensor(src, tensor, externals);
  if (!reader.dtype.integer) throw new TensorError(`zero point '${tensor.name}' has non-integer type ${reader.dtype.name}`);
  if (reader.count > 1 << 20) throw new TensorError(`zero point '${tensor.name}' has ${reader.count} values`);
  const run = reader.read(0, reader.count);
  const view = new DataView(run.bytes.buffer, run.bytes.byteOffset, run.bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i < reader.count; i++) out.push(integerAt(reader.dtype, run.bytes, view, i, run.nibble));
  return out;
}

export interface FindContext {
  model: ModelSkeleton;
  src: ByteSource;
  externals: ExternalFiles;
  /** Checked while searching: a huge model stops on Ctrl-C (CancelledError). */
  signal?: { readonly aborted: boolean };
}

/** Nodes of one op that consume a constant weight but that this tool does not read: counted, so nothing is skipped in silence. */
export interface UnrecognizedOp {
  op: string;
  /** The node's domain, '' for ONNX's default domain (also written 'ai.onnx'). */
  domain: string;
  nodes: number;
}

export interface Discovery {
  layers: LayerPlan[];
  /** Ops with constant weights that are neither layers nor listed as ineligible, most nodes first. */
  unrecognized: UnrecognizedOp[];
  /** Compressed-weight metadata that does not match the graph (stored.ts): model-level warnings. */
  warnings: string[];
}

/**
 * Every layer of the model, in graph order (subgraphs and function bodies after the node that holds or calls them).
 * Throws ModelError when the search would cost more than this tool allows (MAX_EXPANDED_NODES, MAX_DERIVED_CHARS,
 * function calls nested deeper than MAX_CALL_DEPTH), CancelledError when `ctx.signal` aborts.
 */
export function findLayers(ctx: FindContext): LayerPlan[] {
  return discover(ctx).layers;
}

/** The layers (as findLayers) and the weight-bearing nodes of ops this tool does not read, counted by op, in one pass. */
export function discover(ctx: FindContext): Discovery {
  const stored = recognizeStored(ctx.model, ctx.src, ctx.externals);
  const scopes = new Scopes(stored.producers);
  const functionOps = new Set(ctx.model.functions.map((fn) => fn.path));
  // Candidates for "unrecognized", and the nodes a layer already names as computing its weight (not counted twice).
  const candidates: NodeSkeleton[] = [];
  const computeLayerWeights = new Set<NodeSkeleton>();
  const budget = new SearchBudget(ctx.model.path, ctx.signal);
  let uses: Map<string, number> | undefined;
  const foldContext = { lookup: (name: string, s: Scope) => scopes.lookup(name, s), src: ctx.src, externals: ctx.externals, uses: (name: string) => (uses ??= useCounts(ctx.model)).get(name) ?? 0 };
  // One fold per node and scope, however many layers read it (a mask is read once).
  const folds = new Map<Scope, Map<NodeSkeleton, FoldOutcome>>();
  const folder: Folder = (node, scope) => {
    let byNode = folds.get(scope);
    if (!byNode) folds.set(scope, (byNode = new Map()));
    let outcome = byNode.get(node);
    if (!outcome) byNode.set(node, (outcome = foldWeight(foldContext, node, scope)));
    return outcome;
  };
  const layers: LayerPlan[] = [];
  const usedNames = new Map<string, number>();
  const uniqueName = (node: NodeSkeleton, scope: Scope): string => {
    const base = scope.namePrefix + (node.name || `${node.opType}_${node.index}${scope.path === 'main' || scope.namePrefix ? '' : `@${scope.path}`}`);
    budget.text(base.length);
    const seen = usedNames.get(base) ?? 0;
    usedNames.set(base, seen + 1);
    return seen ? `${base}#${seen + 1}` : base;
  };
  for (const scope of allScopes(ctx.model, budget)) {
    for (const node of scope.graph.nodes) {
      budget.node();
      // This tool's decode graphs and CompressOps are part of a stored weight, not layers of their own.
      if (stored.helpers.has(node)) continue;
      const ascend = stored.ascend.get(node);
      if (ascend) {
        layers.push(planAscendLayer(ctx, scopes, ascend, node, scope, uniqueName));
        continue;
      }
      const rule = ruleFor(node.domain, node.opType);
      if (rule) {
        const layer = planLayer(ctx, scopes, rule, node, scope, uniqueName, computeLayerWeights, folder);
        if (layer) layers.push(layer);
        continue;
      }
      if (node.opType === 'MatMulNBits' && opDomain(node.domain) === 'com.microsoft') {
        const layer = planMatMulNBits(ctx, scopes, node, scope, uniqueName);
        if (layer) {
          layers.push(layer);
          continue;
        }
      }
      if ((node.opType === 'MoE' || node.opType === 'QMoE' || isFusedNBits(node.opType)) && opDomain(node.domain) === 'com.microsoft') {
        const experts = isFusedNBits(node.opType) ? planFusedNBits(ctx, scopes, node, scope, uniqueName) : planExperts(ctx, scopes, node, scope, uniqueName);
        if (experts.length) {
          layers.push(...experts);
          continue;
        }
      }
      const unaccelerated = unacceleratedFor(node.domain, node.opType);
      if (unaccelerated) {
        for (const input of unaccelerated.inputs) {
          const t = node.inputs[input] ? trace(scopes, node.inputs[input], scope) : undefined;
          if (!t?.constant || t.constant.tensor.dims.length < unaccelerated.minRank) continue;
          layers.push({ ...describeConstant(t, node, scope, uniqueName(node, scope)), weightInput: input, fixedReason: unaccelerated.reason });
          break;
        }
        continue;
      }
      // A call of a model-local function: its body is searched at this call site, weights passed in included.
      if (functionOps.has(`function:${node.domain ? `${node.domain}.` : ''}${node.opType}`)) continue;
      if (opDomain(node.domain) === 'ai.onnx' && NOT_WEIGHT_BEARING.has(node.opType)) continue;
      // A Q/DQ of any known domain carries a weight to its consumer, which is the one counted.
      if (isChainOp(node.domain, node.opType)) continue;
      if (node.inputs.some((input) => input && weightLike(scopes, input, scope))) candidates.push(node);
    }
  }
  return { layers, unrecognized: countByOp(candidates.filter((n) => !computeLayerWeights.has(n))), warnings: stored.warnings };
}

/**
 * Whether `name` is a constant (directly or through the chain ops) that looks like a weight: at least
 * UNRECOGNIZED_MIN_RANK dims and UNRECOGNIZED_MIN_ELEMENTS elements, so that shapes, scalars, biases and scales of
 * Add/Mul/Reshape do not flood the count.
 */
function weightLike(scopes: Scopes, name: string, scope: Scope): boolean {
  const constant = trace(scopes, name, scope).constant;
  if (!constant) return false;
  const dims = constant.tensor.dims;
  return dims.length >= UNRECOGNIZED_MIN_RANK && elementCount(dims) >= UNRECOGNIZED_MIN_ELEMENTS;
}

function countByOp(nodes: NodeSkeleton[]): UnrecognizedOp[] {
  const counts = new Map<string, UnrecognizedOp>();
  for (const node of nodes) {
    const domain = node.domain === 'ai.onnx' ? '' : node.domain;
    const key = `${domain}\u0000${node.opType}`;
    const entry = counts.get(key);
    if (entry) entry.nodes++;
    else counts.set(key, { op: node.opType, domain, nodes: 1 });
  }
  return [...counts.values()].sort((a, b) => b.nodes - a.nodes || a.op.localeCompare(b.op) || a.domain.localeCompare(b.domain));
}

export function describeConstant(t: Trace, node: NodeSkeleton, scope: Scope, name: string): LayerPlan {
  const tensor = t.constant!.tensor;
  return {
    name,
    op: node.opType,
    graph: scope.path,
    weight: t.constant!.name,
    tensor,
    shape: tensor.problem ? null : tensor.dims,
    dtype: dtypeName(tensor.dtype),
    axis: null,
    outAxis: null,
    chain: t.chain.map((n) => n.opType),
    folded: t.folded,
    group: 1,
    error: node.problem ?? tensor.problem,
    node,
    scope,
    chainNodes: t.chain,
    stored: t.constant!.stored,
  };
}

/**
 * A layer rewritten for Ascend (convert/ascendEdits.ts): Conv2DCompress / MatMulV2Compress / FCCompress keep the
 * original node's attributes, read the weight from a CompressOp (input 1) and, when it was dequantized, take the
 * DequantizeLinear's scale and zero point as inputs 4 and 5 (axis: weight_dequantize_axis, default 1). Reported as
 * the original op with its real weight.
 */
function planAscendLayer(ctx: FindContext, scopes: Scopes, ascend: AscendLayer, node: NodeSkeleton, scope: Scope, uniqueName: (node: NodeSkeleton, scope: Scope) => string): LayerPlan {
  const stored = ascend.stored;
  const rule = ruleFor('', ascend.op)!;
  const layer: LayerPlan = {
    name: uniqueName(node, scope),
    op: ascend.op,
    graph: scope.path,
    weight: stored.weight,
    tensor: storedTensor(stored),
    shape: stored.problem ? null : stored.dims,
    dtype: dtypeName(stored.dtype),
    axis: null,
    outAxis: null,
    chain: node.inputs[4] ? ['DequantizeLinear'] : [],
    group: rule.convolution ? (intAttr(node, 'group') ?? 1) : 1,
    error: node.problem ?? stored.problem,
    node,
    scope,
    weightInput: 1,
    stored,
  };
  if (layer.error) return layer;
  const rank = stored.dims.length;
  const axes = rule.slots.find((s) => s.input === 1)!.axes(rank, (name) => intAttr(node, name));
  if (axes.k !== stored.axis) {
    layer.error = `compressed weight of ${node.opType} '${node.name}' (ascend): CompressOp gives weight_axis ${stored.axis}, but ${ascend.op} reads K on axis ${axes.k}`;
    return layer;
  }
  layer.axis = axes.k;
  layer.outAxis = axes.r;
  const dtype = dtypeById(stored.dtype);
  if (dtype?.integer && node.inputs[5]) {
    try {
      const values = constantInput(ctx, scopes, node.inputs[5], scope, 'zero point');
      let axis = intAttr(node, 'weight_dequantize_axis') ?? 1;
      if (axis < 0) axis += rank;
      layer.zeroPoint = values.length <= 1 ? { values, axis: -1, blockSize: 0 } : { values, axis, blockSize: 0 };
      stored.zeroPoint = layer.zeroPoint;
    } catch (err) {
      layer.error = err instanceof Error ? err.message : String(err);
    }
  }
  return layer;
}

function planLayer(
  ctx: FindContext,
  scopes: Scopes,
  rule: OpRule,
  node: NodeSkeleton,
  scope: Scope,
  uniqueName: (node: NodeSkeleton, scope: Scope) => string,
  computeLayerWeights: Set<NodeSkeleton>,
  folder: Folder,
): LayerPlan | undefined {
  let chosen: { slot: (typeof rule.slots)[number]; t: Trace } | undefined;
  let firstDynamic: string | undefined;
  let computedBy: NodeSkeleton | undefined;
  let failedFold: NodeSkeleton[] | undefined;
  let unfoldable: boolean | undefined;
  for (const slot of rule.slots) {
    const input = node.inputs[slot.input];
    if (!input) continue;
    const t = trace(scopes, input, scope, folder);
    if (t.constant) {
      chosen = { slot, t };
      break;
    }
    if (firstDynamic === undefined) {
      firstDynamic = t.dynamic;
      computedBy = t.computedBy;
      failedFold = t.foldNodes;
      unfoldable = t.unfoldable;
    }
  }
  if (!chosen) {
    // Two run-time operands (attention products) are not layers; a convolution or Gemm without a constant weight is.
    // A weight built from constants that this tool could not fold is listed, with why.
    if (rule.activationProduct && !unfoldable) return undefined;
    // This layer's reason names the op computing its weight: that op is not counted again as unrecognized.
    if (computedBy) computeLayerWeights.add(computedBy);
    for (const n of failedFold ?? []) computeLayerWeights.add(n);
    return {
      name: uniqueName(node, scope),
      op: node.opType,
      graph: scope.path,
      weight: node.inputs[rule.slots[0].input] ?? '',
      shape: null,
      dtype: null,
      axis: null,
      outAxis: null,
      chain: [],
      group: 1,
      // A chain of constants that could not be folded is no run-time weight: say what stopped the fold.
      fixedReason: unfoldable ? `weight ${firstDynamic}` : `weight computed at run time (${(firstDynamic ?? 'not a constant').replace(/^computed at run time /, '')})`,
      error: node.problem,
    };
  }
  const { slot, t } = chosen;
  // Nodes folded into the weight are not counted again as unrecognized.
  for (const n of t.foldNodes ?? []) computeLayerWeights.add(n);
  const layer = describeConstant(t, node, scope, uniqueName(node, scope));
  layer.weightInput = slot.input;
  layer.group = rule.convolution ? (intAttr(node, 'group') ?? 1) : 1;
  if (layer.error) return layer;
  if (slot.packed) {
    // Packed weights (MatMulBlockQuantizedFp4Weight's B): the constant's own bytes, viewed as the type they hold.
    const stored = t.constant!.tensor;
    const view = stored.dtype === slot.packed.stored ? slot.packed.dims(stored.dims) : undefined;
    if (t.chain.length) {
      layer.fixedReason = `${node.opType}: B reaches the node through ${t.chain.map((n) => n.opType).join(', ')}, not as its packed constant`;
      return layer;
    }
    if (!view) {
      layer.error = `${node.opType}: B is ${dtypeName(stored.dtype)} [${stored.dims.join(', ')}], not ${slot.packed.what}`;
      return layer;
    }
    layer.tensor = { ...stored, dtype: slot.packed.dtype, dims: view };
    layer.shape = view;
    layer.dtype = dtypeName(slot.packed.dtype);
  }
  const dims = layer.tensor!.dims;
  const rank = dims.length;
  if (rank < 2) {
    layer.fixedReason = `${rank}-D weight: no reduction axis to group along`;
    return layer;
  }
  const dtype = dtypeById(layer.tensor!.dtype);
  // A type number ONNX does not define makes the weight unreadable, not merely unaccelerated.
  if (!dtype) {
    layer.error = `unsupported data type ${dtypeName(layer.tensor!.dtype)}`;
    return layer;
  }
  if (!dtype.weight) {
    layer.fixedReason = `weights of type ${dtypeName(layer.tensor!.dtype)} are not accelerated`;
    return layer;
  }
  // Map the layer's view of K and r back onto the stored tensor, through each Transpose (constant side first).
  let toStored = (axis: number) => axis;
  let zeroPoint: ZeroPoint | undefined;
  try {
    for (const step of t.chain) {
      const kind = chainStep(step.domain, step.opType);
      if (kind?.kind === 'transpose') {
        const perm = step.attributes.get('perm')?.ints ?? dims.map((_, i) => rank - 1 - i);
        if (perm.length !== rank || [...perm].sort((x, y) => x - y).some((p, i) => p !== i)) {
          throw new TensorError(`Transpose '${step.name}' has perm [${perm.join(', ')}], not a permutation of the ${rank} axes of its weight`);
        }
        const before = toStored;
        toStored = (axis) => before(perm[axis]);
      } else if (kind?.kind === 'dequantize' && kind.zeroPointInput !== undefined && dtype.integer && !zeroPoint) {
        zeroPoint = dequantizeZeroPoint(ctx, scopes, step, kind.zeroPointInput, t.scopes.get(step) ?? scope, rank, toStored);
      }
    }
    const unread = slot.unread?.(rank, (name) => intAttr(node, name));
    if (unread) {
      layer.fixedReason = unread;
      return layer;
    }
    const axes = slot.axes(rank, (name) => intAttr(node, name));
    layer.axis = toStored(axes.k);
    layer.outAxis = toStored(axes.r);
    if (!zeroPoint && dtype.integer && slot.zeroPointInput !== undefined && node.inputs[slot.zeroPointInput]) {
      zeroPoint = opZeroPoint(ctx, scopes, node.inputs[slot.zeroPointInput], scope, dims, layer.outAxis);
    }
  } catch (err) {
    layer.error = err instanceof Error ? err.message : String(err);
  }
  layer.zeroPoint = zeroPoint;
  return layer;
}

function constantInput(ctx: FindContext, scopes: Scopes, name: string, scope: Scope, what: string): number[] {
  const t = trace(scopes, name, scope);
  if (!t.constant) throw new TensorError(`${what} '${name}' is ${t.dynamic}: cannot tell which weights are zero`);
  return readIntegers(ctx.src, t.constant.tensor, ctx.externals);
}

/** DequantizeLinear's zero point: per tensor, per axis (`axis`, default 1) or per block (`block_size`, opset 21). */
function dequantizeZeroPoint(ctx: FindContext, scopes: Scopes, dq: NodeSkeleton, zeroPointInput: number, scope: Scope, rank: number, toStored: (axis: number) => number): ZeroPoint | undefined {
  const zpName = dq.inputs[zeroPointInput];
  if (!zpName) return undefined;
  const values = constantInput(ctx, scopes, zpName, scope, 'zero point');
  if (values.length <= 1) return { values, axis: -1, blockSize: 0 };
  let axis = dq.attributes.get('axis')?.i ?? 1;
  if (axis < 0) axis += rank;
  return { values, axis: toStored(axis), blockSize: dq.attributes.get('block_size')?.i ?? 0 };
}

/** The zero point input of ConvInteger, MatMulInteger, QLinear*: per tensor or per output feature. */
function opZeroPoint(ctx: FindContext, scopes: Scopes, name: string, scope: Scope, dims: number[], outAxis: number): ZeroPoint {
  const values = constantInput(ctx, scopes, name, scope, 'zero point');
  if (values.length <= 1) return { values, axis: -1, blockSize: 0 };
  if (values.length === dims[outAxis]) return { values, axis: outAxis, blockSize: 0 };
  throw new TensorError(`zero point '${name}' has ${values.length} values: neither per tensor nor per output channel (${dims[outAxis]})`);
}

export interface Eligibility {
  eligible: boolean;
  reason: string | null;
  warnings: string[];
}

/** Whether a found layer can carry `pattern`, and the hardware-shape warnings when it can (domain.md §2). */
export function eligibility(layer: LayerPlan, pattern: Pattern): Eligibility {
  if (layer.error) return { eligible: false, reason: layer.error, warnings: [] };
  if (layer.fixedReason) return { eligible: false, reason: layer.fixedReason, warnings: [] };
  const dims = layer.shape!;
  const K = dims[layer.axis!];
  const out = dims[layer.outAxis!];
  if (layer.group > 1 && K < pattern.m) {
    return { eligible: false, reason: `grouped/depthwise convolution (group=${layer.group}): ${K} input channel(s) per group < M=${pattern.m}`, warnings: [] };
  }
  if (K % pattern.m !== 0) return { eligible: false, reason: `K=${K} (axis ${layer.axis}) is not divisible by M=${pattern.m}`, warnings: [] };
  if (layer.kBlock && layer.kBlock % pattern.m !== 0) {
    return { eligible: false, reason: `block_size=${layer.kBlock} is not divisible by M=${pattern.m}: groups would cross quantization blocks`, warnings: [] };
  }
  if (elementCount(dims) === 0) return { eligible: false, reason: 'empty weight', warnings: [] };
  const warnings: string[] = [];
  if (K < LARGE_CHANNELS || out < LARGE_CHANNELS) {
    warnings.push(`small layer (K=${K}, out=${out}): sparse kernels pay off mainly from about ${LARGE_CHANNELS} channels (TensorRT)`);
  }
  if (K % KERNEL_MULTIPLE !== 0 || out % KERNEL_MULTIPLE !== 0) {
    warnings.push(`K=${K}, out=${out} not multiples of ${KERNEL_MULTIPLE}: cuSPARSELt/CUTLASS pad them and ASP skips such weights`);
  }
  if (layer.group > 1) warnings.push(`grouped convolution (group=${layer.group}): sparse kernels rarely cover grouped layers`);
  if (layer.notes) warnings.push(...layer.notes);
  return { eligible: true, reason: null, warnings };
}
