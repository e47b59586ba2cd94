import type { SessionResponse } from '../src/server/api-types.ts';
import { ApiCallError, api } from './api.ts';
import { setText } from './dom.ts';

/** Whether this page may read the API now: the server needs no token, or the session cookie is set. */
export async function hasSession(): Promise<boolean> {
  const session = await api<SessionResponse>('/api/session');
  return !session.required || session.authenticated;
}

/**
 * The token form: shown when the server needs its token and this browser has no session. The token is sent
 * once to POST /api/session, which answers with an HttpOnly cookie (no script, this one included, can read it
 * back); then the page starts again with the session.
 */
export function askForToken(form: HTMLFormElement, onSession: () => void): void {
  const input = form.querySelector<HTMLInputElement>('#login-token');
  const message = form.querySelector<HTMLElement>('[data-testid="login-message"]');
  form.hidden = false;
  input?.focus();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const token = input?.value.trim() ?? '';
    if (!token) return;
    try {
      await api<void>('/api/session', { method: 'POST', body: JSON.stringify({ token }) });
      if (input) input.value = '';
      form.hidden = true;
      onSession();
    } catch (err) {
      const text =
        err instanceof ApiCallError && err.status === 401
          ? 'That is not the token of this server.'
          : `Could not sign in: ${err instanceof Error ? err.message : String(err)}`;
      if (message) setText(message, text);
    }
  };
}
