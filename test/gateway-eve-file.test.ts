/**
 * The gateway's EVE output. A gateway in its own process writes an EVE file while two sensors publish a few
 * hundred alert-making events; meanwhile the file is rotated five times the way logrotate does it (mv, then
 * SIGHUP). Afterwards the files together hold exactly one record per alert creation and per escalation that
 * went out on MQTT — none lost, none twice, no "updated" — and every record validates against Suricata's EVE
 * JSON Schema. A second gateway sends its records to a syslog receiver over UDP.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { topics } from '../protocol/topics.ts';
import { eveErrors } from './helpers/eve-schema.ts';
import { connect, getJson, makeBatch, makeEvent, waitFor } from './helpers/gateway-fixtures.ts';
import { startChildGateway } from './helpers/gateway-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'nseve-file-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SOURCES = 400;
const BATCH = 10;
/** Every fifth source is reported by a second sensor too: its alert escalates (multiSensor 2). */
const SECOND_SENSOR_EVERY = 5;
const ROTATIONS = 5;

const src = (i: number) => `10.50.${i >> 8}.${i & 255}`;
const dst = (i: number) => `10.60.${i >> 8}.${i & 255}`;

/** (alert id, reason) of every line of every file, plus the parsed records. */
function readEve(files: string[]) {
  const records = files.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>));
  return { records, keys: records.map((r) => `${r.alert.metadata.alert_id[0]} ${r.alert.metadata.reason[0]}`).sort() };
}

test('EVE file: every creation and escalation exactly once across five rotations under load, all schema-valid', async () => {
  const eve = join(dir, 'eve.json');
  const g = await startChildGateway({ mqtt: { port: 0 }, http: { port: 0 }, store: { path: join(dir, 'rotate.db') }, eve: { file: eve } });
  const sub = await connect(`mqtt://127.0.0.1:${g.mqttPort}`, { clientId: 'nseve-sub' });
  const pub = await connect(`mqtt://127.0.0.1:${g.mqttPort}`, { clientId: 'nseve-pub' });
  const announced: string[] = [];
  let updates = 0;
  sub.on('message', (_t, payload) => {
    const m = JSON.parse(payload.toString());
    if (m.netsensor.reason === 'updated') updates += 1;
    else announced.push(`${m.netsensor.alert_id} ${m.netsensor.reason}`);
  });
  await sub.subscribeAsync('netsensor/v1/alerts/#', { qos: 1 });
  try {
    // Phase 1: sensor s1 reports every source (one alert each). Phase 2, once those are out: s2 reports every
    // fifth source again, which escalates its alert (in one ingest round with the creation it would not).
    const t = Date.now();
    const phase1 = Array.from({ length: SOURCES / BATCH }, (_, b) => Array.from({ length: BATCH }, (_, k) => b * BATCH + k));
    const again = Array.from({ length: SOURCES / SECOND_SENSOR_EVERY }, (_, k) => k * SECOND_SENSOR_EVERY);
    const phase2 = Array.from({ length: again.length / BATCH }, (_, b) => again.slice(b * BATCH, (b + 1) * BATCH));
    const steps = [...phase1.map((idx) => ['s1', idx] as const), ...phase2.map((idx) => ['s2', idx] as const)];
    let rotated = 0;
    for (const [n, [sensor, idx]] of steps.entries()) {
      if (n === phase1.length) await waitFor(() => announced.length >= SOURCES, 30_000, 'phase 1 alerts');
      const events = idx.map((i) => makeEvent({ sensor, src: src(i), dst: dst(i), cls: 'bruteforce', t }));
      pub.publishAsync(topics.events(sensor), makeBatch(sensor, events, n + 1), { qos: 1 }).catch(() => {});
      if (n % 8 === 5 && rotated < ROTATIONS) {
        // logrotate without copytruncate: move the file away, then tell the writer. Publishing goes on meanwhile;
        // the gateway reopens when its event loop gets to the signal, and a rotation needs the previous one done.
        await waitFor(() => existsSync(eve), 10_000, 'the EVE file reopened after the previous rotation');
        renameSync(eve, `${eve}.${++rotated}`);
        process.kill(g.proc.pid!, 'SIGHUP');
      }
      await sleep(15);
    }
    assert.is(rotated, ROTATIONS);
    const expected = SOURCES + SOURCES / SECOND_SENSOR_EVERY;
    await waitFor(() => announced.length >= expected, 30_000, `${expected} created/escalated messages`).catch(async (e) => {
      const h = await getJson(`http://127.0.0.1:${g.httpPort}/api/health`);
      throw new Error(`${e.message}: have ${announced.length}, ${updates} updates; ingest ${JSON.stringify(h.body.ingest)}`);
    });
    await sleep(300);
    assert.is(await g.stop(), 0, g.output().slice(-1000));
    assert.ok(g.output().split('EVE file reopened').length - 1 <= ROTATIONS);

    const files = readdirSync(dir).filter((f) => f.startsWith('eve.json')).map((f) => join(dir, f));
    assert.is(files.length, ROTATIONS + 1);
    const perFile = files.map((f) => readEve([f]).records.length);
    assert.ok(perFile.filter((n) => n > 0).length >= ROTATIONS, `records spread over the rotated files: ${perFile}`);
    const { records, keys } = readEve(files);
    assert.equal(keys, [...announced].sort(), 'the EVE files hold exactly the created and escalated messages');
    assert.is(records.filter((r) => r.alert.metadata.reason[0] === 'escalated').length, SOURCES / SECOND_SENSOR_EVERY);
    for (const r of records) {
      const err = eveErrors(r);
      assert.is(err, undefined, `${err}: ${JSON.stringify(r).slice(0, 400)}`);
    }
    const esc = records.find((r) => r.alert.metadata.reason[0] === 'escalated')!;
    const created = records.find((r) => r.alert.metadata.alert_id[0] === esc.alert.metadata.alert_id[0] && r.alert.metadata.reason[0] === 'created')!;
    assert.ok(esc.alert.severity < created.alert.severity, 'an escalation raises the severity (1 is highest)');
    assert.is(esc.flow_id, created.flow_id, 'both records name the same flow');
    assert.equal(esc.flow, created.flow);
    assert.is(created.flow.pkts_toserver, 10);
  } finally {
    sub.end(true);
    pub.end(true);
    await g.stop();
  }
});

test('EVE syslog: each record as one RFC 5424 datagram (facility local5), same JSON as the file', async () => {
  const rx = createSocket('udp4');
  const got: string[] = [];
  rx.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
  const port = (rx.address() as AddressInfo).port;
  const eve = join(dir, 'syslog-eve.json');
  const g = await startChildGateway({ mqtt: { port: 0 }, http: { port: 0 }, store: { path: join(dir, 'syslog.db') }, eve: { file: eve, syslog: `udp://127.0.0.1:${port}` } });
  const pub = await connect(`mqtt://127.0.0.1:${g.mqttPort}`, { clientId: 'nseve-syslog' });
  try {
    const events = [1, 2, 3].map((i) => makeEvent({ sensor: 's1', src: `10.70.0.${i}`, dst: `10.71.0.${i}`, cls: 'scan' }));
    await pub.publishAsync(topics.events('s1'), makeBatch('s1', events), { qos: 1 });
    await waitFor(() => got.length >= 3, 10_000, 'three syslog datagrams');
    assert.is(await g.stop(), 0);
    const fileLines = readFileSync(eve, 'utf8').split('\n').filter(Boolean);
    assert.is(fileLines.length, 3);
    const bodies = got.map((m) => {
      const h = /^<174>1 \S+ \S+ netsensor \d+ eve - (\{.*\})$/.exec(m);
      assert.ok(h, `RFC 5424 framing: ${m.slice(0, 120)}`);
      assert.is(eveErrors(JSON.parse(h![1])), undefined);
      return h![1];
    });
    assert.equal(bodies.sort(), fileLines.sort());
  } finally {
    pub.end(true);
    rx.close();
    await g.stop();
  }
});

test('an EVE file that cannot be opened stops the gateway at start with a config error', async () => {
  const err = await startChildGateway({ mqtt: { port: 0 }, http: { port: 0 }, store: { path: join(dir, 'bad.db') }, eve: { file: join(dir, 'no-such-dir', 'eve.json') } })
    .then(() => undefined, (e: Error) => e.message);
  assert.ok(err && /eve\.file: cannot open/.test(err), String(err));
  assert.not.ok(existsSync(join(dir, 'no-such-dir')));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
