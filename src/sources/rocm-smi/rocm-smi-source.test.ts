import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isGpumonError } from '../../errors.ts';
import { parseSample } from '../../metrics/sample.ts';
import { ROCM_SMI_ARGS, RocmSmiSource, rocmSmiAvailable } from './rocm-smi-source.ts';

const testdata = (file: string) => fileURLToPath(new URL(`./testdata/${file}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gpumon-rocm-smi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Mode = 'ok' | 'warn' | 'fail' | 'garbage' | 'hang';
let scripts = 0;

/** An executable `rocm-smi` that runs testdata/fake-rocm-smi.sh in the given mode; returns its path. */
function fakeRocmSmi(mode: Mode, fixture = 'mi100_rocm571.json'): { path: string; argsFile: string } {
  const n = scripts++;
  const path = join(dir, `rocm-smi-${n}`);
  const argsFile = join(dir, `args-${n}`);
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      `export FAKE_ROCM_SMI_MODE='${mode}' FAKE_ROCM_SMI_FIXTURE='${testdata(fixture)}' FAKE_ROCM_SMI_ARGS_FILE='${argsFile}'`,
      `exec /bin/sh '${testdata('fake-rocm-smi.sh')}' "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  return { path, argsFile };
}

const T = 1_718_000_000_000;

describe('RocmSmiSource', () => {
  test('a read runs rocm-smi with the show flags and --json and returns one valid sample per card', async () => {
    const { path, argsFile } = fakeRocmSmi('ok');
    const source = new RocmSmiSource({ path, host: 'amd-node' });
    await source.open();
    const samples = await source.read(T);
    assert.deepEqual(readFileSync(argsFile, 'utf8').trim().split('\n'), ROCM_SMI_ARGS);
    assert.equal(samples.length, 6);
    for (const s of samples) {
      parseSample(s);
      assert.equal(s.ts, T);
      assert.equal(s.host, 'amd-node');
    }
    assert.equal(source.devices().length, 6);
    const health = source.health();
    assert.equal(health.source, 'rocm-smi');
    assert.equal(health.lastSuccessMs, T);
    assert.deepEqual(health.errors, {});
    assert.equal(health.notice, null);
    await source.close();
  });

  test('every read runs rocm-smi again (it has no loop mode)', async () => {
    const { path } = fakeRocmSmi('ok', 'vega-10-XT.json');
    const source = new RocmSmiSource({ path, host: 'amd-node' });
    const first = await source.read(T);
    const second = await source.read(T + 1000);
    assert.equal(first[0]?.ts, T);
    assert.equal(second[0]?.ts, T + 1000);
    assert.equal(source.health().lastSuccessMs, T + 1000);
  });

  test('an empty host option means this machine', async () => {
    const { path } = fakeRocmSmi('ok', 'vega-10-XT.json');
    const [sample] = await new RocmSmiSource({ path, host: '' }).read(T);
    assert.ok((sample?.host.length ?? 0) > 0);
  });

  test('a non-zero exit that still prints JSON keeps the samples and counts the exit status', async () => {
    const { path } = fakeRocmSmi('warn', 'vega-20-WKS-GL-XE.json');
    const source = new RocmSmiSource({ path, host: 'amd-node' });
    const samples = await source.read(T);
    assert.equal(samples.length, 1);
    assert.deepEqual(source.health().errors, { 'exit-status': 1, 'parse:text-around-json': 1 });
  });

  test('a failing rocm-smi rejects the read with SOURCE_READ_FAILED and shows in health', async () => {
    const { path } = fakeRocmSmi('fail');
    const source = new RocmSmiSource({ path, host: 'amd-node' });
    await assert.rejects(source.read(T), (err) => isGpumonError(err, 'SOURCE_READ_FAILED'));
    const health = source.health();
    assert.equal(health.lastSuccessMs, null);
    assert.equal(health.errors['no-samples'], 1);
    assert.match(health.notice ?? '', /exit status 2: ERROR: No AMD GPUs specified/);
  });

  test('output that is not JSON is counted as a parse error and a failed read', async () => {
    const { path } = fakeRocmSmi('garbage');
    const source = new RocmSmiSource({ path, host: 'amd-node' });
    await assert.rejects(source.read(T), (err) => isGpumonError(err, 'SOURCE_READ_FAILED'));
    assert.deepEqual(source.health().errors, { 'parse:invalid-json': 1, 'no-samples': 1 });
  });

  test('a missing command is reported as spawn, naming the config key', async () => {
    const source = new RocmSmiSource({ path: join(dir, 'no-such-rocm-smi'), host: 'amd-node' });
    await assert.rejects(source.read(T), /source\.rocmSmi\.path/);
    assert.deepEqual(source.health().errors, { spawn: 1 });
  });

  test('a hanging rocm-smi is killed at the timeout, and a read during a run is refused, never overlapped', async () => {
    const { path } = fakeRocmSmi('hang');
    const source = new RocmSmiSource({ path, host: 'amd-node', timeoutMs: 400 });
    const started = performance.now();
    const first = source.read(T);
    await assert.rejects(source.read(T + 1), /still running/);
    await assert.rejects(first, /did not finish within 400 ms/);
    assert.ok(performance.now() - started < 5000);
    await source.close();
    assert.deepEqual(source.health().errors, { overlap: 1, timeout: 1 });
  });

  test('after a timed-out run has been killed, the next read runs normally', async () => {
    const hang = fakeRocmSmi('hang');
    const source = new RocmSmiSource({ path: hang.path, host: 'amd-node', timeoutMs: 300 });
    await assert.rejects(source.read(T));
    await source.close();
    // Same source object, now pointing at a working rocm-smi through the same path.
    writeFileSync(hang.path, readFileSync(fakeRocmSmi('ok', 'vega-10-XT.json').path));
    assert.equal((await source.read(T + 1000)).length, 1);
    assert.equal(source.health().notice, null);
  });
});

describe('RocmSmiSource open', () => {
  test('fails at once with SOURCE_UNAVAILABLE naming the command and the key when rocm-smi is missing', async () => {
    const missing = join(dir, 'no-rocm-smi');
    await assert.rejects(
      new RocmSmiSource({ path: missing }).open(),
      (err) =>
        isGpumonError(err, 'SOURCE_UNAVAILABLE') &&
        err.message.includes(`cannot run ${missing}: not found`) &&
        err.message.includes('source.rocmSmi.path'),
    );
    await assert.rejects(
      new RocmSmiSource({ path: 'rocm-smi-not-installed' }).open(),
      (err) =>
        isGpumonError(err, 'SOURCE_UNAVAILABLE') &&
        /rocm-smi-not-installed: not found on PATH/.test(err.message),
    );
  });

  test('fails when rocm-smi runs but lists no GPU, saying what it printed', async () => {
    await assert.rejects(
      new RocmSmiSource({ path: fakeRocmSmi('fail').path }).open(),
      (err) =>
        isGpumonError(err, 'SOURCE_UNAVAILABLE') &&
        /lists no AMD GPU \(exit status 2: ERROR: No AMD GPUs specified\)/.test(err.message),
    );
  });

  test('fails when rocm-smi does not answer within the timeout', async () => {
    await assert.rejects(
      new RocmSmiSource({ path: fakeRocmSmi('hang').path, timeoutMs: 300 }).open(),
      (err) => isGpumonError(err, 'SOURCE_UNAVAILABLE') && /did not answer within 300 ms/.test(err.message),
    );
  });
});

describe('rocmSmiAvailable', () => {
  test('is true when rocm-smi lists a card, false when it fails, hangs or is missing', async () => {
    assert.equal(await rocmSmiAvailable(fakeRocmSmi('ok').path), true);
    assert.equal(await rocmSmiAvailable(fakeRocmSmi('fail').path), false);
    assert.equal(await rocmSmiAvailable(fakeRocmSmi('hang').path, 300), false);
    assert.equal(await rocmSmiAvailable(join(dir, 'missing')), false);
  });
});
