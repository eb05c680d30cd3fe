// Why a model has no layer (issue 14 item 3): every op it holds, counted, and the ops whose weights this tool reads,
// so that an empty report says what it saw instead of "0 layers, 0 parameters".
import type { GraphSkeleton, ModelSkeleton } from '../onnx/skeleton';
import type { UnrecognizedOp } from './layers';
import { CHAIN_OPS, OP_RULES } from './opTable';

/** Contrib ops read outside OP_RULES (layers.ts plans them itself: packed codes and experts). */
const PLANNED_CONTRIB_OPS = ['MatMulNBits', 'MoE', 'QMoE'];

/** Every node of the model, its subgraphs (If, Loop, Scan) and its functions, counted by op and domain, most first. */
export function countGraphOps(model: ModelSkeleton): UnrecognizedOp[] {
  const counts = new Map<string, UnrecognizedOp>();
  const seen = new Set<GraphSkeleton>();
  const visit = (graph: GraphSkeleton) => {
    if (seen.has(graph)) return;
    seen.add(graph);
    for (const node of graph.nodes) {
      const domain = node.domain === 'ai.onnx' ? '' : node.domain;
      const key = `${domain}\u0000${node.opType}`;
      const entry = counts.get(key);
      if (entry) entry.nodes++;
      else counts.set(key, { op: node.opType, domain, nodes: 1 });
      for (const attr of node.attributes.values()) {
        if (attr.g) visit(attr.g);
        for (const sub of attr.graphs ?? []) visit(sub);
      }
    }
  };
  visit(model.graph);
  model.functions.forEach(visit);
  return [...counts.values()].sort((a, b) => b.nodes - a.nodes || a.op.localeCompare(b.op) || a.domain.localeCompare(b.domain));
}

/** The ops whose constant weights this tool reads (ONNX's, ONNX Runtime's contrib ops), and the ops a weight may pass through. */
export function readWeightOps(): { standard: string[]; contrib: string[]; through: string[] } {
  return { standard: Object.keys(OP_RULES['ai.onnx']), contrib: [...Object.keys(OP_RULES['com.microsoft']), ...PLANNED_CONTRIB_OPS], through: [...CHAIN_OPS] };
}
