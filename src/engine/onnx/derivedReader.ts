// Readers whose elements are computed on demand from another reader, one byte each. Type imports only, so that
// tensorData.ts (through packedCodes.ts) and its users import this without a cycle.
import type { DType } from './dtypes';
import type { ElementBytes, ElementReader } from './tensorData';

/**
 * A reader whose elements are one byte each, computed on demand from another reader (unpacked codes, distances from
 * a zero point): `read` hands out a reused buffer that `readInto` fills.
 */
export abstract class DerivedByteReader implements ElementReader {
  abstract readonly dtype: DType;
  abstract readonly count: number;
  abstract readonly splittable: boolean;
  private buffer = new Uint8Array(0);

  read(start: number, count: number): ElementBytes {
    if (this.buffer.length < count) this.buffer = new Uint8Array(Math.max(count, this.buffer.length * 2));
    const out = this.buffer.subarray(0, count);
    this.readInto(start, count, out);
    return { bytes: out, nibble: 0 };
  }

  abstract readInto(start: number, count: number, target: Uint8Array): void;
}
