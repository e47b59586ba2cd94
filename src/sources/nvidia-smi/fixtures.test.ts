import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseSample } from '../../metrics/sample.ts';
import { fuzzCases } from '../../testing/fuzz.ts';
import { parseComputeApps, parseQueryGpuCsv } from './csv.ts';
import { parseListGpus } from './list.ts';
import { TESTDATA, testdata } from './test-support.ts';
import { parseSmiXml } from './xml/parse-xml.ts';

const FILES = readdirSync(TESTDATA).filter((f) => /\.(xml|csv|txt)$/.test(f));
const XML = FILES.filter((f) => f.endsWith('.xml'));
const CSV = FILES.filter((f) => !f.endsWith('.xml'));
const OPTIONS = { host: 'test-host', now: Date.UTC(2026, 0, 1) };
const FUZZ_CASES = 3000;

describe('every capture in testdata', () => {
  test('holds the 34 shared fixtures and the public captures of PROVENANCE.md', () => {
    assert.equal(XML.length, 22);
    assert.equal(CSV.length, 14);
  });

  for (const name of XML) {
    test(`${name} gives a valid sample per <gpu> block and no error`, () => {
      const result = parseSmiXml(testdata(name), OPTIONS);
      assert.deepEqual(result.errors, []);
      // The only warning a capture gives is the A100 535's cut file (one <gpu> of attached_gpus 4).
      assert.deepEqual(
        result.warnings.filter((w) => !/^attached_gpus is 4 but 1 <gpu>/.test(w.reason)),
        [],
      );
      assert.ok(result.samples.length >= 1);
      assert.equal(result.samples.filter((s) => s.parent_uuid === null).length, result.gpuBlocks);
      for (const s of result.samples) parseSample(s, name);
      assert.ok(result.devices.length >= result.samples.length);
    });
  }

  for (const name of CSV) {
    test(`${name} parses without a rejected line`, () => {
      const text = testdata(name);
      const gpus = parseQueryGpuCsv(text, { ...OPTIONS, fallback: { uuid: 'GPU-unknown' } });
      assert.deepEqual(gpus.errors, []);
      assert.deepEqual(gpus.warnings, []);
      for (const s of gpus.samples) parseSample(s, name);
      const apps = parseComputeApps(text);
      assert.deepEqual(apps.errors, []);
      parseListGpus(text);
      if (name.startsWith('capture__')) {
        assert.equal(gpus.samples.length, 2, 'idle and load');
        assert.ok(apps.processes.length >= 1);
      }
    });
  }
});

describe('fuzzing', () => {
  test(`the XML parser never throws and counts every bad <gpu> block (${FUZZ_CASES} cases)`, () => {
    const seeds = XML.map(testdata);
    for (const { index, text } of fuzzCases(seeds, FUZZ_CASES, 11)) {
      const result = parseSmiXml(text, OPTIONS);
      const gpus = result.samples.filter((s) => s.parent_uuid === null).length;
      if (result.gpuBlocks === 0) assert.equal(result.samples.length, 0, `case ${index}`);
      else assert.equal(gpus + result.errors.length, result.gpuBlocks, `case ${index}`);
      for (const s of result.samples) parseSample(s, `case ${index}`);
    }
  });

  test(`the query-gpu CSV parser never throws and every line is a sample or an error (${FUZZ_CASES} cases)`, () => {
    const seeds = CSV.map(testdata);
    let rows = 0;
    for (const { index, text } of fuzzCases(seeds, FUZZ_CASES, 12)) {
      const result = parseQueryGpuCsv(text, OPTIONS);
      rows += result.rows;
      assert.equal(result.samples.length + result.errors.length, result.rows, `case ${index}`);
      for (const e of result.errors)
        assert.ok(Number.isInteger(e.line), `case ${index}: errors name their line`);
      for (const s of result.samples) parseSample(s, `case ${index}`);
    }
    assert.ok(rows > 1000, 'the cases reach data lines');
  });

  test(`the compute-apps parser never throws and every line is a process or an error (${FUZZ_CASES} cases)`, () => {
    const seeds = CSV.filter((f) => f.startsWith('capture__')).map(testdata);
    for (const { index, text } of fuzzCases(seeds, FUZZ_CASES, 13)) {
      const result = parseComputeApps(text);
      assert.equal(result.processes.length + result.errors.length, result.rows, `case ${index}`);
      const live = parseComputeApps(text, ['pid', 'process_name', 'used_gpu_memory', 'gpu_uuid']);
      assert.equal(live.processes.length + live.errors.length, live.rows, `case ${index} (noheader)`);
    }
  });
});
