import type { HealthResponse, HealthStatus } from '../src/server/api-types.ts';

/** What the health badge of the page shows: the server's status, with the reasons as its tooltip. */
export interface BadgeState {
  /** `data-health` of the badge, for its colour: a status, or `unknown` when the server did not answer. */
  state: HealthStatus | 'unknown';
  text: string;
  /** The tooltip: one reason a line, or what was checked when all is well. */
  title: string;
}

/** The badge for an answer of /api/health. */
export function badgeOf(health: HealthResponse): BadgeState {
  if (health.status === 'ok') {
    const checked = health.checks.map((c) => `${c.name}: ${c.detail}`);
    return {
      state: 'ok',
      text: 'ok',
      title: checked.length ? checked.join('\n') : 'no checks on this server',
    };
  }
  const reasons = health.reasons.length ? health.reasons : ['no reason given'];
  const more = reasons.length > 1 ? ` (+${reasons.length - 1})` : '';
  return { state: health.status, text: `${health.status}: ${reasons[0]}${more}`, title: reasons.join('\n') };
}

/** The badge when /api/health could not be read. */
export function unreachableBadge(message: string): BadgeState {
  return {
    state: 'unknown',
    text: 'unreachable',
    title: `the server did not answer /api/health: ${message}`,
  };
}
