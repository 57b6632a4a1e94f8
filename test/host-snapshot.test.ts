/**
 * Host-window features are as of the flow's last packet (assembly/features/host-snapshot.ts): an answered UDP
 * flow's row is written a whole idle timeout later, and what its hosts did in between must not reach the row.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FlowCore } from '../core/host.ts';
import { coreWithRows, type Row } from './helpers/core-rows.ts';
import { ethernet, ipv4, udp } from './helpers/frames.ts';
import { FEATURE_NAMES, HOST_SNAPSHOT_EVERY_MS } from '../core/schema.ts';

const T0 = 1_700_000_000_000;
const HOST_FEATURES = FEATURE_NAMES.filter((n) => /^(src|dst)_host_w/.test(n));
const CLIENT = '10.20.0.5', RESOLVER = '10.20.0.53';

async function core(): Promise<{ c: FlowCore; rows: Row[] }> {
  const { core: c, rows } = await coreWithRows(1024, 2048, 256);
  return { c, rows };
}

function send(c: FlowCore, ts: number, src: string, dst: string, sport: number, dport: number, payload: number): void {
  const frame = ethernet(0x0800, ipv4({ src, dst, proto: 17 }, udp(sport, dport, new Uint8Array(payload))));
  c.push(frame, 0, frame.length, frame.length, ts, 1);
}

/** A DNS-like exchange from one source port: 12 queries of 60 B payload answered within 2 ms, 40 ms apart. */
function dnsFlow(c: FlowCore, t: number): number {
  for (let q = 0; q < 12; q++) {
    send(c, t + q * 40, CLIENT, RESOLVER, 41000, 53, 60);
    send(c, t + q * 40 + 2, RESOLVER, CLIENT, 53, 41000, 120);
  }
  return t + 11 * 40 + 2; // the flow's last packet
}

const dnsRow = (rows: Row[]) => rows.find((r) => r.src === CLIENT && r.dport === 53 && r.sport === 41000)!;

test("a row's host windows do not depend on what its hosts did after its last packet", async () => {
  // alone: the flow, then silence until its idle timeout
  const alone = await core();
  const last = dnsFlow(alone.c, T0);
  alone.c.advance(last + 120_000);
  const a = dnsRow(alone.rows);
  assert.ok(a, 'the DNS flow ended');
  assert.is(a.reason, 'idle');

  // busy: the same flow, then both hosts keep working (large packets to other hosts, a fan-out to many ports, many
  // clients towards the resolver) during the minute before the flow's idle timeout ends it
  const busy = await core();
  dnsFlow(busy.c, T0);
  for (let i = 0; i < 300; i++) {
    const t = last + 5_000 + i * 100;
    send(busy.c, t, CLIENT, '10.20.9.9', 50000, 9000 + (i % 150), 1400);
    send(busy.c, t + 1, `10.20.1.${1 + (i % 200)}`, RESOLVER, 42000 + i, 53, 40);
  }
  busy.c.advance(last + 120_000);
  const b = dnsRow(busy.rows);
  assert.ok(b, 'the DNS flow ended');
  assert.is(b.reason, 'idle');
  assert.ok(busy.rows.length > 300, `the later traffic made its own flows (${busy.rows.length} rows)`);

  for (const name of HOST_FEATURES) assert.is(b.f(name), a.f(name), `${name}: alone ${a.f(name)}, busy ${b.f(name)}`);

  // and they describe the flow's own moment, undecayed by the minute until its row was written: the client had
  // sent 12 packets of 88 B within half a second, the resolver had received them, in one flow from one source
  assert.ok(Math.abs(a.f('src_host_w100s_packets') - 12) < 0.1, `src_host_w100s_packets ${a.f('src_host_w100s_packets')}`);
  assert.ok(a.f('src_host_w1s_packets') > 8, `src_host_w1s_packets ${a.f('src_host_w1s_packets')}`);
  assert.ok(Math.abs(a.f('src_host_w10s_mean_ps') - 88) < 0.5, `src_host_w10s_mean_ps ${a.f('src_host_w10s_mean_ps')}`);
  assert.ok(Math.abs(a.f('dst_host_w100s_packets') - 12) < 0.1, `dst_host_w100s_packets ${a.f('dst_host_w100s_packets')}`);
  assert.ok(Math.abs(a.f('src_host_w100s_flows') - 1) < 0.01 && Math.abs(a.f('dst_host_w100s_src_hosts') - 1) < 0.01);
  assert.is(a.f('src_host_w1s_failed_flows'), 0, 'an answered flow did not fail');
});

test('an unanswered flow counts itself as failed, as of its last packet; earlier failures decay to it', async () => {
  const { c, rows } = await core();
  send(c, T0, CLIENT, '10.20.5.1', 43000, 161, 30); // unanswered: ends 3 s later
  send(c, T0 + 3_500, '10.20.6.1', '10.20.6.2', 7000, 7000, 30); // any packet moves the clock: the first one ends
  send(c, T0 + 10_000, CLIENT, '10.20.5.2', 43001, 161, 30);
  c.advance(T0 + 20_000);
  const first = rows.find((r) => r.dport === 161 && r.sport === 43000)!;
  const second = rows.find((r) => r.dport === 161 && r.sport === 43001)!;
  assert.is(first.reason, 'unanswered');
  assert.is(first.f('src_host_w1s_failed_flows'), 1, 'itself, undecayed by the 3 s until it ended');
  assert.is(first.f('src_host_w1s_packets'), 1);
  // the first failure was counted when it ended (T0 + 3.5 s): 6.5 s before the second flow's packet
  const expected = 1 + 2 ** (-6.5 / 10);
  assert.ok(Math.abs(second.f('src_host_w10s_failed_flows') - expected) < 0.01, `w10s failed ${second.f('src_host_w10s_failed_flows')}, expected ${expected}`);
});

test("a long flow's windows are at most the snapshot interval behind its last packet", async () => {
  const { c, rows } = await core();
  const n = 2000; // one packet a millisecond: snapshots every HOST_SNAPSHOT_EVERY_MS, not every packet
  for (let i = 0; i < n; i++) send(c, T0 + i, CLIENT, '10.20.7.7', 44000, 5000, 100);
  c.advance(T0 + n + 120_000);
  const r = rows.find((x) => x.sport === 44000)!;
  const w100 = r.f('src_host_w100s_packets');
  // in the 100 s window 2,000 packets within 2 s are ≈ 2,000 (decay < 1.4 %); at most the last interval's missing
  assert.ok(w100 <= n && w100 >= (n - HOST_SNAPSHOT_EVERY_MS) * 0.98, `src_host_w100s_packets ${w100}`);
  assert.ok(Math.abs(r.f('src_host_w1s_mean_ps') - 128) < 1, `mean ${r.f('src_host_w1s_mean_ps')}`);
});

test.run();
