import { Command } from 'commander';
import { PROMETHEUS_NAMES, SOURCE_TYPES } from '../config/schema.ts';
import {
  configFromCli,
  exitOnSecondSignal,
  runCommand,
  waitForStopSignal,
  withConfigOption,
} from './common.ts';

interface AgentFlags {
  config?: string;
  brokers?: string;
  topic?: string;
  source?: string;
  spool?: string;
  healthPort?: string;
  prometheusNames?: string;
}

/** `gpumon agent`: sample this node's GPUs and publish them to Kafka, spooling on disk while it is away. */
export function agentCommand(): Command {
  return withConfigOption(new Command('agent'))
    .description(
      'Sample every GPU of this node and publish the samples to Kafka (one record per sample, keyed by GPU ' +
        'UUID). While Kafka is unreachable the samples go to an on-disk spool (agent.spoolPath, bounded by ' +
        'agent.spoolMaxBytes) and are sent in order once it is back, also after a restart. Ctrl-C prints ' +
        'the samples read, sent, spooled and dropped.',
    )
    .option('-b, --brokers <list>', 'Kafka bootstrap brokers, host:port[,host:port] (kafka.brokers)')
    .option('-t, --topic <name>', 'topic to publish to (kafka.topic, default gpu-metrics)')
    .option('-s, --source <type>', `GPU source: ${SOURCE_TYPES.join(' | ')} (source.type, default auto)`)
    .option('--spool <dir>', 'spool directory (agent.spoolPath, default ./spool)')
    .option(
      '--health-port <port>',
      'serve /healthz, /readyz and /metrics on this port (health.port; default 0: off)',
    )
    .option(
      '--prometheus-names <names>',
      `GPU metric names on /metrics: ${PROMETHEUS_NAMES.join(' | ')} (prometheus.names, default both: gpumon's and dcgm-exporter's)`,
    )
    .addHelpText(
      'after',
      '\nEvery setting can also come from a YAML file (--config) or GPUMON_* environment variables;\n' +
        'see docs/configuration.md. Exit status: 0 after Ctrl-C, 2 for a bad setting, 1 on failure.',
    )
    .action(async (flags: AgentFlags) =>
      runCommand(async () => {
        const config = configFromCli(flags, {
          'kafka.brokers': flags.brokers,
          'kafka.topic': flags.topic,
          'source.type': flags.source,
          'agent.spoolPath': flags.spool,
          'health.port': flags.healthPort,
          'prometheus.names': flags.prometheusNames,
        });
        // Loaded here, not at the top: every command's module loads when the CLI starts.
        const { createLogger } = await import('../log.ts');
        const { startAgent } = await import('../agent/agent.ts');
        const { startConfiguredHealthServer } = await import('../health/health-server.ts');
        const logger = createLogger(config.log.level, 'gpumon-agent');
        const agent = await startAgent(config, logger);
        const health = await startConfiguredHealthServer(
          config.health,
          'gpumon-agent',
          agent.healthReporter(),
          logger,
        ).catch(async (err: unknown) => {
          await agent.stop();
          throw err;
        });
        const notice = agent.source.health().notice;
        if (notice) process.stderr.write(`\n  NOTICE: ${notice}\n\n`);
        process.stdout.write(
          `gpumon agent: source ${agent.source.name} every ${config.source.intervalMs} ms -> Kafka ` +
            `${config.kafka.brokers} topic ${config.kafka.topic} (spool: ${config.agent.spoolPath}). Ctrl-C to stop.\n`,
        );
        if (health)
          process.stdout.write(
            `gpumon agent: health on http://${config.health.host}:${health.port}/readyz\n`,
          );
        const signal = await waitForStopSignal();
        process.stderr.write(`gpumon agent: ${signal}: stopping...\n`);
        exitOnSecondSignal('gpumon agent: stopping now; spooled samples stay on disk');
        const s = await agent.stop();
        await health?.close();
        process.stdout.write(
          `gpumon agent stopped: ${s.read} samples read, ${s.sent} sent, ${s.spooled} spooled, ` +
            `${s.dropped} dropped, ${s.pending} left in the spool\n`,
        );
        return 0;
      }),
    );
}
