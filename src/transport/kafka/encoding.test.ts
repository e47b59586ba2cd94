import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { testSample } from '../../testing/samples.ts';
import { decodeSample, encodeSample, encodeSampleJson } from './encoding.ts';

const sample = testSample({
  ts: 1_764_000_000_000,
  gpu_temperature_celsius: 61,
  gpu_utilization_percent: 87.5,
});

describe('the v1 sample encoding', () => {
  it('round-trips a sample, keyed by its GPU UUID, with the encoding named in a header', () => {
    const encoded = encodeSample(sample);
    assert.equal(encoded.key.toString(), sample.uuid);
    assert.equal(encoded.headers['gpumon-encoding']?.toString(), 'v1');
    assert.ok(encoded.value.toString().startsWith('{"v":1,'));
    assert.deepEqual(decodeSample(encoded.value, 'v1'), { ok: true, sample });
  });

  it('decodes without the header too (the version field decides)', () => {
    assert.deepEqual(decodeSample(encodeSampleJson(sample)), { ok: true, sample });
  });

  it('decodes the recorded v1 message of testdata/, so a catalog change that breaks v1 is noticed', () => {
    const recorded = readFileSync(new URL('testdata/sample-v1.json', import.meta.url), 'utf8').trim();
    const decoded = decodeSample(recorded, 'v1');
    assert.ok(
      decoded.ok,
      `testdata/sample-v1.json no longer decodes (see docs/encoding.md): ${JSON.stringify(decoded)}`,
    );
  });

  it('returns a reason, never throws, for anything that is not a valid v1 sample', () => {
    const full = encodeSampleJson(sample);
    const cases: [Buffer | string | undefined, string | undefined, RegExp][] = [
      [undefined, undefined, /^empty value$/],
      ['', undefined, /^empty value$/],
      ['{{{', undefined, /^not JSON/],
      [full.slice(0, 40), undefined, /^not JSON/],
      ['"a string"', undefined, /^not a JSON object$/],
      ['null', undefined, /^not a JSON object$/],
      [JSON.stringify({ ...sample }), undefined, /^unsupported version v=missing$/],
      [JSON.stringify({ v: 2, ...sample }), undefined, /^unsupported version v=2$/],
      [full, 'v2', /^unsupported encoding header gpumon-encoding: v2$/],
      [
        JSON.stringify({ v: 1, ...sample, gpu_temperature_celsius: -500 }),
        'v1',
        /field gpu_temperature_celsius/,
      ],
      [JSON.stringify({ v: 1, ...sample, extra: 1 }), 'v1', /field extra: unrecognized key/],
      [Buffer.from([0xff, 0xfe, 0x00]), undefined, /^not JSON/],
    ];
    for (const [value, header, reason] of cases) {
      const decoded = decodeSample(value, header);
      assert.equal(decoded.ok, false, `${String(value)} decoded`);
      if (!decoded.ok) assert.match(decoded.reason, reason);
    }
  });

  it('rejects a sample that misses a metric instead of reading it as a gap', () => {
    const { gpu_temperature_celsius: _, ...rest } = sample;
    const decoded = decodeSample(JSON.stringify({ v: 1, ...rest }));
    assert.equal(decoded.ok, false);
    if (!decoded.ok) assert.match(decoded.reason, /gpu_temperature_celsius/);
  });
});
