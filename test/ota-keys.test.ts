/**
 * Signing keys, canonical CBOR, key rotation, and the operator CLI end to end (`netsensor keys generate`,
 * `netsensor model publish` to a file and to a broker where the gateway's distributor picks it up).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { keyId, loadPrivateKey, loadPublicKey, parsePublicKey, rawPublicKey, saveKeyPair, generateSigningKey } from '../common/keys.ts';
import { encodeCanonical } from '../protocol/canonical-cbor.ts';
import { cborDecode, decodeBundle, OtaRejected, signRotation } from '../protocol/manifest.ts';
import { ModelDistributor } from '../gateway/ota/distributor.ts';
import { startTestBroker, waitFor } from './helpers/ota-broker.ts';
import { buildTestModel, keys, openReceiver, quietLog, release, tempDir } from './helpers/ota-fixtures.ts';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: fileURLToPath(new URL('..', import.meta.url)) });
async function rejects(p: Promise<unknown>, check: (e: never) => boolean): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(check(e as never), `unexpected error: ${(e as Error).message}`);
    return;
  }
  assert.unreachable('expected a rejection');
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('canonical CBOR: RFC 8949 encodings, key order independent of insertion order', () => {
  assert.is(hex(encodeCanonical(0)), '00');
  assert.is(hex(encodeCanonical(23)), '17');
  assert.is(hex(encodeCanonical(24)), '1818');
  assert.is(hex(encodeCanonical(1000)), '1903e8');
  assert.is(hex(encodeCanonical(1000000)), '1a000f4240');
  assert.is(hex(encodeCanonical(1000000000000)), '1b000000e8d4a51000');
  assert.is(hex(encodeCanonical(-1000)), '3903e7');
  assert.is(hex(encodeCanonical(1.5)), 'fb3ff8000000000000');
  assert.is(hex(encodeCanonical('IETF')), '6449455446');
  assert.is(hex(encodeCanonical(new Uint8Array([1, 2]))), '420102');
  assert.is(hex(encodeCanonical([1, [2, 3]])), '8201820203');
  // Keys sorted by their encoded bytes: shorter first, then bytewise.
  assert.is(hex(encodeCanonical({ b: 1, a: 2, aa: 3 })), 'a3616102616201626161' + '03');
  const x = { z: [1, { y: 2, x: 1 }], a: 'q', m: null, skip: undefined };
  const y = { m: null, a: 'q', z: [1, { x: 1, y: 2 }] };
  assert.is(hex(encodeCanonical(x)), hex(encodeCanonical(y)));
  assert.equal(cborDecode(encodeCanonical({ t: 1_700_000_000_000, f: 0.25 })), { f: 0.25, t: 1_700_000_000_000 }, 'ms timestamps decode as numbers');
  assert.throws(() => encodeCanonical(Number.NaN));
  assert.throws(() => encodeCanonical(new Map() as never));
});

test('key files: private key 0600 (refused when readable by others), public key as PEM or base64', () => {
  const t = tempDir();
  try {
    const pair = generateSigningKey();
    const { privatePath, publicPath } = saveKeyPair(join(t.dir, 'k'), pair);
    assert.is(statSync(privatePath).mode & 0o777, 0o600);
    assert.is(keyId(loadPrivateKey(privatePath)), keyId(pair.publicKey));
    assert.is(keyId(loadPublicKey(publicPath)), keyId(pair.publicKey));
    assert.is(keyId(parsePublicKey(Buffer.from(rawPublicKey(pair.publicKey)).toString('base64'))), keyId(pair.publicKey));
    assert.throws(() => saveKeyPair(join(t.dir, 'k'), generateSigningKey()), /refusing to overwrite/);
    chmodSync(privatePath, 0o640);
    assert.throws(() => loadPrivateKey(privatePath), /readable by others/);
    assert.throws(() => parsePublicKey('bm90IGEga2V5'), /not an Ed25519 public key/);
  } finally {
    t.cleanup();
  }
});

test('key rotation: a new key is accepted only when endorsed by the current one, and persists', async () => {
  const t = tempDir();
  try {
    const a = keys(), b = keys(), c = keys(), evil = keys();
    const model = buildTestModel({ seed: 4 });
    let h = await openReceiver(t.dir, [a.publicKey]);
    // B without endorsement: refused.
    const unendorsed = await release(model, b.privateKey, { seq: 1 });
    await rejects(h.rx.apply(unendorsed.envelope, unendorsed.payload), (e: OtaRejected) => e.reason === 'untrusted_key');
    // A rotation record signed by a key the sensor does not trust: refused.
    const bogus = await release(model, b.privateKey, { seq: 1, rotations: signRotation(evil.privateKey, b.publicKey) });
    await rejects(h.rx.apply(bogus.envelope, bogus.payload), (e: OtaRejected) => e.reason === 'bad_rotation');
    // A endorses B (retiring A): accepted.
    const chainAB = signRotation(a.privateKey, b.publicKey);
    const viaB = await release(model, b.privateKey, { seq: 2, rotations: chainAB });
    await h.rx.apply(viaB.envelope, viaB.payload);
    assert.equal(h.rx.trustedKeyIds, [keyId(b.publicKey)], 'A retired, B trusted');
    await h.rx.close();
    // Persisted: after a restart, B is trusted and A no longer is, though the config still pins A.
    h = await openReceiver(t.dir, [a.publicKey]);
    assert.equal(h.rx.trustedKeyIds, [keyId(b.publicKey)]);
    const byA = await release(model, a.privateKey, { seq: 3 });
    await rejects(h.rx.apply(byA.envelope, byA.payload), (e: OtaRejected) => e.reason === 'untrusted_key');
    // The chain grows: B endorses C; the envelope carries A→B (already applied, skipped) and B→C.
    const viaC = await release(model, c.privateKey, { seq: 4, rotations: signRotation(b.privateKey, c.publicKey, chainAB) });
    await h.rx.apply(viaC.envelope, viaC.payload);
    assert.equal(h.rx.trustedKeyIds, [keyId(c.publicKey)]);
    await h.rx.close();
    // A sensor still on A takes the whole chain A→B→C at once.
    const fresh = tempDir();
    try {
      const h2 = await openReceiver(fresh.dir, [a.publicKey]);
      await h2.rx.apply(viaC.envelope, viaC.payload);
      assert.is(h2.rx.current?.seq, 4);
      await h2.rx.close();
    } finally {
      fresh.cleanup();
    }
  } finally {
    t.cleanup();
  }
});

test('CLI: keys generate → model publish --out → the bundle applies on a sensor; --broker reaches the gateway', async () => {
  const t = tempDir();
  const broker = await startTestBroker(18852);
  try {
    await cli('keys', 'generate', '--out', join(t.dir, 'keys'));
    const key = join(t.dir, 'keys', 'signing.key');
    assert.is(statSync(key).mode & 0o777, 0o600);
    const shown = (await cli('keys', 'show', join(t.dir, 'keys'))).stdout;
    const pinned = /public key: (\S+)/.exec(shown)![1];
    const modelPath = join(t.dir, 'detector.onnx');
    writeFileSync(modelPath, buildTestModel({ seed: 5, modelId: 'detector-v2' }));
    const out = join(t.dir, 'bundle.cbor');
    const pub = await cli('model', 'publish', modelPath, '--channel', 'stable', '--key', key, '--rollout', '50', '--seq', '7', '--out', out);
    assert.match(pub.stdout, /detector-v2 seq 7 → channel stable/);
    const bundle = decodeBundle(new Uint8Array(readFileSync(out)));
    const h = await openReceiver(join(t.dir, 'sensor'), [pinned]);
    await h.rx.apply(bundle.envelope, bundle.payload);
    assert.is(h.rx.current?.modelId, 'detector-v2');
    assert.is(h.rx.current?.manifest.rollout.percent, 50);
    await h.rx.close();

    const dist = new ModelDistributor({ bus: broker.bus, trustedKeys: [parsePublicKey(pinned)], log: quietLog });
    await dist.start();
    await cli('model', 'publish', modelPath, '--channel', 'beta', '--key', key, '--seq', '8', '--broker', broker.url);
    await waitFor(() => dist.apiData().channels.some((c) => c.channel === 'beta'), 5000, 'the gateway to take the upload');
    assert.is(dist.apiData().channels[0].seq, 8);
    // A publish with an unprotected key is refused before anything is signed.
    chmodSync(key, 0o644);
    await rejects(cli('model', 'publish', modelPath, '--channel', 'stable', '--key', key, '--out', out), (e: Error) => /readable by others/.test(String((e as { stderr?: string }).stderr)));
  } finally {
    await broker.close();
    t.cleanup();
  }
});

test.run();
