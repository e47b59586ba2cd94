import { Writable } from 'node:stream';
import { pino } from 'pino';

/** A line a capturing logger kept: pino's JSON, parsed. */
export interface LoggedLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A logger that keeps its lines, to check what is logged and how often. */
export function capturingLogger(level = 'info') {
  const lines: LoggedLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
