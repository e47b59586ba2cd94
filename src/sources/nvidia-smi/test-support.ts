import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { GpuSample } from '../../metrics/sample.ts';

export const MiB = 1024 ** 2;
export const TESTDATA = new URL('./testdata/', import.meta.url);

/** A capture of testdata/, as text. */
export function testdata(name: string): string {
  return readFileSync(new URL(name, TESTDATA), 'utf8');
}

/** Compares a sample with the expected one field by field, so a failure names the field. */
export function assertSample(actual: GpuSample | undefined, expected: GpuSample): void {
  assert.ok(actual, 'no sample');
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), 'the same fields');
  for (const key of Object.keys(expected) as (keyof GpuSample)[]) {
    assert.equal(actual[key], expected[key], `field ${key}`);
  }
}

/** `nvidia-smi -L` of the A100 535 capture's GPU with two of its MIG instances (written for the tests). */
export const A100_MIG_LIST =
  'GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-513536b6-7d19-9063-b049-1e69664bb298)\n' +
  '  MIG 1g.20gb     Device  0: (UUID: MIG-aaaaaaaa-0000-0000-0000-000000000000)\n' +
  '  MIG 1g.20gb     Device  1: (UUID: MIG-bbbbbbbb-0000-0000-0000-000000000000)\n';

/**
 * The A100 535 MIG capture (no process running) edited to hold two: pid 4242 in GPU instance 3 / compute
 * instance 0 (its MIG device 0) and pid 7 with no instance (N/A, as outside MIG).
 */
export function a100WithMigProcesses(): string {
  const process = (gi: string, ci: string, pid: number, name: string, mib: number) =>
    `<process_info><gpu_instance_id>${gi}</gpu_instance_id><compute_instance_id>${ci}</compute_instance_id>` +
    `<pid>${pid}</pid><type>C</type><process_name>${name}</process_name><used_memory>${mib} MiB</used_memory></process_info>`;
  const capture = testdata('a100-sxm4-80gb-x4-mig-driver-535.54.03.xml');
  const edited = capture.replace(
    /<processes\s*\/>/,
    `<processes>${process('3', '0', 4242, 'python train.py', 1024)}${process('N/A', 'N/A', 7, 'nvidia-persistenced', 0)}</processes>`,
  );
  assert.notEqual(edited, capture, 'the capture has an empty <processes />');
  return edited;
}

/**
 * The RTX 3090 590 XML capture edited the way 610 prints its root (no public 610 XML exists): the four
 * version lines of the real 610 capture's `nvidia-smi -q` (capture__...__610.57.04.txt, lines 2033-2036),
 * each under the element name nvidia-smi gives it (`KMD Version` -> `<kmd_version>`).
 */
export function rtx3090As610(): string {
  const capture = testdata('rtx-3090-driver-590.44.01.xml');
  const edited = capture
    .replace(
      '<driver_version>590.44.01</driver_version>',
      '<driver_version>610.57.04 [Deprecated; will be removed in CUDA 14.0. Use KMD Version instead]</driver_version>\n\t<kmd_version>610.57.04</kmd_version>',
    )
    .replace(
      /<cuda_version>[^<]*<\/cuda_version>/,
      '<cuda_version>13.3 [Deprecated; will be removed in CUDA 14.0. Use CUDA UMD Version instead]</cuda_version>\n\t<cuda_umd_version>13.3</cuda_umd_version>',
    );
  assert.match(edited, /<kmd_version>610\.57\.04<\/kmd_version>/);
  assert.match(edited, /<cuda_umd_version>13\.3<\/cuda_umd_version>/);
  return edited;
}
