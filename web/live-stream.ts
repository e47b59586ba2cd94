import { STREAM_EVENT_NAMES, type StreamEventName, type StreamEvents } from '../src/server/api-types.ts';

export type StreamHandlers = { [K in StreamEventName]: (data: StreamEvents[K]) => void };

/** After the server refused the stream, the next try waits this long. */
const REFUSED_RETRY_MS = 5000;

/** connecting: opening or reconnecting; live: receiving; paused: closed because the page is hidden. */
export type StreamStatus = 'connecting' | 'live' | 'paused';

/**
 * The one live subscription of the page: an EventSource on /api/stream, open only while the page is visible
 * (so a background tab costs the server nothing) and closed when it is hidden. Each (re)connect starts with a
 * `snapshot` event, from which the page resynchronises.
 */
export class LiveStream {
  private source: EventSource | null = null;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly onVisibility = () => (document.hidden ? this.close() : this.open());

  /** `onRefused`: the server answered with an error (401 without a session, 503 when busy); retried later. */
  constructor(
    private readonly url: string,
    private readonly handlers: StreamHandlers,
    private readonly onStatus: (status: StreamStatus) => void,
    private readonly onRefused: () => void = () => {},
  ) {}

  start(): void {
    document.addEventListener('visibilitychange', this.onVisibility);
    this.onVisibility();
  }

  stop(): void {
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.close();
  }

  private open(): void {
    clearTimeout(this.retry);
    if (this.source || document.hidden) return;
    const source = new EventSource(this.url);
    this.source = source;
    this.onStatus('connecting');
    for (const name of STREAM_EVENT_NAMES) this.listen(source, name);
    source.addEventListener('open', () => this.onStatus('live'));
    // EventSource reconnects by itself after a network error; the next snapshot resynchronises the page. An
    // HTTP error closes it for good: open a new one a little later.
    source.addEventListener('error', () => {
      this.onStatus('connecting');
      if (source.readyState !== EventSource.CLOSED || this.source !== source) return;
      this.source = null;
      this.onRefused();
      this.retry = setTimeout(() => this.open(), REFUSED_RETRY_MS);
    });
  }

  private listen<K extends StreamEventName>(source: EventSource, name: K): void {
    source.addEventListener(name, (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data) as StreamEvents[K];
      this.handlers[name](data);
    });
  }

  private close(): void {
    clearTimeout(this.retry);
    if (!this.source) return;
    this.source.close();
    this.source = null;
    this.onStatus('paused');
  }
}
