// The gateway's JSON API (same origin). On loopback it answers without a token; otherwise the page asks for one
// and keeps it in sessionStorage for this tab only.
export class AuthNeeded extends Error {}

function headers(extra = {}) {
  const h = { ...extra };
  const token = sessionStorage.getItem('netsensor-token');
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

async function answer(path, r) {
  if (r.status === 401 || r.status === 403) throw new AuthNeeded((await r.json().catch(() => ({}))).error?.message || 'token required');
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error?.message || `${path}: HTTP ${r.status}`);
  return r.json();
}

export async function api(path) {
  return answer(path, await fetch(path, { headers: headers() }));
}

/** State-changing requests: JSON body, the token if any, and a custom header a cross-site form cannot send. */
export async function apiPost(path, body = {}) {
  const h = headers({ 'content-type': 'application/json', 'x-netsensor-request': '1' });
  return answer(path, await fetch(path, { method: 'POST', headers: h, body: JSON.stringify(body) }));
}
