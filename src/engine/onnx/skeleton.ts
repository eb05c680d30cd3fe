// The lazy skeleton of an ONNX model: every graph, node and tensor, with where each tensor's bytes lie,
// and none of those bytes read. Field numbers follow onnx.proto; unknown fields are skipped.
import type { FoldExpr } from './folded';
import { CancelledError, ModelError } from '../errors';
import type { PackedCodes } from './packedCodes';
import { dtypeById, type TypedField } from './dtypes';
import type { ByteSource } from './source';
import {
  type Field,
  WIRE_I32,
  WIRE_I64,
  WIRE_LEN,
  WIRE_VARINT,
  TruncatedFileError,
  WireError,
  forEachField,
  readFloat,
  readFloats,
  readIntegers,
  readString,
} from './wire';

export interface ByteRange {
  offset: number;
  length: number;
}

export type TensorData =
  | { kind: 'raw'; offset: number; length: number }
  /** Typed repeated field: packed runs (one each) or one-value-per-tag runs; values in file order. */
  | { kind: 'typed'; field: TypedField; runs: ByteRange[]; packed: boolean[] }
  | { kind: 'external'; location: string; offset: number; length: number | undefined }
  | { kind: 'sparse'; values: TensorRef; indices: TensorRef }
  | { kind: 'none' };

export interface TensorRef {
  name: string;
  dtype: number;
  dims: number[];
  data: TensorData;
  /** Where the TensorProto (or SparseTensorProto) message's bytes lie in the file (the field's value). */
  span: ByteRange;
  /** Offset of the tag of the field holding it (initializer, attribute `t`...): where the whole field starts. */
  fieldStart: number;
  /** Set when the tensor's own message is malformed: its layer fails, the rest of the report stands. */
  problem?: string;
  /**
   * data_location is EXTERNAL, even when its entries could not be used (`data` is then 'none' and `problem` says why):
   * a writer must not copy such a tensor as if its data were inline. False for a sparse tensor, whose values and
   * indices say it for themselves.
   */
  declaredExternal: boolean;
  /**
   * Set on a layer's effective weight that is a constant only after folding (Mul by a mask, Where, Concat, Slice):
   * how to evaluate it (onnx/folded.ts). The other fields then describe the constant it is written back to, if any.
   */
  fold?: FoldExpr;
  /**
   * A view of bit-packed codes (MatMulNBits, QMoE) over this uint8 tensor's bytes: `dims` are then the codes' own
   * [..., K] and openTensor reads one byte per code (onnx/packedCodes.ts).
   */
  codes?: PackedCodes;
  /**
   * The fields that hold values when more than one does (onnx/checks.ts warns: one of them is read), in file order:
   * VALUE_FIELDS' names, and 'external data' for data_location EXTERNAL.
   */
  valueFields?: string[];
}

/** TensorProto's fields that can hold the values, by field number (onnx.proto). */
const VALUE_FIELDS: Record<number, string> = { 4: 'float_data', 5: 'int32_data', 6: 'string_data', 7: 'int64_data', 10: 'double_data', 11: 'uint64_data', 9: 'raw_data' };
const DATA_LOCATION = 14;

export interface AttributeValue {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: string;
  ints?: number[];
  floats?: number[];
  strings?: string[];
  t?: TensorRef;
  g?: GraphSkeleton;
  graphs?: GraphSkeleton[];
}

export interface NodeSkeleton {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttributeValue>;
  /** Position in its graph, for stable names and graph order. */
  index: number;
  /** Offset of the node field's tag, and of the end of its value. */
  fieldStart: number;
  fieldEnd: number;
  /** Set when the node cannot be read as it is (a name longer than this tool reads): its layer fails. */
  problem?: string;
}

export interface ValueInfo {
  name: string;
  elemType?: number;
  /** number = fixed, string = symbolic, null = unknown; undefined when the rank is unknown. */
  dims?: (number | string | null)[];
}

export interface GraphSkeleton {
  name: string;
  /** Where this graph sits: "main", "main/If_3.then_branch", "function:custom.Block". */
  path: string;
  nodes: NodeSkeleton[];
  initializers: TensorRef[];
  sparseInitializers: TensorRef[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  /** The graph this one is nested in; names not found here resolve there. */
  parent?: GraphSkeleton;
  /** Where the GraphProto (or FunctionProto) message's bytes lie in the file. */
  span: ByteRange;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface ModelSkeleton {
  path: string;
  size: number;
  irVersion: number;
  producer: string;
  producerVersion: string;
  opsets: OpsetImport[];
  metadata: Record<string, string>;
  graph: GraphSkeleton;
  functions: GraphSkeleton[];
}

const MAX_DEPTH = 64;
const MAX_UNPACKED_RUNS = 1 << 22;

// What reading the structure may cost, whatever the file claims: a 2-byte node costs hundreds of bytes of memory,
// so a small file could otherwise exhaust it. Real models stay far below (a 100k-node model: about 400k items).
/** Nodes, graphs, attributes, tensors and value infos, in all (some 460 bytes of skeleton each: under 1 GB). */
export const MAX_STRUCTURE_ITEMS = 1 << 21;
/** Longer names are not copied into every path and message: a short stand-in with their length and hash is. */
export const MAX_NAME_BYTES = 1 << 16;
/** Characters of subgraph paths ("main/If_3.then_branch/..."), in all. */
export const MAX_PATH_CHARS = 1 << 27;
const CANCEL_CHECK_EVERY = 4096;

export interface ReadOptions {
  /** Checked while reading: a huge structure stops on Ctrl-C (CancelledError). */
  signal?: { readonly aborted: boolean };
  /** Called with each initializer of the main graph as it is read (inspect.ts starts scan workers on the way). */
  onInitializer?: (tensor: TensorRef) => void;
}

/** One read of a model's structure: its source and what it has cost so far. */
interface Reading {
  src: ByteSource;
  items: number;
  pathChars: number;
  signal?: { readonly aborted: boolean };
  onInitializer?: (tensor: TensorRef) => void;
}

/** Counts one item of structure against MAX_STRUCTURE_ITEMS, and now and then looks for a cancel. */
function countItem(r: Reading): void {
  if (++r.items > MAX_STRUCTURE_ITEMS) {
    throw new ModelError(r.src.path, `more than ${MAX_STRUCTURE_ITEMS} nodes, graphs, attributes, tensors and value infos: more structure than this tool reads`);
  }
  if (r.items % CANCEL_CHECK_EVERY === 0 && r.signal?.aborted) throw new CancelledError();
}

function countPath(r: Reading, path: string): void {
  r.pathChars += path.length;
  if (r.pathChars > MAX_PATH_CHARS) {
    throw new ModelError(r.src.path, `subgraph paths add up to more than ${MAX_PATH_CHARS} characters (names and nesting): more than this tool reads`);
  }
}

/**
 * A name (node, tensor, graph, value...). One longer than MAX_NAME_BYTES is not decoded: a stand-in naming its length
 * and hash is returned instead (so that equal names still match); `isLongName` tells the caller.
 */
function readName(src: ByteSource, f: Field): string {
  if (f.wire !== WIRE_LEN || f.len <= MAX_NAME_BYTES) return readString(src, f);
  // node:crypto loaded here, when first needed (6 ms of every start-up otherwise).
  const hash = (require('node:crypto') as typeof import('node:crypto')).createHash('sha256');
  for (let at = 0; at < f.len; at += 1 << 20) hash.update(src.view(f.pos + at, Math.min(1 << 20, f.len - at)));
  return `<name of ${f.len} bytes, sha256 ${hash.digest('hex').slice(0, 16)}>`;
}

function isLongName(f: Field): boolean {
  return f.len > MAX_NAME_BYTES;
}

function longNameProblem(what: string, f: Field): string {
  return `${what} of ${f.len} bytes is longer than the ${MAX_NAME_BYTES} bytes this tool reads`;
}

function expect(f: Field, wire: number, what: string): void {
  if (f.wire !== wire) throw new WireError(`${what} has wire type ${f.wire}, expected ${wire}`);
}

/**
 * Reads the skeleton of the model in `src`. Throws ModelError when the file is not a readable ONNX model or holds more
 * structure than this tool reads (MAX_STRUCTURE_ITEMS, MAX_PATH_CHARS), CancelledError when `options.signal` aborts.
 */
export function readSkeleton(src: ByteSource, options: ReadOptions = {}): ModelSkeleton {
  if (src.size === 0) throw new ModelError(src.path, 'the file is empty: not an ONNX model');
  const model: ModelSkeleton = {
    path: src.path,
    size: src.size,
    irVersion: 0,
    producer: '',
    producerVersion: '',
    opsets: [],
    metadata: {},
    graph: undefined as unknown as GraphSkeleton,
    functions: [],
  };
  const r: Reading = { src, items: 0, pathChars: 0, signal: options.signal, onInitializer: options.onInitializer };
  try {
    forEachField(src, 0, src.size, (f) => {
      switch (f.no) {
        case 1:
          expect(f, WIRE_VARINT, 'ir_version');
          model.irVersion = f.varint;
          break;
        case 2:
          expect(f, WIRE_LEN, 'producer_name');
          model.producer = readString(src, f);
          break;
        case 3:
          expect(f, WIRE_LEN, 'producer_version');
          model.producerVersion = readString(src, f);
          break;
        case 7:
          expect(f, WIRE_LEN, 'graph');
          model.graph = readGraph(r, f.pos, f.pos + f.len, 'main', undefined, 0);
          break;
        case 8:
          expect(f, WIRE_LEN, 'opset_import');
          model.opsets.push(readOpset(src, f));
          break;
        case 14: {
          expect(f, WIRE_LEN, 'metadata_props');
          const [key, value] = readStringEntry(src, f);
          model.metadata[key] = value;
          break;
        }
        case 25:
          expect(f, WIRE_LEN, 'functions');
          model.functions.push(readFunction(r, f.pos, f.pos + f.len));
          break;
      }
    });
  } catch (err) {
    if (err instanceof ModelError || err instanceof CancelledError) throw err;
    const why = err instanceof WireError || err instanceof RangeError ? err.message : String(err);
    // Say it in sizes first: "field 7 at byte 19 claims 13942186 bytes" alone tells a user nothing.
    // Only for what began as a model (ir_version read: writers put it first); random bytes are not "cut short".
    if (err instanceof TruncatedFileError && model.irVersion > 0) {
      throw new ModelError(src.path, `the model needs ${sizeText(err.needed)}, the file has ${sizeText(src.size)}: an incomplete download or copy? (${why})`, undefined, true);
    }
    throw new ModelError(src.path, `not a readable ONNX model: truncated or corrupt (${why})`);
  }
  if (!model.graph) throw new ModelError(src.path, 'no graph found: not an ONNX model, or truncated');
  return model;
}

function readOpset(src: ByteSource, at: Field): OpsetImport {
  const opset: OpsetImport = { domain: '', version: 0 };
  forEachField(src, at.pos, at.pos + at.len, (f) => {
    if (f.no === 1 && f.wire === WIRE_LEN) opset.domain = readString(src, f);
    else if (f.no === 2 && f.wire === WIRE_VARINT) opset.version = f.varint;
  });
  return opset;
}

function readStringEntry(src: ByteSource, at: Field): [string, string] {
  let key = '';
  let value = '';
  forEachField(src, at.pos, at.pos + at.len, (f) => {
    if (f.no === 1 && f.wire === WIRE_LEN) key = readString(src, f);
    else if (f.no === 2 && f.wire === WIRE_LEN) value = readString(src, f);
  });
  return [key, value];
}

function newGraph(name: string, path: string, parent: GraphSkeleton | undefined, span: ByteRange): GraphSkeleton {
  return { name, path, nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [], parent, span };
}

function readGraph(r: Reading, start: number, end: number, path: string, parent: GraphSkeleton | undefined, depth: number): GraphSkeleton {
  if (depth > MAX_DEPTH) throw new WireError(`graphs nested deeper than ${MAX_DEPTH} levels`);
  const { src } = r;
  countItem(r);
  countPath(r, path);
  const graph = newGraph('', path, parent, { offset: start, length: end - start });
  // Nodes are read after the initializers, which follow them in the file: the initializers tell soon whether scan
  // workers should start (inspect.ts, earlyWorkers), and an LLM's nodes are most of the walk. Counted as collected.
  const nodeFields: Field[] = [];
  forEachField(src, start, end, (f) => {
    switch (f.no) {
      case 1:
        expect(f, WIRE_LEN, 'node');
        countItem(r);
        nodeFields.push({ ...f });
        break;
      case 2:
        expect(f, WIRE_LEN, 'graph name');
        graph.name = readName(src, f);
        break;
      case 5:
        expect(f, WIRE_LEN, 'initializer');
        countItem(r);
        graph.initializers.push(readTensor(src, f.pos, f.pos + f.len, f.start));
        if (depth === 0) r.onInitializer?.(graph.initializers[graph.initializers.length - 1]);
        break;
      case 15:
        expect(f, WIRE_LEN, 'sparse_initializer');
        countItem(r);
        graph.sparseInitializers.push(readSparseTensor(src, f.pos, f.pos + f.len, f.start));
        break;
      case 11:
      case 12:
      case 13: {
        expect(f, WIRE_LEN, 'value info');
        countItem(r);
        const info = readValueInfo(src, f);
        (f.no === 11 ? graph.inputs : f.no === 12 ? graph.outputs : graph.valueInfo).push(info);
        break;
      }
    }
  });
  for (const f of nodeFields) graph.nodes.push(readNode(r, f, graph, depth, false));
  return graph;
}

function readFunction(r: Reading, start: number, end: number): GraphSkeleton {
  const { src } = r;
  let name = '';
  let domain = '';
  const nodeFields: Field[] = [];
  countItem(r);
  const fn = newGraph('', '', undefined, { offset: start, length: end - start });
  forEachField(src, start, end, (f) => {
    if (f.no === 1 && f.wire === WIRE_LEN) name = readName(src, f);
    else if (f.no === 10 && f.wire === WIRE_LEN) domain = readName(src, f);
    else if ((f.no === 4 || f.no === 5) && f.wire === WIRE_LEN) {
      countItem(r);
      (f.no === 4 ? fn.inputs : fn.outputs).push({ name: readName(src, f) });
    } else if (f.no === 7 && f.wire === WIRE_LEN) {
      countItem(r); // counted as collected, or the collected fields themselves could pile up without bound
      nodeFields.push({ ...f });
    }
  });
  fn.name = name;
  fn.path = `function:${domain ? `${domain}.` : ''}${name}`;
  countPath(r, fn.path);
  for (const f of nodeFields) fn.nodes.push(readNode(r, f, fn, 1, false));
  return fn;
}

function readValueInfo(src: ByteSource, at: Field): ValueInfo {
  const info: ValueInfo = { name: '' };
  forEachField(src, at.pos, at.pos + at.len, (f) => {
    if (f.no === 1 && f.wire === WIRE_LEN) info.name = readName(src, f);
    else if (f.no === 2 && f.wire === WIRE_LEN) {
      // TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1) | dim_param (2)
      forEachField(src, f.pos, f.pos + f.len, (t) => {
        if (t.no !== 1 || t.wire !== WIRE_LEN) return;
        forEachField(src, t.pos, t.pos + t.len, (tt) => {
          if (tt.no === 1 && tt.wire === WIRE_VARINT) info.elemType = tt.varint;
          else if (tt.no === 2 && tt.wire === WIRE_LEN) {
            const dims: (number | string | null)[] = [];
            forEachField(src, tt.pos, tt.pos + tt.len, (d) => {
              if (d.no !== 1 || d.wire !== WIRE_LEN) return;
              let dim: number | string | null = null;
              forEachField(src, d.pos, d.pos + d.len, (dv) => {
                if (dv.no === 1 && dv.wire === WIRE_VARINT) dim = dv.varint;
                else if (dv.no === 2 && dv.wire === WIRE_LEN) dim = readString(src, dv) || null;
              });
              dims.push(dim);
            });
            info.dims = dims;
          }
        });
      });
    }
  });
  return info;
}

function readNode(r: Reading, at: Field, graph: GraphSkeleton, depth: number, count = true): NodeSkeleton {
  const { src } = r;
  if (count) countItem(r);
  const node: NodeSkeleton = {
    name: '',
    opType: '',
    domain: '',
    inputs: [],
    outputs: [],
    attributes: new Map(),
    index: graph.nodes.length,
    fieldStart: at.start,
    fieldEnd: at.pos + at.len,
  };
  const attrFields: Field[] = [];
  const name = (f: Field, what: string): string => {
    expect(f, WIRE_LEN, what);
    if (isLongName(f)) node.problem ??= longNameProblem(what, f);
    return readName(src, f);
  };
  forEachField(src, at.pos, at.pos + at.len, (f) => {
    switch (f.no) {
      case 1:
        node.inputs.push(name(f, 'node input'));
        break;
      case 2:
        node.outputs.push(name(f, 'node output'));
        break;
      case 3:
        node.name = name(f, 'node name');
        break;
      case 4:
        node.opType = name(f, 'op_type');
        break;
      case 7:
        node.domain = name(f, 'node domain');
        break;
      case 5:
        expect(f, WIRE_LEN, 'attribute');
        countItem(r);
        attrFields.push({ ...f });
        break;
    }
  });
  // Attributes last: subgraph paths need the node's name.
  const label = node.name || `${node.opType}_${node.index}`;
  for (const f of attrFields) {
    const attr = readAttribute(r, f, graph, `${graph.path}/${label}`, depth);
    node.attributes.set(attr.name, attr);
  }
  return node;
}

function readAttribute(r: Reading, at: Field, graph: GraphSkeleton, nodePath: string, depth: number): AttributeValue {
  const { src } = r;
  const attr: AttributeValue = { name: '', type: 0 };
  const graphFields: Field[] = [];
  forEachField(src, at.pos, at.pos + at.len, (f) => {
    switch (f.no) {
      case 1:
        attr.name = readName(src, f);
        break;
      case 20:
        attr.type = f.varint;
        break;
      case 2:
        attr.f = readFloat(src, f);
        break;
      case 3:
        expect(f, WIRE_VARINT, 'attribute i');
        attr.i = f.varint;
        break;
      case 4:
        attr.s = readString(src, f);
        break;
      case 5:
        expect(f, WIRE_LEN, 'attribute t');
        attr.t = readTensor(src, f.pos, f.pos + f.len, f.start);
        break;
      case 22:
        expect(f, WIRE_LEN, 'attribute sparse_tensor');
        attr.t = readSparseTensor(src, f.pos, f.pos + f.len, f.start);
        break;
      case 6:
      case 11:
        expect(f, WIRE_LEN, 'attribute graph');
        graphFields.push({ ...f });
        break;
      case 7:
        readFloats(src, f, (attr.floats ??= []));
        break;
      case 8:
        readIntegers(src, f, (attr.ints ??= []));
        break;
      case 9:
        (attr.strings ??= []).push(readString(src, f));
        break;
    }
  });
  for (const f of graphFields) {
    const sub = readGraph(r, f.pos, f.pos + f.len, `${nodePath}.${attr.name}`, graph, depth + 1);
    if (f.no === 6) attr.g = sub;
    else (attr.graphs ??= []).push(sub);
  }
  return attr;
}

/** A TensorProto: its name, type, dims and where its values are. A malformed tensor is returned with `problem` set. */
export function readTensor(src: ByteSource, start: number, end: number, fieldStart: number): TensorRef {
  const tensor: TensorRef = {
    name: '',
    dtype: 0,
    dims: [],
    data: { kind: 'none' },
    span: { offset: start, length: end - start },
    fieldStart,
    declaredExternal: false,
  };
  let raw: ByteRange | undefined;
  let longName: string | undefined;
  const externalEntries: Record<string, string> = {};
  const typed = new Map<number, { runs: ByteRange[]; packed: boolean[] }>();
  // The fields holding values, present (even empty: an empty raw_data is the tensor's data) in file order.
  const valueFields: string[] = [];
  try {
    forEachField(src, start, end, (f) => {
      const holds = f.no === DATA_LOCATION ? (f.varint === 1 ? 'external data' : undefined) : VALUE_FIELDS[f.no];
      if (holds !== undefined && !valueFields.includes(holds)) valueFields.push(holds);
      switch (f.no) {
        case 1:
          readIntegers(src, f, tensor.dims);
          break;
        case 2:
          expect(f, WIRE_VARINT, 'data_type');
          tensor.dtype = f.varint;
          break;
        case 3:
          throw new WireError('segmented tensors are not supported');
        case 8:
          expect(f, WIRE_LEN, 'tensor name');
          tensor.name = readName(src, f);
          if (isLongName(f)) longName = longNameProblem('tensor name', f);
          break;
        case 9:
          expect(f, WIRE_LEN, 'raw_data');
          raw = { offset: f.pos, length: f.len };
          break;
        case 13: {
          expect(f, WIRE_LEN, 'external_data');
          if (f.len > MAX_NAME_BYTES) throw new WireError(`an external_data entry of ${f.len} bytes is longer than the ${MAX_NAME_BYTES} bytes this tool reads`);
          const [key, value] = readStringEntry(src, f);
          externalEntries[key] = value;
          break;
        }
        case 14:
          expect(f, WIRE_VARINT, 'data_location');
          tensor.declaredExternal = f.varint === 1;
          break;
        case 4:
        case 5:
        case 7:
        case 10:
        case 11: {
          let entry = typed.get(f.no);
          if (!entry) typed.set(f.no, (entry = { runs: [], packed: [] }));
          if (entry.runs.length >= MAX_UNPACKED_RUNS) throw new WireError('too many unpacked values in a typed field');
          const okWire = f.wire === WIRE_LEN || f.wire === (f.no === 4 ? WIRE_I32 : f.no === 10 ? WIRE_I64 : WIRE_VARINT);
          if (!okWire) throw new WireError(`typed data field ${f.no} has wire type ${f.wire}`);
          entry.runs.push({ offset: f.pos, length: f.len });
          entry.packed.push(f.wire === WIRE_LEN);
          break;
        }
      }
    });
    for (const d of tensor.dims) {
      if (!Number.isSafeInteger(d) || d < 0) throw new WireError(`invalid dimension ${Number.isNaN(d) ? 'beyond 2^53' : d} in dims [${tensor.dims.join(', ')}]`);
    }
    const count = elementCount(tensor.dims);
    if (!Number.isSafeInteger(count)) throw new WireError(`dims [${tensor.dims.join(', ')}] overflow`);
    if (tensor.declaredExternal) {
      const location = externalEntries.location;
      if (!location) throw new WireError("external data without a 'location'");
      const offset = parseExternalInteger(externalEntries.offset, 'offset') ?? 0;
      const length = parseExternalInteger(externalEntries.length, 'length');
      tensor.data = { kind: 'external', location, offset, length };
    } else if (raw) {
      tensor.data = { kind: 'raw', ...raw };
    } else {
      const dtype = dtypeById(tensor.dtype);
      const fieldNo = dtype ? TYPED_FIELD_NUMBERS[dtype.field] : undefined;
      const entry = fieldNo !== undefined ? typed.get(fieldNo) : undefined;
      if (entry && dtype) tensor.data = { kind: 'typed', field: dtype.field, ...entry };
    }
    if (valueFields.length > 1) tensor.valueFields = valueFields;
  } catch (err) {
    tensor.problem = err instanceof WireError || err instanceof RangeError ? err.message : String(err);
    recoverIdentity(src, start, end, tensor);
  }
  tensor.problem ??= longName;
  return tensor;
}

/**
 * The name (field 8) and data_location (14) of a malformed TensorProto, found by a walk that ignores every other
 * field: without its name the tensor could not be matched to its layer, which would vanish from the report; without
 * its data_location a writer would take external data for inline.
 */
function recoverIdentity(src: ByteSource, start: number, end: number, tensor: TensorRef): void {
  try {
    forEachField(src, start, end, (f) => {
      if (f.no === 8 && f.wire === WIRE_LEN && !tensor.name) tensor.name = readName(src, f);
      else if (f.no === 14 && f.wire === WIRE_VARINT) tensor.declaredExternal = f.varint === 1;
    });
  } catch {
    // A walk that breaks off keeps what it reached.
  }
}

const TYPED_FIELD_NUMBERS: Record<TypedField, number | undefined> = {
  float_data: 4,
  int32_data: 5,
  int64_data: 7,
  double_data: 10,
  uint64_data: 11,
  none: undefined,
};

// Python's int() on a str, as ONNX's loader reads offset and length: whitespace around (str.isspace), an optional
// sign, ASCII digits with single underscores between them ("+8192", " 8_192\n", "-0").
const PY_SPACE = '[\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*';
const PY_INT = new RegExp(`^${PY_SPACE}([+-]?)(\\d+(?:_\\d+)*)${PY_SPACE}$`);

/** An external data offset or length; undefined when absent or empty (ONNX's `if info.offset:` skips ''). */
function parseExternalInteger(text: string | undefined, key: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  const match = PY_INT.exec(text);
  const n = match ? Number(match[2].replaceAll('_', '')) : NaN;
  if (!match || (match[1] === '-' && n !== 0)) throw new WireError(`external data ${key} '${text}' is not a non-negative integer`);
  if (!Number.isSafeInteger(n)) throw new WireError(`external data ${key} ${text} is too large`);
  return n;
}

/** A SparseTensorProto: values (1), indices (2), dims (3). Its name is the values tensor's name. */
export function readSparseTensor(src: ByteSource, start: number, end: number, fieldStart: number): TensorRef {
  const dims: number[] = [];
  let values: TensorRef | undefined;
  let indices: TensorRef | undefined;
  let problem: string | undefined;
  try {
    forEachField(src, start, end, (f) => {
      if (f.no === 1 && f.wire === WIRE_LEN) values = readTensor(src, f.pos, f.pos + f.len, f.start);
      else if (f.no === 2 && f.wire === WIRE_LEN) indices = readTensor(src, f.pos, f.pos + f.len, f.start);
      else if (f.no === 3) readIntegers(src, f, dims);
    });
    if (!values || !indices) problem = 'sparse tensor without values or indices';
    for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) problem = `invalid dimension ${d} in sparse dims`;
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  const name = values?.name ?? '';
  return {
    name,
    dtype: values?.dtype ?? 0,
    dims,
    data: values && indices ? { kind: 'sparse', values, indices } : { kind: 'none' },
    span: { offset: start, length: end - start },
    fieldStart,
    problem: problem ?? values?.problem ?? indices?.problem,
    declaredExternal: false,
  };
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Bytes as people read them: 7.0 MB, 13.9 MB, 512 B. */
function sizeText(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
