/**
 * `netsensor sensor --pcap`: a public capture replayed through the real core, onnxruntime, outbox and Mosquitto.
 * Uses an untrained model with thresholds that flag every flow and `--publish flows` (every alerting flow is an
 * event, not evidence for episodes), so the number of events must equal the number of flow records — what is
 * checked is the data path, not detection quality.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { withTools, sharedPcap } from './helpers/tools.ts';
import { Mosquitto, sleep } from './helpers/mosquitto.ts';
import { EventSubscriber } from './helpers/event-subscriber.ts';
import { writeUntrainedModel } from './helpers/untrained-model.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'nssen-pipeline-'));
const model = writeUntrainedModel(join(dir, 'untrained.onnx'));
const mosq = withTools(test, ['mosquitto']);

function sensor(args: string[]) {
  const p = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sensor', '--model', model, '--anomaly-threshold', '0', '--publish', 'flows', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (d) => { stderr += d; });
  const exit = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  return { p, exit, log: () => stderr.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return { msg: l }; } }) };
}

mosq('fast replay: every flow record becomes an event, all delivered once, outbox empty, clean exit', async () => {
  const broker = new Mosquitto(18843);
  const sub = new EventSubscriber();
  try {
    await broker.start();
    await sub.connect(broker.url, 'nssen-pipe-sub', 5);
    const db = join(dir, 'fast.db');
    const s = sensor(['--pcap', sharedPcap('chrissanders-packets/synscan.pcapng'), '--broker', broker.url, '--id', 'pipe-1', '--db', db]);
    assert.is(await s.exit, 0, JSON.stringify(s.log().slice(-3)));
    const fin = s.log().find((l) => l.msg === 'capture finished');
    assert.ok(fin && fin.packets === 2011, JSON.stringify(fin));
    assert.ok(fin.flows > 1000 && fin.events === fin.flows, JSON.stringify(fin));
    for (let i = 0; i < 50 && sub.ids.size < fin.events; i++) await sleep(100);
    assert.is(sub.ids.size, fin.events);
    const ev = sub.events[0];
    assert.is(ev.sensor, 'pipe-1');
    assert.is(ev.model, 'untrained-test-1');
    assert.match(ev.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    assert.ok(sub.events.some((e) => e.flow.end_reason === 'end_of_input' || e.flow.end_reason === 'rst' || e.flow.end_reason === 'unanswered'));
    const rows = (new Database(db, { readonly: true }).prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    assert.is(rows, 0);
  } finally {
    await sub.close();
    await broker.dispose();
  }
});

mosq('SIGTERM during a realtime replay: live flows flushed with reason shutdown and delivered, exit 0', async () => {
  const broker = new Mosquitto(18844);
  const sub = new EventSubscriber();
  try {
    await broker.start();
    await sub.connect(broker.url, 'nssen-pipe-sub2', 5);
    // sshguess spans minutes: realtime replay is still in the middle of it when SIGTERM arrives
    const s = sensor(['--pcap', sharedPcap('zeek/Traces/ssh/sshguess.pcap'), '--replay', 'realtime', '--broker', broker.url, '--id', 'pipe-2', '--db', join(dir, 'rt.db'), '--mqtt-version', '5']);
    for (let i = 0; i < 300 && !s.log().some((l) => l.msg === 'sensor started'); i++) await sleep(100);
    await sleep(3000);
    const t0 = Date.now();
    s.p.kill('SIGTERM');
    assert.is(await s.exit, 0, JSON.stringify(s.log().slice(-3)));
    assert.ok(Date.now() - t0 < 6000, 'bounded shutdown');
    await sleep(300);
    assert.ok(sub.events.some((e) => e.flow.end_reason === 'shutdown'), `reasons: ${[...new Set(sub.events.map((e) => e.flow.end_reason))]}`);
    const closed = s.log().find((l) => l.msg === 'delivery closed');
    assert.ok(closed && closed.drained === true && closed.left === 0, JSON.stringify(closed));
    const status = sub.statuses.filter((x) => x.topic.includes('/pipe-2/')).pop()!;
    assert.is(JSON.parse(status.payload).state, 'offline');
  } finally {
    await sub.close();
    await broker.dispose();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
