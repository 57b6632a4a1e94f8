/**
 * Live: the sensor captures (tcpdump) on a veth in namespace nssen-sen while hping3 and nmap attack it from
 * nssen-atk. Risk events (episode changes) must reach a real Mosquitto and a subscriber, and a SYN flood, a UDP flood and a fast
 * port scan must each raise their first event within 5 s of their start.
 *
 * Model: the shipped int8 model; the first event of each attack must name the right class (dos, dos, scan).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTools } from './helpers/tools.ts';
import { Mosquitto, sleep } from './helpers/mosquitto.ts';
import { EventSubscriber } from './helpers/event-subscriber.ts';

const root = new URL('..', import.meta.url).pathname;
const SHIPPED = join(root, 'models/netsensor-detect.onnx');
const SEN = 'nssen-sen', ATK = 'nssen-atk';
const VICTIM = '10.99.0.1', ATTACKER = '10.99.0.2', BROKER_IP = '10.98.0.1';

const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const nsx = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);

function cleanup(): void {
  for (const ns of [SEN, ATK]) { try { sh('ip', 'netns', 'del', ns); } catch { /* absent */ } }
  try { sh('ip', 'link', 'del', 'nssen-b0'); } catch { /* absent */ }
}

function setup(): void {
  cleanup();
  sh('ip', 'netns', 'add', SEN);
  sh('ip', 'netns', 'add', ATK);
  sh('ip', 'link', 'add', 'nssen-v0', 'netns', SEN, 'type', 'veth', 'peer', 'name', 'nssen-v1', 'netns', ATK);
  nsx(SEN, 'ip', 'addr', 'add', `${VICTIM}/24`, 'dev', 'nssen-v0');
  nsx(ATK, 'ip', 'addr', 'add', `${ATTACKER}/24`, 'dev', 'nssen-v1');
  // sensor ↔ broker link: the broker and the subscriber stay in the test's namespace
  sh('ip', 'link', 'add', 'nssen-b0', 'type', 'veth', 'peer', 'name', 'nssen-b1', 'netns', SEN);
  sh('ip', 'addr', 'add', `${BROKER_IP}/24`, 'dev', 'nssen-b0');
  nsx(SEN, 'ip', 'addr', 'add', '10.98.0.2/24', 'dev', 'nssen-b1');
  for (const [ns, dev] of [[SEN, 'nssen-v0'], [ATK, 'nssen-v1'], [SEN, 'nssen-b1'], [SEN, 'lo'], [ATK, 'lo']] as const) {
    nsx(ns, 'ip', 'link', 'set', dev, 'up');
    if (dev !== 'lo') { try { nsx(ns, 'ethtool', '-K', dev, 'tx', 'off'); } catch { /* best effort */ } }
  }
  sh('ip', 'link', 'set', 'nssen-b0', 'up');
}

const live = withTools(test, ['mosquitto', 'tcpdump', 'hping3', 'nmap', 'ethtool', 'ip'], { root: true });

live('live capture: SYN flood, UDP flood and port scan each raise an event within 5 s, delivered to a subscriber', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nssen-live-'));
  const broker = new Mosquitto(18846, '', BROKER_IP);
  const sub = new EventSubscriber();
  let sensor: ReturnType<typeof spawn> | undefined;
  try {
    setup();
    await broker.start();
    await sub.connect(broker.url, 'nssen-live-sub', 5);
    assert.ok(existsSync(SHIPPED), 'the shipped model exists');
    let stderr = '';
    sensor = spawn('ip', ['netns', 'exec', SEN, process.execPath, '--import', 'tsx', 'cli/main.ts', 'sensor',
      '--iface', 'nssen-v0', '--filter', 'not port 18846', '--broker', broker.url, '--id', 'live-1', '--db', join(dir, 'outbox.db'),
      '--heartbeat-s', '1', '--capture-stats-interval-ms', '500'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    sensor.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
    const online = () => sub.statuses.some((s) => s.topic.includes('/live-1/') && JSON.parse(s.payload).state === 'online');
    for (let i = 0; i < 150 && !online(); i++) await sleep(100);
    assert.ok(online(), `sensor online: ${stderr}`);
    await sleep(1500); // tcpdump is up

    const attacks: Array<{ name: string; cls: string; cmd: string[]; match: (e: { flow: { src_ip: string; dst_ip: string; proto: number; dst_port: number }; episode?: { ports: number[] } }) => boolean }> = [
      { name: 'syn flood', cls: 'dos', cmd: ['hping3', '-q', '-S', '-p', '80', '-i', 'u2000', '-c', '2000', VICTIM], match: (e) => e.flow.proto === 6 && e.flow.dst_port === 80 },
      // the same attacker's dos episode (opened by the SYN flood) takes the UDP flood in: an update naming port 5353
      { name: 'udp flood', cls: 'dos', cmd: ['hping3', '-q', '--udp', '-p', '5353', '-i', 'u2000', '-c', '2000', VICTIM], match: (e) => e.flow.proto === 17 || (e.episode?.ports.includes(5353) ?? false) },
      { name: 'port scan', cls: 'scan', cmd: ['nmap', '-n', '-Pn', '-sS', '-T4', '--max-retries', '0', '-p', '1000-1999', VICTIM], match: (e) => e.flow.proto === 6 && e.flow.dst_port >= 1000 && e.flow.dst_port <= 1999 && e.flow.dst_port !== 80 },
    ];
    const results: string[] = [];
    for (const a of attacks) {
      const seen = sub.events.length;
      const t0 = Date.now();
      const proc = spawn('ip', ['netns', 'exec', ATK, ...a.cmd], { stdio: 'ignore' });
      const exited = new Promise((r) => proc.once('exit', r));
      let first: number | undefined;
      let firstClass = '';
      while (Date.now() - t0 < 10_000 && first === undefined) {
        const hit = sub.events.slice(seen).find((e) => (e.flow.src_ip === ATTACKER || e.flow.dst_ip === ATTACKER) && a.match(e));
        if (hit) { first = sub.firstSeenAt.get(hit.id)! - t0; firstClass = (hit as unknown as { class: string }).class; }
        else await sleep(25);
      }
      proc.kill('SIGINT');
      await Promise.race([exited, sleep(3000)]);
      results.push(`${a.name}: ${first === undefined ? 'none' : `${first} ms (${firstClass})`}`);
      assert.ok(first !== undefined && first <= 5000, `${a.name}: first event after ${first} ms (> 5000) ${results.join(', ')}`);
      // With the shipped model the first event must also name the right family.
      assert.is(firstClass, a.cls, `${a.name}: class ${firstClass}`);
    }
    console.log(`  time to first event at the subscriber — ${results.join(', ')}`);
    await sleep(1200);
    const last = sub.statuses.filter((s) => s.topic.includes('/live-1/')).map((s) => JSON.parse(s.payload)).filter((s) => s.state === 'online').pop();
    assert.ok(last.counters.packets > 1000, `packets ${last.counters.packets}`);
    assert.type(last.counters.kernel_drops, 'number');
    console.log(`  status: packets ${last.counters.packets}, flows ${last.counters.flows}, events ${last.counters.events}, kernel drops ${last.counters.kernel_drops}, outbox ${last.counters.outbox_depth}`);

    // SIGTERM: flush (reason shutdown), publish, retained offline, exit 0
    const exit = new Promise<number | null>((r) => sensor!.once('exit', (c) => r(c)));
    sensor.kill('SIGTERM');
    assert.is(await exit, 0, stderr.slice(-2000));
    sensor = undefined;
    await sleep(300);
    const lastStatus = sub.statuses.filter((s) => s.topic.includes('/live-1/')).pop()!;
    assert.is(JSON.parse(lastStatus.payload).state, 'offline');
  } finally {
    sensor?.kill('SIGKILL');
    await sub.close();
    await broker.dispose();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
