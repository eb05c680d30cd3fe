// Short names for heatmap cells (issue 14): pure string work, no DOM, so the tests can call it.

/** Characters a cell's name shows (its full name is in its title and label). */
const CELL_CHARS = 20;

/** A transformer block's index in a layer name: "layers.3", "layer_3", "blocks.3", "h.3" (GPT-2), as a path part. */
const BLOCK = /(^|[/.])(?:layers|layer|blocks|block|h)[._](\d+)(?=[/.]|$)/g;

/** The block a layer belongs to (its first block index: "/encoder/layers.3/mlp/fc1" is in block 3), or null. */
export function blockIndex(name: string): number | null {
  const match = new RegExp(BLOCK.source).exec(name);
  return match ? Number(match[2]) : null;
}

/**
 * Cell names that tell layers apart (issue 14): block indexes read "L0" ("/encoder/layers.0/mlp/fc1/MatMul" becomes
 * "L0 mlp/fc1"), what every name shares at its start and at its end is dropped (at a '/', '.' or space), and what is
 * still too long loses its middle, not its end.
 */
export function cellLabels(names: string[]): string[] {
  const blocks = names.map((name) =>
    name
      // "/layer3/layer3.0/..." (a module path repeated in its child's name): the child says it.
      .replace(/(^|\/)([^/]+)\/(?=\2[./])/g, '$1')
      .replace(BLOCK, (_m, lead: string, n: string) => `${lead ? ' ' : ''}L${n} `)
      // The container before the first block index ("model", "/encoder") tells no layer from another.
      .replace(/^[^ ]* (?=L\d+ )/, '')
      .replace(/^\/+/, '')
      .replace(/ [/.]/g, ' ')
      .trim(),
  );
  const many = names.length > 1;
  const start = many ? sharedEdge(blocks, false) : 0;
  const end = many ? sharedEdge(blocks, true) : 0;
  return blocks.map((label, i) => {
    let core = label.slice(start, Math.max(start, label.length - end)).trim();
    if (core === '') core = label || names[i];
    return core.length > CELL_CHARS ? `${core.slice(0, 7)}…${core.slice(core.length - (CELL_CHARS - 8))}` : core;
  });
}

/** How many characters every label shares at its start (or end), cut back to a '/', '.' or space boundary. */
function sharedEdge(labels: string[], fromEnd: boolean): number {
  const at = (label: string, i: number) => (fromEnd ? label[label.length - 1 - i] : label[i]);
  const first = labels[0];
  let n = first.length;
  for (const label of labels) {
    let i = 0;
    while (i < n && i < label.length && at(label, i) === at(first, i)) i++;
    n = i;
  }
  // Back to just past a separator, so no label loses part of a word (and one identical to another keeps itself).
  while (n > 0 && !'/. '.includes(at(first, n - 1))) n--;
  return n >= Math.min(...labels.map((l) => l.length)) ? 0 : n;
}

/** `text` cut to `max` characters in its middle ("/encoder/layers.11/…/fc2/MatMul"), as cell names are. */
export function middleEllipsis(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (max - 1 - head))}`;
}
