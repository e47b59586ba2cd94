import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isGpumonError } from '../../errors.ts';
import { type GpuSample, parseSample } from '../../metrics/sample.ts';
import { fuzzCases } from '../../testing/fuzz.ts';
import { capturingLogger } from '../../testing/logger.ts';
import { GpuzSource, type GpuzSourceOptions, UNKNOWN_MODEL } from './gpuz-source.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
const SHORT = fixture('nvidia-2021-short-crlf.txt'); // 9 records, one per second, 23:28:33..41
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const tmp = mkdtempSync(join(tmpdir(), 'gpuz-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function opened(options: Partial<GpuzSourceOptions> & { file: string }) {
  const source = new GpuzSource({ host: 'test-host', ...options });
  await source.open();
  return source;
}

const localTimes = (samples: GpuSample[], source: GpuzSource) =>
  samples.length === 0 ? null : source.current()?.localTime;

describe('GpuzSource replay', () => {
  test('replays at speed 1: the first read gives the first record, then one record per logged second', async () => {
    const source = await opened({ file: SHORT });
    const first = await source.read(T0);
    assert.equal(first.length, 1);
    assert.equal(first[0]?.ts, T0);
    assert.equal(first[0]?.gpu_temperature_celsius, 67);
    assert.equal(source.current()?.localTime, '2021-08-02 23:28:33');
    assert.equal(source.current()?.time, Date.UTC(2021, 7, 2, 23, 28, 33));
    assert.deepEqual(await source.read(T0 + 500), [], 'nothing new within the same logged second');
    const second = await source.read(T0 + 1000);
    assert.equal(second[0]?.ts, T0 + 1000);
    assert.equal(source.current()?.localTime, '2021-08-02 23:28:34');
    assert.equal(second[0]?.gpu_temperature_celsius, 68);
    await source.close();
  });

  test('speed 4 moves four logged seconds per second of replay; records in between are passed over', async () => {
    const source = await opened({ file: SHORT, speed: 4 });
    const seen: (string | null | undefined)[] = [];
    for (let k = 0; k < 3; k++) seen.push(localTimes(await source.read(T0 + k * 1000), source));
    assert.deepEqual(seen, ['2021-08-02 23:28:33', '2021-08-02 23:28:37', '2021-08-02 23:28:41']);
  });

  test('a replay that is not looping ends at the last record: the notice says so and reads give nothing', async () => {
    const { logger, lines } = capturingLogger();
    const source = await opened({ file: SHORT, logger });
    await source.read(T0);
    assert.doesNotMatch(source.health().notice ?? '', /finished/);
    const last = await source.read(T0 + 60_000);
    assert.equal(last.length, 1);
    assert.equal(source.current()?.line, 10);
    assert.match(
      source.health().notice ?? '',
      /replay finished at its last record \(line 10, 2021-08-02 23:28:41\)/,
    );
    assert.deepEqual(await source.read(T0 + 61_000), []);
    assert.deepEqual(await source.read(T0 + 3_600_000), []);
    assert.equal(lines.filter((l) => /end of the log/.test(l.msg)).length, 1);
  });

  test('a looping replay starts again one logged step after its last record', async () => {
    const source = await opened({ file: SHORT, loop: true });
    const times: (string | null | undefined)[] = [];
    for (const at of [0, 8000, 8500, 9000, 10_000, 17_000, 18_000, 19_000]) {
      times.push(localTimes(await source.read(T0 + at), source));
    }
    assert.deepEqual(times, [
      '2021-08-02 23:28:33',
      '2021-08-02 23:28:41',
      null,
      '2021-08-02 23:28:33',
      '2021-08-02 23:28:34',
      '2021-08-02 23:28:41',
      '2021-08-02 23:28:33',
      '2021-08-02 23:28:34',
    ]);
    assert.doesNotMatch(source.health().notice ?? '', /finished/);
  });

  test('one GPU per log: index 0, the configured host, a UUID from the path, the vendor where columns show it', async () => {
    const nvidia = await opened({ file: SHORT });
    const [s] = await nvidia.read(T0);
    assert.equal(s?.host, 'test-host');
    assert.equal(s?.gpu_index, 0);
    assert.match(s?.uuid ?? '', /^GPU-Z-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(s?.model, 'NVIDIA, model unknown (GPU-Z log)');
    assert.equal(s?.pci_bus_id, null);
    const again = await opened({ file: SHORT });
    assert.equal((await again.read(T0))[0]?.uuid, s?.uuid);
    const amd = await opened({ file: fixture('amd-radeon-2020-crlf-repeated-headers.txt'), host: '' });
    const [a] = await amd.read(T0);
    assert.equal(a?.model, 'AMD, model unknown (GPU-Z log)');
    assert.equal(a?.host, hostname());
    assert.notEqual(a?.uuid, s?.uuid);
    const tiny = await opened({ file: fixture('unknown-vendor-2017-tiny-lf.txt') });
    assert.equal((await tiny.read(T0))[0]?.model, UNKNOWN_MODEL);
    const named = await opened({ file: SHORT, model: 'NVIDIA GeForce GTX 1060 6GB' });
    assert.equal((await named.read(T0))[0]?.model, 'NVIDIA GeForce GTX 1060 6GB');
  });

  test('columns outside the catalog are reported once: logged, in the notice and counted in health errors', async () => {
    const { logger, lines } = capturingLogger();
    const source = await opened({ file: fixture('nvidia-2024-hotspot-crlf.txt'), logger });
    for (let k = 0; k < 5; k++) await source.read(T0 + k * 1000);
    const reports = lines.filter((l) => /not in the metric catalog/.test(l.msg));
    assert.equal(reports.length, 1);
    assert.ok(((reports[0]?.columns ?? []) as string[]).includes('Fan 1 Speed (RPM) [RPM]'));
    const health = source.health();
    assert.equal(health.errors.unknown_columns, 10); // Hot Spot is the catalog's hot-spot temperature
    assert.match(health.notice ?? '', /Fan 1 Speed \(RPM\) \[RPM\].*PWR_SRC Power Draw \[W\]/);
    assert.match(health.notice ?? '', /recorded data, not live/);
    assert.equal(source.unknownColumns()[0], 'Fan 1 Speed (RPM) [RPM]');
  });

  test('every sample of a whole replay of every capture passes parseSample', async () => {
    for (const name of [
      'amd-radeon-2020-crlf-repeated-headers.txt',
      'nvidia-2016-old-column-names-lf.txt',
      'nvidia-2021-short-crlf.txt',
      'nvidia-2024-hotspot-crlf.txt',
      'unknown-vendor-2017-tiny-lf.txt',
      'unknown-vendor-2024-nul-padded-header-no-eol.txt',
    ]) {
      const source = await opened({ file: fixture(name), speed: 600 });
      let count = 0;
      for (let k = 0; k < 500; k++) {
        for (const s of await source.read(T0 + k * 1000)) {
          parseSample(s, name);
          count++;
        }
      }
      assert.ok(count > 0, name);
    }
  });

  test('malformed lines are counted in health with their line numbers and the replay goes on', async () => {
    const file = join(tmp, 'malformed.txt');
    writeFileSync(
      file,
      ' Date , GPU Load [%] ,\r\n2024-01-01 00:00:00 , 1 ,\r\ngarbage\r\n2024-01-01 00:00:01 , x ,\r\n2024-01-01 00:00:02 , 3 ,\r\n',
    );
    const source = await opened({ file });
    assert.equal((await source.read(T0))[0]?.gpu_utilization_percent, 1);
    assert.equal((await source.read(T0 + 2000))[0]?.gpu_utilization_percent, 3);
    assert.equal(source.health().errors.malformed_lines, 2);
    assert.deepEqual(
      source.lineErrors().map((e) => e.line),
      [3, 4],
    );
    assert.match(source.health().notice ?? '', /2 malformed lines skipped \(first: line 3:/);
  });

  test('a missing log fails open with SOURCE_UNAVAILABLE naming the file; no file at all is a config error', async () => {
    await assert.rejects(
      opened({ file: join(tmp, 'nope.txt') }),
      (err) => isGpumonError(err, 'SOURCE_UNAVAILABLE') && /nope\.txt/.test(err.message),
    );
    assert.throws(
      () => new GpuzSource({ file: '' }),
      (err) => isGpumonError(err, 'CONFIG_INVALID'),
    );
    assert.throws(
      () => new GpuzSource({ file: SHORT, speed: 0 }),
      (err) => isGpumonError(err, 'CONFIG_INVALID'),
    );
    await assert.rejects(new GpuzSource({ file: SHORT }).read(T0), (err) =>
      isGpumonError(err, 'SOURCE_UNAVAILABLE'),
    );
  });

  test('fuzzed logs replay without a read ever throwing, and every sample passes parseSample', async () => {
    const seeds = [
      SHORT,
      fixture('unknown-vendor-2017-tiny-lf.txt'),
      fixture('amd-radeon-2020-crlf-repeated-headers.txt'),
    ].map((f) => new TextDecoder('windows-1252').decode(readFileSync(f)).split('\n').slice(0, 30).join('\n'));
    const file = join(tmp, 'fuzz.txt');
    for (const { index, text } of fuzzCases(seeds, 200, 11)) {
      writeFileSync(file, text, index % 2 ? 'latin1' : 'utf8');
      const source = await opened({ file, speed: 1 + (index % 5), loop: index % 3 === 0 });
      for (let k = 0; k < 12; k++) {
        for (const s of await source.read(T0 + k * 1000)) parseSample(s, `case ${index}`);
      }
      await source.close();
    }
  });
});

describe('GpuzSource follow', () => {
  const HEADER = '        Date        , GPU Temperature [°C] , GPU Load [%] , Hot Spot [°C] ,\r\n';
  const row = (s: number, temp: number, load: number) =>
    `2024-04-20 13:02:${String(s).padStart(2, '0')} , ${temp.toFixed(1)} , ${load} , ${(temp + 5).toFixed(1)} ,\r\n`;

  test('lines already in the log are not replayed; each appended line is read once, stamped with the read time', async () => {
    const file = join(tmp, 'follow.txt');
    writeFileSync(file, Buffer.from(HEADER + row(0, 50, 1) + row(1, 51, 2), 'latin1'));
    const source = await opened({ file, follow: true });
    assert.deepEqual(await source.read(T0), []);
    appendFileSync(file, Buffer.from(row(2, 52, 3), 'latin1'));
    const [s] = await source.read(T0 + 1000);
    assert.equal(s?.ts, T0 + 1000);
    assert.equal(s?.gpu_temperature_celsius, 52);
    assert.equal(s?.gpu_hotspot_temperature_celsius, 57);
    assert.equal(source.current()?.line, 4);
    assert.deepEqual(await source.read(T0 + 2000), [], 'nothing appended: nothing read, nothing repeated');
    appendFileSync(file, Buffer.from(row(3, 53, 4) + row(4, 54, 5), 'latin1'));
    const [latest] = await source.read(T0 + 3000);
    assert.equal(latest?.gpu_temperature_celsius, 54, 'two lines appended: the newer one is current');
    assert.match(source.health().notice ?? '', /following GPU-Z log/);
  });

  test('a partial last line waits for its line break', async () => {
    const file = join(tmp, 'partial.txt');
    writeFileSync(file, HEADER);
    const source = await opened({ file, follow: true });
    const line = row(5, 60, 7);
    appendFileSync(file, line.slice(0, 30));
    assert.deepEqual(await source.read(T0), []);
    appendFileSync(file, line.slice(30, -2));
    assert.deepEqual(await source.read(T0 + 1000), []);
    appendFileSync(file, line.slice(-2));
    const [s] = await source.read(T0 + 2000);
    assert.equal(s?.gpu_temperature_celsius, 60);
    assert.equal(source.health().errors.malformed_lines, undefined);
  });

  test('a truncated log is read again from its start, with its header written again', async () => {
    const file = join(tmp, 'truncated.txt');
    writeFileSync(file, HEADER + row(0, 50, 1) + row(1, 51, 1));
    const source = await opened({ file, follow: true });
    writeFileSync(file, HEADER + row(9, 40, 9));
    const [s] = await source.read(T0);
    assert.equal(s?.gpu_temperature_celsius, 40);
    assert.equal(source.current()?.line, 2);
    assert.match(source.health().notice ?? '', /the log was truncated/);
  });

  test('a replaced (rotated) log is followed from the start of the new file', async () => {
    const file = join(tmp, 'rotated.txt');
    writeFileSync(file, HEADER + row(0, 50, 1) + row(1, 51, 1) + row(2, 52, 1));
    const source = await opened({ file, follow: true });
    const next = join(tmp, 'rotated.next');
    writeFileSync(next, `${HEADER}${row(0, 30, 1)}${row(1, 31, 1)}${row(2, 32, 1)}${row(3, 33, 1)}`);
    renameSync(next, file);
    const [s] = await source.read(T0);
    assert.equal(s?.gpu_temperature_celsius, 33);
    assert.match(source.health().notice ?? '', /the log was replaced/);
  });

  test('a header written again with other columns maps the lines after it by the new header', async () => {
    const file = join(tmp, 'reheader.txt');
    writeFileSync(file, HEADER + row(0, 50, 1));
    const source = await opened({ file, follow: true });
    appendFileSync(file, ' Date , GPU Load [%] , GPU Temperature [°C] , Fan 2 Speed (%) [%] ,\r\n');
    appendFileSync(file, '2024-04-20 13:03:00 , 77 , 44.0 , 30 ,\r\n');
    const [s] = await source.read(T0);
    assert.equal(s?.gpu_utilization_percent, 77);
    assert.equal(s?.gpu_temperature_celsius, 44);
    assert.deepEqual(source.unknownColumns(), ['Fan 2 Speed (%) [%]']);
  });

  test('a log that does not exist yet is waited for, then followed from its first line', async () => {
    const file = join(tmp, 'later.txt');
    const source = await opened({ file, follow: true });
    assert.deepEqual(await source.read(T0), []);
    assert.match(source.health().notice ?? '', /does not exist \(yet\)/);
    writeFileSync(file, HEADER + row(0, 45, 2));
    const [s] = await source.read(T0 + 1000);
    assert.equal(s?.gpu_temperature_celsius, 45);
    assert.doesNotMatch(source.health().notice ?? '', /does not exist/);
  });

  test('UTF-8 and Windows-1252 lines both read the °C header', async () => {
    for (const encoding of ['utf8', 'latin1'] as const) {
      const file = join(tmp, `enc-${encoding}.txt`);
      writeFileSync(file, Buffer.from(HEADER, encoding));
      const source = await opened({ file, follow: true });
      appendFileSync(file, Buffer.from(row(1, 41, 1), encoding));
      assert.equal((await source.read(T0))[0]?.gpu_temperature_celsius, 41, encoding);
    }
  });
});
