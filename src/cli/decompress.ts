// `sparsity-lens decompress`: a portable compressed model back to the dense pruned model, bit for bit.
import { parseArgs } from 'node:util';
import { decompressModel } from '../engine/convert/decompress';
import { DECOMPRESS_HELP } from './help';
import { EXIT, UsageError, type CommandContext } from './common';
import { isCheckpointPath } from '../engine/safetensors/checkpoint';
import { decompressCheckpoint } from '../engine/safetensors/decompress';

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
  if (values.format !== 'table' && values.format !== 'json') throw new UsageError('--format must be table or json');
  if (isCheckpointPath(positionals[0])) {
    // A compressed-tensors sparse-24-bitmask checkpoint: dense safetensors any loader reads (issue 16).
    const ck = await decompressCheckpoint(positionals[0], { out: values.out, force: values.force, signal: ctx.signal, onWorkFolder: ctx.onWorkFolder });
    if (values.format === 'json') ctx.stdout(`${JSON.stringify(ck, null, 2)}\n`);
    else {
      const lines = [`model: ${ck.model}`, `output: ${ck.output}`];
      for (const w of ck.weights) lines.push(`  ${w.name} [${w.dims.join('x')}] ${w.dtype} ${w.pattern}: decoded`);
      for (const n of ck.notes) lines.push(`note: ${n}`);
      lines.push(`size: ${ck.sizeBefore} -> ${ck.sizeAfter} bytes`);
      ctx.stdout(lines.join('\n') + '\n');
    }
    return EXIT.ok;
  }
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
