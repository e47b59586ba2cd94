import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FIRST_READ, HostReader } from './host-reader.ts';
import { readCpuTemperature } from './hwmon.ts';
import { parseCpuTimes, parseMeminfo, utilizationBetween } from './proc.ts';

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const machine = (name: string) => join(TESTDATA, name);
const KiB = 1024;

const temps: string[] = [];
async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gpumon-host-'));
  temps.push(dir);
  return dir;
}
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

/** Writes `files` (path under root -> content) into a fresh root. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await tempRoot();
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

describe('CPU temperature from hwmon, on captured trees of real machines', () => {
  test('a dual-socket Intel (node_exporter fixture): one coretemp device per package, "Physical id" labels, the max', async () => {
    const t = await readCpuTemperature(machine('node-exporter-2x-coretemp'));
    assert.equal(t.sensor, 'coretemp');
    assert.deepEqual(t.packages, [
      { device: 'hwmon0', label: 'Physical id 0', celsius: 55 },
      { device: 'hwmon1', label: 'Physical id 0', celsius: 55 },
    ]);
    assert.equal(t.celsius, 55);
    assert.deepEqual(
      t.issues,
      [],
      'hwmon devices without a name (applesmc, hwmon4) and other chips are skipped quietly',
    );
  });

  test('an Atom C3758: "Package id 0" is the package, the Core sensors are not', async () => {
    const t = await readCpuTemperature(machine('atom-c3758-coretemp'));
    assert.deepEqual(t.packages, [{ device: 'hwmon1', label: 'Package id 0', celsius: 54 }]);
    assert.equal(t.celsius, 54);
  });

  test('an EPYC 9224: k10temp Tctl, not the CCD sensors, and not the NIC or NVMe sensors', async () => {
    const t = await readCpuTemperature(machine('epyc-9224-k10temp'));
    assert.equal(t.sensor, 'k10temp');
    assert.deepEqual(t.packages, [{ device: 'hwmon3', label: 'Tctl', celsius: 34.8 }]);
    assert.equal(t.celsius, 34.8);
  });

  test('a first-generation EPYC 7351P: one k10temp device per die (four), Tdie of each, the hottest die', async () => {
    const t = await readCpuTemperature(machine('epyc-7351p-k10temp-4-dies'));
    assert.equal(t.sensor, 'k10temp');
    assert.deepEqual(t.packages, [
      { device: 'hwmon0', label: 'Tdie', celsius: 39.8 },
      { device: 'hwmon1', label: 'Tdie', celsius: 44.2 },
      { device: 'hwmon3', label: 'Tdie', celsius: 44.2 },
      { device: 'hwmon4', label: 'Tdie', celsius: 40.4 },
    ]);
    assert.equal(t.celsius, 44.2);
  });

  test('an EPYC 7252 on an older kernel: k10temp labels nothing, temp1 is Tctl', async () => {
    const t = await readCpuTemperature(machine('epyc-7252-k10temp-no-label'));
    assert.deepEqual(t.packages, [{ device: 'hwmon0', label: 'temp1', celsius: 58 }]);
  });

  test('a Ryzen with zenpower3: Tdie (the die, without the fan-control offset) rather than Tctl', async () => {
    const t = await readCpuTemperature(machine('ryzen-zenpower3'));
    assert.equal(t.sensor, 'zenpower');
    assert.deepEqual(t.packages, [{ device: 'hwmon0', label: 'Tdie', celsius: 43 }]);
  });

  test('an i3-5010U laptop with acpitz beside coretemp (cockpit#19068, grep -r capture): coretemp wins, acpitz is not read', async () => {
    const t = await readCpuTemperature(machine('cockpit-19068-i3-5010u-acpitz-coretemp'));
    assert.equal(t.sensor, 'coretemp');
    // hwmon1/temp1_label "Package id 0", temp1_input 37000; hwmon0 (acpitz) temp1_input 27800 is not a package
    assert.deepEqual(t.packages, [{ device: 'hwmon1', label: 'Package id 0', celsius: 37 }]);
    assert.equal(t.celsius, 37);
    assert.deepEqual(
      t.issues,
      [],
      'the iwlwifi_1 device (a name, no readable temperature) is skipped quietly',
    );
  });

  test('a Ryzen with two CCDs (barista#247, real cat capture): k10temp Tdie over Tctl and the CCDs, not the amdgpu sensors', async () => {
    const t = await readCpuTemperature(machine('barista-247-ryzen-k10temp-2-ccd-amdgpu'));
    assert.equal(t.sensor, 'k10temp');
    // temp2_label "Tdie", temp2_input 43875 (Tctl the same here: no offset); Tccd1/2 32250; amdgpu mem 42000
    assert.deepEqual(t.packages, [{ device: 'hwmon0', label: 'Tdie', celsius: 43.875 }]);
    assert.equal(t.celsius, 43.875);
  });

  test('an Intel NUC whose kernel has no coretemp (home-assistant#64460): acpitz is the last resort, every zone, the max', async () => {
    const t = await readCpuTemperature(machine('home-assistant-64460-nuc-dc3217iye-acpitz-only'));
    assert.equal(t.sensor, 'acpitz');
    assert.deepEqual(t.packages, [
      { device: 'hwmon0', label: 'temp1', celsius: 27.8 }, // thermal_zone0 (acpitz) 27800
      { device: 'hwmon0', label: 'temp2', celsius: 29.8 }, // thermal_zone1 (acpitz) 29800
    ]);
    // The rule's answer, and a limit of it: thermal_zone2 (x86_pkg_temp, the package) read 66000 on that machine.
    assert.equal(t.celsius, 29.8);
    assert.equal(t.absent, false);
  });

  test('an Orange Pi 5 (RK3588, cockpit#18799): eight thermal hwmon devices, none of the four CPU drivers: null, absent, no failure', async () => {
    const t = await readCpuTemperature(machine('cockpit-18799-orange-pi-5-rk3588-no-cpu-chip'));
    assert.equal(t.celsius, null);
    assert.equal(t.sensor, null);
    assert.deepEqual(t.packages, []);
    assert.equal(t.absent, true);
    assert.match(t.issues.join(), /no coretemp\/k10temp\/zenpower\/acpitz among 8 hwmon devices/);
  });

  test('a VM without /sys/class/hwmon: null, saying the tree is missing', async () => {
    const t = await readCpuTemperature(machine('build-vm-2vcpu-no-hwmon'));
    assert.equal(t.celsius, null);
    assert.equal(t.sensor, null);
    assert.match(t.issues.join(), /sys\/class\/hwmon: missing/);
    assert.equal(t.absent, true);
  });
});

describe('CPU temperature: preference and bad input', () => {
  test('coretemp is preferred over acpitz, and acpitz (every zone, the max) is the last resort', async () => {
    const both = await tree({
      'sys/class/hwmon/hwmon0/name': 'acpitz\n',
      'sys/class/hwmon/hwmon0/temp1_input': '16000\n',
      'sys/class/hwmon/hwmon1/name': 'coretemp\n',
      'sys/class/hwmon/hwmon1/temp1_label': 'Package id 0\n',
      'sys/class/hwmon/hwmon1/temp1_input': '48000\n',
    });
    assert.equal((await readCpuTemperature(both)).celsius, 48);
    const acpi = await tree({
      'sys/class/hwmon/hwmon0/name': 'acpitz\n',
      'sys/class/hwmon/hwmon0/temp1_input': '27800\n',
      'sys/class/hwmon/hwmon0/temp2_input': '29800\n',
      'sys/class/hwmon/hwmon1/name': 'nvme\n',
      'sys/class/hwmon/hwmon1/temp1_input': '41850\n',
    });
    const t = await readCpuTemperature(acpi);
    assert.equal(t.sensor, 'acpitz');
    assert.equal(t.celsius, 29.8);
  });

  test('a machine with hwmon but no CPU sensor: null, naming what was looked for', async () => {
    const t = await readCpuTemperature(
      await tree({
        'sys/class/hwmon/hwmon0/name': 'nvme\n',
        'sys/class/hwmon/hwmon0/temp1_input': '30000\n',
      }),
    );
    assert.equal(t.celsius, null);
    assert.match(t.issues.join(), /no coretemp\/k10temp\/zenpower\/acpitz among 1 hwmon devices/);
  });

  test('garbage, an implausible value and an unreadable file are skipped with a reason; a good package still counts', async () => {
    const root = await tree({
      'sys/class/hwmon/hwmon0/name': 'coretemp\n',
      'sys/class/hwmon/hwmon0/temp1_label': 'Package id 0\n',
      'sys/class/hwmon/hwmon0/temp1_input': 'N/A\n',
      'sys/class/hwmon/hwmon1/name': 'coretemp\n',
      'sys/class/hwmon/hwmon1/temp1_label': 'Package id 1\n',
      'sys/class/hwmon/hwmon1/temp1_input': '-273150\n',
      'sys/class/hwmon/hwmon2/name': 'coretemp\n',
      'sys/class/hwmon/hwmon2/temp1_label': 'Package id 2\n',
      'sys/class/hwmon/hwmon2/temp1_input': '61000\n',
    });
    // A sensor that fails in the driver reads as an I/O error: a directory in its place reads as EISDIR.
    await mkdir(join(root, 'sys/class/hwmon/hwmon3/temp1_input'), { recursive: true });
    await writeFile(join(root, 'sys/class/hwmon/hwmon3/name'), 'coretemp\n');
    await writeFile(join(root, 'sys/class/hwmon/hwmon3/temp1_label'), 'Package id 3\n');
    const t = await readCpuTemperature(root);
    assert.equal(t.celsius, 61);
    assert.equal(t.absent, false);
    assert.deepEqual(
      t.packages.map((p) => p.label),
      ['Package id 2'],
    );
    const issues = t.issues.join('\n');
    assert.match(issues, /hwmon0\/temp1_input: not a temperature: "N\/A"/);
    assert.match(issues, /hwmon1\/temp1_input: implausible: -273.15 °C/);
    assert.match(issues, /hwmon3\/temp1_input: unreadable/);
  });

  test('a coretemp device with only Core sensors has no package: null with the labels it had', async () => {
    const t = await readCpuTemperature(
      await tree({
        'sys/class/hwmon/hwmon0/name': 'coretemp\n',
        'sys/class/hwmon/hwmon0/temp2_label': 'Core 0\n',
        'sys/class/hwmon/hwmon0/temp2_input': '50000\n',
      }),
    );
    assert.equal(t.celsius, null);
    assert.match(t.issues.join(), /no package sensor among Core 0/);
  });
});

describe('/proc/stat and /proc/meminfo', () => {
  test('utilization is null on the first read (never 0), then the busy share between reads (the build VM, saturated)', async () => {
    const vm = machine('build-vm-2vcpu-no-hwmon');
    const root = await tempRoot();
    await mkdir(join(root, 'proc'));
    await copyFile(join(vm, 'proc/meminfo'), join(root, 'proc/meminfo'));
    await copyFile(join(vm, 'proc/stat'), join(root, 'proc/stat'));
    const reader = new HostReader({ root });
    const first = await reader.read();
    assert.equal(first.metrics.host_cpu_utilization_percent, null);
    assert.equal(first.issues.host_cpu_utilization_percent, FIRST_READ);
    await copyFile(join(vm, 'later/proc/stat'), join(root, 'proc/stat'));
    const second = await reader.read();
    // 2 s later: user +374, system +28, steal +4 ticks, idle and iowait +0.
    assert.equal(second.metrics.host_cpu_utilization_percent, 100);
    assert.equal(second.issues.host_cpu_utilization_percent, undefined);
  });

  test('memory: used = MemTotal - MemAvailable, in bytes (the build VM)', async () => {
    const r = await new HostReader({ root: machine('build-vm-2vcpu-no-hwmon') }).read();
    assert.equal(r.metrics.host_memory_total_bytes, 24_683_772 * KiB);
    assert.equal(r.metrics.host_memory_used_bytes, (24_683_772 - 21_146_820) * KiB);
    assert.equal(r.issues.host_memory_used_bytes, undefined);
  });

  test('a kernel before 3.14 has no MemAvailable: free + buffers + cached + reclaimable slab stands for it (node_exporter fixture)', async () => {
    const r = await new HostReader({ root: machine('node-exporter-2x-coretemp') }).read();
    assert.equal(r.metrics.host_memory_total_bytes, 3_742_148 * KiB);
    assert.equal(r.metrics.host_memory_used_bytes, (3_742_148 - 225_472 - 22_040 - 930_888 - 44_772) * KiB);
    assert.match(r.issues.host_memory_used_bytes ?? '', /no MemAvailable .* estimated/);
    assert.equal(r.metrics.host_cpu_temperature_celsius, 55);
    assert.deepEqual(r.cpuPackages.length, 2);
  });

  test('a tree without /proc: every /proc figure null with "missing", the temperature still read (EPYC 9224)', async () => {
    const r = await new HostReader({ root: machine('epyc-9224-k10temp') }).read();
    assert.deepEqual(r.metrics, {
      host_cpu_temperature_celsius: 34.8,
      host_cpu_utilization_percent: null,
      host_memory_used_bytes: null,
      host_memory_total_bytes: null,
    });
    assert.match(r.issues.host_cpu_utilization_percent ?? '', /proc\/stat: missing/);
    assert.match(r.issues.host_memory_total_bytes ?? '', /proc\/meminfo: missing/);
    assert.deepEqual(r.absent, [
      'host_cpu_utilization_percent',
      'host_memory_used_bytes',
      'host_memory_total_bytes',
    ]);
  });

  test('an unreadable /proc file (an I/O error: here a directory in its place) is null with the error code', async () => {
    const root = await tempRoot();
    await cp(join(machine('build-vm-2vcpu-no-hwmon'), 'proc'), join(root, 'proc'), { recursive: true });
    await rm(join(root, 'proc/meminfo'));
    await mkdir(join(root, 'proc/meminfo'));
    const r = await new HostReader({ root }).read();
    assert.equal(r.metrics.host_memory_used_bytes, null);
    assert.equal(r.metrics.host_memory_total_bytes, null);
    assert.match(r.issues.host_memory_used_bytes ?? '', /proc\/meminfo: EISDIR/);
    assert.deepEqual(r.absent, ['host_cpu_temperature_celsius'], 'an I/O error is a failure, not an absence');
  });

  test('garbage in /proc/stat and /proc/meminfo is a reason, never a number', () => {
    assert.equal(parseCpuTimes('intr 1 2 3\n'), 'no "cpu" line');
    assert.match(String(parseCpuTimes('cpu  12 x 3 4\n')), /not counters/);
    assert.match(String(parseCpuTimes('cpu  12 3\n')), /2 fields, expected at least 4/);
    assert.equal(parseMeminfo('MemFree: 10 kB\n'), 'no MemTotal');
    assert.equal(parseMeminfo('MemTotal: 0 kB\nMemAvailable: 0 kB\n'), 'MemTotal is 0');
    assert.match(String(parseMeminfo('MemTotal: 10 kB\nMemAvailable: 20 kB\n')), /exceeds MemTotal/);
    assert.equal(parseMeminfo('MemTotal: 10 kB\n'), 'neither MemAvailable nor MemFree');
  });

  test('counters that go back (a CPU taken offline) or do not move give no utilization', () => {
    const a = { busy: 100, total: 1000 };
    assert.equal(utilizationBetween(a, { busy: 90, total: 900 }), 'the CPU counters went back');
    assert.equal(utilizationBetween(a, a), 'no CPU time passed between two reads');
    assert.equal(utilizationBetween(a, { busy: 150, total: 1200 }), 25);
  });

  test('a /proc/stat that turns to garbage resets the interval: the next good read is a first read again', async () => {
    const vm = machine('build-vm-2vcpu-no-hwmon');
    const root = await tempRoot();
    await mkdir(join(root, 'proc'));
    await copyFile(join(vm, 'proc/stat'), join(root, 'proc/stat'));
    const reader = new HostReader({ root });
    await reader.read();
    await writeFile(join(root, 'proc/stat'), 'garbage\n');
    const bad = await reader.read();
    assert.equal(bad.metrics.host_cpu_utilization_percent, null);
    assert.match(bad.issues.host_cpu_utilization_percent ?? '', /no "cpu" line/);
    await copyFile(join(vm, 'later/proc/stat'), join(root, 'proc/stat'));
    assert.equal((await reader.read()).issues.host_cpu_utilization_percent, FIRST_READ);
  });
});
