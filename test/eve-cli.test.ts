/**
 * EVE JSON from the CLI on real captures: every record of `netsensor flows --format eve` and of
 * `netsensor detect --alerts --format eve` validates against Suricata's EVE JSON Schema; flow records carry
 * tshark's Community ID (computed independently, per packet) and their own counters; ICMP is type/code, not
 * ports; alerts are one record per alert (no "updated"), a fan-in alert is about its target, and an alert's
 * flow_id / community_id are those of its flow in `flows --format eve`.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eveErrors } from './helpers/eve-schema.ts';
import { withTools } from './helpers/tools.ts';

const root = new URL('..', import.meta.url).pathname;
const pcaps = join(root, '../shared/pcaps');
const lab = (name: string) => join(root, 'test/fixtures/lab', name);

const memo = new Map<string, ReturnType<typeof run>>();
/** Each command line runs once per file (several tests read the same output). */
function cli(args: string[]) {
  const key = args.join('\0');
  if (!memo.has(key)) memo.set(key, run(args));
  return memo.get(key)!;
}

function run(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 27 });
  const records = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  return { code: r.status, records, stderr: r.stderr };
}

function assertValid(records: Record<string, unknown>[], what: string): void {
  assert.ok(records.length > 0, `${what}: some records`);
  for (const r of records) {
    const err = eveErrors(r);
    assert.is(err, undefined, `${what}: ${err}\n${JSON.stringify(r).slice(0, 600)}`);
  }
}

/** tshark's Community ID of every IP packet (Wireshark's own implementation of the spec). */
function tsharkCommunityIds(file: string): Set<string> {
  const out = execFileSync('tshark', ['-r', file, '--enable-protocol', 'communityid', '-Y', 'ip or ipv6', '-T', 'fields', '-e', 'communityid'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
  return new Set(out.split('\n').map((l) => l.trim()).filter(Boolean));
}

// DNS over UDP, an nmap SYN scan (2,000 TCP flows), ICMPv6 neighbour discovery and an echo begun by its reply.
const FLOW_CAPTURES = ['chrissanders-packets/dns.pcap', 'chrissanders-packets/synscan.pcapng', 'chrissanders-packets/icmpv6_neighbor_solicitation.pcapng'];

withTools(test, ['tshark'])('flows --format eve: valid EVE flow events whose community_id is tshark\'s, per capture', () => {
  for (const rel of FLOW_CAPTURES) {
    const file = join(pcaps, rel);
    const r = cli(['flows', file, '--format', 'eve']);
    assert.is(r.code, 0, r.stderr);
    assertValid(r.records, rel);
    assert.equal(new Set(r.records.map((x) => x.community_id)), tsharkCommunityIds(file), `${rel}: community ids`);
    const ids = r.records.map((x) => x.flow_id);
    assert.is(new Set(ids).size, ids.length, `${rel}: flow_id unique per flow`);
    for (const x of r.records) {
      assert.is(x.event_type, 'flow');
      assert.ok(Number.isSafeInteger(x.flow_id) && x.flow_id > 0);
      assert.is(x.timestamp, x.flow.start, 'a flow event is stamped with the flow start');
      if (x.proto === 'ICMP' || x.proto === 'IPv6-ICMP') {
        assert.ok(!('src_port' in x) && !('dest_port' in x), 'ICMP: no ports');
        assert.ok(Number.isInteger(x.icmp_type) && Number.isInteger(x.icmp_code), 'ICMP: type and code');
      }
    }
  }
});

test('flows --format eve agrees with the jsonl record of each flow (counters, times, ICMP type), and knows DNS', () => {
  const file = join(pcaps, 'chrissanders-packets/icmp_echo.pcapng');
  const eve = cli(['flows', file, '--format', 'eve']).records;
  const rows = cli(['flows', file]).records;
  assert.is(eve.length, rows.length);
  for (const [i, row] of rows.entries()) {
    const e = eve[i];
    assert.equal([e.src_ip, e.dest_ip, e.flow.pkts_toserver, e.flow.pkts_toclient, e.flow.bytes_toserver, e.flow.bytes_toclient],
      [row.src_ip, row.dst_ip, row.src2dst_packets, row.dst2src_packets, row.src2dst_bytes, row.dst2src_bytes]);
    assert.is(e.icmp_type, row.icmp_type);
    assert.is(e.icmp_type, 8, 'echo request');
    assert.is(e.response_icmp_type, 0, 'answered by echo reply');
    assert.is(Date.parse(e.flow.start.replace('+0000', 'Z')), Math.floor(row.first_seen_ms));
  }
  const dns = cli(['flows', join(pcaps, 'chrissanders-packets/dns.pcap'), '--format', 'eve']).records;
  assert.ok(dns.every((x) => x.app_proto === 'dns'), 'DNS flows say app_proto dns');
  const tcp = cli(['flows', lab('bruteforce.pcap'), '--format', 'eve']).records.filter((x) => x.proto === 'TCP');
  assert.ok(tcp.some((x) => x.tcp?.syn === true && x.tcp?.fin === true && x.flow.state === 'closed'), 'a closed TCP flow with SYN and FIN');
});

test('detect --alerts --format eve: valid EVE alerts, one per alert, extras in alert.metadata', () => {
  for (const name of ['dos.pcap', 'bruteforce.pcap', 'dns_tunnel.pcap']) {
    const r = cli(['detect', lab(name), '--alerts', '--format', 'eve']);
    assert.is(r.code, 0, r.stderr);
    assertValid(r.records, name);
    const summary = JSON.parse(r.stderr.trim().split('\n').pop()!);
    const created = r.records.filter((x) => x.alert.metadata.reason[0] === 'created');
    assert.is(created.length, summary.alerts, `${name}: one created record per alert`);
    assert.ok(r.records.every((x) => x.alert.metadata.reason[0] !== 'updated'), `${name}: no update records`);
    for (const x of r.records) {
      assert.is(x.event_type, 'alert');
      assert.ok(!('netsensor' in x));
      for (const [k, v] of Object.entries(x.alert.metadata)) assert.ok(Array.isArray(v) && v.every((s) => typeof s === 'string'), `metadata.${k} is a list of strings`);
      assert.ok(x.flow.start <= x.flow.end);
      assert.match(x.community_id, /^1:[A-Za-z0-9+/]{27}=$/);
    }
    if (name === 'dos.pcap') {
      const fan = r.records.find((x) => x.alert.metadata.kind[0] === 'fan_in');
      assert.ok(fan, 'the spoofed flood is a fan_in alert');
      assert.is(fan.alert.target.ip, '10.232.1.10');
      assert.ok(!('source' in fan.alert), 'no single (spoofed) source');
      assert.match(fan.alert.signature, /against 10\.232\.1\.10/);
      assert.ok(Number(fan.alert.metadata.source_count[0]) >= 10 && fan.alert.metadata.sources.length > 1);
    }
    if (name === 'dns_tunnel.pcap') assert.ok(r.records.some((x) => x.app_proto === 'dns'), 'the tunnel alert says app_proto dns');
  }
});

test('an alert names its flow as flows --format eve does (flow_id, community_id)', () => {
  const alerts = cli(['detect', lab('bruteforce.pcap'), '--alerts', '--format', 'eve']).records;
  const flows = cli(['flows', lab('bruteforce.pcap'), '--format', 'eve']).records;
  const byId = new Map(flows.map((f) => [f.flow_id, f]));
  for (const a of alerts) {
    const f = byId.get(a.flow_id);
    assert.ok(f, `flow ${a.flow_id} of the alert is among the capture's flows`);
    assert.equal([f.community_id, f.src_ip, f.src_port, f.dest_ip, f.dest_port, f.flow.start], [a.community_id, a.src_ip, a.src_port, a.dest_ip, a.dest_port, a.flow.start]);
  }
});

test('--format eve: without --alerts on detect, and with --cic-names on flows, one usage line and exit 2', () => {
  for (const args of [['detect', lab('scan.pcap'), '--format', 'eve'], ['flows', lab('scan.pcap'), '--format', 'eve', '--cic-names']]) {
    const r = cli(args);
    assert.is(r.code, 2);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test.run();
