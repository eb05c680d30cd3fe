// A few DOM helpers: the panel is plain TypeScript and DOM. No innerHTML anywhere: every text goes through
// textContent, so names from the model can never become markup.

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined>;

/** Creates an element with attributes (false/null/undefined ones left out, true as an empty attribute) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attributes, ...children: Child[]): HTMLElementTagNameMap[K];
export function el(tag: string, attrs?: Attributes, ...children: Child[]): HTMLElement;
export function el(tag: string, attrs: Attributes = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Replaces all children of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** A definition list from [term, description] pairs. */
export function facts(rows: [string, Child][], className = 'facts'): HTMLDListElement {
  const list = el('dl', { class: className });
  for (const [term, description] of rows) append(list, el('dt', {}, term), el('dd', {}, description));
  return list;
}
