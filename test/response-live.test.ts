/**
 * Automated response, end to end with real tools: a sensor on a forwarding box (its own network namespace, routing
 * between an attacker, a victim and another client) captures live, a real gateway correlates its episodes and its
 * playbooks answer with signed commands the sensor applies with nftables in the box.
 *
 *   nsresp-atk 10.246.0.10/.11 ─ nsresp-a1 ══ nsresp-a0 10.246.0.1 ┐
 *   nsresp-vic 10.247.0.20     ─ nsresp-v1 ══ nsresp-v0 10.247.0.1 ├ nsresp-box (forwards; the sensor captures nsresp-a0)
 *   nsresp-cli 10.248.0.30     ─ nsresp-c1 ══ nsresp-c0 10.248.0.1 ┘   └ nsresp-g1 10.249.0.2 ══ nsresp-g0 10.249.0.1
 *                                                                        (this process: Mosquitto, gateway, watcher)
 * 1. auto: a SYN flood (hping3) and a slow port scan (nmap) are dropped at the box ≤ 2 s after their alert while the
 *    other client's requests to the victim keep being answered; the flood's rule ends at its TTL, the scan's on undo.
 * 2. Commands not signed by the gateway, tampered, expired, replayed or naming a protected address are refused and
 *    reported; nothing of them reaches nftables.
 * 3. dry-run changes nothing in nftables; approve waits for the API.
 * 4. kill -9 of the sensor leaves its rules, which still expire on time; a restart reconciles the table with the
 *    gateway's record (a lost action comes back with its remaining time, a stray one goes).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { saveKeyPair } from '../common/keys.ts';
import { COMMAND_TYPE, signCommand, type ActionSpec, type ResponseCommand, type ResponseReport } from '../protocol/command.ts';
import { topics } from '../protocol/topics.ts';
import { parseListing } from '../sensor/response/nft-ruleset.ts';
import { getJson, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';
import { Mosquitto, sleep } from './helpers/mosquitto.ts';
import { withTools } from './helpers/tools.ts';

const root = new URL('..', import.meta.url).pathname;
const NS = { box: 'nsresp-box', atk: 'nsresp-atk', vic: 'nsresp-vic', cli: 'nsresp-cli' };
const ATK = '10.246.0.10', ATK2 = '10.246.0.11', VIC = '10.247.0.20', CLI = '10.248.0.30', GW = '10.249.0.1';
/** A configured critical host (response.allowlist on the sensor). */
const CRITICAL = '10.247.0.21';
const MQTT_PORT = 20601;
const SENSOR = 'resp-box';
const FLOOD_TTL_S = 14;

const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const nsx = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);

function cleanup(): void {
  for (const ns of Object.values(NS)) { try { sh('ip', 'netns', 'del', ns); } catch { /* absent */ } }
  try { sh('ip', 'link', 'del', 'nsresp-g0'); } catch { /* absent */ }
}

function setupNetwork(): void {
  cleanup();
  for (const ns of Object.values(NS)) {
    sh('ip', 'netns', 'add', ns);
    nsx(ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6');
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  }
  nsx(NS.box, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  for (const [ns, tag, net, hosts] of [[NS.atk, 'a', '246', [ATK, ATK2]], [NS.vic, 'v', '247', [VIC, CRITICAL]], [NS.cli, 'c', '248', [CLI]]] as const) {
    sh('ip', 'link', 'add', `nsresp-${tag}0`, 'netns', NS.box, 'type', 'veth', 'peer', 'name', `nsresp-${tag}1`, 'netns', ns);
    sh('ip', '-n', NS.box, 'addr', 'add', `10.${net}.0.1/24`, 'dev', `nsresp-${tag}0`);
    for (const h of hosts) sh('ip', '-n', ns, 'addr', 'add', `${h}/24`, 'dev', `nsresp-${tag}1`);
    for (const [n, d] of [[NS.box, `nsresp-${tag}0`], [ns, `nsresp-${tag}1`]]) {
      sh('ip', '-n', n, 'link', 'set', d, 'up');
      try { nsx(n, 'ethtool', '-K', d, 'tx', 'off'); } catch { /* best effort */ }
    }
    sh('ip', '-n', ns, 'route', 'add', 'default', 'via', `10.${net}.0.1`);
  }
  sh('ip', 'link', 'add', 'nsresp-g0', 'type', 'veth', 'peer', 'name', 'nsresp-g1', 'netns', NS.box);
  sh('ip', 'addr', 'add', `${GW}/24`, 'dev', 'nsresp-g0');
  sh('ip', 'link', 'set', 'nsresp-g0', 'up');
  sh('ip', '-n', NS.box, 'addr', 'add', '10.249.0.2/24', 'dev', 'nsresp-g1');
  sh('ip', '-n', NS.box, 'link', 'set', 'nsresp-g1', 'up');
}

/** What the box's nftables sets hold: `<set>:<element>` → ms left. */
function elements(): Map<string, number> {
  try {
    return parseListing(nsx(NS.box, 'nft', '-j', 'list', 'table', 'inet', 'netsensor'));
  } catch {
    return new Map();
  }
}

interface Message { topic: string; at: number; body: any }

/** Alerts, response events and sensor reports, with their arrival times. */
class Watcher {
  readonly messages: Message[] = [];
  client?: MqttClient;
  async connect(url: string): Promise<void> {
    this.client = await mqtt.connectAsync(url, { clientId: 'nsresp-watch', protocolVersion: 5, reconnectPeriod: 200 });
    this.client.on('message', (topic, payload) => {
      let body: unknown = null;
      try { body = JSON.parse(payload.toString('utf8')); } catch { /* not JSON */ }
      this.messages.push({ topic, at: Date.now(), body });
    });
    await this.client.subscribeAsync(['netsensor/v1/alerts/#', 'netsensor/v1/responses/#', topics.allResponseReports], { qos: 1 });
  }
  reports(since = 0): ResponseReport[] {
    return this.messages.slice(since).filter((m) => m.topic === topics.responseReport(SENSOR)).map((m) => m.body as ResponseReport);
  }
  firstAlert(src: string, since = 0): Message | undefined {
    return this.messages.slice(since).find((m) => m.topic.startsWith('netsensor/v1/alerts/') && m.body?.src_ip === src);
  }
}

interface Lab {
  dir: string;
  broker: Mosquitto;
  gateway: Awaited<ReturnType<typeof startGateway>>;
  watch: Watcher;
  keyPair: ReturnType<typeof generateKeyPairSync>;
  children: Set<ChildProcess>;
  sensor?: ChildProcess & { stderr_: () => string };
}
let lab: Lab | undefined;

const api = () => `http://127.0.0.1:${lab!.gateway.gw.httpPort}`;

async function openLab(): Promise<Lab> {
  if (lab) return lab;
  setupNetwork();
  const dir = mkdtempSync(join(tmpdir(), 'nsresp-'));
  const keyPair = generateKeyPairSync('ed25519');
  saveKeyPair(join(dir, 'keys'), keyPair);
  const broker = new Mosquitto(MQTT_PORT, '', GW);
  await broker.start();
  const gateway = await startGateway({
    mqtt: { broker: broker.url, clientId: 'nsresp-gateway' },
    http: { port: 0 },
    correlation: { updateIntervalMs: 0 },
    response: {
      mode: 'auto', keyFile: join(dir, 'keys', 'signing.key'), maxPerMinute: 20,
      playbooks: [
        { name: 'floods', match: ['dos'], action: 'block_source', ttlS: FLOOD_TTL_S },
        { name: 'scans', match: ['scan', 'port_scan'], action: 'block_source', ttlS: 300 },
        { name: 'bruteforce-trial', match: ['bruteforce'], action: 'quarantine', ttlS: 60, mode: 'dry-run' },
        { name: 'c2-ask', match: ['c2'], action: 'block_destination', ttlS: 30, mode: 'approve' },
      ],
    },
  });
  const watch = new Watcher();
  await watch.connect(broker.url);
  lab = { dir, broker, gateway, watch, keyPair, children: new Set() };
  return lab;
}

async function closeLab(): Promise<void> {
  const l = lab;
  lab = undefined;
  if (l) {
    for (const c of l.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await l.watch.client?.endAsync(true).catch(() => {});
    await l.gateway.stop().catch(() => {});
    await l.broker.dispose().catch(() => {});
    rmSync(l.dir, { recursive: true, force: true });
  }
  cleanup();
}

function run(ns: string, cmd: string[]): ChildProcess & { exited: Promise<unknown>; out: () => string } {
  const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'ignore'] });
  lab!.children.add(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  const exited = new Promise((r) => child.once('exit', r));
  return Object.assign(child, { exited, out: () => out });
}

/** Starts the sensor in the box; resolves once it reported its table ready (and got the gateway's sync). */
async function startSensor(): Promise<void> {
  const l = lab!;
  const since = l.watch.messages.length;
  let stderr = '';
  const proc = spawn('ip', ['netns', 'exec', NS.box, process.execPath, '--import', 'tsx', 'cli/main.ts', 'sensor',
    '--iface', 'nsresp-a0', '--broker', l.broker.url, '--id', SENSOR, '--db', join(l.dir, 'sensor.db'), '--heartbeat-s', '1',
    '--response', 'true', '--response-key', join(l.dir, 'keys', 'signing.pub'), '--response-allow', CRITICAL,
    '--response-state-dir', join(l.dir, 'response-state'), '--ota-state-dir', join(l.dir, 'ota')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  l.children.add(proc);
  proc.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
  l.sensor = Object.assign(proc, { stderr_: () => stderr });
  await waitFor(() => l.watch.reports(since).some((r) => r.result === 'synced'), 30_000, `sensor ready and synced: ${stderr.slice(-2000)}`);
}

/** SYNs from `src` the victim received, as wall-clock ms (tcpdump -tt in the victim's namespace). */
function synTimes(out: string): number[] {
  return out.split('\n').map((l) => Number(l.split(' ')[0]) * 1000).filter((t) => Number.isFinite(t) && t > 0);
}

function victimSyns(src: string) {
  return run(NS.vic, ['tcpdump', '-i', 'nsresp-v1', '-n', '-tt', '-l', '-q', `src host ${src} and tcp[tcpflags] & tcp-syn != 0`]);
}

async function action(src: string, state?: string): Promise<any> {
  const r = await getJson(`${api()}/api/response/actions`);
  return (r.body.actions as any[]).find((a) => a.src === src && (state === undefined || a.state === state));
}

const post = (path: string) => fetch(`${api()}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-netsensor-request': '1' }, body: '{}' });

const live = withTools(test, ['mosquitto', 'tcpdump', 'hping3', 'nmap', 'nft', 'curl', 'ethtool', 'ip'], { root: true });
test.after(closeLab);

live('auto: a SYN flood is dropped at the box ≤ 2 s after its alert, other clients keep working, the rule ends at its TTL', async () => {
  const l = await openLab();
  await startSensor();
  const server = run(NS.vic, [process.execPath, '-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(8080, '${VIC}')`]);
  const syns = victimSyns(ATK);
  await sleep(500);
  const since = l.watch.messages.length;
  // benign requests from the other client, all through the flood and the block (bounded: 60 × ≤ 1.2 s)
  const client = run(NS.cli, ['sh', '-c', `i=0; while [ $i -lt 60 ]; do curl -s -m 1 -o /dev/null -w '%{http_code}\\n' http://${VIC}:8080/; sleep 0.15; i=$((i+1)); done`]);
  const flood = run(NS.atk, ['hping3', '-q', '-S', '-p', '80', '-i', 'u2000', '-c', '4000', VIC]); // 8 s
  const act = await waitFor(() => action(ATK, 'active'), 10_000, 'an active action against the flood');
  const alert = await waitFor(() => l.watch.firstAlert(ATK, since), 3000, 'the alert on MQTT');
  assert.is(alert.body.netsensor.class, 'dos');
  // the alert's time: when the gateway made it (the action is created in the same step), or its arrival, if earlier
  const alertAt = Math.min(alert.at, act.created_ms);
  await waitFor(() => elements().has(`block_src4:${ATK}`), 3000, 'the block in nftables');
  await waitFor(() => l.watch.reports(since).some((r) => r.result === 'applied' && r.action_ids.includes(act.id)), 3000, 'the sensor reporting it applied');
  await Promise.race([flood.exited, sleep(10_000)]);
  await sleep(300);
  const times = synTimes(syns.out());
  const last = Math.max(...times);
  const late = times.filter((t) => t > alertAt + 2000).length;
  console.log(`  SYN flood: ${times.length} SYNs reached the victim, the last ${Math.round(last - alertAt)} ms after the alert`);
  assert.ok(times.length > 0, 'the flood reached the victim before the block');
  assert.is(late, 0, `${late} SYNs reached the victim more than 2 s after the alert`);
  await Promise.race([client.exited, sleep(15_000)]);
  const codes = client.out().trim().split('\n');
  assert.ok(codes.length >= 30 && codes.every((c) => c === '200'), `the other client's requests all answered: ${codes.join(',')}`);
  // the TTL: the kernel drops the element, the gateway records the expiry, the attacker gets through again
  const until = act.until_ms as number;
  await waitFor(() => !elements().has(`block_src4:${ATK}`), until - Date.now() + 2000, 'the element gone at its TTL');
  assert.ok(Date.now() >= until - 1000, 'not before its TTL');
  await waitFor(async () => (await action(ATK))?.state === 'expired', 3000, 'the action recorded expired');
  nsx(NS.atk, 'ping', '-c', '1', '-W', '2', VIC);
  const history = (await getJson(`${api()}/api/response/history?alert=${act.alert_id}`)).body.history.map((h: any) => h.event);
  assert.equal(history.filter((e: string) => ['sent', 'sensor_applied', 'expired'].includes(e)), ['sent', 'sensor_applied', 'expired']);
  assert.ok(l.watch.messages.some((m) => m.topic === topics.responseAction(SENSOR) && m.body.netsensor.action_id === act.id && m.body.netsensor.event === 'expired'));
  server.kill('SIGKILL');
});

live('auto: a port scan is dropped ≤ 2 s after its alert; undo through the API removes the rule', async () => {
  const l = await openLab();
  const syns = victimSyns(ATK2);
  await sleep(300);
  const since = l.watch.messages.length;
  // ~8 s: one probe every 4 ms (bounded by the port count)
  const scan = run(NS.atk, ['nmap', '-n', '-Pn', '-sS', '--max-retries', '0', '--scan-delay', '4ms', '-S', ATK2, '-e', 'nsresp-a1', '-p', '1000-2999', VIC]);
  const act = await waitFor(() => action(ATK2, 'active'), 10_000, 'an active action against the scan');
  const alert = await waitFor(() => l.watch.firstAlert(ATK2, since), 3000, 'the alert on MQTT');
  const alertAt = Math.min(alert.at, act.created_ms);
  await waitFor(() => elements().has(`block_src4:${ATK2}`), 3000, 'the block in nftables');
  await Promise.race([scan.exited, sleep(15_000)]);
  scan.kill('SIGINT');
  await sleep(300);
  const times = synTimes(syns.out());
  const late = times.filter((t) => t > alertAt + 2000).length;
  console.log(`  port scan (${alert.body.netsensor.kind}/${alert.body.netsensor.class}): ${times.length} probes reached the victim, the last ${Math.round(Math.max(...times) - alertAt)} ms after the alert`);
  assert.ok(times.length > 0);
  assert.is(late, 0, `${late} probes reached the victim more than 2 s after the alert`);
  const r = await post(`/api/response/actions/${act.id}/undo`);
  assert.is(r.status, 200);
  await waitFor(() => !elements().has(`block_src4:${ATK2}`), 3000, 'the element removed on undo');
  assert.is((await action(ATK2)).state, 'undone');
  assert.is((await post(`/api/response/actions/${act.id}/undo`)).status, 409, 'a second undo is refused');
  nsx(NS.atk, 'ping', '-c', '1', '-W', '2', '-I', ATK2, VIC);
});

/** A command as the gateway would sign it (the test holds the gateway's key). */
let seqStep = 0;
function command(op: ResponseCommand['op'], actions: ActionSpec[], over: Partial<ResponseCommand> = {}, key = lab!.keyPair.privateKey): Buffer {
  const now = Date.now();
  seqStep = (seqStep + 1) % 1000;
  return Buffer.from(signCommand({ type: COMMAND_TYPE, sensor: SENSOR, seq: now * 1000 + seqStep, issued_ms: now, expires_ms: now + 30_000, op, actions, ...over }, key));
}
const spec = (src: string, ms: number, extra: Partial<ActionSpec> = {}): ActionSpec =>
  ({ id: '01930000-0000-7000-8000-' + src.split('.').map((o) => o.padStart(3, '0')).join('').slice(-12), kind: 'block_source', src, until_ms: Date.now() + ms, ...extra });

async function sendAndReport(bytes: Buffer): Promise<ResponseReport> {
  const since = lab!.watch.messages.length;
  await lab!.watch.client!.publishAsync(topics.response(SENSOR), bytes, { qos: 1 });
  return waitFor(() => lab!.watch.reports(since)[0], 5000, 'a report');
}

live('commands: foreign key, tampered, expired, replayed and protected addresses are refused and reported', async () => {
  await openLab();
  const other = generateKeyPairSync('ed25519').privateKey;
  const cases: Array<[string, Buffer, string]> = [
    ['signed by another key', command('apply', [spec('10.246.0.40', 60_000)], {}, other), 'untrusted_key'],
    ['not a command at all', Buffer.from('block 10.246.0.40 please'), 'bad_envelope'],
    ['expired', command('apply', [spec('10.246.0.41', 60_000)], { issued_ms: Date.now() - 60_000, expires_ms: Date.now() - 1000 }), 'expired'],
    ['the configured critical host', command('apply', [spec(CRITICAL, 60_000)]), 'allowlisted'],
    ['the gateway', command('apply', [spec(GW, 60_000)]), 'allowlisted'],
    ['the box itself', command('apply', [spec('10.246.0.1', 60_000)]), 'allowlisted'],
  ];
  const tampered = command('apply', [spec('10.246.0.42', 60_000)]);
  tampered[tampered.indexOf(Buffer.from('10.246.0.42')) + 10] = '3'.charCodeAt(0); // → 10.246.0.43, same length
  cases.push(['tampered', tampered, 'bad_signature']);
  for (const [what, bytes, reason] of cases) {
    const r = await sendAndReport(bytes);
    assert.is(r.result, 'refused', what);
    assert.is(r.reason, reason, `${what}: ${r.message}`);
  }
  const valid = command('apply', [spec('10.246.0.44', 60_000)]);
  assert.is((await sendAndReport(valid)).result, 'applied');
  const replay = await sendAndReport(valid);
  assert.is(replay.result, 'refused');
  assert.is(replay.reason, 'replayed');
  const set = [...elements().keys()];
  assert.equal(set.filter((k) => /10\.246\.0\.4[0-3]|10\.247\.0\.21|10\.249\.0\.1|10\.246\.0\.1$/.test(k)), [], `nothing refused reached nftables: ${set}`);
  assert.ok(elements().has('block_src4:10.246.0.44'));
  assert.is((await sendAndReport(command('undo', [spec('10.246.0.44', 60_000)]))).result, 'removed');
  assert.not.ok(elements().has('block_src4:10.246.0.44'));
});

/** A synthetic episode event from the sensor's id, as if it had seen the attack (to reach a playbook deterministically). */
async function inject(cls: string, src: string, dst: string): Promise<void> {
  await lab!.watch.client!.publishAsync(topics.events(SENSOR), makeBatch(SENSOR, [makeEvent({ sensor: SENSOR, cls, src, dst, severity: 2 })], 900_000 + Math.floor(Math.random() * 1000)), { qos: 1 });
}

live('dry-run changes nothing in nftables; approve waits for the API', async () => {
  await openLab();
  const before = [...elements().keys()].sort();
  await inject('bruteforce', '10.246.0.12', VIC);
  const dry = await waitFor(() => action('10.246.0.12'), 5000, 'a dry-run action');
  assert.is(dry.state, 'dry_run');
  await inject('c2', '10.246.0.13', VIC);
  const pending = await waitFor(() => action('10.246.0.13'), 5000, 'a pending action');
  assert.is(pending.state, 'pending');
  await sleep(1500);
  assert.equal([...elements().keys()].sort(), before, 'neither dry-run nor an unapproved action touched nftables');
  const r = await post(`/api/response/actions/${pending.id}/approve`);
  assert.is(r.status, 200);
  await waitFor(() => elements().has(`block_pair4:10.246.0.13 . ${VIC}`), 3000, 'the approved block in nftables');
  assert.is((await action('10.246.0.13')).state, 'active');
  assert.is((await post(`/api/response/actions/${dry.id}/approve`)).status, 409, 'a dry-run action cannot be approved');
});

live('kill -9: rules stay and still expire on time; a restart reconciles the table with the gateway\'s record', async () => {
  const l = await openLab();
  const pair = `block_pair4:10.246.0.13 . ${VIC}`;
  const gatewayAction = await action('10.246.0.13', 'active');
  assert.ok(gatewayAction, 'the approved action of the previous test is in force');
  const short = spec('10.246.0.45', 4000);
  assert.is((await sendAndReport(command('apply', [short]))).result, 'applied');
  const pid = l.sensor!.pid!;
  let tcpdump: number[] = [];
  try { tcpdump = sh('pgrep', '-P', String(pid)).trim().split('\n').filter(Boolean).map(Number); } catch { /* no child */ }
  process.kill(pid, 'SIGKILL');
  for (const p of tcpdump) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  await new Promise((r) => (l.sensor!.exitCode !== null || l.sensor!.signalCode !== null ? r(null) : l.sensor!.once('exit', r)));
  assert.ok(elements().has('block_src4:10.246.0.45') && elements().has(pair), 'the rules outlive the sensor');
  await waitFor(() => !elements().has('block_src4:10.246.0.45'), short.until_ms - Date.now() + 2000, 'the kernel expiring the element with no sensor');
  assert.ok(Date.now() >= short.until_ms - 1000, 'not before its TTL');
  // while the sensor is down: the gateway's action is lost from the table, a stray element appears
  nsx(NS.box, 'nft', 'delete', 'element', 'inet', 'netsensor', 'block_pair4', `{ 10.246.0.13 . ${VIC} }`);
  nsx(NS.box, 'nft', 'add', 'element', 'inet', 'netsensor', 'block_src4', '{ 10.246.0.99 timeout 300s }');
  await startSensor();
  const el = elements();
  assert.ok(el.has(pair), 'the gateway\'s action is back');
  assert.not.ok(el.has('block_src4:10.246.0.99'), 'the stray element is gone');
  const left = el.get(pair)!;
  const expected = gatewayAction.until_ms - Date.now();
  assert.ok(Math.abs(left - expected) < 2500, `remaining time ${left} ms, the gateway's record says ${expected} ms`);
  l.sensor!.kill('SIGTERM');
});

test.run();
