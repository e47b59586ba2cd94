import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runGpumon, tempDir } from '../e2e/helpers.ts';

describe('prometheus.names', () => {
  it('gpumon agent refuses an unknown value with status 2, naming the key and the values it takes', async () => {
    const { code, stderr } = await runGpumon(
      [
        'agent',
        '--source',
        'sim',
        '--brokers',
        '127.0.0.1:1',
        '--spool',
        tempDir('names-spool'),
        '--prometheus-names',
        'prom',
      ],
      { GPUMON_LOG_LEVEL: 'error' },
    );
    assert.equal(code, 2, stderr);
    assert.match(stderr, /prometheus\.names/);
    assert.match(stderr, /both \| gpumon \| dcgm/);
  });
});
