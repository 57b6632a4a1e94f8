/**
 * `netsensor flows` against an independent oracle: tshark's own per-frame view of the same captures.
 * Per 5-tuple and direction, packets and IP bytes must be equal (rules for where the flow definitions differ:
 * test/helpers/flow-oracle.ts and docs/flows.md), and the initiator of every TCP flow tshark saw start with a
 * SYN must be the SYN's sender. Captures: traffic this test makes between two network namespaces (curl to a
 * node HTTP server over IPv4 and IPv6, an nmap SYN scan, an hping3 SYN burst, UDP request/response, ping),
 * and several public captures.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, execFileSync } from 'node:child_process';
import { waitForOutput } from './helpers/child-output.ts';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetnsPair, NS_A, NS_B, VETH_A, IP_A, IP_B, IP6_B } from './helpers/netns.ts';
import { tsharkTotals, recordTotals, diffTotals, type FlowRecordLike } from './helpers/flow-oracle.ts';
import { sharedPcap, withTools } from './helpers/tools.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'netsensor-oracle-'));

function netsensorFlows(file: string): FlowRecordLike[] & { end_reason?: string }[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'flows', file], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function compare(file: string, layer: 'outer' | 'inner' = 'outer'): { records: any[]; flows: number } {
  const records = netsensorFlows(file);
  const t = tsharkTotals(file, layer);
  const n = recordTotals(records);
  const diff = diffTotals(t.totals, n.totals);
  assert.equal(diff, [], `${file}:\n${diff.join('\n')}`);
  let wrong = 0;
  for (const [k, sender] of t.synSenders) if (n.initiators.get(k) !== sender) wrong++;
  assert.is(wrong, 0, `${wrong} TCP flows with the wrong initiator in ${file}`);
  return { records, flows: t.totals.size };
}

const waitFor = waitForOutput;

const SERVER = `
const http = require('http'), dgram = require('dgram');
const srv = http.createServer((q, s) => { s.setHeader('connection', 'close'); s.end('x'.repeat(3000)); });
let up = 0; const ready = () => { if (++up === 3) console.log('ready'); };
srv.listen(8231, '::', ready);
for (const t of [{ type: 'udp4' }, { type: 'udp6', ipv6Only: true }]) {
  const u = dgram.createSocket(t); u.on('message', (m, r) => u.send(Buffer.concat([m, m]), r.port, r.address)); u.bind(8232, ready);
}
setTimeout(() => process.exit(0), 60000).unref();
`;
const UDP_CLIENT = `
const dgram = require('dgram');
async function run(type, host, n) {
  const s = dgram.createSocket(type);
  for (let i = 0; i < n; i++) {
    await new Promise((res) => { const t = setTimeout(res, 500); s.once('message', () => { clearTimeout(t); res(); }); s.send(Buffer.alloc(10 + i, 97), 8232, host); });
  }
  s.close();
}
run('udp4', '${IP_B}', 20).then(() => run('udp6', '${IP6_B}', 10)).then(() => process.exit(0));
setTimeout(() => process.exit(1), 20000);
`;

withTools(test, ['tshark', 'tcpdump', 'nmap', 'hping3', 'curl', 'ip', 'ethtool'], { root: true })(
  'namespaces: curl, nmap -sS, hping3, UDP, ping — per-flow packets and bytes per direction = tshark', async () => {
    const pcap = join(dir, 'netns.pcap');
    const ns = createNetnsPair();
    try {
      const server = ns.spawn(NS_B, process.execPath, ['-e', SERVER]);
      await waitFor(server, /ready/, 10_000);
      const stopCapture = await ns.capture(NS_A, VETH_A, pcap);
      for (let i = 0; i < 5; i++) ns.exec(NS_A, 'curl', ['-s', '-o', '/dev/null', '--max-time', '5', `http://${IP_B}:8231/`]);
      for (let i = 0; i < 3; i++) ns.exec(NS_A, 'curl', ['-s', '-o', '/dev/null', '--max-time', '5', `http://[${IP6_B}]:8231/`]);
      ns.exec(NS_A, 'nmap', ['-n', '-sS', '-Pn', '-T4', '--max-retries', '1', '--host-timeout', '30s', '-p', '1-200', IP_B]);
      // hping3 exits 1 when it counted no replies (with --faster it often misses them): the capture is what matters
      ns.exec(NS_A, 'sh', ['-c', `timeout 30 hping3 -c 200 --faster -S -p 80 ${IP_B} 2>/dev/null; exit 0`], 40_000);
      ns.exec(NS_A, process.execPath, ['-e', UDP_CLIENT], 30_000);
      ns.exec(NS_A, 'ping', ['-n', '-c', '5', '-i', '0.2', '-W', '1', IP_B], 10_000);
      await new Promise((r) => setTimeout(r, 1000)); // let the last replies reach the capture
      const dumpLog = await stopCapture();
      server.kill('SIGTERM');
      // a loaded machine can make tcpdump drop packets: then the traffic checks below would be meaningless
      assert.match(dumpLog, /\b0 packets dropped by kernel/, dumpLog);
    } finally {
      ns.destroy();
    }
    assert.ok(statSync(pcap).size > 10_000, 'capture too small');

    const { records, flows } = compare(pcap);
    assert.ok(flows >= 400, `only ${flows} TCP/UDP flows compared`);
    const http = records.filter((r) => r.protocol === 6 && r.dst_port === 8231);
    assert.is(http.length, 8, 'one record per curl connection');
    assert.ok(http.every((r) => r.end_reason === 'fin'), JSON.stringify(http.map((r) => r.end_reason)));
    assert.ok(http.every((r) => r.dst2src_bytes > 3000));
    const scan = records.filter((r) => r.protocol === 6 && r.dst_ip === IP_B && r.dst_port <= 200);
    assert.ok(scan.length >= 390, `${scan.length} scan/SYN flows`);
    assert.ok(scan.filter((r) => r.end_reason === 'rst').length >= 390, 'closed ports answer RST');
    const udp = records.filter((r) => r.protocol === 17 && r.dst_port === 8232);
    assert.equal(udp.map((r) => r.src2dst_packets).sort(), [10, 20]);
    // ICMP (not in the 5-tuple comparison): packets and bytes between the two hosts = tshark's
    const icmp = execFileSync('tshark', ['-r', pcap, '-n', '-Y', `icmp && ip.addr==${IP_A} && ip.addr==${IP_B}`, '-T', 'fields', '-e', 'ip.len'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim().split('\n').filter(Boolean).map(Number);
    const mine = records.filter((r) => r.protocol === 1);
    assert.is(mine.reduce((a, r) => a + r.src2dst_packets + r.dst2src_packets, 0), icmp.length);
    assert.is(mine.reduce((a, r) => a + r.src2dst_bytes + r.dst2src_bytes, 0), icmp.reduce((a, b) => a + b, 0));
    assert.ok(icmp.length >= 10);
  });

const SHARED = [
  'chrissanders-packets/http_espn.pcapng',
  'chrissanders-packets/synscan.pcapng',
  'chrissanders-packets/http_ip4and6.pcapng',
  'zeek/Traces/pcapng-multi-interface.pcapng',
  'markofu-pcaps/EvilFingers/NMAP_PCAPS/NMAP_SCAN_ANALYSIS/TCP_CONNECT_SCAN/TCP_CONNECT_SCAN.pcap',
  'markofu-pcaps/EvilFingers/NMAP_PCAPS/NMAP_SCAN_ANALYSIS/UDP_SCAN/UDP_SCAN.pcap',
];

withTools(test, ['tshark'])('GRE opened (plain, with a key, nested, ERSPAN III over 802.1Q): the flows inside = tshark\'s innermost layer', () => {
  let total = 0;
  for (const rel of ['zeek/Traces/tunnels/gre-sample.pcap', 'zeek/Traces/tunnels/gre-within-gre.pcap', 'zeek/Traces/tunnels/gre-erspan3-dot1q.pcap']) {
    const { records, flows } = compare(sharedPcap(rel), 'inner');
    assert.ok(records.every((r) => r.protocol !== 47), `${rel}: no record is the tunnel itself`);
    total += flows;
  }
  assert.ok(total >= 5, `${total} inner flows compared`);
});

withTools(test, ['tshark'])('public captures: per-flow packets and bytes per direction = tshark', () => {
  let total = 0;
  for (const rel of SHARED) total += compare(sharedPcap(rel)).flows;
  assert.ok(total > 5000, `${total} flows compared`);
});

test.run();
