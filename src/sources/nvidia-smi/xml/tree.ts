import type { XmlNode } from './schema.ts';

/** Where a document stops being well-formed XML: a 1-based line and what is wrong there. */
export interface XmlTreeError {
  line: number;
  msg: string;
}

type Element = { [name: string]: XmlNode | XmlNode[] | undefined };

interface Open {
  name: string;
  /** Child elements and attributes; null while there are none. */
  node: Element | null;
  /** Text directly inside, trimmed pieces joined (nvidia-smi's elements hold text or elements, not both). */
  text: string;
}

/**
 * Reads `nvidia-smi -q -x` into the tree parse-xml.ts reads, in one pass and checking well-formedness on the
 * way: an element holding only text is that text, trimmed (`''` when empty); any other element is an object of
 * its child elements by name (an array where a name repeats), its attributes as `@_name` and its text as
 * `#text`. Entities are left as written; comments, processing instructions and the DOCTYPE are skipped; CDATA
 * is text, untrimmed. The shape fast-xml-parser gives with `ignoreAttributes: false, parseTagValue: false,
 * trimValues: true, processEntities: false` (which gpumon used before, tree.test.ts compares them): this one
 * pass replaces its validation and parse passes at a fraction of their CPU (bench/telegraf/xml.ts). Returns
 * the document's top level (`{ nvidia_smi_log }`), or where it is not well-formed: unclosed, mismatched or
 * malformed tags and attributes, text or a second element outside the root, no root.
 */
export function parseXmlTree(input: string): { top: Element } | { error: XmlTreeError } {
  const top: Element = {};
  const stack: Open[] = [];
  const n = input.length;
  let roots = 0;
  let i = 0;
  const fail = (at: number, msg: string) => ({ error: { line: lineAt(input, at), msg } });
  while (i < n) {
    const lt = input.indexOf('<', i);
    const textEnd = lt === -1 ? n : lt;
    if (textEnd > i) {
      const text = trimmed(input, i, textEnd);
      if (text !== '') {
        const open = stack[stack.length - 1];
        if (!open) return fail(i, 'text outside the root element');
        open.text = open.text === '' ? text : `${open.text}${text}`;
      }
    }
    if (lt === -1) break;
    const next = input.charCodeAt(lt + 1);
    if (next === 47 /* / */) {
      const gt = input.indexOf('>', lt + 2);
      if (gt === -1) return fail(lt, 'unterminated closing tag');
      const name = trimmed(input, lt + 2, gt);
      const open = stack.pop();
      if (!open) return fail(lt, `closing tag </${name}> without an opening tag`);
      if (open.name !== name) return fail(lt, `closing tag </${name}> does not close <${open.name}>`);
      attach(open, stack, top);
      i = gt + 1;
    } else if (next === 33 /* ! */) {
      if (input.startsWith('<!--', lt)) {
        const end = input.indexOf('-->', lt + 4);
        if (end === -1) return fail(lt, 'unterminated comment');
        i = end + 3;
      } else if (input.startsWith('<![CDATA[', lt)) {
        const end = input.indexOf(']]>', lt + 9);
        if (end === -1) return fail(lt, 'unterminated CDATA section');
        const open = stack[stack.length - 1];
        if (!open) return fail(lt, 'CDATA outside the root element');
        open.text += input.slice(lt + 9, end);
        i = end + 3;
      } else if (input.startsWith('<!DOCTYPE', lt) && stack.length === 0 && roots === 0) {
        const bracket = input.indexOf('[', lt);
        let gt = input.indexOf('>', lt);
        if (bracket !== -1 && bracket < gt) gt = input.indexOf('>', input.indexOf(']', bracket));
        if (gt === -1) return fail(lt, 'unterminated DOCTYPE');
        i = gt + 1;
      } else {
        return fail(lt, 'unexpected markup declaration');
      }
    } else if (next === 63 /* ? */) {
      const end = input.indexOf('?>', lt + 2);
      if (end === -1) return fail(lt, 'unterminated processing instruction');
      i = end + 2;
    } else {
      // An opening tag: its name, attributes, and whether it closes itself.
      let j = lt + 1;
      while (j < n && isNameChar(input.charCodeAt(j))) j++;
      const name = input.slice(lt + 1, j);
      if (name === '' || !isNameStart(name.charCodeAt(0))) return fail(lt, 'malformed tag name');
      if (stack.length === 0 && roots++ > 0) return fail(lt, `a second root element <${name}>`);
      const open: Open = { name, node: null, text: '' };
      for (;;) {
        while (j < n && isSpace(input.charCodeAt(j))) j++;
        const c = input.charCodeAt(j);
        if (c === 62 /* > */) {
          stack.push(open);
          i = j + 1;
          break;
        }
        if (c === 47 /* / */ && input.charCodeAt(j + 1) === 62) {
          attach(open, stack, top);
          i = j + 2;
          break;
        }
        // An attribute: name="value" or name='value'.
        const start = j;
        while (j < n && isNameChar(input.charCodeAt(j))) j++;
        if (j === start || !isNameStart(input.charCodeAt(start))) return fail(j, `malformed tag <${name}>`);
        const attr = input.slice(start, j);
        while (j < n && isSpace(input.charCodeAt(j))) j++;
        if (input.charCodeAt(j) !== 61 /* = */) return fail(j, `attribute ${attr} of <${name}> has no value`);
        j++;
        while (j < n && isSpace(input.charCodeAt(j))) j++;
        const quote = input.charCodeAt(j);
        if (quote !== 34 && quote !== 39) return fail(j, `attribute ${attr} of <${name}> is not quoted`);
        const end = input.indexOf(quote === 34 ? '"' : "'", j + 1);
        if (end === -1) return fail(j, `unterminated attribute ${attr} of <${name}>`);
        if (!open.node) open.node = {};
        const key = `@_${attr}`;
        if (key in open.node) return fail(start, `attribute ${attr} of <${name}> repeated`);
        open.node[key] = input.slice(j + 1, end);
        j = end + 1;
      }
    }
  }
  const unclosed = stack[stack.length - 1];
  if (unclosed) return fail(n, `unclosed tag <${unclosed.name}>`);
  if (roots === 0) return fail(n, 'no root element');
  return { top };
}

/** Adds a closed element to its parent (or the top level) under its name. */
function attach(open: Open, stack: Open[], top: Element): void {
  let value: XmlNode;
  if (open.node === null) value = open.text;
  else {
    value = open.node;
    if (open.text !== '') open.node['#text'] = open.text;
  }
  const parent = stack[stack.length - 1];
  let into: Element;
  if (parent) {
    if (parent.node === null) parent.node = {};
    into = parent.node;
  } else into = top;
  const seen = into[open.name];
  if (seen === undefined) into[open.name] = value;
  else if (Array.isArray(seen)) seen.push(value);
  else into[open.name] = [seen, value];
}

/** `input.slice(from, to).trim()`, without the slice when the piece is only whitespace. */
function trimmed(input: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && isSpace(input.charCodeAt(a))) a++;
  while (b > a && isSpace(input.charCodeAt(b - 1))) b--;
  return a === b ? '' : input.slice(a, b);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** XML name start characters: letters, `_`, `:`, and anything beyond ASCII. */
function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || c > 127;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46;
}

function lineAt(input: string, at: number): number {
  let line = 1;
  for (let k = input.indexOf('\n'); k !== -1 && k < at; k = input.indexOf('\n', k + 1)) line++;
  return line;
}
