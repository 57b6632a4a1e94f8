/**
 * The CIC-IDS2017 dialect (`flows --format csv --cic-names`) against values computed independently by tshark
 * from the same frames: per TCP connection, the packet counts, payload lengths (CIC's "Length" is transport
 * payload), PSH counts, the duration and the inter-arrival maximum and sample deviation in microseconds.
 * And the columns netsensor cannot compute with CIC's meaning stay empty, never approximated.
 * The NFStream naming mode (`--nfstream-names`): NFStream's column list exactly (as its NFlow declares it) and,
 * per connection, IP byte counts and the sample deviation of IP packet sizes equal to tshark's.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CIC_MISSING } from '../core/export/cic.ts';
import { withTools } from './helpers/tools.ts';

const root = new URL('..', import.meta.url).pathname;
const capture = join(root, 'test/fixtures/lab/bruteforce.pcap');

function cicRows(args: string[] = ['--cic-names']): { header: string[]; rows: Record<string, string>[] } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'flows', capture, '--format', 'csv', ...args],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.is(r.status, 0, r.stderr);
  const [head, ...lines] = r.stdout.trim().split('\n');
  const header = head.split(',');
  // The header repeats "Fwd Header Length": the first occurrence wins, both are empty anyway.
  return { header, rows: lines.map((l) => { const c = l.split(','); const o: Record<string, string> = {}; header.forEach((h, i) => { if (!(h in o)) o[h] = c[i]; }); return o; }) };
}

interface Conn { key: string; times: number[]; fwd: number; bwd: number; fwdLen: number; bwdLen: number; fwdPsh: number; fwdIp: number[]; bwdIp: number[] }

/** tshark's view: per TCP stream, direction from the first packet's sender (the SYN's, in these captures). */
function tsharkConnections(): Map<string, Conn> {
  const out = execFileSync('tshark', ['-r', capture, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=,',
    '-e', 'tcp.stream', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport', '-e', 'frame.time_epoch', '-e', 'tcp.len', '-e', 'tcp.flags.push', '-e', 'ip.len'],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
  const streams = new Map<string, Conn & { src: string }>();
  for (const line of out.trim().split('\n')) {
    const [stream, src, sport, dst, dport, t, len, psh, ipLen] = line.split(',');
    let c = streams.get(stream);
    if (!c) { c = { key: `${src}-${dst}-${sport}-${dport}-6`, src: `${src}:${sport}`, times: [], fwd: 0, bwd: 0, fwdLen: 0, bwdLen: 0, fwdPsh: 0, fwdIp: [], bwdIp: [] }; streams.set(stream, c); }
    c.times.push(Number(t) * 1e6);
    const forward = `${src}:${sport}` === c.src;
    if (forward) { c.fwd++; c.fwdLen += Number(len); c.fwdPsh += psh === '1' || psh === 'True' ? 1 : 0; c.fwdIp.push(Number(ipLen)); } else { c.bwd++; c.bwdLen += Number(len); c.bwdIp.push(Number(ipLen)); }
  }
  return new Map([...streams.values()].map((c) => [c.key, c]));
}

function sampleStd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

const close = (a: number, b: number, what: string, tol = 1) => assert.ok(Math.abs(a - b) <= Math.max(tol, Math.abs(b) * 1e-5), `${what}: ${a} vs tshark ${b}`);

withTools(test, ['tshark'])('CIC columns equal tshark\'s per connection: counts, payload lengths, PSH, duration and IATs in µs', () => {
  const { rows } = cicRows();
  const conns = tsharkConnections();
  const once = new Map<string, Record<string, string>>();
  const seen = new Map<string, number>();
  for (const r of rows) seen.set(r['Flow ID'], (seen.get(r['Flow ID']) ?? 0) + 1);
  for (const r of rows) if (seen.get(r['Flow ID']) === 1) once.set(r['Flow ID'], r);
  let compared = 0;
  for (const [id, c] of conns) {
    const r = once.get(id);
    if (!r) continue;
    compared++;
    assert.is(Number(r['Total Fwd Packets']), c.fwd, `${id} fwd packets`);
    assert.is(Number(r['Total Backward Packets']), c.bwd, `${id} bwd packets`);
    assert.is(Number(r['Total Length of Fwd Packets']), c.fwdLen, `${id} fwd payload bytes`);
    assert.is(Number(r['Total Length of Bwd Packets']), c.bwdLen, `${id} bwd payload bytes`);
    assert.is(Number(r['Fwd PSH Flags']), c.fwdPsh, `${id} fwd PSH`);
    const t = c.times;
    close(Number(r['Flow Duration']), t.at(-1)! - t[0], `${id} duration µs`);
    const iats = t.slice(1).map((x, i) => x - t[i]);
    close(Number(r['Flow IAT Max']), Math.max(...iats), `${id} IAT max µs`);
    close(Number(r['Flow IAT Std']), sampleStd(iats), `${id} IAT sample std µs`, 2);
    close(Number(r['Average Packet Size']), (c.fwdLen + c.bwdLen) / (c.fwd + c.bwd), `${id} average payload`, 1e-6);
  }
  assert.ok(compared >= 20, `compared ${compared} connections`);
});

test('the columns netsensor lacks are empty; a label fills Label; other columns are numbers', () => {
  const { header, rows } = cicRows(['--cic-names', '--label', 'SSH-Patator']);
  assert.ok(CIC_MISSING.length > 0 && CIC_MISSING.every((m) => header.includes(m)));
  for (const r of rows) {
    for (const m of CIC_MISSING) assert.is(r[m], '', `${m} left empty`);
    assert.is(r.Label, 'SSH-Patator');
    assert.match(r.Timestamp, /^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2} [AP]M$/);
    for (const h of header) {
      if (CIC_MISSING.includes(h) || ['Flow ID', 'Source IP', 'Destination IP', 'Timestamp', 'Label', 'Flow Bytes/s', 'Flow Packets/s', 'Fwd Packets/s', 'Bwd Packets/s'].includes(h)) continue;
      assert.ok(r[h] !== '' && Number.isFinite(Number(r[h])), `${h} = '${r[h]}'`);
    }
  }
});

/** NFStream's NFlow slots with statistical_analysis=True and n_dissections=0 (nfstream/flow.py), in order. */
const NFSTREAM = [
  'id', 'expiration_id', 'src_ip', 'src_mac', 'src_oui', 'src_port', 'dst_ip', 'dst_mac', 'dst_oui', 'dst_port', 'protocol', 'ip_version',
  'vlan_id', 'tunnel_id', 'bidirectional_first_seen_ms', 'bidirectional_last_seen_ms', 'bidirectional_duration_ms', 'bidirectional_packets',
  'bidirectional_bytes', 'src2dst_first_seen_ms', 'src2dst_last_seen_ms', 'src2dst_duration_ms', 'src2dst_packets', 'src2dst_bytes',
  'dst2src_first_seen_ms', 'dst2src_last_seen_ms', 'dst2src_duration_ms', 'dst2src_packets', 'dst2src_bytes',
  ...['ps', 'piat_ms'].flatMap((q) => ['bidirectional', 'src2dst', 'dst2src'].flatMap((d) => ['min', 'mean', 'stddev', 'max'].map((s) => `${d}_${s}_${q}`))),
  ...['bidirectional', 'src2dst', 'dst2src'].flatMap((d) => ['syn', 'cwr', 'ece', 'urg', 'ack', 'psh', 'rst', 'fin'].map((f) => `${d}_${f}_packets`)),
];

withTools(test, ['tshark'])('--nfstream-names: NFStream\'s columns exactly; IP bytes and sample deviations of packet sizes equal tshark\'s', () => {
  const { header, rows } = cicRows(['--nfstream-names']);
  assert.equal(header, NFSTREAM);
  const conns = tsharkConnections();
  const key = (r: Record<string, string>) => `${r.src_ip}-${r.dst_ip}-${r.src_port}-${r.dst_port}-${r.protocol}`;
  const count = new Map<string, number>();
  for (const r of rows) count.set(key(r), (count.get(key(r)) ?? 0) + 1);
  let compared = 0;
  for (const r of rows) {
    const c = conns.get(key(r));
    if (!c || count.get(key(r)) !== 1) continue;
    compared++;
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.is(Number(r.src2dst_bytes), sum(c.fwdIp));
    assert.is(Number(r.bidirectional_bytes), sum(c.fwdIp) + sum(c.bwdIp));
    close(Number(r.src2dst_stddev_ps), sampleStd(c.fwdIp), `${key(r)} src2dst sample std`, 1e-3);
    close(Number(r.bidirectional_stddev_ps), sampleStd([...c.fwdIp, ...c.bwdIp]), `${key(r)} bidirectional sample std`, 1e-3);
    close(Number(r.bidirectional_duration_ms) * 1000, c.times.at(-1)! - c.times[0], `${key(r)} duration`);
    assert.is(r.src_mac, '', 'not measured: empty');
  }
  assert.ok(compared >= 20, `compared ${compared} connections`);
});

test.run();
