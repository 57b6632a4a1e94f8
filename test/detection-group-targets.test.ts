/**
 * A group address is not a host (detection/group-address.ts, families.ts `hostTargets`): flows to multicast or
 * broadcast groups are no evidence of a scan, a brute-force, a beacon, a tunnel or an exfiltration, whatever the model
 * says of them — a host joining 60 groups and sending to them is a set-top box, not a scanner. IPv6 solicited-node
 * groups stand for one host each and still count; floods keep their broadcast victims.
 * On rows, on Zeek's capture of IGMP reports for 150 groups, and on traffic made in namespaces of this test (IGMPv2
 * and MLDv1 reports, UDP to each group), replayed through `netsensor detect --alerts`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NUM_FEATURES, featureIndex } from '../core/schema.ts';
import type { FlowVerdict } from '../detection/evidence.ts';
import { isGroupAddress } from '../detection/group-address.ts';
import { detectAlerts, finishCapture } from './helpers/detect-alerts.ts';
import { replayVerdicts } from './helpers/episodes.ts';
import { createNetnsPair, netnsNames } from './helpers/netns.ts';
import { sharedPcap, withTools } from './helpers/tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'netsensor-groups-'));
const T0 = 1_700_000_000_000;

function verdict(src: string, dst: string, t: number, cls: string, proto = 17, dport = 5004): FlowVerdict {
  const row = new Float32Array(NUM_FEATURES);
  row[featureIndex('bidirectional_packets')] = 1;
  row[featureIndex('dns_queries')] = cls === 'dns_tunnel' ? 40 : 0;
  return {
    flow: {
      src_ip: src, src_port: 5004, dst_ip: dst, dst_port: dport, proto, vlan: 0, first_seen_ms: t - 10, last_seen_ms: t,
      end_reason: 'idle', src2dst_packets: 1, src2dst_bytes: 1358, dst2src_packets: 0, dst2src_bytes: 0,
    },
    interim: false, row, alertClass: cls, score: 0.99, classThreshold: 0.5, anomaly: 0.1, top: [['dst_port', 0.5]],
  };
}

const opened = (vs: FlowVerdict[]): string[] => replayVerdicts(vs).opened.map((t) => `${t.family}:${t.actor}`);

test('group addresses: IPv4 multicast and broadcast, IPv6 multicast except solicited-node groups', () => {
  for (const a of ['239.0.0.1', '224.0.0.251', '255.255.255.255', '192.168.1.255', 'ff02::16', 'ff02::fb', 'ff15::1', 'FF05::1:3']) {
    assert.ok(isGroupAddress(a), a);
  }
  for (const a of ['10.0.0.1', '192.168.1.254', '223.255.255.1', '240.0.0.1', 'fd00::1', 'fe80::1', 'ff02::1:ff00:1', 'ff02::1:ffab:cdef']) {
    assert.not.ok(isGroupAddress(a), a);
  }
});

test('rows: 150 membership reports the model calls scan, and c2/bruteforce/tunnel/dns_tunnel/exfil verdicts to groups, make no track; the same verdicts to hosts open', () => {
  const toGroups: FlowVerdict[] = [];
  for (let g = 1; g <= 150; g++) toGroups.push(verdict('10.0.0.1', `239.0.0.${g}`, T0 + g * 3, 'scan', 2, 0));
  for (const cls of ['c2', 'bruteforce', 'tunnel', 'dns_tunnel', 'exfil']) {
    for (let i = 0; i < 40; i++) toGroups.push(verdict('10.0.0.2', i % 2 ? '224.0.0.251' : 'ff02::fb', T0 + 1000 + i * 50, cls, 17, 5353));
  }
  const groups = replayVerdicts(toGroups);
  assert.equal(groups.changes, []);
  assert.is(groups.tracks, 0, 'not even an observation');

  const toHosts = toGroups.map((v) => verdict(v.flow.src_ip, v.flow.dst_ip.includes(':') ? 'fd00::53' : v.flow.dst_ip.startsWith('239.')
    ? `10.1.0.${Number(v.flow.dst_ip.split('.')[3])}` : '10.0.0.53', v.flow.last_seen_ms, v.alertClass!, v.flow.proto, v.flow.dst_port));
  const hosts = opened(toHosts);
  assert.ok(hosts.includes('scan:10.0.0.1'), hosts.join(' '));
  assert.ok(['c2', 'bruteforce', 'tunnel', 'dns_tunnel', 'exfil'].some((f) => hosts.includes(`${f}:10.0.0.2`)), hosts.join(' '));
});

test('rows: a sweep of a link by neighbour solicitations (solicited-node groups) is still a scan; a flood on a broadcast address is still dos', () => {
  const sweep: FlowVerdict[] = [];
  for (let i = 1; i <= 30; i++) sweep.push(verdict('fd00::66', `ff02::1:ff00:${i.toString(16)}`, T0 + i * 20, 'scan', 58, 135 * 256));
  assert.equal(opened(sweep), ['scan:fd00::66']);
  const smurf: FlowVerdict[] = [];
  for (let i = 0; i < 40; i++) smurf.push(verdict('10.0.0.9', '10.0.0.255', T0 + i * 10, 'dos', 1, 8 * 256));
  assert.ok(opened(smurf).includes('dos:10.0.0.9'));
});

const zeekIgmp = sharedPcap('zeek/Traces/igmp/igmp-many-groups.pcap');
test('Zeek\'s capture of three hosts reporting membership of 150 groups (IGMPv2) raises nothing (model 1.5.0 called each a scan)', () => {
  assert.equal(detectAlerts(zeekIgmp).map((a) => `${a.src_ip} ${a.netsensor.class}`), []);
});

const NET = netnsNames('nsgrp', 237);

withTools(test, ['tcpdump', 'nmap', 'ip', 'ethtool'], { root: true })(
  'namespaces: a host that joins 60 IPv4 and 30 IPv6 groups and sends a datagram to each raises nothing; its port scan of a neighbour still alerts, with hosts as its only targets', async () => {
    const pcap = join(dir, 'groups.pcap');
    const ns = createNetnsPair(NET);
    try {
      // reports to the group itself (IGMPv2, MLDv1), as Zeek's capture has them; more groups than the default 20
      ns.exec(NET.nsA, 'sh', ['-c', `echo 2 > /proc/sys/net/ipv4/conf/${NET.vethA}/force_igmp_version && `
        + `echo 1 > /proc/sys/net/ipv6/conf/${NET.vethA}/force_mld_version && echo 100 > /proc/sys/net/ipv4/igmp_max_memberships`]);
      ns.exec(NET.nsA, 'ip', ['route', 'add', '224.0.0.0/4', 'dev', NET.vethA]);
      const stopCapture = await ns.capture(NET.nsB, NET.vethB, pcap);
      // bounded: 60 + 30 groups, one 1,316-byte datagram (an MPEG-TS payload's size) to each IPv4 group, 20 ms apart
      ns.exec(NET.nsA, process.execPath, ['-e', `
        const d = require('dgram'); const s = d.createSocket({ type: 'udp4', reuseAddr: true });
        setTimeout(() => process.exit(3), 10000);
        s.bind(5004, () => {
          s.setMulticastInterface('${NET.ipA}');
          for (let i = 1; i <= 60; i++) s.addMembership('239.1.0.' + i, '${NET.ipA}');
          let i = 1;
          const t = setInterval(() => {
            s.send(Buffer.alloc(1316), 5004, '239.1.0.' + i);
            if (++i > 60) {
              clearInterval(t);
              const s6 = d.createSocket({ type: 'udp6', reuseAddr: true });
              s6.bind(5004, () => {
                for (let j = 1; j <= 30; j++) s6.addMembership('ff15::' + j.toString(16), '::%${NET.vethA}');
                setTimeout(() => process.exit(0), 1000);
              });
            }
          }, 20);
        });`], 15_000);
      ns.exec(NET.nsA, 'nmap', ['-n', '-Pn', '-sS', '--max-retries', '0', '-e', NET.vethA, '-p', '1-30', NET.ipB], 30_000);
      await finishCapture(stopCapture);
    } finally {
      ns.destroy();
    }
    const alerts = detectAlerts(pcap);
    console.log(`  alerts: ${alerts.map((a) => `${a.src_ip} ${a.netsensor.class} ${a.netsensor.reason}`).join(', ')}`);
    assert.ok(alerts.length > 0, 'the port scan alerts');
    assert.ok(alerts.every((a) => a.src_ip === NET.ipA && a.netsensor.class === 'scan'), 'only the scan, from its host');
    const targets = alerts.flatMap((a) => a.netsensor.hosts as string[]);
    assert.equal([...new Set(targets)], [NET.ipB], 'the scanned host is the only target');
  });

test.run();
