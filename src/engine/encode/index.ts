// The index encodings for N:M compressed weights (domain.md §4): Ascend, NVIDIA/CUTLASS and generic bitmask.
export { type AscendCompressed, ascendIndexes, ascendValueSources, decodeAscend, encodeAscend } from './ascend';
export {
  type NmCompressed,
  decodeNmFromMasks,
  decodeNmFromPositions,
  encodeNm,
  packGroupMasks,
  packPositions,
  positionBits,
  unpackGroupMasks,
  unpackPositions,
} from './bitmask';
export { type GroupDescription, type ValueSlots, describeGroup } from './describe';
export {
  type NvidiaCompressed,
  type NvidiaMetaLayout,
  cutlassMetaOffset,
  cutlassReorderProblem,
  decodeNvidia,
  encodeNvidia,
  nvidiaMetaWordBytes,
  nvidiaNibble,
  nvidiaShapeProblem,
  reorderCutlassMeta,
  unreorderCutlassMeta,
} from './nvidia';
export { type DenseShape, type ElementSize, EncodeError, GroupTooDenseError, type WeightMatrix, groupMaskText, nonZeroFlags } from './weight';
