// `sparsity-lens convert`: prune a model to N:M, write the output next to it, verify it.
import { parseArgs } from 'node:util';
import { type ConvertMode, type ConvertReport, convertModel } from '../engine/convert/convert';
import { convertWithPermutation } from '../engine/convert/permute/permute';
import type { RuntimeChoice } from '../engine/convert/runners';
import { parsePattern } from '../engine/sparsity/pattern';
import { formatConvert, formatConvertJson } from '../engine/report/convertFormat';
import { CONVERT_HELP } from './help';
import { EXIT, UsageError, type CommandContext, numberArgument, regexArgument } from './common';
import { refuseCheckpoint } from './checkpoints';
import { ProgressBar } from './progress';

const MODES: ConvertMode[] = ['prune', 'compress', 'ascend'];
const RUNTIME_CHOICES: RuntimeChoice[] = ['auto', 'native', 'wasm'];

export async function convertCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      mode: { type: 'string' },
      pattern: { type: 'string', default: '2:4' },
      out: { type: 'string' },
      only: { type: 'string' },
      skip: { type: 'string' },
      'min-params': { type: 'string' },
      'skip-first': { type: 'boolean', default: false },
      'skip-head': { type: 'boolean', default: false },
      permute: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      'verify-runtime': { type: 'string', default: 'auto' },
      format: { type: 'string', default: 'table' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    ctx.stdout(CONVERT_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('convert needs exactly one MODEL path', CONVERT_HELP);
  refuseCheckpoint(positionals[0], 'convert');
  const mode = values.mode as ConvertMode;
  if (!MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}`);
  const pattern = parsePattern(values.pattern!);
  if (typeof pattern === 'string') throw new UsageError(pattern);
  if (values.format !== 'table' && values.format !== 'json') throw new UsageError('--format must be table or json');
  const verifyRuntime = values['verify-runtime'] as RuntimeChoice;
  if (!RUNTIME_CHOICES.includes(verifyRuntime)) throw new UsageError(`--verify-runtime must be one of ${RUNTIME_CHOICES.join(', ')}`);
  let minParams: number | undefined;
  if (values['min-params'] !== undefined) {
    minParams = numberArgument(values['min-params']);
    if (!Number.isInteger(minParams) || minParams < 0) throw new UsageError('--min-params needs a whole number >= 0');
  }
  const bar = new ProgressBar('pruning');
  const searchBar = new ProgressBar('searching channel permutations');
  let report: ConvertReport;
  try {
    const convert = values.permute ? convertWithPermutation : convertModel;
    report = await convert(positionals[0], {
      mode,
      pattern,
      out: values.out,
      only: regexArgument('--only', values.only),
      skip: regexArgument('--skip', values.skip),
      minParams,
      skipFirst: values['skip-first'],
      skipHead: values['skip-head'],
      force: values.force,
      dryRun: values['dry-run'],
      verifyRuntime,
      signal: ctx.signal,
      onWorkFolder: ctx.onWorkFolder,
      onProgress: (done, total) => bar.update(done, total),
      onPermuteProgress: (done, total) => (done < total ? searchBar.update(done, total) : searchBar.clear()),
    });
  } finally {
    searchBar.clear();
    bar.clear();
  }
  ctx.stdout(values.format === 'json' ? formatConvertJson(report) : formatConvert(report));
  return report.verified === false ? EXIT.gate : EXIT.ok;
}
