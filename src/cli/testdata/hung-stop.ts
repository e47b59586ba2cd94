// A command whose stop never ends, for signals.test.ts: it waits for Ctrl-C, says so, then hangs.
import { exitOnSecondSignal, waitForStopSignal } from '../common.ts';

setInterval(() => undefined, 1000); // the work of a real command, which keeps it running
process.stdout.write('running\n');
const signal = await waitForStopSignal();
exitOnSecondSignal('hung-stop: stopping now');
process.stdout.write(`stopping after ${signal}\n`);
