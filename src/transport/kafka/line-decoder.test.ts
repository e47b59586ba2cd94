import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ENCODED_LINE, type SampleWithLine, sampleLine } from '../../metrics/line-protocol.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { Simulator } from '../../sources/sim/simulator.ts';
import { testSample } from '../../testing/samples.ts';
import {
  decodeRecord,
  decodeSample,
  ENCODING_HEADER_VALUE,
  ENCODING_VERSION,
  encodeRecords,
  encodeSampleJson,
} from './encoding.ts';
import { decodeRecordWithLines } from './line-decoder.ts';

// The examples as a record carries them: without the file's final newline.
const example = (version: number) =>
  Buffer.from(readFileSync(new URL(`./testdata/sample-v${version}.json`, import.meta.url), 'utf8').trim());
/** A sample in the object layout with every current field: version 2's example, as v2 agents still send. */
const testdata = example(2);
const OBJECT_HEADER = 'v2';
/** A batch record of the current version: a node's tick of two GPUs. */
const batch = example(ENCODING_VERSION);
const withoutLine = (sample: GpuSample) => Object.fromEntries(Object.entries(sample));
const lineOf = (sample: GpuSample) => {
  const line = (sample as SampleWithLine)[ENCODED_LINE];
  return line === undefined ? undefined : Buffer.from(line).toString('utf8');
};

/** The one sample of a record in the object layout, which must be accepted. */
function onlySample(decoded: ReturnType<typeof decodeRecordWithLines>): GpuSample {
  assert.ok(decoded.ok, 'accepted');
  assert.equal(decoded.samples.length, 1);
  return decoded.samples[0] as GpuSample;
}

/**
 * 5,000 copies of `record`, each with one corruption drawn from a seeded generator: a byte changed to one of
 * `alphabet`, 1 to 3 bytes cut, or up to 4 bytes repeated.
 */
function* corrupted(record: Buffer, seed: number, alphabet: string): Generator<Buffer> {
  let state = seed;
  const random = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % n;
  };
  const bytes = Buffer.from(alphabet);
  for (let i = 0; i < 5000; i++) {
    const value = Buffer.from(record);
    const at = random(value.length);
    switch (random(3)) {
      case 0:
        value[at] = bytes[random(bytes.length)] as number;
        yield value;
        break;
      case 1:
        yield Buffer.concat([value.subarray(0, at), value.subarray(at + 1 + random(3))]);
        break;
      default:
        yield Buffer.concat([value.subarray(0, at), value.subarray(at - random(Math.min(at, 4)))]);
    }
  }
}

/** decodeRecordWithLines must decide exactly as decodeRecord: the same samples, or the same reason. */
function assertSameAsDecodeRecord(value: Buffer, header?: string): number {
  const fast = decodeRecordWithLines(value, header);
  const slow = decodeRecord(value, header);
  if (!slow.ok) {
    assert.deepEqual(fast, slow, `refused alike: ${value.toString('latin1')}`);
    return 0;
  }
  assert.equal(fast.ok, true, `accepted alike: ${value.toString('latin1')}`);
  if (!fast.ok) return 0;
  assert.deepEqual(fast.samples.map(withoutLine), slow.samples);
  let lines = 0;
  fast.samples.forEach((sample, i) => {
    const line = lineOf(sample);
    if (line === undefined) return;
    lines++;
    assert.equal(line, sampleLine(slow.samples[i] as GpuSample));
  });
  return lines;
}

describe('the decoder with line protocol, a sample in the object layout', () => {
  it("decodes version 2's example to the same sample as decodeSample, with the line sampleLine writes", () => {
    const decoded = onlySample(decodeRecordWithLines(testdata, OBJECT_HEADER));
    const expected = decodeSample(testdata, OBJECT_HEADER);
    assert.ok(expected.ok);
    assert.deepEqual(withoutLine(decoded), expected.sample);
    assert.equal(lineOf(decoded), sampleLine(expected.sample));
  });

  it("reads version 1's example as decodeRecord does (fewer fields: it leaves the fast path)", () => {
    const record = example(1);
    assert.equal(assertSameAsDecodeRecord(record, 'v1'), 0);
    assert.equal(lineOf(onlySample(decodeRecordWithLines(record, 'v1'))), undefined);
  });

  it('takes the fast path for every record the simulator writes, and agrees with decodeRecord on each', () => {
    const sim = new Simulator({ hosts: 4, gpusPerHost: 8, seed: 3 });
    let lines = 0;
    for (let t = 0; t < 20; t++) {
      for (const sample of sim.sampleAll(Date.UTC(2026, 10, 25) + t * 1000)) {
        // The spool's line (the current version's object), and a v2 agent's record.
        const value = Buffer.from(encodeSampleJson(sample));
        assertSameAsDecodeRecord(value, ENCODING_HEADER_VALUE);
        const v2 = Buffer.from(JSON.stringify({ v: 2, ...sample }));
        lines += assertSameAsDecodeRecord(v2, 'v2');
      }
    }
    assert.equal(lines, 20 * 32);
  });

  it('leaves records in another layout to decodeRecord, with the same outcome', () => {
    const sample = JSON.parse(testdata.toString()) as Record<string, unknown>;
    const variants = [
      // another key order (testSample puts ts last)
      encodeSampleJson(testSample({ ts: 1_795_176_000_000, gpu_temperature_celsius: 50.5 })),
      // whitespace
      JSON.stringify(sample, null, 1),
      // an escape and a non-ASCII host
      testdata.toString().replace('"sim-node-01"', '"n\\u00f6de-\\"1\\""'),
      testdata.toString().replace('"sim-node-01"', '"nöde-1"'),
      // numbers written another way
      testdata.toString().replace('"gpu_power_draw_watts":272.78', '"gpu_power_draw_watts":2.7278e2'),
      testdata.toString().replace('"gpu_memory_clock_mhz":1593', '"gpu_memory_clock_mhz":1593.0'),
      testdata
        .toString()
        .replace('"gpu_power_draw_watts":272.78', '"gpu_power_draw_watts":272.780000000000001'),
      testdata.toString().replace('"gpu_xid_last":0', '"gpu_xid_last":-0'),
      testdata.toString().replace('"gpu_power_draw_watts":272.78', '"gpu_power_draw_watts":0.0000001'),
      testdata.toString().replace('"gpu_power_draw_watts":272.78', '"gpu_power_draw_watts":-0.0'),
      testdata.toString().replace('"gpu_power_draw_watts":272.78', '"gpu_power_draw_watts":0.000001'),
      // every metric null, no driver or PCI id: no line at all
      encodeSampleJson({
        ...(Object.fromEntries(
          Object.entries(sample).map(([k, v]) => [k, typeof v === 'number' ? null : v]),
        ) as unknown as GpuSample),
        ts: 1_795_176_000_000,
        gpu_index: 0,
        pci_bus_id: null,
        driver_version: null,
      }),
    ];
    for (const text of variants) assertSameAsDecodeRecord(Buffer.from(text), OBJECT_HEADER);
  });

  it('refuses what decodeRecord refuses, with the same reason', () => {
    const text = testdata.toString();
    /** The example with one field's value replaced (the field must be in it: a no-op would test nothing). */
    const withValue = (field: string, value: string) => {
      const re = new RegExp(`"${field}":("[^"]*"|[^,}]*)`);
      assert.match(text, re, `${field} in the example`);
      return text.replace(re, `"${field}":${value}`);
    };
    const bad = [
      '',
      'garbage',
      text.slice(0, 200),
      `${text} `,
      text.replace('{"v":2', `{"v":${ENCODING_VERSION + 1}`),
      text.replace('{"v":2', '{"v":3'),
      text.replace(/"gpu_xid_last":[^,}]*,/, ''),
      text.replace('}', ',"extra":1}'),
      withValue('gpu_utilization_percent', '101'),
      withValue('gpu_utilization_percent', '-1'),
      withValue('gpu_memory_clock_mhz', '1593.5'),
      withValue('gpu_memory_clock_mhz', '"1593"'),
      withValue('host', '""'),
      withValue('host', 'null'),
      withValue('gpu_index', '65536'),
      withValue('ts', '-1'),
      withValue('ts', '01795176000000'),
      withValue('gpu_power_draw_watts', '272.'),
      withValue('gpu_power_draw_watts', '1e999'),
    ];
    for (const value of bad) assert.notEqual(value, text, 'each variant changes the example');
    for (const value of bad) assertSameAsDecodeRecord(Buffer.from(value), OBJECT_HEADER);
    assertSameAsDecodeRecord(testdata, `v${ENCODING_VERSION + 1}`);
    assertSameAsDecodeRecord(Buffer.alloc(0));
    assert.deepEqual(decodeRecordWithLines(null), decodeRecord(null));
  });

  it('agrees with decodeRecord on thousands of corrupted records (bytes changed, cut or repeated)', () => {
    for (const mutated of corrupted(testdata, 42, '0123456789.-+eE",:{}nul \\x')) {
      assertSameAsDecodeRecord(mutated, OBJECT_HEADER);
    }
  });
});

describe('the decoder with line protocol, a batch of samples', () => {
  it("decodes the current version's example to decodeRecord's samples, each with the line sampleLine writes", () => {
    assert.equal(assertSameAsDecodeRecord(batch, ENCODING_HEADER_VALUE), 2);
    assert.equal(assertSameAsDecodeRecord(batch), 2, 'without the header too');
  });

  it('takes the fast path for every record the agent writes of the simulated fleet, and agrees on each', () => {
    const sim = new Simulator({ hosts: 4, gpusPerHost: 8, seed: 3 });
    let lines = 0;
    for (let t = 0; t < 20; t++) {
      for (const record of encodeRecords(sim.sampleAll(Date.UTC(2026, 10, 25) + t * 1000))) {
        lines += assertSameAsDecodeRecord(record.value, ENCODING_HEADER_VALUE);
      }
    }
    assert.equal(lines, 20 * 32);
    // A spool replay: many ticks of a node in records of up to 64 samples.
    const many = Array.from({ length: 30 }, (_, t) =>
      sim.sampleAll(Date.UTC(2026, 10, 26) + t * 1000),
    ).flat();
    const records = encodeRecords(many);
    assert.ok(records.length > 4);
    let replayed = 0;
    for (const record of records) replayed += assertSameAsDecodeRecord(record.value, ENCODING_HEADER_VALUE);
    assert.equal(replayed, many.length);
  });

  it('keeps every line whole across many slabs: thousands of samples decoded first, then each line checked', () => {
    // Lines are written into 1 MiB slabs; a bound too small for a batch's lines (which have no keys to reuse)
    // once cut lines at a slab's end. 9,600 samples take some 8 MiB of lines.
    const sim = new Simulator({ hosts: 6, gpusPerHost: 8, seed: 11 });
    const decoded: GpuSample[] = [];
    const expected: GpuSample[] = [];
    for (let t = 0; t < 200; t++) {
      const tick = sim.sampleAll(Date.UTC(2026, 10, 27) + t * 1000);
      expected.push(...tick);
      for (const record of encodeRecords(tick)) {
        const result = decodeRecordWithLines(record.value, ENCODING_HEADER_VALUE);
        assert.ok(result.ok);
        if (result.ok) decoded.push(...result.samples);
      }
    }
    assert.equal(decoded.length, expected.length);
    decoded.forEach((sample, i) => {
      assert.equal(lineOf(sample), sampleLine(expected[i] as GpuSample), `line ${i}`);
    });
  });

  it('leaves a batch in another layout to decodeRecord, with the same outcome', () => {
    const text = batch.toString();
    const variants = [
      JSON.stringify(JSON.parse(text), null, 1),
      `${text} `,
      text.replace('"sim-node-01"', '"n\\u00f6de-\\"1\\""'),
      text.replace('"sim-node-01"', '"nöde-1"'),
      text.replace(',63.72,', ',6.372e1,'),
      text.replace(',1593,', ',1593.0,'),
      text.replace(',63.72,', ',0.0000001,'),
      text.replace(',63.72,', ',-0.0,'),
      text.replace(',63.72,', ',0.000001,'),
    ];
    for (const value of variants) assert.notEqual(value, text, 'each variant changes the example');
    for (const value of variants) assertSameAsDecodeRecord(Buffer.from(value), ENCODING_HEADER_VALUE);
  });

  it('refuses what decodeRecord refuses, with the same reason, a whole record for one bad sample', () => {
    const text = batch.toString();
    const bad = [
      text.slice(0, 300),
      text.replace('[3,', '[2,'),
      text.replace('[3,', `[${ENCODING_VERSION + 1},`),
      text.replace('],[', ']['),
      text.replace(/\]\]$/, ']'),
      text.replace(/\]\]$/, '],]'),
      text.replace(',63.72,', ',63.72,1,'),
      text.replace(',63.72,', ','),
      text.replace(',63.72,', ',99999,'),
      text.replace(',1593,', ',"1593",'),
      text.replace('"sim-node-01"', '""'),
      text.replace('"sim-node-01"', 'null'),
      '[3]',
      '[3,[]]',
    ];
    for (const value of bad) assert.notEqual(value, text, 'each variant changes the example');
    for (const value of bad) {
      assertSameAsDecodeRecord(Buffer.from(value), ENCODING_HEADER_VALUE);
      assert.equal(decodeRecord(value, ENCODING_HEADER_VALUE).ok, false, value.slice(0, 80));
    }
    assertSameAsDecodeRecord(batch, 'v2');
    assertSameAsDecodeRecord(batch, `v${ENCODING_VERSION + 1}`);
    assertSameAsDecodeRecord(Buffer.alloc(0));
    assert.deepEqual(decodeRecordWithLines(null), decodeRecord(null));
  });

  it('agrees with decodeRecord on thousands of corrupted batches (bytes changed, cut or repeated)', () => {
    for (const mutated of corrupted(batch, 7, '0123456789.-+eE",:[]nul \\x')) {
      assertSameAsDecodeRecord(mutated, ENCODING_HEADER_VALUE);
    }
  });
});
