/**
 * Delivery over real brokers: Mosquitto (MQTT 5) stopped and restarted while events are produced; kill -9 of
 * the sensor process during publishing; the embedded broker (aedes, MQTT 3.1.1) with version auto-detection.
 * Events are synthetic: what is tested is delivery, not detection.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Aedes } from 'aedes';
import { defaults, type SensorConfig } from '../sensor/config.ts';
import { Delivery } from '../sensor/delivery.ts';
import { newCounters } from '../sensor/metrics.ts';
import { createLogger } from '../common/log.ts';
import { withTools } from './helpers/tools.ts';
import { Mosquitto, sleep } from './helpers/mosquitto.ts';
import { EventSubscriber } from './helpers/event-subscriber.ts';
import { syntheticEvent } from './helpers/synthetic-events.ts';

const dir = mkdtempSync(join(tmpdir(), 'nssen-delivery-'));
const root = new URL('..', import.meta.url).pathname;
const quiet = createLogger('error');

function config(id: string, url: string, db: string): SensorConfig {
  const c = structuredClone(defaults);
  c.id = id; c.broker.url = url; c.outbox.db = db;
  c.broker.reconnectMinMs = 100; c.broker.reconnectMaxMs = 800;
  c.outbox.flushIntervalMs = 50; c.outbox.batchMaxEvents = 25; c.heartbeatS = 1;
  return c;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await sleep(50); }
  return cond();
}

const mosq = withTools(test, ['mosquitto']);

mosq('outage: broker stopped while events are produced, restarted later → every event once, outbox empty', async () => {
  const broker = new Mosquitto(18840);
  const sub = new EventSubscriber();
  const counters = newCounters();
  let d: Delivery | undefined;
  try {
    await broker.start();
    await sub.connect(broker.url, 'nssen-outage-sub', 5);
    d = new Delivery({ cfg: config('out-1', broker.url, join(dir, 'outage.db')), counters, status: { model: () => 'm', counters: () => ({}) }, log: quiet });
    d.start();
    await until(() => d!.publisher.connected, 3000);
    assert.is(d.publisher.protocolVersion, 5, 'auto picks MQTT 5 on Mosquitto');
    const produced: string[] = [];
    const produce = async (ticks: number) => {
      for (let i = 0; i < ticks; i++) {
        const evs = Array.from({ length: 10 }, () => syntheticEvent('out-1'));
        d!.commit(evs);
        produced.push(...evs.map((e) => e.id));
        await sleep(20);
      }
    };
    await produce(20);
    await broker.stop();
    await produce(40); // 400 events while the broker is down
    assert.ok(d.outbox.depth >= 300, `outbox holds the outage: ${d.outbox.depth}`);
    await broker.start();
    await produce(20);
    const delivered = await until(() => d!.outbox.depth === 0 && sub.ids.size === produced.length, 20_000);
    const missingByPhase = [produced.slice(0, 200), produced.slice(200, 600), produced.slice(600)].map((ids) => ids.filter((id) => !sub.ids.has(id)).length);
    // Without its session the subscriber misses what the sensor sends before it re-subscribes: a test fault.
    assert.ok(sub.sessionPresent.length >= 2 && sub.sessionPresent.slice(1).every(Boolean), `subscriber session kept across the restart: ${sub.sessionPresent}`);
    assert.ok(delivered, `depth ${d.outbox.depth}, got ${sub.ids.size}/${produced.length}; missing before/during/after the outage: ${missingByPhase.join('/')}`);
    assert.equal([...sub.ids].sort(), [...produced].sort());
    assert.is(d.outbox.depth, 0);
    assert.ok(counters.eventsAcked >= produced.length);
    console.log(`  outage: ${produced.length} events, ${sub.duplicates} duplicates removed by id, ${d.publisher.connects} connects`);
  } finally {
    await d?.close(2000);
    await sub.close();
    await broker.dispose();
  }
});

mosq('crash: kill -9 during publishing, several times → every committed event delivered', async () => {
  const broker = new Mosquitto(18841);
  const sub = new EventSubscriber();
  const db = join(dir, 'crash.db');
  const committed = new Set<string>();
  const run = (events: number) => {
    const arg = JSON.stringify({ db, url: broker.url, id: 'crash-1', events, perTick: 20, tickMs: 10 });
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/synthetic-sensor.ts', arg], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    p.stdout.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.startsWith('C ')) committed.add(l.slice(2));
    });
    return { p, exited: new Promise<number | null>((r) => p.once('exit', (c) => r(c))) };
  };
  try {
    await broker.start();
    await sub.connect(broker.url, 'nssen-crash-sub', 5);
    let killedWithBacklog = 0;
    for (let i = 0; i < 4; i++) {
      const before = committed.size;
      const { p, exited } = run(100_000);
      // kill while it is producing and publishing: after ≥ 150 new commits, at a varying moment
      assert.ok(await until(() => committed.size - before >= 150, 15_000), 'child produced events');
      await sleep(Math.floor(Math.random() * 300));
      p.kill('SIGKILL');
      await exited;
      const left = (new Database(db, { readonly: true }).prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
      if (left > 0) killedWithBacklog++;
    }
    assert.ok(committed.size >= 600, `${committed.size} committed`);
    assert.ok(killedWithBacklog >= 1, 'at least one kill hit unacknowledged events');
    const last = run(0); // restart: delivers the backlog, then exits cleanly
    assert.is(await last.exited, 0);
    assert.ok(await until(() => [...committed].every((id) => sub.ids.has(id)), 10_000));
    const missing = [...committed].filter((id) => !sub.ids.has(id));
    assert.equal(missing.length, 0, `${missing.length} of ${committed.size} committed events never delivered`);
    const left = (new Database(db, { readonly: true }).prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    assert.is(left, 0);
    console.log(`  crash: ${committed.size} committed over 4 kills (${killedWithBacklog} with backlog), ${sub.ids.size} delivered, ${sub.duplicates} duplicates`);
  } finally {
    await sub.close();
    await broker.dispose();
  }
});

test('embedded broker (aedes, MQTT 3.1.1): auto falls back to 3.1.1; retained status and last will', async () => {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(18842, '127.0.0.1', () => r()));
  const sub = new EventSubscriber();
  const url = 'mqtt://127.0.0.1:18842';
  let d: Delivery | undefined;
  try {
    await sub.connect(url, 'nssen-aedes-sub', 4);
    d = new Delivery({ cfg: config('aedes-1', url, join(dir, 'aedes.db')), counters: newCounters(), status: { model: () => 'm-aedes', counters: () => ({ packets: 42 }) }, log: quiet });
    d.start();
    const evs = Array.from({ length: 60 }, () => syntheticEvent('aedes-1'));
    d.commit(evs);
    assert.ok(await until(() => sub.ids.size === 60, 8000), `got ${sub.ids.size}`);
    assert.is(d.publisher.protocolVersion, 4);
    const online = sub.statuses.map((s) => JSON.parse(s.payload)).find((s) => s.state === 'online');
    assert.ok(online, 'online status seen');
    assert.is(online.model, 'm-aedes');
    assert.is(online.counters.packets, 42);
    assert.type(online.counters.outbox_depth, 'number');
    // an abrupt end of the sensor's connection fires the retained last will
    const n = sub.statuses.length;
    for (const c of Object.values((aedes as unknown as { clients: Record<string, { id: string; conn: { destroy(): void } }> }).clients)) {
      if (c.id === 'netsensor-aedes-1') c.conn.destroy();
    }
    assert.ok(await until(() => sub.statuses.slice(n).some((s) => JSON.parse(s.payload).state === 'offline'), 3000), 'last will offline');
  } finally {
    await d?.close(1000);
    await sub.close();
    await new Promise<void>((r) => aedes.close(() => r()));
    server.close();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
