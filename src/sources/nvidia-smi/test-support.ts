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
