// A seeded, structure-aware mutation fuzzer over real models, run through the CLI's commands (inspect, convert
// --mode prune, convert --mode compress) as a careless or hostile user would: each mutant is a real model (the
// bundled samples, one with external data and one int4 MatMulNBits layer built in code) decoded, changed where its
// meaning lives (dtypes, dims, raw and typed data, external data, graph order and names, nesting, functions,
// attributes, sparse initializers, huge and control-character strings) and re-encoded, sometimes with its wire
// bytes flipped after. Each run must end with an exit code in {0, 1, 2, 130}, no stack trace, within a time bound,
// with the input unchanged, nothing but its own outputs left in the folder, and every output readable again.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { onnx } from 'onnx-proto';
import { seededRandom } from '../../src/engine/onnx/numbers';
import { convertCommand } from '../../src/cli/convert';
import { inspectCommand } from '../../src/cli/inspect';
import { type Command, runCommand } from '../../src/cli/run';
import { inspectModel } from '../../src/engine/sparsity/inspect';
import { ExternalSink, encodeModel, graph, makeTensor, node, valueInfo } from './builder';

type Rnd = () => number;
const int = (rnd: Rnd, n: number) => Math.floor(rnd() * n);
const pick = <T>(rnd: Rnd, items: readonly T[]): T => items[int(rnd, items.length)];

/** One model to mutate: its decoded form and the external files next to it. */
interface Base {
  name: string;
  model: onnx.ModelProto;
  files: Map<string, Uint8Array>;
}

/** A mutant: the model's bytes, its external files, and what was done (to replay and report it). */
export interface Mutant {
  seed: number;
  base: string;
  mutations: string[];
  bytes: Uint8Array;
  files: Map<string, Uint8Array>;
}

/** The bundled samples and a two-layer model whose weights live in an external file. */
export function loadBases(root: string): Base[] {
  const bases: Base[] = ['sample.onnx', 'sample-fp16.onnx', 'sample-int8-qdq.onnx'].map((name) => ({
    name,
    model: onnx.ModelProto.decode(readFileSync(join(root, 'media', name))),
    files: new Map(),
  }));
  const sink = new ExternalSink();
  const rnd = seededRandom(7);
  const weights = ['W1', 'W2'].map((name) =>
    makeTensor({ name, dtype: 'float32', dims: [16, 16], values: Array.from({ length: 256 }, () => rnd() - 0.5), storage: { external: 'weights.bin' } }, sink),
  );
  const spec = {
    graph: graph({
      name: 'external',
      nodes: [node('MatMul', ['X', 'W1'], ['H'], {}, { name: 'fc1' }), node('Relu', ['H'], ['R'], {}, { name: 'relu' }), node('MatMul', ['R', 'W2'], ['Y'], {}, { name: 'fc2' })],
      inputs: [valueInfo('X', 'float32', [1, 16])],
      outputs: [valueInfo('Y', 'float32', [1, 16])],
      initializers: weights,
    }),
  };
  bases.push({ name: 'external.onnx', model: onnx.ModelProto.decode(encodeModel(spec)), files: sink.files() });
  // An int4 MatMulNBits layer (ONNX Runtime's contrib op): codes [N, k_blocks, blob], packed zero points.
  const N = 8;
  const K = 64;
  const nbits = {
    graph: graph({
      name: 'nbits',
      nodes: [node('MatMulNBits', ['A', 'B', 'scales', 'zp'], ['Y'], { K, N, bits: 4, block_size: 32 }, { name: 'q_proj', domain: 'com.microsoft' })],
      inputs: [valueInfo('A', 'float32', [1, K])],
      outputs: [valueInfo('Y', 'float32', [1, N])],
      initializers: [
        makeTensor({ name: 'B', dtype: 'uint8', dims: [N, 2, 16], values: Array.from({ length: N * 32 }, () => Math.floor(rnd() * 256)) }),
        makeTensor({ name: 'scales', dtype: 'float32', dims: [N * 2], values: new Array(N * 2).fill(0.1) }),
        makeTensor({ name: 'zp', dtype: 'uint8', dims: [N], values: Array.from({ length: N }, () => 0x88) }),
      ],
    }),
    extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
  };
  bases.push({ name: 'matmulnbits.onnx', model: onnx.ModelProto.decode(encodeModel(nbits)), files: new Map() });
  return bases;
}

// ---------------------------------------------------------------------------
// Mutations: each changes one thing where a model's meaning lives, and names what it did.

type Mutation = (m: onnx.ModelProto, files: Map<string, Uint8Array>, rnd: Rnd) => string;

const tensorsOf = (m: onnx.ModelProto) => (m.graph?.initializer ?? []) as onnx.TensorProto[];
const someTensor = (m: onnx.ModelProto, rnd: Rnd) => {
  const list = tensorsOf(m);
  return list.length ? list[int(rnd, list.length)] : undefined;
};
const nodesOf = (m: onnx.ModelProto) => (m.graph?.node ?? []) as onnx.NodeProto[];
const ESCAPES = ['\u001b[2J\u001b[H', '\u001b]0;title\u0007', 'gate passed\r\n', '\u202e', '\u0000', '|a,b"c'];

const MUTATIONS: Record<string, Mutation> = {
  dtype(m, _f, rnd) {
    const t = someTensor(m, rnd);
    if (!t) return 'dtype: no tensor';
    t.dataType = pick(rnd, [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 16, 17, 18, 19, 20, 21, 22, 23, 99, 2 ** 31 - 1]);
    return `dtype ${t.name} -> ${t.dataType}`;
  },
  dims(m, _f, rnd) {
    const t = someTensor(m, rnd);
    if (!t) return 'dims: no tensor';
    const dims = (t.dims as number[]).map(Number);
    const how = int(rnd, 6);
    if (how === 0) dims.push(1);
    else if (how === 1) dims.pop();
    else if (how === 2 && dims.length) dims[int(rnd, dims.length)] *= 2;
    else if (how === 3 && dims.length) dims[int(rnd, dims.length)] = pick(rnd, [0, -1, 2 ** 40, 2 ** 53 + 2]);
    else if (how === 4) dims.reverse();
    else dims.splice(0, dims.length, ...dims.map((d) => d * 3));
    t.dims = dims;
    return `dims ${t.name} -> [${dims.join(',')}]`;
  },
  rawData(m, _f, rnd) {
    const t = tensorsOf(m).filter((x) => x.rawData?.length)[0];
    if (!t) return 'raw: none';
    const raw = t.rawData;
    const how = int(rnd, 3);
    if (how === 0) t.rawData = raw.subarray(0, int(rnd, raw.length));
    else if (how === 1) t.rawData = new Uint8Array([...raw, ...new Uint8Array(1 + int(rnd, 8))]);
    else t.rawData = raw.map((b) => (rnd() < 0.01 ? 0xff : b));
    return `raw_data ${t.name} ${['cut', 'extended', 'bytes 0xff'][how]}`;
  },
  twoDataFields(m, _f, rnd) {
    const t = someTensor(m, rnd);
    if (!t) return 'two fields: none';
    t.floatData = [1, 2, 3];
    t.int32Data = [70000, -5, 1 << 20];
    return `raw and typed data in ${t.name}`;
  },
  typedOverflow(m, _f, rnd) {
    const t = tensorsOf(m).find((x) => x.dataType === 10 || x.dataType === 16) ?? someTensor(m, rnd);
    if (!t) return 'typed: none';
    const count = (t.dims as number[]).reduce((a, b) => a * Number(b), 1);
    t.rawData = new Uint8Array(0);
    t.int32Data = Array.from({ length: Math.min(count, 1 << 16) }, () => int(rnd, 1 << 18));
    return `int32_data over 16 bits in ${t.name}`;
  },
  external(m, files, rnd) {
    const t = tensorsOf(m).filter((x) => x.rawData?.length)[0] ?? tensorsOf(m).find((x) => x.dataLocation === 1);
    if (!t) return 'external: none';
    const location = pick(rnd, ['w.bin', 'w.bin', '../w.bin', '/etc/hostname', '.', '', 'sub/../w.bin', 'sub/w.bin', 'a'.repeat(5000), `w${pick(rnd, ESCAPES)}.bin`]);
    const bytes = t.rawData?.length ? t.rawData : new Uint8Array(64);
    const safe = !location.startsWith('/') && !location.split('/').includes('..') && location !== '' && location !== '.' && !location.includes('\u0000') && location.length < 255;
    if (safe) files.set(location, bytes);
    const offset = pick(rnd, ['0', '0', '+0', ' 0 ', 'zero', '-1', '1e3', '99999999999', '0x10', '1_0']);
    const length = pick(rnd, [String(bytes.length), String(bytes.length), String(bytes.length - 1), '', 'many', String(2 ** 40)]);
    t.rawData = new Uint8Array(0);
    t.dataLocation = 1;
    t.externalData = [{ key: 'location', value: location }, { key: 'offset', value: offset }, ...(length ? [{ key: 'length', value: length }] : [])] as onnx.StringStringEntryProto[];
    return `external ${t.name}: location ${JSON.stringify(location.slice(0, 20))} offset ${JSON.stringify(offset)} length ${JSON.stringify(length)}`;
  },
  externalEntry(m, files, rnd) {
    const t = tensorsOf(m).find((x) => x.dataLocation === 1);
    if (!t) return 'external entry: none';
    const key = pick(rnd, ['location', 'offset', 'length']);
    const entry = t.externalData.find((e) => e.key === key);
    const value = pick(rnd, ['+64', ' 64', 'x', '-64', '4096', '1e2', String(2 ** 53), '../weights.bin', 'missing.bin', '.', 'weights.bin']);
    if (entry) entry.value = value;
    else t.externalData.push({ key, value } as onnx.StringStringEntryProto);
    if (rnd() < 0.2) files.delete('weights.bin');
    return `external ${t.name}.${key} = ${JSON.stringify(value)}`;
  },
  nodeOrder(m, _f, rnd) {
    const nodes = nodesOf(m);
    if (rnd() < 0.5) nodes.reverse();
    else if (nodes.length > 1) {
      // A cycle: the first node reads the last node's output.
      nodes[0].input.push(nodes[nodes.length - 1].output[0]);
    }
    return 'node order reversed or cycle';
  },
  names(m, _f, rnd) {
    const nodes = nodesOf(m);
    const tensors = tensorsOf(m);
    const how = int(rnd, 4);
    if (how === 0 && tensors.length > 1) tensors[1].name = tensors[0].name;
    else if (how === 1 && nodes.length > 1) nodes[1].output[0] = nodes[0].output[0];
    else if (how === 2 && nodes.length) nodes[int(rnd, nodes.length)].input[0] = 'nobody_makes_this';
    else if (nodes.length) nodes[int(rnd, nodes.length)].name = `${pick(rnd, ESCAPES)}${'n'.repeat(int(rnd, 3) ? 10 : 200_000)}`;
    return `names (${how})`;
  },
  hugeString(m, _f, rnd) {
    const t = someTensor(m, rnd);
    const n = nodesOf(m).find((x) => x.input.includes(t?.name ?? ''));
    if (!t || !n) return 'huge string: none';
    const name = `${pick(rnd, ESCAPES)}${'w'.repeat(1 << int(rnd, 21))}`;
    n.input[n.input.indexOf(t.name)] = name;
    t.name = name;
    return `tensor name of ${name.length} characters`;
  },
  nesting(m, _f, rnd) {
    const nodes = nodesOf(m);
    const i = nodes.findIndex((x) => x.opType === 'MatMul' || x.opType === 'Conv' || x.opType === 'Gemm');
    if (i < 0) return 'nesting: none';
    const inner = nodes[i];
    const branch = (name: string) => ({ name, node: [inner], input: [], output: [{ name: inner.output[0] }], initializer: [] });
    const depth = 1 + int(rnd, 3);
    let wrapped = inner;
    for (let d = 0; d < depth; d++) {
      wrapped = onnx.NodeProto.create({
        name: `if${d}`,
        opType: 'If',
        input: ['cond'],
        output: [inner.output[0]],
        attribute: [
          { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(`then${d}`) },
          { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(`else${d}`) },
        ] as unknown as onnx.AttributeProto[],
      });
    }
    nodes[i] = wrapped;
    return `node ${inner.name} nested ${depth} deep`;
  },
  functions(m, _f, rnd) {
    const nodes = nodesOf(m);
    const i = nodes.findIndex((x) => x.opType === 'MatMul' || x.opType === 'Gemm' || x.opType === 'Conv');
    if (i < 0) return 'functions: none';
    const inner = nodes[i];
    const levels = 1 + int(rnd, 4);
    const fan = 1 + int(rnd, 8);
    // f0 holds the layer; each f(k) calls f(k-1) `fan` times: work that grows as fan^levels from a few bytes.
    const functions: onnx.IFunctionProto[] = [{ name: 'f0', domain: 'fuzz', input: inner.input, output: inner.output, node: [inner], opsetImport: [{ domain: '', version: 17 }] }];
    for (let k = 1; k <= levels; k++) {
      functions.push({
        name: `f${k}`,
        domain: 'fuzz',
        input: inner.input,
        output: inner.output,
        node: Array.from({ length: fan }, (_, j) => ({ opType: `f${k - 1}`, domain: 'fuzz', name: `call${k}_${j}`, input: inner.input, output: j === 0 ? inner.output : [`${inner.output[0]}_${k}_${j}`] })),
        opsetImport: [{ domain: 'fuzz', version: 1 }],
      });
    }
    m.functions = functions as onnx.FunctionProto[];
    m.opsetImport.push({ domain: 'fuzz', version: 1 } as onnx.OperatorSetIdProto);
    nodes[i] = onnx.NodeProto.create({ opType: `f${levels}`, domain: 'fuzz', name: 'call', input: inner.input, output: inner.output });
    return `${inner.name} called through ${levels} levels of ${fan} calls`;
  },
  attributes(m, _f, rnd) {
    const n = nodesOf(m).filter((x) => x.attribute?.length)[0] ?? nodesOf(m)[0];
    if (!n) return 'attributes: none';
    const how = int(rnd, 3);
    if (how === 0) n.attribute = [];
    else if (how === 1) n.attribute.push(onnx.AttributeProto.create({ name: pick(rnd, ['transB', 'group', 'axis', 'block_size']), type: 2, i: pick(rnd, [0, 1, -1, 3, 2 ** 40]) }));
    else for (const a of n.attribute) a.i = pick(rnd, [0, -7, 1000]);
    return `attributes of ${n.name} (${how})`;
  },
  sparse(m, _f, rnd) {
    const t = tensorsOf(m).filter((x) => x.rawData?.length && x.dataType === 1)[0];
    if (!t || !m.graph) return 'sparse: none';
    const count = t.rawData.length / 4;
    const indices = Array.from({ length: Math.min(count, 8) }, (_, i) => (rnd() < 0.1 ? count + 5 : i * 2));
    m.graph.initializer = (m.graph.initializer ?? []).filter((x) => x !== t);
    (m.graph.sparseInitializer ??= []).push(
      onnx.SparseTensorProto.create({
        dims: t.dims,
        values: { name: t.name, dataType: 1, dims: [indices.length], floatData: indices.map(() => rnd()) },
        indices: { name: `${t.name}_idx`, dataType: 7, dims: [indices.length], int64Data: indices },
      }),
    );
    return `sparse initializer ${t.name}`;
  },
};

/** Wire-level damage after encoding: flipped bytes, a cut, or a length prefix made huge. */
function damageWire(bytes: Uint8Array, rnd: Rnd): [Uint8Array, string] {
  const out = bytes.slice();
  const how = int(rnd, 3);
  if (how === 0) {
    for (let i = 0; i < 1 + int(rnd, 4); i++) out[int(rnd, out.length)] ^= 1 << int(rnd, 8);
    return [out, 'bytes flipped'];
  }
  if (how === 1) return [out.subarray(0, int(rnd, out.length)), 'cut'];
  // A 10-byte varint of 2^32 + small somewhere a length prefix sits: the start of the graph field.
  const at = out.indexOf(0x3a); // ModelProto.graph, field 7, wire 2
  if (at < 0) return [out, 'no graph tag'];
  const prefix = [0x85, 0x80, 0x80, 0x80, 0x10];
  const merged = new Uint8Array(out.length + prefix.length);
  merged.set(out.subarray(0, at + 1));
  merged.set(prefix, at + 1);
  merged.set(out.subarray(at + 1), at + 1 + prefix.length);
  return [merged, 'a 2^32 length prefix'];
}

/** The mutant for `seed`: 1 to 3 structure mutations of one base, sometimes wire damage after. */
export function makeMutant(bases: Base[], seed: number): Mutant {
  const rnd = seededRandom(seed);
  const base = bases[int(rnd, bases.length)];
  const model = onnx.ModelProto.decode(onnx.ModelProto.encode(base.model).finish());
  const files = new Map(base.files);
  const names = Object.keys(MUTATIONS);
  const mutations: string[] = [];
  for (let i = 0, n = 1 + int(rnd, 3); i < n; i++) mutations.push(MUTATIONS[pick(rnd, names)](model, files, rnd));
  let bytes = onnx.ModelProto.encode(model).finish();
  if (rnd() < 0.15) {
    let what: string;
    [bytes, what] = damageWire(bytes, rnd);
    mutations.push(`wire: ${what}`);
  }
  return { seed, base: base.name, mutations, bytes, files };
}

// ---------------------------------------------------------------------------
// Running the commands and checking what they leave

export interface Finding {
  seed: number;
  base: string;
  mutations: string[];
  command: string;
  problem: string;
}

export interface FuzzOptions {
  root: string;
  firstSeed: number;
  mutants: number;
  /** Run through `node dist/cli.js` processes (true) or the same commands in this process (false, faster). */
  processes: boolean;
  cli?: string;
  /** A run slower than this (ms) is a finding. */
  boundMs?: number;
  log?: (line: string) => void;
}

export interface FuzzSummary {
  mutants: number;
  runs: number;
  exits: Record<string, number>;
  slowestMs: number;
  findings: Finding[];
}

const COMMANDS: { name: string; args: (model: string) => string[]; command: Command; outputs: string[] }[] = [
  { name: 'inspect', args: (m) => ['inspect', m, '--format', 'json'], command: inspectCommand, outputs: [] },
  { name: 'prune', args: (m) => ['convert', m, '--mode', 'prune'], command: convertCommand, outputs: ['mutant.pruned-2of4.onnx', 'mutant.pruned-2of4.data'] },
  { name: 'compress', args: (m) => ['convert', m, '--mode', 'compress'], command: convertCommand, outputs: ['mutant.compressed-2of4.onnx', 'mutant.compressed-2of4.data'] },
];

/** Every file under `dir` with its bytes, as base64 (names with their subfolder): the disk as a run found it. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else out.set(`${prefix}${name}`, readFileSync(path).toString('base64'));
    }
  };
  walk(dir, '');
  return out;
}

async function runInProcess(command: Command, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const ctx = {
    stdout: (t: string) => void (stdout += t),
    stderr: (t: string) => void (stderr += t),
    output: async (t: string) => void (stdout += t),
    signal: new AbortController().signal,
  };
  const code = await runCommand(argv[0] === 'inspect' ? 'inspect' : 'convert', command, argv.slice(1), ctx);
  return { code, stdout, stderr };
}

/** Runs the mutants through every command; returns the counts and every finding (none is the goal). */
export async function fuzzCommands(options: FuzzOptions): Promise<FuzzSummary> {
  const bases = loadBases(options.root);
  const bound = options.boundMs ?? 20_000;
  const summary: FuzzSummary = { mutants: 0, runs: 0, exits: {}, slowestMs: 0, findings: [] };
  const scratch = mkdtempSync(join(tmpdir(), 'sparsity-lens-fuzz-'));
  try {
    for (let i = 0; i < options.mutants; i++) {
      const mutant = makeMutant(bases, options.firstSeed + i);
      const dir = join(scratch, String(mutant.seed));
      mkdirSync(dir);
      const model = join(dir, 'mutant.onnx');
      writeFileSync(model, mutant.bytes);
      for (const [location, bytes] of mutant.files) {
        mkdirSync(join(dir, location, '..'), { recursive: true });
        writeFileSync(join(dir, location), bytes);
      }
      const inputs = snapshot(dir);
      summary.mutants++;
      for (const c of COMMANDS) {
        const found = (problem: string) => summary.findings.push({ seed: mutant.seed, base: mutant.base, mutations: mutant.mutations, command: c.name, problem });
        const started = performance.now();
        let code: number | null;
        let stderr: string;
        let stdout: string;
        if (options.processes) {
          const run = spawnSync(process.execPath, [options.cli!, ...c.args(model)], { encoding: 'utf8', timeout: bound * 2, maxBuffer: 1 << 30 });
          code = run.status;
          stderr = run.stderr;
          stdout = run.stdout;
          if (run.signal) found(`killed by ${run.signal} (over ${bound * 2} ms, or out of memory)`);
        } else {
          // A run that never settles (a promise nobody resolves) is a finding, not a stuck fuzzer; a busy loop cannot
          // be stopped in process: --processes bounds those.
          let timer: NodeJS.Timeout | undefined;
          const hung = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
            timer = setTimeout(() => resolve({ code: -1, stdout: '', stderr: `did not finish within ${bound * 3} ms` }), bound * 3);
          });
          ({ code, stderr, stdout } = await Promise.race([runInProcess(c.command, c.args(model)), hung]));
          clearTimeout(timer);
          if (code === -1) found(`hung: ${stderr}`);
        }
        const ms = performance.now() - started;
        summary.runs++;
        summary.slowestMs = Math.max(summary.slowestMs, ms);
        summary.exits[String(code)] = (summary.exits[String(code)] ?? 0) + 1;
        if (![0, 1, 2, 130].includes(code as number)) found(`exit code ${code}: ${stderr.slice(0, 500)}`);
        if (/\n\s+at /.test(stderr)) found(`stack trace: ${stderr.slice(0, 500)}`);
        if (/TypeError|ReferenceError|internal error|heap out of memory|Maximum call stack/.test(stderr)) found(`engine fault: ${stderr.slice(0, 500)}`);
        if (ms > bound) found(`took ${ms.toFixed(0)} ms (bound ${bound})`);
        // The input is as it was; nothing but this command's own outputs was added.
        const after = snapshot(dir);
        for (const [name, bytes] of inputs) if (after.get(name) !== bytes) found(`input ${name} changed or removed`);
        const added = [...after.keys()].filter((name) => !inputs.has(name));
        for (const name of added) if (!c.outputs.includes(name)) found(`stray file ${name}`);
        if (code !== 0 && added.length) found(`exit ${code} but wrote ${added.join(', ')}`);
        // Every output reads again as a model.
        const output = added.find((name) => name.endsWith('.onnx'));
        if (output) {
          try {
            await inspectModel(join(dir, output), { workers: 0 });
          } catch (err) {
            found(`output ${output} does not read back: ${(err as Error).message.slice(0, 300)}`);
          }
          if (c.name !== 'inspect' && !/verification: every converted layer passes/.test(stdout)) found(`output written without passing verification: ${stdout.slice(0, 300)}`);
        }
        for (const name of added) rmSync(join(dir, name), { force: true });
      }
      rmSync(dir, { recursive: true, force: true });
      if (options.log && (i + 1) % 100 === 0) options.log(`${i + 1} mutants, ${summary.runs} runs, ${summary.findings.length} findings, slowest ${summary.slowestMs.toFixed(0)} ms`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return summary;
}
