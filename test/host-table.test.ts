/**
 * The host table (assembly/features/hosts.ts) when hosts outnumber it: hosts of live flows are pinned, so a full
 * table costs one `flow.host_table_full` per flow side that finds no slot (never one per packet); an idle host's
 * slot is reused least recently seen first (`flow.host_evicted`); the default size follows the flow table.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FlowCore, hostsFor } from '../core/host.ts';
import { ethernet, ipv4, tcp, udp } from './helpers/frames.ts';
import { coreWithRows } from './helpers/core-rows.ts';

const T0 = 1_700_000_000_000;
const FIN = 0x01, SYN = 0x02, ACK = 0x10;

function send(c: FlowCore, ts: number, frame: Uint8Array): void {
  c.push(frame, 0, frame.length, frame.length, ts, 1);
}
const udpFrame = (src: string, dst: string, sport: number, dport: number) =>
  ethernet(0x0800, ipv4({ src, dst, proto: 17 }, udp(sport, dport, new Uint8Array(20))));
const tcpFrame = (src: string, dst: string, sport: number, dport: number, flags: number) =>
  ethernet(0x0800, ipv4({ src, dst, proto: 6 }, tcp({ sport, dport, flags })));

test('more hosts than slots: counted once per flow side, never per packet; pinned hosts keep their windows', async () => {
  const { core: c, rows } = await coreWithRows(64, 16);
  const flows = 40;
  const rounds = 20;
  let ts = T0;
  // 40 concurrent flows between 80 distinct hosts, their packets interleaved round-robin (both directions)
  for (let r = 0; r < rounds; r++) {
    for (let f = 0; f < flows; f++) {
      const client = `10.0.${f}.1`, server = `10.9.${f}.1`;
      ts += 0.1; // a flow's packets 4 ms apart: more than the host-window snapshot interval (features/host-snapshot.ts)
      send(c, ts, r & 1 ? udpFrame(server, client, 53, 40000 + f) : udpFrame(client, server, 40000 + f, 53));
    }
  }
  c.flush();
  const full = c.counters()['flow.host_table_full'];
  // 16 slots hold the first 8 flows' 16 hosts for the whole capture; every other flow misses both sides once
  assert.is(full, 2 * (flows - 8), `flow.host_table_full ${full}, packets ${flows * rounds}`);
  assert.is(c.counters()['flow.host_evicted'], 0, 'no host was idle while flows were live');
  assert.is(rows.length, flows);
  const withHosts = rows.filter((r) => r.f('src_host_w100s_packets') > 0);
  assert.is(withHosts.length, 8, 'the first 8 flows have host windows');
  for (const r of withHosts) {
    // the client sent 10 of the flow's 20 packets, within 80 ms: a 100 s window has hardly decayed (bfloat16: ± 0.04)
    assert.ok(Math.abs(r.f('src_host_w100s_packets') - 10) < 0.05, `client packets ${r.f('src_host_w100s_packets')}`);
    assert.ok(Math.abs(r.f('dst_host_w100s_packets') - 10) < 0.05, `server received ${r.f('dst_host_w100s_packets')}`);
  }
  for (const r of rows.filter((x) => x.f('src_host_w100s_packets') === 0)) {
    assert.is(r.f('dst_host_w100s_packets'), 0, 'a flow without host slots has no host features');
  }
});

test('idle hosts are reused least recently seen first; a returning host keeps its history while it stays', async () => {
  const { core: c, rows } = await coreWithRows(8, 4);
  // flow A (h1 → h2) and then flow B (h3 → h4) each open and close (FIN both ways, last ACK)
  const session = (t: number, a: string, b: string, sport: number) => {
    send(c, t, tcpFrame(a, b, sport, 80, SYN));
    send(c, t + 1, tcpFrame(b, a, 80, sport, SYN | ACK));
    send(c, t + 2, tcpFrame(a, b, sport, 80, ACK));
    send(c, t + 3, tcpFrame(a, b, sport, 80, FIN | ACK));
    send(c, t + 4, tcpFrame(b, a, 80, sport, FIN | ACK));
    send(c, t + 5, tcpFrame(a, b, sport, 80, ACK));
  };
  session(T0, '10.0.0.1', '10.0.0.2', 1001);
  session(T0 + 100, '10.0.0.3', '10.0.0.4', 1002);
  c.advance(T0 + 5_000); // past the FIN linger: both flows end, all four hosts are idle (A's older)
  assert.is(rows.length, 2);
  // a new pair of hosts takes the two least recently seen slots: A's hosts, not B's
  session(T0 + 6_000, '10.0.0.5', '10.0.0.6', 1003);
  c.sync();
  assert.is(c.counters()['flow.host_evicted'], 2);
  // h3 returns: its slot was kept, so its window still holds flow B's 4 packets (decayed by 6 s of its 100 s half-life)
  session(T0 + 6_100, '10.0.0.3', '10.0.0.7', 1004);
  c.advance(T0 + 8_000); // these two end too: their hosts become idle
  // h1 returns: it was dropped, so it starts from nothing
  session(T0 + 8_100, '10.0.0.1', '10.0.0.8', 1005);
  c.flush();
  assert.is(c.counters()['flow.host_table_full'], 0, 'idle slots were always there to take');
  const byPort = new Map(rows.map((r) => [r.sport, r]));
  const h3 = byPort.get(1004)!.f('src_host_w100s_packets');
  const h1 = byPort.get(1005)!.f('src_host_w100s_packets');
  assert.ok(h3 > 7.5 && h3 < 8, `h3 carries its earlier 4 packets: ${h3}`);
  assert.ok(h1 > 3.9 && h1 <= 4, `h1 starts afresh: ${h1}`);
});

test('default host table: twice the flow table, at least 65,536, at most 2^22', () => {
  assert.is(hostsFor(1000), 65_536);
  assert.is(hostsFor(200_000), 400_000);
  assert.is(hostsFor(4_000_000), 1 << 22);
});


test('host windows over 30 minutes of capture (counts kept as f32, re-landmarked every 60 s): a busy sender\'s damped counts stay exact to bfloat16, and old activity decays to nothing', async () => {
  const { core: c, rows } = await coreWithRows(4096, 64);
  // 10.0.0.1 opens one UDP flow a second to a new port of 10.9.0.1 for 30 minutes, 5 packets each, 100 ms apart;
  // a 10,000-packet burst in its first minute makes every window's counts large before the quiet stretch
  let ts = T0;
  for (let i = 0; i < 10_000; i++) send(c, ts + i * 0.001, udpFrame('10.0.0.1', '10.9.0.2', 50000, 9));
  for (let s = 0; s < 1800; s++) {
    ts = T0 + 20_000 + s * 1000;
    for (let p = 0; p < 5; p++) send(c, ts + p * 100, udpFrame('10.0.0.1', '10.9.0.1', 40000 + (s % 20000), 1000 + s));
  }
  c.flush();
  const last = rows.filter((r) => r.f('dst_port') === 1000 + 1799)[0]!;
  assert.ok(last, 'the last flow has a row');
  // damped flows started with half-life h, one a second for 1800 s, as of the last flow's last packet (0.4 s after
  // its start): Σ_k 2^(−(k + 0.4)/h); packets: five a second, the burst long gone
  const flows = (h: number) => { let x = 0; for (let k = 0; k < 1800; k++) x += 2 ** (-(k + 0.4) / h); return x; };
  const packets = (h: number) => { let x = 0; for (let k = 0; k < 1800; k++) for (let p = 0; p < 5; p++) x += 2 ** (-(k + 0.4 - p * 0.1) / h); return x; };
  const near = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= want * 2 ** -7 + 1e-6, `${what}: ${got}, want ${want}`);
  for (const [w, h] of [['1s', 1], ['10s', 10], ['100s', 100]] as const) {
    near(last.f(`src_host_w${w}_flows`), flows(h), `w${w} flows`);
    near(last.f(`src_host_w${w}_dst_ports`), flows(h), `w${w} distinct ports`);
    near(last.f(`src_host_w${w}_packets`), packets(h), `w${w} packets`);
    near(last.f(`dst_host_w${w}_flows`), flows(h), `w${w} flows received`);
  }
  assert.ok(last.f('src_host_w100s_stddev_ps') < 1e-3, 'constant-size packets: no spread (rounding noise only)');
});

test.run();
