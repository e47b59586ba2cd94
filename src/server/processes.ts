import { Hono } from 'hono';
import { describeError } from '../errors.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { GpuProcess } from '../sources/source.ts';
import type { GpuProcessesResponse, ProcessView } from './api-types.ts';
import type { ServerDeps } from './deps.ts';
import { notFound } from './http-error.ts';

/** A list is read from the source at most this often, however many pages ask (nvidia-smi starts a process). */
export const PROCESSES_MAX_AGE_MS = 2000;

/** What the page says on a server that reads no live GPUs (`gpumon serve` on an archive or InfluxDB). */
export const NO_LIVE_SOURCE =
  'Processes need a live source: this server reads the archive or InfluxDB, whose samples carry no processes. ' +
  'gpumon up on the GPU machine lists them.';

/**
 * The source's process list, read at most once per `maxAgeMs`; callers in between share the last one, and a
 * read in flight.
 */
export class ProcessList {
  private last: { at: number; list: GpuProcess[] } | null = null;
  private pending: Promise<{ at: number; list: GpuProcess[] }> | null = null;

  constructor(
    private readonly read: () => Promise<GpuProcess[]>,
    private readonly now: () => number,
    private readonly maxAgeMs = PROCESSES_MAX_AGE_MS,
  ) {}

  get(): Promise<{ at: number; list: GpuProcess[] }> {
    const last = this.last;
    if (last && this.now() - last.at < this.maxAgeMs) return Promise.resolve(last);
    this.pending ??= this.read().then(
      (list) => {
        this.pending = null;
        this.last = { at: this.now(), list };
        return this.last;
      },
      (err: unknown) => {
        this.pending = null;
        throw err;
      },
    );
    return this.pending;
  }
}

/** The processes of GPU `uuid` (and of its MIG instances, named by their instance), largest memory first. */
export function processesOf(
  uuid: string,
  list: readonly GpuProcess[],
  live: readonly GpuSample[],
): ProcessView[] {
  const instances = new Map(
    live.filter((s) => s.parent_uuid === uuid).map((s) => [s.uuid, migLabel(s)] as const),
  );
  return list
    .filter((p) => p.uuid === uuid || instances.has(p.uuid))
    .map((p) => ({
      pid: p.pid,
      name: p.name,
      usedMemoryBytes: p.usedMemoryBytes,
      deviceUuid: p.uuid,
      migInstance: instances.get(p.uuid) ?? migOfSelf(uuid, live),
    }))
    .sort((a, b) => (b.usedMemoryBytes ?? -1) - (a.usedMemoryBytes ?? -1) || a.pid - b.pid);
}

function migLabel(s: GpuSample): string {
  return s.mig_gpu_instance_id === null ? `MIG ${s.uuid}` : `MIG GPU instance ${s.mig_gpu_instance_id}`;
}

/** A MIG instance's own detail: its processes run on it. */
function migOfSelf(uuid: string, live: readonly GpuSample[]): string | null {
  const self = live.find((s) => s.uuid === uuid);
  return self && self.parent_uuid !== null ? migLabel(self) : null;
}

/** GET /api/gpus/:uuid/processes. */
export function processRoutes(
  deps: Pick<ServerDeps, 'live' | 'sources' | 'processes' | 'logger'>,
  now: () => number,
): Hono {
  const api = new Hono();
  const list = deps.processes ? new ProcessList(deps.processes, now) : null;
  api.get('/:uuid/processes', async (c) => {
    const uuid = c.req.param('uuid');
    const sources = deps.sources();
    const live = deps.live.latest();
    const unavailable = (reason: string) => c.json({ uuid, at: null, unavailable: reason, processes: [] });
    if (sources.length === 0) return unavailable(NO_LIVE_SOURCE);
    if (!live.some((s) => s.uuid === uuid))
      notFound(`no GPU with uuid ${JSON.stringify(uuid)} in the live fleet`);
    if (!list) {
      return unavailable(
        `The live source (${sources.map((s) => s.source).join(', ')}) does not list processes: samples carry none. ` +
          'gpumon up with the nvml or nvidia-smi source on the GPU machine lists them.',
      );
    }
    let read: { at: number; list: GpuProcess[] };
    try {
      read = await list.get();
    } catch (err) {
      deps.logger.warn({ err: describeError(err) }, 'listing the processes failed');
      return unavailable(
        `The source could not list processes: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const { at, list: all } = read;
    const body: GpuProcessesResponse = {
      uuid,
      at,
      unavailable: null,
      processes: processesOf(uuid, all, live),
    };
    return c.json(body);
  });
  return api;
}
