// Hand-made protobuf for tests: messages protobufjs would never write (unpacked fields, wrong wire types).
import { Writer } from 'protobufjs/minimal';
import { onnx } from 'onnx-proto';
import { type ModelSpec, encodeModel } from './builder';

/** `spec` encoded with `tensorBytes` (an encoded TensorProto) appended to its graph as one more initializer. */
export function withEncodedInitializer(spec: ModelSpec, tensorBytes: Uint8Array): Uint8Array {
  // Protobuf fields may come in any order, so the extra initializer simply follows the graph's own fields.
  const graphBytes = concat(onnx.GraphProto.encode(spec.graph).finish(), Writer.create().uint32((5 << 3) | 2).bytes(tensorBytes).finish());
  const model = onnx.ModelProto.decode(encodeModel(spec));
  model.graph = null;
  return concat(onnx.ModelProto.encode(model).finish(), Writer.create().uint32((7 << 3) | 2).bytes(graphBytes).finish());
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
