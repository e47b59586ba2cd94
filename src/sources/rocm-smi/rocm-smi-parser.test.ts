import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type GpuSample, nullIdentity, nullMetrics, parseSample } from '../../metrics/sample.ts';
import { fuzzCases } from '../../testing/fuzz.ts';
import { numberValue, parseRocmSmiJson } from './rocm-smi-parser.ts';

const TESTDATA = new URL('./testdata/', import.meta.url);
const FIXTURES = readdirSync(TESTDATA).filter((f) => f.endsWith('.json'));
const read = (file: string) => readFileSync(new URL(file, TESTDATA), 'utf8');
const T = 1_718_000_000_000;
const parse = (text: string) => parseRocmSmiJson(text, { host: 'amd-node', now: T });

/** A sample with every metric null except those given: expectations list only what the capture holds. */
const expected = (sample: Partial<GpuSample>): GpuSample =>
  ({ ...nullMetrics(), ...nullIdentity(), ts: T, host: 'amd-node', ...sample }) as GpuSample;

describe('parseRocmSmiJson on real captures', () => {
  test('every capture in testdata gives one valid sample per card and no error', () => {
    assert.equal(FIXTURES.length, 7);
    for (const file of FIXTURES) {
      const result = parse(read(file));
      const cards = Object.keys(JSON.parse(read(file))).filter((k) => k.startsWith('card'));
      assert.deepEqual(result.errors, [], file);
      assert.equal(result.samples.length, cards.length, file);
      for (const s of result.samples) parseSample(s, file);
    }
  });

  test('ROCm 4.3 (RX 6700 XT): names are raw PCI ids, so the model falls back to the device id', () => {
    const [sample, ...rest] = parse(read('rx6700xt_rocm430.json')).samples;
    assert.equal(rest.length, 0);
    assert.deepEqual(
      sample,
      expected({
        gpu_index: 0, // "card0"
        uuid: 'AMD-amd-node-0000:07:00.0', // "Unique ID": "N/A" -> host + "PCI Bus": "0000:07:00.0"
        model: 'AMD GPU 0x73df', // "Card series": "0x1002" is a PCI id, "GPU ID": "0x73df"
        pci_bus_id: '0000:07:00.0', // "PCI Bus": "0000:07:00.0"
        driver_version: '6.3.6', // system "Driver version": "6.3.6"
        vbios_version: '113-67XA6SSB1-D01', // "VBIOS version" (line 5)
        gpu_utilization_percent: 0, // "GPU use (%)": "0"
        gpu_memory_utilization_percent: 0, // "GPU memory use (%)": "0"
        gpu_memory_total_bytes: 12868124672, // "VRAM Total Memory (B)": "12868124672"
        gpu_memory_used_bytes: 1622728704, // "VRAM Total Used Memory (B)": "1622728704"
        gpu_memory_free_bytes: 11245395968, // 12868124672 - 1622728704
        gpu_temperature_celsius: 45, // "Temperature (Sensor edge) (C)": "45.0" (junction is the hot spot)
        gpu_hotspot_temperature_celsius: 47, // "Temperature (Sensor junction) (C)": "47.0" (line 7)
        gpu_memory_temperature_celsius: 46, // "Temperature (Sensor memory) (C)": "46.0" (HBM 0-3 are N/A)
        gpu_power_draw_watts: 6, // "Average Graphics Package Power (W)": "6.0"
        gpu_power_limit_watts: 211, // "Max Graphics Package Power (W)": "211.0"
        gpu_sm_clock_mhz: 500, // "sclk clock speed:": "(500Mhz)"
        gpu_graphics_clock_mhz: 500, // "sclk clock speed:": "(500Mhz)"
        gpu_memory_clock_mhz: 96, // "mclk clock speed:": "(96Mhz)"
      }),
    );
  });

  test('ROCm 6.0.2 (RX 6700 XT): power "N/A (Secondary die)" is null, not 0', () => {
    const [sample] = parse(read('rx6700xt_rocm602.json')).samples;
    assert.deepEqual(
      sample,
      expected({
        gpu_index: 0, // "card0"
        uuid: 'AMD-amd-node-0000:07:00.0', // "Unique ID": "N/A", "PCI Bus": "0000:07:00.0"
        model: 'Navi 22 [Radeon RX 6700/6700 XT / 6800M]', // "Card series"
        pci_bus_id: '0000:07:00.0',
        driver_version: '6.3.6', // system "Driver version"
        vbios_version: '113-67XA6SSB1-D01', // "VBIOS version" (line 6)
        gpu_utilization_percent: 0, // "GPU use (%)": "0"
        gpu_memory_utilization_percent: 0, // "GPU memory use (%)": "0"
        gpu_memory_total_bytes: 12868124672, // "VRAM Total Memory (B)"
        gpu_memory_used_bytes: 1572757504, // "VRAM Total Used Memory (B)": "1572757504"
        gpu_memory_free_bytes: 11295367168, // 12868124672 - 1572757504
        gpu_temperature_celsius: 45, // "Temperature (Sensor edge) (C)": "45.0"
        gpu_hotspot_temperature_celsius: 47, // "Temperature (Sensor junction) (C)": "47.0" (line 8)
        gpu_memory_temperature_celsius: 46, // "Temperature (Sensor memory) (C)": "46.0"
        gpu_power_draw_watts: null, // "Average Graphics Package Power (W)": "N/A (Secondary die)"
        gpu_power_limit_watts: 211, // "Max Graphics Package Power (W)": "211.0"
        gpu_sm_clock_mhz: 500, // "sclk clock speed:": "(500Mhz)"
        gpu_graphics_clock_mhz: 500,
        gpu_memory_clock_mhz: 96, // "mclk clock speed:": "(96Mhz)"
      }),
    );
  });

  test('ROCm 6.1.2 (RX 6700 XT): capitalised keys, Device Name, and memory activity under its new name', () => {
    const [sample] = parse(read('rx6700xt_rocm612.json')).samples;
    assert.deepEqual(
      sample,
      expected({
        gpu_index: 0, // "card0"
        uuid: 'AMD-amd-node-0000:07:00.0', // "Unique ID": "N/A", "PCI Bus": "0000:07:00.0"
        model: 'Navi 22 [Radeon RX 6700/6700 XT / 6800M]', // "Device Name" (also "Card Series")
        pci_bus_id: '0000:07:00.0',
        driver_version: '6.3.6', // system "Driver version"
        vbios_version: '113-67XA6SSB1-D01', // "VBIOS version" (line 10)
        gpu_utilization_percent: 0, // "GPU use (%)": "0"
        gpu_memory_utilization_percent: 0, // "GPU Memory Read/Write Activity (%)": "0" (not "Allocated (VRAM%)": "12")
        gpu_memory_total_bytes: 12868124672, // "VRAM Total Memory (B)"
        gpu_memory_used_bytes: 1572745216, // "VRAM Total Used Memory (B)": "1572745216"
        gpu_memory_free_bytes: 11295379456, // 12868124672 - 1572745216
        gpu_temperature_celsius: 45, // "Temperature (Sensor edge) (C)": "45.0"
        gpu_hotspot_temperature_celsius: 47, // "Temperature (Sensor junction) (C)": "47.0" (line 12)
        gpu_memory_temperature_celsius: 46, // "Temperature (Sensor memory) (C)": "46.0"
        gpu_power_draw_watts: 6, // "Average Graphics Package Power (W)": "6.0"
        gpu_power_limit_watts: 211, // "Max Graphics Package Power (W)": "211.0"
        gpu_sm_clock_mhz: 0, // "sclk clock speed:": "(0Mhz)": a real reading of 0, kept
        gpu_graphics_clock_mhz: 0,
        gpu_memory_clock_mhz: 96, // "mclk clock speed:": "(96Mhz)"
      }),
    );
  });

  test('Vega 10 XT (driver 5.9.25): the UUID comes from Unique ID, the fan is read, no Card series key', () => {
    const [sample] = parse(read('vega-10-XT.json')).samples;
    assert.deepEqual(
      sample,
      expected({
        gpu_index: 0, // "card0"
        uuid: 'AMD-2150e7d042a1124', // "Unique ID": "0x2150e7d042a1124"
        model: 'AMD GPU 0x6861', // no "Card series"; "Card model": "0xc1e" is an id; "GPU ID": "0x6861"
        pci_bus_id: '0000:04:00.0', // "PCI Bus": "0000:04:00.0"
        driver_version: '5.9.25', // system "Driver version": "5.9.25"
        vbios_version: '113-D0510100-106', // "VBIOS version" (line 5)
        gpu_utilization_percent: 0, // "GPU use (%)": "0"
        gpu_memory_utilization_percent: null, // no "GPU memory use (%)" key
        gpu_memory_total_bytes: 17163091968, // "VRAM Total Memory (B)": "17163091968"
        gpu_memory_used_bytes: 17776640, // "VRAM Total Used Memory (B)": "17776640"
        gpu_memory_free_bytes: 17145315328, // 17163091968 - 17776640
        gpu_temperature_celsius: 39, // "Temperature (Sensor edge) (C)": "39.0"
        gpu_hotspot_temperature_celsius: 40, // "Temperature (Sensor junction) (C)": "40.0" (line 7)
        gpu_memory_temperature_celsius: 92, // "Temperature (Sensor memory) (C)": "92.0"
        gpu_power_draw_watts: 15, // "Average Graphics Package Power (W)": "15.0"
        gpu_power_limit_watts: 170, // "Max Graphics Package Power (W)": "170.0"
        gpu_sm_clock_mhz: 1269, // "sclk clock speed:": "(1269Mhz)"
        gpu_graphics_clock_mhz: 1269,
        gpu_memory_clock_mhz: 167, // "mclk clock speed:": "(167Mhz)"
        gpu_fan_speed_percent: 13, // "Fan speed (%)": "13"
      }),
    );
  });

  test('ROCm 5.7.1 (6x MI100): cards come in order and card3 reads its own values', () => {
    const result = parse(read('mi100_rocm571.json'));
    assert.deepEqual(
      result.samples.map((s) => s.gpu_index),
      [0, 1, 2, 3, 4, 5],
    );
    assert.equal(new Set(result.samples.map((s) => s.uuid)).size, 6);
    assert.deepEqual(
      result.samples[3],
      expected({
        gpu_index: 3, // "card3" (line 243)
        uuid: 'AMD-amd-node-0000:43:00.0', // "Unique ID": "N/A", "PCI Bus": "0000:43:00.0" (line 288)
        model: 'Arcturus GL-XL [Instinct MI100]', // "Card series" (line 316)
        pci_bus_id: '0000:43:00.0',
        driver_version: '6.2.4', // system "Driver version": "6.2.4" (line 484)
        vbios_version: '113-D3430400-037', // "VBIOS version" (line 246)
        gpu_utilization_percent: 0, // "GPU use (%)": "0" (281)
        gpu_memory_utilization_percent: 0, // "GPU memory use (%)": "0" (282)
        gpu_memory_total_bytes: 34342961152, // "VRAM Total Memory (B)" (289)
        gpu_memory_used_bytes: 6782976, // "VRAM Total Used Memory (B)" (290)
        gpu_memory_free_bytes: 34336178176, // 34342961152 - 6782976
        gpu_temperature_celsius: 33, // "Temperature (Sensor edge) (C)": "33.0" (247)
        gpu_hotspot_temperature_celsius: 35, // "Temperature (Sensor junction) (C)": "35.0" (248)
        gpu_memory_temperature_celsius: 36, // "Temperature (Sensor memory) (C)": "36.0" (249)
        gpu_power_draw_watts: 39, // "Average Graphics Package Power (W)": "39.0" (264)
        gpu_power_limit_watts: 290, // "Max Graphics Package Power (W)": "290.0" (263)
        gpu_sm_clock_mhz: 300, // "sclk clock speed:": "(300Mhz)" (254)
        gpu_graphics_clock_mhz: 300,
        gpu_memory_clock_mhz: 1200, // "mclk clock speed:": "(1200Mhz)" (252)
      }),
    );
    assert.deepEqual(result.devices[3], {
      uuid: 'AMD-amd-node-0000:43:00.0',
      index: 3,
      model: 'Arcturus GL-XL [Instinct MI100]',
      pciBusId: '0000:43:00.0',
      serial: null, // "Serial Number": "0" (286)
      vbiosVersion: '113-D3430400-037', // "VBIOS version" (246)
      driverVersion: '6.2.4',
      parentUuid: null,
      migProfile: null,
    });
  });
});

describe('parseRocmSmiJson on variations of the format', () => {
  const card = (fields: Record<string, string>) =>
    JSON.stringify({
      card0: { 'PCI Bus': '0000:03:00.0', ...fields },
      system: { 'Driver version': '6.8.5' },
    });

  test('an MI300-style card without an edge sensor reports junction, and socket power when there is no average', () => {
    const [sample] = parse(
      card({
        'Temperature (Sensor edge) (C)': 'N/A',
        'Temperature (Sensor junction) (C)': '52.0',
        'Temperature (Sensor memory) (C)': '44.0',
        'Current Socket Graphics Package Power (W)': '173.0',
        'GPU Memory Allocated (VRAM%)': '37',
      }),
    ).samples;
    assert.equal(sample?.gpu_temperature_celsius, 52);
    assert.equal(sample?.gpu_hotspot_temperature_celsius, 52, 'the junction sensor is the hot spot as well');
    assert.equal(sample?.gpu_memory_temperature_celsius, 44);
    assert.equal(sample?.gpu_power_draw_watts, 173);
    assert.equal(sample?.gpu_memory_utilization_percent, null);
  });

  test('memory temperature falls back to the hottest HBM sensor, and stays null with no sensor at all', () => {
    const hbm = parse(
      card({ 'Temperature (Sensor HBM 0) (C)': '61.0', 'Temperature (Sensor HBM 1) (C)': '63.0' }),
    ).samples[0];
    assert.equal(hbm?.gpu_memory_temperature_celsius, 63);
    assert.equal(parse(card({})).samples[0]?.gpu_memory_temperature_celsius, null);
  });

  test('an energy counter in microjoules becomes joules', () => {
    const [sample] = parse(card({ 'Accumulated Energy (uJ)': '123456789000.0' })).samples;
    assert.equal(sample?.gpu_energy_joules_total, 123456.789);
  });

  test('a bad or impossible value is counted and left null, and the rest of the card is kept', () => {
    const result = parse(
      card({ 'GPU use (%)': 'busy', 'Temperature (Sensor edge) (C)': '400.0', 'Fan speed (%)': '30' }),
    );
    assert.equal(result.samples[0]?.gpu_utilization_percent, null);
    assert.equal(result.samples[0]?.gpu_temperature_celsius, null);
    assert.equal(result.samples[0]?.gpu_fan_speed_percent, 30);
    assert.deepEqual(
      result.errors.map((e) => [e.reason, e.key]),
      [
        ['bad-value', 'card0/GPU use (%)'],
        ['out-of-range', 'card0/Temperature (Sensor edge) (C)'],
      ],
    );
  });

  test('a warning printed after the JSON is tolerated and counted', () => {
    const result = parse(`${read('vega-10-XT.json')}\nWARNING: One or more commands failed\n`);
    assert.equal(result.samples.length, 1);
    assert.deepEqual(
      result.errors.map((e) => e.reason),
      ['text-around-json'],
    );
  });

  test('output that is not JSON, or not an object, gives no sample and one error', () => {
    assert.deepEqual(
      parse('ERROR: no AMD GPU').errors.map((e) => e.reason),
      ['invalid-json'],
    );
    assert.deepEqual(
      parse('[1, 2]').errors.map((e) => e.reason),
      ['not-an-object'],
    );
    assert.deepEqual(
      parse('{"card0": "N/A"}').errors.map((e) => e.reason),
      ['card-not-an-object'],
    );
  });

  test('values read as rocm-smi prints them', () => {
    assert.equal(numberValue('45.0'), 45);
    assert.equal(numberValue('(1300Mhz)'), 1300);
    assert.equal(numberValue('N/A'), null);
    assert.equal(numberValue('N/A (Secondary die)'), null);
    assert.equal(numberValue(''), null);
    assert.equal(numberValue('12 apples'), undefined);
    assert.equal(numberValue({}), undefined);
  });
});

describe('parseRocmSmiJson under fuzzing', () => {
  test('3000 mutated captures: nothing throws, every sample is valid, and damage is counted', () => {
    const seeds = FIXTURES.map(read);
    let damaged = 0;
    for (const { index, text } of fuzzCases(seeds, 3000, 7)) {
      let result: ReturnType<typeof parse>;
      try {
        result = parse(text);
      } catch (err) {
        assert.fail(`case ${index} threw: ${(err as Error).message}`);
      }
      for (const s of result.samples) parseSample(s, `case ${index}`);
      assert.equal(result.samples.length, result.devices.length);
      if (!seeds.includes(text) && result.errors.length > 0) damaged++;
      if (result.samples.length === 0 && text.trim() !== '') {
        assert.ok(
          result.errors.length > 0 || !/card\d/.test(text),
          `case ${index}: nothing read, nothing counted`,
        );
      }
    }
    assert.ok(damaged > 1000, `only ${damaged} damaged inputs were reported`);
  });
});
