// Which tensors of a Hugging Face checkpoint are layer weights, and along which axis K runs (README, "Safetensors
// checkpoints"). PyTorch stores nn.Linear weights as [out, in] and nn.ConvNd as [out, in / groups, *kernel]: K is
// axis 1 for both, the output features axis 0, as for ONNX Gemm transB and Conv. GPT-2's Conv1D modules (model_type
// gpt2 and openai-gpt in config.json) store [in, out]: K is axis 0 there. Embeddings, norms, biases and scalars are
// listed as ineligible with the reason; scales and zero points that belong to a weight are read with it.
import { dtypeById } from '../onnx/dtypes';
import type { TensorRef } from '../onnx/skeleton';
import type { LayerPlan } from '../sparsity/layers';
import { type StoredWeight, storedTensor } from '../sparsity/stored';
import { BITMASK24_FORMAT } from './bitmask24';
import type { CheckpointTensor } from './checkpoint';

export interface CheckpointConfig {
  modelType?: string;
  architectures: string[];
  tieWordEmbeddings: boolean;
  /** quantization_config.sparsity_config.format (compressed-tensors), e.g. sparse-24-bitmask. */
  sparsityFormat?: string;
}

/** The parts of config.json the rules read; a config that is not JSON is a warning, not an error. */
export function readConfig(text: string, warnings: string[]): CheckpointConfig | undefined {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (err) {
    warnings.push(`config.json is not valid JSON (${(err as Error).message}): layers decided from names and shapes alone`);
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  return {
    modelType: typeof json.model_type === 'string' ? json.model_type : undefined,
    architectures: Array.isArray(json.architectures) ? json.architectures.filter((a): a is string => typeof a === 'string') : [],
    tieWordEmbeddings: json.tie_word_embeddings === true,
    sparsityFormat: sparsityFormatOf(json.quantization_config),
  };
}

/** Model types whose linear layers are GPT-2's Conv1D ([in, out], transformers' pytorch_utils.Conv1D). */
const CONV1D_MODEL_TYPES = new Set(['gpt2', 'openai-gpt']);
const CONV1D_NAMES = /(^|\.)(c_attn|c_proj|c_fc|q_attn)\.weight$/;

/** Embedding tables: read by a lookup (Gather), never by a matrix product. */
const EMBEDDING = /(^|\.)(embed_tokens|embeddings?|wte|wpe|word_embeddings|position_embeddings|token_type_embeddings|embed_positions|tok_embeddings|shared|embed_in)(\.weight)?$/;
const NORM = /(^|\.)([a-z_]*norm[a-z_0-9]*|ln_?[a-z0-9_]*|layernorm[a-z_]*)\.weight$/i;

/** Tensors that belong to a weight named `<prefix>.weight`: its scales and zero points (FP8, int8 checkpoints). */
const COMPANIONS = ['weight_scale', 'weight_scale_inv', 'weight_zero_point', 'weight_global_scale', 'input_scale', 'input_zero_point', 'output_scale', 'k_scale', 'v_scale'];

/** Layers of the checkpoint's tensors, in the order the headers list them. */
export function checkpointLayers(
  tensors: CheckpointTensor[],
  refs: Map<string, TensorRef>,
  unreadable: { name: string; problem: string }[],
  config: CheckpointConfig | undefined,
  readInts: (name: string, most?: number) => number[],
): LayerPlan[] {
  const names = new Set(tensors.map((t) => t.name));
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const layers: LayerPlan[] = [];
  const conv1d = config?.modelType !== undefined && CONV1D_MODEL_TYPES.has(config.modelType);
  // compressed-tensors sparse-24-bitmask triplets: <prefix>.compressed, .bitmask, .shape are one dense weight.
  const triplet = (name: string) => {
    const m = /^(.*)\.(compressed|bitmask|shape)$/.exec(name);
    return m && names.has(`${m[1]}.compressed`) && names.has(`${m[1]}.bitmask`) && names.has(`${m[1]}.shape`) ? m : null;
  };
  for (const t of tensors) {
    const part = triplet(t.name);
    if (part) {
      if (part[2] === 'compressed') layers.push(bitmaskLayer(part[1], byName, refs, readInts, config));
      continue;
    }
    const companionOf = companionWeight(t.name);
    if (companionOf && names.has(companionOf)) continue; // read with its weight
    const layer = layerOf(t, refs.get(t.name)!, conv1d, config);
    const zpName = t.name.replace(/\.weight$/, '.weight_zero_point');
    // Zero points move an integer weight's zeros: a code equal to its zero point is the zero.
    if (!layer.error && !layer.fixedReason && t.name.endsWith('.weight') && names.has(zpName)) withZeroPoint(layer, t, byName.get(zpName)!, readInts);
    layers.push(layer);
  }
  for (const { name, problem } of unreadable) {
    layers.push({ name, op: 'Tensor', graph: 'main', weight: name, shape: null, dtype: null, axis: null, outAxis: null, chain: [], group: 1, error: problem });
  }
  return layers;
}

/**
 * An integer weight's `weight_zero_point` (compressed-tensors' asymmetric int8: one value per tensor [1], per output
 * channel [out, 1], or per group [out, in / group_size] along K) as the layer's zero point; a shape or type that says
 * none of these fails the layer with why, a float weight's zero points leave it ineligible.
 */
function withZeroPoint(layer: LayerPlan, weight: CheckpointTensor, zp: CheckpointTensor, readInts: (name: string, most?: number) => number[]): void {
  const wType = weight.onnxType !== undefined ? dtypeById(weight.onnxType) : undefined;
  if (!wType?.integer) {
    layer.fixedReason = `zero points (${zp.name}) beside a ${layer.dtype} weight: only integer weights' zero points are read`;
    return;
  }
  const dims = weight.shape;
  const count = zp.shape.reduce((a, b) => a * b, 1);
  const outAxis = layer.outAxis!;
  const kAxis = layer.axis!;
  const out = dims[outAxis];
  let values: number[];
  try {
    values = readInts(zp.name, dims.reduce((a, b) => a * b, 1));
  } catch (err) {
    layer.error = `zero points '${zp.name}': ${(err as Error).message}`;
    return;
  }
  const lo = wType.signed ? -(2 ** (wType.bits - 1)) : 0;
  const hi = wType.signed ? 2 ** (wType.bits - 1) - 1 : 2 ** wType.bits - 1;
  const bad = values.find((v) => v < lo || v > hi);
  if (bad !== undefined) {
    layer.error = `zero points '${zp.name}': ${bad} is outside the ${wType.name} range of the weight (${lo} to ${hi})`;
    return;
  }
  const groups = dims.length === 2 && zp.shape.length === 2 && zp.shape[0] === out ? zp.shape[1] : 0;
  if (count === 1) layer.zeroPoint = { values, axis: -1, blockSize: 0 };
  else if (count === out && zp.shape.filter((d) => d !== 1).length === 1) layer.zeroPoint = { values, axis: outAxis, blockSize: 0 };
  else if (groups > 1 && kAxis === 1 && dims[1] % groups === 0) layer.zeroPoint = { values, axis: 1, blockSize: dims[1] / groups };
  else layer.error = `zero points '${zp.name}' are [${zp.shape.join(', ')}] for a [${dims.join(', ')}] weight: neither one value, one per output channel, nor one per group along K`;
}

/** The weight a scale or zero point belongs to (`<prefix>.weight`), if the name says so. */
function companionWeight(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return undefined;
  return COMPANIONS.includes(name.slice(dot + 1)) ? `${name.slice(0, dot)}.weight` : undefined;
}

function layerOf(t: CheckpointTensor, tensor: TensorRef, conv1d: boolean, config: CheckpointConfig | undefined): LayerPlan {
  const dtype = t.onnxType !== undefined ? dtypeById(t.onnxType) : undefined;
  const rank = t.shape.length;
  const base: LayerPlan = {
    name: t.name,
    op: opOf(rank, conv1d && CONV1D_NAMES.test(t.name)),
    graph: 'main',
    weight: t.name,
    tensor,
    shape: t.shape,
    dtype: dtype?.name ?? t.dtype,
    axis: null,
    outAxis: null,
    chain: [],
    group: 1,
  };
  if (t.problem) return { ...base, error: t.problem };
  const ineligible = (reason: string): LayerPlan => ({ ...base, fixedReason: reason });
  if (!dtype?.weight) return ineligible(`dtype ${t.dtype}: not a weight type${/qweight$/.test(t.name) ? ' (packed GPTQ/AWQ codes in int32 are not read)' : ''}`);
  if (rank === 0) return ineligible('a scalar');
  if (EMBEDDING.test(t.name)) {
    base.op = 'Embedding';
    const tied = config?.tieWordEmbeddings ? '; config.json ties it to the output projection (tie_word_embeddings), which reads it as [vocab, hidden] with K = hidden' : '';
    return ineligible(`embedding table: read by a lookup, not by a matrix product${tied}`);
  }
  if (rank === 1) {
    if (t.name.endsWith('.bias')) return ineligible('bias (1-D): not a matrix');
    if (NORM.test(t.name)) return ineligible('normalization weight (1-D): not a matrix');
    return ineligible('1-D tensor: not a matrix');
  }
  if (rank === 3 && /(^|\.)experts?\./.test(t.name)) {
    return ineligible(`stacked expert weights [${t.shape.join(', ')}]: which axis is K differs between architectures (e.g. [E, out, in] or [E, in, out]), so it is not guessed`);
  }
  if (base.op === 'Conv1D (GPT-2)') return { ...base, axis: 0, outAxis: 1 };
  return { ...base, axis: 1, outAxis: 0 };
}

function opOf(rank: number, gpt2Conv1d: boolean): string {
  if (gpt2Conv1d && rank === 2) return 'Conv1D (GPT-2)';
  if (rank === 2) return 'Linear';
  if (rank >= 3 && rank <= 5) return `Conv${rank - 2}d`;
  return rank < 2 ? 'Tensor' : `Tensor${rank}d`;
}

function sparsityFormatOf(q: unknown): string | undefined {
  const sparsity = (q as { sparsity_config?: { format?: unknown } } | null)?.sparsity_config;
  return typeof sparsity?.format === 'string' ? sparsity.format : undefined;
}

/**
 * A compressed-tensors sparse-24-bitmask weight (bitmask24.ts) as the dense [rows, cols] layer `<prefix>.weight`:
 * a Linear read along `in`, its values decoded where they are scanned.
 */
function bitmaskLayer(prefix: string, byName: Map<string, CheckpointTensor>, refs: Map<string, TensorRef>, readInts: (name: string) => number[], config: CheckpointConfig | undefined): LayerPlan {
  const values = byName.get(`${prefix}.compressed`)!;
  const name = `${prefix}.weight`;
  const base: LayerPlan = { name, op: 'Linear', graph: 'main', weight: name, shape: null, dtype: dtypeById(values.onnxType ?? 0)?.name ?? values.dtype, axis: null, outAxis: null, chain: [], group: 1 };
  const problem = [values, byName.get(`${prefix}.bitmask`)!, byName.get(`${prefix}.shape`)!].find((t) => t.problem);
  if (problem) return { ...base, error: `'${problem.name}': ${problem.problem}` };
  let dims: number[];
  try {
    dims = readInts(`${prefix}.shape`);
  } catch (err) {
    return { ...base, error: `'${prefix}.shape': ${(err as Error).message}` };
  }
  if (dims.length !== 2 || dims.some((d) => !Number.isSafeInteger(d) || d < 0) || dims[1] % 2 !== 0) {
    return { ...base, error: `'${prefix}.shape' holds [${dims.join(', ')}]: sparse-24-bitmask stores 2-D weights with an even number of columns` };
  }
  const stored: StoredWeight = {
    format: 'compressed-tensors',
    weight: name,
    dims,
    axis: 1,
    dtype: values.onnxType ?? 0,
    n: 2,
    m: 4,
    bits: 1,
    values: refs.get(values.name)!,
    index: refs.get(`${prefix}.bitmask`)!,
  };
  const notes = config?.sparsityFormat && config.sparsityFormat !== BITMASK24_FORMAT ? [`config.json names sparsity format '${config.sparsityFormat}', but the tensors are laid out as ${BITMASK24_FORMAT}: read as the latter`] : undefined;
  return { ...base, tensor: storedTensor(stored), shape: dims, axis: 1, outAxis: 0, stored, ...(notes ? { notes } : {}) };
}
