/**
 * `netsensor keys generate --out DIR [--signed-by OLD_KEY]` and `netsensor keys show FILE|DIR`.
 *
 * generate: a new Ed25519 signing key (DIR/signing.key, mode 0600) and its public key (DIR/signing.pub) to pin
 * on sensors. With --signed-by, the current signing key endorses the new one: DIR/rotation.cbor holds the chain
 * of rotation records that `model publish` attaches, so sensors that trust the old key accept the new one.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { NetsensorError } from '../../common/errors.js';
import {
  PUBLIC_KEY_FILE, ROTATION_FILE, SIGNING_KEY_FILE, generateSigningKey, keyId, loadPrivateKey, loadPublicKey, rawPublicKey,
  saveKeyPair, writeRotationFile,
} from '../../common/keys.js';
import { decodeRotationChain, encodeRotationChain, signRotation } from '../../protocol/manifest.js';

export const summary = 'generate and inspect model-signing keys';

const HELP = `usage:
  netsensor keys generate --out DIR [--signed-by OLD_SIGNING_KEY] [--keep-old]
      new Ed25519 key: DIR/${SIGNING_KEY_FILE} (mode 0600, keep it offline) and DIR/${PUBLIC_KEY_FILE} (pin on sensors).
      --signed-by: endorse the new key with the current one (key rotation; writes DIR/${ROTATION_FILE});
      the old key is retired on sensors once they accept the rotation, unless --keep-old.
  netsensor keys show FILE|DIR
      key id, and the public key as PEM and as the one-line base64 form for sensor configuration.
`;

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new NetsensorError('ERR_USAGE', `${name} needs a value`);
  return v;
}

function describe(pub: KeyObject): string {
  return [
    `key id:     ${keyId(pub)}`,
    `public key: ${Buffer.from(rawPublicKey(pub)).toString('base64')}`,
    (pub.export({ format: 'pem', type: 'spki' }) as string).trimEnd(),
  ].join('\n') + '\n';
}

async function generate(argv: string[]): Promise<number> {
  const out = flag(argv, '--out');
  if (!out) throw new NetsensorError('ERR_USAGE', 'keys generate needs --out DIR (netsensor keys --help)');
  const signedBy = flag(argv, '--signed-by');
  // Load the endorsing key before writing anything, so a bad --signed-by leaves no orphan key behind.
  const current = signedBy ? loadPrivateKey(signedBy) : undefined;
  const chainPath = signedBy ? join(dirname(signedBy), ROTATION_FILE) : undefined;
  const chain = chainPath && existsSync(chainPath) ? decodeRotationChain(readFileSync(chainPath)) : [];
  const pair = generateSigningKey();
  const { privatePath, publicPath } = saveKeyPair(out, pair);
  process.stdout.write(`wrote ${privatePath} (mode 600) and ${publicPath}\n`);
  if (current) {
    const next = signRotation(current, pair.publicKey, chain, !argv.includes('--keep-old'));
    const p = writeRotationFile(out, encodeRotationChain(next));
    process.stdout.write(`wrote ${p}: rotation ${next.length} from key ${keyId(current).slice(0, 16)}… (attached by model publish)\n`);
  }
  process.stdout.write(describe(pair.publicKey));
  return 0;
}

/** False for anything that cannot be stat'ed: it is then read as a key file, which fails with ERR_KEY naming it. */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function show(argv: string[]): Promise<number> {
  const target = argv.find((a) => !a.startsWith('--'));
  if (!target) throw new NetsensorError('ERR_USAGE', 'keys show needs a key file or directory (netsensor keys --help)');
  const file = isDirectory(target)
    ? [join(target, PUBLIC_KEY_FILE), join(target, SIGNING_KEY_FILE)].find((f) => existsSync(f))
    : target;
  if (!file) throw new NetsensorError('ERR_KEY', `no ${PUBLIC_KEY_FILE} or ${SIGNING_KEY_FILE} in ${target}`);
  process.stdout.write(describe(loadPublicKey(file)));
  const rot = join(dirname(file), ROTATION_FILE);
  if (existsSync(rot)) process.stdout.write(`rotation chain: ${decodeRotationChain(readFileSync(rot)).length} record(s) in ${rot}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub) throw new NetsensorError('ERR_USAGE', 'keys needs a subcommand: generate or show (netsensor keys --help)');
  if (sub === '--help' || sub === '-h' || rest.includes('--help')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (sub === 'generate') return generate(rest);
  if (sub === 'show') return show(rest);
  throw new NetsensorError('ERR_USAGE', `unknown keys subcommand '${sub}' (netsensor keys --help)`);
}
