// decompress: a portable compressed model back to the dense pruned model, bit for bit: each weight's values and
// index stream are decoded (the same result the decode graph computes), its decode nodes, constants and metadata
// entry removed, and the dense weight restored as an initializer of the graph that held the streams.
import { basename, dirname, extname, join, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import { CancelledError, ModelError, describeError } from '../errors';
import { decodeNmFromPositions, packPositions, positionBits, unpackPositions } from '../encode';
import { dtypeById } from '../onnx/dtypes';
import { type GraphSkeleton, type TensorRef, readSkeleton } from '../onnx/skeleton';
import { FileSource } from '../onnx/source';
import { ExternalFiles, openTensor } from '../onnx/tensorData';
import { type Edit, lenField, spliceModel } from '../onnx/writer';
import { OutputTransaction, checkOutput } from '../outputs';
import { parsePattern } from '../sparsity/pattern';
import { COMPRESSED_KEY, type CompressedEntry, compressedEntries, graphsOf } from '../sparsity/stored';
import { applyNegativeZeros, rawTensorFieldHeader, removeMetadata, rowZeros } from './portable';
import { type ExternalAddition, allTensors, externalInputFiles, rewriteExternalData } from './externalData';

export interface DecompressOptions {
  out?: string;
  force?: boolean;
  signal?: AbortSignal;
  /** Told the work folder (next to the output) while one exists, so a host can remove it on a hard exit. */
  onWorkFolder?: (path: string | null) => void;
}

export interface DecompressReport {
  model: string;
  output: string;
  dataFile: string | null;
  weights: { name: string; dims: number[]; dtype: string; pattern: string }[];
  sizeBefore: number;
  sizeAfter: number;
}

export function defaultDecompressedPath(model: string): string {
  const ext = extname(model) || '.onnx';
  const stem = basename(model, extname(model)).replace(/\.compressed-\d+of\d+$/, '');
  return join(dirname(model), `${stem}.decompressed${ext}`);
}

export { compressedEntries };

/**
 * Decodes one weight to its dense bytes in storage order. `zero`: one element's bytes, or one per row of the [A*B, K]
 * view (zeros per channel); `negativeZeros`: its mask of -0.0, when the entry has one.
 */
export function decodeEntry(entry: CompressedEntry, values: Uint8Array, index: Uint8Array, zero: Uint8Array, negativeZeros?: Uint8Array, elementSize = zero.length): Uint8Array {
  const pattern = parsePattern(entry.pattern);
  if (typeof pattern === 'string') throw new Error(`entry '${entry.weight}': ${pattern}`);
  const { dims, axis } = entry;
  const size = elementSize as 1 | 2 | 4;
  const K = dims[axis];
  const A = dims.slice(0, axis).reduce((x, y) => x * y, 1);
  const B = dims.slice(axis + 1).reduce((x, y) => x * y, 1);
  const groups = (A * B * K) / pattern.m;
  const bits = positionBits(pattern.m);
  const positions = bits === entry.bits ? index : packPositions(unpackPositions(index, groups * pattern.n, entry.bits), bits);
  const kLast = decodeNmFromPositions({ rows: A * B, cols: K, elementSize: size, pattern, values, positions, positionBits: bits }, zero);
  if (negativeZeros) {
    if (negativeZeros.length !== Math.ceil((A * B * K) / 8)) throw new Error(`entry '${entry.weight}': negative-zero mask '${entry.negativeZeros}' holds ${negativeZeros.length} bytes, not ${Math.ceil((A * B * K) / 8)}`);
    applyNegativeZeros(kLast, negativeZeros, zero);
  }
  if (B === 1) return kLast;
  // [A, B, K] → [A, K, B]: back to storage order.
  const out = new Uint8Array(kLast.length);
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        const from = ((a * B + b) * K + k) * size;
        const to = ((a * K + k) * B + b) * size;
        for (let i = 0; i < size; i++) out[to + i] = kLast[from + i];
      }
    }
  }
  return out;
}

/**
 * The zero of the decoded weight: its zeros initializer (one, or per channel: then one per row of the [A*B, K] view)
 * or, in files without one, the ConstantOfShape value of its decode graph.
 */
function zeroOf(graph: GraphSkeleton, entry: CompressedEntry, src: FileSource, externals: ExternalFiles, size: number): Uint8Array {
  if (entry.zeros !== undefined) {
    const t = graph.initializers.find((x) => x.name === entry.zeros);
    if (!t) throw new Error(`the zeros '${entry.zeros}' of '${entry.weight}' are missing`);
    const r = openTensor(src, t, externals);
    const bytes = r.read(0, r.count).bytes.slice();
    const channels = entry.zeroAxis === undefined ? 1 : entry.dims[entry.zeroAxis];
    if (bytes.length !== channels * size) throw new Error(`the zeros '${entry.zeros}' of '${entry.weight}' hold ${bytes.length} bytes, not ${channels * size}`);
    return rowZeros(entry.dims, entry.axis, { bytes, axis: entry.zeroAxis ?? -1 }, size);
  }
  // The first ConstantOfShape of the decode graph fills the zeros (a second one, after it, holds the -0.0).
  const node = graph.nodes.find((n) => n.opType === 'ConstantOfShape' && entry.nodes.includes(n.name));
  const t = node?.attributes.get('value')?.t;
  if (!t) throw new Error(`decode graph of '${entry.weight}' has no ConstantOfShape value`);
  return openTensor(src, t, externals).read(0, 1).bytes.slice();
}

export async function decompressModel(path: string, options: DecompressOptions = {}): Promise<DecompressReport> {
  const src = new FileSource(path);
  const externals = new ExternalFiles(path);
  try {
    const model = readSkeleton(src, { signal: options.signal });
    const entries = compressedEntries(model);
    const output = options.out ?? defaultDecompressedPath(path);
    const inputs = [path, ...externalInputFiles(model, path)];
    const force = Boolean(options.force);
    checkOutput(path, output, inputs, force);
    const graphs = graphsOf(model);
    const edits: Edit[] = [];
    const additions: ExternalAddition[] = [];
    const dropped = new Set<TensorRef>();
    const report: DecompressReport = { model: path, output, dataFile: null, weights: [], sizeBefore: src.size, sizeAfter: 0 };
    const hasExternal = allTensors(model).some((t) => t.data.kind === 'external' || t.declaredExternal);
    const dataFile = hasExternal ? `${output.replace(/\.onnx$/i, '')}.data` : null;
    if (dataFile) checkOutput(path, dataFile, inputs, force);
    for (const entry of entries) {
      if (options.signal?.aborted) throw new CancelledError();
      const graph = graphs.find((g) => g.initializers.some((t) => t.name === entry.values));
      const values = graph?.initializers.find((t) => t.name === entry.values);
      const index = graph?.initializers.find((t) => t.name === entry.index);
      if (!graph || !values || !index) throw new ModelError(path, `the values or index of '${entry.weight}' are missing`, entry.weight);
      const negativeZeros = entry.negativeZeros === undefined ? undefined : graph.initializers.find((t) => t.name === entry.negativeZeros);
      if (entry.negativeZeros !== undefined && !negativeZeros) throw new ModelError(path, `the negative-zero mask '${entry.negativeZeros}' of '${entry.weight}' is missing`, entry.weight);
      const dtype = dtypeById(values.dtype)!;
      const zero = zeroOf(graph, entry, src, externals, dtype.bits / 8);
      const read = (t: TensorRef) => {
        const r = openTensor(src, t, externals);
        return r.read(0, r.count).bytes.slice();
      };
      // Decoded when written: one weight in memory at a time.
      const dense = () => decodeEntry(entry, read(values), read(index), zero, negativeZeros && read(negativeZeros), dtype.bits / 8);
      const length = (entry.dims.reduce((x, y) => x * y, 1) * dtype.bits) / 8;
      for (const node of graph.nodes) if (entry.nodes.includes(node.name)) edits.push({ kind: 'remove', start: node.fieldStart, end: node.fieldEnd });
      for (const t of graph.initializers) {
        if (t === values || t === index || t === negativeZeros || entry.constants.includes(t.name)) {
          edits.push({ kind: 'remove', start: t.fieldStart, end: t.span.offset + t.span.length });
          dropped.add(t);
        }
      }
      const graphEnd = { message: graph.span.offset, end: graph.span.offset + graph.span.length };
      if (values.data.kind === 'external' && dataFile) {
        additions.push({
          length,
          write: (out) => out.write(dense()),
          placed: (offset) => [
            {
              kind: 'append',
              ...graphEnd,
              bytes: lenField(
                5,
                onnx.TensorProto.encode({
                  name: entry.weight,
                  dataType: dtype.id,
                  dims: entry.dims,
                  dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
                  externalData: [
                    { key: 'location', value: basename(dataFile) },
                    { key: 'offset', value: String(offset) },
                    { key: 'length', value: String(length) },
                  ],
                }).finish(),
              ),
            },
          ],
        });
      } else {
        const header = rawTensorFieldHeader(entry.weight, dtype.id, entry.dims, length);
        edits.push({ kind: 'append', ...graphEnd, bytes: { size: header.length + length, write: (out) => (out.write(header), out.write(dense())) } });
      }
      report.weights.push({ name: entry.weight, dims: entry.dims, dtype: dtype.name, pattern: entry.pattern });
    }
    edits.push(...removeMetadata(src, COMPRESSED_KEY));
    if (options.signal?.aborted) throw new CancelledError();
    const outputs = new OutputTransaction(dirname(resolve(output)), basename(output), { model: path, force, inputs, signal: options.signal, onWorkFolder: options.onWorkFolder });
    try {
      if (dataFile) {
        edits.push(...rewriteExternalData(src, model, externals, outputs, dataFile, (t) => (dropped.has(t) ? { kind: 'drop' } : { kind: 'copy' }), additions));
        report.dataFile = dataFile;
      }
      report.sizeAfter = outputs.write(output, (out) => spliceModel(src, edits, out)) + (dataFile ? outputs.sizeOf(dataFile) : 0);
      outputs.commit();
    } catch (err) {
      outputs.abort();
      if (err instanceof CancelledError || err instanceof ModelError) throw err;
      throw new ModelError(path, `decompression failed, nothing was written: ${describeError(err)}`);
    }
    return report;
  } finally {
    externals.close();
    src.close();
  }
}
