// The tensors of a model and the files they are read from: what a command must never overwrite.
import { type ModelSkeleton, type TensorRef, readSkeleton } from './skeleton';
import { FileSource } from './source';
import { resolveExternalPath } from './tensorData';

/** Every tensor of the model (initializers, Constant values, sparse initializers) in every graph. */
export function allTensors(model: ModelSkeleton): TensorRef[] {
  const out: TensorRef[] = [];
  const visit = (g: ModelSkeleton['graph']) => {
    // No spread: a graph may hold more tensors than a call takes arguments.
    for (const t of g.initializers) out.push(t);
    for (const t of g.sparseInitializers) out.push(t);
    for (const node of g.nodes) {
      for (const attr of node.attributes.values()) {
        if (attr.t) out.push(attr.t);
        if (attr.g) visit(attr.g);
        for (const sub of attr.graphs ?? []) visit(sub);
      }
    }
  };
  visit(model.graph);
  model.functions.forEach(visit);
  return out;
}

/** The external data files a model reads, resolved (those that cannot be resolved are reported by their layers). */
export function externalInputFiles(model: ModelSkeleton, path: string): string[] {
  const files = new Set<string>();
  for (const t of allTensors(model)) {
    if (t.data.kind !== 'external') continue;
    try {
      files.add(resolveExternalPath(path, t.data.location));
    } catch {
      // reported by the layer that uses it
    }
  }
  return [...files];
}

/** The model file and every external data file it reads; just the model when it cannot be read. */
export function modelInputFiles(path: string): string[] {
  let src: FileSource | undefined;
  try {
    src = new FileSource(path);
    return [path, ...externalInputFiles(readSkeleton(src), path)];
  } catch {
    return [path];
  } finally {
    src?.close();
  }
}
