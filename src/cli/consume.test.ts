import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runGpumon } from '../../test/e2e/helpers.ts';

describe('gpumon consume', () => {
  it('exits 2 naming --sinks when it lists a sink that does not exist', async () => {
    const result = await runGpumon(['consume', '--sinks', 'influxdb,grafana']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--sinks must list influxdb and\/or archive, got "influxdb,grafana"/);
  });

  it('exits 2 naming kafka.brokers when the brokers are not host:port', async () => {
    const result = await runGpumon(['consume', '--brokers', 'kafka-without-port']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /kafka\.brokers .*host:port/);
  });

  it('exits 2 naming influxdb.url when it is not an http URL', async () => {
    const result = await runGpumon(['consume', '--influxdb', 'influx:8086']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /influxdb\.url/);
  });
});
