import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isGpumonError } from '../../errors.ts';
import { type GpuSample, parseSample } from '../../metrics/sample.ts';
import { NvidiaSmiSource, type NvidiaSmiSourceOptions } from './nvidia-smi-source.ts';
import { nvidiaSmiAvailable } from './run.ts';
import { A100_MIG_LIST, a100WithMigProcesses, MiB, rtx3090As610, TESTDATA } from './test-support.ts';

const FAKE = fileURLToPath(new URL('fake-nvidia-smi.mjs', TESTDATA));
const H100 = fileURLToPath(new URL('capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt', TESTDATA));
const DRIVER_610 = fileURLToPath(
  new URL('capture__linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt', TESTDATA),
);
const A100_XML = fileURLToPath(new URL('a100-sxm4-80gb-x4-mig-driver-535.54.03.xml', TESTDATA));
const dirs: string[] = [];
const opened: NvidiaSmiSource[] = [];
after(async () => {
  for (const s of opened) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fake nvidia-smi on a path of its own, behaving as `env` says (see testdata/fake-nvidia-smi.mjs). */
function fakeSmi(env: Record<string, string> = {}): { path: string; starts: () => number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'gpumon-fake-smi-'));
  dirs.push(dir);
  const vars = { FAKE_SMI_CSV: H100, FAKE_SMI_STATE: dir, ...env };
  const exports = Object.entries(vars).map(([k, v]) => `export ${k}='${v}'`);
  const path = join(dir, 'nvidia-smi');
  writeFileSync(path, `#!/bin/sh\n${exports.join('\n')}\nexec '${process.execPath}' '${FAKE}' "$@"\n`);
  chmodSync(path, 0o755);
  const starts = () => {
    try {
      return readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n').map(Number);
    } catch {
      return [];
    }
  };
  return { path, starts };
}

/** A source on `path` with short timings; closed after the tests even when one fails. */
function source(path: string, extra: Partial<NvidiaSmiSourceOptions> = {}) {
  const smi = new NvidiaSmiSource({
    path,
    intervalMs: 50,
    host: 'test-host',
    stallMs: 400,
    backoffMs: { initial: 50, max: 200 },
    ...extra,
  });
  opened.push(smi);
  return smi;
}

/** The first read of a child just started: read again until it has printed a line (at most 5 s). */
async function readWhenFresh(smi: NvidiaSmiSource, now: number): Promise<GpuSample[]> {
  const end = Date.now() + 5000;
  for (;;) {
    try {
      return await smi.read(now);
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('NvidiaSmiSource', () => {
  test('one long-running child feeds every read; close kills it', async () => {
    const fake = fakeSmi({ FAKE_SMI_GPUS: '2' });
    // A loaded machine may take a while to start the child: no stall restart, and a first read that waits.
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    const now = Date.UTC(2026, 0, 1);
    const samples = await readWhenFresh(smi, now);
    assert.equal(samples.length, 2);
    for (const s of samples) parseSample(s);
    assert.deepEqual(
      samples.map((s) => [s.gpu_index, s.uuid, s.ts, s.host]),
      [
        [0, 'GPU-00000000-0000-0000-0000-000000000000', now, 'test-host'],
        [1, 'GPU-00000000-0000-0000-0000-000000000001', now, 'test-host'],
      ],
    );
    // From the load line of the capture, printed without units by the fake.
    assert.equal(samples[0]?.gpu_memory_used_bytes, 19818 * MiB);
    assert.equal(samples[0]?.gpu_power_draw_watts, 631.95);
    assert.equal(samples[0]?.gpu_sm_clock_mhz, 1980);
    assert.equal(samples[0]?.gpu_performance_state, 0);
    assert.equal(samples[0]?.vbios_version, '96.00.A5.00.01'); // the capture's vbios_version column
    assert.equal(samples[0]?.gpu_pcie_link_generation, 5); // pcie.link.gen.current
    assert.equal(samples[0]?.cuda_version, null, '-q -x failed here: --query-gpu has no CUDA version');
    await new Promise((r) => setTimeout(r, 300));
    await smi.read(now + 1000);
    assert.equal(fake.starts().length, 1, 'one child, not one per read');
    assert.equal(smi.health().errors.restart, undefined);
    const [pid] = fake.starts();
    await smi.close();
    assert.equal(alive(pid as number), false, 'the child is gone after close');
  });

  test('lists processes through --query-compute-apps and devices with what -q -x adds', async () => {
    const fake = fakeSmi({ FAKE_SMI_XML: A100_XML });
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    const processes = await smi.processes();
    assert.deepEqual(processes[2], {
      uuid: 'GPU-00000000-0000-0000-0000-000000000000',
      pid: 11345,
      name: './gpu_burn',
      usedMemoryBytes: 15690 * MiB,
    });
    const devices = smi.devices();
    assert.ok(
      devices.some((d) => d.serial === '1650522003820'),
      'serial from the XML',
    );
    assert.equal(devices.filter((d) => d.parentUuid !== null).length, 4, 'MIG instances with their parent');
    const [sample] = await smi.read(Date.now());
    assert.equal(sample?.cuda_version, '12.2', "the XML's <cuda_version> (line 6), on every sample");
    assert.ok(
      devices.some((d) => d.uuid === 'GPU-00000000-0000-0000-0000-000000000000'),
      'GPUs seen on the loop',
    );
    await smi.close();
  });

  test('a child that dies is restarted with backoff, and the restarts are counted', async () => {
    const fake = fakeSmi({ FAKE_SMI_DIE_AFTER: '2', FAKE_SMI_BAD_STARTS: '3' });
    // Only exits here: a stall bound far above a child's start on a loaded machine (each start is a node process).
    const smi = source(fake.path, { stallMs: 10_000 });
    await smi.open();
    await waitFor('the fourth start', () => fake.starts().length >= 4, 20_000);
    await waitFor('a line from the healthy child', () => (smi.health().errors.restart ?? 0) >= 3, 20_000);
    assert.equal(smi.health().errors.exit, 3);
    // The fourth child may take a while to print its first line on a loaded machine: read until it has.
    const end = Date.now() + 5000;
    let fresh = await smi.read(Date.now()).catch(() => []);
    while (fresh.length === 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      fresh = await smi.read(Date.now()).catch(() => []);
    }
    assert.equal(fresh.length, 1);
    await smi.close();
  });

  test('a child that stalls is killed and restarted', async () => {
    const fake = fakeSmi({ FAKE_SMI_STALL_AFTER: '1', FAKE_SMI_BAD_STARTS: '1' });
    const smi = source(fake.path, { stallMs: 1500 });
    await smi.open();
    await waitFor('a restart after the stall', () => fake.starts().length >= 2, 20_000);
    const [first] = fake.starts();
    await waitFor('the stalled child to be gone', () => !alive(first as number), 20_000);
    // The stalled child is one stall; on a loaded machine a healthy child slow to print its first line may be
    // another. Every stall is a restart, and no child exited by itself.
    const { stall = 0, restart, exit } = smi.health().errors;
    assert.ok(stall >= 1, `stalls counted: ${stall}`);
    assert.equal(restart, stall);
    assert.equal(exit ?? 0, 0);
    await smi.close();
  });

  test('a read with no fresh line rejects rather than repeating old values', async () => {
    const fake = fakeSmi({ FAKE_SMI_STALL_AFTER: '1' });
    const smi = source(fake.path, { stallMs: 60_000, staleMs: 200 });
    await smi.open();
    await new Promise((r) => setTimeout(r, 400));
    await assert.rejects(smi.read(Date.now()), (err) => isGpumonError(err, 'SOURCE_READ_FAILED'));
    assert.equal(smi.health().errors.read, 1);
    await smi.close();
  });

  test('fields the driver does not know are renamed or dropped, said once, and the child restarted', async () => {
    const fake = fakeSmi({ FAKE_SMI_REJECT: 'clocks_event_reasons.active,temperature.memory' });
    // Three children in a row before the first line: give them time on a loaded machine (open waits for the
    // first line for up to stallMs, and a read wants one within stallMs + intervalMs).
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    const [s] = await smi.read(Date.now());
    assert.equal(
      s?.gpu_clock_throttle_reasons,
      0,
      'read through the old clocks_throttle_reasons.active name',
    );
    assert.equal(s?.gpu_memory_temperature_celsius, null, 'dropped: null');
    assert.equal(s?.gpu_temperature_celsius, 59);
    assert.ok(smi.queryFields().includes('clocks_throttle_reasons.active'));
    assert.ok(!smi.queryFields().includes('temperature.memory'));
    const health = smi.health();
    assert.equal(health.errors.field_rejected, 2);
    assert.equal(health.errors.restart, 2);
    assert.match(health.notice ?? '', /does not know temperature\.memory/);
    await smi.close();
  });

  test('a driver that no longer knows driver_version (after 610) is asked for kmd_version instead', async () => {
    const fake = fakeSmi({ FAKE_SMI_CSV: DRIVER_610, FAKE_SMI_REJECT: 'driver_version' });
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    const [s] = await smi.read(Date.now());
    assert.equal(s?.driver_version, '610.57.04', 'from kmd_version');
    assert.ok(smi.queryFields().includes('kmd_version'));
    assert.ok(!smi.queryFields().includes('driver_version'));
    assert.equal(smi.health().errors.field_rejected, 1);
    await smi.close();
  });

  test('a driver that keeps driver_version but prints no version in it is asked for kmd_version too, once', async () => {
    // The 610 capture, with driver_version printed the way 610 prints its other deprecated fields
    // (line 2291: display_mode, power.management, clocks.applications.* are `[Requested functionality has been deprecated]`).
    const fake = fakeSmi({
      FAKE_SMI_CSV: DRIVER_610,
      FAKE_SMI_VALUES: JSON.stringify({ driver_version: '[Requested functionality has been deprecated]' }),
    });
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    await waitFor('the child asked for kmd_version', () => fake.starts().length === 2);
    const end = Date.now() + 5000;
    let s: GpuSample | undefined;
    while (s?.driver_version !== '610.57.04' && Date.now() < end) {
      [s] = await readWhenFresh(smi, Date.now());
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(s?.driver_version, '610.57.04', 'from kmd_version');
    assert.deepEqual(smi.queryFields().slice(4, 6), ['driver_version', 'kmd_version']);
    const [first, second] = fake.starts();
    assert.ok(first !== undefined && !alive(first), 'the first child is gone');
    assert.ok(second !== undefined && alive(second), 'its successor runs');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(fake.starts().length, 2, 'asked once, not on every line');
    assert.equal(smi.health().errors.restart, 1);
    assert.equal(smi.health().errors.field_rejected ?? 0, 0);
    await smi.close();
  });

  test('a driver before kmd_version whose driver_version holds no version: kmd_version is rejected, dropped, and not asked again', async () => {
    const fake = fakeSmi({
      FAKE_SMI_VALUES: JSON.stringify({ driver_version: '[N/A]' }),
      FAKE_SMI_REJECT: 'kmd_version',
    });
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    await waitFor('kmd_version rejected', () => (smi.health().errors.field_rejected ?? 0) === 1);
    const [s] = await readWhenFresh(smi, Date.now());
    assert.equal(s?.driver_version, null);
    assert.equal(s?.gpu_temperature_celsius, 59, 'the other values still come');
    assert.ok(!smi.queryFields().includes('kmd_version'));
    // Started loops: the first child and the one after the rejection (a rejected query exits before its loop).
    await waitFor('the child without kmd_version', () => fake.starts().length === 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(fake.starts().length, 2, 'not asked again');
    await smi.close();
  });

  test("the CUDA version comes from -q -x at open, without 610's deprecation note", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpumon-610-'));
    dirs.push(dir);
    writeFileSync(join(dir, '610.xml'), rtx3090As610());
    const fake = fakeSmi({ FAKE_SMI_CSV: DRIVER_610, FAKE_SMI_XML: join(dir, '610.xml') });
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    const [s] = await readWhenFresh(smi, Date.now());
    assert.equal(s?.cuda_version, '13.3');
    assert.equal(s?.driver_version, '610.57.04');
    await smi.close();
  });

  test('in MIG mode, processes come from -q -x with the MIG instance they run in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpumon-mig-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'list.txt'), A100_MIG_LIST);
    writeFileSync(join(dir, 'a100.xml'), a100WithMigProcesses());
    const fake = fakeSmi({ FAKE_SMI_LIST: join(dir, 'list.txt'), FAKE_SMI_XML: join(dir, 'a100.xml') });
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    const processes = await smi.processes();
    assert.deepEqual(
      processes.map((p) => [p.uuid, p.pid]),
      [
        ['MIG-aaaaaaaa-0000-0000-0000-000000000000', 4242],
        ['GPU-513536b6-7d19-9063-b049-1e69664bb298', 7],
      ],
    );
    const mig = smi.devices().find((d) => d.uuid === 'MIG-aaaaaaaa-0000-0000-0000-000000000000');
    assert.equal(mig?.parentUuid, 'GPU-513536b6-7d19-9063-b049-1e69664bb298');
    await smi.close();
  });

  test('in MIG mode, each read carries a sample per MIG instance from -q -x, after its GPU', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpumon-mig-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'list.txt'), A100_MIG_LIST);
    writeFileSync(join(dir, 'a100.xml'), readFileSync(A100_XML, 'utf8'));
    const fake = fakeSmi({ FAKE_SMI_LIST: join(dir, 'list.txt'), FAKE_SMI_XML: join(dir, 'a100.xml') });
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    const samples = await smi.read(Date.now());
    for (const s of samples) parseSample(structuredClone(s));
    const parent = 'GPU-513536b6-7d19-9063-b049-1e69664bb298';
    assert.deepEqual(
      samples
        .filter((s) => s.parent_uuid !== null)
        .map((s) => [s.uuid, s.mig_gpu_instance_id, s.gpu_memory_used_bytes]),
      [
        // -L names instances 0 and 1; the XML's four <mig_device> (GPU instances 3-6) use 12 MiB each.
        ['MIG-aaaaaaaa-0000-0000-0000-000000000000', 3, 12 * MiB],
        ['MIG-bbbbbbbb-0000-0000-0000-000000000000', 4, 12 * MiB],
        [`MIG-${parent}/5/0`, 5, 12 * MiB],
        [`MIG-${parent}/6/0`, 6, 12 * MiB],
      ],
    );
    assert.equal(samples[0]?.parent_uuid, null, 'the GPU line of --query-gpu comes first');
    assert.ok(samples.every((s) => s.host === 'test-host'));
    await smi.close();
  });

  test('in MIG mode, a failing -q -x fails processes() with SOURCE_READ_FAILED and counts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpumon-mig-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'list.txt'), A100_MIG_LIST);
    const fake = fakeSmi({ FAKE_SMI_LIST: join(dir, 'list.txt') }); // no FAKE_SMI_XML: -q -x exits 15
    const smi = source(fake.path, { stallMs: 5000 });
    await smi.open();
    await assert.rejects(smi.processes(), (err) => isGpumonError(err, 'SOURCE_READ_FAILED'));
    assert.equal(smi.health().errors.processes, 1);
    const samples = await smi.read(Date.now());
    assert.ok(
      samples.length > 0 && samples.every((s) => s.parent_uuid === null),
      'the GPUs without their instances',
    );
    await waitFor('the failed -q -x of the read counted', () => (smi.health().errors.mig ?? 0) >= 1);
    await smi.close();
  });

  test('open fails as SOURCE_UNAVAILABLE where the command does not exist', async () => {
    const smi = source('/nonexistent/nvidia-smi');
    await assert.rejects(smi.open(), (err) => isGpumonError(err, 'SOURCE_UNAVAILABLE'));
  });
});

describe('nvidiaSmiAvailable', () => {
  test('is true for a working nvidia-smi and false, without throwing, for a missing one', async () => {
    assert.equal(await nvidiaSmiAvailable(fakeSmi().path), true);
    assert.equal(await nvidiaSmiAvailable('/nonexistent/nvidia-smi'), false);
  });
});
