// N:M patterns (N = most non-zeros kept per group of M, domain.md §1) and Intel block shapes.

export interface Pattern {
  n: number;
  m: number;
}

export const MAX_M = 16;

/** The standard patterns every report states, from the same single pass over the data. */
export const STANDARD_PATTERNS: readonly Pattern[] = [
  { n: 1, m: 2 },
  { n: 2, m: 4 },
  { n: 1, m: 4 },
  { n: 2, m: 8 },
  { n: 4, m: 8 },
  { n: 1, m: 8 },
];

/** Intel Neural Compressor block shapes, out x in (rows of output features x columns along K). */
export interface BlockShape {
  name: string;
  out: number;
  in: number;
}
export const BLOCK_SHAPES: readonly BlockShape[] = [
  { name: '2x1', out: 2, in: 1 },
  { name: '4x1', out: 4, in: 1 },
  { name: '1x4', out: 1, in: 4 },
  { name: '4x16', out: 4, in: 16 },
];

export function patternName(p: Pattern): string {
  return `${p.n}:${p.m}`;
}

/** Parses "2:4"; returns an error message for anything else. */
export function parsePattern(text: string): Pattern | string {
  const match = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!match) return `pattern '${text}' is not of the form N:M (e.g. 2:4)`;
  const n = Number(match[1]);
  const m = Number(match[2]);
  if (!(n >= 1 && n < m && m <= MAX_M)) return `pattern '${text}' needs 1 <= N < M <= ${MAX_M} (N = non-zeros kept per group of M)`;
  return { n, m };
}
