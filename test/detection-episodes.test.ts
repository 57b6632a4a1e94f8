/**
 * Evidence → episodes (detection/): floods become one episode with counts, a lone weak verdict never publishes,
 * one strong flow can, updates are rate-limited, quiet episodes close, memory stays bounded; and the site baseline
 * down-weights usual endpoints without absorbing attacks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NUM_FEATURES, featureIndex } from '../core/schema.ts';
import { Baseline, type BaselinePersistence, type Endpoint } from '../detection/baseline.ts';
import { EpisodeTracker, type EpisodeChange } from '../detection/episodes.ts';
import type { FlowVerdict } from '../detection/evidence.ts';
import { FAMILIES } from '../detection/families.ts';
import { ruleCandidate } from '../detection/rules.ts';
import { episodeEvent } from '../detection/risk-event.ts';
import { checkEvent } from '../protocol/event.ts';

const T0 = 1_700_000_000_000;
let idn = 0;
const ids = () => `0190a000-0000-7000-8000-${String(++idn).padStart(12, '0')}`;

interface Spec { src?: string; dst?: string; dport?: number; proto?: number; t: number; cls?: string; score?: number; packets?: number; dnsQueries?: number; interim?: boolean }

function verdict(s: Spec): FlowVerdict {
  const row = new Float32Array(NUM_FEATURES);
  row[featureIndex('bidirectional_packets')] = s.packets ?? 1;
  row[featureIndex('dns_queries')] = s.dnsQueries ?? 0;
  return {
    flow: {
      src_ip: s.src ?? '10.0.0.66', src_port: 40000, dst_ip: s.dst ?? '10.0.0.10', dst_port: s.dport ?? 80, proto: s.proto ?? 6, vlan: 0,
      first_seen_ms: s.t - 10, last_seen_ms: s.t, end_reason: 'idle',
      src2dst_packets: s.packets ?? 1, src2dst_bytes: 60 * (s.packets ?? 1), dst2src_packets: 0, dst2src_bytes: 0,
    },
    interim: s.interim ?? false, row, alertClass: s.cls, score: s.score ?? 0.99, classThreshold: 0.5,
    anomaly: s.cls === 'anomaly' ? 2 : 0.1, top: [['dst_port', 0.5]],
  };
}

const states = (cs: EpisodeChange[]) => cs.map((c) => `${c.state}:${c.track.family}:${c.track.role}`);

test('a spoofed SYN flood of 5,000 flows is one destination episode with counts, not 5,000 events', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const out: EpisodeChange[] = [];
  for (let i = 0; i < 5000; i++) {
    out.push(...tr.observe(verdict({ src: `172.16.${i >> 8}.${i & 255}`, t: T0 + i, cls: 'dos' })));
  }
  out.push(...tr.closeAll());
  const opened = out.filter((c) => c.state === 'open');
  assert.is(opened.length, 1, states(out).join(' '));
  assert.is(opened[0]!.track.role, 'dst');
  assert.is(opened[0]!.track.actor, '10.0.0.10');
  // 5 s of flood time → at most ~1 update per second, plus open and close
  assert.ok(out.length <= 8, `${out.length} changes`);
  const last = out[out.length - 1]!;
  assert.is(last.state, 'closed');
  assert.is(last.track.flows, 5000);
  assert.is(last.track.peers.size, 4096, 'distinct sources exact up to the cap');
});

test('folded records (a flood\'s lone flows, assembly/flow/lone-flows.ts) count every flow they stand for: the victim\'s, and the initiator\'s only when all were its own', () => {
  // the same 5,000-flow spoofed flood as above, as a sensor with folding scores it: 32 flows a second one by one,
  // the rest in records of 1 + folded flows, flagged mixed (they came from other sources than the record's own)
  const tr = new EpisodeTracker({ newId: ids });
  const out: EpisodeChange[] = [];
  let flows = 0;
  for (let i = 0; flows < 5000; i++) {
    const v = verdict({ src: `172.16.${i >> 8}.${i & 255}`, t: T0 + flows, cls: 'dos' });
    const n = i < 32 ? 1 : Math.min(500, 5000 - flows);
    v.folded = n - 1;
    v.mixedSources = n > 1;
    flows += n;
    out.push(...tr.observe(v));
  }
  out.push(...tr.closeAll());
  const opened = out.filter((c) => c.state === 'open');
  assert.is(opened.length, 1, states(out).join(' '));
  assert.is(opened[0]!.track.role, 'dst');
  const last = out[out.length - 1]!;
  assert.is(last.track.flows, 5000, 'every folded flow counted on the victim');
  assert.is(last.track.packets, 5000);
  assert.is(last.track.bytes, 5000 * 60);
  // no source became an actor with the flows of others
  assert.ok(out.every((c) => c.track.role === 'dst'), states(out).join(' '));

  // one source's own flood of lone flows (not mixed): its flows are its own too
  const one = new EpisodeTracker({ newId: ids });
  const got: EpisodeChange[] = [];
  for (let i = 0; i < 40; i++) {
    const v = verdict({ src: '172.16.9.9', t: T0 + i * 100, cls: 'dos' });
    v.folded = i < 32 ? 0 : 99;
    v.mixedSources = false;
    got.push(...one.observe(v));
  }
  got.push(...one.closeAll());
  const src = got.filter((c) => c.track.role === 'src');
  assert.ok(src.length > 0, states(got).join(' '));
  assert.is(src[src.length - 1]!.track.flows, 32 + 8 * 100);
});

test('a single weak verdict, or a few, never opens an episode; they stay local observations', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const out = [
    ...tr.observe(verdict({ t: T0, cls: 'c2', score: 0.6 })),
    ...tr.observe(verdict({ t: T0 + 5000, cls: 'scan', score: 0.7 })),
    ...tr.observe(verdict({ t: T0 + 9000, cls: 'dos' })),
    ...tr.observe(verdict({ t: T0 + 9500, cls: 'dns_tunnel', dnsQueries: 2 })),
    ...tr.observe(verdict({ t: T0 + 9600, cls: 'anomaly' })),
  ];
  assert.equal(out, []);
  assert.is(tr.counters.observations, 5);
  assert.equal(tr.closeAll(), []);
});

test('one flow with strong evidence of its own (a DNS tunnel with 300 queries) opens an episode', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const out = tr.observe(verdict({ t: T0, cls: 'dns_tunnel', dport: 53, proto: 17, dnsQueries: 300, packets: 600 }));
  assert.equal(states(out), ['open:dns_tunnel:src']);
  const ev = episodeEvent(out[0]!, 'sensor-1', 'm1', T0);
  assert.is(checkEvent(ev, 'sensor-1'), undefined);
  assert.is(ev.class, 'dns_tunnel');
  assert.is(ev.episode!.state, 'open');
  assert.is(ev.episode!.flows, 1);
});

test('a DNS tunnel that goes on (iodine: one UDP flow for hours) opens from its interim record, not at its end; interim records of one flow are not several flows', () => {
  // the core's early interim record of a real iodine session: 128 packets, 69 queries, p(dns_tunnel) 0.975
  const tr = new EpisodeTracker({ newId: ids });
  const out = tr.observe(verdict({ t: T0, cls: 'dns_tunnel', dport: 53, proto: 17, dnsQueries: 69, packets: 128, score: 0.975, interim: true }));
  assert.equal(states(out), ['open:dns_tunnel:src']);
  assert.is(episodeEvent(out[0]!, 'sensor-1', 'm1', T0).episode!.flows, 1);
  // bruteforce needs 6 flows: ten interim records of ONE long session are one flow under way, not six
  const bf = new EpisodeTracker({ newId: ids });
  for (let i = 0; i < 10; i++) {
    assert.equal(states(bf.observe(verdict({ t: T0 + i * 30_000, cls: 'bruteforce', dport: 22, packets: 200, interim: true }))), [], `interim record ${i}`);
  }
});


test('a flow that carries no DNS is no DNS-tunnel evidence, whatever the model says; DNS over UDP or TCP port 53 is', () => {
  // a hub's local HTTP polls (TCP 80, no DNS message) that a model read as dns_tunnel: thirty of them stay quiet
  const web = new EpisodeTracker({ newId: ids });
  for (let i = 0; i < 30; i++) assert.equal(states(web.observe(verdict({ t: T0 + i * 1000, cls: 'dns_tunnel', dport: 80, packets: 10 }))), [], `poll ${i}`);
  // the same verdicts on DNS flows do count: UDP with parsed queries, and TCP to port 53 (messages not parsed)
  const udp = new EpisodeTracker({ newId: ids });
  let opened = false;
  for (let i = 0; i < 30 && !opened; i++) opened = udp.observe(verdict({ t: T0 + i * 1000, cls: 'dns_tunnel', dport: 5353 + i, proto: 17, dnsQueries: 1, packets: 2 })).length > 0;
  assert.ok(opened, 'UDP flows with DNS queries open a dns_tunnel episode');
  const tcp = new EpisodeTracker({ newId: ids });
  opened = false;
  for (let i = 0; i < 30 && !opened; i++) opened = tcp.observe(verdict({ t: T0 + i * 1000, cls: 'dns_tunnel', dport: 53, packets: 10 })).length > 0;
  assert.ok(opened, 'TCP flows to port 53 open a dns_tunnel episode');
});
test('DNS NULL tunnel rule: one DNS flow of NULL queries (an idle iodine tunnel\'s polls, read as benign) opens a dns_tunnel episode at its first record with 4; fewer, or other query types, do not', () => {
  const nullFlow = (queries: number, qtype: number, t: number) => {
    const v = verdict({ t, cls: undefined, dport: 53, proto: 17, dnsQueries: queries, packets: 2 * queries });
    (v.row as Float32Array)[featureIndex('dns_qtype')] = qtype;
    return v;
  };
  const idle = new EpisodeTracker({ newId: ids });
  const opened = idle.observe(Object.assign(nullFlow(37, 10, T0), { interim: true }));
  assert.equal(states(opened), ['open:dns_tunnel:src'], 'the interim record of a 37-query NULL flow opens on its own');
  assert.is(opened[0]!.track.actor, '10.0.0.66');
  // a few NULL lookups (dig, one query per socket), and busy flows of ordinary types, stay quiet
  const quiet = new EpisodeTracker({ newId: ids });
  for (let i = 0; i < 20; i++) assert.equal(states(quiet.observe(nullFlow(1, 10, T0 + i * 1000))), [], `one NULL query ${i}`);
  assert.equal(states(quiet.observe(nullFlow(3, 10, T0 + 30_000))), []);
  for (const qtype of [1, 16, 28, 5, 15, 33, 65]) assert.equal(states(quiet.observe(nullFlow(40, qtype, T0 + 40_000 + qtype))), [], `qtype ${qtype}`);
  // the pipeline hands such a flow to the tracker even when the model calls it benign
  assert.ok(ruleCandidate(17, 40000, 53, 37, 2000, 27, 3000, 49_000, nullFlow(37, 10, T0).row, false));
  assert.not.ok(ruleCandidate(17, 40000, 53, 37, 2000, 27, 3000, 49_000, nullFlow(37, 16, T0).row, false));
});

test('a port scan opens after enough distinct targets; updates at most once per second; closes when quiet', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const out: EpisodeChange[] = [];
  let openedAt = -1;
  for (let p = 1; p <= 1000; p++) {
    const cs = tr.observe(verdict({ t: T0 + p * 5, dport: p, cls: 'scan' }));
    if (openedAt < 0 && cs.some((c) => c.state === 'open')) openedAt = p;
    out.push(...cs);
  }
  // evidence ≈ 0.99 per confident probe (decaying slightly): opens at the first probe that passes both
  assert.ok(openedAt >= FAMILIES.scan!.minTargets && openedAt <= FAMILIES.scan!.minTargets + 2, `opened at probe ${openedAt}`);
  const updates = out.filter((c) => c.state === 'update');
  assert.ok(updates.length <= 5 && updates.length >= 4, `${updates.length} updates over 5 s`);
  assert.equal(states(tr.expire(T0 + 5000 + 30_000)).filter((x) => x.startsWith('closed')), [], 'still open within the close delay');
  const closing = tr.expire(T0 + 5000 + 200_000);
  assert.equal(states(closing), ['closed:scan:src']);
  assert.is(closing[0]!.track.ports.size, 1000);
  assert.is(tr.size, 0);
});

test('a connect scan whose probes the model partly reads as a flood is one scan alert: dos from its source does not open while its scan counts more flows on the same victims; a flood beside a scan still opens', () => {
  // nmap -sT against one host: 3 of 4 probes read as scan, 1 of 4 as dos, over 1,000 ports
  const tr = new EpisodeTracker({ newId: ids });
  const out: EpisodeChange[] = [];
  for (let p = 1; p <= 1000; p++) out.push(...tr.observe(verdict({ t: T0 + p * 20, dport: p, cls: p % 4 === 0 ? 'dos' : 'scan' })));
  out.push(...tr.closeAll());
  assert.equal(states(out).filter((x) => x.startsWith('open')), ['open:scan:src']);
  // the same scanner also floods another host (port 80; fewer flows than its scan): a victim the scan never touched, its own alert
  const tr2 = new EpisodeTracker({ newId: ids });
  const out2: EpisodeChange[] = [];
  for (let p = 1; p <= 200; p++) out2.push(...tr2.observe(verdict({ t: T0 + p * 20, dport: p, cls: 'scan' })));
  for (let i = 0; i < 100; i++) out2.push(...tr2.observe(verdict({ t: T0 + 4000 + i, dst: '10.0.0.99', dport: 80, cls: 'dos' })));
  assert.equal(states(out2).filter((x) => x.startsWith('open')), ['open:scan:src', 'open:dos:src']);
  // and a flood of the scanned host itself opens once flows read as a flood outnumber the scan's
  const tr3 = new EpisodeTracker({ newId: ids });
  const out3: EpisodeChange[] = [];
  for (let p = 1; p <= 50; p++) out3.push(...tr3.observe(verdict({ t: T0 + p * 20, dport: p, cls: 'scan' })));
  let dosOpenedAt = -1;
  for (let i = 0; i < 200; i++) {
    const cs = tr3.observe(verdict({ t: T0 + 2000 + i, dport: 80, cls: 'dos' }));
    const opened = cs.find((c) => c.state === 'open' && c.track.family === 'dos');
    if (opened && dosOpenedAt < 0) dosOpenedAt = opened.track.flows;
    out3.push(...cs);
  }
  assert.is(dosOpenedAt, 51, 'opens at the first flood flow past the scan\'s 50');
});

test('ICMP errors are reactions: a scanned host\'s port unreachables (one flow, read as a flood) are no evidence against it; many sources\' errors to one host still count for that host', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const out: EpisodeChange[] = [];
  // the victim 10.0.0.10 answers a UDP scan: one ICMP flow of 1,000 port unreachables (3/3 → key 771), read as dos
  out.push(...tr.observe(verdict({ src: '10.0.0.10', dst: '10.0.0.66', proto: 1, dport: 3 * 256 + 3, t: T0 + 2000, packets: 1000, cls: 'dos' })));
  // the same shape from an echo flow (8 → key 2048) is the sender's own act and opens
  out.push(...tr.observe(verdict({ src: '10.0.0.12', dst: '10.0.0.66', proto: 1, dport: 8 * 256, t: T0 + 2001, packets: 1000, cls: 'dos' })));
  // ICMPv6 time exceeded (3/0) and packet too big (2/0) from one router: nothing against the router
  for (let i = 0; i < 30; i++) out.push(...tr.observe(verdict({ src: 'fe80::1', dst: `2001:db8::${i + 1}`, proto: 58, dport: (2 + (i & 1)) * 256, t: T0 + 3000 + i, cls: 'anomaly' })));
  // errors from 30 routers to one host (backscatter of traffic sent in its name): its dst-role dos evidence counts
  for (let i = 0; i < 30; i++) out.push(...tr.observe(verdict({ src: `192.0.2.${i + 1}`, dst: '10.0.0.77', proto: 1, dport: 11 * 256, t: T0 + 4000 + i, cls: 'dos' })));
  out.push(...tr.closeAll());
  const opened = out.filter((c) => c.state === 'open').map((c) => `${c.track.family}:${c.track.role}:${c.track.actor}`);
  assert.equal(opened.sort(), ['dos:dst:10.0.0.77', 'dos:src:10.0.0.12']);
});

test('an episode update that came too soon is not lost: expire() sends it once its interval passed', () => {
  const tr = new EpisodeTracker({ newId: ids });
  for (let p = 1; p <= 10; p++) tr.observe(verdict({ t: T0 + p, dport: p, cls: 'scan' }));
  assert.is(tr.openEpisodes().length, 1);
  assert.is(tr.observe(verdict({ t: T0 + 100, dport: 99, cls: 'scan' })).length, 0);
  const later = tr.expire(T0 + 2000);
  assert.equal(states(later), ['update:scan:src']);
  assert.is(later[0]!.track.flows, 11);
});

test('memory is bounded: tracks beyond the cap are evicted, open episodes are kept', () => {
  const tr = new EpisodeTracker({ newId: ids, maxTracks: 100 });
  for (let p = 1; p <= 10; p++) tr.observe(verdict({ t: T0 + p, dport: p, cls: 'scan' }));
  assert.is(tr.openEpisodes().length, 1);
  // two flows each: an actor's second flow makes a track (its first is a first sighting)
  for (let i = 0; i < 1000; i++) for (const k of [0, 1]) tr.observe(verdict({ src: `10.9.${i >> 8}.${i & 255}`, t: T0 + 100 + 2 * i + k, cls: 'c2', score: 0.6 }));
  assert.ok(tr.size <= 100);
  assert.is(tr.openEpisodes().length, 1);
  assert.ok(tr.counters.evicted >= 900);
});

test('first sightings: 20,000 spoofed one-flow sources make no track each, the victim\'s episode opens; an actor\'s first flow still counts', () => {
  const tr = new EpisodeTracker({ newId: ids });
  let opened: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const out = tr.observe(verdict({ src: `172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, dst: '10.0.0.10', t: T0 + i, cls: 'dos', dport: 80 }));
    opened = opened.concat(states(out).filter((s) => s.startsWith('open')));
    assert.ok(tr.size <= 2, `tracks after ${i + 1} flows: ${tr.size}`);
  }
  assert.equal(opened, ['open:dos:dst']);
  // bruteforce needs 6 evidence: at 0.99 a flow it opens on the 7th flow — as before first sightings, so the first
  // flow (a sighting) counts; without it, the 8th
  const bf = new EpisodeTracker({ newId: ids });
  const at: string[] = [];
  for (let k = 1; k <= 9; k++) for (const c of bf.observe(verdict({ t: T0 + k * 100, cls: 'bruteforce', dport: 22 }))) at.push(`${c.state}@${k}:${c.track.flows} flows`);
  assert.equal(at.slice(0, 1), ['open@7:7 flows']);
});

function memoryStore(): BaselinePersistence & { endpoints: Map<string, Endpoint>; start?: number } {
  const endpoints = new Map<string, Endpoint>();
  const s = {
    endpoints, start: undefined as number | undefined,
    saveStart(ms: number) { s.start = ms; },
    upsert(e: Endpoint) { endpoints.set(`${e.device}|${e.peer}|${e.port}|${e.proto}`, { ...e }); },
    clear() { endpoints.clear(); s.start = undefined; },
  };
  return s;
}

test('baseline: a beacon learned during the learning period is down-weighted afterwards; a new beacon and a scan still alert', () => {
  const store = memoryStore();
  const baseline = new Baseline({ learnMs: 3_600_000 }, store);
  const tr = new EpisodeTracker({ newId: ids, baseline });
  // learning: a device beacons to its cloud every 60 s for an hour; the model calls it c2 weakly (no episode yet)
  for (let i = 0; i < 60; i++) tr.observe(verdict({ src: '10.0.0.5', dst: '52.1.1.1', dport: 8883, t: T0 + i * 60_000, cls: i % 12 === 0 ? 'c2' : undefined, score: 0.55 }));
  assert.ok(store.endpoints.has('10.0.0.5|52.1.1.1|8883|6'), 'endpoint persisted');
  // afterwards: every beacon is called c2 (weakly); without the baseline this opens within minutes
  const after: EpisodeChange[] = [];
  for (let i = 60; i < 180; i++) after.push(...tr.observe(verdict({ src: '10.0.0.5', dst: '52.1.1.1', dport: 8883, t: T0 + i * 60_000, cls: 'c2', score: 0.6 })));
  assert.equal(after.filter((c) => c.state === 'open'), [], 'usual beacon stays quiet');
  assert.ok(tr.counters.suppressed >= 100);
  // another device starts beaconing to a new endpoint: alerts
  const other: EpisodeChange[] = [];
  for (let i = 0; i < 20; i++) other.push(...tr.observe(verdict({ src: '10.0.0.7', dst: '203.0.113.9', dport: 4444, t: T0 + 3 * 3_600_000 + i * 30_000, cls: 'c2', score: 0.9 })));
  assert.equal(states(other.filter((c) => c.state === 'open')), ['open:c2:src']);
  // the first device scans: alerts (scans are never suppressed)
  const scan: EpisodeChange[] = [];
  for (let p = 1; p <= 50; p++) scan.push(...tr.observe(verdict({ src: '10.0.0.5', dst: '10.0.0.20', dport: p, t: T0 + 4 * 3_600_000 + p, cls: 'scan' })));
  assert.equal(states(scan.filter((c) => c.state === 'open')), ['open:scan:src']);
});

test('baseline: an attacker present while learning is not absorbed, and a slow ramp after learning is not learned', () => {
  const baseline = new Baseline({ learnMs: 3_600_000, driftPerHour: 2 });
  const tr = new EpisodeTracker({ newId: ids, baseline });
  // a confident C2 beacon during the whole learning period: it alerts, and its endpoint is never learned
  let opened = 0;
  for (let i = 0; i < 60; i++) opened += tr.observe(verdict({ src: '10.0.0.8', dst: '198.51.100.7', dport: 443, t: T0 + i * 60_000, cls: 'c2', score: 0.95 })).filter((c) => c.state === 'open').length;
  assert.is(opened, 1);
  assert.is(baseline.endpointCount(), 0);
  tr.closeAll();
  const later: EpisodeChange[] = [];
  for (let i = 0; i < 20; i++) later.push(...tr.observe(verdict({ src: '10.0.0.8', dst: '198.51.100.7', dport: 443, t: T0 + 2 * 3_600_000 + i * 60_000, cls: 'c2', score: 0.95 })));
  assert.equal(states(later.filter((c) => c.state === 'open')), ['open:c2:src'], 'still alerts after learning');
  // after learning, weak-evidence flows are never learned, and benign ones only a few endpoints an hour
  for (let p = 0; p < 50; p++) tr.observe(verdict({ src: '10.0.0.9', dst: `10.0.1.${p}`, dport: 22, t: T0 + 5 * 3_600_000 + p, cls: p % 2 ? 'bruteforce' : undefined, score: 0.55 }));
  assert.is(baseline.endpointCount(), 2, 'bounded drift: 2 new endpoints in that hour');
});

test('baseline persists: a restored baseline keeps its learning start and endpoints', () => {
  const store = memoryStore();
  const b1 = new Baseline({ learnMs: 1000 }, store);
  b1.learn(verdict({ src: '10.0.0.5', dst: '52.1.1.1', dport: 8883, t: T0 }), false);
  const b2 = new Baseline({ learnMs: 1000 }, undefined, { startMs: store.start, endpoints: [...store.endpoints.values()] });
  assert.is(b2.learnStartMs, T0 - 10);
  assert.is(b2.endpointCount(), 1);
  assert.ok(!b2.learning(T0 + 5000));
  assert.ok(b2.factor(verdict({ src: '10.0.0.5', dst: '52.1.1.1', dport: 8883, t: T0 + 5000, cls: 'c2' }), 'c2') < 1);
  assert.is(b2.factor(verdict({ src: '10.0.0.5', dst: '52.1.1.1', dport: 8883, t: T0 + 5000, cls: 'dns_tunnel' }), 'dns_tunnel'), 1);
});

test('a flood that is one flow (ICMP echo, one identifier) opens from its early interim record: packets and rate carry it', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const v = verdict({ t: T0 + 130, cls: 'dos', proto: 1, packets: 128, interim: true });
  (v.row as Float32Array)[featureIndex('bidirectional_packets_per_s')] = 1000;
  assert.equal(states(tr.observe(v)), ['open:dos:src']);
  // the same single flow at a walking pace is no flood
  const slow = new EpisodeTracker({ newId: ids });
  const w = verdict({ t: T0 + 130_000, cls: 'dos', proto: 1, packets: 128, interim: true });
  (w.row as Float32Array)[featureIndex('bidirectional_packets_per_s')] = 1;
  assert.equal(slow.observe(w), []);
});

test('reflection rule: replies without requests from many amplifiers to one address open a dos episode on the victim, whatever the model says', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const reply = (src: string, dst: string, sport: number, t: number, answered = 0): FlowVerdict => {
    const v = verdict({ src, dst, dport: 40000, proto: 17, t });
    v.flow.src_port = sport;
    v.flow.dst2src_packets = answered;
    return v;
  };
  // ordinary traffic that must not count: multicast responses, and replies in the same flow as their request
  const quiet: EpisodeChange[] = [];
  for (let i = 0; i < 200; i++) quiet.push(...tr.observe(reply(`192.168.1.${i % 50}`, '224.0.0.251', 5353, T0 + i)));
  for (let i = 0; i < 200; i++) quiet.push(...tr.observe(reply(`8.8.${i % 4}.8`, '192.168.1.20', 53, T0 + 300 + i, 1)));
  assert.equal(quiet, []);
  const out: EpisodeChange[] = [];
  for (let i = 0; i < 100; i++) out.push(...tr.observe(reply(`203.0.${i >> 4}.${i}`, '10.10.10.10', 4500, T0 + 1000 + i)));
  assert.equal(states(out.filter((c) => c.state === 'open')), ['open:dos:dst']);
  assert.is(out[0]!.track.actor, '10.10.10.10');
});

test('echo flood rule: one ICMP echo flow of 64 requests and 64 replies in 0.13 s (the core\'s early report) opens a dos episode on its source whatever the model says; a long ping at 1/s, or a short fast one, does not', () => {
  const echo = (o: { t: number; requests: number; durationMs: number; proto?: number; dport?: number; pps?: number }): FlowVerdict => {
    const v = verdict({ src: '10.0.0.31', dst: '10.0.0.21', proto: o.proto ?? 1, dport: o.dport ?? 2048, t: o.t, packets: 2 * o.requests, interim: true });
    v.flow.first_seen_ms = o.t - o.durationMs;
    v.flow.src2dst_packets = o.requests;
    v.flow.dst2src_packets = o.requests;
    v.flow.src2dst_bytes = v.flow.dst2src_bytes = 84 * o.requests; // each reply mirrors its request
    (v.row as Float32Array)[featureIndex('bidirectional_packets_per_s')] = o.pps ?? (2000 * o.requests) / Math.max(o.durationMs, 1);
    return v; // alertClass undefined: the model calls it benign
  };
  const quiet = new EpisodeTracker({ newId: ids });
  const calm: EpisodeChange[] = [
    ...quiet.observe(echo({ t: T0 + 600_000, requests: 600, durationMs: 600_000 })), // ping for 10 minutes
    ...quiet.observe(echo({ t: T0 + 700_000, requests: 128, durationMs: 25_600, dport: 2048 })), // ping -i 0.2
    ...quiet.observe(echo({ t: T0 + 800_000, requests: 40, durationMs: 100 })), // a short burst, not a flood
    ...quiet.observe(echo({ t: T0 + 900_000, requests: 500, durationMs: 1000, dport: 771 })), // not echo: port unreachable
  ];
  assert.equal(calm, []);
  for (const [proto, dport] of [[1, 2048], [58, 32768]] as const) {
    const tr = new EpisodeTracker({ newId: ids });
    const opened = tr.observe(echo({ t: T0 + 130, requests: 64, durationMs: 128, proto, dport }));
    assert.equal(states(opened), ['open:dos:src'], `proto ${proto}`);
    assert.is(opened[0]!.track.actor, '10.0.0.31');
  }
  // a slower flood (a loaded sender: 64 requests and replies in 1 s, 128 packets/s) opens as well: the rule's match
  // alone is enough, whatever the rate-based strength says
  const slow = new EpisodeTracker({ newId: ids });
  assert.equal(states(slow.observe(echo({ t: T0 + 1000, requests: 64, durationMs: 1000 }))), ['open:dos:src']);
  // the model calling the flood dos with little confidence (its weight alone below the threshold) must not weigh less
  // than no verdict: the rule raises it (a live flood once raised nothing this way)
  const weak = new EpisodeTracker({ newId: ids });
  const w = Object.assign(echo({ t: T0 + 130, requests: 64, durationMs: 128, pps: 300 }), { alertClass: 'dos', score: 0.51 });
  assert.equal(states(weak.observe(w)), ['open:dos:src']);
  // and it reaches the threshold in force, not only the table's floor
  const strict = new EpisodeTracker({ newId: ids, thresholds: { dos: 45 } });
  assert.equal(states(strict.observe(echo({ t: T0 + 130, requests: 64, durationMs: 128 }))), ['open:dos:src']);
});

test('echo tunnel rule: echo replies that do not mirror their requests (ptunnel-ng: more replies than requests; other tunnels: replies of another size) are a tunnel, whatever the model said; pings with loss or duplicates are not', () => {
  const echo = (o: { requests: number; reqBytes: number; replies: number; repBytes: number; cls?: string; durationMs?: number }): FlowVerdict => {
    const v = verdict({ src: '10.0.0.31', dst: '10.0.0.21', proto: 1, dport: 2048, t: T0 + 10_000, packets: o.requests + o.replies, cls: o.cls });
    v.flow.first_seen_ms = v.flow.last_seen_ms - (o.durationMs ?? 10_000);
    Object.assign(v.flow, { src2dst_packets: o.requests, src2dst_bytes: o.reqBytes, dst2src_packets: o.replies, dst2src_bytes: o.repBytes });
    return v;
  };
  const quiet = new EpisodeTracker({ newId: ids });
  const calm: EpisodeChange[] = [
    ...quiet.observe(echo({ requests: 300, reqBytes: 300 * 84, replies: 240, repBytes: 240 * 84 })), // 20 % lost
    ...quiet.observe(echo({ requests: 100, reqBytes: 100 * 1028, replies: 110, repBytes: 110 * 1028 })), // a few duplicates
    ...quiet.observe(echo({ requests: 40, reqBytes: 20 * 1500 + 20 * 1300, replies: 20, repBytes: 20 * 1300 })), // large ones lost
    ...quiet.observe(echo({ requests: 20, reqBytes: 20 * 1000, replies: 60, repBytes: 60 * 200 })), // too few requests to judge
    ...quiet.observe(echo({ requests: 200, reqBytes: 200 * 84, replies: 203, repBytes: 203 * 84 })), // 3 duplicates in 200: under 3 %
  ];
  assert.equal(calm, []);
  // ptunnel-ng, the real tool, with the peer's kernel still answering: 199 requests, 300 replies of about the same size;
  // the model read the flow as exfil: the rule's tunnel replaces that
  const pt = new EpisodeTracker({ newId: ids });
  const opened = pt.observe(echo({ requests: 199, reqBytes: 211_146, replies: 300, repBytes: 316_802, cls: 'exfil' }));
  assert.equal(states(opened), ['open:tunnel:src']);
  // a ptunnel-ng session used for an upload (the lab's runs): 5 replies more than its 88 requests, more bytes back
  const up = new EpisodeTracker({ newId: ids });
  assert.equal(states(up.observe(echo({ requests: 88, reqBytes: 90_038, replies: 93, repBytes: 90_492, cls: 'dos' }))), ['open:tunnel:src']);
  // a tunnel whose replies carry the tunnel's own data: as many replies, another size (also with a calibrated threshold)
  const sized = new EpisodeTracker({ newId: ids, thresholds: { tunnel: 9 } });
  assert.equal(states(sized.observe(echo({ requests: 40, reqBytes: 40 * 565, replies: 40, repBytes: 40 * 690 }))), ['open:tunnel:src']);
  // not a flood: 64 requests in 0.13 s whose replies outnumber them go to the tunnel rule, not the flood rule
  const fast = new EpisodeTracker({ newId: ids });
  assert.equal(states(fast.observe(echo({ requests: 64, reqBytes: 64 * 1064, replies: 90, repBytes: 90 * 1064, durationMs: 130 }))), ['open:tunnel:src']);
});

test('new thresholds (a model update) apply to tracks still below them, not to open episodes', () => {
  const tr = new EpisodeTracker({ newId: ids, thresholds: { bruteforce: 100 } });
  const brute = (i: number, src = '10.0.0.66') => verdict({ src, dport: 22, t: T0 + i * 10, cls: 'bruteforce' });
  const before: EpisodeChange[] = [];
  for (let i = 0; i < 8; i++) before.push(...tr.observe(brute(i)));
  assert.equal(before, [], 'under the old threshold (100) eight flows open nothing');
  tr.setThresholds({ bruteforce: 7 });
  assert.equal(states(tr.observe(brute(8))), ['open:bruteforce:src'], 'the same track opens under the new one');
  const open = tr.openEpisodes()[0]!;
  tr.setThresholds({ bruteforce: 50 });
  assert.is(open.threshold, 7, 'an open episode keeps the threshold it opened with');
  assert.is(tr.thresholdOf('bruteforce'), 50);
});

test('a verdict object reused for the next flow (as the sensor does) changes nothing a track kept', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const v = verdict({ src: '10.0.0.66', dst: '10.0.0.10', dport: 22, t: T0, cls: 'bruteforce' });
  const opened: EpisodeChange[] = [];
  for (let i = 0; i < 8; i++) {
    // the pipeline overwrites one object in place, row after row
    v.flow.dst_port = 22; v.flow.first_seen_ms = T0 + i * 10; v.flow.last_seen_ms = T0 + i * 10 + 5;
    opened.push(...tr.observe(v));
  }
  assert.equal(states(opened), ['open:bruteforce:src']);
  const kept = opened[0]!.track;
  const before = JSON.stringify(kept.rep.flow);
  v.flow.src_ip = '192.0.2.1'; v.flow.dst_port = 9999; v.flow.last_seen_ms = 0;
  (v.row as Float32Array).fill(7);
  assert.is(JSON.stringify(kept.rep.flow), before);
  assert.is(kept.rep.flow.src_ip, '10.0.0.66');
  assert.ok(kept.rep.row[0] !== 7, 'the row is a copy');
  assert.is(kept.actor, '10.0.0.66');
});

test.run();
