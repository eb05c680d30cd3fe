// One seam per output format. A format says which action its converted layers take, why a weight cannot take it
// (that weight is then pruned in place or left unchanged), how it plans, writes and edits a weight it takes, and how
// its output is verified. A new format is one module here plus one entry in FORMATS (src/engine/convert/formats/index.ts).
import type { ModelSkeleton } from '../../onnx/skeleton';
import type { ByteSource } from '../../onnx/source';
import type { ExternalFiles } from '../../onnx/tensorData';
import type { Edit, Out } from '../../onnx/writer';
import type { OutputTransaction } from '../../outputs';
import type { LayerReport } from '../../sparsity/inspect';
import type { Pattern } from '../../sparsity/pattern';
import type { TensorPlace } from '../compressEdits';
import type { ConvertMode } from '../paths';
import type { ConvertOptions, ConvertReport, LayerAction, WeightWork } from '../types';

/** What a format reads while it plans and edits: the input model, where its tensors live, the pattern. */
export interface FormatContext {
  model: ModelSkeleton;
  src: ByteSource;
  externals: ExternalFiles;
  pattern: Pattern;
  /** Every initializer and Constant value of the main graph and its subgraphs, by field start. */
  places: Map<number, TensorPlace>;
  /** The default-domain opset of the input. */
  opset: number;
  /** The inspection of the input, by layer name. */
  reports: Map<string, LayerReport>;
}

/** Where a rewritten weight's streams start in the output's external data file. */
export interface StreamPlacement {
  location: string;
  offset: number;
}

/** The written output, staged in the work folder, and what verification may use. */
export interface VerifyContext {
  report: ConvertReport;
  outputs: OutputTransaction;
  /** The staged output model (in the work folder). */
  staged: string;
  input: string;
  model: ModelSkeleton;
  pattern: Pattern;
  options: ConvertOptions;
}

/** How a format replaces a weight it takes: plan, streams for the data file, graph edits, model-wide edits. */
export interface WeightRewrite<W> {
  /** How a layer left in place is described: '<pruned in place | already compliant>, <fallback>: <why>'. */
  fallback: string;
  /** Why this weight cannot take the format, or undefined when it can. */
  whyNot(work: WeightWork, ctx: FormatContext): string | undefined;
  /** Plans the rewrite; `pruned` reads and prunes the weight on demand (one weight in memory at a time). */
  plan(work: WeightWork, ctx: FormatContext, pruned: () => Uint8Array): W;
  /** Bytes of the weight's streams in the external data file. */
  streamLength(rewrite: W): number;
  writeStreams(rewrite: W, ctx: FormatContext, out: Out): void;
  /** The graph edits that replace the weight (streams inline, or in the data file at `external`). */
  edits(rewrite: W, ctx: FormatContext, external?: StreamPlacement): Edit[];
  /** Model-wide edits once every weight is planned (metadata listing the rewritten weights). */
  modelEdits(rewrites: W[], ctx: FormatContext): Edit[];
}

export interface OutputFormat<W = unknown> {
  mode: ConvertMode;
  /** The action of a selected layer: `pass` says whether it already passes the pattern. */
  action(pass: boolean): LayerAction;
  /** A refusal for the whole model (e.g. a pattern the format cannot encode), or undefined. */
  refuse?(pattern: Pattern): string | undefined;
  /** Absent for prune in place: every selected weight is pruned where it is stored. */
  rewrite?: WeightRewrite<W>;
  /** Verifies the staged output: sets report.verified, runtime and exact (`rewrites` empty: nothing was rewritten). */
  verify(v: VerifyContext, rewrites: W[]): Promise<void>;
}
