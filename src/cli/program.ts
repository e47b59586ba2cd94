import { Command } from 'commander';
import { VERSION } from '../version.ts';
import { agentCommand } from './agent.ts';
import { analyzeCommand } from './analyze.ts';
import { setCommandName, withUsageExit } from './common.ts';
import { consumeCommand } from './consume.ts';
import { runsCommand } from './runs.ts';
import { serveCommand } from './serve.ts';
import { simulateCommand } from './simulate.ts';
import { upCommand } from './up.ts';

/**
 * The `gpumon` command with every subcommand. A usage error (unknown flag or command, a flag without its
 * value) exits with status 2 and a line pointing at the command's --help, on every command.
 */
export function gpumonProgram(): Command {
  const program = new Command('gpumon')
    .description(
      'GPU monitoring: live state, a Parquet archive and daily analytics of every GPU, on one machine or a fleet.',
    )
    .version(VERSION)
    .addCommand(upCommand().summary('sample, archive, analyse daily and serve the dashboard on this machine'))
    .addCommand(simulateCommand().summary('write days of simulated GPU history into an archive, fast'))
    .addCommand(analyzeCommand().summary('run the daily analytics now (default: yesterday, UTC)'))
    .addCommand(runsCommand().summary('list the recent runs of the daily analytics'))
    .addCommand(serveCommand().summary('serve the dashboard and API over an existing archive'))
    .addCommand(
      agentCommand().summary('fleet: sample this node and publish to Kafka, spooling while it is away'),
    )
    .addCommand(consumeCommand().summary('fleet: Kafka -> InfluxDB and the Parquet archive'))
    .addHelpText(
      'after',
      '\nRun `gpumon <command> --help` for the flags of a command. Docs: README.md, docs/.',
    )
    .hook('preAction', (_program, action) => setCommandName(action.name()));
  withUsageExit(program, 'gpumon');
  for (const command of program.commands) withUsageExit(command, `gpumon ${command.name()}`);
  return program;
}
