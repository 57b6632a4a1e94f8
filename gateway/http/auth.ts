/**
 * Who may call the API. A valid `Authorization: Bearer <token>` is always enough. Without one, loopback clients
 * are served (unless `loopbackExempt` is off) — but "loopback" only says where the TCP connection comes from,
 * and any web page the operator opens can make the browser connect there. So a token-less request must also:
 *  - name an allowed host in `Host` (loopback names and the configured listen address): a page on a rebound DNS
 *    name (`Host: evil.example`) gets nothing;
 *  - when it changes state (any method but GET/HEAD), carry the `x-netsensor-request` header, which no page
 *    can send to another origin without a CORS preflight this server never grants, and, when the browser says
 *    where it comes from (`Origin`, `Sec-Fetch-Site`), come from this very origin.
 * With no token configured, non-loopback clients are refused outright, so exposing the port by accident
 * exposes nothing.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isLoopback } from '../broker.js';

export type AuthDecision = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export interface AccessPolicy {
  token?: string;
  loopbackExempt: boolean;
  /** Host names (no port) a token-less request may name in its Host header. */
  hosts: ReadonlySet<string>;
}

/** Custom header a token-less state-changing request must carry (value `1`). */
export const REQUEST_HEADER = 'x-netsensor-request';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** The names a Host header may carry: loopback names, the listen address unless it is a wildcard, and `extra`. */
export function allowedHosts(listenHost: string, extra: readonly string[] = []): Set<string> {
  const names = new Set([...LOOPBACK_NAMES, ...extra.map((h) => h.toLowerCase())]);
  const bound = listenHost.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bound !== '0.0.0.0' && bound !== '::') names.add(bound);
  return names;
}

/** The host name of a Host header without its port ("[::1]:8080" → "::1"); undefined when malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  const m = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h) ?? /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  return m?.[1];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function bearerOk(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  // Compare digests so the comparison is constant-time whatever the lengths.
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

/** Same origin: what the browser reports (if anything) is this server as named in Host. */
function sameOrigin(headers: IncomingHttpHeaders): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === String(headers.host ?? '').toLowerCase();
  } catch {
    return false;
  }
}

export function authorizeRequest(req: { remoteAddress: string | undefined; method: string; headers: IncomingHttpHeaders }, policy: AccessPolicy): AuthDecision {
  if (policy.token && bearerOk(req.headers.authorization, policy.token)) return { ok: true };
  if (policy.loopbackExempt && isLoopback(req.remoteAddress)) {
    const host = hostName(req.headers.host);
    if (!host || !policy.hosts.has(host)) return { ok: false, status: 403, reason: `Host ${String(req.headers.host ?? '').slice(0, 100)} is not served without a token` };
    if (SAFE_METHODS.has(req.method)) return { ok: true };
    if (req.headers[REQUEST_HEADER] !== '1' || !sameOrigin(req.headers)) {
      return { ok: false, status: 403, reason: `a request that changes state needs the bearer token, or the ${REQUEST_HEADER}: 1 header from this origin` };
    }
    return { ok: true };
  }
  if (!policy.token) return { ok: false, status: 403, reason: 'API token not configured: only loopback clients are served' };
  if (!req.headers.authorization) return { ok: false, status: 401, reason: 'Authorization: Bearer <token> required' };
  return { ok: false, status: 401, reason: 'invalid token' };
}
