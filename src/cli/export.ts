// `sparsity-lens export`: compressed values and index metadata as sidecar files, with a manifest.
import { parseArgs } from 'node:util';
import { type ExportEncoding, exportModel } from '../engine/convert/export';
import { EXIT, UsageError, type CommandContext } from './common';

export const EXPORT_HELP = `Usage: sparsity-lens export MODEL --encoding ascend|nvidia --out DIR [--layer NAME] [--force]

Writes, for every eligible layer that passes 2:4 (or just --layer NAME), the kept values and the index
metadata the hardware reads, one file each, plus DIR/manifest.json (layer, tensor, shapes, dtype,
encoding, byte order, sizes, sha256). Each weight is viewed as [rows, K], K innermost.

  ascend   ATC --sparsity=1: 2 values and two 2-bit indexes per group of 4, indexes packed 4 per byte
  nvidia   cuSPARSELt/CUTLASS as PyTorch encodes it: values, plain 4-bit metadata in int16 (fp16/bf16)
           or int32 (int8) words, and the reordered CUTLASS/PyTorch layout where rows % 32 == 0 and
           K % 64 (fp16) / 128 (int8) allow it

Layers that do not pass 2:4 are listed as skipped: prune them first ('convert --mode prune').

Options:
  --encoding ENC   ascend or nvidia
  --out DIR        output folder (created; must be empty unless --force)
  --layer NAME     only this layer
  --force          write into a non-empty folder, replacing files of the same name
  --format FMT     table (default) or json (the manifest)
  -h, --help       this help

Exit codes: 0 ok, 2 bad input or usage, 130 interrupted.
`;

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
  const encoding = values.encoding as ExportEncoding;
  if (encoding !== 'ascend' && encoding !== 'nvidia') throw new UsageError('--encoding must be ascend or nvidia');
  if (!values.out) throw new UsageError('export needs --out DIR');
  if (values.format !== 'table' && values.format !== 'json') throw new UsageError('--format must be table or json');
  const manifest = await exportModel(positionals[0], { encoding, out: values.out, layer: values.layer, force: values.force, signal: ctx.signal });
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
