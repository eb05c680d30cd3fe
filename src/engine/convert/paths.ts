// Where outputs go by default: next to the input, with a suffix that says what was done. Kept apart from the
// converter so that the extension host can name outputs without loading the engine.
import { basename, dirname, extname, join } from 'node:path';
import type { Pattern } from '../sparsity/pattern';

export type ConvertMode = 'prune' | 'compress' | 'ascend';

const SUFFIX: Record<ConvertMode, string> = { prune: 'pruned', compress: 'compressed', ascend: 'ascend' };

export function defaultOutputPath(model: string, mode: ConvertMode, pattern: Pattern): string {
  const ext = extname(model) || '.onnx';
  return join(dirname(model), `${basename(model, extname(model))}.${SUFFIX[mode]}-${pattern.n}of${pattern.m}${ext}`);
}

