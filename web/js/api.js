// The API client: JSON over fetch to /api/v1 with the session cookie (HttpOnly, set by
// the gateway) and the session's CSRF token in X-CSRF-Token on every write. Every failure
// becomes an ApiError with a message fit to show: the server's own error message
// ({"error":{"code","message"}}), a rate limit with its Retry-After, or an unreachable
// server (status 0, code "network").

const BASE = '/api/v1';
const CSRF_KEY = 'bookrec.csrf';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let csrf = readStorage(CSRF_KEY);

function readStorage(key) {
  try { return localStorage.getItem(key) || ''; } catch { return ''; }
}

export function setCsrf(token) {
  csrf = token || '';
  try {
    if (csrf) localStorage.setItem(CSRF_KEY, csrf);
    else localStorage.removeItem(CSRF_KEY);
  } catch {
    // storage disabled: the token lives for this page only
  }
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== null && v !== undefined && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return BASE + path + (qs ? `?${qs}` : '');
}

// api('GET', '/books/12', {query, body, signal, keepalive}) -> parsed JSON.
// The model version that answered (X-Model-Version) is added as .version when the body
// does not carry one, so lists can report it with their events.
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', signal: opts.signal };
  if (opts.keepalive) init.keepalive = true;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let resp;
  try {
    resp = await fetch(url(path, opts.query), init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  let data = null;
  const text = await resp.text().catch(() => '');
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    if (resp.status === 429) {
      const after = parseInt(resp.headers.get('Retry-After') || '', 10);
      const wait = Number.isFinite(after) && after > 0 ? after : 1;
      throw new ApiError(429, err.code || 'rate_limited',
        `Too many requests. Please wait ${wait} second${wait === 1 ? '' : 's'} and try again.`, wait);
    }
    let message = err.message || `The server answered ${resp.status}.`;
    if (resp.status >= 500 && !err.message) message = 'The server had a problem answering. Try again in a moment.';
    if (resp.status === 502 || resp.status === 503) {
      message = `${err.message || 'The service is unavailable'}. Try again in a moment.`;
    }
    throw new ApiError(resp.status, err.code || 'http_error', message);
  }
  if (data && typeof data === 'object' && !Array.isArray(data) && !data.version) {
    const v = resp.headers.get('X-Model-Version');
    if (v) data.version = v;
  }
  return data;
}

export const get = (path, query, signal) => api('GET', path, { query, signal });
export const post = (path, body, opts = {}) => api('POST', path, { ...opts, body });
export const patch = (path, body) => api('PATCH', path, { body });
export const del = (path) => api('DELETE', path);
