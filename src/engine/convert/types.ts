// The vocabulary of a conversion: what the caller asks for (options, layer selection), what the report says, and
// the unit of work (one weight and the layers that read it). Shared by plan, write, verify and the output formats.
import type { TensorRef } from '../onnx/skeleton';
import type { InspectReport } from '../sparsity/inspect';
import type { ShapeInfo } from '../sparsity/kernel';
import type { LayerPlan } from '../sparsity/layers';
import type { Pattern } from '../sparsity/pattern';
import type { ConvertMode } from './paths';
import type { PermutationReport } from './permute/types';
import type { PruneTotals } from './prune';
import type { RuntimeChoice, RuntimeComparison } from './runtime';

export interface LayerSelection {
  /** Only layers whose name matches. */
  only?: RegExp;
  /** Not the layers whose name matches. */
  skip?: RegExp;
  /** Not layers with fewer weight elements. */
  minParams?: number;
  /** Not the first eligible layer in graph order (stem convolutions are sensitive: ASP and INC users skip them). */
  skipFirst?: boolean;
  /** Not the last eligible layer in graph order (the classifier head). */
  skipHead?: boolean;
  /** Only eligible layers that do not pass the pattern yet (the extension's "failing layers only"). */
  failingOnly?: boolean;
}

export interface ConvertOptions extends LayerSelection {
  mode: ConvertMode;
  pattern?: Pattern;
  /** Output path; default next to the input: NAME.pruned-2of4.onnx. */
  out?: string;
  /** Replace an existing output. */
  force?: boolean;
  /** Plan and report only; write nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Told the work folder (next to the output) while one exists, so a host can remove it on a hard exit. */
  onWorkFolder?: (path: string | null) => void;
  /** Values of symbolic input dimensions for the runtime comparison (default 1). */
  dims?: Record<string, number>;
  /** Which ONNX Runtime compares the outputs (default auto: native when installed, else WebAssembly). */
  verifyRuntime?: RuntimeChoice;
  /**
   * The caller's inspection of this model with this pattern (the panel already holds one): used instead of inspecting
   * again when its pattern and file size match; otherwise the model is inspected here.
   */
  inspection?: InspectReport;
}

export type LayerAction = 'prune' | 'compress' | 'rewrite' | 'unchanged' | 'skip';

export interface LayerChange {
  name: string;
  op: string;
  graph: string;
  weight: string;
  shape: number[] | null;
  dtype: string | null;
  axis: number | null;
  action: LayerAction;
  /** Why a layer is skipped or left unchanged. */
  reason: string | null;
  /** Before conversion. */
  compliance: number | null;
  violatingGroups: number | null;
  /** Fraction of sum |w| kept; 1 for layers left unchanged; null for skipped layers. */
  retainedMagnitude: number | null;
  /** Elements set to zero (or the zero point). */
  prunedElements: number;
  /** After conversion, from re-reading the output: whether the layer passes the pattern. */
  passesAfter: boolean | null;
}

export interface ConvertReport {
  model: string;
  output: string | null;
  dataFile: string | null;
  mode: ConvertMode;
  pattern: string;
  dryRun: boolean;
  /** Whether the output files are in place: false for a dry run and when verification failed (nothing is kept then). */
  written: boolean;
  layers: LayerChange[];
  summary: {
    pruned: number;
    compressed: number;
    /** Ascend mode: layers rewritten to the Compress ops. */
    rewritten: number;
    unchanged: number;
    skipped: number;
    prunedElements: number;
    /** Over the converted weights: sum |w| kept / sum |w|. */
    retainedMagnitude: number | null;
    sizeBefore: number;
    sizeAfter: number | null;
  };
  /** Re-reading the output: every converted layer passes the pattern. */
  verified: boolean | null;
  /** Both models run in ONNX Runtime on the same generated inputs, every output compared. */
  runtime: RuntimeComparison | null;
  /** Compress mode: the compressed model against its decompressed (dense pruned) form in ONNX Runtime: identical. */
  exact: RuntimeComparison | null;
  /** Where the input breaks the ONNX spec and what the tool assumed (as in the inspection); the output keeps those assumptions. */
  warnings: string[];
  notes: string[];
  /** convert --permute: per layer, the magnitude kept with and without the channel permutation, or why it was refused. */
  permutation?: PermutationReport;
}

/** One weight tensor to convert, with every layer that consumes it. */
export interface WeightWork {
  tensor: TensorRef;
  layers: LayerPlan[];
  shape: ShapeInfo;
  totals: PruneTotals;
}
