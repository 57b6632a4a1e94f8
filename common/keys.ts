/**
 * Ed25519 model-signing keys. Private keys live in PKCS#8 PEM files with mode 0600 (refused when group or
 * others can read them, like ssh does); public keys are pinned on sensors as PEM or as the 32 raw bytes in
 * base64 (one short line that fits a config file). A key is named by its id: sha256 of the raw public key, hex.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs } from './dirs.js';
import { NetsensorError } from './errors.js';

export const SIGNING_KEY_FILE = 'signing.key';
export const PUBLIC_KEY_FILE = 'signing.pub';
/** Written next to a key that was endorsed by its predecessor (see protocol/manifest.ts, key rotation). */
export const ROTATION_FILE = 'rotation.cbor';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateSigningKey(): KeyPair {
  return generateKeyPairSync('ed25519');
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new NetsensorError('ERR_KEY', 'not an Ed25519 key');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new NetsensorError('ERR_KEY', `an Ed25519 public key has 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

export function keyId(key: KeyObject | Uint8Array): string {
  const raw = key instanceof Uint8Array ? key : rawPublicKey(key);
  return createHash('sha256').update(raw).digest('hex');
}

/** Parses a pinned public key: PEM text, or base64/base64url of the 32 raw bytes. */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  try {
    if (t.startsWith('-----BEGIN')) {
      const k = createPublicKey(t);
      if (k.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${k.asymmetricKeyType}`);
      return k;
    }
    return publicKeyFromRaw(new Uint8Array(Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64')));
  } catch (e) {
    throw new NetsensorError('ERR_KEY', `not an Ed25519 public key (PEM or 32 bytes base64): ${(e as Error).message}`, { cause: e });
  }
}

/** Writes a file with the given mode, fsynced (a key that vanishes in a power cut is worse than none). */
function writeFileDurable(path: string, data: string | Uint8Array, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, mode); // the umask may have narrowed or widened what openSync asked for
}

/** Saves a key pair in `dir` (created 0700). Refuses to overwrite an existing signing key. */
export function saveKeyPair(dir: string, pair: KeyPair): { privatePath: string; publicPath: string } {
  const privatePath = join(dir, SIGNING_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  const cannot = (e: unknown) => new NetsensorError('ERR_KEY', `cannot write keys to ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  try {
    makeDirs(dir, 0o700);
  } catch (e) {
    throw cannot(e);
  }
  if (existsSync(privatePath)) throw new NetsensorError('ERR_KEY', `${privatePath} exists; refusing to overwrite a signing key`);
  try {
    writeFileDurable(privatePath, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 0o600);
    writeFileDurable(publicPath, pair.publicKey.export({ format: 'pem', type: 'spki' }) as string, 0o644);
  } catch (e) {
    throw cannot(e);
  }
  return { privatePath, publicPath };
}

export function writeRotationFile(dir: string, bytes: Uint8Array): string {
  const p = join(dir, ROTATION_FILE);
  writeFileDurable(p, bytes, 0o644);
  return p;
}

/** Loads a private signing key; refuses a file that group or others may read. */
export function loadPrivateKey(path: string): KeyObject {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new NetsensorError('ERR_KEY', `cannot read signing key ${path}: ${(e as NodeJS.ErrnoException).code}`, { cause: e });
  }
  if ((st.mode & 0o077) !== 0) {
    throw new NetsensorError('ERR_KEY', `signing key ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  try {
    const k = createPrivateKey(readFileSync(path));
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${k.asymmetricKeyType}`);
    return k;
  } catch (e) {
    throw new NetsensorError('ERR_KEY', `${path} is not an Ed25519 private key: ${(e as Error).message}`, { cause: e });
  }
}

/** Loads a public key file (PEM or base64 raw); a private key file is accepted and reduced to its public half. */
export function loadPublicKey(path: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new NetsensorError('ERR_KEY', `cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  if (text.includes('PRIVATE KEY')) return createPublicKey(loadPrivateKey(path));
  return parsePublicKey(text);
}

/**
 * Several public keys from one text: PEM blocks, or one base64 key per line ('#' comments and blank lines
 * ignored). Used for the gateway's trusted upload keys and the sensor's pinned keys.
 */
export function parsePublicKeys(text: string): KeyObject[] {
  const pem = text.match(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g);
  if (pem) return pem.map((block) => parsePublicKey(block));
  return text.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean).map((line) => parsePublicKey(line));
}

/** A pinned-key entry: a file (PEM, or base64 lines) or, when no such file exists, an inline base64 key. */
export function loadPublicKeysFrom(entry: string): KeyObject[] {
  let text: string;
  try {
    text = readFileSync(entry, 'utf8');
  } catch (e) {
    // 32 bytes are 43 base64 characters (+ '='): anything else that cannot be read is a missing file.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !/^[A-Za-z0-9+/_-]{43}=?$/.test(entry.trim())) {
      throw new NetsensorError('ERR_KEY', `cannot read key file ${entry}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
    return [parsePublicKey(entry)];
  }
  if (text.includes('PRIVATE KEY')) throw new NetsensorError('ERR_KEY', `${entry} holds a private key: pin the public key (signing.pub) instead`);
  const keys = parsePublicKeys(text);
  if (keys.length === 0) throw new NetsensorError('ERR_KEY', `${entry} holds no public key`);
  return keys;
}
