import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeBatch, decodeBatch, checkEvent, EventRejected, MAX_TIME_MS, type RiskEvent } from '../protocol/event.ts';
import { parseModelTopic, parseSensorTopic, topics } from '../protocol/topics.ts';
import { encodeStatus, OFFLINE_STATUS, parseStatus } from '../protocol/status.ts';
import { encode as cborEncode } from 'cbor-x';
import { v7 as uuidv7 } from 'uuid';

function event(sensor: string): RiskEvent {
  return {
    v: 1, id: uuidv7(), sensor, ts: Date.now(),
    flow: { src_ip: '10.0.0.1', src_port: 40000, dst_ip: '10.0.0.2', dst_port: 22, proto: 6, vlan: 0,
      first_seen_ms: 1, last_seen_ms: 2, end_reason: 'rst', src2dst_packets: 1, src2dst_bytes: 60, dst2src_packets: 1, dst2src_bytes: 40 },
    class: 'scan', score: 0.9, anomaly: 1.5, severity: 2, model: 'm1', features: { duration_ms: 1 }, top: [['dst_port', 0.5]],
  };
}

test('a valid batch round-trips through CBOR', () => {
  const b = { v: 1 as const, sensor: 's1', seq: 1, events: [event('s1'), event('s1')] };
  const back = decodeBatch(encodeBatch(b), 's1');
  assert.equal(back.events.length, 2);
  assert.equal(back.events[0].id, b.events[0].id);
});

test('a batch is rejected with a stable reason', () => {
  const reasons: string[] = [];
  const tryIt = (payload: Uint8Array, sensor = 's1') => {
    try { decodeBatch(payload, sensor); reasons.push('accepted'); } catch (e) { reasons.push((e as EventRejected).reason); }
  };
  tryIt(Buffer.from([0xff, 0x00, 0x13]));
  tryIt(encodeBatch({ v: 2 as 1, sensor: 's1', seq: 1, events: [] }));
  tryIt(encodeBatch({ v: 1, sensor: 's1', seq: 1, events: [event('s1')] }), 's2');
  tryIt(encodeBatch({ v: 1, sensor: 's1', seq: 1, events: [{ ...event('s1'), id: 'not-a-uuid' }] }));
  tryIt(Buffer.alloc(300 * 1024));
  assert.equal(reasons, ['not_cbor', 'unknown_version', 'sensor_mismatch', 'bad_event', 'oversize']);
});

test('times and counts are bounded: what Date and ISO 8601 can hold, whole packet and byte counts', () => {
  const withFlow = (f: Partial<RiskEvent['flow']>, ts?: number) => { const e = event('s1'); Object.assign(e.flow, f); if (ts !== undefined) e.ts = ts; return checkEvent(e, 's1'); };
  assert.is(withFlow({ first_seen_ms: 0, last_seen_ms: MAX_TIME_MS }), undefined, 'the bound itself is fine');
  assert.is(new Date(MAX_TIME_MS).toISOString(), '9999-12-31T23:59:59.999Z');
  assert.match(withFlow({ last_seen_ms: MAX_TIME_MS + 1 }) ?? '', /last_seen_ms/);
  assert.match(withFlow({ first_seen_ms: 1e308 }) ?? '', /first_seen_ms/);
  assert.match(withFlow({}, 8.64e15 + 1) ?? '', /^ts/);
  assert.match(withFlow({}, 0) ?? '', /^ts/);
  assert.match(withFlow({ src2dst_bytes: 1.5 }) ?? '', /src2dst_bytes/);
  assert.match(withFlow({ dst2src_packets: 2 ** 53 }) ?? '', /dst2src_packets/);
  let reason = '';
  try { decodeBatch(encodeBatch({ v: 1, sensor: 's1', seq: 'x' as unknown as number, events: [] }), 's1'); } catch (e) { reason = (e as EventRejected).reason; }
  assert.is(reason, 'bad_seq');
});

test('sensor topics parse and refuse odd ids', () => {
  assert.equal(parseSensorTopic(topics.events('pi-01')), { sensorId: 'pi-01', kind: 'events' });
  assert.equal(parseSensorTopic('netsensor/v1/sensors/+/events'), undefined);
  assert.equal(parseSensorTopic('netsensor/v1/models/stable'), undefined);
});

test('model topics parse: channel and kind, odd channels refused', () => {
  assert.equal(parseModelTopic(topics.model('stable')), { channel: 'stable', kind: 'manifest' });
  assert.equal(parseModelTopic(topics.modelUpload('beta')), { channel: 'beta', kind: 'upload' });
  assert.equal(parseModelTopic(topics.modelRollout('beta')), { channel: 'beta', kind: 'rollout' });
  assert.equal(parseModelTopic(topics.modelChunk('beta', 7, 3)), { channel: 'beta', kind: 'chunk' });
  assert.equal(parseModelTopic(topics.allModelUploads), undefined);
  assert.equal(parseModelTopic('netsensor/v1/models/beta/chunk/x/1'), undefined);
  assert.equal(parseModelTopic(topics.status('pi-01')), undefined);
});

test('status messages: what the sensor encodes the gateway parses; the last will too; junk is refused', () => {
  const st = { state: 'online' as const, ts: 1_800_000_000_000, model: 'm-7', version: '0.1.0', mqtt: 5 as const, counters: { packets: 12, mode: 'live' } };
  assert.equal(parseStatus(Buffer.from(encodeStatus(st))), { state: 'online', ts: st.ts, model: 'm-7', version: '0.1.0', counters: { packets: 12, mode: 'live' } });
  assert.equal(parseStatus(Buffer.from(OFFLINE_STATUS)), { state: 'offline' });
  assert.equal(parseStatus(cborEncode({ state: 'offline', ts: 5 })), { state: 'offline', ts: 5 }, 'CBOR accepted');
  const bounded = parseStatus(Buffer.from(JSON.stringify({ state: 'online', model: 'x'.repeat(200), counters: { a: {}, b: 1 } })))!;
  assert.equal(bounded, { state: 'online', counters: { b: 1 } }, 'oversized model and non-scalar counters dropped');
  for (const junk of ['', '{"state":"busy"}', '[1]', '{not json', 'x'.repeat(70_000)]) assert.is(parseStatus(Buffer.from(junk)), undefined, junk.slice(0, 20));
});

test.run();
