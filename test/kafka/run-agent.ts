// `gpumon agent` on its own, for the tests (until src/cli/main.ts lists it): node --import tsx run-agent.ts FLAGS
import { agentCommand } from '../../src/cli/agent.ts';

await agentCommand()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parseAsync(process.argv);
