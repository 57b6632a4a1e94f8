/**
 * Who may call the API: loopback clients without a token (unless `loopbackExempt` is off), everyone else
 * only with `Authorization: Bearer <token>`. With no token configured, non-loopback clients are refused
 * outright, so exposing the port by accident exposes nothing.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { isLoopback } from '../broker.js';

export type AuthDecision = { ok: true } | { ok: false; status: 401 | 403; reason: string };

const digest = (s: string) => createHash('sha256').update(s).digest();

export function authorizeRequest(remoteAddress: string | undefined, authorization: string | undefined, opts: { token?: string; loopbackExempt: boolean }): AuthDecision {
  if (opts.loopbackExempt && isLoopback(remoteAddress)) return { ok: true };
  if (!opts.token) return { ok: false, status: 403, reason: 'API token not configured: only loopback clients are served' };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return { ok: false, status: 401, reason: 'Authorization: Bearer <token> required' };
  // Compare digests so the comparison is constant-time whatever the lengths.
  if (!timingSafeEqual(digest(m[1]), digest(opts.token))) return { ok: false, status: 401, reason: 'invalid token' };
  return { ok: true };
}
