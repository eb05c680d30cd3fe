// The Ascend rewrite (convert --mode ascend, sparsity/stored.ts) as the layers it stands for, for the projection:
// Conv2DCompress / MatMulV2Compress / FCCompress take (X, cvalues, cindex, bias, w_scale, w_zero_point) and keep
// the original node's attributes plus weight_shape, so each is its original op over X, a weight of weight_shape and
// the bias; CompressOp passes its values and index through (constants, folded like any op on constants).
import type { NodeSkeleton } from '../onnx/skeleton';
import { ASCEND_DOMAIN, ascendOriginalOp } from '../sparsity/stored';

/** The original op's view of an Ascend layer node: op type, default domain, inputs (X, the dense weight, bias). */
export function ascendAsOriginal(node: NodeSkeleton): NodeSkeleton | undefined {
  const op = ascendOriginalOp(node);
  if (!op) return undefined;
  return { ...node, opType: op, domain: '', inputs: [node.inputs[0] ?? '', node.inputs[1] ?? '', node.inputs[3] ?? ''] };
}

/** The layer's input positions in the original op's order: X, the weight (its dense shape), bias. */
export function ascendInputs<T>(node: NodeSkeleton, inputs: readonly T[], weight: T): T[] {
  return [inputs[0], weight, inputs[3]];
}

/** The dense weight's dims, from the node's weight_shape attribute. */
export function ascendWeightDims(node: NodeSkeleton): number[] | undefined {
  return node.attributes.get('weight_shape')?.ints;
}

export function isCompressOp(node: NodeSkeleton): boolean {
  return node.domain === ASCEND_DOMAIN && node.opType === 'CompressOp';
}
