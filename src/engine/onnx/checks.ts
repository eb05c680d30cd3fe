// Spec checks: what onnx.checker rejects and this tool would otherwise read past silently, where it changes the
// answer: node order and cycles, names defined twice or never, a tensor with two data fields, an initializer whose
// type contradicts its declaration. Each kind becomes one model-level warning that says what is wrong, how often,
// a few examples, and what the tool assumed. One pass over each graph (and the fields readTensor noted): linear in
// the model's size (nodes, names, tensors), whatever it holds. https://onnx.ai/onnx/repo-docs/IR.html
import { displayName } from '../safeText';
import { dtypeName } from './dtypes';
import type { GraphSkeleton, ModelSkeleton, NodeSkeleton, TensorRef } from './skeleton';

/** Examples quoted per kind of problem: the count says how many there are. */
const EXAMPLES = 3;
/** Names inside a warning are cut shorter than in a table: a warning quotes several. */
const NAME = 80;

const q = (name: string) => `'${displayName(name, NAME)}'`;
const nodeLabel = (node: NodeSkeleton) => (node.name ? `node ${q(node.name)}` : `${displayName(node.opType, NAME)} node #${node.index}`);
const where = (graph: GraphSkeleton) => displayName(graph.path || graph.name, NAME);

/** One kind of problem: how many times it was seen, a few examples, and one sentence on what the tool did. */
class Finding {
  count = 0;
  readonly examples: string[] = [];
  constructor(
    readonly problem: string,
    readonly assumed: string,
  ) {}

  add(example: () => string): void {
    if (this.count++ < EXAMPLES) this.examples.push(example());
  }

  warning(): string {
    const more = this.count > this.examples.length ? `; ${this.count - this.examples.length} more` : '';
    return `${this.problem}; ${this.count} found: ${this.examples.join('; ')}${more}. ${this.assumed}`;
  }
}

function findings() {
  return {
    order: new Finding(
      'a node reads a value that a later node produces (ONNX requires nodes in topological order)',
      'The tool finds layers and their weights wherever the producers stand, as if the nodes were sorted; the speedup projection reads the main graph in stored order, so a shape that depends on a later node stays unknown.',
    ),
    cycle: new Finding(
      'the graph has a cycle (ONNX graphs are acyclic)',
      'The tool treats values on the cycle as computed at run time: a weight reached only through the cycle is not scanned, and their shapes stay unknown.',
    ),
    undefinedInput: new Finding(
      'a node reads a value that no node, initializer or graph input produces',
      'The tool treats such a value as given at run time: a layer whose weight it is has no stored weight to scan.',
    ),
    duplicateInitializer: new Finding(
      'two initializers share one name',
      'The tool reads the last one stored (a sparse_initializer after every initializer), as it resolves every name; the others are ignored, and convert leaves them as they are.',
    ),
    duplicateOutput: new Finding(
      'one name is produced twice (ONNX requires every value to be assigned once)',
      "The tool takes the value from the last node that produces it, and a node's output over an initializer or graph input of the same name.",
    ),
    twoDataFields: new Finding(
      'a tensor holds its values in two fields at once',
      'The tool reads one field, in this order: external data (data_location EXTERNAL), raw_data, then the typed field its data type prescribes; the others are ignored.',
    ),
    typeMismatch: new Finding(
      "an initializer's data type or dims differ from the graph input or value_info of the same name",
      "The tool uses the initializer's own data type and dims.",
    ),
  };
}

type Findings = ReturnType<typeof findings>;

/** What the enclosing graphs make visible to a subgraph: names defined so far, and every name they produce. */
interface Outer {
  graph: GraphSkeleton;
  /** Names defined before the node that holds the subgraph (a live set: the walk of that graph is paused there). */
  defined: ReadonlySet<string>;
  producers: ReadonlyMap<string, NodeSkeleton>;
  parent?: Outer;
}

/** The model-level warnings for `model`: empty for a model that passes these checks. */
export function checkModel(model: ModelSkeleton): string[] {
  const found = findings();
  checkGraph(model.graph, undefined, found);
  for (const fn of model.functions) checkGraph(fn, undefined, found);
  return Object.values(found)
    .filter((f) => f.count > 0)
    .map((f) => f.warning());
}

function checkGraph(graph: GraphSkeleton, outer: Outer | undefined, found: Findings): void {
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  const initializerNames = new Map<string, number>();
  const tensors = [...graph.initializers, ...graph.sparseInitializers];
  for (const t of tensors) {
    const seen = (initializerNames.get(t.name) ?? 0) + 1;
    initializerNames.set(t.name, seen);
    if (seen === 2) found.duplicateInitializer.add(() => `${q(t.name)} in ${where(graph)}`);
    checkTensor(t, graph, found);
  }
  checkDeclaredTypes(graph, found);

  // Who produces each name (the last node, as the tool resolves it); names produced twice.
  const producers = new Map<string, NodeSkeleton>();
  for (const node of graph.nodes) {
    for (const out of node.outputs) {
      if (!out) continue; // an optional output left out
      const earlier = producers.get(out);
      if (earlier) found.duplicateOutput.add(() => `${q(out)} by ${nodeLabel(earlier)} and ${nodeLabel(node)} in ${where(graph)}`);
      else if (initializerNames.has(out)) found.duplicateOutput.add(() => `${q(out)} by an initializer and ${nodeLabel(node)} in ${where(graph)}`);
      else if (inputNames.has(out)) found.duplicateOutput.add(() => `${q(out)} by a graph input and ${nodeLabel(node)} in ${where(graph)}`);
      producers.set(out, node);
    }
  }

  // In stored order: each input must be defined already, here or in an enclosing graph before the holding node.
  const defined = new Set<string>([...inputNames, ...initializerNames.keys()]);
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      if (!input || defined.has(input)) continue;
      const later = producers.get(input);
      if (later) {
        found.order.add(() => `${nodeLabel(node)} reads ${q(input)} from ${later === node ? 'itself' : `${nodeLabel(later)} after it`} in ${where(graph)}`);
        continue;
      }
      checkOuter(input, node, graph, outer, found);
    }
    for (const attr of node.attributes.values()) {
      if (attr.t) checkTensor(attr.t, graph, found);
      for (const sub of [...(attr.g ? [attr.g] : []), ...(attr.graphs ?? [])]) checkGraph(sub, { graph, defined, producers, parent: outer }, found);
    }
    for (const out of node.outputs) if (out) defined.add(out);
  }
  checkCycles(graph, producers, found);
}

/** A name not defined in its own graph: visible from an enclosing one, defined there too late, or nowhere. */
function checkOuter(input: string, node: NodeSkeleton, graph: GraphSkeleton, outer: Outer | undefined, found: Findings): void {
  for (let o = outer; o; o = o.parent) {
    if (o.defined.has(input)) return;
    const later = o.producers.get(input);
    if (later) {
      found.order.add(() => `${nodeLabel(node)} in ${where(graph)} reads ${q(input)} from ${nodeLabel(later)} of ${where(o.graph)}, which stands after the node holding the subgraph`);
      return;
    }
  }
  found.undefinedInput.add(() => `${nodeLabel(node)} reads ${q(input)} in ${where(graph)}`);
}

/**
 * Kahn's algorithm over the graph's own edges (a node's inputs produced by nodes of the same graph): nodes never
 * freed lie on a cycle or after one; following unfreed producers from one of them must come back to a node seen.
 */
function checkCycles(graph: GraphSkeleton, producers: ReadonlyMap<string, NodeSkeleton>, found: Findings): void {
  const nodes = graph.nodes;
  const waiting = new Int32Array(nodes.length);
  const consumers: number[][] = nodes.map(() => []);
  nodes.forEach((node, i) => {
    for (const input of node.inputs) {
      const producer = input ? producers.get(input) : undefined;
      if (!producer) continue;
      waiting[i]++;
      consumers[producer.index].push(i);
    }
  });
  const ready: number[] = [];
  waiting.forEach((n, i) => n === 0 && ready.push(i));
  let freed = 0;
  while (ready.length) {
    const i = ready.pop()!;
    freed++;
    for (const c of consumers[i]) if (--waiting[c] === 0) ready.push(c);
  }
  if (freed === nodes.length) return;
  found.cycle.add(() => {
    const step = new Map<NodeSkeleton, number>();
    const path: NodeSkeleton[] = [];
    let current = nodes[waiting.findIndex((n) => n > 0)];
    while (!step.has(current)) {
      step.set(current, path.length);
      path.push(current);
      const next = current.inputs.map((input) => (input ? producers.get(input) : undefined)).find((p) => p && waiting[p.index] > 0)!;
      current = next;
    }
    const cycle = path.slice(step.get(current));
    const shown = cycle.slice(0, 4).map(nodeLabel);
    return `${[...shown, cycle.length > 4 ? `${cycle.length - 4} more` : nodeLabel(cycle[0])].join(' -> ')} in ${where(graph)}`;
  });
}

/** Initializers against the graph inputs and value_info declaring the same name (unknown types and dims pass). */
function checkDeclaredTypes(graph: GraphSkeleton, found: Findings): void {
  const declared = new Map([...graph.inputs, ...graph.valueInfo].map((v) => [v.name, v]));
  for (const t of [...graph.initializers, ...graph.sparseInitializers]) {
    const info = declared.get(t.name);
    if (!info || t.problem) continue;
    const typeDiffers = info.elemType !== undefined && info.elemType !== 0 && info.elemType !== t.dtype;
    const dimsDiffer = info.dims !== undefined && (info.dims.length !== t.dims.length || info.dims.some((d, i) => typeof d === 'number' && d !== t.dims[i]));
    if (!typeDiffers && !dimsDiffer) continue;
    found.typeMismatch.add(() => {
      const declaredAs = `${info.elemType ? dtypeName(info.elemType) : '?'} [${(info.dims ?? []).map((d) => (d === null ? '?' : typeof d === 'number' ? d : displayName(d, NAME))).join(', ')}]`;
      return `${q(t.name)} in ${where(graph)} is stored as ${dtypeName(t.dtype)} [${t.dims.join(', ')}], declared ${declaredAs}`;
    });
  }
}

/** A tensor (or a sparse tensor's values and indices) whose message holds values in more than one field. */
function checkTensor(tensor: TensorRef, graph: GraphSkeleton, found: Findings): void {
  if (tensor.data.kind === 'sparse') {
    checkTensor(tensor.data.values, graph, found);
    checkTensor(tensor.data.indices, graph, found);
    return;
  }
  if (tensor.problem) return; // its layer already fails, with why
  // readTensor noted the fields as it walked them.
  const fields = tensor.valueFields;
  if (!fields) return;
  const read = tensor.data.kind === 'external' ? 'external data' : tensor.data.kind === 'raw' ? 'raw_data' : tensor.data.kind === 'typed' ? tensor.data.field : 'none of them';
  found.twoDataFields.add(() => `${q(tensor.name)} in ${where(graph)} has ${fields.join(' and ')}: read ${read}`);
}

