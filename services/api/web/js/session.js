// The login session: tokens in sessionStorage (gone with the tab), the access token refreshed
// before it expires, and an API helper that adds the bearer token.

const KEY = 'carewatch.session';
const LOGIN = '/login';
// The refresh happens when this share of the access token's life is left (at most a minute):
// a phone's timers drift, and a board must never sit on an expired token.
const REFRESH_SHARE = 0.2;
const MAX_MARGIN_MS = 60_000;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function storeTokens(pair) {
  const now = Date.now();
  sessionStorage.setItem(
    KEY,
    JSON.stringify({
      access: pair.access_token,
      refresh: pair.refresh_token,
      issuedAt: now,
      expiresAt: now + pair.expires_in * 1000,
    }),
  );
  scheduleRefresh();
}

let timer = null;
let inflight = null;

export function clearSession() {
  sessionStorage.removeItem(KEY);
  clearTimeout(timer);
}

/** A same-origin path to return to after logging in; anything else goes to the board. */
export function safeNext(value) {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/board';
}

export function toLogin() {
  clearSession();
  const next = location.pathname + location.search;
  location.assign(`${LOGIN}?next=${encodeURIComponent(next)}`);
}

function refreshAt(current) {
  const margin = Math.min(MAX_MARGIN_MS, (current.expiresAt - current.issuedAt) * REFRESH_SHARE);
  return current.expiresAt - margin;
}

export function scheduleRefresh() {
  clearTimeout(timer);
  const current = session();
  if (!current) return;
  const delay = Math.max(0, refreshAt(current) - Date.now());
  timer = setTimeout(() => refreshTokens().catch(() => toLogin()), delay);
}

/** Exchange the refresh token for a new pair. One at a time: a refresh token is single use,
 * and presenting it twice is taken for theft (the server then ends every session). */
export function refreshTokens() {
  if (!inflight) inflight = doRefresh().finally(() => (inflight = null));
  return inflight;
}

async function doRefresh() {
  const current = session();
  if (!current) throw new ApiError(401, 'not logged in');
  const response = await fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: current.refresh }),
  });
  if (!response.ok) {
    clearSession();
    throw new ApiError(response.status, await detailOf(response));
  }
  storeTokens(await response.json());
}

/** A valid access token, refreshed first if it is about to run out. */
export async function accessToken() {
  const current = session();
  if (!current) {
    toLogin();
    throw new ApiError(401, 'not logged in');
  }
  if (Date.now() >= current.expiresAt - 5_000) await refreshTokens();
  return session().access;
}

/** fetch() with the bearer token; a 401 refreshes once and retries, then goes to the login. */
export async function apiFetch(path, { method = 'GET', json, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { Authorization: `Bearer ${await accessToken()}` };
    const init = { method, headers, signal };
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    const response = await fetch(path, init);
    if (response.status !== 401) return response;
    if (attempt > 0) break;
    try {
      await refreshTokens();
    } catch {
      break;
    }
  }
  toLogin();
  throw new ApiError(401, 'session expired');
}

/** The JSON body of a successful call; ApiError with the server's reason otherwise. */
export async function api(path, options) {
  const response = await apiFetch(path, options);
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  return response.status === 204 ? null : response.json();
}

export async function detailOf(response) {
  try {
    const { detail } = await response.json();
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail)) return detail.map((item) => item.msg).join('; ');
    if (detail && detail.message) return detail.message;
    return JSON.stringify(detail);
  } catch {
    return response.statusText;
  }
}

/** On a page that needs a login: false (and off to the login page) without a session. */
export function requireSession() {
  if (!session()) {
    toLogin();
    return false;
  }
  scheduleRefresh();
  // Timers sleep in a background tab or a locked phone: check again when the page is back.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') scheduleRefresh();
  });
  return true;
}

export async function logout() {
  // A refresh in flight would store a new pair after the session is cleared (and the logout
  // would present the refresh token it just spent): let it land, then end that pair.
  clearTimeout(timer);
  if (inflight) await inflight.catch(() => {});
  const current = session();
  clearSession();
  if (current) {
    try {
      await fetch('/api/v1/auth/logout', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: current.refresh }),
      });
    } catch {
      // The access token runs out by itself within minutes.
    }
  }
  location.assign(LOGIN);
}
