import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { dcgmFields, type MetricName } from '../metrics/catalog.ts';
import {
  CATALOG_NAMES,
  DCGM_EXPORTER_DEFAULT_COUNTERS,
  DCGM_EXPORTER_NOT_KEPT,
  gpuzColumns,
  rocmKeys,
  TELEGRAF_NVIDIA_SMI,
  XML_PATHS,
} from './coverage.ts';
import { isNoValue } from './nvidia-smi/values.ts';
import { parseSmiXml } from './nvidia-smi/xml/parse-xml.ts';

const SMI_TESTDATA = new URL('./nvidia-smi/testdata/', import.meta.url);
const CAPTURES = readdirSync(SMI_TESTDATA).filter((f) => f.endsWith('.xml'));

describe('the coverage table beside the peers', () => {
  test('names a catalog field for every Telegraf field gpumon keeps, and why for every one it does not', () => {
    for (const t of TELEGRAF_NVIDIA_SMI) {
      if (t.gpumon === '') assert.ok(t.why, `${t.field}: kept nowhere, and no reason given`);
      else assert.ok(CATALOG_NAMES.has(t.gpumon), `${t.field}: ${t.gpumon} is not in the catalog`);
    }
    const fields = TELEGRAF_NVIDIA_SMI.filter((t) => !t.tag);
    assert.equal(fields.length, 42, 'schema_v11 and schema_v12 together');
    assert.equal(TELEGRAF_NVIDIA_SMI.filter((t) => t.tag).length, 6);
    // What gpumon does not keep: settings, Yes/No flags, the serial (per device), the Grace module's draw.
    assert.deepEqual(
      TELEGRAF_NVIDIA_SMI.filter((t) => t.gpumon === '').map((t) => t.field),
      [
        'arch',
        'compute_mode',
        'serial',
        'display_active',
        'display_mode',
        'current_ecc',
        'retired_pages_blacklist',
        'retired_pages_pending',
        'remapped_rows_pending',
        'remapped_rows_failure',
        'module_power_draw',
      ],
    );
  });

  test("lists the default rows of dcgm-exporter's counters file, and why each one gpumon maps no metric to", () => {
    const csv = readFileSync(
      new URL('../metrics/testdata/dcgm-exporter-default-counters.csv', import.meta.url),
      'utf8',
    );
    const rows = csv
      .split('\n')
      .map((line) => /^(DCGM_FI_\w+)\s*,/.exec(line)?.[1])
      .filter((f): f is string => f !== undefined);
    assert.deepEqual(DCGM_EXPORTER_DEFAULT_COUNTERS, rows);
    const mapped = new Set(dcgmFields().map((f) => f.field.field));
    assert.deepEqual(Object.keys(DCGM_EXPORTER_NOT_KEPT).sort(), rows.filter((f) => !mapped.has(f)).sort());
  });

  test('takes the rocm-smi keys and GPU-Z columns from the sources themselves', () => {
    assert.deepEqual(rocmKeys('gpu_hotspot_temperature_celsius'), ['Temperature (Sensor junction) (C)']);
    assert.deepEqual(gpuzColumns('gpu_hotspot_temperature_celsius'), [
      'hot spot',
      'gpu temperature (hot spot)',
    ]);
    assert.deepEqual(rocmKeys('gpu_pcie_link_generation'), []);
    assert.deepEqual(gpuzColumns('gpu_pcie_link_generation'), []);
  });

  test('every XML element it names, where a real capture has a value there, gives the metric a value', () => {
    const xml = new XMLParser({ parseTagValue: false, ignoreAttributes: true, isArray: (n) => n === 'gpu' });
    let checked = 0;
    for (const name of CAPTURES) {
      const text = readFileSync(new URL(name, SMI_TESTDATA), 'utf8');
      const gpus = (xml.parse(text) as { nvidia_smi_log: { gpu: Record<string, unknown>[] } }).nvidia_smi_log
        .gpu;
      const samples = parseSmiXml(text, { host: 'h', now: 0 }).samples;
      for (const [metric, path] of Object.entries(XML_PATHS) as [MetricName, string][]) {
        if (!/^[\w/]+( \(|$)/.test(path)) continue; // a path with alternatives: the schema tests cover them
        const steps = (path.split(' ')[0] as string).split('/');
        gpus.forEach((gpu, i) => {
          const sample = samples.find((s) => s.uuid === gpu.uuid);
          let node: unknown = gpu;
          for (const step of steps) node = (node as Record<string, unknown> | undefined)?.[step];
          if (typeof node !== 'string' || isNoValue(node)) return;
          assert.ok(sample, `${name} <gpu> ${i}: a sample of ${gpu.uuid}`);
          assert.notEqual(sample[metric], null, `${name} <gpu> ${i}: ${path} = ${node}`);
          checked++;
        });
      }
    }
    assert.ok(checked > 500, `${checked} values checked`);
  });
});
