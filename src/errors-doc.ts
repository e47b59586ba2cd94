import { ERROR_MEANINGS } from './errors.ts';

/** docs/errors.md, generated from ERROR_MEANINGS (`npm run docs`). */
export function renderErrorsDoc(): string {
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/errors.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Every error gpumon reports carries one of these codes, a message naming the input at fault, and its',
    'cause. Commands exit with status 2 for CONFIG_* and USAGE errors, 1 for the others.',
    '',
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(ERROR_MEANINGS).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`),
    '',
  ].join('\n');
}
