// One group of 4 in every encoding, for the panel's "pick a group" view (domain.md §4). Binary strings are
// written most significant bit first, as the Ascend and PyTorch docs write them; masks in element order.
import { ascendIndexes, ascendValueSources } from './ascend';
import { nvidiaNibble } from './nvidia';
import { EncodeError } from './weight';

/** The two value slots of an encoding: which element each holds (null: the zero) and its bytes. */
export interface ValueSlots {
  sources: [number | null, number | null];
  values: [Uint8Array, Uint8Array];
}

export interface GroupDescription {
  /** Non-zero flags in element order e0 e1 e2 e3, e.g. '1010'. */
  mask: string;
  nonZeros: number;
  /** The non-zero elements' bytes, in element order. */
  keptValues: Uint8Array[];
  /** The generic 4-bit group mask as stored (bit i = element i), bit 3 first: '0101' for mask 1010. */
  bitmask: string;
  /** Why the group has no 2:4 encoding (more than 2 non-zeros); the encodings below are then absent. */
  problem?: string;
  /** Ascend: index[0] and index[1] as 2-bit strings ('10', '01') and the two value slots. */
  ascend?: { index0: string; index1: string } & ValueSlots;
  /** NVIDIA: the metadata nibble as a 4-bit string ('1000'), the two positions it names, the two value slots. */
  nvidia?: { nibble: string; positions: [number, number] } & ValueSlots;
}

/**
 * Describes one group of 4: `values` holds its 4 elements (4 * elementSize bytes), `mask` its 4 non-zero flags,
 * `zero` the elementSize bytes a slot without a weight holds (all zero bytes when left out).
 */
export function describeGroup(values: Uint8Array, mask: ArrayLike<number>, elementSize: number, zero?: Uint8Array): GroupDescription {
  if (mask.length !== 4 || values.length !== 4 * elementSize) {
    throw new EncodeError(`describeGroup: a group of 4 needs 4 flags and ${4 * elementSize} value bytes, got ${mask.length} and ${values.length}`);
  }
  const zeroValue = zero ?? new Uint8Array(elementSize);
  if (zeroValue.length !== elementSize) throw new EncodeError(`describeGroup: the zero must be ${elementSize} bytes, got ${zeroValue.length}`);
  const element = (i: number) => values.slice(i * elementSize, (i + 1) * elementSize);
  const slot = (source: number | null) => (source === null ? zeroValue.slice() : element(source));

  let bits = 0;
  for (let i = 0; i < 4; i++) if (mask[i]) bits |= 1 << i;
  const kept = [0, 1, 2, 3].filter((i) => (bits >> i) & 1);
  const description: GroupDescription = {
    mask: [0, 1, 2, 3].map((i) => ((bits >> i) & 1 ? '1' : '0')).join(''),
    nonZeros: kept.length,
    keptValues: kept.map(element),
    bitmask: binary(bits, 4),
  };

  const indexes = ascendIndexes(bits);
  const sources = ascendValueSources(bits);
  const nibble = nvidiaNibble(bits);
  if (!indexes || !sources || nibble === undefined) {
    description.problem = `${kept.length} non-zeros: 2:4 keeps at most 2 of every 4, so this group has no 2:4 encoding until it is pruned`;
    return description;
  }
  description.ascend = {
    index0: binary(indexes[0], 2),
    index1: binary(indexes[1], 2),
    sources: [sources[0], sources[1]],
    values: [slot(sources[0]), slot(sources[1])],
  };
  // NVIDIA stores the element at each named position; a filler position holds a zero element, shown as the zero.
  const positions: [number, number] = [nibble & 3, nibble >> 2];
  const nvidiaSources = positions.map((p) => ((bits >> p) & 1 ? p : null)) as [number | null, number | null];
  description.nvidia = {
    nibble: binary(nibble, 4),
    positions,
    sources: nvidiaSources,
    values: [slot(nvidiaSources[0]), slot(nvidiaSources[1])],
  };
  return description;
}

function binary(value: number, width: number): string {
  return value.toString(2).padStart(width, '0');
}
