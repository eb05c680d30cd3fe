// "Will this layer actually run sparse?" (issue 13): the shapes of the per-layer, per-target verdicts that the
// report carries (`layers[].deploy`, `summary.deploy`), shared by the engine, the CLI and the panel. The rules that
// decide them live as data in rules.ts, each with its source.

/** Deployment targets, as the JSON keys and `--target` name them. */
export const TARGET_IDS = [
  'tensorrt-sm80',
  'tensorrt-sm89',
  'tensorrt-sm90',
  'tensorrt-sm100',
  'tensorrt-llm',
  'cusparselt',
  'pytorch',
  'ascend-atc',
  'intel-xeon',
] as const;

export type TargetId = (typeof TARGET_IDS)[number];

/** The precision the engine will be built with (`--precision`); by default each weight runs in the one it is stored in. */
export type DeployPrecision = 'stored' | 'fp16' | 'bf16' | 'int8' | 'fp8';

/** One layer on one target. */
export interface DeployVerdict {
  /** A sparse kernel applies and would be chosen. */
  sparse: boolean;
  /** Why not, in plain words (empty when sparse); or, when sparse, anything the user should still know. */
  reasons: string[];
  /** What would make it run sparse, when something would. */
  fix?: string;
  /** Ids of the rules (rules.ts) that decided it, for the README's table and for tests. */
  rules: string[];
  /** With a projection: projected dense and sparse times on this target's profile, seconds. */
  denseTime?: number | null;
  sparseTime?: number | null;
}

/** One target over the whole model. */
export interface DeploySummary {
  target: TargetId;
  /** Plain name, e.g. "TensorRT on Hopper (SM90)". */
  name: string;
  /** Eligible layers given a verdict, and how many of them run sparse. */
  layers: number;
  sparseLayers: number;
  /** Weight elements of those layers, and of the ones that run sparse. */
  parameters: number;
  sparseParameters: number;
  /** Share of the model's projected dense time spent in layers that run sparse; null without a projection. */
  sparseTimeShare: number | null;
  /** Projected end-to-end speedup on this target; null without a projection. */
  speedup: number | null;
  /** The hardware profile its times come from (profiles.ts); null where none applies. */
  profile: string | null;
}
