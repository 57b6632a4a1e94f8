import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { topics } from '../protocol/topics.ts';
import { allowedHosts, authorizeRequest, hostName, REQUEST_HEADER } from '../gateway/http/auth.ts';
import { withTools } from './helpers/tools.ts';
import { connect, getJson, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';

const MQTT = 18837;
const HTTP = 18087;
const TOKEN = 'test-token-0123456789abcdef';
const T0 = Date.parse('2024-05-01T12:00:00Z');

test('token decision: loopback exempt by default, Bearer token otherwise', () => {
  const hosts = allowedHosts('127.0.0.1');
  const opts = { token: TOKEN, loopbackExempt: true, hosts };
  const get = (remoteAddress: string, authorization?: string, host = '127.0.0.1:8080') =>
    ({ remoteAddress, method: 'GET', headers: { host, ...(authorization ? { authorization } : {}) } });
  assert.ok(authorizeRequest(get('127.0.0.1'), opts).ok);
  assert.ok(authorizeRequest(get('::1', undefined, '[::1]:8080'), opts).ok);
  assert.ok(authorizeRequest(get('::ffff:127.0.0.1', undefined, 'localhost'), opts).ok);
  assert.not.ok(authorizeRequest(get('10.0.0.2'), opts).ok);
  assert.not.ok(authorizeRequest(get('10.0.0.2', 'Bearer wrong-token'), opts).ok);
  assert.not.ok(authorizeRequest(get('::ffff:10.0.0.2', `Basic ${TOKEN}`), opts).ok);
  assert.ok(authorizeRequest(get('10.0.0.2', `Bearer ${TOKEN}`), opts).ok);
  assert.not.ok(authorizeRequest(get('127.0.0.1'), { token: TOKEN, loopbackExempt: false, hosts }).ok);
  const none = authorizeRequest(get('10.0.0.2', `Bearer ${TOKEN}`), { loopbackExempt: true, hosts });
  assert.ok(!none.ok && none.status === 403, 'no token configured: non-loopback always refused');
});

test('token-less loopback requests: Host must be ours; state changes need the custom header from this origin', () => {
  const opts = { loopbackExempt: true, hosts: allowedHosts('127.0.0.1', ['gw.lan']) };
  const req = (method: string, headers: Record<string, string>) => authorizeRequest({ remoteAddress: '127.0.0.1', method, headers }, opts);
  assert.not.ok(req('GET', { host: 'evil.example' }).ok, 'DNS rebinding: a foreign Host');
  assert.not.ok(req('GET', { host: 'evil.example:8080' }).ok);
  assert.not.ok(req('GET', {}).ok, 'no Host at all');
  assert.ok(req('GET', { host: 'gw.lan:8080' }).ok, 'a configured name');
  assert.equal([hostName('[::1]:80'), hostName('LocalHost:1'), hostName('a b'), hostName('x:y:z')], ['::1', 'localhost', undefined, undefined]);
  const host = '127.0.0.1:8080';
  assert.not.ok(req('POST', { host, 'content-type': 'text/plain' }).ok, 'a plain cross-site form or fetch');
  assert.not.ok(req('POST', { host, [REQUEST_HEADER]: '1', origin: 'http://evil.example' }).ok, 'the header from another origin');
  assert.not.ok(req('POST', { host, [REQUEST_HEADER]: '1', origin: 'http://127.0.0.1:9999' }).ok, 'another port is another origin');
  assert.not.ok(req('POST', { host, [REQUEST_HEADER]: '1', 'sec-fetch-site': 'same-site' }).ok);
  assert.ok(req('POST', { host, [REQUEST_HEADER]: '1', origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' }).ok);
  assert.ok(req('POST', { host, [REQUEST_HEADER]: '1' }).ok, 'a non-browser client (no Origin)');
  // Listening on every address: only loopback names (and configured ones) are ours without a token.
  assert.equal([...allowedHosts('0.0.0.0')].sort(), ['127.0.0.1', '::1', 'localhost']);
});

test('API: filters, pagination, alert events, models', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  const base = `http://127.0.0.1:${HTTP}`;
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`);
  try {
    // 30 sources; source i: class by i%3, severity by i%3, sensor by i%2, flow time T0 + i minutes, 2 events each.
    const classes = ['scan', 'dos', 'bruteforce'];
    for (let i = 0; i < 30; i++) {
      const sensor = i % 2 ? 'edge-odd' : 'edge-even';
      const events = [0, 1].map((k) => makeEvent({ sensor, src: `10.1.0.${i + 1}`, dst: `10.2.0.${k + 1}`, cls: classes[i % 3], severity: ((i % 3) + 1) as 1 | 2 | 3, t: T0 + i * 60_000 + k }));
      await c.publishAsync(topics.events(sensor), makeBatch(sensor, events, i), { qos: 1 });
    }
    await waitFor(() => g.gw.store.countEvents() === 60, 10_000, '60 events');

    // Pagination: 7 per page until next_cursor is null; newest first, no repeats, all 30.
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await getJson(`${base}/api/alerts?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      assert.is(r.status, 200);
      assert.ok(r.body.alerts.length <= 7);
      ids.push(...r.body.alerts.map((a: { id: string }) => a.id));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor && pages < 20);
    assert.is(pages, 5);
    assert.is(ids.length, 30);
    assert.is(new Set(ids).size, 30);
    assert.equal([...ids].sort().reverse(), ids, 'newest first');

    const all = async (q: string) => (await getJson(`${base}/api/alerts?limit=500&${q}`)).body.alerts as Array<Record<string, any>>;
    const sev1 = await all('severity=1');
    assert.is(sev1.length, 10);
    assert.ok(sev1.every((a) => a.severity === 1 && a.class === 'scan'));
    assert.is((await all('class=dos')).length, 10);
    const bySrc = await all('src_ip=10.1.0.5');
    assert.is(bySrc.length, 1);
    assert.is(bySrc[0].event_count, 2);
    assert.equal(bySrc[0].hosts, ['10.2.0.1', '10.2.0.2']);
    const odd = await all('sensor=edge-odd');
    assert.is(odd.length, 15);
    assert.ok(odd.every((a) => a.sensors.includes('edge-odd')));
    // Time window: sources 10..19 (flow times T0+10 min … T0+19 min).
    const window = await all(`since=${T0 + 10 * 60_000 - 2000}&until=${new Date(T0 + 19 * 60_000 + 500).toISOString()}`);
    assert.equal(window.map((a) => a.src_ip).sort(), Array.from({ length: 10 }, (_, i) => `10.1.0.${i + 11}`).sort());
    const combo = await all('severity=2&sensor=edge-odd');
    assert.ok(combo.length === 5 && combo.every((a) => a.class === 'dos' && a.sensors[0] === 'edge-odd'));
    assert.is((await all('class=nothing')).length, 0);

    // One alert, its events (paged).
    const one = await getJson(`${base}/api/alerts/${bySrc[0].id}`);
    assert.is(one.body.src_ip, '10.1.0.5');
    const e1 = await getJson(`${base}/api/alerts/${bySrc[0].id}/events?limit=1`);
    assert.is(e1.body.events.length, 1);
    const e2 = await getJson(`${base}/api/alerts/${bySrc[0].id}/events?limit=1&cursor=${e1.body.next_cursor}`);
    assert.is(e2.body.events.length, 1);
    assert.is.not(e2.body.events[0].id, e1.body.events[0].id);
    assert.equal(e2.body.events[0].top[0], ['bidirectional_syn_packets', 0.41]);
    assert.is(e2.body.next_cursor, null);

    // Errors are JSON with a code.
    assert.is((await getJson(`${base}/api/alerts?severity=7`)).status, 400);
    assert.is((await getJson(`${base}/api/alerts?limit=0`)).status, 400);
    assert.is((await getJson(`${base}/api/alerts?since=yesterday-ish`)).status, 400);
    assert.is((await getJson(`${base}/api/alerts?src_ip=1.2.3.4'%20OR%201=1`)).status, 400);
    const missing = await getJson(`${base}/api/alerts/0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b`);
    assert.is(missing.status, 404);
    assert.is(missing.body.error.code, 'ERR_NOT_FOUND');
    assert.is((await getJson(`${base}/api/nothing`)).status, 404);

    // Sensors and models.
    const s = await getJson(`${base}/api/sensors`);
    assert.equal(s.body.sensors.map((x: { id: string }) => x.id), ['edge-even', 'edge-odd']);
    assert.is(s.body.sensors[0].events, 30);
    assert.equal((await getJson(`${base}/api/models`)).body, { models: [], channels: [], sensors: [] });
    g.gw.store.db.prepare(`INSERT INTO models (id, channel, sequence, sha256, size, schema_id, created_at) VALUES ('m-7', 'stable', 7, 'ab', 10, 'schema-1', 1)`).run();
    assert.is((await getJson(`${base}/api/models`)).body.models[0].id, 'm-7');
    const stats = await getJson(`${base}/api/stats?since=0&bucket=60000`);
    assert.is(stats.body.top_sources.length, 10);
    const metrics = await fetch(`${base}/metrics`);
    assert.match(await metrics.text(), /netsensor_gateway_events_stored_total 60/);
  } finally {
    await c.endAsync();
    await g.stop();
  }
});

const NS = 'nsgw-api';
const HOST_IP = '10.251.7.1';
const NS_IP = '10.251.7.2';

function sh(cmd: string, args: string[]) {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
}

withTools(test, ['ip', 'curl', 'mosquitto_pub'], { root: true })('non-loopback clients need the token (real requests from a network namespace)', async () => {
  spawnSync('ip', ['netns', 'del', NS]);
  const g = await startGateway({ mqtt: { host: '0.0.0.0', port: MQTT }, http: { host: '0.0.0.0', port: HTTP, token: TOKEN } });
  try {
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['link', 'add', 'nsgw-h0', 'type', 'veth', 'peer', 'name', 'nsgw-n0']);
    sh('ip', ['link', 'set', 'nsgw-n0', 'netns', NS]);
    sh('ip', ['addr', 'add', `${HOST_IP}/30`, 'dev', 'nsgw-h0']);
    sh('ip', ['link', 'set', 'nsgw-h0', 'up']);
    sh('ip', ['-n', NS, 'addr', 'add', `${NS_IP}/30`, 'dev', 'nsgw-n0']);
    sh('ip', ['-n', NS, 'link', 'set', 'nsgw-n0', 'up']);
    sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // The veth link takes a moment to come up: wait until the host answers (bounded).
    for (let i = 0; i < 20 && spawnSync('ip', ['netns', 'exec', NS, 'ping', '-c1', '-W1', HOST_IP]).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    // Async: the server under test runs in this process, a synchronous child would block it.
    const curl = async (path: string, ...extra: string[]) => (await promisify(execFile)('ip', ['netns', 'exec', NS, 'curl', '-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', ...extra, `http://${HOST_IP}:${HTTP}${path}`], { timeout: 10_000 })).stdout;
    assert.is(await curl('/api/alerts'), '401');
    assert.is(await curl('/metrics'), '401');
    assert.is(await curl('/api/alerts', '-H', 'Authorization: Bearer not-the-token'), '401');
    assert.is(await curl('/api/alerts', '-H', `Authorization: Bearer ${TOKEN}`), '200');
    assert.is(await curl('/'), '200', 'the page itself is public (it asks for the token)');
    // Loopback on the same server: no token needed.
    assert.is((await getJson(`http://127.0.0.1:${HTTP}/api/alerts`)).status, 200);
    // The embedded broker without a credentials file refuses anonymous clients that are not on loopback.
    const pub = await promisify(execFile)('ip', ['netns', 'exec', NS, 'mosquitto_pub', '-V', 'mqttv311', '-h', HOST_IP, '-p', String(MQTT), '-t', topics.events('x'), '-m', 'x', '-q', '1'], { timeout: 10_000 })
      .then(() => ({ code: 0, stderr: '' }), (e) => ({ code: e.code as number, stderr: String(e.stderr) }));
    assert.is.not(pub.code, 0);
    assert.match(pub.stderr, /not authori[sz]ed|Connection Refused/i);
    assert.is(g.gw.ingest.batches, 0);
  } finally {
    spawnSync('ip', ['link', 'del', 'nsgw-h0']);
    spawnSync('ip', ['netns', 'del', NS]);
    await g.stop();
  }
});

test.run();
