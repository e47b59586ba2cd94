import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { METRICS } from '../../metrics/catalog.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { SimSource } from '../../sources/sim/sim-source.ts';
import { readArchiveSamples } from './archive-reader.ts';
import { captureSamples } from './capture-samples.ts';
import { LocalStorage } from './local-storage.ts';
import { ParquetWriter } from './parquet-writer.ts';

// Format 2 stores float64 metrics as decimals where every value of a file allows (encoding.ts): every value
// the sources report, from the real captures in the sources' testdata and from the simulator, must read back
// as the same double, bit for bit.

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const t0 = Date.UTC(2026, 10, 25, 8, 0, 0);
async function roundTrip(samples: GpuSample[]): Promise<{ back: GpuSample[]; types: Map<string, string> }> {
  const root = await mkdtemp(join(tmpdir(), 'gpumon-round-trip-'));
  dirs.push(root);
  const writer = new ParquetWriter({ storage: new LocalStorage(root) });
  await writer.writeSamples(samples);
  await writer.close();
  const files = (await readdir(root, { recursive: true }))
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => join(root, f));
  const db = await DuckDBInstance.create(':memory:');
  const described = await (await db.connect()).runAndReadAll(
    'DESCRIBE SELECT * FROM read_parquet($files, union_by_name = true)',
    { files: listValue(files) },
  );
  db.closeSync();
  const types = new Map(described.getRowsJS().map((r) => [String(r[0]), String(r[1])]));
  return { back: await readArchiveSamples(new LocalStorage(root)), types };
}

function assertSameValues(back: GpuSample[], samples: GpuSample[]): number {
  const expected = [...samples].sort(
    (a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0) || a.gpu_index - b.gpu_index || a.ts - b.ts,
  );
  assert.equal(back.length, expected.length);
  let values = 0;
  for (const [i, s] of back.entries()) {
    const want = expected[i] as GpuSample;
    assert.equal(s.uuid, want.uuid);
    for (const m of METRICS) {
      const v = want[m.name];
      assert.ok(
        Object.is(s[m.name], v),
        `${want.host} ${m.name}: ${String(s[m.name])}, written ${String(v)}`,
      );
      if (v !== null) values++;
    }
  }
  return values;
}

describe('every value a source reports reads back from the archive bit for bit', () => {
  test('from every real capture of nvidia-smi (XML and CSV), dcgm-exporter and GPU-Z', async () => {
    const samples = captureSamples(t0);
    assert.ok(samples.length > 100, `${samples.length} samples from the captures`);
    const { back, types } = await roundTrip(samples);
    const values = assertSameValues(back, samples);
    assert.ok(values > 1000, `${values} values compared`);
    // The captures' power draws have two decimals: stored as decimals, not doubles.
    assert.match(types.get('gpu_power_draw_watts') ?? '', /^DECIMAL\((9|18),\d\)$/);
  });

  test('from the simulated fleet, an hour of 4 GPUs', async () => {
    const source = new SimSource({ hosts: 2, gpusPerHost: 2, seed: 7 });
    await source.open();
    const samples: GpuSample[] = [];
    for (let i = 0; i < 3600; i++) samples.push(...(await source.read(t0 + i * 1000)));
    await source.close();
    const { back, types } = await roundTrip(samples);
    assert.ok(assertSameValues(back, samples) > 50_000);
    assert.equal(types.get('gpu_power_draw_watts'), 'DECIMAL(9,2)');
    assert.equal(types.get('gpu_energy_joules_total'), 'DECIMAL(18,3)');
  });
});
