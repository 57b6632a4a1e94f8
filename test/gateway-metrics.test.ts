/**
 * Prometheus exposition of the gateway and the sensor, read as a scraper reads it: conventional names (stock
 * process_* / nodejs_* series, _total counters, build_info), labelled counters present at 0 before their first
 * increment, per-sensor last seen after a real status message, and the store's size.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { packageVersion } from '../common/version.ts';
import { newCounters, SensorMetrics } from '../sensor/metrics.ts';
import { connect, startGateway } from './helpers/gateway-fixtures.ts';
import { parseExposition, type Family } from './helpers/prom-text.ts';

function checkConventions(families: Map<string, Family>): void {
  for (const f of families.values()) {
    assert.ok(/^(netsensor_|process_|nodejs_)/.test(f.name), `${f.name}: unexpected namespace`);
    assert.not.ok(/^netsensor_.*process_/.test(f.name), `${f.name}: process metrics under a netsensor_ prefix`);
    if (f.type === 'counter') assert.ok(f.name.endsWith('_total'), `${f.name}: counters end in _total`);
    else if (f.name.startsWith('netsensor_')) assert.not.ok(f.name.endsWith('_total'), `${f.name}: only counters end in _total`);
    assert.ok(f.help && f.help.length > 0, `${f.name}: has no HELP`);
  }
  const info = families.get('netsensor_build_info');
  assert.ok(info, 'netsensor_build_info exported');
  assert.is(info!.type, 'gauge');
  assert.is(info!.samples.length, 1);
  assert.is(info!.samples[0].value, 1);
  assert.is(info!.samples[0].labels.version, packageVersion());
  assert.is(info!.samples[0].labels.nodejs, process.versions.node);
  for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    assert.ok(families.has(n), `${n} exported`);
  }
}

const valueOf = (f: Family | undefined, labels: Record<string, string>) =>
  f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test('gateway /metrics: conventional names, zeroed label values, build info, sensor last seen, store size', async () => {
  const { gw, stop } = await startGateway({ mqtt: { port: 0 }, http: { port: 0 } });
  try {
    const scrape = async () => {
      const res = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`);
      assert.is(res.status, 200);
      return parseExposition(await res.text());
    };
    const before = await scrape();
    checkConventions(before);
    assert.is(before.get('netsensor_build_info')!.samples[0].labels.component, 'gateway');
    for (const [name, label, value] of [
      ['netsensor_gateway_batches_rejected_total', 'reason', 'not_cbor'],
      ['netsensor_gateway_batches_rejected_total', 'reason', 'store_failed'],
      ['netsensor_gateway_alerts_created_total', 'kind', 'fan_in'],
      ['netsensor_gateway_auth_failed_total', 'reason', 'takeover'],
      ['netsensor_gateway_acl_denied_total', 'action', 'subscribe'],
      ['netsensor_gateway_record_failed_total', 'stage', 'homeassistant'],
    ] as const) {
      assert.is(valueOf(before.get(name), { [label]: value }), 0, `${name}{${label}="${value}"} is 0 before any increment`);
    }
    assert.ok(before.get('netsensor_gateway_store_bytes')!.samples[0].value > 0, 'store size > 0');
    assert.is(before.get('netsensor_gateway_sensor_last_seen_timestamp_seconds')!.samples.length, 0);

    const t0 = Date.now() / 1000;
    const c = await connect(`mqtt://127.0.0.1:${gw.mqttPort}`, { clientId: 'netsensor-sensor-m1' });
    await c.publishAsync('netsensor/v1/sensors/m1/status', JSON.stringify({ state: 'online', ts: Date.now() }), { qos: 1, retain: true });
    await c.publishAsync('netsensor/v1/sensors/m1/events', Buffer.from([0xff, 0x00, 0x13]), { qos: 1 });
    await c.endAsync();
    let after = await scrape();
    for (let i = 0; i < 50 && !valueOf(after.get('netsensor_gateway_batches_rejected_total'), { reason: 'not_cbor' }); i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await scrape();
    }
    const seen = valueOf(after.get('netsensor_gateway_sensor_last_seen_timestamp_seconds'), { sensor: 'm1' });
    assert.ok(seen !== undefined && seen >= t0 - 1 && seen <= Date.now() / 1000 + 1, `last seen of m1 is now (${seen})`);
    assert.is(valueOf(after.get('netsensor_gateway_batches_rejected_total'), { reason: 'not_cbor' }), 1);
    assert.is(valueOf(after.get('netsensor_gateway_batches_rejected_total'), { reason: 'oversize' }), 0);
  } finally {
    await stop();
  }
});

test('sensor metrics: conventional names, decoder events from 0, the sensor label on every series', async () => {
  const counters = newCounters();
  counters.decoderEvents['decoder.ipv4.trunc_pkt'] = 3;
  const m = new SensorMetrics(counters, { outboxDepth: () => 0, outboxBytes: () => 0, mqttConnected: () => true, activeFlows: () => 0 }, { sensor: 'edge-1' });
  const families = parseExposition(await m.registry.metrics());
  checkConventions(families);
  assert.is(families.get('netsensor_build_info')!.samples[0].labels.component, 'sensor');
  const dec = families.get('netsensor_decoder_events_total');
  assert.is(valueOf(dec, { event: 'decoder.ipv4.trunc_pkt' }), 3);
  assert.is(valueOf(dec, { event: 'decoder.tcp.hlen_too_small' }), 0);
  for (const f of families.values()) for (const s of f.samples) assert.is(s.labels.sensor, 'edge-1', `${s.name} carries sensor=edge-1`);
});

test.run();
