type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** Creates an element; text children are text nodes, never parsed as HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/** The element with `data-testid`/id `selector` under `root`, or a clear error naming it. */
export function must<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const el = root.querySelector<T>(selector as string) as T | null;
  if (!el) throw new Error(`page is missing ${selector}`);
  return el;
}

/** Sets the text of an element only when it changed, so unchanged numbers cause no layout work. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** A select with its visible label. */
export function select(testid: string, text: string): { label: HTMLLabelElement; el: HTMLSelectElement } {
  const el = h('select', { 'data-testid': testid });
  return { el, label: h('label', {}, h('span', { class: 'muted' }, text), el) };
}

/** Replaces the options of a select with `[value, text]` pairs. */
export function fill(el: HTMLSelectElement, options: [string, string][]): void {
  el.replaceChildren(...options.map(([value, text]) => new Option(text, value)));
}

/** Options `all` (value '') then `values`, replaced only when the values changed. */
export function setOptions(el: HTMLSelectElement, all: string, values: string[]): void {
  const key = values.join('\n');
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  fill(el, [['', all], ...values.map((v): [string, string] => [v, v])]);
}
