/**
 * The OTA receiver with real Ed25519 keys, real ONNX models run by onnxruntime-node and a real state directory:
 * a valid update applies and persists; every kind of bad update is refused with its own reason while the
 * previous model keeps running.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NUM_FEATURES } from '../core/schema.ts';
import { cborDecode, decodeEnvelope, encodeEnvelope, OtaRejected, signManifest, type Envelope } from '../protocol/manifest.ts';
import { buildTestModel, keys, openReceiver, release, resign, tempDir, type ReceiverHandle } from './helpers/ota-fixtures.ts';

const owner = keys();
const stranger = keys();
const modelA = buildTestModel({ seed: 1 });
const modelB = buildTestModel({ seed: 2 });

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'applied';
  } catch (e) {
    if (e instanceof OtaRejected) return e.reason;
    throw e;
  }
}

/** A receiver already running model A at seq 10. */
async function withBase(fn: (h: ReceiverHandle) => Promise<void>): Promise<void> {
  const t = tempDir();
  try {
    const h = await openReceiver(t.dir, [owner.publicKey]);
    const base = await release(modelA, owner.privateKey, { seq: 10 });
    await h.rx.apply(base.envelope, base.payload);
    assert.is(h.rx.current?.seq, 10);
    await fn(h);
    await h.rx.close();
  } finally {
    t.cleanup();
  }
}

async function assertStillOnBase(h: ReceiverHandle): Promise<void> {
  assert.is(h.rx.current?.seq, 10, 'the old model is still current');
  assert.is(h.applied.length, 1, 'onApply was not called again');
  const state = JSON.parse(readFileSync(join(h.dir, 'state.json'), 'utf8'));
  assert.is(state.current, 10);
  assert.is(state.highest_seq, 10);
  // … and it still scores.
  const out = await h.rx.current!.model.predict(new Float32Array(NUM_FEATURES), 1, NUM_FEATURES);
  assert.is(out.length, 3);
  assert.ok(Math.abs(out[0] + out[1] + out[2] - 1) < 1e-4);
}

test('a valid update is verified, self-tested, persisted and handed to the pipeline', async () => {
  await withBase(async (h) => {
    const next = await release(modelB, owner.privateKey, { seq: 11 });
    await h.rx.apply(next.envelope, next.payload);
    assert.is(h.rx.current?.seq, 11);
    assert.is(h.applied.length, 2);
    assert.is(h.applied[1].modelId, 'm11');
    assert.equal([...h.applied[1].classes], ['benign', 'scan', 'dos']);
    const state = JSON.parse(readFileSync(join(h.dir, 'state.json'), 'utf8'));
    assert.equal([state.current, state.previous, state.highest_seq], [11, 10, 11]);
    assert.ok(readFileSync(join(h.dir, 'model-11.onnx')).equals(Buffer.from(modelB)), 'payload persisted byte for byte');
    assert.ok(readFileSync(join(h.dir, 'model-10.onnx')).equals(Buffer.from(modelA)), 'previous kept for rollback');
    // The self-test vectors really were checked against the new model: they are the publisher's outputs.
    assert.ok(next.manifest.self_test.vectors.length >= 1);
  });
});

test('tampered payload → hash_mismatch (and size_mismatch when the length changes)', async () => {
  await withBase(async (h) => {
    const next = await release(modelB, owner.privateKey, { seq: 11 });
    const tampered = Uint8Array.from(next.payload);
    tampered[tampered.length - 5] ^= 0x40;
    assert.is(await reasonOf(h.rx.apply(next.envelope, tampered)), 'hash_mismatch');
    assert.is(await reasonOf(h.rx.apply(next.envelope, next.payload.subarray(1))), 'size_mismatch');
    await assertStillOnBase(h);
  });
});

test('signed by a key that is not pinned → untrusted_key; a forged signature under the pinned id → bad_signature', async () => {
  await withBase(async (h) => {
    const next = await release(modelB, stranger.privateKey, { seq: 11 });
    assert.is(await reasonOf(h.rx.apply(next.envelope, next.payload)), 'untrusted_key');
    const env = decodeEnvelope(next.envelope);
    const forged: Envelope = { ...env, signatures: [{ keyid: (await release(modelB, owner.privateKey, { seq: 11 }).then((r) => decodeEnvelope(r.envelope))).signatures[0].keyid, sig: env.signatures[0].sig }] };
    assert.is(await reasonOf(h.rx.apply(encodeEnvelope(forged), next.payload)), 'bad_signature');
    // A signed manifest edited after signing (seq bumped) no longer verifies either.
    const good = decodeEnvelope((await release(modelB, owner.privateKey, { seq: 11 })).envelope);
    const body = cborDecode(good.signed) as Record<string, unknown>;
    const edited = signManifest({ ...(body as never), seq: 12 }, stranger.privateKey);
    assert.is(await reasonOf(h.rx.apply(encodeEnvelope({ ...edited, signatures: good.signatures }), next.payload)), 'bad_signature');
    await assertStillOnBase(h);
  });
});

test('no signature → no_signature; garbage → bad_envelope', async () => {
  await withBase(async (h) => {
    const next = await release(modelB, owner.privateKey, { seq: 11 });
    const env = decodeEnvelope(next.envelope);
    assert.is(await reasonOf(h.rx.apply(encodeEnvelope({ ...env, signatures: [] }), next.payload)), 'no_signature');
    assert.is(await reasonOf(h.rx.apply(new Uint8Array(randomBytes(200)), next.payload)), 'bad_envelope');
    await assertStillOnBase(h);
  });
});

test('expired manifest → expired', async () => {
  await withBase(async (h) => {
    const now = Date.now();
    const next = await release(modelB, owner.privateKey, { seq: 11, now: now - 10_000, expiresMs: now - 1 });
    assert.is(await reasonOf(h.rx.apply(next.envelope, next.payload)), 'expired');
    await assertStillOnBase(h);
  });
});

test('equal or lower sequence number → stale_sequence (anti-rollback survives a restart)', async () => {
  await withBase(async (h) => {
    for (const seq of [10, 9, 1]) {
      const old = await release(modelB, owner.privateKey, { seq });
      assert.is(await reasonOf(h.rx.apply(old.envelope, old.payload)), 'stale_sequence', `seq ${seq}`);
    }
    await assertStillOnBase(h);
    // The floor is persisted: a fresh receiver on the same directory refuses the same replay.
    await h.rx.close();
    const again = await openReceiver(h.dir, [owner.publicKey]);
    assert.is(again.rx.current?.seq, 10, 'restart loads the persisted model');
    const old = await release(modelB, owner.privateKey, { seq: 9 });
    assert.is(await reasonOf(again.rx.apply(old.envelope, old.payload)), 'stale_sequence');
    h.rx = again.rx;
    h.applied.length = 1;
  });
});

test('incompatible feature schema → schema_mismatch (manifest, or model metadata disagreeing with it)', async () => {
  await withBase(async (h) => {
    const other = buildTestModel({ seed: 2, schemaId: 'nsf1-000000000000' });
    const next = await release(other, owner.privateKey, { seq: 11 });
    assert.is(next.manifest.schema_id, 'nsf1-000000000000', 'publisher takes the id from the model metadata');
    assert.is(await reasonOf(h.rx.apply(next.envelope, next.payload)), 'schema_mismatch');
    // A manifest that claims the sensor's schema for a model whose metadata says otherwise is refused too.
    const lying = await release(other, owner.privateKey, { seq: 12, schemaId: (await release(modelB, owner.privateKey, { seq: 12 })).manifest.schema_id });
    assert.is(await reasonOf(h.rx.apply(lying.envelope, lying.payload)), 'schema_mismatch');
    // Too-old sensor.
    const future = await release(modelB, owner.privateKey, { seq: 13, minSensorVersion: '99.0.0' });
    assert.is(await reasonOf(h.rx.apply(future.envelope, future.payload)), 'sensor_too_old');
    await assertStillOnBase(h);
  });
});

test('corrupt ONNX (honestly signed) → model_load_failed', async () => {
  await withBase(async (h) => {
    const next = await release(modelB, owner.privateKey, { seq: 11 });
    const corrupt = Uint8Array.from(modelB);
    corrupt.fill(0xa5, 40, 400); // inside the graph protobuf
    const env = resign(next.manifest, owner.privateKey, corrupt);
    assert.is(await reasonOf(h.rx.apply(env, corrupt)), 'model_load_failed');
    const random = new Uint8Array(randomBytes(5000));
    assert.is(await reasonOf(h.rx.apply(resign(next.manifest, owner.privateKey, random), random)), 'model_load_failed');
    await assertStillOnBase(h);
  });
});

test('failing self-test (expected outputs from another model) → self_test_failed; wrong classes → class_mismatch', async () => {
  await withBase(async (h) => {
    const next = await release(modelB, owner.privateKey, { seq: 11, expectFrom: modelA });
    assert.is(await reasonOf(h.rx.apply(next.envelope, next.payload)), 'self_test_failed');
    const twoClass = buildTestModel({ seed: 3, classes: ['benign', 'attack'] });
    const wrong = await release(twoClass, owner.privateKey, { seq: 12 });
    const claimed = resign({ ...wrong.manifest, classes: ['benign', 'scan'] , self_test: { ...wrong.manifest.self_test, vectors: wrong.manifest.self_test.vectors.map((v) => ({ ...v, class: v.class === 'attack' ? 'scan' : v.class })) } }, owner.privateKey);
    assert.is(await reasonOf(h.rx.apply(claimed, wrong.payload)), 'class_mismatch');
    await assertStillOnBase(h);
  });
});

test('a stored model whose bytes were damaged is not loaded: the previous one runs', async () => {
  await withBase(async (h) => {
    const next = await release(modelB, owner.privateKey, { seq: 11 });
    await h.rx.apply(next.envelope, next.payload);
    await h.rx.close();
    const { writeFileSync } = await import('node:fs');
    const p = join(h.dir, 'model-11.onnx');
    const bytes = readFileSync(p);
    bytes[100] ^= 1;
    writeFileSync(p, bytes);
    const again = await openReceiver(h.dir, [owner.publicKey]);
    assert.is(again.rx.current?.seq, 10, 'fell back to the previous model');
    assert.is(again.applied.length, 1);
    h.rx = again.rx;
    h.applied.length = 1;
  });
});

test.run();
