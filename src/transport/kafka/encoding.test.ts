import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { IDENTITY, type IdentityDef, METRICS, type MetricDef, metricSince } from '../../metrics/catalog.ts';
import { testSample } from '../../testing/samples.ts';
import {
  decodeSample,
  ENCODING_HEADER_VALUE,
  ENCODING_VERSION,
  encodeSample,
  encodeSampleJson,
} from './encoding.ts';

const sample = testSample({
  ts: 1_764_000_000_000,
  gpu_temperature_celsius: 61,
  gpu_utilization_percent: 87.5,
});
const current = ENCODING_VERSION;
const testdata = new URL('testdata/', import.meta.url);
const recorded = (version: number) =>
  readFileSync(new URL(`sample-v${version}.json`, testdata), 'utf8').trim();
const FIELDS = [...(IDENTITY as readonly IdentityDef[]), ...(METRICS as readonly MetricDef[])];
const addedAfter = (version: number) => FIELDS.filter((f) => metricSince(f) > version).map((f) => f.name);
/** The sample as a producer of `version` wrote it: without the metrics added since. */
const asVersion = (version: number) => {
  const record: Record<string, unknown> = { v: version, ...sample };
  for (const name of addedAfter(version)) delete record[name];
  return JSON.stringify(record);
};

describe('the sample encoding', () => {
  it('is the version of the newest field of the catalog', () => {
    assert.equal(current, Math.max(...FIELDS.map(metricSince)));
    assert.equal(ENCODING_HEADER_VALUE, `v${current}`);
  });

  it('round-trips a sample, keyed by its GPU UUID, with the encoding named in a header', () => {
    const encoded = encodeSample(sample);
    assert.equal(encoded.key.toString(), sample.uuid);
    assert.equal(encoded.headers['gpumon-encoding']?.toString(), `v${current}`);
    assert.ok(encoded.value.toString().startsWith(`{"v":${current},`));
    assert.deepEqual(decodeSample(encoded.value, `v${current}`), { ok: true, sample });
  });

  it('decodes without the header too (the version field decides)', () => {
    assert.deepEqual(decodeSample(encodeSampleJson(sample)), { ok: true, sample });
  });

  it('has a recorded example of every version, and decodes each (a catalog change that breaks one is noticed)', () => {
    const files = readdirSync(testdata).filter((f) => /^sample-v\d+\.json$/.test(f));
    assert.deepEqual(
      files.sort(),
      Array.from({ length: current }, (_, i) => `sample-v${i + 1}.json`).sort(),
      'one example per version: record the new one with `node --import tsx scripts/record-wire-example.ts`',
    );
    for (let version = 1; version <= current; version++) {
      const decoded = decodeSample(recorded(version), `v${version}`);
      assert.ok(
        decoded.ok,
        `sample-v${version}.json no longer decodes (docs/encoding.md): ${JSON.stringify(decoded)}`,
      );
      for (const name of addedAfter(version)) {
        assert.equal(
          decoded.sample[name as keyof typeof decoded.sample],
          null,
          `${name} of a v${version} record`,
        );
      }
    }
  });

  it('reads a record of every older version, with the metrics added since as gaps (null), never 0', () => {
    for (let version = 1; version < current; version++) {
      const decoded = decodeSample(asVersion(version), `v${version}`);
      assert.ok(decoded.ok, `v${version}: ${JSON.stringify(decoded)}`);
      const expected = { ...sample };
      for (const name of addedAfter(version)) Object.assign(expected, { [name]: null });
      assert.deepEqual(decoded.sample, expected);
    }
  });

  it('refuses an older record that carries a metric its version did not have', () => {
    const [name] = addedAfter(current - 1);
    assert.ok(name, 'the current version added a metric');
    const record = JSON.stringify({ ...JSON.parse(asVersion(current - 1)), [name]: 1 });
    const decoded = decodeSample(record, `v${current - 1}`);
    assert.equal(decoded.ok, false);
    if (!decoded.ok)
      assert.match(decoded.reason, new RegExp(`field ${name}: unrecognized key: not in version`));
  });

  it('returns a reason, never throws, for anything that is not a valid sample of a known version', () => {
    const full = encodeSampleJson(sample);
    const next = current + 1;
    const cases: [Buffer | string | undefined, string | undefined, RegExp][] = [
      [undefined, undefined, /^empty value$/],
      ['', undefined, /^empty value$/],
      ['{{{', undefined, /^not JSON/],
      [full.slice(0, 40), undefined, /^not JSON/],
      ['"a string"', undefined, /^not a JSON object$/],
      ['null', undefined, /^not a JSON object$/],
      [JSON.stringify({ ...sample }), undefined, /^unsupported version v=missing$/],
      [JSON.stringify({ v: next, ...sample }), undefined, new RegExp(`^unsupported version v=${next}$`)],
      [JSON.stringify({ v: 0, ...sample }), undefined, /^unsupported version v=0$/],
      [JSON.stringify({ v: '1', ...sample }), undefined, /^unsupported version v="1"$/],
      [full, `v${next}`, new RegExp(`^unsupported encoding header gpumon-encoding: v${next}$`)],
      [full, 'v01', /^unsupported encoding header gpumon-encoding: v01$/],
      [
        full,
        `v${current - 1}`,
        new RegExp(`^version v=${current} under header gpumon-encoding: v${current - 1}$`),
      ],
      [
        JSON.stringify({ v: current, ...sample, gpu_temperature_celsius: -500 }),
        `v${current}`,
        /field gpu_temperature_celsius/,
      ],
      [JSON.stringify({ v: current, ...sample, extra: 1 }), `v${current}`, /field extra: unrecognized key/],
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
    const decoded = decodeSample(JSON.stringify({ v: current, ...rest }));
    assert.equal(decoded.ok, false);
    if (!decoded.ok) assert.match(decoded.reason, /gpu_temperature_celsius/);
  });
});
