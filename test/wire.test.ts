// The protobuf field walk (onnx/wire.ts forEachField) decodes headers in place: against protobufjs's Reader on the
// same bytes, for the varints protobuf allows (negative int64, beyond 2^53, 5-byte tags), the malformed ones, fields
// across its copy boundaries, and a visit that moves the file's read window under it. Packed integers (dims,
// int64_data, attribute ints) are decoded by wire.ts too, and read as protobufjs reads them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Reader, Writer } from 'protobufjs/minimal';
import { FileSource, MemorySource } from '../src/engine/onnx/source';
import { type Field, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireError, decodeVarints, forEachField, readIntegers } from '../src/engine/onnx/wire';

/** A field as visited (forEachField reuses one object: each is copied). */
type Seen = Field;

function walk(bytes: Uint8Array, visit?: (f: Field) => void): Seen[] {
  const seen: Seen[] = [];
  forEachField(new MemorySource('m.onnx', bytes), 0, bytes.length, (f) => {
    seen.push({ ...f });
    visit?.(f);
  });
  return seen;
}

/** The same walk with protobufjs's Reader: what forEachField must agree with on well-formed bytes. */
function reference(bytes: Uint8Array): Seen[] {
  const r = new Reader(bytes);
  const out: Seen[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const tag = r.uint32();
    const wire = tag & 7;
    let varint = 0;
    let pos = r.pos;
    let len: number;
    if (wire === WIRE_VARINT) {
      const v = r.int64();
      const n = typeof v === 'number' ? v : (v as unknown as { toNumber(): number }).toNumber();
      varint = Number.isSafeInteger(n) ? n : NaN;
      len = r.pos - pos;
    } else if (wire === WIRE_LEN) {
      len = r.uint32();
      pos = r.pos;
      r.skip(len);
    } else {
      len = wire === WIRE_I64 ? 8 : 4;
      r.skip(len);
    }
    out.push({ no: tag >>> 3, wire, start, pos, len, varint });
  }
  return out;
}

/** A varint's bytes for a 64-bit value (a negative one as its two's complement, 10 bytes, as protobuf writes int64). */
function varint(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? low | 0x80 : low);
  } while (v);
  return out;
}

test('varints as protobuf reads them: small, large, beyond 2^53, negative int64, and the values around each length', () => {
  const values = [0n, 1n, 127n, 128n, 300n, 2n ** 28n - 1n, 2n ** 28n, 2n ** 35n + 7n, 2n ** 49n - 1n, 2n ** 49n, 2n ** 53n - 1n, -1n, -2n, -(2n ** 31n), -(2n ** 53n) + 1n];
  const unsafe = [2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n)];
  const bytes: number[] = [];
  [...values, ...unsafe].forEach((v, i) => bytes.push(...varint(BigInt(((i + 1) << 3) | WIRE_VARINT)), ...varint(v)));
  bytes.push(...varint(BigInt((40 << 3) | WIRE_LEN)), ...varint(300n), ...new Array(300).fill(3));
  bytes.push(...varint(BigInt((41 << 3) | WIRE_I32)), 7, 0, 0, 0);
  bytes.push(...varint(BigInt((42 << 3) | WIRE_I64)), 9, 0, 0, 0, 0, 0, 0, 0);
  // A tag of 5 bytes (field 2^28; protobuf's largest is 2^29 - 1).
  bytes.push(...varint((2n ** 28n << 3n) | BigInt(WIRE_VARINT)), 5);
  const message = Uint8Array.from(bytes);
  const seen = walk(message);
  assert.deepEqual(seen, reference(message));
  assert.deepEqual(
    seen.slice(0, values.length + unsafe.length).map((f) => f.varint),
    [...values.map(Number), NaN, NaN, NaN, NaN],
  );
  assert.equal(seen[seen.length - 1].no, 2 ** 28);
  assert.equal(seen[seen.length - 1].varint, 5);
});

test('fields across the 4 KB copies of a long message, and a visit that moves the file window, walk as protobufjs reads them', () => {
  const w = new Writer();
  // 3 MB of fields of every length from 1 to 700 bytes, with varints between: headers fall on every offset of a copy.
  let no = 1;
  for (let total = 0; total < 3 << 20; no = (no % 500) + 1) {
    const len = (total * 7 + no) % 700;
    w.uint32((no << 3) | WIRE_LEN).bytes(new Uint8Array(len).fill(no & 0xff));
    w.uint32((no << 3) | WIRE_VARINT).int64(total * 31);
    total += len + 8;
  }
  const bytes = w.finish();
  const expected = reference(bytes);
  assert.deepEqual(walk(bytes), expected);
  const dir = mkdtempSync(join(tmpdir(), 'wire-'));
  try {
    const path = join(dir, 'long.onnx');
    writeFileSync(path, bytes);
    const src = new FileSource(path);
    try {
      const seen: Seen[] = [];
      let k = 0;
      forEachField(src, 0, bytes.length, (f) => {
        seen.push({ ...f });
        // Read far from here now and then (the 1 MB window refills elsewhere), and check the value read.
        if (k++ % 97 === 0) {
          const far = (f.pos + (1 << 21)) % (bytes.length - 16);
          assert.deepEqual([...src.view(far, 16)], [...bytes.subarray(far, far + 16)]);
        }
      });
      assert.deepEqual(seen, expected);
    } finally {
      src.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed headers: the same errors as before, each naming the byte', () => {
  const cases: [number[], RegExp][] = [
    // A varint cut off by the end of the message.
    [[0x08, 0x80, 0x80], /truncated or malformed field at byte 0/],
    [[0x08, 0x01, 0x12, 0x85], /truncated or malformed field at byte 2/],
    // More than 10 bytes.
    [[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /truncated or malformed field at byte 0/],
    // A tag beyond 32 bits, field number 0, wire types 3 and 6.
    [[0xff, 0xff, 0xff, 0xff, 0x7f, 0x00], /invalid tag of more than 32 bits at byte 0/],
    [[0x00, 0x01], /invalid field number 0 at byte 0/],
    [[0x0b], /unsupported wire type 3 at byte 0/],
    [[0x08, 0x01, 0x0e], /unsupported wire type 6 at byte 2/],
    // A length beyond 2^53, and one past the end of the message.
    [[0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], /field 2 at byte 0 claims a length beyond 2\^53 bytes/],
    [[0x12, 0x05, 0x01], /field 2 at byte 0 claims 5 bytes, past the end of its message/],
    [[0x0d, 0x01, 0x02], /field 1 at byte 0 claims 4 bytes, past the end of its message/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => walk(Uint8Array.from(bytes)), (err: Error) => err instanceof WireError && message.test(err.message), `${bytes}`);
  }
});

test('packed integers (readIntegers, decodeVarints) as protobufjs reads them, and malformed runs', () => {
  const values = [0n, 1n, 127n, 128n, 4096n, 2n ** 31n, 2n ** 49n, 2n ** 53n - 1n, -1n, -7n, -(2n ** 40n), 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n];
  const run = Uint8Array.from(values.flatMap((v) => varint(v)));
  const expected: number[] = [];
  for (const r = new Reader(run); r.pos < r.len; ) {
    const v = r.int64();
    const n = typeof v === 'number' ? v : (v as unknown as { toNumber(): number }).toNumber();
    expected.push(Number.isSafeInteger(n) ? n : NaN);
  }
  assert.deepEqual(expected.slice(0, 11), values.slice(0, 11).map(Number));
  const message = Uint8Array.from([...varint(BigInt((7 << 3) | WIRE_LEN)), ...varint(BigInt(run.length)), ...run]);
  const field = walk(message)[0];
  const out: number[] = [3];
  readIntegers(new MemorySource('m.onnx', message), field, out);
  assert.deepEqual(out, [3, ...expected]);
  const visited: number[] = [];
  decodeVarints(run, (v) => visited.push(v));
  assert.deepEqual(visited, expected);
  assert.deepEqual((() => { const none: number[] = []; decodeVarints(new Uint8Array(0), (v) => none.push(v)); return none; })(), []);
  // A run cut off inside a varint, and a varint of 11 bytes.
  for (const bad of [[0x01, 0x80], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]]) {
    const m = Uint8Array.from([...varint(BigInt((7 << 3) | WIRE_LEN)), bad.length, ...bad]);
    assert.throws(() => readIntegers(new MemorySource('m.onnx', m), walk(m)[0], []), (err: Error) => err instanceof WireError && /field 7: malformed packed integers/.test(err.message));
    assert.throws(() => decodeVarints(Uint8Array.from(bad), () => {}), (err: Error) => err instanceof WireError && /malformed packed varints/.test(err.message));
  }
});
