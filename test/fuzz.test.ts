// A bounded, seeded mutation fuzzer over the bundled sample models. The engine's promise: on any bytes, a report
// or a ModelError naming the file, never another exception, never a hang; a bad tensor fails only its own layer.
// A failure names the mutant's seed and mutations: `FUZZ_SEED=<seed> FUZZ_MUTANTS=1 node --test dist/test/fuzz.test.js`
// replays exactly that mutant (FUZZ_MUTANTS=200000 with other seeds explores further).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { Writer } from 'protobufjs/minimal';
import { ModelError } from '../src/engine/errors';
import { constantNode, encodeModel, graph, makeTensor, node, seededRandom, valueInfo } from './support/builder';
import { MemorySource } from '../src/engine/onnx/source';
import { WIRE_LEN, WIRE_VARINT, forEachField } from '../src/engine/onnx/wire';
import { type InspectReport, inspectSource } from '../src/engine/sparsity/inspect';
import type { Pattern } from '../src/engine/sparsity/pattern';

const SAMPLES = ['sample.onnx', 'sample-fp16.onnx', 'sample-int8-qdq.onnx'];
/** About 0.6 ms each: 16 000 mutants take some 10 s on one core. */
const MUTANTS = Number(process.env.FUZZ_MUTANTS ?? 16_000);
const FIRST_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed0000);
/**
 * Mutants that once broke the engine, replayed first. Both grafted a string into fc2's packed dims, which then
 * claimed ~10^14 elements over 12-48 KB of raw_data: the scan cut them into ~10^7 parts before checking the
 * bytes, and ran out of memory. (Seeds name mutants of this mutator and these samples; the in-code test below
 * keeps the case if either changes.)
 */
const REGRESSION_SEEDS = [1029813, 1030325];
/** One inspection of a ~160 KB model takes milliseconds; anything near this bound is a near-hang. */
const MUTANT_BOUND_MS = 2000;
const MUTANT_PATH = 'mutant.onnx';
const TOLERANCE = 1e-6;

// ---------------------------------------------------------------------------
// Inputs

/** The repository root: the working folder under `npm test`, else two levels above dist/test. */
function repoRoot(): string {
  const candidates = [process.cwd(), resolve(__dirname, '..', '..')];
  const root = candidates.find((dir) => existsSync(join(dir, 'media', SAMPLES[0])));
  if (!root) throw new Error(`media/${SAMPLES[0]} not found under ${candidates.join(' or ')}`);
  return root;
}

interface Sample {
  name: string;
  bytes: Uint8Array;
  /** The sample as a tree of protobuf fields, for mutations that keep every length prefix consistent. */
  fields: WireNode[];
  /** Offsets of field headers (tags, length prefixes) and varint values, at every nesting level. */
  headers: number[];
}

function loadSamples(): Sample[] {
  const root = repoRoot();
  return SAMPLES.map((name) => {
    const bytes = new Uint8Array(readFileSync(join(root, 'media', name)));
    const headers: number[] = [];
    const fields = parseFields(bytes, headers);
    assert.deepEqual(encodeFields(fields), bytes, `${name} re-encodes to itself`);
    return { name, bytes, fields, headers: headers.sort((x, y) => x - y) };
  });
}

// ---------------------------------------------------------------------------
// The protobuf field tree

/** One field: its tag bytes, and either its value bytes or, for a length-delimited field that parses as a message, its fields. */
interface WireNode {
  no: number;
  wire: number;
  tag: Uint8Array;
  value: Uint8Array;
  children?: WireNode[];
}

const MAX_NESTING = 12;

/**
 * Parses a well-formed file into its field tree, pushing the offsets of headers and varint values into `headers`.
 * A length-delimited field that parses cleanly is taken for a message (a string that happens to parse only adds targets).
 */
function parseFields(bytes: Uint8Array, headers: number[]): WireNode[] {
  const src = new MemorySource('sample.onnx', bytes);
  const walk = (start: number, end: number, depth: number): WireNode[] => {
    const nodes: WireNode[] = [];
    const found: number[] = [];
    let cursor = start;
    forEachField(src, start, end, (f) => {
      const prefix = f.wire === WIRE_LEN ? varint(f.len).length : 0;
      found.push(cursor);
      if (f.wire === WIRE_LEN) found.push(f.pos - prefix);
      if (f.wire === WIRE_VARINT) found.push(f.pos);
      nodes.push({ no: f.no, wire: f.wire, tag: bytes.subarray(cursor, f.pos - prefix), value: bytes.subarray(f.pos, f.pos + f.len) });
      cursor = f.pos + f.len;
    });
    headers.push(...found);
    if (depth < MAX_NESTING) {
      for (const node of nodes) {
        if (node.wire !== WIRE_LEN || node.value.length === 0) continue;
        const at = node.value.byteOffset - bytes.byteOffset;
        const mark = headers.length;
        try {
          node.children = walk(at, at + node.value.length, depth + 1);
        } catch {
          headers.length = mark; // not a message: a string or raw bytes
        }
      }
    }
    return nodes;
  };
  return walk(0, bytes.length, 0);
}

function varint(value: number): Uint8Array {
  return Writer.create().uint64(value).finish();
}

function encodeFields(fields: WireNode[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const put = (nodes: WireNode[]): number => {
    let size = 0;
    for (const node of nodes) {
      chunks.push(node.tag);
      size += node.tag.length;
      if (node.wire !== WIRE_LEN) {
        chunks.push(node.value);
        size += node.value.length;
        continue;
      }
      const slot = chunks.length;
      chunks.push(new Uint8Array(0)); // the length prefix, known once the content is
      const length = node.children ? put(node.children) : (chunks.push(node.value), node.value.length);
      chunks[slot] = varint(length);
      size += chunks[slot].length + length;
    }
    return size;
  };
  put(fields);
  return concat(...chunks);
}

/** Every field of the tree with the list that holds it, in file order. */
function allFields(fields: WireNode[]): { node: WireNode; siblings: WireNode[]; path: string }[] {
  const out: { node: WireNode; siblings: WireNode[]; path: string }[] = [];
  const visit = (nodes: WireNode[], path: string) => {
    nodes.forEach((node, i) => {
      const here = `${path}${path ? '.' : ''}${node.no}[${i}]`;
      out.push({ node, siblings: nodes, path: here });
      if (node.children) visit(node.children, here);
    });
  };
  visit(fields, '');
  return out;
}

// ---------------------------------------------------------------------------
// Seeded randomness (mulberry32, from the builder), and mutations of the bytes

class Dice {
  constructor(readonly next: () => number) {}
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
  /** Short runs are likelier than long ones. */
  runLength(max: number): number {
    return 1 + Math.floor(this.next() ** 2 * max);
  }
}

const SPECIAL_BYTES = [0x00, 0xff, 0x80, 0x7f, 0x01];

interface Mutation {
  description: string;
  apply(bytes: Uint8Array): Uint8Array;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function randomBytes(dice: Dice, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const special = dice.chance(0.5);
  for (let i = 0; i < length; i++) out[i] = special ? dice.pick(SPECIAL_BYTES) : dice.below(256);
  return out;
}

/** A position inside `bytes`, drawn near a field header when `headers` are given (headers are of the unmutated sample). */
function position(dice: Dice, bytes: Uint8Array, headers?: number[]): number {
  if (bytes.length === 0) return 0;
  if (headers && headers.length) return Math.min(bytes.length - 1, dice.pick(headers) + (dice.chance(0.8) ? 0 : dice.below(3)));
  return dice.below(bytes.length);
}

/** Draws one mutation; `sample` supplies header positions, `other` the second half of a splice. */
function drawMutation(dice: Dice, sample: Sample, other: Sample): Mutation {
  const kind = dice.below(10);
  switch (kind) {
    case 0: {
      const flips = dice.runLength(8);
      const picks = Array.from({ length: flips }, () => [dice.next(), dice.below(8)] as const);
      return {
        description: `flip ${flips} bit(s)`,
        apply: (b) => {
          const out = b.slice();
          for (const [where, bit] of picks) if (out.length) out[Math.floor(where * out.length)] ^= 1 << bit;
          return out;
        },
      };
    }
    case 1: {
      const where = dice.next();
      const run = randomBytes(dice, dice.runLength(16));
      return {
        description: `overwrite ${run.length} byte(s) at ${where.toFixed(4)}`,
        apply: (b) => {
          const out = b.slice();
          out.set(run.subarray(0, Math.max(0, out.length - Math.floor(where * out.length))), Math.floor(where * out.length));
          return out;
        },
      };
    }
    case 2: {
      const value = dice.pick([0x00, 0xff, 0x80]);
      const spots = Array.from({ length: dice.runLength(4) }, () => dice.next());
      return {
        description: `set ${spots.length} byte(s) to 0x${value.toString(16)}`,
        apply: (b) => {
          const out = b.slice();
          for (const s of spots) if (out.length) out[Math.floor(s * out.length)] = value;
          return out;
        },
      };
    }
    case 3: {
      const keep = dice.next();
      return { description: `truncate to ${(keep * 100).toFixed(2)}%`, apply: (b) => b.slice(0, Math.floor(keep * b.length)) };
    }
    case 4: {
      const where = dice.next();
      const run = randomBytes(dice, dice.runLength(64));
      return {
        description: `insert ${run.length} byte(s) at ${where.toFixed(4)}`,
        apply: (b) => {
          const at = Math.floor(where * b.length);
          return concat(b.subarray(0, at), run, b.subarray(at));
        },
      };
    }
    case 5: {
      const where = dice.next();
      const length = dice.runLength(64);
      return {
        description: `delete ${length} byte(s) at ${where.toFixed(4)}`,
        apply: (b) => {
          const at = Math.floor(where * b.length);
          return concat(b.subarray(0, at), b.subarray(at + length));
        },
      };
    }
    case 6: {
      const from = dice.next();
      const to = dice.next();
      const length = dice.runLength(256);
      return {
        description: `duplicate ${length} byte(s) from ${from.toFixed(4)} to ${to.toFixed(4)}`,
        apply: (b) => {
          const start = Math.floor(from * b.length);
          const at = Math.floor(to * b.length);
          return concat(b.subarray(0, at), b.slice(start, start + length), b.subarray(at));
        },
      };
    }
    case 7:
    case 8: {
      // The wire walker's inputs: tags, length prefixes and varint values.
      const at = position(dice, sample.bytes, sample.headers);
      const how = dice.below(5);
      const bit = dice.below(8);
      const value = dice.pick(SPECIAL_BYTES);
      const delta = dice.pick([-2, -1, 1, 2, 64]);
      const names = [`flip bit ${bit}`, `set 0x${value.toString(16)}`, `add ${delta}`, 'randomize', 'insert 0xff 0xff'];
      const random = dice.below(256);
      return {
        description: `header byte ${at}: ${names[how]}`,
        apply: (b) => {
          if (at >= b.length) return b;
          const out = b.slice();
          if (how === 0) out[at] ^= 1 << bit;
          else if (how === 1) out[at] = value;
          else if (how === 2) out[at] = (out[at] + delta) & 0xff;
          else if (how === 3) out[at] = random;
          else return concat(b.subarray(0, at), new Uint8Array([0xff, 0xff]), b.subarray(at));
          return out;
        },
      };
    }
    default: {
      // Splice: the head of this sample and the tail of another, cut at header boundaries or anywhere.
      const cut = position(dice, sample.bytes, dice.chance(0.7) ? sample.headers : undefined);
      const resume = position(dice, other.bytes, dice.chance(0.7) ? other.headers : undefined);
      return {
        description: `splice [0, ${cut}) with ${other.name} from ${resume}`,
        apply: (b) => concat(b.subarray(0, Math.min(cut, b.length)), other.bytes.subarray(resume)),
      };
    }
  }
}

// ---------------------------------------------------------------------------
// Seeded mutations of the field tree: every length prefix stays consistent, so the damage reaches the
// tensors, dims and node links behind the wire walker.

/** Varint values that sit on boundaries: 0, small dims, 2^31, 2^32, beyond 2^53, -1 as ten bytes, an overlong varint. */
const INTERESTING_VARINTS: Uint8Array[] = [
  ...[0, 1, 2, 3, 4, 7, 8, 16, 127, 128, 255, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 35, 2 ** 40, 2 ** 53].map(varint),
  new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // 2^56
  new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // -1
  new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 11 bytes: malformed
];

function cloneFields(fields: WireNode[]): WireNode[] {
  return fields.map((f) => ({ ...f, children: f.children && cloneFields(f.children) }));
}

/** Mutates the tree in place; returns what it did. */
function mutateTree(dice: Dice, fields: WireNode[]): string {
  const everything = allFields(fields);
  const { node, siblings, path } = dice.pick(everything);
  const how = dice.below(7);
  if (how === 0 && node.wire === WIRE_VARINT) {
    node.value = dice.chance(0.8) ? dice.pick(INTERESTING_VARINTS) : varint(dice.below(1 << 20));
    return `varint ${path} = ${Buffer.from(node.value).toString('hex')}`;
  }
  switch (how) {
    case 0: // not a varint: change its bytes instead
    case 1: {
      const old = node.children ? encodeFields(node.children) : node.value;
      node.children = undefined;
      const change = dice.below(4);
      const at = dice.below(old.length + 1);
      if (change === 0) node.value = old.subarray(0, at);
      else if (change === 1) node.value = concat(old, randomBytes(dice, dice.runLength(16)));
      else if (change === 2) node.value = concat(old.subarray(0, at), randomBytes(dice, dice.runLength(8)), old.subarray(at + dice.runLength(8)));
      else node.value = new Uint8Array(0);
      return `value ${path} ${['cut', 'extend', 'rewrite', 'empty'][change]} (${old.length} -> ${node.value.length} bytes)`;
    }
    case 2:
      siblings.splice(siblings.indexOf(node), 1);
      return `delete ${path}`;
    case 3:
      siblings.splice(siblings.indexOf(node), 0, { ...node, children: node.children && cloneFields(node.children) });
      return `duplicate ${path}`;
    case 4: {
      const i = siblings.indexOf(node);
      const j = dice.below(siblings.length);
      [siblings[i], siblings[j]] = [siblings[j], siblings[i]];
      return `swap ${path} with sibling ${j}`;
    }
    case 5: {
      const no = dice.chance(0.5) ? Math.max(1, node.no + dice.pick([-1, 1])) : 1 + dice.below(25);
      const wire = dice.chance(0.8) ? node.wire : dice.pick([0, 1, 2, 5]);
      if (node.wire === WIRE_LEN && wire !== WIRE_LEN && node.children) node.value = encodeFields(node.children);
      if (wire !== WIRE_LEN) node.children = undefined;
      node.no = no;
      node.wire = wire;
      node.tag = varint(no * 8 + wire);
      return `retag ${path} as field ${no} wire ${wire}`;
    }
    default: {
      const messages = everything.filter((f) => f.node.children);
      const into = messages.length ? dice.pick(messages) : undefined;
      if (!into) return 'graft: no message';
      into.node.children!.splice(dice.below(into.node.children!.length + 1), 0, { ...node, children: node.children && cloneFields(node.children) });
      return `graft ${path} into ${into.path}`;
    }
  }
}

interface Mutant {
  seed: number;
  sample: string;
  mutations: string[];
  pattern?: Pattern;
  bytes: Uint8Array;
}

/** Everything about a mutant follows from its seed: a third of them mutate the field tree, the rest the bytes. */
function makeMutant(samples: Sample[], seed: number): Mutant {
  const dice = new Dice(seededRandom(seed));
  const sample = dice.pick(samples);
  const mutations: string[] = [];
  let bytes: Uint8Array;
  if (dice.chance(1 / 3)) {
    const fields = cloneFields(sample.fields);
    const count = dice.runLength(3);
    for (let i = 0; i < count; i++) mutations.push(mutateTree(dice, fields));
    bytes = encodeFields(fields);
  } else {
    bytes = sample.bytes;
    const count = dice.runLength(4);
    for (let i = 0; i < count; i++) {
      const mutation = drawMutation(dice, sample, dice.pick(samples));
      mutations.push(mutation.description);
      bytes = mutation.apply(bytes);
    }
  }
  const pattern = dice.chance(0.1) ? dice.pick([{ n: 1, m: 4 }, { n: 4, m: 8 }]) : undefined;
  return { seed, sample: sample.name, mutations, pattern, bytes };
}

function describe(m: Mutant): string {
  const pattern = m.pattern ? ` pattern ${m.pattern.n}:${m.pattern.m}` : '';
  return `seed ${m.seed} (${m.sample}${pattern}: ${m.mutations.join('; ')})`;
}

// ---------------------------------------------------------------------------
// What a sane report looks like

/** Problems with the report's structure; empty when it is sane. */
function reportProblems(report: InspectReport): string[] {
  const problems: string[] = [];
  const inUnit = (x: number) => Number.isFinite(x) && x >= -TOLERANCE && x <= 1 + TOLERANCE;
  for (const l of report.layers) {
    const at = `layer '${l.name}'`;
    if (typeof l.name !== 'string' || l.name === '') problems.push(`a layer without a name: ${JSON.stringify(l.name)}`);
    if (typeof l.op !== 'string' || l.op === '') problems.push(`${at} without an op`);
    if (l.compliance !== null && !inUnit(l.compliance)) problems.push(`${at}: compliance ${l.compliance}`);
    if (!(Number.isInteger(l.groups) && Number.isInteger(l.validGroups) && l.validGroups >= 0 && l.validGroups <= l.groups)) {
      problems.push(`${at}: validGroups ${l.validGroups} of ${l.groups} groups`);
    }
    if (l.zeros !== null && !(l.zeros >= 0 && l.zeros <= l.elements)) problems.push(`${at}: ${l.zeros} zeros of ${l.elements} elements`);
    if (l.retainedMagnitude !== null && !inUnit(l.retainedMagnitude)) problems.push(`${at}: retainedMagnitude ${l.retainedMagnitude}`);
    if (l.error !== null && (typeof l.error !== 'string' || l.eligible)) problems.push(`${at}: error ${JSON.stringify(l.error)} on an eligible layer`);
  }
  if (report.summary.layers !== report.layers.length) problems.push(`summary counts ${report.summary.layers} layers, report has ${report.layers.length}`);
  return problems;
}

// ---------------------------------------------------------------------------
// The fuzzer

test('mutants of the sample models give a sane report or a ModelError, each within the time bound', { timeout: 180_000 }, async (t) => {
  const samples = loadSamples();
  const counts = { mutants: 0, reports: 0, errors: 0, layersWithErrors: 0 };
  const failures: string[] = [];
  let slowest = { ms: 0, seed: 0 };
  const started = performance.now();
  const seeds = [...REGRESSION_SEEDS, ...Array.from({ length: MUTANTS }, (_, i) => FIRST_SEED + i)];
  for (const seed of seeds) {
    if (failures.length >= 5) break;
    const mutant = makeMutant(samples, seed);
    counts.mutants++;
    const begin = performance.now();
    let outcome: string[];
    try {
      const report = await inspectSource(new MemorySource(MUTANT_PATH, mutant.bytes), { workers: 0, pattern: mutant.pattern });
      counts.reports++;
      counts.layersWithErrors += report.layers.filter((l) => l.error !== null).length;
      outcome = reportProblems(report);
    } catch (err) {
      counts.errors++;
      if (!(err instanceof ModelError)) outcome = [`threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`];
      else if (!err.message.startsWith(`${MUTANT_PATH}: `)) outcome = [`ModelError without the file name: ${err.message}`];
      else outcome = [];
    }
    const ms = performance.now() - begin;
    if (ms > slowest.ms) slowest = { ms, seed: mutant.seed };
    if (ms > MUTANT_BOUND_MS) outcome.push(`took ${ms.toFixed(0)} ms (bound ${MUTANT_BOUND_MS} ms)`);
    if (outcome.length) failures.push(`${describe(mutant)}: ${outcome.join('; ')}`);
  }
  const seconds = (performance.now() - started) / 1000;
  t.diagnostic(
    `${counts.mutants} mutants: ${counts.reports} reports, ${counts.errors} errors, ${counts.layersWithErrors} layers with errors; ` +
      `${seconds.toFixed(1)} s, slowest ${slowest.ms.toFixed(0)} ms (seed ${slowest.seed})`,
  );
  assert.deepEqual(failures, []);
});

test('a weight whose dims claim 2^52 elements over 64 bytes of raw_data fails only its own layer, at once', async () => {
  const ones = (dims: number[]) => new Float32Array(dims.reduce((a, d) => a * d, 1)).fill(1);
  const inflated = makeTensor({ name: 'inflated', dtype: 'float32', dims: [4, 4], values: ones([4, 4]) });
  inflated.dims = [2 ** 24, 2 ** 24, 4, 4];
  const model = encodeModel({
    graph: graph({
      name: 'g',
      nodes: [node('MatMul', ['x', 'inflated'], ['h'], undefined, { name: 'bad' }), node('MatMul', ['h', 'w'], ['y'], undefined, { name: 'good' })],
      inputs: [valueInfo('x', 'float32', [1, 4])],
      outputs: [valueInfo('y', 'float32', [1, 4])],
      initializers: [inflated, makeTensor({ name: 'w', dtype: 'float32', dims: [4, 4], values: ones([4, 4]) })],
    }),
  });
  const report = await inspectSource(new MemorySource(MUTANT_PATH, model), { workers: 0 });
  const [bad, good] = report.layers;
  assert.equal(bad.error, 'raw_data holds 64 bytes but float32 dims [16777216, 16777216, 4, 4] need 18014398509481984');
  assert.equal(good.error, null);
  assert.equal(good.groups, 4);
  assert.equal(good.validGroups, 0);
});

/** A model whose main graph calls custom.F0; each F<i> calls F<next(i)> `calls` times; the last level holds a MatMul layer. */
function callTree(levels: number, calls: number, next: (i: number) => number): Uint8Array {
  const functions = Array.from({ length: levels }, (_, i) => {
    const weight = makeTensor({ name: 'w', dtype: 'float32', dims: [8, 8], values: new Float32Array(64).fill(1) });
    const body = [constantNode('w', weight), node('MatMul', ['a', 'w'], ['b'], undefined, { name: 'mm' })];
    const callees = Array.from({ length: calls }, (_, j) => node(`F${next(i)}`, ['b'], [`out${j}`], undefined, { name: `call${j}`, domain: 'custom' }));
    return { name: `F${i}`, domain: 'custom', input: ['a'], output: ['out0'], node: [...body, ...callees], opsetImport: [{ domain: '', version: 17 }] };
  });
  const main = graph({
    name: 'g',
    nodes: [node('F0', ['x'], ['y'], undefined, { name: 'top', domain: 'custom' })],
    inputs: [valueInfo('x', 'float32', [1, 8])],
    outputs: [valueInfo('y', 'float32', [1, 8])],
  });
  return encodeModel({ graph: main, functions, extraOpsets: [{ domain: 'custom', version: 1 }] });
}

test('a function that calls itself three times is searched once, not 3^16 times', async () => {
  const report = await inspectSource(new MemorySource(MUTANT_PATH, callTree(1, 3, () => 0)), { workers: 0 });
  assert.deepEqual(
    report.layers.map((l) => l.name),
    ['top/mm'],
  );
});

test('sixteen levels of functions, each calling the next three times, stop at the call-site budget', async () => {
  // Unbounded this is 3^15 bodies (14 million layers) from a 2 KB file.
  const report = await inspectSource(new MemorySource(MUTANT_PATH, callTree(16, 3, (i) => Math.min(i + 1, 15))), { workers: 0 });
  assert.ok(report.layers.length > 16 && report.layers.length <= 4097, `${report.layers.length} layers`);
});
