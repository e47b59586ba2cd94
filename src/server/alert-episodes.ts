import { Hono } from 'hono';
import { ALERT_RULES, type AlertEpisode, type AlertEvaluator } from '../pipeline/alerts.ts';
import type { AlertEpisodesResponse } from './api-types.ts';
import { badRequest, intQuery, notFound } from './http-error.ts';

/** Ended episodes kept, newest first; older ones are dropped (the archive keeps the samples). */
export const MAX_ENDED_EPISODES = 1000;
export const MAX_EPISODES_LIMIT = 1000;

/**
 * The alert episodes of the live fleet: those ending, as the evaluator reports them (`onEnd`), kept up to
 * MAX_ENDED_EPISODES, and those firing now, asked of the evaluator. The evaluator's episode logic is the one
 * `gpumon consume` uses to repeat alerts; nothing here decides what fires.
 */
export class AlertEpisodeLog {
  private readonly ended: AlertEpisode[] = [];
  private evaluator: Pick<AlertEvaluator, 'openEpisodes'> | null = null;

  constructor(private readonly capacity = MAX_ENDED_EPISODES) {}

  /** For the evaluator's `onEpisodeEnd`. */
  readonly onEnd = (episode: AlertEpisode): void => {
    this.ended.push(episode);
    if (this.ended.length > this.capacity) this.ended.splice(0, this.ended.length - this.capacity);
  };

  /** The evaluator whose ongoing episodes are listed. */
  watch(evaluator: Pick<AlertEvaluator, 'openEpisodes'>): void {
    this.evaluator = evaluator;
  }

  /** Every episode known, ongoing and ended, the latest start first. */
  list(): AlertEpisode[] {
    const all = [...(this.evaluator?.openEpisodes() ?? []), ...this.ended];
    return all.sort((a, b) => b.start - a.start || a.uuid.localeCompare(b.uuid));
  }
}

const STATES = ['ongoing', 'ended'] as const;

/** GET /api/alerts/episodes?rule=&host=&uuid=&state=&limit=200 */
export function episodeRoutes(episodes: (() => AlertEpisode[]) | undefined): Hono {
  const api = new Hono();
  api.get('/episodes', (c) => {
    if (!episodes) notFound('this server keeps no alert episodes: it has no live source');
    const rule = c.req.query('rule');
    if (rule !== undefined && rule !== '' && !(ALERT_RULES as readonly string[]).includes(rule)) {
      badRequest(
        `query parameter rule must be one of ${ALERT_RULES.join(', ')}, got ${JSON.stringify(rule)}`,
      );
    }
    const state = c.req.query('state');
    if (state !== undefined && state !== '' && !(STATES as readonly string[]).includes(state)) {
      badRequest(`query parameter state must be ongoing or ended, got ${JSON.stringify(state)}`);
    }
    const host = c.req.query('host') || undefined;
    const uuid = c.req.query('uuid') || undefined;
    const limit = intQuery(c, 'limit', 200, 1, MAX_EPISODES_LIMIT);
    const all = episodes();
    const matching = all.filter(
      (e) =>
        (!rule || e.rule === rule) &&
        (!host || e.host === host) &&
        (!uuid || e.uuid === uuid) &&
        (!state || e.ended === (state === 'ended')),
    );
    const body: AlertEpisodesResponse = {
      episodes: matching.slice(0, limit),
      total: matching.length,
      hosts: [...new Set(all.map((e) => e.host))].sort(),
    };
    return c.json(body);
  });
  return api;
}
