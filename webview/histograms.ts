// A layer's statistics as text and bars: the count and mask histograms, the standard patterns and block ratios.
import type { LayerReport } from '../src/engine/sparsity/inspect';
import type { Pattern } from '../src/engine/sparsity/pattern';
import { el } from './dom';
import { count, percent } from './format';

/** The most masks the mask histogram lists (M = 8 has 256). */
const MASKS_SHOWN = 16;

/** One labelled bar: the width shows the share, the text says it. */
function bar(label: string, value: number, total: number, valid: boolean): HTMLElement {
  const fill = el('span', { class: `bar-fill ${valid ? 'level-pass' : 'level-low'}` });
  fill.style.width = `${total ? ((value / total) * 100).toFixed(2) : 0}%`;
  return el(
    'li',
    { class: 'bar-row' },
    el('span', { class: 'bar-label' }, label),
    el('span', { class: 'bar' }, fill),
    el('span', { class: 'bar-value' }, `${count(value)} (${percent(total ? value / total : 0, 1)}) ${valid ? '✓ valid' : '✗ too many'}`),
  );
}

export function countHistogram(layer: LayerReport, pattern: Pattern): HTMLElement | null {
  const hist = layer.countHistogram;
  if (!hist) return null;
  const total = hist.reduce((a, b) => a + b, 0);
  return el(
    'section',
    { class: 'histogram', 'aria-label': 'Non-zeros per group' },
    el('h3', {}, `Non-zeros per group of ${pattern.m}`),
    el('ul', { class: 'bars', id: 'count-histogram' }, ...hist.map((n, c) => bar(`${c} non-zero${c === 1 ? '' : 's'}`, n, total, c <= pattern.n))),
  );
}

/** Element order e0 e1 …: ■ non-zero, □ zero (bit i = element i). */
export function maskPicture(mask: number, m: number): string {
  let picture = '';
  for (let i = 0; i < m; i++) picture += (mask >> i) & 1 ? '■' : '□';
  return picture;
}

export function maskHistogram(layer: LayerReport, pattern: Pattern): HTMLElement | null {
  const hist = layer.maskHistogram;
  if (!hist) return null;
  const total = hist.reduce((a, b) => a + b, 0);
  const masks = hist
    .map((n, mask) => ({ n, mask }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n || a.mask - b.mask);
  const bitCount = (mask: number) => maskPicture(mask, pattern.m).split('■').length - 1;
  const rows = masks.slice(0, MASKS_SHOWN).map(({ n, mask }) => bar(maskPicture(mask, pattern.m), n, total, bitCount(mask) <= pattern.n));
  return el(
    'section',
    { class: 'histogram', 'aria-label': 'Masks' },
    el('h3', {}, 'Masks (■ non-zero, □ zero; element 0 first)'),
    el('ul', { class: 'bars masks', id: 'mask-histogram' }, ...rows),
    masks.length > MASKS_SHOWN && el('p', { class: 'note' }, `… and ${masks.length - MASKS_SHOWN} rarer masks.`),
  );
}

export function patternsAndBlocks(layer: LayerReport): HTMLElement {
  const patterns = Object.entries(layer.patterns).map(([name, ok]) => el('li', { class: ok ? 'status-pass' : 'status-fail' }, `${ok ? '✓' : '✗'} ${name} ${ok ? 'satisfied' : 'not satisfied'}`));
  const blocks = Object.entries(layer.blocks).map(([name, ratio]) =>
    el('li', {}, ratio === null ? `${name}: not applicable (dims not divisible)` : `${name}: ${percent(ratio, 1)} of blocks all zero`),
  );
  return el(
    'section',
    { class: 'patterns', 'aria-label': 'Standard patterns and block ratios' },
    el('h3', {}, 'Standard patterns'),
    el('ul', { class: 'pattern-list', id: 'pattern-list' }, ...patterns),
    el('h3', {}, 'Block sparsity (out × in)'),
    el('ul', { class: 'block-list', id: 'block-list' }, ...blocks),
  );
}
