import { Command } from 'commander';
import { GpumonError } from '../errors.ts';
import {
  configFromCli,
  exitOnSecondSignal,
  runCommand,
  waitForStopSignal,
  withConfigOption,
} from './common.ts';
import { boundStop, EXIT_KEPT } from './shutdown.ts';

interface ConsumeFlags {
  config?: string;
  brokers?: string;
  topic?: string;
  sinks?: string;
  influxdb?: string;
  archive?: string;
  healthPort?: string;
}

const SINKS = ['influxdb', 'archive'] as const;

/** `gpumon consume`: Kafka -> InfluxDB (live, for Grafana) and the Parquet archive. */
export function consumeCommand(): Command {
  return withConfigOption(new Command('consume'))
    .description(
      'Read samples from Kafka and write them to InfluxDB (measurements gpu_metrics, gpu_metrics_30s, ' +
        'gpu_alerts) and to the Parquet archive. Each sink is its own consumer group (gpumon-influxdb, ' +
        'gpumon-archive; the prefix is kafka.groupPrefix) that commits offsets only after its sink has the samples: nothing is lost if the ' +
        'process dies, and a sink that is down stops its group instead of dropping. Run several consume ' +
        'processes to share the partitions. Malformed messages go to the dead-letter topic. A stop takes at most ' +
        'shutdown.timeoutMs (20 s): what a sink did not write by then is not committed and is read again by the ' +
        'next consume (exit status 75). An archive that cannot be written stops the start (ARCHIVE_NOT_WRITABLE).',
    )
    .option('--brokers <list>', 'Kafka bootstrap brokers host:port[,...] (kafka.brokers)')
    .option('--topic <name>', 'topic to read (kafka.topic, default gpu-metrics)')
    .option('--sinks <list>', `sinks to feed, comma-separated: ${SINKS.join(', ')} (default: both)`)
    .option('--influxdb <url>', 'InfluxDB base URL (influxdb.url)')
    .option('-a, --archive <dir>', 'archive directory (archive.path)')
    .option(
      '--health-port <port>',
      'serve /healthz, /readyz and /metrics on this port (health.port; default 0: off)',
    )
    .action(async (flags: ConsumeFlags) =>
      runCommand(async () => {
        const sinks = parseSinks(flags.sinks);
        const config = configFromCli(flags, {
          'kafka.brokers': flags.brokers,
          'kafka.topic': flags.topic,
          'influxdb.url': flags.influxdb,
          'archive.path': flags.archive,
          'health.port': flags.healthPort,
        });
        // Loaded here, not at the top: every command's module loads when the CLI starts.
        const { createLogger } = await import('../log.ts');
        const { startConsumer } = await import('../consumer.ts');
        const { startConfiguredHealthServer } = await import('../health/health-server.ts');
        const logger = createLogger(config.log.level);
        const consumer = await startConsumer(config, logger, sinks);
        const health = await startConfiguredHealthServer(
          config.health,
          'gpumon-consume',
          consumer.healthReporter(),
          logger,
        ).catch(async (err: unknown) => {
          await consumer.stop();
          throw err;
        });
        process.stdout.write(
          `gpumon consume: ${config.kafka.topic} at ${config.kafka.brokers} -> ${sinks.join(', ')}. Ctrl-C to stop.\n`,
        );
        if (health) {
          process.stdout.write(
            `gpumon consume: health on http://${config.health.host}:${health.port}/readyz\n`,
          );
        }
        await waitForStopSignal();
        process.stderr.write('gpumon: stopping: writing what is buffered, then committing...\n');
        const again = 'what was not committed is read again by the next consume';
        exitOnSecondSignal(`gpumon consume: stopping now; ${again}`);
        const stopped = boundStop(
          config.shutdown.timeoutMs,
          `gpumon consume: the stop took longer than shutdown.timeoutMs (${config.shutdown.timeoutMs} ms); exiting: ${again}`,
        );
        const notWritten: string[] = [];
        for (const { group, received, sinks: stats } of await consumer.stop()) {
          process.stdout.write(`gpumon consume: ${group}: ${received} samples received\n`);
          for (const sink of stats.filter((s) => s.abandoned > 0)) {
            notWritten.push(`${sink.abandoned} samples not written to ${sink.sink} (group ${group})`);
          }
        }
        await health?.close();
        if (notWritten.length > 0) {
          const message =
            `${notWritten.join(', ')} by shutdown.timeoutMs: their offsets are not committed, ` +
            'Kafka delivers them again to the next consume';
          logger.warn({ notWritten }, message);
          process.stdout.write(`gpumon consume: ${message}\n`);
          return stopped(EXIT_KEPT);
        }
        return stopped(0);
      }),
    );
}

function parseSinks(value: string | undefined): (typeof SINKS)[number][] {
  if (value === undefined) return [...SINKS];
  const names = value.split(',').map((s) => s.trim());
  const bad = names.find((n) => !(SINKS as readonly string[]).includes(n));
  if (bad !== undefined || names.length === 0) {
    throw new GpumonError(
      'USAGE',
      `--sinks must list ${SINKS.join(' and/or ')}, got ${JSON.stringify(value)}`,
    );
  }
  return [...new Set(names)] as (typeof SINKS)[number][];
}
