/**
 * Signed model updates end to end, with the real processes an operator runs:
 *   `netsensor gateway` (embedded broker, temporary SQLite, API token required even on loopback),
 *   `netsensor sensor --pcap … --replay realtime` (pinned key, temporary OTA state directory),
 *   `netsensor keys generate` and `netsensor model publish --gateway`.
 * The update must be reported `applied` on the sensor's ota topic, show in /api/models, and be swapped in while
 * the sensor keeps producing events (events after the swap carry the new model's version; packet counters keep
 * growing; every packet of the capture is processed). Tampered or foreign-signed uploads are refused by the API
 * with their reason. Restarts: the gateway keeps its rollout state (SQLite) and a restarted sensor starts on the
 * applied model from its state directory.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { generateSigningKey } from '../common/keys.ts';
import { buildRelease } from '../cli/commands/model/publish.ts';
import { decodeBundle, encodeBundle } from '../protocol/manifest.ts';
import { topics } from '../protocol/topics.ts';
import type { OtaReport } from '../sensor/ota.ts';
import { ortModelLoader } from '../inference/load.ts';
import { EventSubscriber } from './helpers/event-subscriber.ts';
import { sharedPcap } from './helpers/tools.ts';
import { writeUntrainedModel } from './helpers/untrained-model.ts';

const root = new URL('..', import.meta.url).pathname;
const MQTT_PORT = 18860;
const HTTP_PORT = 18861;
const TOKEN = 'e2e-test-token-0123456789';
const GW = `http://127.0.0.1:${HTTP_PORT}`;
const BROKER = `mqtt://127.0.0.1:${MQTT_PORT}`;
const SENSOR = 'e2e-1';
// 9924 packets spread over 56 s: flows end (and are scored) all through the replay.
const CAPTURE = sharedPcap('markofu-pcaps/EvilFingers/NMAP_PCAPS/NMAP_SCAN_ANALYSIS/TCP_CONNECT_SCAN/TCP_CONNECT_SCAN.pcap');
const CAPTURE_PACKETS = 9924;

const dir = mkdtempSync(join(tmpdir(), 'netsensor-ota-e2e-'));
const keysDir = join(dir, 'keys');
const baseModel = writeUntrainedModel(join(dir, 'base.onnx'), 'untrained-e2e-1');
// The update: the shipped model when the repository has one, else a second model of the same real format.
const shipped = join(root, 'models/netsensor-detect.onnx');
const nextModel = existsSync(shipped) ? shipped : writeUntrainedModel(join(dir, 'next.onnx'), 'untrained-e2e-2');

interface Proc { p: ChildProcess; exit: Promise<number | null>; out: () => string; log: () => Array<Record<string, unknown>> }

function cli(args: string[], env: Record<string, string> = {}): Proc {
  const p = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NETSENSOR_LOG_LEVEL: 'info', ...env },
  });
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d) => { stdout += d; });
  p.stderr!.on('data', (d) => { stderr += d; });
  const exit = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  return {
    p, exit, out: () => stdout + stderr,
    log: () => (stdout + stderr).split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return { msg: l }; } }),
  };
}

async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(path: string, init: RequestInit = {}, token: string | undefined = TOKEN): Promise<{ status: number; body: any }> {
  const headers = { ...(init.headers as Record<string, string> ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const res = await fetch(`${GW}${path}`, { ...init, headers });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body };
}

function startGateway(): Proc {
  return cli(['gateway', '--mqtt-port', String(MQTT_PORT), '--http-port', String(HTTP_PORT), '--db', join(dir, 'gateway.db'),
    '--model-keys', join(keysDir, 'signing.pub'), '--token-required-on-loopback'], { NETSENSOR_GW_API_TOKEN: TOKEN });
}

async function gatewayUp(g: Proc): Promise<void> {
  await waitFor(async () => {
    if (g.p.exitCode !== null) throw new Error(`gateway exited: ${g.out().slice(-800)}`);
    try { return (await api('/api/health')).status === 200; } catch { return false; }
  }, 30_000, 'the gateway API');
}

async function stop(pr: Proc | undefined): Promise<void> {
  if (!pr || pr.p.exitCode !== null) return;
  pr.p.kill('SIGTERM');
  const t = setTimeout(() => pr.p.kill('SIGKILL'), 10_000);
  await pr.exit;
  clearTimeout(t);
}

let gateway: Proc | undefined;
let sensor: Proc | undefined;
let watcher: MqttClient | undefined;
const sub = new EventSubscriber();
const reports: OtaReport[] = [];
const statuses: Array<{ at: number; packets: number; model: string }> = [];
let appliedSeq = 0;
let newVersion = '';

test.before(async () => {
  const k = cli(['keys', 'generate', '--out', keysDir]);
  assert.is(await k.exit, 0, k.out());
  gateway = startGateway();
  await gatewayUp(gateway);
  watcher = await mqtt.connectAsync(BROKER, { clientId: 'e2e-watcher', protocolVersion: 4, reconnectPeriod: 200 });
  watcher.on('message', (topic, payload) => {
    if (topic === topics.ota(SENSOR)) reports.push(JSON.parse(payload.toString()));
    if (topic === topics.status(SENSOR)) {
      const s = JSON.parse(payload.toString());
      if (s.state === 'online') statuses.push({ at: Date.now(), packets: s.counters.packets, model: s.model });
    }
  });
  await watcher.subscribeAsync([topics.ota(SENSOR), topics.status(SENSOR)], { qos: 1 });
  await sub.connect(BROKER, 'e2e-events', 4);
});

test.after(async () => {
  await stop(sensor);
  await sub.close().catch(() => {});
  await watcher?.endAsync().catch(() => {});
  await stop(gateway);
  rmSync(dir, { recursive: true, force: true });
});

test('a published update is applied by a running sensor between batches; flows and counters go on', async () => {
  sensor = cli(['sensor', '--pcap', CAPTURE, '--replay', 'realtime', '--broker', BROKER, '--mqtt-version', '4', '--id', SENSOR,
    '--db', join(dir, 'sensor.db'), '--model', baseModel, '--anomaly-threshold', '0', '--publish', 'flows', '--heartbeat-s', '1',
    '--ota-key', join(keysDir, 'signing.pub'), '--ota-state-dir', join(dir, 'ota')]);
  await waitFor(() => {
    if (sensor!.p.exitCode !== null) throw new Error(`sensor exited: ${sensor!.out().slice(-800)}`);
    return reports.some((r) => r.state === 'current');
  }, 30_000, 'the sensor\'s current-model report');
  await waitFor(async () => (await api('/api/models')).body.sensors?.some((s: { id: string }) => s.id === SENSOR), 5000, 'the gateway to know the sensor');
  await waitFor(() => sub.events.length > 0, 20_000, 'first events');

  // The API token is required even from loopback here: without it the upload is refused.
  const noToken = cli(['model', 'publish', nextModel, '--channel', 'stable', '--key', join(keysDir, 'signing.key'), '--gateway', GW], { NETSENSOR_GW_API_TOKEN: '' });
  assert.is(await noToken.exit, 1);
  assert.match(noToken.out(), /401/);

  const eventsBefore = sub.events.length;
  const t0 = Date.now();
  const pub = cli(['model', 'publish', nextModel, '--channel', 'stable', '--key', join(keysDir, 'signing.key'), '--gateway', GW], { NETSENSOR_GW_API_TOKEN: TOKEN });
  assert.is(await pub.exit, 0, pub.out());
  const accepted = JSON.parse(pub.out().split('\n').find((l) => l.startsWith('{'))!);
  appliedSeq = accepted.seq;
  newVersion = accepted.model_id;
  assert.is(accepted.channel, 'stable');
  const applied = await waitFor(() => reports.find((r) => r.seq === appliedSeq && r.state !== 'current'), 30_000, 'the applied report');
  console.log(`  publish → applied report in ${Date.now() - t0} ms (publish CLI included); ${sub.events.length - eventsBefore} events meanwhile`);
  assert.is(applied.state, 'applied', JSON.stringify(applied));
  assert.equal(applied.current, { model_id: newVersion, seq: appliedSeq });

  const models = await waitFor(async () => {
    const m = (await api('/api/models')).body;
    return m.channels?.[0]?.rollout.state === 'complete' && m.sensors.find((s: { id: string; seq?: number }) => s.id === SENSOR && s.seq === appliedSeq) ? m : undefined;
  }, 10_000, '/api/models to show the sensor on the new version');
  assert.is(models.channels[0].model_id, newVersion);
  assert.equal(models.channels[0].rollout.applied, [SENSOR]);
  assert.is(models.models[0].model_id, newVersion, 'release history (models table)');

  // Flows keep coming and are scored by the new model; the capture is processed to its last packet.
  await waitFor(() => sub.events.some((e) => e.model === newVersion), 30_000, 'an event scored by the new model');
  const code = await sensor.exit;
  assert.is(code, 0, sensor.out().slice(-1500));
  const fin = sensor.log().find((l) => l.msg === 'capture finished') as { packets: number; flows: number; events: number } | undefined;
  assert.ok(fin, 'capture finished line');
  assert.is(fin!.packets, CAPTURE_PACKETS, 'every packet processed across the swap');
  await waitFor(() => sub.ids.size >= fin!.events, 10_000, 'every event delivered');
  const byModel = new Map<string, number>();
  for (const e of sub.events) byModel.set(e.model, (byModel.get(e.model) ?? 0) + 1);
  console.log(`  ${fin!.packets} packets, ${fin!.flows} flows, events by model: ${JSON.stringify(Object.fromEntries(byModel))}`);
  assert.is(sub.duplicates, 0);
  assert.ok((byModel.get('untrained-e2e-1') ?? 0) > 0 && (byModel.get(newVersion) ?? 0) > 0, 'events from both models');
  assert.is(fin!.events, fin!.flows, 'every flow scored (threshold 0): none lost in the swap');
  // Counters survive the swap: the status heartbeat's packet counter never goes back.
  const swapAt = statuses.findIndex((s) => s.model === newVersion);
  assert.ok(swapAt > 0, 'status reported the old model, then the new one');
  for (let i = 1; i < statuses.length; i++) assert.ok(statuses[i].packets >= statuses[i - 1].packets, 'packet counter monotonic');
  assert.ok(statuses[swapAt].packets > 0);
});

test('the API refuses tampered and foreign-signed uploads with their reason', async () => {
  const out = join(dir, 'bundle.cbor');
  const b = cli(['model', 'publish', nextModel, '--channel', 'stable', '--key', join(keysDir, 'signing.key'), '--out', out]);
  assert.is(await b.exit, 0, b.out());
  const bundle = decodeBundle(new Uint8Array(readFileSync(out)));
  const payload = Uint8Array.from(bundle.payload);
  payload[payload.length >> 1] ^= 0xff;
  const tampered = encodeBundle({ v: 1, envelope: bundle.envelope, payload });
  const r1 = await api('/api/models', { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: tampered });
  assert.is(r1.status, 400);
  assert.is(r1.body.error.reason, 'hash_mismatch', JSON.stringify(r1.body));

  const stranger = generateSigningKey();
  const rel = await buildRelease(new Uint8Array(readFileSync(nextModel)), { channel: 'stable', privateKey: stranger.privateKey, loader: ortModelLoader });
  const r2 = await api('/api/models', { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: encodeBundle({ v: 1, envelope: rel.envelope, payload: rel.payload }) });
  assert.is(r2.status, 400);
  assert.is(r2.body.error.reason, 'untrusted_key');

  const r3 = await api('/api/models', { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: 'not cbor at all' });
  assert.is(r3.status, 400);
  const r4 = await api('/api/models', { method: 'POST', body: 'not cbor at all' }); // text/plain
  assert.is(r4.status, 415);
  // Nothing changed: the channel still offers the applied release.
  assert.is((await api('/api/models')).body.channels[0].seq, appliedSeq);
});

test('restarts: the gateway keeps rollout state; the sensor starts on the applied model', async () => {
  await stop(gateway);
  gateway = startGateway();
  await gatewayUp(gateway);
  const m = (await api('/api/models')).body;
  assert.is(m.channels[0].seq, appliedSeq);
  assert.is(m.channels[0].rollout.state, 'complete');
  assert.ok(m.sensors.some((s: { id: string; seq?: number }) => s.id === SENSOR && s.seq === appliedSeq));

  // The restarted gateway offers the release again (retained): a restarted sensor sees it is current, reports so.
  const before = reports.length;
  const s2 = cli(['sensor', '--pcap', sharedPcap('chrissanders-packets/synscan.pcapng'), '--broker', BROKER, '--mqtt-version', '4', '--id', SENSOR,
    '--db', join(dir, 'sensor.db'), '--model', baseModel, '--anomaly-threshold', '0', '--publish', 'flows',
    '--ota-key', join(keysDir, 'signing.pub'), '--ota-state-dir', join(dir, 'ota')]);
  assert.is(await s2.exit, 0, s2.out().slice(-1500));
  const started = s2.log().find((l) => l.msg === 'sensor started') as { model: string; model_source: string };
  assert.equal([started.model, started.model_source], [newVersion, 'ota']);
  assert.not.ok(s2.log().some((l) => l.msg === 'model update rejected'), 'the retained current release is not re-reported as rejected');
  await waitFor(() => reports.length > before, 5000, 'a report from the restarted sensor');
  assert.ok(reports.slice(before).every((r) => r.state === 'current' && r.current?.seq === appliedSeq));
});

test.run();
