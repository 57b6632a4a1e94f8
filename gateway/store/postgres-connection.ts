/**
 * store.url → the pg client's options. The password never sits in the URL (it would show in logs, `ps` and
 * config dumps): it comes from store.passwordFile (or PGPASSWORD / ~/.pgpass, which the client reads itself).
 * With store.caFile the connection is TLS and the server's certificate is verified against it.
 * Only types from `pg` here: configuration is checked at every gateway start, and loading the client is not free.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { NetsensorError } from '../../common/errors.js';

export interface PostgresSettings {
  url: string;
  passwordFile?: string;
  caFile?: string;
  /** Connections this process opens at most. */
  poolSize?: number;
}

export function postgresOptions(s: PostgresSettings): pg.PoolConfig {
  let u: URL;
  try {
    u = new URL(s.url);
  } catch {
    throw new NetsensorError('ERR_CONFIG', 'store.url: expected postgres://user@host:port/database');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new NetsensorError('ERR_CONFIG', `store.url: expected postgres://…, got ${u.protocol}//…`);
  if (u.password) throw new NetsensorError('ERR_CONFIG', 'store.url: no password in the URL (it would show in logs and ps); put it in store.passwordFile');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.username || !database) throw new NetsensorError('ERR_CONFIG', 'store.url: name the user and the database: postgres://user@host:port/database');
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username),
    database,
    password: s.passwordFile ? readSecret(s.passwordFile, 'store.passwordFile') : undefined,
    ssl: s.caFile ? { ca: readSecret(s.caFile, 'store.caFile'), rejectUnauthorized: true } : undefined,
    max: s.poolSize ?? 8,
    connectionTimeoutMillis: 10_000,
  };
}

/** The URL as logs may show it (it never holds a password; query options are left out all the same). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? u.username + '@' : ''}${u.host}${u.pathname}`;
  } catch {
    return '(invalid store.url)';
  }
}

function readSecret(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new NetsensorError('ERR_CONFIG', `${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
