import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isGpumonError } from '../errors.ts';
import { closestKey, loadConfig, unknownEnvWarnings } from './load.ts';
import { envName } from './schema.ts';

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gpumon-config-')), 'gpumon.yaml');
  writeFileSync(file, text);
  return file;
}

describe('configuration', () => {
  it('defaults to the original dashboard thresholds and a 02:00 UTC schedule', () => {
    const config = loadConfig();
    assert.equal(config.alerts.highTempCelsius, 80);
    assert.equal(config.alerts.highLoadPercent, 90);
    assert.equal(config.alerts.tempSpikeCelsius, 5);
    assert.equal(config.schedule.cron, '0 2 * * *');
    assert.equal(config.schedule.timezone, 'UTC');
    assert.equal(config.source.sim.hosts * config.source.sim.gpusPerHost, 8);
  });

  it('names environment variables GPUMON_ plus the key in upper snake case', () => {
    assert.equal(envName('server.port'), 'GPUMON_SERVER_PORT');
    assert.equal(envName('source.sim.gpusPerHost'), 'GPUMON_SOURCE_SIM_GPUS_PER_HOST');
  });

  it('layers file < environment < flags', () => {
    const file = yamlFile('server:\n  port: 9001\nalerts:\n  highTempCelsius: 70\n');
    const config = loadConfig({
      file,
      env: { GPUMON_SERVER_PORT: '9002', GPUMON_ALERTS_HIGH_LOAD_PERCENT: '75' },
      flags: { 'server.port': 9003 },
    });
    assert.equal(config.server.port, 9003);
    assert.equal(config.alerts.highTempCelsius, 70);
    assert.equal(config.alerts.highLoadPercent, 75);
  });

  it("accepts the original ConfigMap's variable names", () => {
    const config = loadConfig({ env: { HIGH_TEMP_THRESHOLD: '85', TEMP_SPIKE_THRESHOLD: '3' } });
    assert.equal(config.alerts.highTempCelsius, 85);
    assert.equal(config.alerts.tempSpikeCelsius, 3);
  });

  it('rejects a value out of range, naming the key, its origin and the allowed range', () => {
    assert.throws(
      () => loadConfig({ env: { GPUMON_SERVER_PORT: '70000' } }),
      (err) =>
        isGpumonError(err, 'CONFIG_INVALID') &&
        err.message.includes('server.port') &&
        err.message.includes('GPUMON_SERVER_PORT') &&
        err.message.includes('0..65535'),
    );
  });

  it('rejects an InfluxDB compression it does not know, naming the key and the choices', () => {
    assert.throws(
      () => loadConfig({ env: { GPUMON_INFLUXDB_COMPRESSION: 'brotli' } }),
      (err) =>
        isGpumonError(err, 'CONFIG_INVALID') &&
        err.message.includes('influxdb.compression') &&
        err.message.includes('GPUMON_INFLUXDB_COMPRESSION') &&
        err.message.includes('auto | gzip | none'),
    );
    assert.equal(loadConfig().influxdb.compression, 'auto');
  });

  it('rejects a consumer group prefix Kafka would not take, naming the key and what it allows', () => {
    assert.throws(
      () => loadConfig({ env: { GPUMON_KAFKA_GROUP_PREFIX: 'prod fleet' } }),
      (err) =>
        isGpumonError(err, 'CONFIG_INVALID') &&
        err.message.includes('kafka.groupPrefix') &&
        err.message.includes('GPUMON_KAFKA_GROUP_PREFIX') &&
        err.message.includes('letters, digits, . _ -'),
    );
    assert.equal(
      loadConfig({ env: { GPUMON_KAFKA_GROUP_PREFIX: 'prod.fleet-2' } }).kafka.groupPrefix,
      'prod.fleet-2',
    );
    assert.equal(loadConfig().kafka.groupPrefix, 'gpumon');
  });

  it('rejects an alert repeat that is negative or not whole seconds, naming the key and the range', () => {
    for (const bad of ['-1', '2.5', 'often', '86401']) {
      assert.throws(
        () => loadConfig({ env: { GPUMON_ALERTS_REPEAT_SECONDS: bad } }),
        (err) =>
          isGpumonError(err, 'CONFIG_INVALID') &&
          err.message.includes('alerts.repeatSeconds') &&
          err.message.includes('integer 0..86400'),
        bad,
      );
    }
    assert.equal(loadConfig({ env: { GPUMON_ALERTS_REPEAT_SECONDS: '0' } }).alerts.repeatSeconds, 0);
    assert.equal(loadConfig().alerts.repeatSeconds, 300);
  });

  it('rejects a percentile part size that is too small or not a whole number, naming the key and the bound', () => {
    for (const bad of ['0', '999', '2.5e6x', '1500.5', 'many']) {
      assert.throws(
        () => loadConfig({ env: { GPUMON_ANALYTICS_PERCENTILE_PART_SAMPLES: bad } }),
        (err) =>
          isGpumonError(err, 'CONFIG_INVALID') &&
          err.message.includes('analytics.percentilePartSamples') &&
          err.message.includes('GPUMON_ANALYTICS_PERCENTILE_PART_SAMPLES') &&
          err.message.includes('integer >= 1000'),
        bad,
      );
    }
    assert.equal(
      loadConfig({ env: { GPUMON_ANALYTICS_PERCENTILE_PART_SAMPLES: '1000' } }).analytics
        .percentilePartSamples,
      1000,
    );
    assert.equal(loadConfig().analytics.percentilePartSamples, 50_000_000);
  });

  it('rejects an unknown key in the file and suggests the right one', () => {
    const file = yamlFile('alerts:\n  highTemp: 70\n');
    assert.throws(
      () => loadConfig({ file }),
      (err) =>
        isGpumonError(err, 'CONFIG_INVALID') &&
        /alerts\.highTemp .*did you mean alerts\.highTempCelsius/.test(err.message),
    );
  });

  it('names every unknown key of the file, each with the closest key', () => {
    const file = yamlFile('server:\n  prot: 9000\n  hots: 0.0.0.0\nalerts:\n  highTemp: 70\nbogus: 1\n');
    assert.throws(
      () => loadConfig({ file }),
      (err) =>
        isGpumonError(err, 'CONFIG_INVALID') &&
        err.message.includes('4 keys are not configuration keys') &&
        err.message.includes('server.prot (did you mean server.port?)') &&
        err.message.includes('server.hots (did you mean server.host?)') &&
        err.message.includes('alerts.highTemp (did you mean alerts.highTempCelsius?)') &&
        /bogus(;|$)/.test(err.message),
    );
  });

  it('suggests the closest key by spelling, and nothing when no key is close', () => {
    assert.equal(closestKey('schedule.timzone'), 'schedule.timezone');
    assert.equal(closestKey('ARCHIVE.PATH'), 'archive.path');
    assert.equal(closestKey('port'), 'server.port');
    assert.equal(closestKey('completely.different'), undefined);
  });

  it('says what a bad value must be without the raw validation report', () => {
    assert.throws(
      () => loadConfig({ env: { GPUMON_SERVER_PORT: 'eighty' } }),
      (err) =>
        isGpumonError(err, 'CONFIG_INVALID') &&
        err.cause === undefined &&
        !err.message.includes('"code"') &&
        err.message.includes('must be integer 0..65535'),
    );
  });

  it('names a flag with a bad value as it was typed, not by its key', () => {
    assert.throws(
      () => loadConfig({ flags: { 'server.port': '70000' }, flagNames: { 'server.port': '--port' } }),
      (err) =>
        isGpumonError(err, 'CONFIG_INVALID') &&
        err.message.includes('(from flag --port)') &&
        !err.message.includes('flag server.port'),
    );
  });

  it('warns once per load of a GPUMON_ variable that sets nothing, with the closest variable', () => {
    const warnings: string[] = [];
    const config = loadConfig({
      env: {
        GPUMON_SERVER_PROT: '9000',
        GPUMON_CONFIG: 'x.yaml',
        GPUMON_TEST_KAFKA: 'k:9092',
        HOME: '/root',
      },
      onWarning: (message) => warnings.push(message),
    });
    assert.equal(config.server.port, 8080);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0] ?? '',
      /GPUMON_SERVER_PROT is not a gpumon setting.*did you mean GPUMON_SERVER_PORT\?/,
    );
    assert.deepEqual(unknownEnvWarnings({ GPUMON_LOG_LEVEL: 'debug', GPUMON_NO_BUNDLE: '1' }), []);
    assert.doesNotMatch(unknownEnvWarnings({ GPUMON_ZZZZZZZZZZZZZZZZZ: '1' })[0] ?? '', /did you mean/);
  });

  it('rejects a bad cron expression and a bad time zone', () => {
    assert.throws(() => loadConfig({ flags: { 'schedule.cron': 'every day' } }), /schedule\.cron/);
    assert.throws(
      () => loadConfig({ flags: { 'schedule.hourlyCron': '61 * * * *' } }),
      /schedule\.hourlyCron.*"61 \* \* \* \*"/,
    );
    assert.throws(() => loadConfig({ flags: { 'schedule.timezone': 'Mars/Olympus' } }), /schedule\.timezone/);
  });

  it('accepts a named time zone, and checks UTC without loading ICU (8 MiB of the agent budget)', () => {
    assert.equal(
      loadConfig({ flags: { 'schedule.timezone': 'Europe/Paris' } }).schedule.timezone,
      'Europe/Paris',
    );
    const original = Intl.DateTimeFormat;
    Intl.DateTimeFormat = (() => {
      throw new Error('ICU asked for UTC');
    }) as unknown as typeof Intl.DateTimeFormat;
    try {
      assert.equal(loadConfig({}).schedule.timezone, 'UTC');
      assert.equal(loadConfig({ flags: { 'schedule.timezone': 'Etc/UTC' } }).schedule.timezone, 'Etc/UTC');
    } finally {
      Intl.DateTimeFormat = original;
    }
  });

  it('rejects a file that is not YAML or cannot be read', () => {
    assert.throws(
      () => loadConfig({ file: yamlFile('server: [port: 1') }),
      (err) => isGpumonError(err, 'CONFIG_INVALID'),
    );
    assert.throws(
      () => loadConfig({ file: '/nonexistent/gpumon.yaml' }),
      (err) =>
        isGpumonError(err, 'CONFIG_FILE_UNREADABLE') && err.message.includes('/nonexistent/gpumon.yaml'),
    );
  });
});
