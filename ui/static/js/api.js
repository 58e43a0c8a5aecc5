// The REST client: every call carries the bearer token from sessionStorage
// in the Authorization header (never in the URL, which ends up in logs),
// errors become ApiError with the server's Status fields, and a 401 asks the
// shell to show the login again.

const TOKEN_KEY = 'sprint.token';

// BASE is the path the node is mounted at: "" unless a proxy adds a prefix.
const BASE = location.pathname.replace(/\/ui(?:\/.*)?$/, '');

// ApiError is a failed call: code is the HTTP status (0 when the node could
// not be reached), reason and message come from the server's Status, causes
// are its details.causes ({field, message}).
export class ApiError extends Error {
  constructor(code, reason, message, causes = [], retryAfter = 0) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.causes = causes;
    this.retryAfter = retryAfter;
  }
}

// statusError builds an ApiError from a Status object (also the object of a
// watch ERROR event).
export function statusError(st, fallbackCode = 0) {
  return new ApiError(st.code || fallbackCode, st.reason || '', st.message || `HTTP ${st.code || fallbackCode}`,
    (st.details && st.details.causes) || []);
}

async function errorFrom(resp) {
  let text = '';
  try { text = await resp.text(); } catch { /* the body is optional */ }
  const retryAfter = parseInt(resp.headers.get('Retry-After') || '0', 10) || 0;
  try {
    const st = JSON.parse(text);
    if (st && st.kind === 'Status') {
      const e = statusError(st, resp.status);
      e.retryAfter = retryAfter;
      return e;
    }
  } catch { /* not JSON: use the text */ }
  return new ApiError(resp.status, resp.statusText, text.trim() || `HTTP ${resp.status} ${resp.statusText}`, [], retryAfter);
}

export class Api {
  // onUnauthorized is called on every 401.
  constructor({onUnauthorized} = {}) {
    this.onUnauthorized = onUnauthorized || (() => {});
  }

  get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  set token(t) {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  // url resolves an API path against where the console is served, so
  // that it also works behind a proxy that mounts the node under a prefix
  // (https://proxy/sprint/ui/ calls https://proxy/sprint/api/v1/…).
  url(path, query) {
    const u = new URL(BASE + path, location.origin);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
    }
    return u.pathname + u.search;
  }

  // fetch sends one request and returns the Response when its status is
  // 2xx; otherwise it throws an ApiError. opts: query, body (string, or an
  // object sent as JSON), contentType, accept, signal, headers, token
  // (overrides the stored one, for the login check).
  async fetch(method, path, opts = {}) {
    const headers = new Headers(opts.headers || {});
    const token = opts.token !== undefined ? opts.token : this.token;
    if (token) headers.set('Authorization', 'Bearer ' + token);
    headers.set('Accept', opts.accept || 'application/json');
    let body = opts.body;
    if (body !== undefined && typeof body !== 'string') {
      body = JSON.stringify(body);
      headers.set('Content-Type', 'application/json');
    } else if (body !== undefined) {
      headers.set('Content-Type', opts.contentType || 'application/json');
    }
    let resp;
    try {
      resp = await fetch(this.url(path, opts.query), {method, headers, body, signal: opts.signal, cache: 'no-store', credentials: 'omit'});
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'NetworkError', `cannot reach the sprint node (${e.message || e})`);
    }
    if (resp.ok) return resp;
    const err = await errorFrom(resp);
    if (resp.status === 401 && opts.token === undefined) this.onUnauthorized(err);
    throw err;
  }

  // json sends a request and decodes a JSON answer; it also returns the
  // response headers as result.headers when withHeaders is set.
  async json(method, path, opts = {}) {
    const resp = await this.fetch(method, path, opts);
    const data = resp.status === 204 ? null : await resp.json();
    return opts.withHeaders ? {data, headers: resp.headers, status: resp.status} : data;
  }

  get(path, opts) { return this.json('GET', path, opts); }
}
