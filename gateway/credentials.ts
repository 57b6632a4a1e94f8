/**
 * Per-sensor MQTT credentials for the embedded broker: a text file of `id:hash[:role]` lines where hash is
 * `scrypt$N$r$p$salt$key` (node:crypto scrypt, base64). Passwords are generated, printed once and never stored.
 * Roles: `sensor` (default: publishes under its own id, reads models), `observer` (reads alerts and status,
 * e.g. Home Assistant), `admin` (everything; operators' tools).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { NetsensorError } from '../common/errors.js';
import { ID_PATTERN } from '../protocol/topics.js';

export type Role = 'sensor' | 'observer' | 'admin';
export const ROLES: readonly Role[] = ['sensor', 'observer', 'admin'];

export interface Credential {
  id: string;
  hash: string;
  role: Role;
}

const PARAMS = { N: 16384, r: 8, p: 1 };
const KEYLEN = 32;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  // Refuse absurd cost parameters from a tampered file instead of hanging the broker.
  if (!(N >= 1024 && N <= 1 << 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
  const salt = Buffer.from(parts[4], 'base64');
  const want = Buffer.from(parts[5], 'base64');
  if (want.length < 16) return false;
  const got = await scrypt(password, salt, want.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return timingSafeEqual(got, want);
}

export function parseCredentials(text: string, source = 'credentials'): Map<string, Credential> {
  const out = new Map<string, Credential>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [id, hash, role = 'sensor', ...rest] = line.split(':');
    if (rest.length > 0 || !ID_PATTERN.test(id) || !hash?.startsWith('scrypt$') || !ROLES.includes(role as Role)) {
      throw new NetsensorError('ERR_CONFIG', `${source}:${i + 1}: expected id:scrypt$…[:sensor|observer|admin]`);
    }
    out.set(id, { id, hash, role: role as Role });
  });
  return out;
}

export function readCredentials(path: string): Map<string, Credential> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new NetsensorError('ERR_CONFIG', `cannot read credentials file ${path}: ${(e as Error).message}`);
  }
  return parseCredentials(text, path);
}

/** Adds or replaces `id` in the file (created with mode 0600) and returns the new password. */
export async function addCredential(path: string, id: string, role: Role = 'sensor'): Promise<string> {
  if (!ID_PATTERN.test(id)) throw new NetsensorError('ERR_USAGE', `sensor id '${id}' must match ${ID_PATTERN}`);
  const existing = existsSync(path) ? readCredentials(path) : new Map<string, Credential>();
  const password = randomBytes(18).toString('base64url');
  existing.set(id, { id, hash: await hashPassword(password), role });
  const text = [...existing.values()].map((c) => `${c.id}:${c.hash}${c.role === 'sensor' ? '' : ':' + c.role}`).join('\n') + '\n';
  try {
    writeFileSync(path, text, { mode: 0o600 });
    chmodSync(path, 0o600);
  } catch (e) {
    throw new NetsensorError('ERR_CONFIG', `cannot write credentials file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  return password;
}
