import { STREAM_EVENT_NAMES, type StreamEventName, type StreamEvents } from '../src/server/api-types.ts';

export type StreamHandlers = { [K in StreamEventName]: (data: StreamEvents[K]) => void };

/** connecting: opening or reconnecting; live: receiving; paused: closed because the page is hidden. */
export type StreamStatus = 'connecting' | 'live' | 'paused';

/**
 * The one live subscription of the page: an EventSource on /api/stream, open only while the page is visible
 * (so a background tab costs the server nothing) and closed when it is hidden. Each (re)connect starts with a
 * `snapshot` event, from which the page resynchronises.
 */
export class LiveStream {
  private source: EventSource | null = null;
  private readonly onVisibility = () => (document.hidden ? this.close() : this.open());

  constructor(
    private readonly url: string,
    private readonly handlers: StreamHandlers,
    private readonly onStatus: (status: StreamStatus) => void,
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
    if (this.source) return;
    const source = new EventSource(this.url);
    this.source = source;
    this.onStatus('connecting');
    for (const name of STREAM_EVENT_NAMES) this.listen(source, name);
    source.addEventListener('open', () => this.onStatus('live'));
    // EventSource reconnects by itself after an error; the next snapshot resynchronises the page.
    source.addEventListener('error', () => this.onStatus('connecting'));
  }

  private listen<K extends StreamEventName>(source: EventSource, name: K): void {
    source.addEventListener(name, (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data) as StreamEvents[K];
      this.handlers[name](data);
    });
  }

  private close(): void {
    if (!this.source) return;
    this.source.close();
    this.source = null;
    this.onStatus('paused');
  }
}
