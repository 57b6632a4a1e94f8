import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { topics } from '../protocol/topics.ts';
import { connect, getJson, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';

const MQTT = 18830;
const HTTP = 18080;

test('each event is stored exactly once however often its batch is delivered', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`, { clientId: 'sensor-a' });
  try {
    const events = Array.from({ length: 40 }, (_, i) => makeEvent({ sensor: 'sensor-a', dst: `10.0.1.${i % 4}`, t: Date.now() - 1000 + i }));
    const batch1 = makeBatch('sensor-a', events.slice(0, 25), 1);
    const batch2 = makeBatch('sensor-a', events.slice(15), 2); // overlaps batch1 by 10 events
    // Same batch five times, the overlapping one three times, interleaved; also with the dup flag set.
    for (let round = 0; round < 5; round++) {
      await c.publishAsync(topics.events('sensor-a'), batch1, { qos: 1, dup: round > 0 });
      if (round < 3) await c.publishAsync(topics.events('sensor-a'), batch2, { qos: 1 });
    }
    await waitFor(() => g.gw.ingest.batches >= 8, 10_000, 'all deliveries');
    assert.is(g.gw.store.countEvents(), 40);
    assert.is(g.gw.ingest.stored, 40);
    assert.is(g.gw.ingest.duplicates, 5 * 25 + 3 * 25 - 40);
    // One alert (same source + class), counting each event once.
    const r = await getJson(`http://127.0.0.1:${HTTP}/api/alerts?class=bruteforce`);
    assert.is(r.status, 200);
    assert.is(r.body.alerts.length, 1);
    assert.is(r.body.alerts[0].event_count, 40);
    assert.is(r.body.alerts[0].host_count, 4);
    const ev = await getJson(`http://127.0.0.1:${HTTP}/api/alerts/${r.body.alerts[0].id}/events?limit=500`);
    assert.is(ev.body.events.length, 40);
    assert.is(new Set(ev.body.events.map((e: { id: string }) => e.id)).size, 40);
  } finally {
    await c.endAsync();
    await g.stop();
  }
});

test('dedup survives a gateway restart on the same database', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  const dbPath = g.gw.config.store.path;
  const events = Array.from({ length: 10 }, () => makeEvent({ sensor: 'sensor-b' }));
  const batch = makeBatch('sensor-b', events);
  let c = await connect(`mqtt://127.0.0.1:${MQTT}`);
  await c.publishAsync(topics.events('sensor-b'), batch, { qos: 1 });
  await waitFor(() => g.gw.ingest.batches >= 1);
  await c.endAsync();
  await g.gw.stop();
  const { Gateway } = await import('../gateway/index.ts');
  const { loadConfig } = await import('../gateway/config.ts');
  const { createLogger } = await import('../common/log.ts');
  const gw2 = await Gateway.start(loadConfig({ flags: { mqtt: { port: MQTT }, http: { port: HTTP }, store: { path: dbPath } } }), createLogger('warn'));
  try {
    c = await connect(`mqtt://127.0.0.1:${MQTT}`);
    await c.publishAsync(topics.events('sensor-b'), batch, { qos: 1 });
    await waitFor(() => gw2.ingest.batches >= 1);
    assert.is(gw2.store.countEvents(), 10);
    assert.is(gw2.ingest.duplicates, 10);
    await c.endAsync();
  } finally {
    await gw2.stop();
    await g.stop().catch(() => {});
  }
});

test.run();
