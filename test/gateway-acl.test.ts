import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import type { MqttClient } from 'mqtt';
import { sensorClientId, topics } from '../protocol/topics.ts';
import { addCredential } from '../gateway/credentials.ts';
import { mayPublish, maySubscribe } from '../gateway/acl.ts';
import { withTools } from './helpers/tools.ts';
import { connect, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';

const AEDES = 18835;
const MOSQ = 18836;
const HTTP = 18085;
const HTTP2 = 18086;
const TLS = 18834;

test('ACL rules (pure)', () => {
  const s = { role: 'sensor' as const, id: 'a' };
  assert.ok(mayPublish(s, 'netsensor/v1/sensors/a/events'));
  assert.ok(mayPublish(s, 'netsensor/v1/sensors/a/status'));
  assert.ok(mayPublish(s, 'netsensor/v1/sensors/a/ota'));
  assert.not.ok(mayPublish(s, 'netsensor/v1/sensors/b/events'));
  assert.not.ok(mayPublish(s, 'netsensor/v1/sensors/a/other'));
  assert.not.ok(mayPublish(s, 'netsensor/v1/models/stable'));
  assert.not.ok(mayPublish(s, 'netsensor/v1/alerts/high/a'));
  assert.not.ok(mayPublish({ role: 'anonymous', id: 'x' }, 'netsensor/v1/models/stable'));
  assert.not.ok(mayPublish({ role: 'observer', id: 'o' }, 'netsensor/v1/sensors/o/events'));
  assert.ok(maySubscribe(s, 'netsensor/v1/models/#'));
  assert.not.ok(maySubscribe(s, 'netsensor/v1/sensors/#'));
  assert.not.ok(maySubscribe(s, '#'));
  assert.ok(maySubscribe({ role: 'observer', id: 'o' }, 'netsensor/v1/alerts/#'));
  assert.not.ok(maySubscribe({ role: 'observer', id: 'o' }, 'netsensor/v1/sensors/+/events'));
});

async function refused(fn: () => Promise<MqttClient>): Promise<void> {
  let c: MqttClient | undefined;
  try { c = await fn(); } catch { return; }
  c.end(true);
  assert.unreachable('connection was accepted');
}

/** Collects what `watcher` receives on its topics. */
function collect(c: MqttClient): Array<{ topic: string; payload: Buffer }> {
  const got: Array<{ topic: string; payload: Buffer }> = [];
  c.on('message', (topic, payload) => got.push({ topic, payload }));
  return got;
}

async function tryPublish(url: string, user: string, pass: string, topic: string, payload: Buffer | string, version: 4 | 5 = 4): Promise<void> {
  const c = await connect(url, { username: user, password: pass, protocolVersion: version, clientId: sensorClientId(user) });
  c.on('error', () => {});
  // aedes closes the connection on a denied publish, Mosquitto drops it silently: neither may deliver it.
  await Promise.race([c.publishAsync(topic, payload, { qos: 1 }).catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
  c.end(true);
}

test('embedded broker: per-sensor credentials and ACL denials', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-acl-'));
  const credentials = join(dir, 'credentials');
  const pa = await addCredential(credentials, 'sensor-a');
  const pb = await addCredential(credentials, 'sensor-b');
  const pw = await addCredential(credentials, 'ops', 'admin');
  assert.is((await import('node:fs')).statSync(credentials).mode & 0o777, 0o600);
  const g = await startGateway({ mqtt: { port: AEDES, credentialsFile: credentials }, http: { port: HTTP } });
  const url = `mqtt://127.0.0.1:${AEDES}`;
  const watcher = await connect(url, { username: 'ops', password: pw });
  const got = collect(watcher);
  try {
    await watcher.subscribeAsync('#', { qos: 1 });
    // No login / wrong password / anonymous: refused even from loopback once credentials exist.
    await refused(() => connect(url));
    await refused(() => connect(url, { username: 'sensor-a', password: 'wrong' }));
    await refused(() => connect(url, { username: 'nobody', password: pa }));
    // Denied publishes.
    const foreign = makeBatch('sensor-b', [makeEvent({ sensor: 'sensor-b' })]);
    await tryPublish(url, 'sensor-a', pa, topics.events('sensor-b'), foreign);
    await tryPublish(url, 'sensor-a', pa, topics.status('sensor-b'), '{"state":"offline"}');
    await tryPublish(url, 'sensor-a', pa, topics.model('stable'), 'forged manifest');
    await tryPublish(url, 'sensor-a', pa, topics.alert('high', 'sensor-a'), '{"forged":true}');
    // Denied subscription: sensor-a cannot read sensor-b's events.
    const spy = await connect(url, { username: 'sensor-a', password: pa, clientId: sensorClientId('sensor-a') });
    const spied = collect(spy);
    const granted = await spy.subscribeAsync('netsensor/v1/sensors/#', { qos: 1 }).then((gr) => gr[0].qos, () => 128);
    assert.is(granted, 128);
    // Allowed: sensor-b on its own topic (the sentinel), sensor-a reading models.
    const modelsSub = await spy.subscribeAsync('netsensor/v1/models/#', { qos: 1 });
    assert.is(modelsSub[0].qos, 1);
    const sb = await connect(url, { username: 'sensor-b', password: pb, clientId: sensorClientId('sensor-b') });
    await sb.publishAsync(topics.events('sensor-b'), makeBatch('sensor-b', [makeEvent({ sensor: 'sensor-b' })]), { qos: 1 });
    await waitFor(() => got.some((m) => m.topic === topics.events('sensor-b')), 5000, 'sentinel');
    await waitFor(() => g.gw.store.countEvents() === 1, 5000, 'sentinel stored');
    await new Promise((r) => setTimeout(r, 300));
    assert.is(got.filter((m) => m.topic === topics.events('sensor-b')).length, 1, 'only the sentinel arrived on sensor-b events');
    assert.not.ok(got.some((m) => m.topic.startsWith('netsensor/v1/models/')), 'nothing on models/');
    assert.not.ok(got.some((m) => m.topic === topics.status('sensor-b')), 'no forged status');
    assert.not.ok(got.some((m) => m.payload.toString().includes('forged')), 'no forged alert');
    assert.is(spied.length, 0, 'the spy received nothing');
    assert.is(g.gw.store.countEvents(), 1);
    const m = await (await fetch(`http://127.0.0.1:${HTTP}/metrics`)).text();
    assert.match(m, /netsensor_gateway_acl_denied_total\{action="publish"\} 4/);
    assert.match(m, /netsensor_gateway_acl_denied_total\{action="subscribe"\} 1/);
    await sb.endAsync();
    await spy.endAsync();
  } finally {
    await watcher.endAsync();
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

withTools(test, ['openssl'])('embedded broker over TLS with credentials', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const credentials = join(dir, 'credentials');
    const pw = await addCredential(credentials, 'tls-sensor');
    const g = await startGateway({ mqtt: { port: TLS, credentialsFile: credentials, tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } }, http: { port: HTTP } });
    try {
      const ca = readFileSync(join(dir, 'cert.pem'));
      const c = await connect(`mqtts://127.0.0.1:${TLS}`, { username: 'tls-sensor', password: pw, clientId: sensorClientId('tls-sensor'), ca, rejectUnauthorized: true });
      await c.publishAsync(topics.events('tls-sensor'), makeBatch('tls-sensor', [makeEvent({ sensor: 'tls-sensor' })]), { qos: 1 });
      await waitFor(() => g.gw.store.countEvents() === 1, 5000, 'event over TLS');
      await c.endAsync();
      await refused(() => connect(`mqtt://127.0.0.1:${TLS}`, { username: 'tls-sensor', password: pw, connectTimeout: 1500 }));
      await refused(() => connect(`mqtts://127.0.0.1:${TLS}`, { username: 'tls-sensor', password: pw, rejectUnauthorized: true }));
    } finally {
      await g.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function waitPort(port: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => { s.destroy(); if (Date.now() > end) reject(new Error(`port ${port} not open`)); else setTimeout(attempt, 50); });
    };
    attempt();
  });
}

/** The shipped example configuration, pointed at test files and port. */
function mosquittoConf(dir: string): string {
  const example = readFileSync(new URL('../deploy/mosquitto/mosquitto.conf', import.meta.url), 'utf8');
  // A second reader of sensor topics for the test: with use_username_as_clientid two "gateway" logins would share one id.
  writeFileSync(join(dir, 'netsensor.acl'), readFileSync(new URL('../deploy/mosquitto/netsensor.acl', import.meta.url), 'utf8')
    + '\nuser watcher\ntopic read netsensor/v1/sensors/#\ntopic read netsensor/v1/models/#\n');
  return example
    .replace(/^password_file .*$/m, `password_file ${join(dir, 'netsensor.passwd')}`)
    .replace(/^acl_file .*$/m, `acl_file ${join(dir, 'netsensor.acl')}`)
    .replace(/^listener 1883 .*$/m, `listener ${MOSQ} 127.0.0.1`)
    .replace(/^persistence true$/m, 'persistence false')
    .replace(/^persistence_location .*$/m, '');
}

withTools(test, ['mosquitto', 'mosquitto_passwd'])('Mosquitto with the example config: ACL denials, and the gateway on a v5 shared subscription', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-mosq-'));
  let broker: ChildProcess | undefined;
  let g: Awaited<ReturnType<typeof startGateway>> | undefined;
  const pass: Record<string, string> = {};
  try {
    const out = execFileSync('sh', [new URL('../deploy/mosquitto/make-passwd.sh', import.meta.url).pathname, join(dir, 'netsensor.passwd'), 'gateway', 'sensor-a', 'sensor-b', 'observer', 'watcher'], { encoding: 'utf8' });
    for (const line of out.trim().split('\n')) { const [u, p] = line.split(' '); pass[u] = p; }
    writeFileSync(join(dir, 'mosquitto.conf'), mosquittoConf(dir));
    // Mosquitto started as root drops to its own user: let it read the files.
    const uid = Number(execFileSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' }).trim() || 'NaN');
    if (Number.isInteger(uid)) { chmodSync(dir, 0o755); for (const f of ['netsensor.passwd', 'netsensor.acl', 'mosquitto.conf']) chownSync(join(dir, f), uid, -1); }
    broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    broker.stderr!.on('data', (d) => { log += d; });
    await waitPort(MOSQ, 5000).catch((e) => { throw new Error(`${e.message}: ${log}`); });
    const url = `mqtt://127.0.0.1:${MOSQ}`;

    // The gateway in external-broker mode, events through $share/netsensor/…
    g = await startGateway({ mqtt: { broker: url, username: 'gateway', password: pass.gateway, clientId: 'gw-test-1' }, http: { port: HTTP2 } });
    const watcher = await connect(url, { username: 'watcher', password: pass.watcher, protocolVersion: 5 });
    const got = collect(watcher);
    await watcher.subscribeAsync(['netsensor/v1/sensors/#', 'netsensor/v1/models/#'], { qos: 1 });
    const observer = await connect(url, { username: 'observer', password: pass.observer, protocolVersion: 5 });
    const alerts = collect(observer);
    await observer.subscribeAsync('netsensor/v1/alerts/#', { qos: 1 });

    await refused(() => connect(url, { username: 'sensor-a', password: 'wrong', protocolVersion: 5 }));
    await refused(() => connect(url, { protocolVersion: 4 }));
    const foreign = makeBatch('sensor-b', [makeEvent({ sensor: 'sensor-b' })]);
    await tryPublish(url, 'sensor-a', pass['sensor-a'], topics.events('sensor-b'), foreign, 5);
    await tryPublish(url, 'sensor-a', pass['sensor-a'], topics.model('stable'), 'forged manifest', 4);
    await tryPublish(url, 'sensor-a', pass['sensor-a'], topics.alert('high', 'sensor-a'), '{"forged":true}', 5);
    // A sensor cannot read other sensors' events.
    const spy = await connect(url, { username: 'sensor-a', password: pass['sensor-a'], protocolVersion: 5 });
    const spied = collect(spy);
    await spy.subscribeAsync('netsensor/v1/sensors/#', { qos: 1 }).catch(() => {});
    // Sentinel: sensor-b's own batch (3.1.1 client) goes through the broker to the gateway.
    const sb = await connect(url, { username: 'sensor-b', password: pass['sensor-b'], protocolVersion: 4 });
    await sb.publishAsync(topics.events('sensor-b'), makeBatch('sensor-b', [makeEvent({ sensor: 'sensor-b' }), makeEvent({ sensor: 'sensor-b' })]), { qos: 1 });
    await waitFor(() => got.some((m) => m.topic === topics.events('sensor-b')), 5000, 'sentinel');
    await waitFor(() => g!.gw.store.countEvents() === 2, 5000, 'gateway stored the sentinel via the shared subscription');
    // The gateway's alert went out through Mosquitto under its own login.
    const alert = await waitFor(() => alerts.find((m) => m.topic.startsWith('netsensor/v1/alerts/')), 5000, 'alert via mosquitto');
    assert.is(JSON.parse(alert.payload.toString()).host, 'sensor-b');
    await new Promise((r) => setTimeout(r, 300));
    assert.is(got.filter((m) => m.topic === topics.events('sensor-b')).length, 1, 'only the sentinel arrived');
    assert.not.ok(got.some((m) => m.topic.startsWith('netsensor/v1/models/')), 'nothing on models/');
    assert.not.ok(alerts.some((m) => m.payload.toString().includes('forged')), 'no forged alert');
    assert.is(alerts.length, 1);
    assert.is(spied.length, 0, 'the spy received nothing');
    assert.is(g.gw.store.countEvents(), 2);
    await spy.endAsync();
    // Takeover: sensor-a logs in under sensor-b's client id; the broker uses the user name as id, sensor-b stays on.
    let sbClosed = false;
    sb.on('close', () => { sbClosed = true; });
    const thief = await connect(url, { username: 'sensor-a', password: pass['sensor-a'], protocolVersion: 5, clientId: sensorClientId('sensor-b') });
    await new Promise((r) => setTimeout(r, 500));
    assert.not.ok(sbClosed, 'sensor-b kept its connection');
    assert.ok(sb.connected);
    await Promise.all([watcher.endAsync(), observer.endAsync(), thief.endAsync(), sb.endAsync()]);
  } finally {
    await g?.stop();
    if (broker && broker.exitCode === null) {
      broker.kill('SIGTERM');
      await new Promise((r) => broker!.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
