// The report as overlays for the viewers users already open (issue 16). Netron: a `netron:attachment` JSON
// (lutzroeder/netron source/metadata.js: {signature, metadata: [...], metrics: [...]}, each item {kind, target,
// name, value, type?}, matched to a node by its name's first line and to a tensor by its name; 'model' items take
// target ''). Google Model Explorer: node data for one graph (model-explorer's NodeDataProviderGraphData: {name,
// results: {node key: {value}}, thresholds}), keyed by node name, or by a node's first output where it has no name
// (the keys Model Explorer matches). Both say in their own model-level entry what they could not attach.
import type { InspectReport, LayerReport } from '../sparsity/inspect';
import { layerStatus } from './format';

interface NetronItem {
  kind: 'model' | 'graph' | 'node' | 'tensor';
  target: string;
  name: string;
  value: string | number;
  type?: string;
}

/** Netron's own rules (metadata.js): a name is matched by its first line only, and an item without one is dropped. */
const netronName = (name: string) => name.split('\n')[0];

export function formatNetron(report: InspectReport): string {
  const pattern = report.pattern;
  const metadata: NetronItem[] = [];
  const metrics: NetronItem[] = [];
  const s = report.summary;
  metadata.push({ kind: 'model', target: '', name: 'sparsity-lens', value: `${pattern}: ${s.passing} of ${s.eligible} eligible layers pass, ${s.ineligible} ineligible, ${s.errors} unreadable` });
  if (s.compliance !== null) metrics.push({ kind: 'model', target: '', name: `${pattern} compliance`, value: s.compliance, type: 'percentage' });
  let unnamed = 0;
  for (const layer of report.layers) {
    const items = layerItems(layer, pattern);
    // The weight tensor always has a name; the node, where it has one (checkpoints have no nodes).
    if (layer.weight) for (const item of items) metrics.push({ kind: 'tensor', target: netronName(layer.weight), ...item });
    if (layer.node?.name) for (const item of items) metrics.push({ kind: 'node', target: netronName(layer.node.name), ...item });
    else if (layer.node) unnamed++;
  }
  if (unnamed > 0) metadata.push({ kind: 'model', target: '', name: 'sparsity-lens note', value: `${unnamed} layer node${unnamed > 1 ? 's have' : ' has'} no name: Netron shows their figures on the weight tensor only` });
  return `${JSON.stringify({ signature: 'netron:attachment', metadata, metrics }, null, 2)}\n`;
}

function layerItems(layer: LayerReport, pattern: string): Omit<NetronItem, 'kind' | 'target'>[] {
  const status = layerStatus(layer);
  const items: Omit<NetronItem, 'kind' | 'target'>[] = [{ name: `${pattern} status`, value: status === 'INELIGIBLE' || status === 'ERROR' ? `${status}: ${layer.reason ?? layer.error ?? ''}` : status }];
  if (layer.compliance !== null) {
    items.push({ name: `${pattern} compliance`, value: layer.compliance, type: 'percentage' });
    items.push({ name: `${pattern} valid groups`, value: `${layer.validGroups}/${layer.groups}` });
  }
  if (layer.retainedMagnitude !== null) items.push({ name: `${pattern} retained magnitude if pruned`, value: layer.retainedMagnitude, type: 'percentage' });
  for (const [target, verdict] of Object.entries(layer.deploy ?? {})) {
    if (!verdict) continue;
    items.push({ name: `runs sparse on ${target}`, value: verdict.sparse ? 'yes' : `no: ${verdict.reasons.join('; ')}${verdict.fix ? ` (fix: ${verdict.fix})` : ''}` });
  }
  return items;
}

/** Model Explorer colours: failing (<= 50 %), nearly (<= 99.99 %), passing (100 %). */
const THRESHOLDS = [
  { value: 50, bgColor: '#e57373' },
  { value: 99.99, bgColor: '#ffd54f' },
  { value: 100, bgColor: '#81c784' },
];

export function formatModelExplorer(report: InspectReport): string {
  const results: Record<string, { value: number }> = {};
  let notColoured = 0;
  for (const layer of report.layers) {
    const key = layer.node ? layer.node.name || layer.node.output : null;
    if (!key || layer.compliance === null) {
      notColoured++;
      continue;
    }
    // Percent with two decimals, as the panel shows it; a node with two layers (e.g. fused weights) keeps the lower.
    const value = Math.floor(layer.compliance * 10000) / 100;
    results[key] = { value: Math.min(value, results[key]?.value ?? Infinity) };
  }
  const name = `${report.pattern} compliance, % (Sparsity Lens${notColoured ? `; ${notColoured} layer${notColoured > 1 ? 's' : ''} not coloured: ineligible, unreadable or without a graph node` : ''})`;
  return `${JSON.stringify({ name, results, thresholds: THRESHOLDS }, null, 2)}\n`;
}
