import { type Logger, pino } from 'pino';

export type { Logger };

/** JSON lines on stderr, so stdout stays free for command output. */
export function createLogger(level: string, name = 'gpumon'): Logger {
  return pino({ name, level, base: { name } }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
