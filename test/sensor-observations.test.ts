/**
 * Local observations: a flow that gives evidence but feeds no published episode stays on the sensor (SQLite,
 * bounded) and is listed by `netsensor sensor observations`; it is never an event on MQTT.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTools, sharedPcap } from './helpers/tools.ts';
import { Mosquitto } from './helpers/mosquitto.ts';
import { EventSubscriber } from './helpers/event-subscriber.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'nssen-obs-'));
const mosq = withTools(test, ['mosquitto']);

mosq('weak evidence below every episode threshold is stored and queryable, and nothing is published', async () => {
  const broker = new Mosquitto(18897);
  const sub = new EventSubscriber();
  try {
    await broker.start();
    await sub.connect(broker.url, 'nssen-obs-sub', 5);
    const db = join(dir, 'sensor.db');
    // a tiny anomaly threshold turns every flow of a small ordinary capture into weak (anomaly) evidence; with a few
    // flows per host no episode can open
    const p = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sensor', '--pcap', sharedPcap('chrissanders-packets/http_espn.pcapng'),
      '--anomaly-threshold', '0.001', '--broker', broker.url, '--id', 'obs-1', '--db', db], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d) => { stderr += d; });
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    assert.is(code, 0, stderr.slice(-1500));
    const fin = stderr.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return {}; } }).find((l) => l.msg === 'capture finished');
    assert.ok(fin && fin.flows > 20, JSON.stringify(fin));
    const q = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sensor', 'observations', '--db', db, '--limit', '1000'], { cwd: root, encoding: 'utf8' });
    assert.is(q.status, 0, q.stderr);
    const rows = q.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    // the first dozen weak flows of a host are observations; past half the anomaly threshold a host is "near an
    // alert" (those flows feed its episode instead)
    assert.ok(rows.length >= 10 && rows.length <= fin.flows, `${rows.length} observations of ${fin.flows} flows`);
    assert.ok(rows.every((r) => r.class === 'anomaly' && typeof r.src_ip === 'string' && r.packets > 0));
    assert.ok(rows[0].seq > rows[rows.length - 1].seq, 'newest first');
    const byClass = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sensor', 'observations', '--db', db, '--class', 'scan'], { cwd: root, encoding: 'utf8' });
    assert.is(byClass.stdout.trim(), '');
    for (let i = 0; i < 20 && sub.events.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    // what is published is episodes only, never a single flow's verdict
    assert.ok(sub.events.every((e) => (e as unknown as { episode?: { flows: number } }).episode !== undefined), 'only episodes are published');
    const published = new Set(sub.events.map((e) => `${e.flow.src_ip}>${e.flow.dst_ip}:${e.flow.dst_port}@${e.flow.last_seen_ms}`));
    assert.ok(rows.every((r) => !published.has(`${r.src_ip}>${r.dst_ip}:${r.dst_port}@${r.last_seen_ms}`)), 'no observation is published');
  } finally {
    await sub.close();
    await broker.dispose();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
