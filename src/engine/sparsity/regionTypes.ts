// The zoom and encodings views' data, shared by the engine, the protocol and the webview (no file access here).

/** The real groups of a region of a layer's tile grid (zoom), at most MAX_REGION_GROUPS. */
export interface GroupRegion {
  layer: string;
  /** Rows of output features [row0, row1) and K-groups [group0, group1) at position `position`. */
  row0: number;
  row1: number;
  group0: number;
  group1: number;
  position: number;
}
export const MAX_REGION_GROUPS = 4096;

export interface RegionGroups extends GroupRegion {
  m: number;
  /** Non-zero count per group, row-major over the region. */
  counts: number[];
  /** Non-zero mask per group (bit i = element i). */
  masks: number[];
}

/** One group as the encodings view shows it (describeGroup), plus the first rows' compressed bytes in hex. */
export interface GroupEncodings {
  layer: string;
  row: number;
  group: number;
  position: number;
  dtype: string;
  values: string[];
  mask: string;
  nonZeros: number;
  bitmask: string;
  ascend?: { index0: string; index1: string; values: string[] };
  nvidia?: { nibble: string; values: string[] };
  problem?: string;
  /** Each element's zero point, where the weight has one (int8, uint8, int4...): an element equal to it is a zero. */
  zeroPoints?: number[];
  /** How many of the layer's first rows (output features) the hex covers: the layer's, not only this group's. */
  hexRows?: number;
  /** Hex of the Ascend values/index and NVIDIA values/metadata for the first rows (16 bytes a line). */
  hex: { title: string; lines: string[] }[];
}

