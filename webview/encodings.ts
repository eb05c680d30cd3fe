// The index encodings of one picked group: its values (a zero point's zeros say so), Ascend index[0]/index[1] with
// what their bits point at, the NVIDIA nibble and the bitmask; then, apart, the compressed bytes of the layer's first
// rows in hex, with anything there that cannot be encoded (about those rows, not about the picked group).
import type { GroupEncodings } from '../src/protocol';
import { el, facts } from './dom';

export function encodingsView(enc: GroupEncodings, m: number): HTMLElement {
  const first = enc.group * m;
  const kept = [...enc.mask].map((bit) => bit === '1');
  const values = el(
    'ol',
    { class: 'group-values', start: 0, 'aria-label': 'Group values, element 0 first' },
    ...enc.values.map((v, i) =>
      el(
        'li',
        { class: kept[i] ? 'nonzero' : 'zero' },
        el('span', { class: 'element-index' }, `e${i}`),
        el('span', {}, v),
        // A quantized zero is the zero point, not 0: say which value it equals (int4 values already name theirs).
        !kept[i] && enc.zeroPoints && !v.includes('zero point') && el('span', { class: 'zero-point' }, `= zero point ${enc.zeroPoints[i]}`),
      ),
    ),
  );
  const rows: [string, string | HTMLElement][] = [
    ['Mask (e0 e1 e2 e3)', enc.mask],
    ['Non-zeros', String(enc.nonZeros)],
    ['Bitmask (bit 3 first)', enc.bitmask],
  ];
  if (enc.zeroPoints) rows.push(['Zero point', [...new Set(enc.zeroPoints)].join(', ')]);
  if (enc.ascend) {
    rows.push(
      ['Ascend index[0]', bits(enc.ascend.index0, ascendIndex0(kept))],
      ['Ascend index[1]', bits(enc.ascend.index1, ascendIndex1(kept))],
      ['Ascend values', enc.ascend.values.join(', ')],
    );
  }
  if (enc.nvidia) rows.push(['NVIDIA metadata nibble', enc.nvidia.nibble], ['NVIDIA values', enc.nvidia.values.join(', ')]);
  return el(
    'section',
    { class: 'encodings', id: 'encodings', 'aria-label': 'Index encodings', tabindex: -1 },
    el('h3', {}, `Group: output feature ${enc.row}, K ${first}–${first + m - 1}, position ${enc.position} (${enc.dtype})`),
    values,
    facts(rows, 'facts encoding-facts'),
    enc.problem && el('p', { class: 'problem', role: 'note', id: 'group-problem' }, enc.problem),
    enc.hex.length > 0 && hexPreview(enc),
  );
}

/** The bits, then in words what they point at. */
function bits(value: string, meaning: string): HTMLElement {
  return el('span', {}, el('code', { class: 'bits' }, value), el('span', { class: 'bits-meaning' }, ` ${meaning}`));
}

/** Ascend index[0]: the first non-zero among e0..e2, 0 when none (domain.md 4.1, the ATC --sparsity table). */
function ascendIndex0(kept: boolean[]): string {
  const at = [0, 1, 2].find((i) => kept[i]);
  return at === undefined ? '(no non-zero among e0–e2: 00)' : `(the first non-zero among e0–e2 is e${at})`;
}

/** Ascend index[1]: the last non-zero among e1..e3, counted from element 1 (00 = e1, 01 = e2, 10 = e3); 0 when none. */
function ascendIndex1(kept: boolean[]): string {
  const at = [3, 2, 1].find((i) => kept[i]);
  const convention = 'counted from e1: 00 = e1, 01 = e2, 10 = e3';
  return at === undefined ? `(no non-zero among e1–e3: 00; ${convention})` : `(the last non-zero among e1–e3 is e${at}, ${convention})`;
}

/** The layer's first rows in hex: a part of its own, since what it says (a row that cannot be encoded) is about them. */
function hexPreview(enc: GroupEncodings): HTMLElement {
  const rows = enc.hexRows ?? 0;
  const scope = rows > 0 ? `the layer's first ${rows} row${rows === 1 ? '' : 's'} (output features 0–${rows - 1}) at position ${enc.position}` : "the layer's first rows";
  const failed = enc.hex.filter((h) => h.lines.length === 1 && h.lines[0].startsWith('not encodable: '));
  return el(
    'section',
    { class: 'hex-preview', id: 'hex-preview', 'aria-label': "Compressed bytes of the layer's first rows" },
    el('h4', {}, "Compressed bytes of the layer's first rows"),
    el('p', { class: 'note', id: 'hex-scope' }, `The hex below covers ${scope}, not only the picked group.`),
    ...failed.map((h) => el('p', { class: 'problem layer-problem', role: 'note' }, `${h.title}: ${scope} cannot be encoded: ${h.lines[0].slice('not encodable: '.length)}`)),
    ...enc.hex.filter((h) => !failed.includes(h)).map((h) => el('figure', { class: 'hex' }, el('figcaption', {}, h.title), el('pre', {}, h.lines.join('\n')))),
  );
}
