// The output formats of convert, one entry per --mode: a new format is one module and one line here.
import type { ConvertMode } from '../paths';
import { ascendFormat } from './ascend';
import { compressFormat } from './compress';
import type { OutputFormat } from './format';
import { pruneFormat } from './inPlace';

export const FORMATS: Record<ConvertMode, OutputFormat> = {
  prune: pruneFormat,
  compress: compressFormat as OutputFormat,
  ascend: ascendFormat as OutputFormat,
};

export type { FormatContext, OutputFormat, StreamPlacement, VerifyContext, WeightRewrite } from './format';
