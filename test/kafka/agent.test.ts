/**
 * `gpumon agent` against the real broker: it spools while Kafka is unreachable, keeps the spool across a
 * restart, and delivers everything in read order per GPU once Kafka is there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent } from '../../src/agent/agent.ts';
import { Spool } from '../../src/agent/spool.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { kafkaBootstrap } from '../../src/testing/services.ts';
import { eventually, testTransport, tsByGpu, unique } from './helpers.ts';

const spoolDir = () => mkdtempSync(join(tmpdir(), 'gpumon-agent-spool-'));

async function runAgent(
  target: ReturnType<typeof testTransport>,
  dir: string,
  ms: number,
): Promise<ReturnType<Agent['stats']>> {
  const source = new SimSource({ hosts: 1, gpusPerHost: 3, seed: 11 });
  await source.open();
  const spool = await Spool.open({ dir, maxBytes: 8 * 1024 * 1024 });
  const agent = new Agent({ source, target, spool, intervalMs: 100, retryDelayMs: 100, statsIntervalMs: 0 });
  agent.start();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return agent.stop(10_000);
}

describe('gpumon agent', () => {
  it('spools while Kafka is unreachable and, restarted, sends the spool first and everything in order', async () => {
    const bootstrap = await kafkaBootstrap();
    const dir = spoolDir();
    const names = { topic: unique('gpumon-agent'), dlqTopic: unique('gpumon-agent-dlq') };

    const offline = await runAgent(testTransport('127.0.0.1:1', names, { sendTimeoutMs: 1000 }), dir, 1500);
    assert.ok(offline.read > 0);
    assert.equal(offline.sent, 0);
    assert.equal(offline.spooled, offline.read);
    assert.equal(offline.pending, offline.read, 'everything read is on disk');

    const online = await runAgent(testTransport(bootstrap, names), dir, 1500);
    assert.equal(online.dropped, 0);
    assert.equal(online.pending, 0);
    assert.equal(online.sent, offline.read + online.read, 'the spool of the first run, then the second run');

    const consumer = testTransport(bootstrap, names);
    const got: GpuSample[] = [];
    try {
      consumer.subscribe(unique('check'), async (samples) => {
        got.push(...samples);
      });
      await eventually(() => got.length >= online.sent, `${online.sent} samples`);
      assert.equal(got.length, online.sent);
      for (const [uuid, ts] of tsByGpu(got)) {
        assert.deepEqual(
          ts,
          ts.toSorted((a, b) => a - b),
          `samples of ${uuid} in read order`,
        );
        assert.equal(new Set(ts).size, ts.length, `no duplicate of ${uuid}`);
      }
    } finally {
      await consumer.close();
    }
  });

  it('prints the samples read, sent, spooled and dropped when it gets SIGINT, and exits 0', async () => {
    const bootstrap = await kafkaBootstrap();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('run-agent.ts', import.meta.url)),
        '--brokers',
        bootstrap,
        '--topic',
        unique('gpumon-agent-cli'),
        '--source',
        'sim',
        '--spool',
        spoolDir(),
      ],
      { env: { ...process.env, GPUMON_SOURCE_INTERVAL_MS: '100', GPUMON_LOG_LEVEL: 'warn' }, stdio: 'pipe' },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await eventually(() => out.includes('Ctrl-C to stop'), 'the agent to start', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.kill('SIGINT');
    assert.equal(await exited, 0, out);
    const m = /(\d+) samples read, (\d+) sent, (\d+) spooled, (\d+) dropped, (\d+) left in the spool/.exec(
      out,
    );
    assert.ok(m, out);
    const [read, sent, , dropped, left] = m.slice(1).map(Number);
    assert.ok((read ?? 0) > 0);
    assert.equal(sent, read);
    assert.equal(dropped, 0);
    assert.equal(left, 0);
  });

  it('exits 2 naming the key when a flag is bad', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('run-agent.ts', import.meta.url)),
        '--brokers',
        'not a broker',
      ],
      { stdio: 'pipe' },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 2);
    assert.match(err, /kafka\.brokers/);
  });
});
