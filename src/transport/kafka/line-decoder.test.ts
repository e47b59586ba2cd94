import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ENCODED_LINE, type SampleWithLine, sampleLine, sampleLineOf } from '../../metrics/line-protocol.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { Simulator } from '../../sources/sim/simulator.ts';
import { testSample } from '../../testing/samples.ts';
import { decodeSample, ENCODING_HEADER_VALUE, ENCODING_VERSION, encodeSampleJson } from './encoding.ts';
import { decodeSampleWithLine } from './line-decoder.ts';

// The examples as a record carries them: without the file's final newline.
const example = (version: number) =>
  Buffer.from(readFileSync(new URL(`./testdata/sample-v${version}.json`, import.meta.url), 'utf8').trim());
const testdata = example(ENCODING_VERSION);
const withoutLine = (sample: GpuSample) => Object.fromEntries(Object.entries(sample));
const lineOf = (sample: GpuSample) => {
  const line = (sample as SampleWithLine)[ENCODED_LINE];
  return line === undefined ? undefined : Buffer.from(line).toString('utf8');
};

/** decodeSampleWithLine must decide exactly as decodeSample: same sample, or same reason. */
function assertSameAsDecodeSample(value: Buffer, header?: string) {
  const fast = decodeSampleWithLine(value, header);
  const slow = decodeSample(value, header);
  if (!slow.ok) {
    assert.deepEqual(fast, slow, `refused alike: ${value.toString('latin1')}`);
    return;
  }
  assert.equal(fast.ok, true, `accepted alike: ${value.toString('latin1')}`);
  if (!fast.ok) return;
  assert.deepEqual(withoutLine(fast.sample), slow.sample);
  const line = lineOf(fast.sample);
  if (line !== undefined) assert.equal(line, sampleLine(slow.sample));
  assert.equal(
    typeof sampleLineOf(fast.sample) === 'string'
      ? sampleLineOf(fast.sample)
      : Buffer.from(sampleLineOf(fast.sample) as Uint8Array).toString(),
    sampleLine(slow.sample),
  );
}

describe('the decoder with line protocol', () => {
  it("decodes the current version's example to the same sample as decodeSample, with the line sampleLine writes", () => {
    const decoded = decodeSampleWithLine(testdata, ENCODING_HEADER_VALUE);
    assert.equal(decoded.ok, true);
    if (!decoded.ok) return;
    const expected = decodeSample(testdata, ENCODING_HEADER_VALUE);
    assert.ok(expected.ok);
    assert.deepEqual(withoutLine(decoded.sample), expected.sample);
    assert.equal(lineOf(decoded.sample), sampleLine(expected.sample));
  });

  it('reads the examples of older versions as decodeSample does (they leave the fast path)', () => {
    for (let version = 1; version < ENCODING_VERSION; version++) {
      const record = example(version);
      assertSameAsDecodeSample(record, `v${version}`);
      const decoded = decodeSampleWithLine(record, `v${version}`);
      assert.ok(decoded.ok, `v${version}`);
      assert.equal(lineOf(decoded.sample), undefined);
    }
  });

  it('takes the fast path for every record the simulator writes, and agrees with decodeSample on each', () => {
    const sim = new Simulator({ hosts: 4, gpusPerHost: 8, seed: 3 });
    let lines = 0;
    for (let t = 0; t < 20; t++) {
      for (const sample of sim.sampleAll(Date.UTC(2026, 10, 25) + t * 1000)) {
        const value = Buffer.from(encodeSampleJson(sample));
        assertSameAsDecodeSample(value, ENCODING_HEADER_VALUE);
        const decoded = decodeSampleWithLine(value, ENCODING_HEADER_VALUE);
        if (decoded.ok && lineOf(decoded.sample) !== undefined) lines++;
      }
    }
    assert.equal(lines, 20 * 32);
  });

  it('leaves records in another layout to decodeSample, with the same outcome', () => {
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
    for (const text of variants) assertSameAsDecodeSample(Buffer.from(text), ENCODING_HEADER_VALUE);
  });

  it('refuses what decodeSample refuses, with the same reason', () => {
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
      text.replace(`{"v":${ENCODING_VERSION}`, `{"v":${ENCODING_VERSION + 1}`),
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
    for (const value of bad) assertSameAsDecodeSample(Buffer.from(value), ENCODING_HEADER_VALUE);
    assertSameAsDecodeSample(testdata, `v${ENCODING_VERSION + 1}`);
    assertSameAsDecodeSample(Buffer.alloc(0));
    assert.deepEqual(decodeSampleWithLine(null), decodeSample(null));
  });

  it('agrees with decodeSample on thousands of corrupted records (bytes changed, cut or repeated)', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = Buffer.from('0123456789.-+eE",:{}nul \\x');
    for (let i = 0; i < 5000; i++) {
      const value = Buffer.from(testdata);
      const at = random(value.length);
      let mutated: Buffer;
      switch (random(3)) {
        case 0:
          value[at] = alphabet[random(alphabet.length)] as number;
          mutated = value;
          break;
        case 1:
          mutated = Buffer.concat([value.subarray(0, at), value.subarray(at + 1 + random(3))]);
          break;
        default:
          mutated = Buffer.concat([value.subarray(0, at), value.subarray(at - random(Math.min(at, 4)))]);
      }
      assertSameAsDecodeSample(mutated, ENCODING_HEADER_VALUE);
    }
  });
});
