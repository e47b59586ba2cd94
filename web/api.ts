import type { ApiErrorBody } from '../src/server/api-types.ts';

/** A failed API call, with the server's error code when it sent one. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** Told when the server answers 401: the session ended (a new token), the page must ask for it again. */
let onUnauthorized: () => void = () => {};

export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

/**
 * Calls the JSON API; a non-2xx answer rejects with its `{ error: { code, message } }`. A request with a body
 * sends it as JSON (`{}` when none is given): the server takes no other type for a POST or DELETE. The session
 * cookie goes with every request (same origin).
 */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    ...init,
    headers,
    ...(headers['Content-Type'] ? { body: init.body ?? '{}' } : {}),
  });
  const body = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) {
    const error = (body as ApiErrorBody | null)?.error;
    if (res.status === 401) onUnauthorized();
    throw new ApiCallError(
      res.status,
      error?.code ?? 'HTTP_ERROR',
      error?.message ?? `${path}: HTTP ${res.status}`,
    );
  }
  return body as T;
}

/** Runs `task` over `items`, at most `limit` at a time. */
export async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
