// The API client: same origin, JSON in and out, the session's bearer token
// in the Authorization header (never in a URL), problem+json errors as
// ApiError. A Cognito session is refreshed once on a 401.
import { session, refreshSession, signOut } from './session.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function parse(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch (_) { return { detail: text }; }
}

// api sends one request and returns its JSON answer. opts.ifMatch sends
// If-Match (the ETag of the read a change is based on: a 412 ApiError when
// the resource changed since); opts.withETag returns { data, etag }.
export async function api(method, path, body, opts = {}) {
  const s = session();
  const headers = { Accept: 'application/json, application/problem+json' };
  if (s && s.token && !opts.anonymous) headers.Authorization = `Bearer ${s.token}`;
  if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, { detail: e.message, title: 'Network error' });
  }
  if (res.status === 401 && s && s.kind === 'user' && !opts.anonymous && !opts.retried) {
    if (await refreshSession()) return api(method, path, body, Object.assign({}, opts, { retried: true }));
    signOut('expired');
  }
  const data = await parse(res);
  if (!res.ok) {
    // API Gateway's own errors are {"message": "..."}; ours are problem+json.
    const p = data && typeof data === 'object' ? data : {};
    if (!p.detail && p.message) p.detail = p.message;
    p.status = p.status || res.status;
    throw new ApiError(res.status, p);
  }
  return opts.withETag ? { data, etag: res.headers.get('ETag') } : data;
}

// changedElsewhere reports whether e is the 412 of an If-Match that no
// longer holds: someone else changed the resource since it was read.
export function changedElsewhere(e) { return e instanceof ApiError && e.status === 412; }

// integrationPath is the path of a route under the selected integration.
export function ipath(iid, rest) { return `/v1/integrations/${encodeURIComponent(iid)}${rest || ''}`; }

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}
