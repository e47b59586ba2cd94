import { influxQuery } from '../src/testing/services.ts';

/** The InfluxDB databases one bench run makes: each created fresh, its GPU points counted, all dropped at the end. */
export class BenchDatabases {
  readonly #names: string[] = [];

  constructor(private readonly influx: string) {}

  /** How many this run has made so far (a counter for unique names). */
  get count(): number {
    return this.#names.length;
  }

  async create(name: string): Promise<string> {
    await influxQuery(this.influx, `CREATE DATABASE "${name}"`);
    this.#names.push(name);
    return name;
  }

  /** Records a database made by someone else (e.g. gpumon consume) so that `dropAll` drops it too. */
  adopt(name: string): void {
    this.#names.push(name);
  }

  /** Points of `gpu_metrics` with a utilization_gpu field in `db` (0 while the database or measurement is missing). */
  async countPoints(db: string): Promise<number> {
    const results = await influxQuery(
      this.influx,
      'SELECT count(utilization_gpu) FROM gpu_metrics',
      db,
    ).catch(() => []);
    const value = results[0]?.series?.[0]?.values?.[0]?.[1];
    return typeof value === 'number' ? value : 0;
  }

  async dropAll(): Promise<void> {
    for (const db of this.#names)
      await influxQuery(this.influx, `DROP DATABASE "${db}"`).catch(() => undefined);
  }
}
