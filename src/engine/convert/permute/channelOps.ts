// What each op between a producer layer and the layer whose input channels are permuted does to channels: op
// knowledge as data, as sparsity/opTable.ts keeps it for weights. An op not listed here stops the permutation with
// its reason (a permutation must reach every reader of the permuted channels, or none).

/** How an op of the default domain treats the channels of its data input (input 0 unless the rule says otherwise). */
export type ChannelRule =
  /** Elementwise on its data input alone: channels pass through unchanged (extra inputs must be scalars, as Clip's). */
  | { kind: 'elementwise' }
  /** Per channel along axis 1 (pools): channels pass through, but only where the channel axis is axis 1. */
  | { kind: 'axisOne' }
  /** Per-channel parameters, 1-D [C], along axis 1 of the data (BatchNormalization's scale, B, mean, var). */
  | { kind: 'perChannel'; params: number[] }
  /** Two operands broadcast against each other: one a constant, permuted along the channel axis where it has one. */
  | { kind: 'broadcast' }
  /** Mixes, moves or reshapes channels: the reason, shown to the user. */
  | { kind: 'mixes'; why: string };

const ELEMENTWISE = [
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Celu', 'Gelu', 'Softplus', 'Softsign',
  'Mish', 'ThresholdedRelu', 'Erf', 'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Identity', 'Clip', 'Dropout', 'Cast',
  'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos',
];

export const CHANNEL_RULES: ReadonlyMap<string, ChannelRule> = new Map<string, ChannelRule>([
  ...ELEMENTWISE.map((op): [string, ChannelRule] => [op, { kind: 'elementwise' }]),
  ...['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'GlobalLpPool'].map((op): [string, ChannelRule] => [op, { kind: 'axisOne' }]),
  // ONNX BatchNormalization / InstanceNormalization: per-channel parameters along axis 1 of the data.
  ['BatchNormalization', { kind: 'perChannel', params: [1, 2, 3, 4] }],
  ['InstanceNormalization', { kind: 'perChannel', params: [1, 2] }],
  ...['Add', 'Sub', 'Mul', 'Div', 'PRelu'].map((op): [string, ChannelRule] => [op, { kind: 'broadcast' }]),
  ['Reshape', { kind: 'mixes', why: 'changes the layout, so channel positions do not carry through' }],
  ['Flatten', { kind: 'mixes', why: 'flattens channels with the spatial axes' }],
  ['Transpose', { kind: 'mixes', why: 'moves the channel axis' }],
  ['Concat', { kind: 'mixes', why: 'joins tensors, so channel positions shift' }],
  ['Split', { kind: 'mixes', why: 'splits channels between outputs' }],
  ['Slice', { kind: 'mixes', why: 'selects channels by position' }],
  ['Gather', { kind: 'mixes', why: 'selects by position' }],
  ['Pad', { kind: 'mixes', why: 'may pad the channel axis' }],
  ['Resize', { kind: 'mixes', why: 'may scale the channel axis' }],
  ['Softmax', { kind: 'mixes', why: 'normalizes across an axis' }],
  ['LogSoftmax', { kind: 'mixes', why: 'normalizes across an axis' }],
  ['LayerNormalization', { kind: 'mixes', why: 'normalizes across channels with per-position weights not handled by this version' }],
  ['GroupNormalization', { kind: 'mixes', why: 'normalizes within groups of consecutive channels' }],
  ['SpaceToDepth', { kind: 'mixes', why: 'moves values between channels and space' }],
  ['DepthToSpace', { kind: 'mixes', why: 'moves values between channels and space' }],
]);

/** Why an op stops the walk from a layer to its producer: a listed reason, or that it is not known to keep channels apart. */
export function stopReason(op: string, domain: string): string {
  const rule = domain === '' || domain === 'ai.onnx' ? CHANNEL_RULES.get(op) : undefined;
  if (rule?.kind === 'mixes') return rule.why;
  return `is not known to keep channels apart${domain && domain !== 'ai.onnx' ? ` (domain '${domain}')` : ''}`;
}

/** The ops whose float weights can take a permutation, as consumers (input channels) and producers (output channels). */
export const PERMUTABLE_LAYERS = ['Conv', 'Gemm', 'MatMul'];

/** Weight types the search reads magnitudes of. */
export const SEARCHABLE_TYPES = new Set(['float32', 'float16', 'bfloat16', 'float64']);
