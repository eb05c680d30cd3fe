// Ascend: the graph rewrite of ATC --sparsity=1 made explicit in ONNX (src/engine/convert/ascendEdits.ts). ONNX
// Runtime cannot run the output: verification decodes each rewritten weight from the written file instead.
import { CancelledError } from '../../errors';
import { decodeAscend } from '../../encode';
import { type ModelSkeleton, type TensorRef, readSkeleton } from '../../onnx/skeleton';
import { FileSource } from '../../onnx/source';
import { ExternalFiles, openTensor } from '../../onnx/tensorData';
import type { Pattern } from '../../sparsity/pattern';
import { ASCEND_KEY } from '../../sparsity/stored';
import { type AscendWork, ascendEdits, ascendModelFields, planAscendWork, whyNotAscend, writeAscendStreams } from '../ascendEdits';
import { weightMatrix } from '../matrix';
import { removeMetadata } from '../portable';
import type { ConvertReport, LayerChange } from '../types';
import { verifyLayers } from '../verify';
import type { OutputFormat } from './format';

export const ascendFormat: OutputFormat<AscendWork> = {
  mode: 'ascend',
  action: () => 'rewrite',
  refuse: (pattern) => (pattern.n !== 2 || pattern.m !== 4 ? 'ascend mode writes the ATC --sparsity=1 encoding, which is 2:4 only' : undefined),
  rewrite: {
    fallback: 'not rewritten for Ascend',
    whyNot(w, ctx) {
      const place = ctx.places.get(w.tensor.fieldStart);
      return w.layers.map((l) => whyNotAscend(l, place)).find((x) => x !== undefined);
    },
    plan: (w, ctx, pruned) => planAscendWork(w.layers, ctx.places.get(w.tensor.fieldStart)!, pruned),
    streamLength: (a) => a.valuesLength + a.indexLength,
    writeStreams: (a, _ctx, out) => writeAscendStreams(a, out),
    edits: (a, ctx, at) => ascendEdits(ctx.src, a, at && { location: at.location, values: at.offset, index: at.offset + a.valuesLength }),
    modelEdits(works, { model, src }) {
      if (!works.length) return [];
      return [...(model.metadata[ASCEND_KEY] !== undefined ? removeMetadata(src, ASCEND_KEY) : []), { kind: 'append', message: 0, end: src.size, bytes: ascendModelFields(works, model) }];
    },
  },
  async verify(v, works) {
    await verifyAscend(v.report, v.staged, works, v.pattern, v.options.signal);
    v.report.notes.push('The Ascend model is for toolchains and inspection: ONNX Runtime cannot run its Compress ops.');
    v.report.runtime = { ran: false, note: 'the Ascend model uses custom ops that ONNX Runtime does not have', outputs: [] };
  },
};

/**
 * Layers pruned in place are re-inspected; each rewritten weight's values and index are read back from the written
 * file, decoded, and must equal the pruned weight bit for bit (pruned places hold the zero or the row's zero point).
 */
async function verifyAscend(report: ConvertReport, output: string, works: AscendWork[], pattern: Pattern, signal?: AbortSignal): Promise<void> {
  await verifyLayers(report, output, pattern, signal);
  const src = new FileSource(output);
  const externals = new ExternalFiles(output);
  try {
    const model = readSkeleton(src);
    const byName = new Map<string, TensorRef>();
    const visit = (g: ModelSkeleton['graph']) => {
      for (const t of g.initializers) byName.set(t.name, t);
      for (const n of g.nodes) for (const a of n.attributes.values()) [...(a.g ? [a.g] : []), ...(a.graphs ?? [])].forEach(visit);
    };
    visit(model.graph);
    const changesByName = new Map<string, LayerChange[]>();
    for (const c of report.layers) {
      const list = changesByName.get(c.name);
      if (list) list.push(c);
      else changesByName.set(c.name, [c]);
    }
    for (const w of works) {
      if (signal?.aborted) throw new CancelledError();
      const values = byName.get(w.valuesName);
      const index = byName.get(w.indexName);
      let same = false;
      if (values && index) {
        const read = (t: TensorRef) => {
          const r = openTensor(src, t, externals);
          return r.read(0, r.count).bytes;
        };
        const expected = weightMatrix(w.dtype, w.prune(), w.layer.shape!, w.layer.axis!, w.layer.zeroPoint);
        const size = expected.elementSize;
        const dense = decodeAscend({ rows: w.rows, cols: w.K, elementSize: size, values: read(values), index: read(index) }, expected.zero);
        same = true;
        for (let i = 0; i < expected.nonZero.length && same; i++) {
          // Non-zeros must come back exactly; zeros come back as the row's zero.
          const want = expected.nonZero[i] ? expected.bytes : expected.zero!;
          const at = expected.nonZero[i] ? i * size : Math.floor(i / w.K) * size;
          for (let b = 0; b < size; b++) if (dense[i * size + b] !== want[at + b]) same = false;
        }
      }
      for (const l of w.layers) for (const c of changesByName.get(l.name) ?? []) c.passesAfter = same;
    }
    report.verified = report.layers.every((c) => c.action === 'skip' || c.passesAfter === true);
  } finally {
    externals.close();
    src.close();
  }
}
