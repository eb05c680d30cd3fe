// Writing a conversion: the edits that turn the input into the output. Weights in the external data file are
// copied, pruned or replaced by a format's streams into the output's one data file; inline weights are pruned where
// they are stored (raw bytes overwritten, typed fields re-encoded) or replaced by the format's graph edits.
import { basename } from 'node:path';
import { CancelledError } from '../errors';
import { dtypeById, rawByteLength } from '../onnx/dtypes';
import { type ModelSkeleton, elementCount } from '../onnx/skeleton';
import { type ExternalFiles, openTensor } from '../onnx/tensorData';
import type { ByteSource } from '../onnx/source';
import type { Edit } from '../onnx/writer';
import type { OutputTransaction } from '../outputs';
import { type ExternalAction, allTensors, concat, fieldsOf, rewriteExternalData, tensorKey } from './externalData';
import type { FormatContext, WeightRewrite } from './formats/format';
import { pruneWeight } from './prune';
import { typedFieldBytes } from './typed';
import type { WeightWork } from './types';

/** Streams a weight's pruned bytes to `out` through prune.ts. */
function writePruned(src: ByteSource, externals: ExternalFiles, w: WeightWork, out: { write(b: Uint8Array): void }, progress: (n: number) => void, signal?: AbortSignal): void {
  const layer = w.layers[0];
  // The layer's view of the tensor (MatMulNBits: its codes, one byte each), written back packed.
  const reader = openTensor(src, w.tensor, externals);
  pruneWeight(reader, { shape: w.shape, dims: layer.shape!, zeroPoint: layer.zeroPoint, folded: Boolean(layer.tensor?.fold) }, w.totals, out, progress, signal);
}

/** A weight's pruned bytes, whole (for the encoders of the output formats). */
export function prunedBytes(src: ByteSource, externals: ExternalFiles, w: WeightWork): Uint8Array {
  const chunks: Uint8Array[] = [];
  writePruned(src, externals, w, { write: (b) => chunks.push(b.slice()) }, () => {});
  return concat(chunks);
}

/** Bytes of the input's external data that its tensors declare. */
export function externalBytes(model: ModelSkeleton): number {
  let total = 0;
  for (const t of allTensors(model)) {
    if (t.data.kind === 'external') {
      const dtype = dtypeById(t.dtype);
      total += t.data.length ?? (dtype ? rawByteLength(dtype, elementCount(t.dims)) : 0);
    }
  }
  return total;
}

export interface WritePlan<W> {
  ctx: FormatContext;
  work: Map<string, WeightWork>;
  /** The format's rewrites, by tensor key (empty for prune in place). */
  rewrites: Map<string, W>;
  rewrite: WeightRewrite<W> | undefined;
  /** The output's external data file, when the input has external data. */
  dataFile: string | null;
  outputs: OutputTransaction;
  progress: (n: number) => void;
  signal?: AbortSignal;
}

/** Every edit of the input that makes the output (the external data file is written by the first ones, as they run). */
export function conversionEdits<W>(p: WritePlan<W>): Edit[] {
  const { ctx, work, rewrites, rewrite, signal, progress } = p;
  const { src, model, externals } = ctx;
  const edits: Edit[] = [];
  if (p.dataFile) {
    const location = basename(p.dataFile);
    edits.push(
      ...rewriteExternalData(src, model, externals, p.outputs, p.dataFile, (t): ExternalAction => {
        const key = tensorKey(t);
        const planned = rewrites.get(key);
        if (planned !== undefined && rewrite) {
          // The format's streams in the data file; the tensor itself is replaced by the format's graph edits.
          return {
            kind: 'replace',
            length: rewrite.streamLength(planned),
            write: (out) => rewrite.writeStreams(planned, ctx, out),
            placed: (offset) => rewrite.edits(planned, ctx, { location, offset }),
          };
        }
        const w = work.get(key);
        return w ? { kind: 'rewrite', write: (out) => writePruned(src, externals, w, out, progress, signal) } : { kind: 'copy' };
      }),
    );
  }
  for (const [key, w] of work) {
    if (signal?.aborted) throw new CancelledError();
    const data = w.tensor.data;
    const planned = rewrites.get(key);
    if (planned !== undefined && rewrite) {
      if (data.kind !== 'external') edits.push(...rewrite.edits(planned, ctx));
      continue;
    }
    if (data.kind === 'external') continue;
    if (data.kind === 'raw') {
      edits.push({ kind: 'overwrite', offset: data.offset, length: data.length, write: (out) => writePruned(src, externals, w, out, progress, signal) });
    } else if (data.kind === 'typed') {
      // Typed fields hold varints of varying size: prune now, re-encode the field.
      const chunks: Uint8Array[] = [];
      writePruned(src, externals, w, { write: (b) => chunks.push(b.slice()) }, progress, signal);
      const raw = concat(chunks);
      const t = w.tensor;
      for (const f of fieldsOf(src, t.span.offset, t.span.offset + t.span.length, [4, 5, 7, 10, 11])) edits.push({ kind: 'remove', ...f });
      edits.push({ kind: 'append', message: t.span.offset, end: t.span.offset + t.span.length, bytes: typedFieldBytes(dtypeById(t.dtype)!, raw) });
    }
  }
  if (rewrite) edits.push(...rewrite.modelEdits([...rewrites.values()], ctx));
  return edits;
}
