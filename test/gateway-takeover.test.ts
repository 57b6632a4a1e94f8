/**
 * Client ids are bound to logins on the embedded broker: a sensor logged in with its own credentials cannot
 * connect as another sensor (which would disconnect it, fire its last will and show it offline), no login can take
 * over a client id another login holds, and password guesses from one address are throttled. Real MQTT clients.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { sensorClientId, topics } from '../protocol/topics.ts';
import { addCredential } from '../gateway/credentials.ts';
import { LoginThrottle } from '../gateway/login-throttle.ts';
import { connect, getJson, startGateway, waitFor } from './helpers/gateway-fixtures.ts';

const MQTT = 18882;
const HTTP = 18182;
const dir = mkdtempSync(join(tmpdir(), 'nsgw-takeover-'));
const url = `mqtt://127.0.0.1:${MQTT}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function refusedWith(fn: () => Promise<MqttClient>): Promise<string> {
  try {
    const c = await fn();
    c.end(true);
  } catch (e) {
    return (e as Error).message;
  }
  return assert.unreachable('connection was accepted') as never;
}

const authFailed = async (reason: string) => {
  const m = await (await fetch(`http://127.0.0.1:${HTTP}/metrics`)).text();
  return Number(new RegExp(`netsensor_gateway_auth_failed_total\\{reason="${reason}"\\} (\\d+)`).exec(m)?.[1] ?? 0);
};

test('a sensor cannot take over another sensor\'s client id; the victim stays connected and online', async () => {
  const credentials = join(dir, 'credentials');
  const pa = await addCredential(credentials, 'sensor-a');
  const pb = await addCredential(credentials, 'sensor-b');
  const pha = await addCredential(credentials, 'ha', 'observer');
  const pops = await addCredential(credentials, 'ops', 'admin');
  const g = await startGateway({ mqtt: { port: MQTT, credentialsFile: credentials }, http: { port: HTTP } });
  const will = { topic: topics.status('sensor-b'), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true };
  const victim = await connect(url, { username: 'sensor-b', password: pb, clientId: sensorClientId('sensor-b'), will });
  let victimClosed = 0;
  victim.on('close', () => { victimClosed++; });
  try {
    await victim.publishAsync(topics.status('sensor-b'), '{"state":"online"}', { qos: 1, retain: true });
    await waitFor(async () => (await getJson(`http://127.0.0.1:${HTTP}/api/sensors`)).body.sensors.find((s: { id: string }) => s.id === 'sensor-b')?.state === 'online', 5000, 'sensor-b online');
    for (let i = 0; i < 5; i++) {
      const why = await refusedWith(() => connect(url, { username: 'sensor-a', password: pa, clientId: sensorClientId('sensor-b') }));
      assert.match(why, /identifier rejected/i);
    }
    // A sensor may not use any other id either (a random one could be an observer's).
    await refusedWith(() => connect(url, { username: 'sensor-a', password: pa, clientId: 'homeassistant' }));
    await sleep(300);
    assert.is(victimClosed, 0, 'the victim was never disconnected');
    assert.ok(victim.connected);
    const b = (await getJson(`http://127.0.0.1:${HTTP}/api/sensors`)).body.sensors.find((s: { id: string }) => s.id === 'sensor-b');
    assert.is(b.state, 'online', 'no last will fired');
    assert.is(await authFailed('client_id'), 6);

    // Between other logins: an id held by one login cannot be taken by another, even an admin.
    const ha = await connect(url, { username: 'ha', password: pha, clientId: 'homeassistant' });
    let haClosed = 0;
    ha.on('close', () => { haClosed++; });
    await refusedWith(() => connect(url, { username: 'ops', password: pops, clientId: 'homeassistant' }));
    await refusedWith(() => connect(url, { username: 'ha', password: pha, clientId: sensorClientId('sensor-b') }));
    await sleep(200);
    assert.is(haClosed, 0);
    assert.is(await authFailed('takeover'), 1);

    // The same login may take its own id over (a sensor reconnecting before its old connection timed out).
    const again = await connect(url, { username: 'sensor-b', password: pb, clientId: sensorClientId('sensor-b') });
    await waitFor(() => victimClosed > 0, 3000, 'the old connection replaced');
    await again.endAsync();
    await ha.endAsync();
  } finally {
    victim.end(true);
    await g.stop();
  }
});

test('password guesses from one address are throttled, right or wrong', async () => {
  const credentials = join(dir, 'credentials-throttle');
  const pw = await addCredential(credentials, 'sensor-t');
  const g = await startGateway({ mqtt: { port: MQTT, credentialsFile: credentials }, http: { port: HTTP } });
  try {
    const started = Date.now();
    // 40 guesses in parallel, as fast as the client can send them.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      refusedWith(() => connect(url, { username: 'sensor-t', password: `guess-${i}`, clientId: sensorClientId('sensor-t') }))));
    assert.is(results.length, 40);
    assert.is(await authFailed('bad_credentials'), 10, 'at most 10 passwords were checked');
    assert.is(await authFailed('throttled'), 30);
    // The right password is refused too while the address is throttled: nothing can be learnt by guessing.
    await refusedWith(() => connect(url, { username: 'sensor-t', password: pw, clientId: sensorClientId('sensor-t') }));
    assert.is(await authFailed('throttled'), 31);
    console.log(`  throttle: 41 logins in ${Date.now() - started} ms, 10 passwords checked`);
  } finally {
    await g.stop();
  }
});

test('login throttle: a window without failures lifts it; successes take back only their own attempt', () => {
  let now = 0;
  const t = new LoginThrottle({ maxFailures: 3, windowMs: 1000, maxAddresses: 2 }, () => now);
  for (let i = 0; i < 3; i++) assert.ok(t.attempt('a'));
  assert.not.ok(t.attempt('a'), 'fourth attempt refused');
  now = 999;
  assert.not.ok(t.attempt('a'));
  now = 1000;
  assert.ok(t.attempt('a'), 'a full window after the last failure');
  t.succeeded('a');
  assert.ok(t.attempt('a'));
  assert.ok(t.attempt('a'));
  assert.ok(t.attempt('a'));
  assert.not.ok(t.attempt('a'), 'a success did not reset the count');
  // Bounded: a third address evicts the one that failed least recently.
  assert.ok(t.attempt('b'));
  assert.ok(t.attempt('c'));
  assert.ok(t.attempt('a'), '"a" was forgotten');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
