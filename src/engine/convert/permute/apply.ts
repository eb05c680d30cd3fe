// Applying channel permutations: a weight's magnitudes as the matrix the search reads (one column per input channel),
// a tensor's bytes permuted along an axis, and the edits that write the permuted tensors into a copy of the model
// (raw bytes overwritten in place, typed fields re-encoded). Nothing else in the model changes.
import { closeSync, openSync, writeSync } from 'node:fs';
import { dtypeById } from '../../onnx/dtypes';
import type { TensorRef } from '../../onnx/skeleton';
import type { ByteSource } from '../../onnx/source';
import { type ExternalFiles, openTensor } from '../../onnx/tensorData';
import { type Edit, type Out, spliceModel } from '../../onnx/writer';
import { toMagnitudes } from '../../sparsity/decode';
import { fieldsOf } from '../externalData';
import { typedFieldBytes } from '../typed';

/** The sizes around `axis`: elements before it (outer), along it, and after it (inner). */
function around(dims: readonly number[], axis: number): { outer: number; K: number; inner: number } {
  const product = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
  return { outer: product(dims.slice(0, axis)), K: dims[axis], inner: product(dims.slice(axis + 1)) };
}

/** A tensor's raw little-endian bytes, copied. */
export function tensorBytes(src: ByteSource, tensor: TensorRef, externals: ExternalFiles): Uint8Array {
  const reader = openTensor(src, tensor, externals);
  return reader.read(0, reader.count).bytes.slice();
}

/** |w| as a column-major matrix: column c (input channel c) holds the R = outer x inner weights that read it. */
export function magnitudeColumns(bytes: Uint8Array, tensor: TensorRef, axis: number): { columns: Float32Array; rows: number; channels: number } {
  const dtype = dtypeById(tensor.dtype)!;
  const { outer, K, inner } = around(tensor.dims, axis);
  const count = outer * K * inner;
  const mags = new Float32Array(count);
  toMagnitudes(dtype, { bytes, nibble: 0 }, count, mags, 0, tensor.dims);
  const R = outer * inner;
  const columns = new Float32Array(count);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < K; c++) {
      const from = (o * K + c) * inner;
      const to = c * R + o * inner;
      for (let s = 0; s < inner; s++) columns[to + s] = mags[from + s];
    }
  }
  return { columns, rows: R, channels: K };
}

/** The bytes of a tensor whose index c along `axis` holds what index perm[c] held. */
export function permuteAlong(bytes: Uint8Array, dims: readonly number[], elementBytes: number, axis: number, perm: Int32Array): Uint8Array {
  const { outer, K, inner } = around(dims, axis);
  if (perm.length !== K) throw new Error(`a permutation of ${perm.length} channels for an axis of ${K}`);
  const out = new Uint8Array(bytes.length);
  const run = inner * elementBytes;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < K; c++) {
      const from = (o * K + perm[c]) * run;
      out.set(bytes.subarray(from, from + run), (o * K + c) * run);
    }
  }
  return out;
}

/** The edits that store `bytes` as the new values of `tensor` (raw_data or typed fields, as the input stores it). */
export function replaceValues(src: ByteSource, tensor: TensorRef, bytes: Uint8Array): Edit[] {
  const data = tensor.data;
  if (data.kind === 'raw') return [{ kind: 'overwrite', offset: data.offset, length: data.length, write: (out) => out.write(bytes) }];
  if (data.kind === 'typed') {
    const span = tensor.span;
    const edits: Edit[] = fieldsOf(src, span.offset, span.offset + span.length, [4, 5, 7, 10, 11]).map((f) => ({ kind: 'remove', ...f }));
    edits.push({ kind: 'append', message: span.offset, end: span.offset + span.length, bytes: typedFieldBytes(dtypeById(tensor.dtype)!, bytes) });
    return edits;
  }
  throw new Error(`tensor '${tensor.name}' is stored as ${data.kind}: not rewritten here`);
}

/** Writes the input with `edits` applied to `path` (a new file). */
export function writeEdited(src: ByteSource, edits: Edit[], path: string): void {
  const fd = openSync(path, 'wx');
  try {
    const out: Out = {
      write(bytes: Uint8Array) {
        for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
      },
    };
    spliceModel(src, edits, out);
  } finally {
    closeSync(fd);
  }
}
