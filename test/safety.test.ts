// Nothing lost, nothing hangs, the gate never fails open: the CLI as a careless or hostile user runs it. Outputs
// never replace inputs, two runs never share an output, an interrupted run leaves nothing behind, an unreadable
// layer fails the CI gate.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { ExternalSink, type ModelSpec, encodeModel, graph, makeTensor, node, valueInfo, writeModel } from './support/builder';
import { inspectFile, tempDir } from './support/models';
import { CLI, cli } from './support/cli';
import { snapshot } from './support/cliFuzz';
import { performance } from 'node:perf_hooks';
import { convertModel } from '../src/engine/convert/convert';

/** A MatMul 'good' whose 2:4 weight passes, and a MatMul 'broken' whose raw_data is 8 bytes short of its dims. */
function brokenLayerModel(dir: string): string {
  const path = join(dir, 'broken.onnx');
  const broken = makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: new Array(32).fill(1) });
  broken.rawData = (broken.rawData as Uint8Array).subarray(0, 120);
  writeModel(path, {
    graph: graph({
      name: 'gate',
      nodes: [node('MatMul', ['X', 'G'], ['H'], {}, { name: 'good' }), node('MatMul', ['Z', 'W'], ['Y'], {}, { name: 'broken' })],
      inputs: [valueInfo('X', 'float32', [1, 8]), valueInfo('Z', 'float32', [1, 8])],
      outputs: [valueInfo('H', 'float32', [1, 4]), valueInfo('Y', 'float32', [1, 4])],
      initializers: [makeTensor({ name: 'G', dtype: 'float32', dims: [8, 4], values: [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0] }), broken],
    }),
  });
  return path;
}

/** The files in `dir`, sorted: what a run left behind. */
const listing = (dir: string) => readdirSync(dir).sort();

describe('the CI gate never fails open', () => {
  const dir = tempDir();
  const model = brokenLayerModel(dir);

  test('a model whose only failing layer cannot be read fails --fail-under 1, naming the layer', () => {
    const run = cli('inspect', model, '--fail-under', '1', '--format', 'json');
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^gate failed: 1 layer could not be read and counts as failing: 'broken' \(--fail-under 1\)\n$/);
    const report = JSON.parse(run.stdout);
    assert.equal(report.summary.errors, 1);
    assert.equal(report.summary.passing, 1);
    // The broken layer weighs in at 0: 32 elements passing, 32 unreadable.
    assert.equal(report.summary.compliance, 0.5);
  });

  test('any threshold above 0 fails; --fail-under 0 asks for nothing and passes', () => {
    assert.equal(cli('inspect', model, '--fail-under', '0.01').code, 1);
    assert.equal(cli('inspect', model, '--fail-under', '0').code, 0);
  });

  test('the table says the unreadable layer counts as failing', () => {
    const run = cli('inspect', model);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /1 unreadable \(counted as failing\)/);
    assert.match(run.stdout, /compliance \(parameter-weighted, eligible and unreadable layers\): 50\.00%/);
  });
});


describe('an output never replaces an input', () => {
  const dir = tempDir();
  const sink = new ExternalSink();
  const model = join(dir, 'ext.onnx');
  writeModel(
    model,
    {
      graph: graph({
        name: 'ext',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y', 'float32', [1, 4])],
        initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: Array.from({ length: 32 }, (_, i) => i + 1), storage: { external: 'ext.weights' } }, sink)],
      }),
    },
    sink,
  );
  linkSync(model, join(dir, 'hardlink.onnx'));

  for (const [what, out] of [
    ['the model', 'ext.onnx'],
    ['the model by another spelling', './sub/../ext.onnx'],
    ['its external data file', 'ext.weights'],
    ['a hard link of the model', 'hardlink.onnx'],
  ]) {
    test(`inspect --out ${what}: exit 2, nothing changed`, () => {
      mkdirSync(join(dir, 'sub'), { recursive: true });
      const before = snapshot(dir);
      const run = cli('inspect', model, '--out', join(dir, out));
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /would overwrite an input file \(the model or one of its data files\); choose another --out/);
      assert.deepEqual(snapshot(dir), before);
    });
  }

  test('convert --force --out a hard link of the model: exit 2, nothing changed', () => {
    const before = snapshot(dir);
    const run = cli('convert', model, '--mode', 'prune', '--force', '--out', join(dir, 'hardlink.onnx'));
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /would overwrite an input file/);
    assert.deepEqual(snapshot(dir), before);
  });

  test('inspect --out an existing report replaces it (a report is not an input)', () => {
    const report = join(dir, 'report.txt');
    writeFileSync(report, 'old');
    const run = cli('inspect', model, '--out', report);
    assert.equal(run.code, 0, run.stderr);
    assert.match(readFileSync(report, 'utf8'), /^model: /);
  });
});

// ---------------------------------------------------------------------------
// Interrupts, kills and concurrent runs, on a model large enough to catch each phase

/** One MatMul over a 4096 x 4096 float32 weight of ones (64 MiB): every group violates 2:4. */
function bigModel(path: string): void {
  writeModel(path, {
    graph: graph({
      name: 'big',
      nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
      inputs: [valueInfo('X', 'float32', [1, 4096])],
      outputs: [valueInfo('Y', 'float32', [1, 4096])],
      initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [4096, 4096], values: new Float32Array(4096 * 4096).fill(1) })],
    }),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Child {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
  stdout: () => string;
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr, stdout: () => stdout };
}

/** Waits until `ready()` holds (polling every 2 ms, at most 60 s); fails naming `what` otherwise. */
async function waitFor(what: string, ready: () => boolean, run?: Child): Promise<void> {
  const until = Date.now() + 60_000;
  while (!ready()) {
    if (Date.now() > until) assert.fail(`never reached: ${what}; stderr: ${run?.stderr()}`);
    await sleep(2);
  }
}

/** The work folder of a run writing `output` in `dir`, when it exists. */
const workFolder = (dir: string, output: string) => join(dir, `.${output}.sparsity-lens.partial`);

type Phase = 'scan' | 'write' | 'verify';

/** Bytes the process has read so far (Linux /proc; all its threads), or undefined once it is gone. */
function bytesRead(pid: number): number | undefined {
  try {
    return Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
  } catch {
    return undefined;
  }
}

describe('signals at each phase of prune and compress leave the disk as it was', () => {
  const dir = tempDir();
  const model = join(dir, 'big.onnx');
  const tmp = join(tempDir(), 'tmp');
  before(() => {
    bigModel(model);
    mkdirSync(tmp);
  });

  const cases: { mode: 'prune' | 'compress'; phase: Phase; signals: NodeJS.Signals[] }[] = [
    { mode: 'prune', phase: 'scan', signals: ['SIGINT'] },
    { mode: 'prune', phase: 'write', signals: ['SIGINT'] },
    { mode: 'prune', phase: 'write', signals: ['SIGTERM'] },
    { mode: 'prune', phase: 'write', signals: ['SIGHUP'] },
    { mode: 'prune', phase: 'write', signals: ['SIGINT', 'SIGINT'] },
    { mode: 'compress', phase: 'scan', signals: ['SIGTERM'] },
    { mode: 'compress', phase: 'write', signals: ['SIGINT'] },
    { mode: 'compress', phase: 'write', signals: ['SIGHUP', 'SIGHUP'] },
    { mode: 'compress', phase: 'verify', signals: ['SIGINT'] },
    { mode: 'compress', phase: 'verify', signals: ['SIGTERM'] },
    { mode: 'compress', phase: 'verify', signals: ['SIGINT', 'SIGINT'] },
  ];
  for (const { mode, phase, signals } of cases) {
    test(`${mode}, ${signals.join(' then ')} while ${phase === 'scan' ? 'scanning' : phase === 'write' ? 'writing' : 'verifying'}: exit 130, no output, no temporary file here or in TMPDIR`, async () => {
      const output = `big.${mode}.onnx`;
      const before = readdirSync(dir).sort();
      const run = start(['convert', model, '--mode', mode, '--out', join(dir, output)], { ...process.env, TMPDIR: tmp });
      const work = workFolder(dir, output);
      if (phase === 'scan') {
        await waitFor('16 MB read', () => (bytesRead(run.child.pid!) ?? Infinity) >= 16 << 20, run);
        assert.ok(!existsSync(work), 'still scanning: nothing written yet');
      } else if (phase === 'write') await waitFor('the work folder', () => existsSync(work), run);
      else {
        // Verification runs in the work folder; the output is not in place until it has passed.
        await waitFor('the verification folder', () => existsSync(join(work, 'verify')), run);
        assert.ok(!existsSync(join(dir, output)), 'the output is not in place before it is verified');
      }
      for (const [i, signal] of signals.entries()) {
        if (i > 0) await sleep(5);
        run.child.kill(signal);
      }
      assert.equal(await run.exited, 130, run.stderr());
      if (signals.length === 1) assert.match(run.stderr(), /interrupted: nothing was written/);
      assert.doesNotMatch(run.stderr(), /\n\s+at /, 'no stack trace');
      assert.deepEqual(readdirSync(dir).sort(), before);
      assert.deepEqual(readdirSync(tmp), []);
    });
  }

  test('SIGKILL while writing leaves the work folder; the next run to that output removes it and succeeds', async () => {
    const output = 'big.killed.onnx';
    const run = start(['convert', model, '--mode', 'prune', '--out', join(dir, output)]);
    await waitFor('the work folder', () => existsSync(join(workFolder(dir, output), output)), run);
    run.child.kill('SIGKILL');
    await run.exited;
    assert.ok(existsSync(workFolder(dir, output)), 'nothing can clean up after SIGKILL');
    const again = cli('convert', model, '--mode', 'prune', '--out', join(dir, output), '--format', 'json');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).written, true);
    assert.ok(!existsSync(workFolder(dir, output)), 'the stale work folder is gone');
    assert.ok(statSync(join(dir, output)).size > 64 << 20);
  });

  test('two converts to one output: the second is refused while the first writes, even with --force; the first completes', async () => {
    const output = 'big.shared.onnx';
    const first = start(['convert', model, '--mode', 'prune', '--out', join(dir, output)]);
    await waitFor('the work folder', () => existsSync(workFolder(dir, output)), first);
    for (const force of [[], ['--force']]) {
      const second = cli('convert', model, '--mode', 'prune', '--out', join(dir, output), ...force);
      assert.equal(second.code, 2, second.stderr);
      assert.match(second.stderr, new RegExp(`another run \\(process ${first.child.pid} on [^)]+\\) is writing '.*big\\.shared\\.onnx'`));
    }
    assert.equal(await first.exited, 0, first.stderr());
    assert.match(first.stdout(), /verification: every converted layer passes/);
    // Once it is in place, a third run without --force is refused: nothing is replaced without asking.
    const third = cli('convert', model, '--mode', 'prune', '--out', join(dir, output));
    assert.equal(third.code, 2);
    assert.match(third.stderr, /exists; use --force to replace it/);
    assert.ok(!existsSync(workFolder(dir, output)));
  });
});

// ---------------------------------------------------------------------------
// External data: every tensor placed in the output's data file, or the convert fails naming it

/**
 * Two MatMuls over external weights in one data file: 'good' (all ones, 32 elements) and 'odd', whose TensorProto
 * `patch` edits after the model is built.
 */
function externalPair(dir: string, patch: (t: onnx.TensorProto) => void): string {
  const sink = new ExternalSink();
  const weights = ['G', 'O'].map((name) => makeTensor({ name, dtype: 'float32', dims: [8, 4], values: new Array(32).fill(1), storage: { external: 'pair.data' } }, sink));
  const spec: ModelSpec = {
    graph: graph({
      name: 'pair',
      nodes: [node('MatMul', ['X', 'G'], ['H'], {}, { name: 'good' }), node('MatMul', ['X', 'O'], ['Y'], {}, { name: 'odd' })],
      inputs: [valueInfo('X', 'float32', [1, 8])],
      outputs: [valueInfo('H', 'float32', [1, 4]), valueInfo('Y', 'float32', [1, 4])],
      initializers: weights,
    }),
  };
  const decoded = onnx.ModelProto.decode(encodeModel(spec));
  patch(decoded.graph!.initializer!.find((t) => t.name === 'O') as onnx.TensorProto);
  const path = join(dir, 'pair.onnx');
  writeModel(path, spec, sink); // the data file
  writeFileSync(path, onnx.ModelProto.encode(decoded).finish());
  return path;
}

const setEntry = (t: onnx.TensorProto, key: string, value: string) => {
  t.externalData!.find((e) => e.key === key)!.value = value;
};

describe('external tensors in a conversion', () => {
  test('a tensor whose dims disagree with its stored length fails only its own layer; the output holds it as it was', async () => {
    const dir = tempDir();
    const model = externalPair(dir, (t) => (t.dims = [8, 8]));
    const run = cli('convert', model, '--mode', 'prune', '--format', 'json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    const odd = report.layers.find((l: { name: string }) => l.name === 'odd');
    assert.equal(odd.action, 'skip');
    assert.match(odd.reason, /^error: external data length 128 but float32 dims \[8, 8\] need 256 bytes/);
    assert.equal(report.layers.find((l: { name: string }) => l.name === 'good').action, 'prune');
    // The output reads like the input: 'good' now passes, 'odd' fails its own layer the same way.
    const after = await inspectFile(report.output);
    assert.equal(after.layers.find((l) => l.name === 'good')!.pass, true);
    assert.match(after.layers.find((l) => l.name === 'odd')!.error ?? '', /external data length 128 but float32 dims \[8, 8\] need 256 bytes/);
  });

  test("an offset written '+64' (ONNX's loader reads it) is converted, and the output points at its own data file", async () => {
    const dir = tempDir();
    const model = externalPair(dir, (t) => setEntry(t, 'offset', `+${t.externalData!.find((e) => e.key === 'offset')!.value}`));
    const run = cli('convert', model, '--mode', 'prune', '--format', 'json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.verified, true);
    const out = onnx.ModelProto.decode(readFileSync(report.output));
    for (const t of out.graph!.initializer!) assert.equal(t.externalData!.find((e) => e.key === 'location')!.value, 'pair.pruned-2of4.data', t.name!);
  });

  for (const [what, patch, problem] of [
    ['an offset that is not a number', (t: onnx.TensorProto) => setEntry(t, 'offset', 'eight'), /tensor 'O': its external data cannot be read \(.*offset.*\), so the output could not point at it/],
    ['a data file that does not exist', (t: onnx.TensorProto) => setEntry(t, 'location', 'missing.data'), /tensor 'O': external data file 'missing\.data' not found next to the model; the output could not hold this tensor, so nothing was written/],
  ] as const) {
    test(`${what}: the convert fails naming the tensor and writes nothing`, () => {
      const dir = tempDir();
      const model = externalPair(dir, patch);
      const before = snapshot(dir);
      const run = cli('convert', model, '--mode', 'prune');
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, problem);
      assert.deepEqual(snapshot(dir), before);
    });
  }
});

describe('bounded work', () => {
  test('100,000 MatMuls sharing one weight: convert plans and refuses the shared weight in seconds', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const model = join(dir, 'shared.onnx');
    const count = 100_000;
    writeModel(model, {
      graph: graph({
        name: 'shared',
        nodes: Array.from({ length: count }, (_, i) => node('MatMul', ['X', 'W'], [`Y${i}`], {}, { name: `mm${i}` })),
        inputs: [valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y0', 'float32', [1, 4])],
        initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: new Array(32).fill(1) })],
      }),
    });
    const started = performance.now();
    const report = await convertModel(model, { mode: 'prune', skip: /^mm0$/, dryRun: true });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(report.layers.length, count);
    // mm0 is not converted, so no layer may change W.
    assert.equal(report.summary.skipped, count);
    assert.equal(report.layers[1].reason, "weight 'W' is also read by 'mm0', which is not converted");
    // Before planning was linear this took minutes; the bound is loose for a noisy shared machine.
    assert.ok(seconds < 30, `${seconds.toFixed(1)} s`);
  });

  test('a reason lists at most five layers', async () => {
    const dir = tempDir();
    const model = join(dir, 'seven.onnx');
    writeModel(model, {
      graph: graph({
        name: 'seven',
        nodes: Array.from({ length: 8 }, (_, i) => node('MatMul', ['X', 'W'], [`Y${i}`], {}, { name: `mm${i}` })),
        inputs: [valueInfo('X', 'float32', [1, 8])],
        outputs: [valueInfo('Y0', 'float32', [1, 4])],
        initializers: [makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: new Array(32).fill(1) })],
      }),
    });
    const report = await convertModel(model, { mode: 'prune', only: /^mm0$/, dryRun: true });
    assert.equal(report.layers[0].reason, "weight 'W' is also read by 'mm1', 'mm2', 'mm3', 'mm4', 'mm5' and 2 more, which are not converted");
  });
});

describe('a reader that stops early', () => {
  test('inspect --grid (75 KB, more than a pipe holds) | head -c 10: no EPIPE stack trace, exit 0', () => {
    const sample = join(__dirname, '..', '..', 'media', 'sample.onnx');
    const run = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" inspect "${sample}" --format json --grid | head -c 10 >/dev/null`], { encoding: 'utf8' });
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
  });
});

describe('hostile arguments and names reach the terminal escaped, and bounded', () => {
  test('--hardware /dev/zero is refused at once, not read without end', () => {
    const sample = join(__dirname, '..', '..', 'media', 'sample.onnx');
    const run = spawnSync(process.execPath, [CLI, 'inspect', sample, '--hardware', '/dev/zero'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.signal, null, 'it hung reading /dev/zero');
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--hardware \/dev\/zero: not a readable JSON file \(not a regular file\)/);
  });

  test('an error quoting a location with escape sequences prints it escaped, on bounded lines', () => {
    const dir = tempDir();
    const location = `w\x1b[2J\x1b[H\rgate passed${'x'.repeat(200)}.bin`;
    const model = externalPair(dir, (t) => setEntry(t, 'location', location));
    const run = cli('convert', model, '--mode', 'prune');
    assert.equal(run.code, 2, run.stderr);
    assert.doesNotMatch(run.stderr, /[\x00-\x08\x0b-\x1f\x7f]/, 'no raw control character');
    assert.match(run.stderr, /w\\x1b\[2J\\x1b\[H\\rgate passed/);
    for (const line of run.stderr.split('\n')) assert.ok(line.length <= 4096, `a line of ${line.length} characters`);
  });
});

describe('a scan with nothing to scan', () => {
  test('weights claiming gigabytes that all fail their storage check: inspect reports them instead of waiting forever', () => {
    const dir = tempDir();
    const model = join(dir, 'claims.onnx');
    // [2^20, 2^10] float32 claims 4 GiB (so the scan pool starts) over 128 bytes of raw_data: refused before any part.
    const w = makeTensor({ name: 'W', dtype: 'float32', dims: [8, 4], values: new Array(32).fill(1) });
    w.dims = [1 << 20, 1 << 10];
    writeModel(model, {
      graph: graph({
        name: 'claims',
        nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })],
        inputs: [valueInfo('X', 'float32', [1, 1 << 20])],
        outputs: [valueInfo('Y', 'float32', [1, 1 << 10])],
        initializers: [w],
      }),
    });
    const run = spawnSync(process.execPath, [CLI, 'inspect', model, '--format', 'json'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.signal, null, 'inspect hung with no part to scan');
    assert.equal(run.status, 0, run.stderr);
    assert.match(JSON.parse(run.stdout).layers[0].error, /raw_data holds 128 bytes/);
  });
});
