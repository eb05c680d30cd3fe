// Compress: the portable format (src/engine/convert/portable.ts). Each weight it takes becomes a values and an index
// stream plus a decode graph of standard ONNX ops that rebuilds the dense pruned weight at load time.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type PortableWork, entries, planPortableWork, portableEdits, whyNotPortable, writeStreams } from '../compressEdits';
import { decompressModel } from '../decompress';
import { COMPRESSED_KEY, metadataField, removeMetadata } from '../portable';
import { compressedEntries } from '../../sparsity/stored';
import { checkCancelled, compareRuntime, verifyLayers } from '../verify';
import type { OutputFormat } from './format';

export const compressFormat: OutputFormat<PortableWork> = {
  mode: 'compress',
  action: () => 'compress',
  rewrite: {
    fallback: 'not compressed',
    whyNot: (w, ctx) => whyNotPortable(w.tensor, w.layers[0], ctx.places.get(w.tensor.fieldStart), ctx.opset, ctx.pattern),
    plan: (w, ctx, pruned) =>
      planPortableWork(w.tensor, w.layers[0], ctx.places.get(w.tensor.fieldStart)!, ctx.pattern, pruned, ctx.reports.get(w.layers[0].name)?.negativeZeros ?? 0, ctx.opset),
    streamLength: (p) => p.plan.valuesLength + p.plan.indexLength + p.plan.negativeZerosLength,
    writeStreams: (p, ctx, out) => writeStreams(p, ctx.pattern, out),
    edits: (p, ctx, at) => portableEdits(p, ctx.pattern, at && { location: at.location, values: at.offset, index: at.offset + p.plan.valuesLength }),
    modelEdits(works, ctx) {
      if (!works.length) return [];
      // A model compressed before keeps its entries: one metadata entry lists old and new weights.
      const { model, src } = ctx;
      const before = model.metadata[COMPRESSED_KEY] !== undefined ? compressedEntries(model) : [];
      return [...(before.length ? removeMetadata(src, COMPRESSED_KEY) : []), { kind: 'append', message: 0, end: src.size, bytes: metadataField([...before, ...entries(works)]) }];
    },
  },
  async verify(v) {
    // A compressed weight is rebuilt at load time: verify its decoded form, and that the decode graph rebuilds it exactly.
    const { report, options } = v;
    const dir = join(v.outputs.dir, 'verify');
    mkdirSync(dir);
    const dense = join(dir, 'decompressed.onnx');
    await decompressModel(v.staged, { out: dense, signal: options.signal });
    await verifyLayers(report, dense, v.pattern, options.signal);
    report.exact = await compareRuntime(v, dense, v.staged);
    if (report.exact.ran && !report.exact.outputs.every((o) => o.identical)) report.verified = false;
    checkCancelled(options.signal);
    report.runtime = await compareRuntime(v, v.input, v.staged);
  },
};
