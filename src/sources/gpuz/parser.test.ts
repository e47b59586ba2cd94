import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isGpumonError } from '../../errors.ts';
import { nullIdentity, parseSample } from '../../metrics/sample.ts';
import { fuzzCases } from '../../testing/fuzz.ts';
import { perfCapToClockEventReasons } from './columns.ts';
import { gpuzUuid, recordToSample } from './gpuz-source.ts';
import { type GpuzRecord, parseGpuzLog } from './parser.ts';

const bytesOf = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url));
const MIB = 1024 * 1024;

/** Expectations written by hand from the raw files (less, cat -A). */
const FIXTURES = [
  {
    file: 'amd-radeon-2020-crlf-repeated-headers.txt',
    records: 1673,
    headerLines: [1, 443, 486, 577, 715, 901, 1210, 1367, 1380, 1568, 1570, 1628],
    first: {
      line: 2,
      localTime: '2020-03-16 17:13:05',
      gpu_graphics_clock_mhz: 789,
      gpu_memory_clock_mhz: 200,
    },
    last: {
      line: 1685,
      localTime: '2020-03-18 18:55:58',
      gpu_graphics_clock_mhz: 929,
      gpu_memory_clock_mhz: 980,
    },
  },
  {
    file: 'nvidia-2016-old-column-names-lf.txt',
    records: 4271,
    headerLines: [1, 3876, 3961],
    first: {
      line: 2,
      localTime: '2016-01-09 15:10:13',
      gpu_graphics_clock_mhz: 135,
      gpu_memory_clock_mhz: 405,
    },
    last: {
      line: 4274,
      localTime: '2016-01-12 13:12:30',
      gpu_graphics_clock_mhz: 405,
      gpu_memory_clock_mhz: 405,
    },
  },
  {
    file: 'nvidia-2021-short-crlf.txt',
    records: 9,
    headerLines: [1],
    first: {
      line: 2,
      localTime: '2021-08-02 23:28:33',
      gpu_graphics_clock_mhz: 914.5,
      gpu_memory_clock_mhz: 1502.3,
    },
    last: {
      line: 10,
      localTime: '2021-08-02 23:28:41',
      gpu_graphics_clock_mhz: 914.5,
      gpu_memory_clock_mhz: 1502.3,
    },
  },
  {
    file: 'nvidia-2024-hotspot-crlf.txt',
    records: 356,
    headerLines: [1],
    first: {
      line: 2,
      localTime: '2024-04-20 13:02:09',
      gpu_graphics_clock_mhz: 2490,
      gpu_memory_clock_mhz: 2062.7,
    },
    last: {
      line: 357,
      localTime: '2024-04-20 13:08:04',
      gpu_graphics_clock_mhz: 2490,
      gpu_memory_clock_mhz: 2062.7,
    },
  },
  {
    file: 'unknown-vendor-2017-tiny-lf.txt',
    records: 3,
    headerLines: [1],
    first: {
      line: 2,
      localTime: '2017-06-17 15:37:57',
      gpu_graphics_clock_mhz: 300,
      gpu_memory_clock_mhz: 933.3,
    },
    last: {
      line: 4,
      localTime: '2017-06-17 15:37:59',
      gpu_graphics_clock_mhz: 300,
      gpu_memory_clock_mhz: 933.3,
    },
  },
  {
    file: 'unknown-vendor-2024-nul-padded-header-no-eol.txt',
    records: 47,
    headerLines: [1],
    first: {
      line: 1,
      localTime: '2024-04-11 14:43:15',
      gpu_graphics_clock_mhz: 99.8,
      gpu_memory_clock_mhz: 2593.7,
    },
    last: {
      line: 47,
      localTime: '2024-04-11 14:44:01',
      gpu_graphics_clock_mhz: 99.8,
      gpu_memory_clock_mhz: 2593.7,
    },
  },
] as const;

function pick(r: GpuzRecord) {
  return {
    line: r.line,
    localTime: r.localTime,
    gpu_graphics_clock_mhz: r.metrics.gpu_graphics_clock_mhz,
    gpu_memory_clock_mhz: r.metrics.gpu_memory_clock_mhz,
  };
}

describe('parseGpuzLog on the real captures', () => {
  for (const f of FIXTURES) {
    test(`${f.file}: ${f.records} records under ${f.headerLines.length} headers, none malformed`, () => {
      const log = parseGpuzLog(bytesOf(f.file));
      assert.equal(log.encoding, 'windows-1252');
      assert.equal(log.records.length, f.records);
      assert.deepEqual(
        log.headers.map((h) => h.line),
        f.headerLines,
      );
      assert.equal(log.errorCount, 0, JSON.stringify(log.errors.slice(0, 3)));
      assert.deepEqual(pick(log.records[0] as GpuzRecord), f.first);
      assert.deepEqual(pick(log.records.at(-1) as GpuzRecord), f.last);
      assert.equal(log.columns[0]?.name, 'Date');
      assert.ok(log.columns.some((c) => c.name === 'GPU Temperature [°C]'));
    });
  }

  test('every record of every capture makes a sample that passes parseSample', () => {
    const identity = {
      ...nullIdentity(),
      host: 'h',
      gpu_index: 0,
      uuid: gpuzUuid('x'),
      model: 'm',
      pci_bus_id: null,
      driver_version: null,
    };
    for (const f of FIXTURES) {
      for (const r of parseGpuzLog(bytesOf(f.file)).records)
        parseSample(recordToSample(r, identity, 1), f.file);
    }
  });

  test('the 2021 capture maps each column by hand-read values of its first line', () => {
    const r = parseGpuzLog(bytesOf('nvidia-2021-short-crlf.txt')).records[0] as GpuzRecord;
    assert.equal(r.time, Date.UTC(2021, 7, 2, 23, 28, 33));
    assert.equal(r.metrics.gpu_temperature_celsius, 67);
    assert.equal(r.metrics.gpu_fan_speed_percent, 38);
    assert.equal(r.metrics.gpu_memory_used_bytes, 1697 * MIB);
    assert.equal(r.metrics.gpu_utilization_percent, 16);
    assert.equal(r.metrics.gpu_memory_utilization_percent, 6);
    assert.equal(r.metrics.gpu_power_draw_watts, 33.6);
    assert.equal(r.metrics.gpu_clock_throttle_reasons, 0x1);
    assert.equal(r.metrics.host_cpu_temperature_celsius, 67);
    assert.equal(r.metrics.host_memory_used_bytes, 11515 * MIB);
    assert.equal(r.metrics.gpu_sm_clock_mhz, null);
    assert.equal(r.metrics.gpu_encoder_utilization_percent, null);
    assert.deepEqual(r.extra, {
      'Fan Speed (RPM) [RPM]': 1230,
      'Video Engine Load [%]': 0,
      'Bus Interface Load [%]': 1,
      'GPU Chip Power Draw [W]': 69,
      'MVDDQ Power Draw [W]': 0,
      'PCIe Slot Power [W]': 14.4,
      '6-Pin #1 Power [W]': 34.5,
      '6-Pin #2 Power [W]': 15.2,
      'Power Consumption (%) [% TDP]': 23.9,
      'PerfCap Reason []': 16,
      'GPU Voltage [V]': 1.025,
    });
  });

  test('the hot spot fills gpu_hotspot_temperature_celsius under its NVIDIA and its AMD column name', () => {
    // nvidia-2024 line 2: GPU Temperature 56.6, Hot Spot 62.5 (columns 4 and 5 of the header on line 1)
    const nvidia = parseGpuzLog(bytesOf('nvidia-2024-hotspot-crlf.txt'));
    assert.equal(nvidia.records[0]?.metrics.gpu_temperature_celsius, 56.6);
    assert.equal(nvidia.records[0]?.metrics.gpu_hotspot_temperature_celsius, 62.5);
    assert.ok(!nvidia.unknownColumns.includes('Hot Spot [°C]'));
    // amd-radeon-2020 line 2: GPU Temperature 50.0, GPU Temperature (Hot Spot) 50.0 (columns 6 and 7)
    const amd = parseGpuzLog(bytesOf('amd-radeon-2020-crlf-repeated-headers.txt'));
    const column = amd.columns.find((c) => c.name === 'GPU Temperature (Hot Spot) [°C]');
    assert.equal(column?.metric, 'gpu_hotspot_temperature_celsius');
    assert.equal(amd.records[0]?.metrics.gpu_hotspot_temperature_celsius, 50);
  });

  test('old (2016) and new (2021) column names fill the same metrics', () => {
    const old = parseGpuzLog(bytesOf('nvidia-2016-old-column-names-lf.txt'));
    const now = parseGpuzLog(bytesOf('nvidia-2021-short-crlf.txt'));
    const metricOf = (log: typeof old, name: string) => log.columns.find((c) => c.name === name)?.metric;
    const pairs = [
      ['GPU Core Clock [MHz]', 'GPU Clock [MHz]', 'gpu_graphics_clock_mhz'],
      ['GPU Memory Clock [MHz]', 'Memory Clock [MHz]', 'gpu_memory_clock_mhz'],
      ['Memory Usage (Dedicated) [MB]', 'Memory Used [MB]', 'gpu_memory_used_bytes'],
      ['PerfCap Reason []', 'PerfCap Reason []', 'gpu_clock_throttle_reasons'],
    ];
    for (const [before, after, metric] of pairs) {
      assert.equal(metricOf(old, before as string), metric);
      assert.equal(metricOf(now, after as string), metric);
    }
    // VDDC (old) and GPU Voltage (new) have no catalog metric: both stay in extra under their own names.
    assert.equal((old.records[0] as GpuzRecord).extra['VDDC [V]'], 0.781);
    assert.equal((now.records[0] as GpuzRecord).extra['GPU Voltage [V]'], 1.025);
    assert.ok(old.unknownColumns.includes('VDDC [V]'));
  });

  test('the °C header reads the same in Windows-1252 and in UTF-8', () => {
    const raw = bytesOf('nvidia-2021-short-crlf.txt');
    assert.equal(raw.indexOf(Buffer.from('°', 'latin1')) > 0, true);
    const cp = parseGpuzLog(raw);
    const utf8 = Buffer.from(new TextDecoder('windows-1252').decode(raw), 'utf8');
    assert.notDeepEqual(utf8, raw);
    const u = parseGpuzLog(utf8);
    assert.equal(u.encoding, 'utf-8');
    assert.deepEqual(
      u.columns.map((c) => c.name),
      cp.columns.map((c) => c.name),
    );
    assert.equal(u.columns[3]?.name, 'GPU Temperature [°C]');
    assert.deepEqual(u.records, cp.records);
    const bom = parseGpuzLog(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]));
    assert.deepEqual(bom.records, cp.records);
  });

  test('CRLF and LF line endings, and a missing final line break, give the same records', () => {
    const crlf = bytesOf('nvidia-2021-short-crlf.txt');
    const lf = Buffer.from(crlf.toString('latin1').replaceAll('\r\n', '\n'), 'latin1');
    const noEol = crlf.subarray(0, crlf.length - 2);
    const expected = parseGpuzLog(crlf).records;
    assert.deepEqual(parseGpuzLog(lf).records, expected);
    assert.deepEqual(parseGpuzLog(noEol).records, expected);
  });

  test('headers written again mid-file are skipped, not counted as records or errors', () => {
    const log = parseGpuzLog(bytesOf('amd-radeon-2020-crlf-repeated-headers.txt'));
    const headerLines = new Set(log.headers.map((h) => h.line));
    assert.equal(headerLines.size, 12);
    assert.ok(log.records.every((r) => !headerLines.has(r.line)));
    assert.equal((log.records.find((r) => r.line === 444) as GpuzRecord).localTime, '2020-03-16 18:57:50');
  });

  test('two columns with the same name are both kept, the second as "#2"', () => {
    const log = parseGpuzLog(bytesOf('amd-radeon-2020-crlf-repeated-headers.txt'));
    const first = log.records[0] as GpuzRecord;
    assert.equal(first.extra['UVD Clock [MHz]'], 105);
    assert.equal(first.extra['UVD Clock [MHz] #2'], 102);
    assert.deepEqual(log.unknownColumns.slice(0, 2), ['UVD Clock [MHz]', 'UVD Clock [MHz] #2']);
  });

  test('a header padded with NUL bytes keeps the header and the data line glued after the NULs', () => {
    const log = parseGpuzLog(bytesOf('unknown-vendor-2024-nul-padded-header-no-eol.txt'));
    assert.equal(log.columns.length, 10);
    assert.equal(log.errorCount, 0);
    assert.deepEqual(log.warnings, [
      {
        line: 1,
        reason: '40020 NUL bytes (the log was truncated while GPU-Z wrote it): the text around them is kept',
      },
    ]);
    const first = log.records[0] as GpuzRecord;
    assert.equal(first.metrics.gpu_memory_used_bytes, 698 * MIB);
    assert.equal(first.metrics.host_memory_used_bytes, 8403 * MIB);
  });

  test('"-" is a missing value: null, never 0', () => {
    const log = parseGpuzLog(bytesOf('unknown-vendor-2024-nul-padded-header-no-eol.txt'));
    assert.ok(log.records.every((r) => r.extra['GPU Voltage [V]'] === null));
    const text = ' Date , GPU Temperature [°C] , GPU Load [%] ,\n2024-01-01 00:00:00 , - , 5 ,\n';
    const r = parseGpuzLog(text).records[0] as GpuzRecord;
    assert.equal(r.metrics.gpu_temperature_celsius, null);
    assert.equal(r.metrics.gpu_utilization_percent, 5);
  });

  test('malformed lines are skipped and counted with their line numbers, never fatal', () => {
    const text = [
      '2024-01-01 00:00:00 , 1 ,', // 1: before any header
      '        Date        , GPU Load [%] , Hot Spot [°C] ,', // 2
      '2024-01-01 00:00:01 , 10 , 50 ,', // 3: good
      '2024-01-01 00:00:02 , 11 ,', // 4: a field short
      '2024-01-01 00:00:03 , 12 , 51 , 7 ,', // 5: a field too many
      '2024-13-01 00:00:04 , 13 , 52 ,', // 6: no month 13
      '2024-01-01 00:00:05 , abc , 53 ,', // 7: not a number
      '2024-01-01 00:00:06 , 14 , 54', // 8: cut before its trailing comma
      '', // 9: blank, ignored
      '2024-02-30 00:00:07 , 15 , 55 ,', // 10: no 30 February
      '2024-01-01 00:00:08 , 16 , 56 ,', // 11: good
    ].join('\r\n');
    const log = parseGpuzLog(text);
    assert.deepEqual(
      log.records.map((r) => r.line),
      [3, 11],
    );
    assert.deepEqual(
      log.errors.map((e) => e.line),
      [1, 4, 5, 6, 7, 8, 10],
    );
    assert.equal(log.errorCount, 7);
    assert.match(log.errors[0]?.reason ?? '', /before any header/);
    assert.match(log.errors[1]?.reason ?? '', /2 fields where the header \(line 2\) has 3/);
    assert.match(log.errors[4]?.reason ?? '', /GPU Load \[%\]: 'abc' is not a number/);
    assert.match(log.errors[5]?.reason ?? '', /no trailing comma/);
  });

  test('a value outside the catalog range becomes null with a warning; the line is kept', () => {
    const text = ' Date , GPU Temperature [°C] , GPU Load [%] ,\n2024-01-01 00:00:00 , 400.0 , 101 ,\n';
    const log = parseGpuzLog(text);
    const r = log.records[0] as GpuzRecord;
    assert.equal(r.metrics.gpu_temperature_celsius, null);
    assert.equal(r.metrics.gpu_utilization_percent, null);
    assert.equal(log.warningCount, 2);
    assert.match(
      log.warnings[0]?.reason ?? '',
      /GPU Temperature \[°C\]: 400 is outside gpu_temperature_celsius/,
    );
  });

  test('temperatures logged in °F are converted to °C; an unknown unit keeps the column out of the catalog', () => {
    const text = ' Date , GPU Temperature [°F] , Memory Used [KB] ,\n2024-01-01 00:00:00 , 212.0 , 5 ,\n';
    const log = parseGpuzLog(text);
    const r = log.records[0] as GpuzRecord;
    assert.equal(r.metrics.gpu_temperature_celsius, 100);
    assert.equal(r.metrics.gpu_memory_used_bytes, null);
    assert.deepEqual(r.extra, { 'Memory Used [KB]': 5 });
  });

  test('PerfCap Reason bits translate to NVML clock event reasons where NVML has one', () => {
    assert.equal(perfCapToClockEventReasons(0), 0);
    assert.equal(perfCapToClockEventReasons(1), 0x4); // power
    assert.equal(perfCapToClockEventReasons(2), 0x20); // thermal
    assert.equal(perfCapToClockEventReasons(16), 0x1); // utilization: idle
    assert.equal(perfCapToClockEventReasons(18), 0x21);
    assert.equal(perfCapToClockEventReasons(12), 0); // voltage limits: no NVML reason
    const old = parseGpuzLog(bytesOf('nvidia-2016-old-column-names-lf.txt'));
    const power = old.records.find((r) => r.extra['PerfCap Reason []'] === 1) as GpuzRecord;
    assert.equal(power.metrics.gpu_clock_throttle_reasons, 0x4);
  });

  test('the Date column is read in the configured time zone, UTC by default', () => {
    const text =
      ' Date , GPU Load [%] ,\n2021-08-02 23:28:33 , 1 ,\n2021-10-31 02:30:00 , 2 ,\n2021-03-28 02:30:00 , 3 ,\n';
    const utc = parseGpuzLog(text).records.map((r) => r.time);
    assert.deepEqual(utc, [
      Date.UTC(2021, 7, 2, 23, 28, 33),
      Date.UTC(2021, 9, 31, 2, 30),
      Date.UTC(2021, 2, 28, 2, 30),
    ]);
    const berlin = parseGpuzLog(text, { timeZone: 'Europe/Berlin' }).records.map((r) => r.time);
    assert.deepEqual(berlin, [
      Date.UTC(2021, 7, 2, 21, 28, 33), // CEST, UTC+2
      Date.UTC(2021, 9, 31, 0, 30), // written twice that night: the first (CEST) one
      Date.UTC(2021, 2, 28, 1, 30), // does not exist (clocks jump 02:00 -> 03:00): 03:30 CEST
    ]);
    assert.throws(
      () => parseGpuzLog(text, { timeZone: 'Mars/Olympus' }),
      (err) => isGpumonError(err, 'CONFIG_INVALID'),
    );
  });
});

describe('parseGpuzLog under fuzzing', () => {
  const seeds = FIXTURES.map((f) => {
    const text = new TextDecoder('windows-1252').decode(bytesOf(f.file));
    return text.split('\n').slice(0, 40).join('\n');
  });
  const identity = {
    ...nullIdentity(),
    host: 'h',
    gpu_index: 0,
    uuid: 'GPU-Z-x',
    model: 'm',
    pci_bus_id: null,
    driver_version: null,
  };

  test('3000 mutated logs: nothing throws, every non-blank line is a header, a record or a counted error', () => {
    for (const { index, text } of fuzzCases(seeds, 3000, 7)) {
      let log: ReturnType<typeof parseGpuzLog>;
      try {
        log = parseGpuzLog(index % 2 ? text : Buffer.from(text, index % 4 === 0 ? 'utf8' : 'latin1'));
      } catch (err) {
        assert.fail(`case ${index} threw: ${String(err)}`);
      }
      const pieces =
        log.encoding === 'utf-8' || typeof text === 'string' ? countPieces(decoded(text, index)) : 0;
      assert.equal(log.records.length + log.errorCount + log.headers.length, pieces, `case ${index}`);
      for (const r of log.records)
        parseSample(recordToSample(r, identity, 1_700_000_000_000), `case ${index}`);
    }
  });
});

/** The text the parser saw for a fuzz case (as the test above encodes it). */
function decoded(text: string, index: number): string {
  if (index % 2) return text;
  const bytes = Buffer.from(text, index % 4 === 0 ? 'utf8' : 'latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

/** Non-blank pieces of a text: lines, split again at NUL runs. */
function countPieces(text: string): number {
  let n = 0;
  const lines = text.split('\n');
  for (const line of lines)
    for (const piece of line.split(/\0+/)) if (piece.replace(/\r$/, '').trim() !== '') n++;
  return n;
}
