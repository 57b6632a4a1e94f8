import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { encode } from 'cbor-x';
import { topics } from '../protocol/topics.ts';
import { MAX_BATCH_BYTES } from '../protocol/event.ts';
import { connect, getJson, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';

const MQTT = 18832;
const HTTP = 18082;

/** Deterministic PRNG so a failure can be replayed. */
function rng(seed: number) {
  return () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** n bytes from the seeded generator: the same "random" payloads every run (crypto bytes made a rare one decode as a batch of an unknown version). */
function seededBytes(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function malformed(): Array<{ kind: string; payload: Buffer }> {
  const r = rng(42);
  const out: Array<{ kind: string; payload: Buffer }> = [];
  const good = () => makeEvent({ sensor: 'fuzz' });
  // 1. Random bytes.
  for (let i = 0; i < 2500; i++) out.push({ kind: 'random', payload: seededBytes(r, 1 + Math.floor(r() * 1500)) });
  // 2. Well-formed CBOR of the wrong shape or types.
  const wrong: Array<() => unknown> = [
    () => 42, () => 'batch', () => [1, 'fuzz', []], () => null, () => true, () => new Uint8Array(8),
    () => ({ v: 1, sensor: 7, seq: 1, events: [] }),
    () => ({ v: 1, sensor: 'fuzz', seq: 1, events: 'many' }),
    () => ({ v: 1, sensor: 'fuzz', seq: 1, events: { 0: good() } }),
    () => ({ v: 1, sensor: 'other', seq: 1, events: [] }),
    () => ({ v: 1, sensor: '../../etc', seq: 1, events: [] }),
    () => ({ v: 1, sensor: 'fuzz', seq: 1, events: Array.from({ length: 501 }, () => 0) }),
  ];
  for (let i = 0; i < 2500; i++) out.push({ kind: 'wrong-type', payload: Buffer.from(encode(wrong[i % wrong.length]())) });
  // 3. Unknown versions.
  const versions = [0, 2, 99, '1', null, -1, 1.5, [1]];
  for (let i = 0; i < 2500; i++) out.push({ kind: 'version', payload: Buffer.from(encode({ v: versions[i % versions.length], sensor: 'fuzz', seq: i, events: [good()] })) });
  // 4. A valid envelope with one broken event.
  const breakers: Array<(e: Record<string, any>) => void> = [
    (e) => { e.id = 'not-a-uuid'; }, (e) => { e.id = '0190a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b'; /* v4, not v7 */ },
    (e) => { e.score = 2; }, (e) => { e.score = Number.NaN; }, (e) => { e.severity = 0; }, (e) => { e.class = 'DROP TABLE'; },
    (e) => { e.flow.src_port = 70000; }, (e) => { e.flow.src_ip = '<script>'; }, (e) => { e.flow = null; }, (e) => { e.v = 2; },
    (e) => { e.top = Array.from({ length: 17 }, () => ['x', 1]); }, (e) => { e.features = { 'bad name': 1 }; },
    (e) => { e.sensor = 'someone-else'; }, (e) => { e.ts = -5; }, (e) => { e.model = ''; }, (e) => { e.anomaly = 'high'; },
  ];
  for (let i = 0; i < 2400; i++) {
    const events = [good(), good(), good()] as unknown as Array<Record<string, any>>;
    breakers[i % breakers.length](events[1 + (i % 2)]);
    out.push({ kind: 'bad-event', payload: Buffer.from(encode({ v: 1, sensor: 'fuzz', seq: i, events })) });
  }
  // 5. Oversize (a valid-looking batch padded past the limit).
  for (let i = 0; i < 100; i++) {
    out.push({ kind: 'oversize', payload: Buffer.concat([makeBatch('fuzz', [good()]), randomBytes(MAX_BATCH_BYTES + 1)]) });
  }
  return out;
}

test('10k malformed payloads are all rejected and counted by reason; the gateway stays healthy', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`, { clientId: 'fuzz' });
  try {
    const payloads = malformed();
    assert.is(payloads.length, 10_000);
    for (let i = 0; i < payloads.length; i += 250) {
      await Promise.all(payloads.slice(i, i + 250).map((p) => c.publishAsync(topics.events('fuzz'), p.payload, { qos: 1 })));
    }
    await waitFor(() => g.gw.ingest.batches >= 10_000, 60_000, '10k batches');
    const h = await getJson(`http://127.0.0.1:${HTTP}/api/health`);
    assert.is(h.status, 200);
    assert.is(h.body.status, 'ok');
    const rej = h.body.ingest.rejected as Record<string, number>;
    assert.is(h.body.ingest.rejected_total, 10_000, JSON.stringify(rej));
    assert.is(h.body.ingest.stored, 0);
    assert.is(rej.oversize, 100);
    assert.is(rej.unknown_version, 2500);
    assert.is(rej.bad_event, 2400, JSON.stringify(rej));
    assert.ok(rej.not_cbor > 1000, 'most random bytes are not CBOR');
    for (const r of ['not_object', 'bad_sensor', 'sensor_mismatch', 'bad_events', 'too_many_events']) assert.ok(rej[r] > 0, `reason ${r} seen`);
    assert.is(g.gw.store.countEvents(), 0);
    // The sensor is registered with its rejections; Prometheus shows reasons.
    const s = await getJson(`http://127.0.0.1:${HTTP}/api/sensors`);
    assert.is(s.body.sensors.find((x: { id: string }) => x.id === 'fuzz').rejected, 10_000);
    const m = await (await fetch(`http://127.0.0.1:${HTTP}/metrics`)).text();
    assert.match(m, /netsensor_gateway_batches_rejected_total\{reason="oversize"\} 100/);
    // Still ingesting: a valid batch afterwards is stored.
    await c.publishAsync(topics.events('fuzz'), makeBatch('fuzz', [makeEvent({ sensor: 'fuzz' }), makeEvent({ sensor: 'fuzz' })]), { qos: 1 });
    await waitFor(() => g.gw.store.countEvents() === 2, 5000, 'valid batch stored');
    assert.ok(c.connected, 'the publishing client was never disconnected');
  } finally {
    await c.endAsync();
    await g.stop();
  }
});

test.run();
