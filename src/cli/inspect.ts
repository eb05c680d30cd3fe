// `sparsity-lens inspect`: the report of one model, with a CI gate.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { constants } from 'node:fs';
import { checkOutput } from '../engine/outputs';
import { displayName, displayText } from '../engine/safeText';
import { TARGET_IDS, type DeployPrecision, type TargetId } from '../engine/deploy/types';
import { modelInputFiles } from '../engine/onnx/tensors';
import { parseArgs } from 'node:util';
import { type ReportFormat, REPORT_FORMATS, formatReport } from '../engine/report/format';
import { type InspectReport, inspectModel } from '../engine/sparsity/inspect';

const PRECISIONS = ['stored', 'fp16', 'bf16', 'int8', 'fp8'] as const;
import { parsePattern } from '../engine/sparsity/pattern';
import { type HardwareProfile, PROFILES, resolveProfile } from '../engine/speedup/profiles';
import type { ProjectOptions } from '../engine/speedup/project';
import { INSPECT_HELP } from './help';
import { EXIT, UsageError, type CommandContext, numberArgument, regexArgument } from './common';
import { ProgressBar } from './progress';

export async function inspectCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      pattern: { type: 'string', default: '2:4' },
      format: { type: 'string', default: 'table' },
      'fail-under': { type: 'string' },
      layers: { type: 'string' },
      grid: { type: 'boolean', default: false },
      workers: { type: 'string' },
      speedup: { type: 'boolean', default: false },
      hardware: { type: 'string' },
      batch: { type: 'string' },
      dim: { type: 'string', multiple: true },
      runtime: { type: 'string' },
      out: { type: 'string' },
      precision: { type: 'string' },
      target: { type: 'string', multiple: true },
      deploy: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    ctx.stdout(INSPECT_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('inspect needs exactly one MODEL path', INSPECT_HELP);
  const pattern = parsePattern(values.pattern!);
  if (typeof pattern === 'string') throw new UsageError(pattern);
  const format = values.format as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}`);
  let failUnder: number | undefined;
  if (values['fail-under'] !== undefined) {
    failUnder = numberArgument(values['fail-under']);
    if (!(failUnder >= 0 && failUnder <= 1)) throw new UsageError('--fail-under needs a fraction between 0 and 1');
  }
  const layers = regexArgument('--layers', values.layers);
  let workers: number | undefined;
  if (values.workers !== undefined) {
    workers = numberArgument(values.workers);
    if (!Number.isInteger(workers) || workers < 0) throw new UsageError('--workers needs a whole number >= 0');
  }
  const precision = precisionArgument(values.precision);
  const targets = targetArguments(values.target);
  // --target and --deploy time the verdicts on each target's profile: they imply the projection.
  const speedup =
    values.speedup || values.hardware !== undefined || values.batch !== undefined || values.dim !== undefined || values.runtime !== undefined || targets.length > 0 || values.deploy
      ? speedupOptions(values)
      : undefined;
  const model = positionals[0];
  // A report never replaces its model or the model's data (checked before the scan, and again when written).
  const refuseInputs = () => {
    if (values.out !== undefined && existsSync(values.out)) checkOutput(model, values.out, modelInputFiles(model), true);
  };
  refuseInputs();
  const bar = new ProgressBar('scanning');
  const large = (() => {
    try {
      return statSync(model).size > 64 << 20;
    } catch {
      return false;
    }
  })();
  let report;
  try {
    report = await inspectModel(model, {
      pattern,
      // The tile grid only reaches JSON with --grid: without it, one tile per layer spares its cost.
      gridMax: values.grid ? undefined : 1,
      layers,
      workers,
      speedup,
      precision,
      signal: ctx.signal,
      onProgress: large ? (done, total) => bar.update(done, total) : undefined,
    });
  } finally {
    bar.clear();
  }
  refuseInputs();
  await ctx.output(formatReport(report, format, values.grid, { targets, deploy: values.deploy }), values.out);
  // CSV is one row per layer: the model-level warnings go to stderr instead.
  if (format === 'csv') for (const w of report.warnings) ctx.stderr(`warning: ${w}\n`);
  if (failUnder !== undefined) {
    const compliance = report.summary.compliance;
    // A layer whose weights could not be read fails the gate: it cannot be shown to comply.
    const unreadable = report.layers.filter((l) => l.error);
    if (unreadable.length > 0 && failUnder > 0) {
      const names = unreadable.slice(0, 5).map((l) => `'${displayName(l.name)}'`).join(', ') + (unreadable.length > 5 ? ` and ${unreadable.length - 5} more` : '');
      ctx.stderr(`gate failed: ${unreadable.length} layer${unreadable.length > 1 ? 's' : ''} could not be read and count${unreadable.length > 1 ? '' : 's'} as failing: ${names} (--fail-under ${failUnder})\n`);
      return EXIT.gate;
    }
    const deployGate = deployGateFailure(report, targets);
    if (deployGate) {
      ctx.stderr(deployGate);
      return EXIT.gate;
    }
    if (compliance === null || compliance < failUnder) {
      ctx.stderr(
        compliance === null
          ? `gate failed: no eligible layer was scanned (--fail-under ${failUnder})\n`
          : `gate failed: compliance ${(compliance * 100).toFixed(2)}% is below ${(failUnder * 100).toFixed(2)}%\n`,
      );
      return EXIT.gate;
    }
  }
  return EXIT.ok;
}

/** --precision: what the engine is built with (default: each weight as stored). */
function precisionArgument(value: string | undefined): DeployPrecision | undefined {
  if (value === undefined) return undefined;
  if (!(PRECISIONS as readonly string[]).includes(value)) throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, not '${value}'`);
  return value as DeployPrecision;
}

/** --target, repeatable or a comma list, each a known id. */
function targetArguments(values: string[] | undefined): TargetId[] {
  const ids = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const id of ids) {
    if (!(TARGET_IDS as readonly string[]).includes(id)) throw new UsageError(`unknown --target '${id}'; valid targets: ${TARGET_IDS.join(', ')}`);
  }
  return [...new Set(ids)] as TargetId[];
}

/**
 * The deploy gate (--fail-under with --target): a layer that passes the pattern but will not run sparse on a named
 * target fails it, with the layers and the reasons; undefined when every such layer runs sparse.
 */
function deployGateFailure(report: InspectReport, targets: TargetId[]): string | undefined {
  const lines: string[] = [];
  for (const target of targets) {
    const stuck = report.layers.filter((l) => l.eligible && l.pass && l.deploy?.[target] && !l.deploy[target]!.sparse);
    if (stuck.length === 0) continue;
    lines.push(`gate failed: ${stuck.length} layer${stuck.length > 1 ? 's' : ''} pass${stuck.length > 1 ? '' : 'es'} ${report.pattern} but will not run sparse on ${target}:`);
    for (const l of stuck.slice(0, 20)) lines.push(`  '${displayName(l.name)}': ${displayText(l.deploy![target]!.reasons.join('; '))}`);
    if (stuck.length > 20) lines.push(`  ... and ${stuck.length - 20} more`);
  }
  return lines.length ? lines.join('\n') + '\n' : undefined;
}

/** --hardware, --batch and --dim as projection options. */
function speedupOptions(values: { hardware?: string; batch?: string; dim?: string[]; runtime?: string }): ProjectOptions {
  const runtime = values.runtime ?? 'eager';
  if (runtime !== 'eager' && runtime !== 'fused') throw new UsageError('--runtime must be eager or fused');
  let hardware: HardwareProfile | string = 'a100';
  const name = values.hardware ?? 'a100';
  if (PROFILES[name.toLowerCase()]) hardware = resolveProfile(name);
  else if (existsSync(name)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readProfileFile(name));
    } catch (err) {
      throw new UsageError(`--hardware ${name}: not a readable JSON file (${(err as Error).message})`);
    }
    hardware = resolveProfile(parsed as HardwareProfile);
  } else hardware = resolveProfile(name);
  if (typeof hardware === 'string') throw new UsageError(hardware);
  let batch: number | undefined;
  if (values.batch !== undefined) {
    batch = numberArgument(values.batch);
    if (!Number.isInteger(batch) || batch < 1) throw new UsageError('--batch needs a whole number >= 1');
  }
  const dims: Record<string, number> = {};
  for (const spec of values.dim ?? []) {
    const match = /^([^=]+)=(\d+)$/.exec(spec.trim());
    if (!match || Number(match[2]) < 1) throw new UsageError(`--dim '${spec}' is not NAME=VALUE with a whole VALUE >= 1`);
    dims[match[1]] = Number(match[2]);
  }
  return { hardware, batch, dims, runtime };
}

/** A hardware profile is a small JSON file: a device, a FIFO or a huge file is refused, never read without end. */
const PROFILE_MAX_BYTES = 1 << 20;
function readProfileFile(name: string): string {
  const fd = openSync(name, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > PROFILE_MAX_BYTES) throw new Error(`${stat.size} bytes; a profile is at most ${PROFILE_MAX_BYTES}`);
    const buffer = Buffer.alloc(stat.size);
    let done = 0;
    while (done < buffer.length) {
      const n = readSync(fd, buffer, done, buffer.length - done, done);
      if (n <= 0) break;
      done += n;
    }
    return buffer.subarray(0, done).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
