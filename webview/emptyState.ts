// A report without a single layer (issue 14 item 3): instead of "0 layers" and an empty heatmap, what the model holds,
// that none of it carries a weight this tool reads, the weight-bearing ops it counted but does not know, and what it
// reads.
import type { InspectReport } from '../src/engine/sparsity/inspect';
import { readWeightOps } from '../src/engine/sparsity/graphOps';
import { el } from './dom';
import { count } from './format';

/** Op kinds named before "and N more kinds". */
const OPS_NAMED = 12;

type OpCount = InspectReport['unrecognized'][number];

const opText = (o: OpCount) => `${count(o.nodes)} ${o.op}${o.domain ? ` (${o.domain})` : ''}`;

function opList(ops: OpCount[]): string {
  const named = ops.slice(0, OPS_NAMED).map(opText).join(', ');
  return ops.length > OPS_NAMED ? `${named} and ${ops.length - OPS_NAMED} more kinds` : named;
}

/** The explanation, or null when the report has layers. */
export function emptyModelView(report: InspectReport): HTMLElement | null {
  if (report.layers.length > 0) return null;
  const { standard, contrib, through } = readWeightOps();
  const nodes = (report.graphOps ?? []).reduce((n, o) => n + o.nodes, 0);
  const unknown = report.unrecognized.reduce((n, o) => n + o.nodes, 0);
  const seen =
    report.modelFormat === 'safetensors'
      ? 'This checkpoint holds no tensor that this tool reads as a layer’s weight.'
      : report.graphOps
        ? `The model has ${count(nodes)} node${nodes === 1 ? '' : 's'}: ${opList(report.graphOps)}. None of them takes a constant weight of an op this tool reads.`
        : 'None of the model’s nodes takes a constant weight of an op this tool reads.';
  return el(
    'section',
    { class: 'empty-model', id: 'empty-model', role: 'note', 'aria-label': 'Why there are no layers' },
    el('h3', {}, 'No layers to scan'),
    el('p', { id: 'empty-seen' }, seen),
    unknown > 0 &&
      el('p', { id: 'empty-unknown' }, `It counted ${count(unknown)} node${unknown === 1 ? '' : 's'} with constant weights of ops it does not know: ${opList(report.unrecognized)}.`),
    el(
      'p',
      { id: 'empty-supported' },
      `Weights are read from ${standard.join(', ')} and ONNX Runtime’s ${contrib.join(', ')} (com.microsoft), where the weight is a constant (an initializer, a Constant node, a sparse initializer) or reaches the op through ${through.join(', ')}.`,
    ),
  );
}
