// A command whose stop never ends, for signals.test.ts: it waits for Ctrl-C, says so, then hangs.
import { exitOnSecondSignal, waitForStopSignal } from '../common.ts';

setInterval(() => undefined, 1000); // the work of a real command, which keeps it running
// Says it runs only once its handlers are in: a signal sent before would kill it (the default action), which
// a loaded machine made happen, preempting the child between the two.
const stopped = waitForStopSignal();
process.stdout.write('running\n');
const signal = await stopped;
exitOnSecondSignal('hung-stop: stopping now');
process.stdout.write(`stopping after ${signal}\n`);
