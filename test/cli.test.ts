// The `sparsity-lens` command line as users and CI run it: the bundled dist/cli.js in a child process, its
// exit codes (0 ok, 1 gate failed, 2 bad input), its output formats and the JSON contract.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import { graph, makeTensor, node, valueInfo, writeModel } from './support/builder';
import { tempDir } from './support/models';
import { CLI, type Run, cli } from './support/cli';

// dist/test/ → dist/cli.js and the repository's media/sample.onnx.
const SAMPLE = join(__dirname, '..', '..', 'media', 'sample.onnx');
const SAMPLE_LAYER_NAMES = ['conv1', 'conv2', 'dw', 'conv3', 'fc1', 'fc2', 'fc3', 'head'];


/** A usage or input error: exit 2, a one-line-per-problem message on stderr, no stack trace, no report. */
function assertRejected(run: Run, message: RegExp): void {
  assert.equal(run.code, 2, `stderr: ${run.stderr}`);
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(run.stdout, '');
}

function json(run: Run) {
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

describe('help', () => {
  test('--help describes the tool and exits 0', () => {
    const run = cli('--help');
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: sparsity-lens COMMAND/);
    assert.match(run.stdout, /inspect MODEL/);
    assert.equal(run.stderr, '');
  });

  test('inspect --help lists its options and exits 0', () => {
    const run = cli('inspect', '--help');
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: sparsity-lens inspect MODEL/);
    for (const option of ['--pattern', '--format', '--fail-under', '--layers', '--out', '--workers']) assert.ok(run.stdout.includes(option), option);
  });

  test('no command prints the help but exits 2', () => {
    const run = cli();
    assert.equal(run.code, 2);
    assert.match(run.stdout, /^Usage: sparsity-lens COMMAND/);
  });
});

describe('bad input exits 2 with a message and no stack trace', () => {
  test('an unknown command', () => {
    assertRejected(cli('frobnicate'), /unknown command 'frobnicate'/);
  });

  test('a missing model', () => {
    assertRejected(cli('inspect', join(tempDir(), 'missing.onnx')), /missing\.onnx: cannot open: no such file/);
  });

  test('no model, or two', () => {
    assertRejected(cli('inspect'), /inspect needs exactly one MODEL path/);
    assertRejected(cli('inspect', SAMPLE, SAMPLE), /inspect needs exactly one MODEL path/);
  });

  test('a file that is not an ONNX model', () => {
    const path = join(tempDir(), 'notes.onnx');
    writeFileSync(path, 'these are not the weights you are looking for\n');
    assertRejected(cli('inspect', path), /notes\.onnx: not a readable ONNX model/);
  });

  test('a bad --pattern', () => {
    assertRejected(cli('inspect', SAMPLE, '--pattern', 'two:four'), /pattern 'two:four' is not of the form N:M/);
    assertRejected(cli('inspect', SAMPLE, '--pattern', '4:4'), /pattern '4:4' needs 1 <= N < M <= 16/);
    assertRejected(cli('inspect', SAMPLE, '--pattern', '2:32'), /pattern '2:32' needs 1 <= N < M <= 16/);
  });

  test('a bad --format', () => {
    assertRejected(cli('inspect', SAMPLE, '--format', 'xml'), /--format must be one of table, json, markdown, csv/);
  });

  test('a bad --fail-under', () => {
    for (const value of ['abc', '1.5', '', '-0.1']) assertRejected(cli('inspect', SAMPLE, `--fail-under=${value}`), /--fail-under needs a fraction between 0 and 1/);
  });

  test('a bad --layers expression, a bad --workers count, an unknown option', () => {
    assertRejected(cli('inspect', SAMPLE, '--layers', '('), /--layers '\(' is not a valid regular expression/);
    for (const value of ['-1', '1.5', 'many', '']) assertRejected(cli('inspect', SAMPLE, `--workers=${value}`), /--workers needs a whole number >= 0/);
    assertRejected(cli('inspect', SAMPLE, '--bogus'), /Unknown option '--bogus'/);
  });
});

describe('inspect media/sample.onnx', () => {
  let report: ReturnType<typeof json>;
  before(() => {
    report = json(cli('inspect', SAMPLE, '--format', 'json'));
  });

  test('--format json keeps the contract fields', () => {
    assert.equal(report.model, SAMPLE);
    assert.equal(report.pattern, '2:4');
    for (const key of ['layers', 'eligible', 'passing', 'nearlyPassing', 'failing', 'ineligible', 'errors', 'parameters', 'compliance', 'retainedMagnitude']) {
      assert.ok(key in report.summary, `summary.${key}`);
    }
    assert.deepEqual(report.layers.map((l: { name: string }) => l.name), SAMPLE_LAYER_NAMES);
    const types: Record<string, string[]> = {
      name: ['string'],
      op: ['string'],
      weight: ['string'],
      shape: ['array'],
      dtype: ['string'],
      axis: ['number'],
      eligible: ['boolean'],
      reason: ['string', 'null'],
      groups: ['number'],
      validGroups: ['number'],
      compliance: ['number', 'null'],
      pass: ['boolean'],
      elements: ['number'],
      zeros: ['number', 'null'],
      retainedMagnitude: ['number', 'null'],
      patterns: ['object'],
      blocks: ['object'],
    };
    const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
    for (const l of report.layers) {
      for (const [field, allowed] of Object.entries(types)) assert.ok(allowed.includes(typeOf(l[field])), `${l.name}.${field} is ${typeOf(l[field])}`);
      assert.deepEqual(Object.keys(l.patterns), ['1:2', '2:4', '1:4', '2:8', '4:8', '1:8']);
      assert.deepEqual(Object.keys(l.blocks), ['2x1', '4x1', '1x4', '4x16']);
      assert.equal('grid' in l, false, 'the grid only with --grid');
    }
    const conv1 = report.layers[0];
    assert.deepEqual([conv1.op, conv1.weight, conv1.shape, conv1.dtype, conv1.axis], ['Conv', 'conv1.weight', [32, 16, 3, 3], 'float32', 1]);
    assert.deepEqual([conv1.groups, conv1.validGroups, conv1.compliance, conv1.pass], [1152, 1152, 1, true]);
  });

  test('--grid adds each layer tile grid to the JSON', () => {
    const withGrid = json(cli('inspect', SAMPLE, '--format', 'json', '--grid'));
    const conv1 = withGrid.layers[0];
    assert.equal(conv1.grid.rows, 32);
    assert.equal(conv1.grid.total.reduce((a: number, x: number) => a + x, 0), conv1.groups);
    assert.equal(withGrid.layers.find((l: { name: string }) => l.name === 'dw').grid, null);
  });

  test('the table shows the summary and one row per layer', () => {
    const run = cli('inspect', SAMPLE);
    assert.equal(run.code, 0);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^model: /);
    assert.match(lines[2], /^layers: 8: 6 eligible \(3 pass, 1 nearly pass, 2 fail\), 2 ineligible, 0 unreadable$/);
    const header = lines.findIndex((l) => l.startsWith('layer '));
    assert.deepEqual(lines.slice(header + 1).map((l) => l.split(/\s+/)[0]), SAMPLE_LAYER_NAMES);
  });

  test('markdown has one table row per layer', () => {
    const run = cli('inspect', SAMPLE, '--format', 'markdown');
    assert.equal(run.code, 0);
    const rows = run.stdout.split('\n').filter((l) => l.startsWith('| '));
    assert.equal(rows.length, 1 + SAMPLE_LAYER_NAMES.length); // header + layers
    assert.deepEqual(rows.slice(1).map((r) => r.split(' | ')[0].slice(2)), SAMPLE_LAYER_NAMES);
  });

  test('csv has a header and one line per layer', () => {
    const run = cli('inspect', SAMPLE, '--format', 'csv');
    assert.equal(run.code, 0);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1 + SAMPLE_LAYER_NAMES.length);
    assert.match(lines[0], /^name,op,graph,weight,shape,dtype,axis,eligible,reason,groups,validGroups,compliance,pass,/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]), SAMPLE_LAYER_NAMES);
    assert.match(lines[1], /^conv1,Conv,main,conv1\.weight,32x16x3x3,float32,1,true,,1152,1152,1,true,/);
  });

  test('--fail-under passes below the model compliance (exit 0) and fails above it (exit 1)', () => {
    const compliance = report.summary.compliance;
    assert.ok(compliance > 0.5 && compliance < 0.99, `sample compliance ${compliance} lies between the thresholds`);
    const pass = cli('inspect', SAMPLE, '--fail-under', '0.5', '--format', 'json');
    assert.equal(pass.code, 0, pass.stderr);
    assert.equal(pass.stderr, '');
    const fail = cli('inspect', SAMPLE, '--fail-under', '0.99', '--format', 'json');
    assert.equal(fail.code, 1);
    assert.equal(fail.stderr, `gate failed: compliance ${(compliance * 100).toFixed(2)}% is below 99.00%\n`);
    assert.deepEqual(JSON.parse(fail.stdout), report, 'the report is still written');
  });

  test("--layers '^conv' keeps only the matching layers", () => {
    const filtered = json(cli('inspect', SAMPLE, '--format', 'json', '--layers', '^conv'));
    assert.deepEqual(filtered.layers.map((l: { name: string }) => l.name), ['conv1', 'conv2', 'conv3']);
    assert.equal(filtered.summary.layers, 3);
    assert.deepEqual(filtered.layers, report.layers.filter((l: { name: string }) => l.name.startsWith('conv')));
  });

  test('--pattern 1:4 changes the verdicts: the 2:4 layers now fail', () => {
    const oneOfFour = json(cli('inspect', SAMPLE, '--format', 'json', '--pattern', '1:4'));
    assert.equal(oneOfFour.pattern, '1:4');
    const conv1 = oneOfFour.layers[0];
    assert.equal(conv1.pass, false);
    assert.equal(conv1.validGroups, 0); // every group of the 2:4-pruned conv1 keeps exactly two
    assert.ok(conv1.retainedMagnitude < 1);
    assert.ok(oneOfFour.summary.compliance < report.summary.compliance);
    // The standard patterns and block ratios do not depend on the chosen pattern.
    assert.deepEqual(conv1.patterns, report.layers[0].patterns);
    assert.deepEqual(conv1.blocks, report.layers[0].blocks);
  });

  test('--out writes the report to the file, atomically, and nothing to stdout', () => {
    const dir = tempDir();
    const out = join(dir, 'report.json');
    const run = cli('inspect', SAMPLE, '--format', 'json', '--out', out);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), report);
    assert.deepEqual(readdirSync(dir), ['report.json'], 'no temporary file left behind');
    // Overwriting replaces the old contents whole.
    writeFileSync(out, 'x'.repeat(1 << 20));
    assert.equal(cli('inspect', SAMPLE, '--format', 'csv', '--out', out).code, 0);
    assert.equal(readFileSync(out, 'utf8'), cli('inspect', SAMPLE, '--format', 'csv').stdout);
    assert.deepEqual(readdirSync(dir), ['report.json']);
  });

  test('--out into a missing folder exits 2 and leaves nothing behind', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'reports'));
    const out = join(dir, 'reports', 'missing', 'report.json');
    const run = cli('inspect', SAMPLE, '--out', out);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^sparsity-lens: .*report\.json/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(join(dir, 'reports')), []);
  });

  test('--workers 0 and --workers 2 give the same report', () => {
    const inline = json(cli('inspect', SAMPLE, '--format', 'json', '--workers', '0'));
    const pooled = json(cli('inspect', SAMPLE, '--format', 'json', '--workers', '2'));
    assert.deepEqual(inline, report);
    assert.deepEqual(pooled, report);
  });
});

describe('Ctrl-C during inspect', () => {
  // A chain of 16 MatMul weights of 2048 x 1024 float32 (128 MiB): parts enough to interrupt between, inline or on
  // the pool.
  const dir = tempDir();
  const model = join(dir, 'big.onnx');
  before(() => {
    const weights = Array.from({ length: 16 }, (_, i) => makeTensor({ name: `W${i}`, dtype: 'float32', dims: i % 2 ? [1024, 2048] : [2048, 1024], values: new Float32Array(2048 * 1024).fill(i + 1) }));
    writeModel(model, {
      graph: graph({
        name: 'chain',
        nodes: weights.map((w, i) => node('MatMul', [i === 0 ? 'X' : `H${i - 1}`, w.name!], [`H${i}`], {}, { name: `fc${i}` })),
        inputs: [valueInfo('X', 'float32', [1, 2048])],
        outputs: [valueInfo('H15', 'float32', [1, 2048])],
        initializers: weights,
      }),
    });
  });

  /** Bytes the process has read so far (Linux /proc; all its threads), or undefined once it is gone. */
  function bytesRead(pid: number): number | undefined {
    try {
      return Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
    } catch {
      return undefined;
    }
  }

  for (const workers of ['0', '2']) {
    test(`with --workers ${workers}: exits 130 mid-scan, says nothing was written, and writes no report`, async () => {
      const out = join(dir, `report-${workers}.json`);
      const child = spawn(process.execPath, [CLI, 'inspect', model, '--workers', workers, '--format', 'json', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Interrupt once the scan has read 16 MB of weights (module loading reads about 1 MB).
      const until = Date.now() + 30_000;
      let read: number | undefined = 0;
      while ((read = bytesRead(child.pid!)) !== undefined && read < 16 << 20 && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
      assert.ok(read !== undefined && read >= 16 << 20, `the scan finished before it could be interrupted: ${stderr}`);
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      assert.match(stderr, /interrupted: nothing was written/);
      assert.deepEqual(readdirSync(dir).sort(), ['big.onnx']);
    });
  }
});
