// Weights with a known N:M structure, shared by the layer-finding tests of every op.
import assert from 'node:assert/strict';
import type { onnx } from 'onnx-proto';
import type { LayerReport } from '../../src/engine/sparsity/inspect';
import { type DTypeName, makeTensor } from './builder';

export const count = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);

/**
 * Values that are 2:4 along `axis` and along no other axis: an element is non-zero exactly when its index
 * along `axis` is 0 or 1 mod 4, so a group of 4 along any other axis holds 4 non-zeros (or none).
 * `zeroAt(i)` is the stored value meaning zero for element i (the zero point of integer weights).
 */
export function twoOfFourAlong(dims: number[], axis: number, zeroAt: (i: number) => number = () => 0): number[] {
  const stride = count(dims.slice(axis + 1));
  const values: number[] = [];
  for (let i = 0; i < count(dims); i++) {
    const k = Math.floor(i / stride) % dims[axis];
    values.push(zeroAt(i) + (k % 4 < 2 ? (1 + (i % 3)) * (i % 2 ? -1 : 1) : 0));
  }
  return values;
}

/** A raw_data tensor. */
export function tensor(name: string, dtype: DTypeName, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  return makeTensor({ name, dtype, dims, values });
}

/** The layer reads its weight along stored axis `axis` (outputs along `outAxis`) and finds it exactly 2:4. */
export function assertTwoOfFour(l: LayerReport, axis: number, outAxis: number): void {
  assert.equal(l.error, null);
  assert.equal(l.reason, null);
  assert.equal(l.eligible, true);
  assert.equal(l.axis, axis);
  assert.equal(l.outAxis, outAxis);
  assert.equal(l.groups, l.elements / 4);
  assert.equal(l.validGroups, l.groups);
  assert.equal(l.zeros, l.elements / 2);
  assert.equal(l.compliance, 1);
  assert.equal(l.pass, true);
}
