/**
 * Operator suppressions (gateway/suppression.ts, docs/gateway.md): what a subscriber of netsensor/v1/alerts/#, the
 * EVE file, Home Assistant and automated response get when a rule holds an alert back, when the alert outgrows the
 * rule, when the rule expires, survives a restart or is reloaded away — and a real sensor replaying nmap's SYN scan
 * into a gateway whose rule names the scanner on one sensor.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '../protocol/topics.ts';
import { loadConfig } from '../gateway/config.ts';
import { Gateway } from '../gateway/index.ts';
import { createLogger } from '../common/log.ts';
import { isNetsensorError } from '../common/errors.ts';
import { alertSubscriber, connect, getJson, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';
import { sharedPcap } from './helpers/tools.ts';
import { sleep } from './helpers/mosquitto.ts';

const root = new URL('..', import.meta.url).pathname;
const FUTURE = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);

interface AlertMessage { src_ip: string; dest_ip: string; netsensor: { alert_id: string; reason: string; class: string; kind: string; event_count: number; host_count: number; sensors: string[] } }

/** Every alert message on the gateway's embedded broker. */
const alertsOf = (port: number) => alertSubscriber<AlertMessage>(`mqtt://127.0.0.1:${port}`);

function configError(suppress: unknown): string {
  try {
    loadConfig({ flags: { suppress: suppress as never } });
  } catch (e) {
    assert.ok(isNetsensorError(e) && e.code === 'ERR_CONFIG', String(e));
    return (e as Error).message;
  }
  throw new Error('accepted');
}

test('a rule that is mistyped or too broad is a configuration error that says what is wrong', () => {
  const ok = { name: 'monitor', class: 'scan', src: '192.168.1.10', reason: 'uptime monitor' };
  assert.equal(loadConfig({ flags: { suppress: [ok] as never } }).suppress, [ok]);
  assert.match(configError({}), /suppress: expected a JSON list/);
  assert.match(configError([{ ...ok, src: '192.168.1.300' }]), /suppress\[0\]: src: 192\.168\.1\.300 is not an IP address/);
  assert.match(configError([{ ...ok, dest: '10.0.0.0/33' }]), /suppress\[0\]: dest: .*bad prefix length/);
  assert.match(configError([{ ...ok, clas: 'scan' }]), /unknown key 'clas'/);
  assert.match(configError([{ ...ok, class: 'scans' }]), /class: one of scan, dos/);
  assert.match(configError([{ name: 'all', class: 'scan', reason: 'too quiet' }]), /at least one of src, dest or sensor/);
  assert.match(configError([{ ...ok, reason: ' ' }]), /reason: why/);
  assert.match(configError([{ ...ok, until: 'next week' }]), /until: an ISO 8601 date/);
  assert.match(configError([ok, ok]), /suppress\[1\]: name monitor twice/);
});

test('held back while the whole alert lies inside the rule, stored and counted; announced as created once it strays; an expired rule holds nothing', async () => {
  const eveFile = join(tmpdir(), `nssup-eve-${process.pid}.json`);
  const g = await startGateway({
    mqtt: { port: 0 }, http: { port: 0 }, eve: { file: eveFile },
    suppress: [
      { name: 'monitor', class: 'scan', src: '10.0.0.7', dest: '10.0.1.0/24', until: FUTURE, reason: 'uptime monitor' },
      { name: 'ended', class: 'bruteforce', src: '10.0.0.8', until: '2020-01-01', reason: 'old pen test' },
    ] as never,
  });
  const sub = await alertsOf(g.gw.mqttPort!);
  const sensor = await connect(`mqtt://127.0.0.1:${g.gw.mqttPort}`, { clientId: 's1' });
  const api = `http://127.0.0.1:${g.gw.httpPort}`;
  try {
    const t = Date.now() - 10_000;
    const events = [
      ...[1, 2, 3].map((i) => makeEvent({ sensor: 's1', src: '10.0.0.7', dst: `10.0.1.${i}`, cls: 'scan', t: t + i })),
      ...[1, 2, 3].map((i) => makeEvent({ sensor: 's1', src: '10.0.0.9', dst: `10.0.1.${i}`, cls: 'scan', t: t + i })),
      ...[1, 2].map((i) => makeEvent({ sensor: 's1', src: '10.0.0.8', dst: '10.0.1.5', cls: 'bruteforce', t: t + i })),
    ];
    await sensor.publishAsync(topics.events('s1'), makeBatch('s1', events, 1), { qos: 1 });
    await waitFor(() => sub.messages.some((m) => m.src_ip === '10.0.0.9') && sub.messages.some((m) => m.src_ip === '10.0.0.8'), 10_000, 'the other alerts');
    await sleep(300); // anything about 10.0.0.7 would have been sent with them
    assert.equal(sub.messages.filter((m) => m.src_ip === '10.0.0.7'), []);
    assert.equal(sub.messages.find((m) => m.src_ip === '10.0.0.8')!.netsensor.class, 'bruteforce', 'an expired rule holds nothing back');
    const eveSources = () => readFileSync(eveFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l).src_ip as string);
    assert.equal(eveSources().sort(), ['10.0.0.8', '10.0.0.9'], 'the EVE file has the announced alerts only');

    const stored = await getJson(`${api}/api/alerts?src_ip=10.0.0.7`);
    assert.is(stored.body.alerts.length, 1, 'held back, yet stored');
    assert.is(stored.body.alerts[0].event_count, 3);
    assert.is(stored.body.alerts[0].suppressed_by, 'monitor', 'the API says which rule holds it');
    assert.is((await getJson(`${api}/api/alerts?src_ip=10.0.0.9`)).body.alerts[0].suppressed_by, undefined);
    const rules = (await getJson(`${api}/api/suppressions`)).body.suppressions;
    assert.equal(rules.map((r: { name: string; active: boolean; alerts: number }) => [r.name, r.active, r.alerts]), [['monitor', true, 1], ['ended', false, 0]]);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    assert.match(metrics, /netsensor_gateway_alerts_suppressed_total\{rule="monitor"\} 1\n/);
    assert.match(metrics, /netsensor_gateway_alerts_suppressed_total\{rule="ended"\} 0\n/);

    // The same source reaches a host outside the rule's targets: the alert as a whole is announced, as new.
    await sensor.publishAsync(topics.events('s1'), makeBatch('s1', [makeEvent({ sensor: 's1', src: '10.0.0.7', dst: '10.0.2.9', cls: 'scan', t: t + 5 })], 2), { qos: 1 });
    await waitFor(() => sub.messages.some((m) => m.src_ip === '10.0.0.7'), 10_000, 'the strayed alert');
    const strayed = sub.messages.filter((m) => m.src_ip === '10.0.0.7');
    assert.is(strayed.length, 1);
    assert.is(strayed[0].netsensor.reason, 'created');
    assert.is(strayed[0].netsensor.alert_id, stored.body.alerts[0].id);
    assert.is(strayed[0].netsensor.event_count, 4);
    assert.is(strayed[0].netsensor.host_count, 4);
    assert.is((await getJson(`${api}/api/alerts/${strayed[0].netsensor.alert_id}`)).body.suppressed_by, undefined);
    assert.equal(eveSources().sort(), ['10.0.0.7', '10.0.0.8', '10.0.0.9']);
  } finally {
    await sub.client.endAsync();
    await sensor.endAsync();
    await g.stop();
    rmSync(eveFile, { force: true });
  }
});

test('a gateway restarted with the rule keeps holding the alert; the rule reloaded away releases it as created; a new rule applies at once', async () => {
  const hub = [{ name: 'hub', class: 'scan', src: '10.0.0.7', reason: 'hub polls devices' }];
  const g = await startGateway({ mqtt: { port: 0 }, http: { port: 0 }, suppress: hub as never });
  const t = Date.now() - 10_000;
  const batch = (seq: number, src: string, n: number) => makeBatch('s1', Array.from({ length: n }, (_, i) => makeEvent({ sensor: 's1', src, dst: `10.0.1.${i + 1}`, cls: 'scan', t: t + seq * 10 + i })), seq);
  const first = await connect(`mqtt://127.0.0.1:${g.gw.mqttPort}`, { clientId: 's1' });
  await first.publishAsync(topics.events('s1'), batch(1, '10.0.0.7', 3), { qos: 1 });
  await waitFor(() => g.gw.ingest.batches >= 1, 10_000, 'first batch');
  await first.endAsync();
  await g.gw.stop();

  // the same database, the same rule: which open alerts are held back is rebuilt at start-up
  const settings = (suppress: unknown[]) => loadConfig({ flags: { mqtt: { port: 0 }, http: { port: 0 }, store: { path: join(g.dir, 'gw.db') }, suppress: suppress as never } });
  const gw = await Gateway.start(settings(hub), createLogger('warn'));
  const sub = await alertsOf(gw.mqttPort!);
  const sensor = await connect(`mqtt://127.0.0.1:${gw.mqttPort}`, { clientId: 's1' });
  try {
    // what SIGHUP does with the configuration read again (test/gateway-reload.test.ts sends the signal itself)
    const plan = gw.reload(settings([{ name: 'other', class: 'dos', src: '10.0.0.9', reason: 'load test rig' }]));
    assert.equal(plan, { apply: ['suppress'], restart: [] });
    assert.equal(sub.messages, [], 'nothing announced until the alert changes');

    await sensor.publishAsync(topics.events('s1'), batch(2, '10.0.0.7', 1), { qos: 1 });
    await sensor.publishAsync(topics.events('s1'), makeBatch('s1', [makeEvent({ sensor: 's1', src: '10.0.0.9', dst: '10.0.1.1', cls: 'dos', t })], 3), { qos: 1 });
    await waitFor(() => sub.messages.some((m) => m.src_ip === '10.0.0.7') && gw.ingest.batches >= 2, 10_000, 'the released alert');
    await sleep(300);
    const released = sub.messages.filter((m) => m.src_ip === '10.0.0.7');
    assert.is(released.length, 1);
    assert.is(released[0].netsensor.reason, 'created', 'announced whole, as new, though it was created before the restart');
    assert.is(released[0].netsensor.event_count, 4);
    assert.equal(sub.messages.filter((m) => m.src_ip === '10.0.0.9'), [], 'the reloaded rule holds the dos alert');
  } finally {
    await sub.client.endAsync();
    await sensor.endAsync();
    await gw.stop();
    await g.stop();
  }
});

test('Home Assistant and automated response: a held-back alert fires no event, is not counted in the sensor\'s state and starts no action; another source\'s alert does all three', async () => {
  const g = await startGateway({
    mqtt: { port: 0 }, http: { port: 0 }, homeAssistant: { enabled: true }, gatewayId: 'gw-sup',
    response: { mode: 'dry-run', playbooks: [{ name: 'contain', match: ['scan', 'bruteforce'], action: 'block_source', ttlS: 60 }] as never },
    suppress: [{ name: 'monitor', class: 'scan', src: '10.0.0.7', reason: 'uptime monitor' }] as never,
  });
  const watcher = await connect(`mqtt://127.0.0.1:${g.gw.mqttPort}`);
  const sensor = await connect(`mqtt://127.0.0.1:${g.gw.mqttPort}`, { clientId: 'edge-1' });
  const last = new Map<string, string>();
  const fired: string[] = [];
  watcher.on('message', (topic, payload) => {
    last.set(topic, payload.toString());
    if (topic === 'netsensor/v1/ha/gateway/gw-sup/alert') fired.push(JSON.parse(payload.toString()).src_ip);
  });
  try {
    await watcher.subscribeAsync('netsensor/v1/ha/#', { qos: 1 });
    await sensor.publishAsync(topics.status('edge-1'), JSON.stringify({ state: 'online', ts: Date.now(), model: 'm-7' }), { qos: 1, retain: true });
    const t = Date.now() - 10_000;
    await sensor.publishAsync(topics.events('edge-1'), makeBatch('edge-1', [1, 2, 3].map((i) => makeEvent({ sensor: 'edge-1', src: '10.0.0.7', dst: `10.0.1.${i}`, cls: 'scan', t: t + i })), 1), { qos: 1 });
    await sensor.publishAsync(topics.events('edge-1'), makeBatch('edge-1', [makeEvent({ sensor: 'edge-1', src: '10.0.0.9', cls: 'bruteforce', t })], 2), { qos: 1 });
    await waitFor(() => g.gw.ingest.batches >= 2 && fired.length >= 1, 10_000, 'both batches, an alert event');
    await sleep(300); // what the first batch would have sent is out by now
    assert.equal(fired, ['10.0.0.9'], 'one event, for the alert that is not held back');
    assert.is(last.get('netsensor/v1/ha/edge-1/state'), JSON.stringify({ intrusion: 'ON', open_alerts: 1 }), 'the held-back alert is not counted');
    const api = `http://127.0.0.1:${g.gw.httpPort}`;
    const [other] = (await getJson(`${api}/api/alerts?src_ip=10.0.0.9`)).body.alerts;
    const actions = (await getJson(`${api}/api/response/actions`)).body.actions as Array<{ alert_id: string; src: string }>;
    assert.equal(actions.map((a) => [a.alert_id, a.src]), [[other.id, '10.0.0.9']], 'a dry-run action for the other alert only');
  } finally {
    await watcher.endAsync();
    await sensor.endAsync();
    await g.stop();
  }
});

/** `netsensor sensor` replaying a capture into the gateway's broker, with the shipped model; resolves on exit 0. */
function replay(pcap: string, port: number, id: string, db: string): Promise<void> {
  const p = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sensor', '--pcap', pcap, '--broker', `mqtt://127.0.0.1:${port}`, '--id', id, '--db', db],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sensor exit ${code}: ${stderr.slice(-500)}`)))));
}

test('a real sensor replaying nmap\'s SYN scan: the scanner named by a rule scoped to one sensor raises nothing there; a second sensor seeing it announces it', async () => {
  const g = await startGateway({
    mqtt: { port: 0 }, http: { port: 0 },
    suppress: [{ name: 'lab-scanner', class: 'scan', src: '172.16.0.8', sensor: 'pi-a', until: FUTURE, reason: 'the lab\'s weekly nmap run' }] as never,
  });
  const sub = await alertsOf(g.gw.mqttPort!);
  const api = `http://127.0.0.1:${g.gw.httpPort}`;
  const pcap = sharedPcap('chrissanders-packets/synscan.pcapng');
  try {
    await replay(pcap, g.gw.mqttPort!, 'pi-a', join(g.dir, 'pi-a.db'));
    await waitFor(async () => (await getJson(`${api}/api/alerts?src_ip=172.16.0.8`)).body.alerts.length > 0, 15_000, 'the scan alert stored');
    await sleep(500);
    assert.equal(sub.messages, [], 'nothing announced');
    const [alert] = (await getJson(`${api}/api/alerts?src_ip=172.16.0.8`)).body.alerts;
    assert.is(alert.class, 'scan');
    assert.equal(alert.sensors, ['pi-a']);
    assert.is((await getJson(`${api}/api/suppressions`)).body.suppressions[0].alerts, 1);

    await replay(pcap, g.gw.mqttPort!, 'pi-b', join(g.dir, 'pi-b.db'));
    await waitFor(() => sub.messages.length > 0, 15_000, 'the alert announced');
    const first = sub.messages[0];
    assert.is(first.src_ip, '172.16.0.8');
    assert.is(first.netsensor.alert_id, alert.id);
    assert.is(first.netsensor.reason, 'created');
    assert.equal([...first.netsensor.sensors].sort(), ['pi-a', 'pi-b']);
  } finally {
    await sub.client.endAsync();
    await g.stop();
  }
});

test.run();
