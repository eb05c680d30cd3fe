// `sparsity-lens decompress`: a portable compressed model back to the dense pruned model, bit for bit.
import { parseArgs } from 'node:util';
import { decompressModel } from '../engine/convert/decompress';
import { DECOMPRESS_HELP } from './help';
import { EXIT, UsageError, type CommandContext } from './common';
import { refuseCheckpoint } from './checkpoints';

export async function decompressCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
      format: { type: 'string', default: 'table' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    ctx.stdout(DECOMPRESS_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('decompress needs exactly one MODEL path', DECOMPRESS_HELP);
  refuseCheckpoint(positionals[0], 'decompress');
  if (values.format !== 'table' && values.format !== 'json') throw new UsageError('--format must be table or json');
  const report = await decompressModel(positionals[0], { out: values.out, force: values.force, signal: ctx.signal, onWorkFolder: ctx.onWorkFolder });
  if (values.format === 'json') ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const lines = [`model: ${report.model}`, `output: ${report.output}${report.dataFile ? ` (external data: ${report.dataFile})` : ''}`];
    for (const w of report.weights) lines.push(`  ${w.name} [${w.dims.join('x')}] ${w.dtype} ${w.pattern}: decoded`);
    lines.push(`size: ${report.sizeBefore} -> ${report.sizeAfter} bytes`);
    ctx.stdout(lines.join('\n') + '\n');
  }
  return EXIT.ok;
}
