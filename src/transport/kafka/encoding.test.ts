import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  CATALOG_WIRE_VERSION,
  IDENTITY,
  type IdentityDef,
  METRICS,
  type MetricDef,
  metricSince,
} from '../../metrics/catalog.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { testSample } from '../../testing/samples.ts';
import {
  BATCH_SINCE,
  decodeRecord,
  decodeSample,
  ENCODING_HEADER_VALUE,
  ENCODING_VERSION,
  encodeRecords,
  encodeSampleJson,
  MAX_SAMPLES_PER_RECORD,
  positionalFields,
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

/** `count` samples of GPU `gpu` of `host`, a second apart. */
const gpuSamples = (host: string, gpu: number, count: number): GpuSample[] =>
  Array.from({ length: count }, (_, i) =>
    testSample({ ts: sample.ts + i * 1000, host, gpu_index: gpu, uuid: `GPU-${host}-${gpu}` }),
  );

describe('the sample encoding', () => {
  it('is the version of the newest field of the catalog, and batches from version 3', () => {
    assert.equal(current, Math.max(BATCH_SINCE, ...FIELDS.map(metricSince)));
    assert.equal(ENCODING_HEADER_VALUE, `v${current}`);
    // Version 3 changed the layout only: a field the catalog gains is version 4's (since = current + 1).
    assert.deepEqual(
      FIELDS.filter((f) => metricSince(f) === BATCH_SINCE).map((f) => f.name),
      [],
      'version 3 carries version 2 fields: a new field takes since: 4 (or the next)',
    );
    assert.deepEqual(positionalFields(3), ['ts', ...FIELDS.map((f) => f.name)]);
  });

  it("puts a node's samples in records keyed by its host, in publish order, at most 64 a record", () => {
    const a = [...gpuSamples('node-a', 0, 40), ...gpuSamples('node-a', 1, 40)];
    const b = gpuSamples('node-b', 0, 3);
    const mixed = [...a.slice(0, 10), ...b, ...a.slice(10)];
    const records = encodeRecords(mixed);
    assert.deepEqual(
      records.map((r) => [r.key.toString(), r.headers['gpumon-encoding']?.toString()]),
      [
        ['node-a', `v${current}`],
        ['node-a', `v${current}`],
        ['node-b', `v${current}`],
      ],
    );
    assert.ok(records.every((r) => r.value.toString().startsWith(`[${current},[`)));
    const decoded = records.map((r) => decodeRecord(r.value, `v${current}`));
    assert.deepEqual(
      decoded.map((d) => (d.ok ? d.samples.length : d.reason)),
      [MAX_SAMPLES_PER_RECORD, 80 - MAX_SAMPLES_PER_RECORD, 3],
    );
    const back = decoded.flatMap((d) => (d.ok ? d.samples : []));
    assert.deepEqual(back, [...a, ...b], 'every sample, each host in the order published');
  });

  it('reads a positional sample by the catalog order, whatever order the object had its keys in', () => {
    const shuffled = Object.fromEntries(Object.entries(sample).reverse()) as unknown as GpuSample;
    const [record] = encodeRecords([shuffled]);
    assert.deepEqual(decodeRecord(record?.value, `v${current}`), { ok: true, samples: [sample] });
  });

  it('decodes without the header too (the version field decides)', () => {
    const [record] = encodeRecords([sample]);
    assert.deepEqual(decodeRecord(record?.value), { ok: true, samples: [sample] });
    assert.deepEqual(decodeSample(encodeSampleJson(sample)), { ok: true, sample });
  });

  it("reads the spool's object layout at every version, one sample a record", () => {
    assert.ok(encodeSampleJson(sample).startsWith(`{"v":${current},`));
    assert.deepEqual(decodeRecord(encodeSampleJson(sample), `v${current}`), { ok: true, samples: [sample] });
  });

  it('has a recorded example of every version, and decodes each (a catalog change that breaks one is noticed)', () => {
    const files = readdirSync(testdata).filter((f) => /^sample-v\d+\.json$/.test(f));
    assert.deepEqual(
      files.sort(),
      Array.from({ length: current }, (_, i) => `sample-v${i + 1}.json`).sort(),
      'one example per version: record the new one with `node --import tsx scripts/record-wire-example.ts`',
    );
    for (let version = 1; version <= current; version++) {
      const decoded = decodeRecord(recorded(version), `v${version}`);
      assert.ok(
        decoded.ok && decoded.samples.length > 0,
        `sample-v${version}.json no longer decodes (docs/encoding.md): ${JSON.stringify(decoded)}`,
      );
      for (const s of decoded.samples) {
        for (const name of addedAfter(Math.min(version, CATALOG_WIRE_VERSION))) {
          assert.equal(s[name as keyof typeof s], null, `${name} of a v${version} record`);
        }
      }
    }
  });

  it('reads a record of every older version, with the metrics added since as gaps (null), never 0', () => {
    for (let version = 1; version < CATALOG_WIRE_VERSION; version++) {
      const decoded = decodeSample(asVersion(version), `v${version}`);
      assert.ok(decoded.ok, `v${version}: ${JSON.stringify(decoded)}`);
      const expected = { ...sample };
      for (const name of addedAfter(version)) Object.assign(expected, { [name]: null });
      assert.deepEqual(decoded.sample, expected);
    }
  });

  it('refuses an older record that carries a metric its version did not have', () => {
    const older = CATALOG_WIRE_VERSION - 1;
    const [name] = addedAfter(older);
    assert.ok(name, 'the catalog added a metric since');
    const record = JSON.stringify({ ...JSON.parse(asVersion(older)), [name]: 1 });
    const decoded = decodeSample(record, `v${older}`);
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

  it('refuses a batch record whole, saying which sample and why, and never throws', () => {
    const row = (s: GpuSample) => positionalFields(current).map((f) => s[f as keyof GpuSample] ?? null);
    const good = row(sample);
    const hot = row({ ...sample, gpu_temperature_celsius: 900 });
    const n = good.length;
    const cases: [string, string | undefined, RegExp][] = [
      ['"a string"', undefined, /^not a JSON object or array$/],
      ['null', undefined, /^not a JSON object or array$/],
      [JSON.stringify([2, good]), undefined, /^unsupported version v=2 \(batches of samples start at v3\)$/],
      [JSON.stringify([current + 1, good]), undefined, new RegExp(`^unsupported version v=${current + 1}$`)],
      [JSON.stringify(['3', good]), undefined, /^unsupported version v="3"$/],
      [JSON.stringify([]), undefined, /^unsupported version v=missing$/],
      [JSON.stringify([current]), undefined, new RegExp(`^v${current} record: no samples$`)],
      [
        JSON.stringify([current, good.slice(1)]),
        undefined,
        new RegExp(`^v${current} record, sample 1: expected an array of ${n} values, got ${n - 1} values$`),
      ],
      [
        JSON.stringify([current, good, 'x']),
        undefined,
        new RegExp(`^v${current} record, sample 2: expected an array of ${n} values, got "x"$`),
      ],
      [
        JSON.stringify([current, good, hot]),
        `v${current}`,
        new RegExp(`^v${current} record, sample 2: field gpu_temperature_celsius: 900 is outside`),
      ],
      [
        JSON.stringify([current, good]),
        'v2',
        new RegExp(`^version v=${current} under header gpumon-encoding: v2$`),
      ],
      [JSON.stringify([current, good]).slice(0, 50), undefined, /^not JSON/],
    ];
    for (const [value, header, reason] of cases) {
      const decoded = decodeRecord(value, header);
      assert.equal(decoded.ok, false, `${value.slice(0, 60)} decoded`);
      if (!decoded.ok) assert.match(decoded.reason, reason, value.slice(0, 60));
    }
  });

  it('rejects a sample that misses a metric instead of reading it as a gap', () => {
    const { gpu_temperature_celsius: _, ...rest } = sample;
    const decoded = decodeSample(JSON.stringify({ v: current, ...rest }));
    assert.equal(decoded.ok, false);
    if (!decoded.ok) assert.match(decoded.reason, /gpu_temperature_celsius/);
  });
});
