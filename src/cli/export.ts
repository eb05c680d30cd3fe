// `sparsity-lens export`: compressed values and index metadata as sidecar files, with a manifest.
import { parseArgs } from 'node:util';
import { type ExportEncoding, exportModel } from '../engine/convert/export';
import { EXPORT_HELP } from './help';
import { EXIT, UsageError, type CommandContext } from './common';
import { refuseCheckpoint } from './checkpoints';

export async function exportCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      encoding: { type: 'string' },
      out: { type: 'string' },
      layer: { type: 'string' },
      force: { type: 'boolean', default: false },
      format: { type: 'string', default: 'table' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    ctx.stdout(EXPORT_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('export needs exactly one MODEL path', EXPORT_HELP);
  refuseCheckpoint(positionals[0], 'export');
  const encoding = values.encoding as ExportEncoding;
  if (encoding !== 'ascend' && encoding !== 'nvidia') throw new UsageError('--encoding must be ascend or nvidia');
  if (!values.out) throw new UsageError('export needs --out DIR');
  if (values.format !== 'table' && values.format !== 'json') throw new UsageError('--format must be table or json');
  const manifest = await exportModel(positionals[0], { encoding, out: values.out, layer: values.layer, force: values.force, signal: ctx.signal, onWorkFolder: ctx.onWorkFolder });
  if (values.format === 'json') ctx.stdout(`${JSON.stringify(manifest, null, 2)}\n`);
  else {
    const lines = [`model: ${manifest.model}`, `encoding: ${manifest.encoding} (${manifest.pattern})`, `folder: ${values.out}`];
    for (const l of manifest.layers) for (const f of l.files) lines.push(`  ${f.file}  ${f.bytes} bytes  ${f.content}`);
    for (const s of manifest.skipped) lines.push(`  skipped ${s.layer}: ${s.reason}`);
    lines.push(`  manifest.json`);
    ctx.stdout(lines.join('\n') + '\n');
  }
  return EXIT.ok;
}
