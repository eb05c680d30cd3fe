// Real groups and single-group encodings of a layer, for the panel's zoom and encodings views: only the few
// elements a view shows are read, never the whole weight.
import { describeGroup, encodeAscend, encodeNvidia } from '../encode';
import { ModelError } from '../errors';
import { FileSource } from '../onnx/source';
import { type ElementReader, ExternalFiles, openTensor } from '../onnx/tensorData';
import { type ZeroPoint, toMagnitudes, zeroPointLookup } from './decode';
import { ShapeInfo } from './kernel';
import type { LayerPlan } from './layers';
import { findModelLayers } from './modelLayers';
import type { Pattern } from './pattern';
import type { GroupEncodings, GroupRegion, RegionGroups } from './regionTypes';
import { openStored } from './storedReader';

export type { GroupEncodings, GroupRegion, RegionGroups };

/** Storage index of element (output feature r, K index k, position p): the inverse of ShapeInfo.rOf/pOf. */
export function elementIndex(shape: ShapeInfo, r: number, k: number, p: number): number {
  const { B, K, R, rStride } = shape;
  if (shape.rInA) {
    const b = p % B;
    const t = Math.floor(p / B);
    const a2 = t % rStride;
    const outer = Math.floor(t / rStride);
    const a = (outer * R + r) * rStride + a2;
    return (a * K + k) * B + b;
  }
  const B1 = B / (R * rStride);
  const b2 = p % rStride;
  const t = Math.floor(p / rStride);
  const outer = t % B1;
  const a = Math.floor(t / B1);
  const b = (outer * R + r) * rStride + b2;
  return (a * K + k) * B + b;
}

interface Opened {
  plan: LayerPlan;
  shape: ShapeInfo;
  reader: ElementReader;
  close(): void;
}

function openLayer(path: string, name: string, pattern: Pattern): Opened {
  const src = new FileSource(path);
  const externals = new ExternalFiles(path);
  try {
    const plan = findModelLayers(src, externals).find((l) => l.name === name);
    if (!plan || !plan.tensor || plan.axis === null || plan.outAxis === null || plan.shape === null) throw new ModelError(path, `no scannable layer named '${name}'`);
    const shape = new ShapeInfo({ dims: plan.shape, kAxis: plan.axis, rAxis: plan.outAxis }, pattern);
    // A weight stored compressed by this tool shows its decoded values: the ones its consumers compute with.
    const reader = plan.stored ? openStored(src, plan.stored, externals) : openTensor(src, plan.tensor, externals);
    return { plan, shape, reader, close: () => (externals.close(), src.close()) };
  } catch (err) {
    externals.close();
    src.close();
    throw err;
  }
}

/** Magnitudes of single elements (by storage index). */
function magnitudes(o: Opened, indexes: number[], zeroPoint: ZeroPoint | undefined): Float32Array {
  const out = new Float32Array(indexes.length);
  const one = new Float32Array(1);
  indexes.forEach((e, i) => {
    toMagnitudes(o.reader.dtype, o.reader.read(e, 1), 1, one, e, o.plan.shape!, zeroPoint);
    out[i] = one[0];
  });
  return out;
}

export function readRegion(path: string, pattern: Pattern, region: GroupRegion): RegionGroups {
  const o = openLayer(path, region.layer, pattern);
  try {
    const { R, K, P } = o.shape;
    const m = pattern.m;
    const rows = [Math.max(0, region.row0), Math.min(R, region.row1)];
    const groups = [Math.max(0, region.group0), Math.min(Math.floor(K / m), region.group1)];
    const p = Math.min(Math.max(0, region.position), Math.max(0, P - 1));
    const counts: number[] = [];
    const masks: number[] = [];
    for (let r = rows[0]; r < rows[1]; r++) {
      for (let g = groups[0]; g < groups[1]; g++) {
        const idx = Array.from({ length: m }, (_, j) => elementIndex(o.shape, r, g * m + j, p));
        const mags = magnitudes(o, idx, o.plan.zeroPoint);
        let mask = 0;
        mags.forEach((v, j) => (mask |= v !== 0 ? 1 << j : 0));
        masks.push(mask);
        counts.push(mags.reduce((c, v) => c + (v !== 0 ? 1 : 0), 0));
      }
    }
    return { layer: region.layer, row0: rows[0], row1: rows[1], group0: groups[0], group1: groups[1], position: p, m, counts, masks };
  } finally {
    o.close();
  }
}

function displayValue(o: Opened, e: number): string {
  const { dtype } = o.reader;
  const run = o.reader.read(e, 1);
  const bytes = run.bytes;
  if (o.plan.tensor?.codes) {
    // A packed code (MatMulNBits, QMoE: 2, 4 or 8 bits, read one byte each), with its block's zero point.
    return `${bytes[0]} (zero point ${zeroPointLookup(o.plan.zeroPoint, o.plan.shape!)(e)})`;
  }
  if (dtype.name === 'float4e2m1') {
    // An FP4 value (1 sign, 2 exponent, 1 mantissa bits), with its code: 0x8 is -0.
    const nibble = run.nibble ? bytes[0] >> 4 : bytes[0] & 0x0f;
    const magnitude = [0, 0.5, 1, 1.5, 2, 3, 4, 6][nibble & 7];
    return `${nibble & 8 ? '-' : ''}${magnitude} (code 0x${nibble.toString(16)})`;
  }
  if (dtype.bits === 4) {
    // A 4-bit code (int4 sign-extended), with the zero point it is measured against.
    const nibble = run.nibble ? bytes[0] >> 4 : bytes[0] & 0x0f;
    const code = dtype.signed && nibble > 7 ? nibble - 16 : nibble;
    return o.plan.zeroPoint ? `${code} (zero point ${zeroPointLookup(o.plan.zeroPoint, o.plan.shape!)(e)})` : String(code);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype.name) {
    case 'float32':
      return String(view.getFloat32(0, true));
    case 'float64':
      return String(view.getFloat64(0, true));
    case 'int8':
      return String(view.getInt8(0));
    case 'uint8':
      return String(bytes[0]);
    case 'int16':
      return String(view.getInt16(0, true));
    case 'int32':
      return String(view.getInt32(0, true));
    default: {
      const one = new Float32Array(1);
      toMagnitudes(dtype, { bytes, nibble: 0 }, 1, one, e, o.plan.shape!, o.plan.zeroPoint);
      const hex = [...bytes].reverse().map((b) => b.toString(16).padStart(2, '0')).join('');
      return `0x${hex} (|w| ${one[0]})`;
    }
  }
}

const HEX_ROWS = 4;

function hexLines(bytes: Uint8Array, limit = 8): string[] {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length && lines.length < limit; at += 16) {
    lines.push(`${at.toString(16).padStart(6, '0')}  ${[...bytes.subarray(at, at + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  }
  return lines;
}

/** One group's values and its encodings, plus hex of the first rows' compressed bytes (2:4 encodings when M = 4). */
export function readGroupEncodings(path: string, pattern: Pattern, layer: string, row: number, group: number, position: number): GroupEncodings {
  const o = openLayer(path, layer, pattern);
  try {
    const { K, R } = o.shape;
    const m = pattern.m;
    const size = o.reader.dtype.bits / 8;
    const idx = Array.from({ length: m }, (_, j) => elementIndex(o.shape, row, group * m + j, position));
    const mags = magnitudes(o, idx, o.plan.zeroPoint);
    const zp = zeroPointLookup(o.plan.zeroPoint, o.plan.shape!);
    const zero = new Uint8Array(4);
    new DataView(zero.buffer).setInt32(0, zp(idx[0]), true);
    const result: GroupEncodings = {
      layer,
      row,
      group,
      position,
      // Packed codes read one byte each keep their own type's name (uint4...).
      dtype: o.plan.tensor?.codes ? (o.plan.dtype ?? o.reader.dtype.name) : o.reader.dtype.name,
      values: idx.map((e) => displayValue(o, e)),
      mask: [...mags].map((v) => (v !== 0 ? '1' : '0')).join(''),
      nonZeros: [...mags].filter((v) => v !== 0).length,
      bitmask: [...mags].map((v) => (v !== 0 ? '1' : '0')).reverse().join(''),
      hex: [],
    };
    if (o.plan.zeroPoint) result.zeroPoints = idx.map((e) => zp(e));
    // No 2:4 encodings of packed codes: their kernel reads them packed (compress and export decline them too).
    if (m === 4 && [1, 2, 4].includes(size) && o.reader.dtype.bits !== 4 && !o.plan.tensor?.codes) {
      const values = new Uint8Array(4 * size);
      idx.forEach((e, j) => values.set(o.reader.read(e, 1).bytes.subarray(0, size), j * size));
      const d = describeGroup(values, [...mags].map((v) => (v !== 0 ? 1 : 0)), size as 1 | 2 | 4, zero.subarray(0, size));
      // Each slot as the element it holds: e0..e3, or the zero when no weight fills it.
      const slot = (source: number | null) => (source === null ? 'zero' : `e${source} = ${result.values[source]}`);
      if (d.ascend) result.ascend = { index0: d.ascend.index0, index1: d.ascend.index1, values: d.ascend.sources.map(slot) };
      if (d.nvidia) result.nvidia = { nibble: d.nvidia.nibble, values: d.nvidia.sources.map(slot) };
      if (d.problem) result.problem = d.problem;
      // The first rows at this position as a [rows, K] matrix, for the hex views.
      const rows = Math.min(HEX_ROWS, R);
      result.hexRows = rows;
      const bytes = new Uint8Array(rows * K * size);
      const nonZero = new Uint8Array(rows * K);
      for (let r = 0; r < rows; r++) {
        const ks = Array.from({ length: K }, (_, k) => elementIndex(o.shape, r, k, position));
        const rowMags = magnitudes(o, ks, o.plan.zeroPoint);
        ks.forEach((e, k) => {
          bytes.set(o.reader.read(e, 1).bytes.subarray(0, size), (r * K + k) * size);
          nonZero[r * K + k] = rowMags[k] !== 0 ? 1 : 0;
        });
      }
      const matrix = { rows, cols: K, elementSize: size as 1 | 2 | 4, bytes, nonZero, zero: zero.subarray(0, size) };
      try {
        const ascend = encodeAscend(matrix);
        result.hex.push({ title: `Ascend values, first ${rows} rows`, lines: hexLines(ascend.values) }, { title: 'Ascend index', lines: hexLines(ascend.index) });
      } catch (err) {
        result.hex.push({ title: 'Ascend', lines: [`not encodable: ${(err as Error).message}`] });
      }
      if (size <= 2 && K % (size === 2 ? 16 : 32) === 0) {
        try {
          const nvidia = encodeNvidia({ ...matrix, elementSize: size as 1 | 2 }, 'plain');
          result.hex.push({ title: `NVIDIA values, first ${rows} rows`, lines: hexLines(nvidia.values) }, { title: 'NVIDIA metadata (plain nibbles)', lines: hexLines(nvidia.metadata) });
        } catch (err) {
          result.hex.push({ title: 'NVIDIA', lines: [`not encodable: ${(err as Error).message}`] });
        }
      }
    }
    return result;
  } finally {
    o.close();
  }
}
