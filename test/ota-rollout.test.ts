/**
 * Over real MQTT (embedded aedes on loopback): the gateway's ModelDistributor publishes a signed release in
 * chunks and stages it; four sensor receivers (real MQTT clients, real onnxruntime, real state directories)
 * follow the channel. A release that fails its self-test on the first stage (2 of 4) halts the rollout and the
 * other two never download it; a healthy release goes to stage 1, then to everyone.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ModelDistributor } from '../gateway/ota/distributor.ts';
import { encodeBundle } from '../protocol/manifest.ts';
import { topics } from '../protocol/topics.ts';
import type { OtaReport } from '../sensor/ota.ts';
import { startTestBroker, waitFor, type TestBroker } from './helpers/ota-broker.ts';
import { buildTestModel, keys, openReceiver, quietLog, release, tempDir, type ReceiverHandle } from './helpers/ota-fixtures.ts';

const PORT = 18851;
const owner = keys();
const modelA = buildTestModel({ seed: 1, hidden: 64 });
const modelB = buildTestModel({ seed: 2, hidden: 64 });
const modelC = buildTestModel({ seed: 3, hidden: 64 });
const CHUNK = 4096;

interface Sensor extends ReceiverHandle { id: string; reports: OtaReport[] }

let broker: TestBroker;
let dist: ModelDistributor;
const sensors: Sensor[] = [];
const dirs: Array<() => void> = [];

test.before(async () => {
  broker = await startTestBroker(PORT);
  dist = new ModelDistributor({ bus: broker.bus, trustedKeys: [owner.publicKey], maxFailureRate: 0.25, log: quietLog });
  await dist.start();
  const reports = new Map<string, OtaReport[]>();
  await broker.bus.subscribe(topics.allOta, (topic, payload) => {
    const r = JSON.parse(payload.toString()) as OtaReport;
    reports.get(r.sensor)?.push(r);
  });
  const base = await release(modelA, owner.privateKey, { seq: 10, chunkSize: CHUNK });
  for (const id of ['s1', 's2', 's3', 's4']) {
    const t = tempDir();
    dirs.push(t.cleanup);
    const h = await openReceiver(t.dir, [owner.publicKey], { sensorId: id });
    await h.rx.apply(base.envelope, base.payload); // every sensor runs model A (seq 10) to start with
    const list: OtaReport[] = [];
    reports.set(id, list);
    const client = await broker.connect(`sensor-${id}`);
    await h.rx.attach(client);
    sensors.push({ ...h, id, reports: list });
  }
  await waitFor(() => dist.apiData().sensors.length === 4, 5000, 'the gateway to know 4 sensors');
});

test.after(async () => {
  for (const s of sensors) await s.rx.close();
  await broker?.close();
  for (const c of dirs) c();
});

const chunkSubscribers = (seq: number) =>
  [...broker.subscriptions.entries()].filter(([, subs]) => subs.includes(topics.modelChunks('stable', seq))).map(([id]) => id.replace('sensor-', '')).sort();

test('a release that fails self-test on stage 1 (2 of 4) halts; the other 2 never get it', async () => {
  const bad = await release(modelB, owner.privateKey, { seq: 11, expectFrom: modelC, rolloutPercent: 50, chunkSize: CHUNK });
  assert.ok(bad.manifest.payload.chunks.length > 3, `payload travels in ${bad.manifest.payload.chunks.length} chunks`);
  const res = await dist.upload(encodeBundle({ v: 1, envelope: bad.envelope, payload: bad.payload }));
  assert.is(res.state, 'staged');
  assert.is(res.admitted.length, 2, 'first stage = 50% of 4 sensors');
  const rest = sensors.map((s) => s.id).filter((id) => !res.admitted.includes(id));

  await waitFor(() => dist.apiData().channels[0]?.rollout.state === 'halted', 10_000, 'the rollout to halt');
  await dist.idle();
  const ch = dist.apiData().channels[0];
  assert.ok(Object.keys(ch.rollout.failed).length >= 1, 'failures recorded');
  for (const reason of Object.values(ch.rollout.failed)) assert.is(reason, 'self_test_failed');
  assert.ok(ch.rollout.halt_reason?.includes('self_test_failed'));

  await new Promise((r) => setTimeout(r, 500)); // give a wrongly admitted sensor time to misbehave
  for (const s of sensors) {
    assert.is(s.rx.current?.seq, 10, `${s.id} keeps model A`);
    assert.is(s.applied.length, 1, `${s.id} swapped nothing`);
  }
  assert.equal(chunkSubscribers(11), [...res.admitted].sort(), 'only stage-1 sensors ever asked for the payload');
  for (const id of rest) {
    const s = sensors.find((x) => x.id === id)!;
    assert.not.ok(s.reports.some((r) => r.seq === 11), `${id} never tried seq 11`);
  }
  // Each stage-1 sensor either rejected it (self_test_failed, old model still running) or, if the halt reached
  // it mid-download, abandoned it: none applied it.
  const stage1Reports = res.admitted.flatMap((id) => sensors.find((x) => x.id === id)!.reports.filter((r) => r.seq === 11));
  assert.ok(stage1Reports.length >= 1);
  for (const rep of stage1Reports) {
    assert.is(rep.state, 'rejected');
    assert.is(rep.reason, 'self_test_failed');
    assert.equal(rep.current, { model_id: 'm10', seq: 10 }, 'report says the old model still runs');
  }
});

test('a healthy release goes to stage 1, then to every sensor', async () => {
  const good = await release(modelC, owner.privateKey, { seq: 12, rolloutPercent: 50, chunkSize: CHUNK });
  const res = await dist.upload(encodeBundle({ v: 1, envelope: good.envelope, payload: good.payload }));
  assert.is(res.admitted.length, 2);
  await waitFor(() => sensors.every((s) => s.rx.current?.seq === 12), 15_000, 'every sensor to run seq 12');
  await dist.idle();
  await waitFor(() => dist.apiData().channels[0].rollout.applied.length === 4, 5000, 'the gateway to see 4 applied');
  const ch = dist.apiData().channels[0];
  assert.is(ch.rollout.state, 'complete');
  for (const s of sensors) {
    assert.is(s.applied.at(-1)?.seq, 12);
    assert.ok(s.reports.some((r) => r.seq === 12 && r.state === 'applied'), `${s.id} reported applied`);
    const out = await s.rx.current!.model.predict(new Float32Array(good.manifest.self_test.vectors[0].input.length / 4), 1, good.manifest.self_test.vectors[0].input.length / 4);
    assert.is(out.length, 3);
  }
  const api = dist.apiData();
  assert.equal(api.sensors.map((s) => s.seq).sort(), [12, 12, 12, 12]);
  // Stage-1 sensors applied before the rest were admitted.
  const firstApplied = Math.max(...res.admitted.map((id) => sensors.find((s) => s.id === id)!.reports.find((r) => r.seq === 12 && r.state === 'applied')!.ts));
  const others = sensors.filter((s) => !res.admitted.includes(s.id));
  for (const s of others) assert.ok(s.reports.find((r) => r.seq === 12 && r.state === 'applied')!.ts >= firstApplied);
});

test('an older or replayed upload is refused by the gateway', async () => {
  const old = await release(modelA, owner.privateKey, { seq: 12 });
  try {
    await dist.upload(encodeBundle({ v: 1, envelope: old.envelope, payload: old.payload }));
    assert.unreachable('accepted');
  } catch (e) {
    assert.is((e as { reason?: string }).reason, 'stale_sequence');
  }
  const stranger = keys();
  const forged = await release(modelA, stranger.privateKey, { seq: 13 });
  try {
    await dist.upload(encodeBundle({ v: 1, envelope: forged.envelope, payload: forged.payload }));
    assert.unreachable('accepted');
  } catch (e) {
    assert.is((e as { reason?: string }).reason, 'untrusted_key');
  }
});

test.run();
