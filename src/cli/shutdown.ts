/**
 * Exit status of `gpumon up` and `gpumon consume` after a stop that kept samples for later instead of writing
 * them (the archive or InfluxDB did not take them by shutdown.timeoutMs): nothing is lost, `up` writes its
 * spool to the archive at the next start and Kafka delivers again to the next `consume`. 75 is EX_TEMPFAIL of
 * sysexits.h: a temporary failure, worth running again.
 */
export const EXIT_KEPT = 75;

/** A stopped process that is still running this long after its last word exits anyway. */
const LINGER_MS = 2000;

/**
 * The bound of a stop: exits with EXIT_KEPT once `timeoutMs` have passed, after saying `what` on stderr,
 * should the orderly stop not have finished by then (it gives up on the sinks before). Call the function it
 * returns with the exit status once the stop has finished: a handle left open (a write given up on) then
 * keeps the process no longer than LINGER_MS. Neither timer keeps the process alive by itself.
 */
export function boundStop(timeoutMs: number, what: string): (status: number) => number {
  const hard = setTimeout(() => {
    process.stderr.write(`${what}\n`);
    process.exit(EXIT_KEPT);
  }, timeoutMs);
  hard.unref();
  return (status) => {
    clearTimeout(hard);
    setTimeout(() => process.exit(status), LINGER_MS).unref();
    return status;
  };
}
