/**
 * One record must never end the gateway. Each input that crashed it (times past what Date can format) is replayed
 * against a gateway in its own process: it must stay up, refuse the event with a counted reason and keep storing
 * good events. A poisoned alert already in the database (stored by an older version) must be skipped and counted
 * when it is published, not take the process down.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { topics } from '../protocol/topics.ts';
import { connect, getJson, makeBatch, makeEvent, waitFor } from './helpers/gateway-fixtures.ts';
import { startChildGateway, type ChildGateway } from './helpers/gateway-process.ts';

const MQTT = 18881;
const HTTP = 18181;
const dir = mkdtempSync(join(tmpdir(), 'nsgw-poison-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Flow = ReturnType<typeof makeEvent>['flow'];
const CRASH_INPUTS: Array<{ name: string; ts?: number; flow: Partial<Flow> }> = [
  { name: 'last_seen_ms 1e308', flow: { last_seen_ms: 1e308 } },
  { name: 'last_seen_ms just past Date', flow: { last_seen_ms: 8.64e15 + 1 } },
  { name: 'first_seen_ms 1e308', flow: { first_seen_ms: 1e308 } },
  { name: 'ts 1e308 with zero flow times', ts: 1e308, flow: { first_seen_ms: 0, last_seen_ms: 0 } },
  { name: 'ts just past Date with zero flow times', ts: 8.64e15 + 1, flow: { first_seen_ms: 0, last_seen_ms: 0 } },
  { name: 'ts past the year 9999', ts: Date.UTC(10000, 0, 1), flow: { first_seen_ms: 0, last_seen_ms: 0 } },
  { name: 'byte count past 2^53', flow: { src2dst_bytes: 2 ** 60 } },
];

async function alive(g: ChildGateway): Promise<boolean> {
  await sleep(400); // the crash came ~0.2 s after the event was acknowledged
  return g.exited() === undefined && (await getJson(`http://127.0.0.1:${g.httpPort}/api/health`).catch(() => ({ status: 0 }))).status === 200;
}

test('each crash input is refused and counted; the gateway stays up and keeps storing', async () => {
  const g = await startChildGateway({ mqtt: { port: MQTT }, http: { port: HTTP }, store: { path: join(dir, 'inputs.db') } });
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`, { clientId: 'poison' });
  try {
    for (const [i, input] of CRASH_INPUTS.entries()) {
      const e = makeEvent({ sensor: 'poison', src: `10.9.0.${i + 1}` });
      if (input.ts !== undefined) e.ts = input.ts;
      Object.assign(e.flow, input.flow);
      await c.publishAsync(topics.events('poison'), makeBatch('poison', [e]), { qos: 1 });
      assert.ok(await alive(g), `gateway still up after "${input.name}" (exit ${g.exited()}): ${g.output().slice(-600)}`);
    }
    const h = await getJson(`http://127.0.0.1:${HTTP}/api/health`);
    assert.is(h.body.ingest.rejected.bad_event, CRASH_INPUTS.length, JSON.stringify(h.body.ingest));
    assert.is(h.body.ingest.stored, 0);
    const good = makeEvent({ sensor: 'poison' });
    await c.publishAsync(topics.events('poison'), makeBatch('poison', [good]), { qos: 1 });
    await waitFor(async () => (await getJson(`http://127.0.0.1:${HTTP}/api/health`)).body.ingest.stored === 1, 5000, 'the good event stored');
    await c.endAsync();
    assert.is(await g.stop(), 0, 'clean stop');
  } finally {
    c.end(true);
    await g.stop();
  }
});

test('a poisoned alert already in the database is skipped and counted when published; the gateway stays up', async () => {
  const db = join(dir, 'old.db');
  const flags = { mqtt: { port: MQTT }, http: { port: HTTP }, store: { path: db } };
  let g = await startChildGateway(flags);
  let c = await connect(`mqtt://127.0.0.1:${MQTT}`, { clientId: 'poison' });
  await c.publishAsync(topics.events('poison'), makeBatch('poison', [makeEvent({ sensor: 'poison' })]), { qos: 1 });
  await waitFor(async () => (await getJson(`http://127.0.0.1:${HTTP}/api/alerts`)).body.alerts?.length === 1, 5000, 'an alert');
  await c.endAsync();
  assert.is(await g.stop(), 0);
  // What an older gateway stored before ingest bounded times: an open alert whose last event is at 1e308.
  const d = new Database(db);
  assert.is(d.prepare(`UPDATE alerts SET last_seen = 1e308, body = json_set(body, '$.last_seen', 1e308)`).run().changes, 1);
  d.close();
  g = await startChildGateway(flags);
  c = await connect(`mqtt://127.0.0.1:${MQTT}`, { clientId: 'poison' });
  try {
    // Joins the poisoned alert (same source and class): the update message cannot be formatted.
    await c.publishAsync(topics.events('poison'), makeBatch('poison', [makeEvent({ sensor: 'poison' })]), { qos: 1 });
    assert.ok(await alive(g), `gateway still up (exit ${g.exited()}): ${g.output().slice(-600)}`);
    const metrics = await (await fetch(`http://127.0.0.1:${HTTP}/metrics`)).text();
    assert.match(metrics, /netsensor_gateway_record_failed_total\{stage="alert"\} 1/);
    assert.is((await getJson(`http://127.0.0.1:${HTTP}/api/health`)).body.ingest.stored, 1);
    await c.endAsync();
    assert.is(await g.stop(), 0, 'clean stop');
  } finally {
    c.end(true);
    await g.stop();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
