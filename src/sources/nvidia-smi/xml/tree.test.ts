import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { parseXmlTree } from './tree.ts';

const TESTDATA = new URL('../testdata/', import.meta.url);
const captures = readdirSync(TESTDATA).filter((f) => f.endsWith('.xml'));

/** fast-xml-parser as gpumon configured it before tree.ts, minus the XML declaration it keeps. */
const reference = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: false,
});
function referenceTree(text: string): unknown {
  const tree = reference.parse(text) as Record<string, unknown>;
  delete tree['?xml'];
  return tree;
}

function errorOf(text: string) {
  const result = parseXmlTree(text);
  assert.ok('error' in result, `expected an error for ${JSON.stringify(text)}`);
  return result.error;
}

describe('parseXmlTree', () => {
  test('reads every XML capture into the tree fast-xml-parser gives', () => {
    assert.ok(captures.length >= 20);
    for (const file of captures) {
      const text = readFileSync(new URL(file, TESTDATA), 'utf8');
      const result = parseXmlTree(text);
      assert.ok('top' in result, file);
      assert.deepEqual(result.top, referenceTree(text), file);
    }
  });

  test('text-only elements are their trimmed text, repeated names an array, attributes @_ keys', () => {
    const text =
      '<?xml version="1.0" ?>\n<!DOCTYPE r SYSTEM "x.dtd">\n<!-- c -->\n<r><a> 1 W </a><a/><b id="x">t</b>' +
      "<c k='v'/><d><![CDATA[ raw ]]></d><e>&amp;</e></r>";
    assert.deepEqual(parseXmlTree(text), {
      top: {
        r: { a: ['1 W', ''], b: { '@_id': 'x', '#text': 't' }, c: { '@_k': 'v' }, d: ' raw ', e: '&amp;' },
      },
    });
    assert.deepEqual(parseXmlTree(text), { top: referenceTree(text) });
  });

  test('a document that is not well-formed is an error naming its line', () => {
    assert.deepEqual(errorOf('<r>\n<a>1</b>\n</r>'), { line: 2, msg: 'closing tag </b> does not close <a>' });
    assert.deepEqual(errorOf('<r>\n<a>1</a>'), { line: 2, msg: 'unclosed tag <r>' });
    assert.equal(errorOf('<r></r>\n<s/>').msg, 'a second root element <s>');
    assert.equal(errorOf('x<r/>').msg, 'text outside the root element');
    assert.equal(errorOf('<r a=1/>').msg, 'attribute a of <r> is not quoted');
    assert.equal(errorOf('<r a="1" a="2"/>').msg, 'attribute a of <r> repeated');
    assert.equal(errorOf('<r><!-- x</r>').msg, 'unterminated comment');
    assert.equal(errorOf('<r></r></r>').msg, 'closing tag </r> without an opening tag');
    assert.equal(errorOf('<1r/>').msg, 'malformed tag name');
    assert.equal(errorOf('').msg, 'no root element');
  });
});
