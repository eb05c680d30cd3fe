// `sparsity-lens convert`: prune a model to N:M, write the output next to it, verify it.
import { parseArgs } from 'node:util';
import { type ConvertMode, type ConvertReport, convertModel } from '../engine/convert/convert';
import { parsePattern } from '../engine/sparsity/pattern';
import { formatConvert } from '../engine/report/convertFormat';
import { EXIT, UsageError, type CommandContext, numberArgument, regexArgument } from './common';
import { ProgressBar } from './progress';

export const CONVERT_HELP = `Usage: sparsity-lens convert MODEL --mode prune|compress [options]

prune: every selected eligible layer is pruned to N:M by magnitude along its reduction axis (the N
largest |w|, or |q - zero_point| for integer weights, of each group survive; ties keep the earlier
position). Layers already compliant are left byte-identical.
compress: pruned, then stored as kept values + a packed position stream, rebuilt at load time by a
small decode graph of standard ONNX ops (opset >= 11): the model still runs in ONNX Runtime, with
outputs bit-identical to the pruned model, and is smaller (about 9/16 of fp16 weights at 2:4).
Weights that cannot take that form (per-channel zero points, 4/64-bit types, weights in functions) are
pruned in place and the report says why. 'sparsity-lens decompress' restores the dense pruned model.

The output is written next to MODEL, then re-read (compressed weights decoded) and checked: every
converted layer must pass. The input is never modified; outputs are written atomically.

One-shot pruning without fine-tuning loses accuracy: sparse-training flows (ASP, SR-STE, AMCT, INC)
retrain after pruning.

Options:
  --mode MODE           prune or compress
  --pattern N:M         default 2:4 (N = most non-zeros kept per group of M)
  --out PATH            output model (default: MODEL.pruned-2of4.onnx / .compressed-2of4.onnx next to
                        MODEL); external data goes
                        to PATH without .onnx + .data
  --only REGEX          only layers whose name matches
  --skip REGEX          not the layers whose name matches
  --min-params N        not layers with fewer than N weights
  --skip-first          not the first eligible layer (the stem)
  --skip-head           not the last eligible layer (the classifier head)
  --force               replace an existing output
  --dry-run             print what would change; write nothing
  --format FORMAT       table (default) or json
  -h, --help            this help

Exit codes: 0 ok, 1 the output failed verification, 2 bad input or usage, 130 interrupted.
`;

const MODES: ConvertMode[] = ['prune', 'compress', 'ascend'];

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
      force: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      format: { type: 'string', default: 'table' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    ctx.stdout(CONVERT_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('convert needs exactly one MODEL path', CONVERT_HELP);
  const mode = values.mode as ConvertMode;
  if (!MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}`);
  const pattern = parsePattern(values.pattern!);
  if (typeof pattern === 'string') throw new UsageError(pattern);
  if (values.format !== 'table' && values.format !== 'json') throw new UsageError('--format must be table or json');
  let minParams: number | undefined;
  if (values['min-params'] !== undefined) {
    minParams = numberArgument(values['min-params']);
    if (!Number.isInteger(minParams) || minParams < 0) throw new UsageError('--min-params needs a whole number >= 0');
  }
  const bar = new ProgressBar('pruning');
  let report: ConvertReport;
  try {
    report = await convertModel(positionals[0], {
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
      signal: ctx.signal,
      onProgress: (done, total) => bar.update(done, total),
    });
  } finally {
    bar.clear();
  }
  ctx.stdout(values.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatConvert(report));
  return report.verified === false ? EXIT.gate : EXIT.ok;
}
