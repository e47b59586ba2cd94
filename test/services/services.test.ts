/**
 * Smoke tests of the real services the tests use (docs/services.md): InfluxDB 1.x and Apache Kafka 4 (KRaft),
 * started by scripts/services/all.sh. They fail, never skip, when a service is missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  influxQuery,
  influxUrl,
  influxWrite,
  kafkaApiVersions,
  kafkaBootstrap,
} from '../../src/testing/services.ts';
import { ROOT } from '../e2e/helpers.ts';

const run = promisify(execFile);
const unique = () => randomUUID().replaceAll('-', '').slice(0, 12);

describe('InfluxDB 1.x', () => {
  it('answers /ping with its version', async () => {
    const url = await influxUrl();
    const res = await fetch(`${url}/ping`);
    assert.equal(res.status, 204);
    assert.match(res.headers.get('x-influxdb-version') ?? '', /^1\./);
  });

  it('stores line protocol written to /write and returns the exact values to InfluxQL on /query', async () => {
    const url = await influxUrl();
    const db = `gpumon_smoke_${unique()}`;
    await influxQuery(url, `CREATE DATABASE "${db}"`);
    try {
      const t0 = Date.UTC(2026, 10, 20, 12, 0, 0);
      await influxWrite(
        url,
        db,
        [
          `gpu,host=node-1,gpu=0 util=71.5,mem_used=34359738368i,throttled=false,model="H100 SXM" ${t0}`,
          `gpu,host=node-1,gpu=1 util=12.25,mem_used=1073741824i,throttled=true,model="H100 SXM" ${t0}`,
          `gpu,host=node-1,gpu=0 util=80.5,mem_used=34359738369i,throttled=false,model="H100 SXM" ${t0 + 1000}`,
        ].join('\n'),
      );

      const [all] = await influxQuery(
        url,
        'SELECT "util", "mem_used", "throttled", "model" FROM "gpu" WHERE "gpu" = \'0\' ORDER BY time',
        db,
      );
      assert.deepEqual(all?.series, [
        {
          name: 'gpu',
          columns: ['time', 'util', 'mem_used', 'throttled', 'model'],
          values: [
            [t0, 71.5, 34359738368, false, 'H100 SXM'],
            [t0 + 1000, 80.5, 34359738369, false, 'H100 SXM'],
          ],
        },
      ]);

      const [byGpu] = await influxQuery(
        url,
        'SELECT mean("util"), count("util") FROM "gpu" GROUP BY "gpu"',
        db,
      );
      assert.deepEqual(
        byGpu?.series?.map((s) => [s.tags, s.values]),
        [
          [{ gpu: '0' }, [[0, 76, 2]]],
          [{ gpu: '1' }, [[0, 12.25, 1]]],
        ],
      );

      const [tags] = await influxQuery(url, 'SHOW TAG VALUES FROM "gpu" WITH KEY = "host"', db);
      assert.deepEqual(tags?.series?.[0]?.values, [['host', 'node-1']]);
    } finally {
      await influxQuery(url, `DROP DATABASE "${db}"`);
    }
  });
});

describe('Apache Kafka 4 (KRaft)', () => {
  it('answers ApiVersions over a raw TCP socket with the produce, fetch and group APIs', async () => {
    const bootstrap = await kafkaBootstrap();
    const apis = new Map((await kafkaApiVersions(bootstrap)).map((a) => [a.apiKey, a]));
    // Produce 0, Fetch 1, ListOffsets 2, Metadata 3, OffsetCommit 8, OffsetFetch 9, FindCoordinator 10,
    // JoinGroup 11, InitProducerId 22, CreateTopics 19, ApiVersions 18
    for (const key of [0, 1, 2, 3, 8, 9, 10, 11, 18, 19, 22])
      assert.ok(apis.has(key), `api key ${key} missing`);
    // Kafka 4 dropped produce versions < 3 (KIP-896) and supports v9+ (flexible versions)
    assert.ok((apis.get(0)?.maxVersion ?? 0) >= 9);
  });

  it('creates a topic, produces (acks=all, idempotent, lz4) and consumes it in a group that commits', async () => {
    const bootstrap = await kafkaBootstrap();
    const topic = `gpumon-smoke-${unique()}`;
    const count = 25;
    // Kafka's own Java clients (kafka-clients from the broker's jars): scripts/services/kafka/KafkaCheck.java
    const { stdout } = await run(
      join(ROOT, 'scripts/services/kafka.sh'),
      ['check', 'roundtrip', bootstrap, topic, String(count)],
      { timeout: 120_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      topic: string;
      lastOffset: number;
      committed: number;
      consumed: string[];
    };
    assert.deepEqual(result, {
      topic,
      lastOffset: count - 1,
      committed: count,
      consumed: Array.from({ length: count }, (_, i) => `k${i}=v${i}`),
    });
  });
});
