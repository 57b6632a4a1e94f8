/**
 * Live, end to end, with real tools: what a subscriber of netsensor/v1/alerts/# sees when sensors capture (tcpdump) on
 * a bridge that joins attackers, devices, victims and a "cloud" (one network namespace each), publish episodes to a
 * real Mosquitto, and a real gateway (external-broker mode, shared subscription) correlates them into alerts.
 *
 *   nsdl-sen: bridge nsdl-br (the sensors capture here) ── veth ── nsdl-vic, nsdl-atk, nsdl-dv1, nsdl-dv2, nsdl-cld
 *             └─ veth nsdl-b1 10.212.0.2 ── nsdl-b0 10.212.0.1 (this process: Mosquitto, gateway, subscriber)
 *
 * 1. Floods (hping3 SYN, UDP, ICMP echo), a fast port scan (nmap -sS -T4) and a NULL scan of a few ports (-sN): the
 *    first alert arrives ≤ 2 s after the attack started, with the right class; a flood is a few alert messages per
 *    second, not one per flow.
 *    Tunnels made with the real tools (iodine and dns2tcp over DNS, ptunnel-ng over ICMP echo): an alert of the right
 *    family from the tunnelling host while the tunnel runs, not when it ends.
 * 2. Site baseline: a device's beacon to its cloud through a short learning period stays quiet afterwards, while a
 *    control sensor without a baseline alerts on it; a new beacon from another device and a scan from the first alert;
 *    the retained report lists the device and its peer; a reset makes the sensor learn again.
 * 3. Restart: the baselined sensor stopped (SIGTERM) and started on the same database keeps the beacon quiet.
 *
 * The gateway publishes every alert change at once (correlation.updateIntervalMs 0, the default is 10 s): message
 * counts are then an upper bound of what a subscriber sees by default, and every change names its sensor in the topic.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { withTools } from './helpers/tools.ts';
import { Mosquitto, sleep } from './helpers/mosquitto.ts';
import { EventSubscriber } from './helpers/event-subscriber.ts';
import { getJson, startGateway, waitFor } from './helpers/gateway-fixtures.ts';
import type { RiskEvent } from '../protocol/event.ts';
import type { BaselineReport } from '../protocol/baseline.ts';
import { topics } from '../protocol/topics.ts';

const root = new URL('..', import.meta.url).pathname;
const SEN = 'nsdl-sen', BRIDGE = 'nsdl-br';
const BROKER_IP = '10.212.0.1', MQTT_PORT = 18920;
/** Every namespace on the bridge and its addresses (10.213.0.0/24): one attacker and one victim address per attack. */
const HOSTS = {
  vic: ['10.213.0.21', '10.213.0.22', '10.213.0.23', '10.213.0.24', '10.213.0.25', '10.213.0.26'],
  atk: ['10.213.0.31', '10.213.0.32', '10.213.0.33', '10.213.0.34', '10.213.0.35', '10.213.0.36'],
  dv1: ['10.213.0.11'],
  dv2: ['10.213.0.12'],
  cld: ['10.213.0.50', '10.213.0.51'],
} as const;
const DEV1 = HOSTS.dv1[0], DEV2 = HOSTS.dv2[0];
/** Device 1's cloud, and the endpoints device 2 starts beaconing to after the learning period. */
const CLOUD1 = HOSTS.cld[0], CLOUD2 = HOSTS.cld[1];
const CLOUD_PORTS = [8081, 8082, 8083];

const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const nsx = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);

function cleanup(): void {
  for (const ns of [SEN, ...Object.keys(HOSTS).map((n) => `nsdl-${n}`)]) { try { sh('ip', 'netns', 'del', ns); } catch { /* absent */ } }
  try { sh('ip', 'link', 'del', 'nsdl-b0'); } catch { /* absent */ }
}

function setupNetwork(): void {
  cleanup();
  const quietV6 = (ns: string) => { // no IPv6 router solicitations: every flow on the bridge is one the test made
    nsx(ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6');
  };
  sh('ip', 'netns', 'add', SEN);
  quietV6(SEN);
  sh('ip', '-n', SEN, 'link', 'add', BRIDGE, 'type', 'bridge');
  sh('ip', '-n', SEN, 'link', 'set', BRIDGE, 'up');
  sh('ip', '-n', SEN, 'link', 'set', 'lo', 'up');
  for (const [name, addrs] of Object.entries(HOSTS)) {
    const ns = `nsdl-${name}`, port = `nsdl-${name}-a`, dev = `nsdl-${name}-b`;
    sh('ip', 'netns', 'add', ns);
    quietV6(ns);
    sh('ip', 'link', 'add', port, 'netns', SEN, 'type', 'veth', 'peer', 'name', dev, 'netns', ns);
    sh('ip', '-n', SEN, 'link', 'set', port, 'master', BRIDGE, 'up');
    for (const a of addrs) sh('ip', '-n', ns, 'addr', 'add', `${a}/24`, 'dev', dev);
    sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    // transmit checksum offload off, otherwise captured TCP/UDP checksums are wrong
    for (const [n, d] of [[ns, dev], [SEN, port]]) { try { nsx(n!, 'ethtool', '-K', d!, 'tx', 'off'); } catch { /* best effort */ } }
  }
  // sensor ↔ broker link: the broker, the gateway and the subscriber stay in the test's namespace
  sh('ip', 'link', 'add', 'nsdl-b0', 'type', 'veth', 'peer', 'name', 'nsdl-b1', 'netns', SEN);
  sh('ip', 'addr', 'add', `${BROKER_IP}/24`, 'dev', 'nsdl-b0');
  sh('ip', 'link', 'set', 'nsdl-b0', 'up');
  sh('ip', '-n', SEN, 'addr', 'add', '10.212.0.2/24', 'dev', 'nsdl-b1');
  sh('ip', '-n', SEN, 'link', 'set', 'nsdl-b1', 'up');
}

/** The cloud: small HTTP servers answering every request with a 50 kB body (a config / firmware chunk). */
const CLOUD_SERVER = `
const http = require('node:http');
const body = Buffer.alloc(50000, 'c');
for (const spec of process.argv.slice(1)) {
  const [host, port] = spec.split(':');
  http.createServer((req, res) => { req.resume(); req.on('end', () => res.end(body)); }).listen(Number(port), host);
}`;

/** A device beacon: `count` curl fetches round-robin over the endpoints, `gap` seconds apart (bounded by count and curl -m). */
function beaconScript(host: string, count: number, gap: string): string {
  const urls = CLOUD_PORTS.map((p) => `http://${host}:${p}/v1/config`).join(' ');
  return `i=0; while [ $i -lt ${count} ]; do for u in ${urls}; do curl -s -m 2 -o /dev/null "$u"; sleep ${gap}; i=$((i+1)); done; done`;
}

interface Message { topic: string; at: number; body: any }

/** Alerts and retained baseline reports, with their arrival times. */
class Watcher {
  readonly alerts: Message[] = [];
  readonly baselines: Message[] = [];
  private client?: MqttClient;
  private url?: string;

  async connect(url: string): Promise<void> {
    this.url = url;
    const client = await mqtt.connectAsync(url, { clientId: 'nsdl-watch', protocolVersion: 5, reconnectPeriod: 200 });
    this.client = client;
    client.on('message', (topic, payload) => {
      const m = { topic, at: Date.now(), body: JSON.parse(payload.toString('utf8')) };
      if (topic.startsWith('netsensor/v1/alerts/')) this.alerts.push(m);
      else if (topic.endsWith('/baseline')) this.baselines.push(m);
    });
    await client.subscribeAsync(['netsensor/v1/alerts/#', topics.allBaselines], { qos: 1 });
  }

  /** What a client subscribing now receives first on a topic: the retained message (undefined when none comes). */
  async retained(topic: string): Promise<{ retain: boolean; body: any } | undefined> {
    const c = await mqtt.connectAsync(this.url!, { clientId: 'nsdl-retained', protocolVersion: 5 });
    try {
      const got = new Promise<{ retain: boolean; body: any }>((r) => c.once('message', (_t, payload, packet) => r({ retain: packet.retain, body: JSON.parse(payload.toString('utf8')) })));
      await c.subscribeAsync(topic, { qos: 1 });
      return await Promise.race([got, sleep(2000).then(() => undefined)]);
    } finally { await c.endAsync(true); }
  }

  /** Latest baseline report of a sensor, optionally only those received after `since`. */
  baseline(sensor: string, since = 0): BaselineReport | undefined {
    return this.baselines.filter((m) => m.topic === topics.baseline(sensor) && m.at >= since).pop()?.body as BaselineReport | undefined;
  }

  async close(): Promise<void> { await this.client?.endAsync(true); }
}

const alertSensor = (m: Message) => m.topic.split('/').pop()!;
const gatewayUrl = () => `http://127.0.0.1:${lab!.gateway.gw.httpPort}`;

interface Lab {
  dir: string;
  broker: Mosquitto;
  gateway: Awaited<ReturnType<typeof startGateway>>;
  events: EventSubscriber;
  watch: Watcher;
  cloud: ChildProcess;
  children: Set<ChildProcess>;
}
let lab: Lab | undefined;

async function openLab(): Promise<Lab> {
  if (lab) return lab;
  setupNetwork();
  const dir = mkdtempSync(join(tmpdir(), 'nsdl-live-'));
  const broker = new Mosquitto(MQTT_PORT, '', BROKER_IP);
  await broker.start();
  const gateway = await startGateway({
    mqtt: { broker: broker.url, clientId: 'nsdl-gateway' },
    http: { port: 0 },
    correlation: { updateIntervalMs: 0 },
  });
  const events = new EventSubscriber();
  await events.connect(broker.url, 'nsdl-events', 5);
  const watch = new Watcher();
  await watch.connect(broker.url);
  const endpoints = [CLOUD1, CLOUD2].flatMap((h) => CLOUD_PORTS.map((p) => `${h}:${p}`));
  const cloud = spawn('ip', ['netns', 'exec', 'nsdl-cld', process.execPath, '-e', CLOUD_SERVER, ...endpoints], { stdio: 'ignore' });
  lab = { dir, broker, gateway, events, watch, cloud, children: new Set([cloud]) };
  return lab;
}

async function closeLab(): Promise<void> {
  const l = lab;
  lab = undefined;
  if (l) {
    for (const c of l.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await l.events.close().catch(() => {});
    await l.watch.close().catch(() => {});
    await l.gateway.stop().catch(() => {});
    await l.broker.dispose().catch(() => {});
    rmSync(l.dir, { recursive: true, force: true });
  }
  cleanup();
}

/** Runs a command in a namespace in the background (killed at the end of the file at the latest). */
function run(ns: string, cmd: string[]): ChildProcess & { exited: Promise<unknown>; said: () => string } {
  const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  lab!.children.add(child);
  // the tool's last words on stderr (hping3's "N packets transmitted" line): they tell a slow sender from a deaf sensor
  let said = '';
  child.stderr!.on('data', (b: Buffer) => { said = (said + b.toString('utf8')).slice(-400); });
  const exited = new Promise((r) => child.once('exit', r));
  void exited.then(() => lab?.children.delete(child));
  return Object.assign(child, { exited, said: () => said });
}

interface Sensor { id: string; proc: ChildProcess; stderr: () => string; stop: () => Promise<number | null> }

/** A sensor capturing on the bridge; resolves once it is online AND its capture has seen packets. */
async function startSensor(id: string, extra: string[]): Promise<Sensor> {
  const l = lab!;
  let stderr = '';
  const proc = spawn('ip', ['netns', 'exec', SEN, process.execPath, '--import', 'tsx', 'cli/main.ts', 'sensor',
    '--iface', BRIDGE, '--broker', l.broker.url, '--id', id, '--db', join(l.dir, `${id}.db`),
    '--heartbeat-s', '1', '--capture-stats-interval-ms', '500', ...extra], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  l.children.add(proc);
  proc.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
  const status = () => l.events.statuses.filter((s) => s.topic === topics.status(id)).map((s) => JSON.parse(s.payload)).pop();
  const since = l.events.statuses.length;
  await waitFor(() => l.events.statuses.slice(since).some((s) => s.topic === topics.status(id) && JSON.parse(s.payload).state === 'online'),
    20_000, `sensor ${id} online: ${stderr.slice(-2000)}`);
  // tcpdump is up once the sensor counts packets: probe with one ARP-resolving ping at a time (a benign flow)
  for (let i = 0; i < 100 && !(status()?.counters?.packets > 0); i++) {
    try { nsx('nsdl-vic', 'ping', '-c', '1', '-W', '1', HOSTS.cld[0]); } catch { /* the next one */ }
    await sleep(200);
  }
  assert.ok(status()?.counters?.packets > 0, `sensor ${id} captures: ${stderr.slice(-2000)}`);
  return {
    id, proc, stderr: () => stderr,
    stop: async () => {
      const exit = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
      proc.kill('SIGTERM');
      return exit;
    },
  };
}

/** Episode events a sensor published about an actor (optionally of one class), with their arrival times. */
function episodes(sensor: string, actor: string, cls?: string): Array<RiskEvent & { at: number }> {
  const l = lab!;
  return l.events.events
    .filter((e) => e.sensor === sensor && e.episode?.actor === actor && (cls === undefined || e.class === cls))
    .map((e) => Object.assign(e, { at: l.events.firstSeenAt.get(e.id)! }));
}

const live = withTools(test, ['mosquitto', 'tcpdump', 'hping3', 'nmap', 'curl', 'ping', 'ethtool', 'ip'], { root: true });
test.after(closeLab);

/** Target of issue 11: attack start → first alert on netsensor/v1/alerts/#. */
const FIRST_ALERT_MS = 2000;
/** "A few" alert messages (and episode events) per second during a flood — not one per flow (a flood here is ~2000 flows). */
const MAX_PER_S = 3;
/**
 * Attacks this build does not detect in time: each is asserted to STILL be missed (a fix fails here: remove it from the
 * list, and the strict assertion applies). Printed loudly on every run.
 */
const KNOWN_GAPS: Record<string, string> = {};

live('floods and fast port scans: first alert ≤ 2 s after the attack starts, right class; a flood is a few messages per second; a scanned host answering every probe is never alerted on', async () => {
  const l = await openLab();
  const sensor = await startSensor('dl-attacks', []);
  // One attacker and one victim address per attack: each attack is its own (source, class) alert.
  const attacks: Array<{ name: string; cls: string; flood: boolean; answerAll?: boolean; cmd: (a: string, v: string) => string[] }> = [
    { name: 'SYN flood', cls: 'dos', flood: true, cmd: (a: string, v: string) => ['hping3', '-q', '-S', '-p', '80', '-a', a, '-i', 'u2000', '-c', '2000', v] },
    { name: 'UDP flood', cls: 'dos', flood: true, cmd: (a: string, v: string) => ['hping3', '-q', '--udp', '-p', '5353', '-a', a, '-i', 'u2000', '-c', '2000', v] },
    { name: 'ICMP echo flood', cls: 'dos', flood: true, cmd: (a: string, v: string) => ['hping3', '-q', '--icmp', '-a', a, '-i', 'u2000', '-c', '2000', v] },
    { name: 'port scan', cls: 'scan', flood: false, cmd: (a: string, v: string) => ['nmap', '-n', '-Pn', '-sS', '-T4', '--max-retries', '0', '-e', 'nsdl-atk-b', '-S', a, '-p', '1000-1999', v] },
    // The victim's kernel answers every closed UDP port with a port unreachable (Linux rate-limits them by default;
    // older systems and many devices do not): a burst of ICMP errors from the victim that reads like a flood.
    { name: 'UDP scan, every probe answered', cls: 'scan', flood: false, answerAll: true, cmd: (a: string, v: string) => ['nmap', '-n', '-Pn', '-sU', '-T4', '--max-retries', '0', '-e', 'nsdl-atk-b', '-S', a, '-p', '1000-1999', v] },
    // a stealth scan of 3 ports, fewer than a scan episode's 5 targets: only the fingerprint-probe rule (detection/rules.ts)
    // can call it; each NULL probe is answered by a RST
    { name: 'NULL scan of 3 ports', cls: 'scan', flood: false, cmd: (a: string, v: string) => ['nmap', '-n', '-Pn', '-sN', '-T4', '--max-retries', '0', '-e', 'nsdl-atk-b', '-S', a, '-p', '3000-3002', v] },
  ];
  const icmpLimits = (ms: string, perS: string) => nsx('nsdl-vic', 'sh', '-c', `echo ${ms} > /proc/sys/net/ipv4/icmp_ratelimit; echo ${perS} > /proc/sys/net/ipv4/icmp_msgs_per_sec`);
  const lines: string[] = [];
  const failures: string[] = [];
  for (const [i, a] of attacks.entries()) {
    const attacker = HOSTS.atk[i]!, victim = HOSTS.vic[i]!;
    const gap = KNOWN_GAPS[a.name];
    const mine = (m: Message) => m.body.src_ip === attacker || m.body.dest_ip === victim || (m.body.netsensor.sources ?? []).includes(attacker);
    const seen = l.watch.alerts.length;
    if (a.answerAll) icmpLimits('0', '100000');
    const t0 = Date.now();
    const proc = run('nsdl-atk', a.cmd(attacker, victim));
    let first: Message | undefined;
    while (!first && Date.now() - t0 < (gap ? FIRST_ALERT_MS + 1000 : 8000)) {
      first = l.watch.alerts.slice(seen).find(mine);
      if (!first) await sleep(10);
    }
    // bounded: hping3 stops after 2000 packets (4 s), nmap after 1000 ports; never longer than 8 s
    await Promise.race([proc.exited, sleep(Math.max(0, t0 + 8000 - Date.now()))]);
    proc.kill('SIGINT');
    const t1 = Date.now() + 1000;
    await sleep(1000); // the episode's last updates
    if (a.answerAll) {
      icmpLimits('1000', '1000'); // Linux's defaults again
      const blamed = l.watch.alerts.slice(seen).filter((m) => m.body.src_ip === victim).map((m) => m.body.netsensor.class);
      const victimEvents = episodes(sensor.id, victim).filter((e) => e.at >= t0);
      if (blamed.length || victimEvents.length) failures.push(`${a.name}: the scanned host was alerted on (${[...new Set([...blamed, ...victimEvents.map((e) => e.class)])].join(', ')})`);
    }
    const seconds = (t1 - t0) / 1000;
    const during = l.watch.alerts.slice(seen).filter((m) => mine(m) && m.at <= t1);
    const events = episodes(sensor.id, attacker).filter((e) => e.at >= t0 && e.at <= t1);
    // Where the time went, from the first episode event: its first evidence flow started, the flow that opened the
    // episode ended (its row leaves the core after the closed-flow linger), the sensor built the event (wall clock),
    // the subscriber received it from Mosquitto; then the gateway's alert.
    const ev = events[0];
    const rel = (t: number) => `+${Math.round(t - t0)}`;
    const where = ev
      ? `first evidence flow start ${rel(ev.episode!.first_seen_ms)}, opening flow end ${rel(ev.flow.last_seen_ms)} (${ev.flow.end_reason}), `
        + `event built ${rel(ev.ts)}, event at subscriber ${rel(ev.at)}, alert ${first ? rel(first.at) : 'none'} ms`
      : 'no episode event';
    const ms = first ? first.at - t0 : undefined;
    const sent = proc.said().match(/(\d+) packets transmitted, (\d+) packets received/);
    lines.push(`${a.name}: first alert ${ms ?? 'none'} ms (${first?.body.netsensor.class ?? '-'}) [${where}]; `
      + `${during.length} alert messages and ${events.length} episode events in ${seconds.toFixed(1)} s`
      + (sent ? `; sender: ${sent[1]} sent, ${sent[2]} answered` : ''));
    if (gap) {
      if (ms !== undefined && ms <= FIRST_ALERT_MS && first!.body.netsensor.class === a.cls) {
        failures.push(`${a.name}: now alerts in ${ms} ms: remove it from KNOWN_GAPS`);
      }
      lines.push(`!!! KNOWN GAP — ${a.name}: ${gap}`);
    } else if (ms === undefined || ms > FIRST_ALERT_MS) failures.push(`${a.name}: first alert after ${ms ?? '∞'} ms (> ${FIRST_ALERT_MS})`);
    else if (first!.body.netsensor.class !== a.cls) failures.push(`${a.name}: first alert class ${first!.body.netsensor.class}, want ${a.cls}`);
    if (a.flood && during.length / seconds > MAX_PER_S) failures.push(`${a.name}: ${(during.length / seconds).toFixed(1)} alert messages per second (> ${MAX_PER_S})`);
    if (a.flood && events.length / seconds > MAX_PER_S) failures.push(`${a.name}: ${(events.length / seconds).toFixed(1)} episode events per second (> ${MAX_PER_S})`);
  }
  console.log(`  time to first alert on netsensor/v1/alerts/#:\n    ${lines.join('\n    ')}`);
  assert.is(await sensor.stop(), 0, sensor.stderr().slice(-2000));
  assert.equal(failures, [], failures.join('; '));
});

// ── tunnels made with real tools ─────────────────────────────────────────────────────────────────────────────────
/** A TCP service on `host:port` in a namespace that takes an upload and answers `reply` random bytes; resolves once it listens. */
async function startService(ns: string, host: string, port: number, reply: number, what: string): Promise<void> {
  const service = run(ns, ['timeout', '30', process.execPath, '-e',
    `require('net').createServer((s) => { s.resume(); s.end(require('crypto').randomBytes(${reply})); }).listen(${port}, '${host}', () => process.stderr.write('listening'))`]);
  await waitFor(() => service.said().includes('listening'), 10_000, what);
}

/**
 * TCP sessions into a tunnel's local port on the attacker: each writes `up` bytes and reads until `down` bytes came
 * back or `timeoutMs` passed, without a half-close (ptunnel-ng ends a session at the local side's FIN, before the answer
 * came back); `sessions` sessions that got an answer, at most `tries`, `gapMs` apart. Reports the bytes received on stderr.
 */
function sessionsThrough(port: number, o: { sessions: number; tries: number; up: number; down: number; timeoutMs: number; gapMs: number }) {
  return run('nsdl-atk', ['timeout', '20', process.execPath, '-e', `
    const net = require('net'), crypto = require('crypto');
    const round = () => new Promise((r) => { const s = net.connect(${port}, '127.0.0.1', () => s.write(crypto.randomBytes(${o.up})));
      let n = 0; const done = () => { clearTimeout(t); s.destroy(); r(n); }; const t = setTimeout(done, ${o.timeoutMs});
      s.on('data', (b) => { n += b.length; if (n >= ${o.down}) done(); }); s.on('close', done); s.on('error', done); });
    (async () => { let got = 0; for (let i = 0, ok = 0; i < ${o.tries} && ok < ${o.sessions}; i++) { const n = await round(); if (n > 0) ok++; got += n; await new Promise((r) => setTimeout(r, ${o.gapMs})); }
      process.stderr.write('received ' + got + ' bytes through the tunnel'); })();`]);
}

/** Alert messages (class:reason) and episode events (class:state:end reason) about a host, for the test's log line. */
const tunnelTrail = (mine: Message[], events: Array<RiskEvent & { at: number }>) =>
  `alert classes from the tunnelling host ${JSON.stringify(mine.map((m) => `${m.body.netsensor.class}:${m.body.netsensor.reason}`))}; `
  + `episode events ${JSON.stringify(events.map((e) => `${e.class}:${e.episode!.state}:${e.flow.end_reason}`))}`;

// ── a real DNS tunnel ──────────────────────────────────────────────────────────────────────────────────────────────
/** iodine's tunnel network (inside the DNS), its domain, and the bound on the tunnel's lifetime in this test. */
const TUNNEL_NET = '10.53.0.1/27', TUNNEL_SERVER = '10.53.0.1', TUNNEL_DOMAIN = 't.tunnel.example', TUNNEL_MAX_S = 30;
/**
 * The tunnel is one long UDP flow: the sensor scores it from the core's early interim record (at 128 packets), long before
 * it ends. iodine reaches that count about when its set-up is complete (it probes fragment sizes with timeouts first, ~9 s
 * here), so the bound counts from the moment iodine says so.
 */
const TUNNEL_ALERT_AFTER_SETUP_MS = 10_000;
const liveTunnel = withTools(test, ['mosquitto', 'tcpdump', 'iodine', 'iodined', 'ip'], { root: true });

liveTunnel('a real iodine DNS tunnel (IP over DNS, 200 kB through it): a dns_tunnel alert from the tunnelling host, one episode', async () => {
  const l = await openLab();
  const sensor = await startSensor('dl-tunnel', []);
  const client = HOSTS.atk[0], server = HOSTS.cld[1];
  const seen = l.watch.alerts.length;
  const t0 = Date.now();
  // The tunnel's server answers DNS for its domain on the cloud host; the client talks DNS to it (-r: never raw UDP).
  run('nsdl-cld', ['timeout', String(TUNNEL_MAX_S), 'iodined', '-f', '-c', '-P', 'netsensor-test', '-l', server, '-p', '53', TUNNEL_NET, TUNNEL_DOMAIN]);
  await sleep(500);
  const iodine = run('nsdl-atk', ['timeout', String(TUNNEL_MAX_S), 'iodine', '-f', '-r', '-P', 'netsensor-test', server, TUNNEL_DOMAIN]);
  await waitFor(() => { try { return nsx('nsdl-atk', 'ip', 'addr', 'show', 'dns0').includes('10.53.0.') || undefined; } catch { return undefined; } },
    15_000, `the tunnel up: ${iodine.said()}`);
  const up = Date.now() - t0;
  const setup = await waitFor(() => (iodine.said().includes('Connection setup complete') ? Date.now() : undefined), 20_000,
    `iodine's set-up: ${iodine.said()}`) - t0;
  // Data through the tunnel: 200 kB to a listener on the server's tunnel address (bounded by timeout).
  // (the sender starts once the listener says so: a refused connection would leave the tunnel idle, below 128 packets)
  const sink = run('nsdl-cld', ['timeout', '20', process.execPath, '-e', `require('net').createServer((s) => s.resume()).listen(8000, '${TUNNEL_SERVER}', () => process.stderr.write('listening'))`]);
  await waitFor(() => sink.said().includes('listening'), 10_000, 'the listener behind the tunnel');
  const send = run('nsdl-atk', ['timeout', '20', process.execPath, '-e',
    `const s = require('net').connect(8000, '${TUNNEL_SERVER}', () => s.end(require('crypto').randomBytes(200000))); s.on('close', () => process.exit(0))`]);
  const first = await waitFor(() => l.watch.alerts.slice(seen).find((m) => m.body.src_ip === client && m.body.netsensor.class === 'dns_tunnel'),
    setup + TUNNEL_ALERT_AFTER_SETUP_MS + t0 - Date.now()).catch(() => undefined);
  // what the sensor saw, for a failure: its episodes about the client and its counters
  const saw = () => `episodes ${JSON.stringify(episodes(sensor.id, client).map((e) => `${e.class}:${e.episode!.state}:${e.flow.end_reason}`))}, `
    + `alerts ${JSON.stringify(l.watch.alerts.slice(seen).map((m) => [m.body.src_ip, m.body.netsensor.class]))}, `
    + `counters ${JSON.stringify(statusOf(sensor.id)?.counters ?? {})}; iodine: ${iodine.said().slice(-300)}; sender: ${send.said()}`;
  assert.ok(first, `a dns_tunnel alert from ${client} within ${TUNNEL_ALERT_AFTER_SETUP_MS} ms of iodine's set-up (${setup} ms): ${saw()}`);
  const sent = await Promise.race([send.exited.then(() => 'yes'), sleep(Math.max(0, t0 + 20_000 - Date.now())).then(() => 'no')]);
  await sleep(1000);
  const mine = l.watch.alerts.slice(seen).filter((m) => m.body.src_ip === client);
  const events = episodes(sensor.id, client, 'dns_tunnel');
  console.log(`  iodine: tunnel up after ${up} ms, set-up complete after ${setup} ms, first alert ${first!.at - t0} ms (${first!.body.netsensor.class}, severity ${first!.body.alert.severity}); `
    + `opening record: ${events[0] ? `${events[0].flow.end_reason}, ${events[0].flow.src2dst_packets + events[0].flow.dst2src_packets} packets, ended +${Math.round(events[0].flow.last_seen_ms - t0)} ms, event built +${Math.round(events[0].ts - t0)} ms` : 'none'}; `
    + `200 kB through the tunnel: ${sent}; ${mine.length} alert messages, ${events.length} episode events, `
    + `classes ${JSON.stringify([...new Set(mine.map((m) => m.body.netsensor.class))])}`);
  // One tunnel is one episode: every alert message from the tunnelling host is about this tunnel and this family.
  assert.equal([...new Set(mine.map((m) => m.body.netsensor.class))], ['dns_tunnel']);
  assert.equal([...new Set(mine.map((m) => m.body.netsensor.alert_id))].length, 1, 'one alert');
  assert.ok(events.length >= 1 && events.length <= 5, `episode events: ${events.length}`);
  assert.is(await sensor.stop(), 0, sensor.stderr().slice(-2000));
});

/**
 * An idle iodine tunnel: set up, then nothing through it. Its polls are one long, slow flow of short NULL queries that
 * the model reads as benign and that never reaches the early record's 128 packets; the DNS NULL tunnel rule
 * (detection/rules.ts) calls it from the flow's interim record. The sensor runs with 5 s interim records here (30 s by
 * default) to keep the test short: the alert is due within one interim period of the tunnel's first queries.
 */
const IDLE_INTERIM_S = 5;
liveTunnel('an idle iodine tunnel (set up, nothing sent through it): a dns_tunnel alert from its interim record, within one interim period', async () => {
  const l = await openLab();
  const sensor = await startSensor('dl-idle-tunnel', ['--interim-s', String(IDLE_INTERIM_S)]);
  // another server address, tunnel network and domain than the busy tunnel's (its iodined may still be running)
  const client = HOSTS.atk[0], server = HOSTS.cld[0];
  const seen = l.watch.alerts.length;
  const t0 = Date.now();
  run('nsdl-cld', ['timeout', '25', 'iodined', '-f', '-c', '-P', 'netsensor-test', '-l', server, '-p', '53', '10.54.0.1/27', 'i.tunnel.example']);
  await sleep(500);
  const iodine = run('nsdl-atk', ['timeout', '25', 'iodine', '-f', '-r', '-P', 'netsensor-test', server, 'i.tunnel.example']);
  const first = await waitFor(() => l.watch.alerts.slice(seen).find((m) => m.body.src_ip === client && alertSensor(m) === sensor.id && m.body.netsensor.class === 'dns_tunnel'),
    (IDLE_INTERIM_S + 6) * 1000).catch(() => undefined);
  const events = episodes(sensor.id, client, 'dns_tunnel');
  const opening = events[0];
  console.log(`  idle iodine: first alert ${first ? first.at - t0 : 'none'} ms; opening record ${opening ? `${opening.flow.end_reason}, `
    + `${opening.flow.src2dst_packets} queries' packets, ended +${Math.round(opening.flow.last_seen_ms - t0)} ms` : 'none'}; iodine: ${iodine.said().slice(-200).replace(/\n/g, ' | ')}`);
  assert.ok(first, `a dns_tunnel alert from ${client} within ${IDLE_INTERIM_S + 6} s: alerts ${JSON.stringify(l.watch.alerts.slice(seen).map((m) => [m.body.src_ip, m.body.netsensor.class]))}`);
  assert.is(opening?.flow.end_reason, 'interim', 'the tunnel was called while it lasted, from an interim record');
  assert.ok(opening!.flow.src2dst_packets < 128, `an idle tunnel's record (${opening!.flow.src2dst_packets} queries), not the early one at 128 packets`);
  iodine.kill('SIGINT');
  assert.is(await sensor.stop(), 0, sensor.stderr().slice(-2000));
});

/**
 * ptunnel-ng carries each TCP session in ICMP echo under its own identifier: one echo flow per session. Once data flows
 * back its replies outnumber its requests (the proxy sends its own replies, and the peer's kernel still answers every
 * request), which the echo-tunnel rule (detection/rules.ts) reads from the flow's early interim record at 128 packets.
 */
const PTUNNEL_ALERT_MS = 15_000;
const livePtunnel = withTools(test, ['mosquitto', 'tcpdump', 'ptunnel-ng', 'ip'], { root: true });

livePtunnel('a real ptunnel-ng ICMP tunnel (TCP in ICMP echo, data both ways): a tunnel alert from the tunnelling host', async () => {
  const l = await openLab();
  const sensor = await startSensor('dl-ptunnel', []);
  const client = HOSTS.atk[0], proxy = HOSTS.cld[0]; // primary addresses: the proxy answers from its own
  const seen = l.watch.alerts.length;
  // the proxy's far side: a service on the proxy host's loopback that takes an upload and sends 100 kB back
  await startService('nsdl-cld', '127.0.0.1', 8000, 100_000, 'the service behind the proxy');
  run('nsdl-cld', ['timeout', '30', 'ptunnel-ng', '-r127.0.0.1', '-R8000', '-v', '0']);
  await sleep(500);
  const t0 = Date.now();
  run('nsdl-atk', ['timeout', '25', 'ptunnel-ng', `-p${proxy}`, '-l2222', '-r127.0.0.1', '-R8000', '-v', '0']);
  await sleep(800);
  // six sessions through the tunnel, 1.5 s apart: 60 kB up, 100 kB back each (bounded by count and timeout)
  const rounds = sessionsThrough(2222, { sessions: 6, tries: 6, up: 60_000, down: 100_000, timeoutMs: 4000, gapMs: 1500 });
  const tunnelAlert = () => l.watch.alerts.slice(seen).find((m) => m.body.src_ip === client && m.body.netsensor.class === 'tunnel');
  const first = await waitFor(tunnelAlert, PTUNNEL_ALERT_MS, `a tunnel alert from ${client}`).catch(() => undefined);
  await Promise.race([rounds.exited, sleep(Math.max(0, t0 + 20_000 - Date.now()))]);
  const mine = l.watch.alerts.slice(seen).filter((m) => m.body.src_ip === client);
  const events = episodes(sensor.id, client);
  console.log(`  ptunnel-ng: first tunnel alert ${first ? first.at - t0 : 'none'} ms; ${rounds.said() || 'no transfer report'}; `
    + tunnelTrail(mine, events));
  assert.ok(first, `a tunnel alert within ${PTUNNEL_ALERT_MS} ms`);
  assert.is(await sensor.stop(), 0, sensor.stderr().slice(-2000));
});

/**
 * dns2tcp relays a TCP resource through DNS TXT queries: one UDP flow from the client to the server's port 53, which
 * the sensor scores from its early interim record (about 64 queries in its first 128 packets).
 */
const DNS2TCP_ALERT_MS = 15_000, DNS2TCP_DOMAIN = 'r.tunnel.example';
const liveDns2tcp = withTools(test, ['mosquitto', 'tcpdump', 'dns2tcpc', 'dns2tcpd', 'ip'], { root: true });

liveDns2tcp('a real dns2tcp tunnel (TCP relayed over DNS TXT queries, data both ways): a dns_tunnel alert from the tunnelling host', async () => {
  const l = await openLab();
  const sensor = await startSensor('dl-dns2tcp', []);
  const client = HOSTS.atk[0], server = HOSTS.cld[1];
  const seen = l.watch.alerts.length;
  // the relayed resource: a service on the server host's loopback that takes an upload and sends 50 kB back
  await startService('nsdl-cld', '127.0.0.1', 8001, 50_000, 'the service behind dns2tcpd');
  const conf = join(l.dir, 'dns2tcpd.conf');
  writeFileSync(conf, [`listen = ${server}`, 'port = 53', 'user = nobody', 'chroot = /tmp', `domain = ${DNS2TCP_DOMAIN}`, 'resources = web:127.0.0.1:8001', ''].join('\n'));
  run('nsdl-cld', ['timeout', '30', 'dns2tcpd', '-F', '-f', conf]);
  await sleep(500);
  const t0 = Date.now();
  run('nsdl-atk', ['timeout', '25', 'dns2tcpc', '-z', DNS2TCP_DOMAIN, '-r', 'web', '-l', '2223', '-T', 'TXT', server]);
  // four sessions through the relay: 20 kB up, up to 50 kB back each; a refused connect (client not listening yet) is retried
  const rounds = sessionsThrough(2223, { sessions: 4, tries: 20, up: 20_000, down: 50_000, timeoutMs: 3000, gapMs: 300 });
  const first = await waitFor(() => l.watch.alerts.slice(seen).find((m) => m.body.src_ip === client && alertSensor(m) === sensor.id && m.body.netsensor.class === 'dns_tunnel'),
    DNS2TCP_ALERT_MS).catch(() => undefined);
  await Promise.race([rounds.exited, sleep(Math.max(0, t0 + 20_000 - Date.now()))]);
  const mine = l.watch.alerts.slice(seen).filter((m) => m.body.src_ip === client && alertSensor(m) === sensor.id);
  const events = episodes(sensor.id, client);
  console.log(`  dns2tcp: first dns_tunnel alert ${first ? first.at - t0 : 'none'} ms; ${rounds.said() || 'no transfer report'}; `
    + tunnelTrail(mine, events));
  assert.ok(first, `a dns_tunnel alert within ${DNS2TCP_ALERT_MS} ms`);
  assert.equal([...new Set(mine.map((m) => m.body.netsensor.class))], ['dns_tunnel'], 'only dns_tunnel from the tunnelling host, from this sensor');
  assert.is(await sensor.stop(), 0, sensor.stderr().slice(-2000));
});

// ── site baseline ──────────────────────────────────────────────────────────────────────────────────────────────────
const BASELINED = 'dl-baseline', CONTROL = 'dl-control';
const LEARN_S = 10;
/**
 * Evidence overrides, the same on BOTH sensors: the shipped model calls the beacon below benign with an anomaly ratio
 * of about 0.05–0.2, and a confident verdict would never be learned (detection/baseline.ts). At 0.02 every beacon flow
 * is weak anomaly evidence (0.5; an anomaly episode needs 12, i.e. 24 flows to ≥ 3 endpoints), so the control sensor
 * alerts once it has seen about 24 beacon flows — after the learning period, which sees about 15 (one every ~0.65 s) —
 * and only the baseline keeps the other sensor quiet.
 */
const EVIDENCE = ['--anomaly-threshold', '0.02'];
const BASELINE_ARGS = ['--baseline-learn-s', String(LEARN_S), ...EVIDENCE];
let site: { baselined: Sensor; control: Sensor; beacon: ReturnType<typeof run>; learnUntil: number } | undefined;

/** Alert messages a sensor caused about a source, except scans (which the baseline never suppresses). */
const beaconAlerts = (sensor: string, src: string) => lab!.watch.alerts.filter((m) => alertSensor(m) === sensor && m.body.src_ip === src && m.body.netsensor.class !== 'scan');
const beaconEpisodes = (sensor: string, actor: string) => episodes(sensor, actor).filter((e) => e.class !== 'scan');
/** The latest status of a sensor, among those received after the first `since`. */
const statusOf = (sensor: string, since = 0) => lab!.events.statuses.slice(since).filter((s) => s.topic === topics.status(sensor)).map((s) => JSON.parse(s.payload)).pop();

live('site baseline: a beacon learned as normal stays quiet (a control sensor without baseline alerts on it); a new beacon from another device and a scan from the first alert', async () => {
  const l = await openLab();
  const baselined = await startSensor(BASELINED, BASELINE_ARGS);
  const control = await startSensor(CONTROL, ['--baseline-learn-s', '0', ...EVIDENCE]);
  // Device 1 fetches from its cloud's three endpoints every ~0.65 s, through learning and on (bounded by its count).
  const beacon = run('nsdl-dv1', ['sh', '-c', beaconScript(CLOUD1, 120, '0.6')]);
  // Learning starts with the first flow the sensor scores; the retained report (every 10 s) says when it ends.
  const learnUntil = await waitFor(() => l.watch.baseline(BASELINED)?.learn_until_ms ?? undefined, 20_000, 'the baseline report with the learning period');
  site = { baselined, control, beacon, learnUntil };
  await sleep(Math.max(0, learnUntil + 1500 - Date.now())); // flows that straddle the end are scored ~1 s later
  const learnedFor = l.watch.baseline(BASELINED)!;
  assert.ok(learnUntil - (learnedFor.learn_started_ms ?? 0) === LEARN_S * 1000, 'learning period as configured');

  // After learning: device 2 starts a beacon of the same shape to endpoints new to the site, faster (bounded count),
  // and device 1 scans a host of its subnet.
  const t1 = Date.now();
  const beacon2 = run('nsdl-dv2', ['sh', '-c', beaconScript(CLOUD2, 60, '0.2')]);
  const scan = run('nsdl-dv1', ['nmap', '-n', '-Pn', '-sS', '-T4', '--max-retries', '0', '-p', '2000-2199', HOSTS.vic[0]]);
  const newBeacon = await waitFor(() => beaconAlerts(BASELINED, DEV2)[0], 20_000, 'an alert from the baselined sensor on the new beacon');
  const dev1Scan = await waitFor(() => l.watch.alerts.find((m) => alertSensor(m) === BASELINED && m.body.src_ip === DEV1 && m.body.netsensor.class === 'scan'), 10_000, 'a scan alert on device 1');
  // The control sensor alerts on device 1's beacon after the learning period: the beacon does give evidence.
  const controlAlert = await waitFor(() => beaconAlerts(CONTROL, DEV1)[0], 30_000, 'the control sensor alerting on the beacon');
  await Promise.race([scan.exited, sleep(5000)]);
  await sleep(1500);
  beacon2.kill('SIGTERM');
  const controlOpened = beaconEpisodes(CONTROL, DEV1)[0]!;
  console.log(`  baseline: learning ${LEARN_S} s; after it: new beacon (device 2) alert +${newBeacon.at - t1} ms (${newBeacon.body.netsensor.class}), `
    + `device 1 scan alert +${dev1Scan.at - t1} ms; control sensor alerted on device 1's beacon ${Math.round(controlAlert.at - learnUntil)} ms after learning ended `
    + `(${controlAlert.body.netsensor.class}, episode with ${controlOpened.episode!.flows} flows, evidence ${controlOpened.episode!.evidence}/${controlOpened.episode!.threshold})`);
  assert.ok(controlOpened.at > learnUntil, 'the control sensor opened its beacon episode after the learning period');
  assert.equal(beaconEpisodes(BASELINED, DEV1).map((e) => `${e.class} ${e.episode!.state} flows ${e.episode!.flows}`), [], 'the baselined sensor published nothing on the beacon');
  assert.equal(beaconAlerts(BASELINED, DEV1).map((m) => m.body.netsensor.class), [], 'no alert from the baselined sensor on the beacon');
  const st = await waitFor(() => { const s = statusOf(BASELINED); return s?.counters?.episodes?.suppressed > 0 && s; }, 3000, 'suppressed evidence counted');
  console.log(`  baselined sensor: ${JSON.stringify(st.counters.episodes)}; control: ${JSON.stringify(statusOf(CONTROL)?.counters?.episodes)}`);

  // The retained report: device 1 with its cloud endpoints, not learning any more; device 2 (evidence only) not learned.
  const report = await waitFor(() => { const r = l.watch.baseline(BASELINED, t1); return r && !r.learning && r; }, 12_000, 'a baseline report after learning');
  const d1 = report.devices.find((d) => d.device === DEV1);
  assert.ok(d1, `device 1 in the inventory: ${JSON.stringify(report.devices)}`);
  assert.ok(d1!.peers.includes(CLOUD1), `device 1's peer: ${JSON.stringify(d1)}`);
  for (const p of CLOUD_PORTS) assert.ok(d1!.ports.includes(p), `device 1's port ${p}: ${JSON.stringify(d1)}`);
  assert.not.ok(report.devices.some((d) => d.device === DEV2), 'the new beacon was not learned as normal');
  assert.ok(report.suppressed > 0, 'the report counts suppressions');
  const kept = await l.watch.retained(topics.baseline(BASELINED));
  assert.ok(kept?.retain, 'the report is retained');
  assert.ok(kept!.body.devices.some((d: { device: string }) => d.device === DEV1), 'a late subscriber sees device 1 in the retained report');
  // … and the gateway serves it as the sensor's inventory.
  const api = await getJson(`${gatewayUrl()}/api/sensors/${BASELINED}/baseline`);
  assert.is(api.status, 200);
  assert.ok((api.body as BaselineReport).devices.find((d) => d.device === DEV1)?.peers.includes(CLOUD1), `the gateway's inventory: ${JSON.stringify(api.body)}`);
});

live('site baseline survives a restart: stopped (SIGTERM) and started on the same database, the beacon stays quiet', async () => {
  assert.ok(site, 'needs the sensors of the baseline test');
  const l = lab!;
  assert.is(await site!.baselined.stop(), 0, site!.baselined.stderr().slice(-2000));
  const t0 = Date.now();
  const statusesBefore = l.events.statuses.length;
  site!.baselined = await startSensor(BASELINED, BASELINE_ARGS);
  // At (re)connect the sensor reports what it restored: not learning, device 1 and its cloud.
  const report = await waitFor(() => l.watch.baseline(BASELINED, t0), 10_000, 'the report after the restart');
  assert.is(report.learning, false, `restored as not learning: ${JSON.stringify(report)}`);
  assert.ok(Math.abs(report.learn_until_ms! - site!.learnUntil) < 1, 'the learning period restored (stored in whole ms)');
  assert.ok(report.devices.find((d) => d.device === DEV1)?.peers.includes(CLOUD1), `device 1 restored: ${JSON.stringify(report.devices)}`);
  const t1 = Date.now();
  await sleep(6000);
  // Suppressions counted by the new process: the restored endpoints down-weight the beacon's evidence.
  const st = statusOf(BASELINED, statusesBefore);
  assert.ok(st?.counters?.episodes?.suppressed > 0, `suppressed after the restart: ${JSON.stringify(st?.counters?.episodes)}`);
  assert.equal(beaconEpisodes(BASELINED, DEV1).map((e) => `${e.class} ${e.episode!.state}`), [], 'nothing on the beacon after the restart');
  assert.ok(beaconEpisodes(CONTROL, DEV1).some((e) => e.at > t1), 'the control sensor still reports the beacon');
});

live('site baseline reset from the gateway (API → …/baseline/reset): the sensor learns again', async () => {
  assert.ok(site, 'needs the sensors of the baseline test');
  const l = lab!;
  const t0 = Date.now();
  const r = await fetch(`${gatewayUrl()}/api/sensors/${BASELINED}/baseline/reset`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-netsensor-request': '1' }, body: '{}',
  });
  assert.is(r.status, 200, await r.text());
  const report = await waitFor(() => l.watch.baseline(BASELINED, t0), 5000, 'the report after the reset');
  assert.is(report.learning, true);
  assert.is(report.endpoints, 0);
  site!.beacon.kill('SIGTERM');
  assert.is(await site!.baselined.stop(), 0);
  assert.is(await site!.control.stop(), 0);
});

test.run();
