// The index encodings of one picked group: its values, Ascend index[0]/index[1], the NVIDIA nibble, the bitmask
// and the compressed bytes in hex.
import type { GroupEncodings } from '../src/protocol';
import { el, facts } from './dom';

export function encodingsView(enc: GroupEncodings, m: number): HTMLElement {
  const first = enc.group * m;
  const values = el(
    'ol',
    { class: 'group-values', start: 0, 'aria-label': 'Group values, element 0 first' },
    ...enc.values.map((v, i) => el('li', { class: enc.mask[i] === '1' ? 'nonzero' : 'zero' }, el('span', { class: 'element-index' }, `e${i}`), el('span', {}, v))),
  );
  const rows: [string, string][] = [
    ['Mask (e0 e1 e2 e3)', enc.mask],
    ['Non-zeros', String(enc.nonZeros)],
    ['Bitmask (bit 3 first)', enc.bitmask],
  ];
  if (enc.ascend) {
    rows.push(['Ascend index[0]', enc.ascend.index0], ['Ascend index[1]', enc.ascend.index1], ['Ascend values', enc.ascend.values.join(', ')]);
  }
  if (enc.nvidia) rows.push(['NVIDIA metadata nibble', enc.nvidia.nibble], ['NVIDIA values', enc.nvidia.values.join(', ')]);
  return el(
    'section',
    { class: 'encodings', id: 'encodings', 'aria-label': 'Index encodings', tabindex: -1 },
    el('h3', {}, `Group: output feature ${enc.row}, K ${first}–${first + m - 1}, position ${enc.position} (${enc.dtype})`),
    values,
    facts(rows, 'facts encoding-facts'),
    enc.problem && el('p', { class: 'problem', role: 'note' }, enc.problem),
    ...enc.hex.map((h) => el('figure', { class: 'hex' }, el('figcaption', {}, h.title), el('pre', {}, h.lines.join('\n')))),
  );
}
