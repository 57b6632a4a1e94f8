/**
 * Lone flows folded (assembly/flow/lone-flows.ts): a flood's one-packet unanswered flows to one target beyond
 * `loneFlowsPerS` a second become group records that say how many flows they stand for. Nothing is lost (every
 * flow is in exactly one record's 1 + folded, including at the end of input), the other flows' records are the
 * same as without folding, and the initiator of a group's record is flagged when the folded flows came from others.
 */
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FlowCore, type FlowBatch } from '../core/host.ts';
import { KEY_ROW_BYTES, KeyRows } from '../sensor/key-rows.ts';
import { defaults } from '../sensor/config.ts';
import { coreSettings, sensorCore } from '../sensor/flow-engine.ts';
import { ethernet, ipv4, tcp, udp } from './helpers/frames.ts';

interface Rec { src: string; dst: string; dport: number; reason: string; folded: number; mixed: boolean; lastMs: number; digest: string }

async function run(loneFlowsPerS: number, packets: Array<[Uint8Array, number]>, maxOut = 64): Promise<{ recs: Rec[]; core: FlowCore }> {
  const core = await FlowCore.load({ maxFlows: 4096, maxHosts: 4096, ringBytes: 1 << 16, maxOut, settings: { unansweredS: 1, loneFlowsPerS } });
  const recs: Rec[] = [];
  core.onBatch((b: FlowBatch) => {
    const k = new KeyRows(b.keyBytes);
    const width = b.features.length / b.rows;
    for (let r = 0; r < b.rows; r++) {
      const key = b.keys[r]!;
      const row = b.features.subarray(r * width, (r + 1) * width);
      recs.push({
        src: key.src_ip, dst: key.dst_ip, dport: key.dst_port, reason: key.end_reason, folded: k.folded(r), mixed: k.mixedSources(r),
        lastMs: key.last_seen_ms, digest: createHash('sha256').update(row).update(b.keyBytes.subarray(r * KEY_ROW_BYTES, (r + 1) * KEY_ROW_BYTES)).digest('hex'),
      });
    }
  });
  for (const [frame, ts] of packets) core.push(frame, 0, frame.length, frame.length, ts, 1);
  // time passes (a live sensor's expiry tick): the last second's flows end unanswered, not at the end of input
  core.advance(packets[packets.length - 1]![1] + 5000);
  core.flush('end_of_input');
  return { recs, core };
}

const syn = (src: string, sport: number, dst: string, dport: number) =>
  ethernet(0x0800, ipv4({ src, dst, proto: 6 }, tcp({ sport, dport, flags: 0x02 })));
const dgram = (src: string, sport: number, dst: string, dport: number) =>
  ethernet(0x0800, ipv4({ src, dst, proto: 17 }, udp(sport, dport, new Uint8Array(20))));

/** 3 s of a spoofed SYN flood at 2,000 flows/s on 192.168.0.200:80, a one-source UDP flood on 192.168.0.201:53, and a
 *  conversation (answered UDP) in between: time in ms from t0. */
function traffic(): Array<[Uint8Array, number]> {
  const t0 = 1_700_000_000_000;
  const out: Array<[Uint8Array, number]> = [];
  for (let i = 0; i < 6000; i++) {
    const t = t0 + i * 0.5;
    out.push([syn(`10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255 || 1}`, 1024 + (i % 50000), '192.168.0.200', 80), t]);
    if (i % 10 === 0) out.push([dgram('172.16.0.9', 2000 + i, '192.168.0.201', 53), t + 0.1]);
    if (i % 100 === 0) {
      out.push([dgram('10.200.0.1', 5000, '10.200.0.2', 7000), t + 0.2]);
      out.push([dgram('10.200.0.2', 7000, '10.200.0.1', 5000), t + 0.3]);
    }
  }
  return out;
}

test('off (0): a record per flow, none folded', async () => {
  const { recs, core } = await run(0, traffic());
  assert.is(recs.length, 6000 + 600 + 1);
  assert.ok(recs.every((r) => r.folded === 0 && !r.mixed));
  assert.is(core.counters()['flow.lone_folded'], 0);
});

test('every flow is in exactly one record; the other flows\' records are unchanged', async () => {
  const plain = await run(0, traffic());
  const { recs, core } = await run(32, traffic());
  const flows = recs.reduce((n, r) => n + 1 + r.folded, 0);
  assert.is(flows, 6000 + 600 + 1, 'records × (1 + folded) = flows');
  assert.is(core.counters()['flow.lone_folded'], recs.reduce((n, r) => n + r.folded, 0));
  assert.is(core.stats().flowsCreated, 6601);
  // far fewer records: per target ≤ 32 a second of their own + a group every 100 ms
  const synRecs = recs.filter((r) => r.dst === '192.168.0.200');
  assert.ok(synRecs.length < 200, `${synRecs.length} records for 6,000 SYN flows`);
  assert.ok(synRecs.reduce((n, r) => n + 1 + r.folded, 0) === 6000);
  // the conversation is untouched, byte for byte
  const conv = (rs: Rec[]) => rs.filter((r) => r.dst === '10.200.0.2').map((r) => r.digest);
  assert.equal(conv(recs), conv(plain.recs));
  assert.is(conv(recs).length, 1);
  // every record that stands for itself alone is a record the unfolded core also wrote
  const plainDigests = new Set(plain.recs.map((r) => r.digest));
  for (const r of recs) if (r.folded === 0) assert.ok(plainDigests.has(r.digest), `record ${r.src}→${r.dst}:${r.dport} is one of the unfolded core's`);
});

test('a spoofed flood\'s groups are flagged mixed; one initiator\'s are not', async () => {
  const { recs } = await run(32, traffic());
  const groups = (dst: string) => recs.filter((r) => r.dst === dst && r.folded > 0);
  assert.ok(groups('192.168.0.200').length > 0 && groups('192.168.0.200').every((r) => r.mixed), 'spoofed sources: mixed');
  assert.ok(groups('192.168.0.201').length > 0 && groups('192.168.0.201').every((r) => !r.mixed && r.src === '172.16.0.9'), 'one source: its own');
});

test('no more than the per-second allowance of a target\'s lone flows get records of their own', async () => {
  const { recs } = await run(32, traffic());
  const own = recs.filter((r) => r.dst === '192.168.0.200' && r.folded === 0 && r.reason === 'unanswered');
  const perSecond = new Map<number, number>();
  for (const r of own) perSecond.set(Math.floor(r.lastMs / 1000), (perSecond.get(Math.floor(r.lastMs / 1000)) ?? 0) + 1);
  // windows start at the first lone flow, not on the second: two calendar seconds can share one window's 32
  for (const [, n] of perSecond) assert.ok(n <= 64, `${n} own records in one second`);
  assert.ok(own.length <= 32 * 5, `${own.length} own records over ≈ 4 s of expiries`);
});

test('a small output area still loses nothing (groups wait for room)', async () => {
  const { recs } = await run(8, traffic(), 4);
  assert.is(recs.reduce((n, r) => n + 1 + r.folded, 0), 6601);
});

test('a record of one packet that was answered is never folded', async () => {
  // 200 answered DNS-like exchanges to one server in 100 ms: two-packet flows, each its own record
  const pkts: Array<[Uint8Array, number]> = [];
  for (let i = 0; i < 200; i++) {
    pkts.push([dgram(`10.1.${i >> 8}.${i & 255}`, 3000, '10.9.9.9', 53), 1_700_000_000_000 + i * 0.5]);
    pkts.push([dgram('10.9.9.9', 53, `10.1.${i >> 8}.${i & 255}`, 3000), 1_700_000_000_000 + i * 0.5 + 0.2]);
  }
  const { recs } = await run(4, pkts);
  assert.is(recs.length, 200);
  assert.ok(recs.every((r) => r.folded === 0));
});

test('a sensor folds by default (32 a second); not when it publishes every alerting flow, nor for flow export', async () => {
  const cfg = structuredClone(defaults);
  assert.is(sensorCore(cfg).loneFlowsPerS, 32);
  assert.is(coreSettings(sensorCore(cfg)).loneFlowsPerS, 32);
  cfg.detect.publish = 'flows';
  assert.is(sensorCore(cfg).loneFlowsPerS, 0);
  assert.is(defaults.core.loneFlowsPerS, 32, 'the defaults themselves are not changed');
});

test.run();
