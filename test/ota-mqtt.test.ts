/**
 * One sensor receiver over real MQTT (aedes on loopback): an update applies while a scoring loop keeps running
 * batches (no batch lost, none scored by a released session), and bad updates arriving over MQTT are reported
 * `rejected` with their reason on the sensor's ota topic while the old model keeps running.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ModelDistributor } from '../gateway/ota/distributor.ts';
import { NUM_FEATURES } from '../core/schema.ts';
import { encodeBundle, splitPayload } from '../protocol/manifest.ts';
import { topics } from '../protocol/topics.ts';
import type { ActiveModel, OtaReport, RolloutRecord } from '../sensor/ota.ts';
import { startTestBroker, waitFor, type TestBroker } from './helpers/ota-broker.ts';
import { buildTestModel, keys, openReceiver, quietLog, release, tempDir, type ReceiverHandle } from './helpers/ota-fixtures.ts';

const owner = keys();
const CHUNK = 4096;
let broker: TestBroker;
let h: ReceiverHandle;
let cleanup: () => void;
let dist: ModelDistributor;
const reports: OtaReport[] = [];

/** Stand-in for the pipeline's model slot: swaps at batch boundaries, resolves when the old one is idle. */
class ScoringLoop {
  model!: ActiveModel;
  pending?: { next: ActiveModel; done: () => void };
  batches = 0;
  rows = 0;
  errors: string[] = [];
  versions: number[] = [];
  running = true;
  setModel(next: ActiveModel): Promise<void> {
    if (!this.model) { this.model = next; return Promise.resolve(); }
    return new Promise((done) => { this.pending = { next, done }; });
  }
  async run(): Promise<void> {
    const batch = new Float32Array(64 * NUM_FEATURES).map((_, i) => (i % 97) * 3);
    while (this.running) {
      if (this.pending) { this.model = this.pending.next; this.pending.done(); this.pending = undefined; }
      try {
        const out = await this.model.model.predict(batch, 64, NUM_FEATURES);
        if (out.length !== 64 * 3) throw new Error(`bad output length ${out.length}`);
        this.rows += 64;
      } catch (e) {
        this.errors.push((e as Error).message);
      }
      this.batches++;
      if (this.versions.at(-1) !== this.model.seq) this.versions.push(this.model.seq);
      await new Promise((r) => setImmediate(r));
    }
  }
}
const loop = new ScoringLoop();
let loopDone: Promise<void>;

test.before(async () => {
  broker = await startTestBroker(18853);
  const t = tempDir();
  cleanup = t.cleanup;
  h = await openReceiver(t.dir, [owner.publicKey], { sensorId: 'm1', onApply: (a) => loop.setModel(a) });
  const base = await release(buildTestModel({ seed: 1, hidden: 256 }), owner.privateKey, { seq: 10 });
  await h.rx.apply(base.envelope, base.payload);
  loopDone = loop.run();
  await broker.bus.subscribe(topics.allOta, (_t, p) => { reports.push(JSON.parse(p.toString())); });
  dist = new ModelDistributor({ bus: broker.bus, trustedKeys: [owner.publicKey], log: quietLog });
  await dist.start();
  await h.rx.attach(await broker.connect('sensor-m1'));
  await waitFor(() => reports.some((r) => r.state === 'current'), 3000, 'the current report');
});

test.after(async () => {
  loop.running = false;
  await loopDone;
  await h.rx.close();
  await broker.close();
  cleanup();
});

test('an update over MQTT applies between batches: no batch lost, no error', async () => {
  await waitFor(() => dist.apiData().sensors.length === 1, 3000, 'the gateway to see the sensor');
  const next = await release(buildTestModel({ seed: 2, hidden: 256 }), owner.privateKey, { seq: 11, chunkSize: CHUNK });
  const batchesBefore = loop.batches;
  const t0 = Date.now();
  await dist.upload(encodeBundle({ v: 1, envelope: next.envelope, payload: next.payload }));
  await waitFor(() => reports.some((r) => r.seq === 11 && r.state === 'applied'), 10_000, 'applied report');
  const ms = Date.now() - t0;
  console.log(`  ${(next.payload.length / 1024).toFixed(0)} KiB in ${next.manifest.payload.chunks.length} chunks: upload → applied report in ${ms} ms; ${loop.batches - batchesBefore} batches scored meanwhile`);
  assert.is(h.rx.current?.seq, 11);
  await waitFor(() => loop.versions.at(-1) === 11, 2000, 'the loop to use the new model');
  assert.equal(loop.errors, [], 'no batch failed (the old session was released only after the swap)');
  assert.is(loop.rows, loop.batches * 64, 'every batch scored');
  assert.equal(loop.versions, [10, 11]);
  assert.ok(loop.batches - batchesBefore > 1, 'scoring went on during the update');
});

async function publishRaw(seq: number, envelope: Uint8Array, chunks: Uint8Array[], channel = 'stable'): Promise<void> {
  for (let i = 0; i < chunks.length; i++) await broker.bus.publish(topics.modelChunk(channel, seq, i), Buffer.from(chunks[i]), { qos: 1, retain: true });
  const record: RolloutRecord = { v: 1, seq, model_id: `m${seq}`, state: 'complete', admitted: [] };
  await broker.bus.publish(topics.modelRollout(channel), JSON.stringify(record), { qos: 1, retain: true });
  await broker.bus.publish(topics.model(channel), Buffer.from(envelope), { qos: 1, retain: true });
}

test('bad updates over MQTT are reported with their reason; the old model keeps running', async () => {
  // A chunk altered on the broker: refused as soon as that chunk arrives.
  const rel = await release(buildTestModel({ seed: 3, hidden: 256 }), owner.privateKey, { seq: 12, chunkSize: CHUNK });
  const chunks = splitPayload(rel.payload, CHUNK).map((c) => Uint8Array.from(c));
  chunks[2][100] ^= 0xff;
  await publishRaw(12, rel.envelope, chunks);
  await waitFor(() => reports.some((r) => r.seq === 12), 5000, 'report for seq 12');
  const r12 = reports.find((r) => r.seq === 12)!;
  assert.is(r12.state, 'rejected');
  assert.is(r12.reason, 'hash_mismatch');
  assert.equal(r12.current, { model_id: 'm11', seq: 11 });

  // Signed by an unknown key.
  const stranger = keys();
  const forged = await release(buildTestModel({ seed: 4 }), stranger.privateKey, { seq: 13 });
  await publishRaw(13, forged.envelope, splitPayload(forged.payload));
  await waitFor(() => reports.some((r) => r.seq === 13), 5000, 'report for seq 13');
  assert.is(reports.find((r) => r.seq === 13)!.reason, 'untrusted_key');

  // Expired.
  const now = Date.now();
  const expired = await release(buildTestModel({ seed: 5 }), owner.privateKey, { seq: 14, now: now - 5000, expiresMs: now - 1000 });
  await publishRaw(14, expired.envelope, splitPayload(expired.payload));
  await waitFor(() => reports.some((r) => r.seq === 14), 5000, 'report for seq 14');
  assert.is(reports.find((r) => r.seq === 14)!.reason, 'expired');

  assert.is(h.rx.current?.seq, 11);
  assert.equal(loop.errors, []);
});

test('reconnecting does not re-report the retained manifest of the model already running', async () => {
  // Put the current model's manifest back as the retained one, then reconnect.
  await broker.bus.publish(topics.model('stable'), Buffer.alloc(0), { qos: 1, retain: true });
  const currentEnvelope = (await import('node:fs')).readFileSync(`${h.dir}/model-11.manifest`);
  await broker.bus.publish(topics.model('stable'), currentEnvelope, { qos: 1, retain: true });
  await h.rx.detach();
  const before = reports.length;
  await h.rx.attach(await broker.connect('sensor-m1-again'));
  await new Promise((r) => setTimeout(r, 400));
  const fresh = reports.slice(before);
  assert.equal(fresh.map((r) => r.state), ['current'], 'only the current-model report');
});

test('a manifest with the running model\'s seq but other content is reported as a conflict, once', async () => {
  const other = await release(buildTestModel({ seed: 6 }), owner.privateKey, { seq: 11, chunkSize: CHUNK });
  const before = reports.length;
  await publishRaw(11, other.envelope, splitPayload(other.payload, CHUNK));
  await waitFor(() => reports.slice(before).some((r) => r.seq === 11), 5000, 'report for the conflicting seq 11');
  const r = reports.slice(before).find((x) => x.seq === 11)!;
  assert.is(r.state, 'rejected');
  assert.is(r.reason, 'sequence_conflict');
  assert.equal(r.current, { model_id: 'm11', seq: 11 });
  // Delivered again (same bytes): not reported again.
  await broker.bus.publish(topics.model('stable'), Buffer.from(other.envelope), { qos: 1, retain: true });
  await new Promise((res) => setTimeout(res, 300));
  assert.is(reports.slice(before).filter((x) => x.seq === 11).length, 1);
  assert.is(h.rx.current?.seq, 11);
  assert.equal(loop.errors, []);
});

test('a truncated chunk set is given up after the chunk timeout and reported', async () => {
  const t = tempDir();
  const m2 = await openReceiver(t.dir, [owner.publicKey], { sensorId: 'm2', channel: 'beta', chunkTimeoutMs: 600 });
  try {
    await m2.rx.attach(await broker.connect('sensor-m2'));
    const rel = await release(buildTestModel({ seed: 7, hidden: 256 }), owner.privateKey, { seq: 20, channel: 'beta', chunkSize: CHUNK });
    const chunks = splitPayload(rel.payload, CHUNK);
    assert.ok(chunks.length > 3);
    const t0 = Date.now();
    await publishRaw(20, rel.envelope, chunks.slice(0, 2), 'beta');
    await waitFor(() => reports.some((r) => r.sensor === 'm2' && r.seq === 20), 5000, 'a report about the stalled download');
    const r = reports.find((x) => x.sensor === 'm2' && x.seq === 20)!;
    assert.is(r.state, 'rejected');
    assert.is(r.reason, 'download_timeout');
    assert.match(r.message ?? '', /2 of \d+ chunks/);
    assert.ok(Date.now() - t0 >= 600);
    assert.is(m2.rx.current, null, 'nothing applied');
  } finally {
    await m2.rx.close();
    t.cleanup();
  }
});

test.run();
