/**
 * Streams and conversations are not floods (detection/streams.ts): a long connectionless flow between dynamic
 * ports below the flood rate — a camera's RTP to its recorder, IPTV, a GRE carrier — or one its peer keeps answering —
 * a VPN carrier, QUIC — is no dos evidence, whatever the model says; a one-socket flood above that rate or unanswered,
 * DHCP starvation and query floods on service ports, and reflected replies still are.
 * On rows, then on traffic made in namespaces of this test (three cameras streaming to a recorder, a QUIC-like
 * upload, then hping3 flooding the recorder from one socket), replayed through `netsensor detect --alerts`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NUM_FEATURES, featureIndex } from '../core/schema.ts';
import type { FlowVerdict } from '../detection/evidence.ts';
import { STREAM } from '../detection/streams.ts';
import { detectAlerts, finishCapture } from './helpers/detect-alerts.ts';
import { replayVerdicts } from './helpers/episodes.ts';
import { createNetnsPair, netnsNames } from './helpers/netns.ts';
import { withTools } from './helpers/tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'netsensor-streams-'));
const T0 = 1_700_000_000_000;

/** `answered`: the responder's share of the packets (0 = one way). */
interface Flow { src: string; dst: string; sport: number; dport: number; proto?: number; pps: number; answered?: number }

/**
 * The records a sensor reports of one flow the model calls dos, as the core makes them: an early one at 128 packets,
 * then an interim one every 30 s (cumulative, as interim rows are) until `seconds`, then the final one.
 */
function records(f: Flow, seconds: number): FlowVerdict[] {
  const times = [128 / f.pps];
  for (let s = 30; s < seconds; s += 30) times.push(s);
  times.push(seconds);
  return times.map((s, i) => {
    const packets = Math.round(f.pps * s);
    const back = Math.round(packets * (f.answered ?? 0));
    const row = new Float32Array(NUM_FEATURES);
    row[featureIndex('protocol')] = f.proto ?? 17;
    row[featureIndex('bidirectional_packets')] = packets;
    row[featureIndex('src2dst_packets')] = packets - back;
    row[featureIndex('dst2src_packets')] = back;
    row[featureIndex('bidirectional_packets_per_s')] = f.pps;
    return {
      flow: {
        src_ip: f.src, src_port: f.sport, dst_ip: f.dst, dst_port: f.dport, proto: f.proto ?? 17, vlan: 0,
        first_seen_ms: T0, last_seen_ms: T0 + s * 1000, end_reason: i < times.length - 1 ? 'interim' : 'idle',
        src2dst_packets: packets - back, src2dst_bytes: (packets - back) * 1358, dst2src_packets: back, dst2src_bytes: back * 120,
      },
      interim: i < times.length - 1, row, alertClass: 'dos', score: 0.999, classThreshold: 0.5, anomaly: 0.5, top: [['src2dst_packets', 1]],
    };
  });
}

function opened(flows: Array<[Flow, number]>): string[] {
  const all = flows.flatMap(([f, s]) => records(f, s)).sort((a, b) => a.flow.last_seen_ms - b.flow.last_seen_ms);
  return replayVerdicts(all).opened.map((t) => `${t.family}:${t.role}:${t.actor}`);
}

test('rows: cameras streaming to a recorder for 10 minutes (300 packets/s each, UDP between dynamic ports) and a GRE carrier open nothing', () => {
  const cams: Array<[Flow, number]> = [11, 12, 13, 14, 15, 16, 17, 18].map((h) => [{ src: `10.0.0.${h}`, dst: '10.0.0.2', sport: 5000 + 2 * h, dport: 6000 + 2 * h, pps: 300 }, 600]);
  assert.equal(opened(cams), []);
  assert.equal(opened([[{ src: '10.0.0.30', dst: '10.0.0.1', sport: 0, dport: 0, proto: 47, pps: 170 }, 300]]), []);
});

test('rows: conversations at any rate — a VPN download (7,000 packets/s, one in seven back) and a QUIC upload to port 443 (12,000/s, one in three back) — open nothing; a flood answered one in a hundred, or a DNS query flood answered in kind, still opens', () => {
  assert.equal(opened([[{ src: '10.0.0.5', dst: '203.0.113.9', sport: 40000, dport: 51820, pps: 7000, answered: 6 / 7 }, 60]]), []);
  assert.equal(opened([[{ src: '10.0.0.5', dst: '142.250.1.1', sport: 50000, dport: 443, pps: 12_000, answered: 1 / 3 }, 30]]), []);
  assert.equal(opened([[{ src: '10.0.0.66', dst: '10.0.0.2', sport: 40000, dport: 443, pps: 20_000, answered: 1 / 100 }, 2]]), ['dos:src:10.0.0.66']);
  assert.equal(opened([[{ src: '10.0.0.66', dst: '10.0.0.53', sport: 40000, dport: 53, pps: 20_000, answered: 1 / 2 }, 2]]), ['dos:src:10.0.0.66']);
});

test('rows: a one-socket UDP flood above the stream rate, DHCP starvation and a reflector\'s replies still open dos', () => {
  assert.ok(STREAM.maxPps < 20_000);
  assert.equal(opened([[{ src: '10.0.0.66', dst: '10.0.0.2', sport: 40000, dport: 9, pps: 20_000 }, 2]]).sort(), ['dos:src:10.0.0.66']);
  assert.equal(opened([[{ src: '10.0.0.66', dst: '10.0.0.2', sport: 40000, dport: 40001, pps: 20_000 }, 2]]).sort(), ['dos:src:10.0.0.66']);
  assert.equal(opened([[{ src: '0.0.0.0', dst: '255.255.255.255', sport: 68, dport: 67, pps: 300 }, 8]]), ['dos:src:0.0.0.0']);
  assert.ok(opened([[{ src: '10.0.0.53', dst: '10.0.0.2', sport: 53, dport: 33333, pps: 300 }, 20]]).includes('dos:src:10.0.0.53'));
});

const NET = netnsNames('nsstm', 238);
const CAMERAS = ['10.238.0.11', '10.238.0.12', '10.238.0.13'];
const FLOODER = '10.238.0.66';
const QUIC = '10.238.0.20';

withTools(test, ['tcpdump', 'hping3', 'ip', 'ethtool'], { root: true })(
  'namespaces: three cameras streaming 1,316-byte RTP-sized datagrams at 300 a second for 12 s and a QUIC-like upload to port 443 raise nothing; hping3 flooding the recorder from one socket at 10,000 a second raises dos on its source', async () => {
    const pcap = join(dir, 'streams.pcap');
    const ns = createNetnsPair(NET);
    try {
      for (const a of [...CAMERAS, QUIC, FLOODER]) ns.exec(NET.nsB, 'ip', ['addr', 'add', `${a}/24`, 'dev', NET.vethB]);
      // the recorder listens (no port unreachables); it ends by itself
      const recorder = ns.spawn(NET.nsA, process.execPath, ['-e',
        `setTimeout(() => process.exit(0), 40000); const d = require('dgram'); for (const p of [6000, 6002, 6004]) d.createSocket('udp4').bind(p, '${NET.ipA}');
        const quic = d.createSocket('udp4'); let n = 0; quic.on('message', (m, r) => { if (++n % 2 === 0) quic.send(Buffer.alloc(60), r.port, r.address); });
        quic.bind(443, '${NET.ipA}', () => process.stderr.write('listening'))`]);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('recorder did not start')), 10_000);
        recorder.stderr!.on('data', (b: Buffer) => { if (b.toString().includes('listening')) { clearTimeout(t); resolve(); } });
      });
      const stopCapture = await ns.capture(NET.nsA, NET.vethA, pcap);
      // bounded: 3 × 300 datagrams a second for 12 s (3 every 10 ms per camera), then exit
      ns.exec(NET.nsB, process.execPath, ['-e', `
        const d = require('dgram'); const cams = ${JSON.stringify(CAMERAS)}.map((a, i) => {
          const s = d.createSocket('udp4'); s.bind(5000 + 2 * i, a); return [s, 6000 + 2 * i]; });
        const b = Buffer.alloc(1316); b[0] = 0x80; b[1] = 96; let n = 0;
        const t = setInterval(() => {
          for (let k = 0; k < 3; k++) { b.writeUInt16BE(n & 0xffff, 2); for (const [s, port] of cams) s.send(b, port, '${NET.ipA}'); n++; }
          if (n >= 3600) { clearInterval(t); setTimeout(() => process.exit(0), 300); }
        }, 10);
        setTimeout(() => process.exit(3), 20000);`], 25_000);
      // a QUIC-like upload to port 443 (a service port: no stream, only a conversation can it be): 2,000 datagrams of
      // 1,000 bytes a second for 5 s, the server acknowledging one in two
      ns.exec(NET.nsB, process.execPath, ['-e', `
        const s = require('dgram').createSocket('udp4'); const b = Buffer.alloc(1000); let n = 0;
        s.bind(50000, '${QUIC}', () => { const t = setInterval(() => { for (let k = 0; k < 20; k++) s.send(b, 443, '${NET.ipA}');
          if ((n += 20) >= 10000) { clearInterval(t); setTimeout(() => process.exit(0), 300); } }, 10); });
        setTimeout(() => process.exit(3), 15000);`], 20_000);
      // one socket (-k keeps the source port), 8,000 datagrams at ≈ 10,000 a second
      ns.exec(NET.nsB, 'sh', ['-c', `timeout 10 hping3 -q --udp -k -s 40000 -p 9 -a ${FLOODER} -c 8000 -i u100 ${NET.ipA} >/dev/null 2>&1; exit 0`], 15_000);
      await finishCapture(stopCapture);
    } finally {
      ns.destroy();
    }
    const alerts = detectAlerts(pcap);
    console.log(`  alerts: ${alerts.map((a) => `${a.src_ip}→${a.dest_ip} ${a.netsensor.class} ${a.netsensor.reason}`).join(', ')}`);
    assert.ok(alerts.some((a) => a.src_ip === FLOODER && a.netsensor.class === 'dos'), 'the flood');
    assert.equal(alerts.filter((a) => a.src_ip !== FLOODER).map((a) => `${a.src_ip} ${a.netsensor.class}`), [], 'only the flooder');
  });

test.run();
