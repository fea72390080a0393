// The session: the bearer token and who it is, kept in sessionStorage (this
// tab only, gone when it closes), never in a URL or a cookie.
const KEY = 'rmb.session';
let listeners = [];

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch (_) { return null; }
}

export function setSession(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
  listeners.forEach(f => f(s));
}

export function onSession(f) { listeners.push(f); }

export function signOut(reason) {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem('rmb.integration');
  listeners.forEach(f => f(null, reason));
}

// refreshSession trades a user's refresh token for new tokens
// (POST /v1/auth/refresh); false when it cannot.
export async function refreshSession() {
  const s = session();
  if (!s || s.kind !== 'user' || !s.refreshToken) return false;
  try {
    const res = await fetch('/v1/auth/refresh', {
      method: 'POST', credentials: 'omit',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refreshToken: s.refreshToken }),
    });
    if (!res.ok) return false;
    const tok = await res.json();
    const token = bearerOf(tok);
    if (!token) return false;
    setSession(Object.assign({}, s, { token, refreshToken: tok.refreshToken || s.refreshToken }));
    return true;
  } catch (_) { return false; }
}

// bearerOf picks the token the API takes from a sign-in answer: the ID
// token (it carries custom:tenant_id), else the access token.
export function bearerOf(tok) { return tok && (tok.idToken || tok.accessToken) || ''; }

const RANK = { viewer: 1, operator: 2, admin: 3 };

// can reports whether the session's role reaches need (viewer, operator,
// admin): the buttons a role may not use are not drawn (the API refuses
// them anyway).
export function can(need) {
  const s = session();
  return !!s && (RANK[s.role] || 0) >= RANK[need];
}
