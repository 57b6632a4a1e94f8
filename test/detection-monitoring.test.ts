/**
 * An answered ping is no sweep's probe (detection/echo.ts): a monitor pinging the same live hosts round after round
 * raises nothing, whatever the model calls its echo flows; a ping sweep of a range still alerts on the addresses that
 * do not answer. On rows, then on traffic made in namespaces of this test (ping, nmap -sn), replayed through
 * `netsensor detect --alerts`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NUM_FEATURES, featureIndex } from '../core/schema.ts';
import type { FlowVerdict } from '../detection/evidence.ts';
import { detectAlerts, finishCapture } from './helpers/detect-alerts.ts';
import { replayVerdicts } from './helpers/episodes.ts';
import { createNetnsPair, netnsNames } from './helpers/netns.ts';
import { withTools } from './helpers/tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'netsensor-monitoring-'));
const T0 = 1_700_000_000_000;

/** One echo flow (one request) the model calls scan, answered or not. */
function ping(dst: string, t: number, answered: boolean): FlowVerdict {
  const row = new Float32Array(NUM_FEATURES);
  row[featureIndex('protocol')] = 1;
  row[featureIndex('bidirectional_packets')] = answered ? 2 : 1;
  row[featureIndex('src2dst_packets')] = 1;
  row[featureIndex('dst2src_packets')] = answered ? 1 : 0;
  return {
    flow: {
      src_ip: '10.0.0.5', src_port: 0, dst_ip: dst, dst_port: 8 * 256, proto: 1, vlan: 0, first_seen_ms: t, last_seen_ms: t + 1,
      end_reason: 'idle', src2dst_packets: 1, src2dst_bytes: 84, dst2src_packets: answered ? 1 : 0, dst2src_bytes: answered ? 84 : 0,
    },
    interim: false, row, alertClass: 'scan', score: 0.95, classThreshold: 0.5, anomaly: 0.1, top: [['dst2src_packets', 1]],
  };
}

const opened = (vs: FlowVerdict[]): string[] => replayVerdicts(vs).opened.map((t) => `${t.family}:${t.actor}`);

test('rows: 30 hosts pinged and answering, 10 rounds, open nothing; a sweep of 60 addresses of which 30 answer opens scan', () => {
  const monitor: FlowVerdict[] = [];
  for (let round = 0; round < 10; round++) for (let h = 10; h < 40; h++) monitor.push(ping(`10.0.0.${h}`, T0 + round * 5000 + h, true));
  assert.equal(opened(monitor), []);
  const sweep: FlowVerdict[] = [];
  for (let h = 1; h <= 60; h++) sweep.push(ping(`10.0.0.${h}`, T0 + h * 10, h >= 10 && h < 40));
  assert.equal(opened(sweep), ['scan:10.0.0.5']);
});

const NET = netnsNames('nsmon', 239);
const LIVE = Array.from({ length: 30 }, (_, i) => `10.239.0.${10 + i}`);
const SWEEPER = '10.239.0.66';

withTools(test, ['tcpdump', 'nmap', 'ping', 'ip', 'ethtool'], { root: true })(
  'namespaces: pinging 30 live hosts in 3 rounds raises nothing; nmap -sn of the /26 they are in raises scan on its source', async () => {
    const pcap = join(dir, 'monitoring.pcap');
    const ns = createNetnsPair(NET);
    try {
      for (const a of LIVE) ns.exec(NET.nsA, 'ip', ['addr', 'add', `${a}/24`, 'dev', NET.vethA]);
      ns.exec(NET.nsB, 'ip', ['addr', 'add', `${SWEEPER}/24`, 'dev', NET.vethB]);
      // absent addresses of the /26 get neighbour entries, so the sweep's requests to them leave (and go unanswered)
      for (let h = 3; h < 63; h++) {
        if (h >= 10 && h < 40) continue;
        ns.exec(NET.nsB, 'ip', ['neigh', 'replace', `10.239.0.${h}`, 'lladdr', `02:00:00:00:ef:${h.toString(16).padStart(2, '0')}`, 'dev', NET.vethB, 'nud', 'permanent']);
      }
      const stopCapture = await ns.capture(NET.nsB, NET.vethB, pcap);
      // the monitor: one ping to each live host, three rounds 2 s apart (bounded: 90 requests)
      for (let round = 0; round < 3; round++) {
        ns.exec(NET.nsB, 'sh', ['-c', `for h in ${LIVE.join(' ')}; do ping -n -c 1 -W 1 -I ${NET.ipB} $h >/dev/null & done; wait`], 15_000);
        await new Promise((r) => setTimeout(r, 2000));
      }
      ns.exec(NET.nsB, 'nmap', ['-n', '-sn', '-PE', '--send-ip', '--disable-arp-ping', '--max-retries', '0', '-S', SWEEPER, '-e', NET.vethB, '10.239.0.0/26'], 30_000);
      await finishCapture(stopCapture);
    } finally {
      ns.destroy();
    }
    const alerts = detectAlerts(pcap);
    console.log(`  alerts: ${alerts.map((a) => `${a.src_ip} ${a.netsensor.class} ${a.netsensor.reason} hosts ${a.netsensor.host_count}`).join(', ')}`);
    assert.equal(alerts.filter((a) => a.src_ip !== SWEEPER).map((a) => `${a.src_ip} ${a.netsensor.class}`), [], 'the monitor');
    assert.ok(alerts.some((a) => a.src_ip === SWEEPER && a.netsensor.class === 'scan'), 'the sweep');
  });

test.run();
