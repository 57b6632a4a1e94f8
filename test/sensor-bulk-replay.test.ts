/**
 * A fast replay hands a classic pcap to the flow core in bulk (FlowCore.pcapRecords). On real captures it must give
 * exactly what the per-packet path gives: the same flow rows in the same order, the same risk events and the same
 * local observations — with small read buffers, so chunk boundaries, back-pressure and batch splits are exercised.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readCapture } from '../core/capture/reader.ts';
import type { PcapBulkSink } from '../core/capture/stats.ts';
import { createLogger } from '../common/log.ts';
import { EpisodeTracker } from '../detection/episodes.ts';
import { episodeThresholds } from '../detection/families.ts';
import type { FlowVerdict } from '../detection/evidence.ts';
import { loadModel, type DetectionModel } from '../inference/model.ts';
import type { RiskEvent } from '../protocol/event.ts';
import { defaults, type SensorConfig } from '../sensor/config.ts';
import { createFlowEngine } from '../sensor/flow-engine.ts';
import { newCounters } from '../sensor/metrics.ts';
import { Pipeline, replaySource, type FlowEngine } from '../sensor/pipeline.ts';
import { sharedPcap } from './helpers/tools.ts';

interface Replay { events: unknown[]; observations: unknown[]; rows: string; flows: number; packets: number; bulkPackets: number }

/** Event fields that do not depend on wall-clock time or randomness (the event's and the episode's id and ts do). */
function stable(e: RiskEvent): unknown {
  const { id: _id, ts: _ts, ...rest } = e as RiskEvent & { id: unknown; ts: unknown };
  if (rest.episode) {
    const { id: _eid, ...episode } = rest.episode;
    return { ...rest, episode };
  }
  return rest;
}

function copyVerdict(v: FlowVerdict): unknown {
  return { ...v, flow: { ...v.flow }, row: Array.from(v.row), top: v.top.map((t) => [...t]) };
}

async function replay(capture: string, model: DetectionModel, bulk: boolean): Promise<Replay> {
  const cfg: SensorConfig = structuredClone(defaults);
  cfg.detect.anomalyThreshold = 0; // every flow is evidence: the per-row path runs for every row
  const engine = await createFlowEngine(cfg.core);
  const rowDigest = createHash('sha256');
  let bulkPackets = 0;
  let take = engine.take.bind(engine);
  const counted: PcapBulkSink = {
    pcapRecords(buf, start, end, bigEndian, nanos, linktype, taken) {
      const before = taken.packets;
      const stop = engine.bulk!.pcapRecords(buf, start, end, bigEndian, nanos, linktype, taken);
      bulkPackets += taken.packets - before;
      return stop;
    },
  };
  const tapped: FlowEngine = {
    ...engine,
    bulk: bulk ? counted : undefined,
    take() {
      const rows = take();
      if (rows) { rowDigest.update(rows.keyBytes); rowDigest.update(new Uint8Array(rows.features.buffer, rows.features.byteOffset, rows.features.byteLength)); }
      return rows;
    },
  };
  const observations: unknown[] = [];
  const tracker = new EpisodeTracker({
    thresholds: episodeThresholds(model.metadata), updateIntervalMs: cfg.detect.updateIntervalMs,
    onObservation: (v) => observations.push(copyVerdict(v)),
  });
  const events: unknown[] = [];
  const counters = newCounters();
  const pipeline = new Pipeline({
    cfg, engine: tapped, model, counters, log: createLogger('silent'), tracker,
    delivery: { commit: (batch) => { for (const e of batch) events.push(stable(e)); } },
  });
  let packets = 0;
  await pipeline.run(replaySource(capture, 'fast', async (p, sink, o) => {
    const s = await readCapture(p, sink, { ...o, bufferBytes: 64 << 10 });
    packets = s.packets;
  }, pipeline), 'replay');
  take = () => undefined;
  return { events, observations, rows: rowDigest.digest('hex'), flows: counters.flows, packets, bulkPackets };
}

const CAPTURES = [
  'ndpi/synscan.pcap', // a port scan: episodes and events
  'StopDDoS-packet-captures/pkt.TCP.synflood.spoofed.pcap', // a spoofed SYN flood, 37.8k packets
  'chrissanders-packets/ppa1e/portscan.pcap',
];

let model: DetectionModel;
test.before(async () => { model = await loadModel(); });
test.after(async () => { await model.close(); });

for (const rel of CAPTURES) {
  test(`bulk replay of ${rel} gives the per-packet replay's rows, events and observations`, async () => {
    const capture = sharedPcap(rel);
    const perPacket = await replay(capture, model, false);
    const bulk = await replay(capture, model, true);
    assert.is(perPacket.bulkPackets, 0);
    assert.ok(bulk.packets > 0);
    assert.is(bulk.bulkPackets, bulk.packets, 'every packet went through the bulk path');
    assert.is(bulk.packets, perPacket.packets);
    assert.is(bulk.flows, perPacket.flows);
    assert.ok(perPacket.flows > 0);
    assert.is(bulk.rows, perPacket.rows, 'flow rows (keys and features) identical, in order');
    assert.ok(perPacket.events.length + perPacket.observations.length > 0, 'the capture gives something to compare');
    assert.equal(bulk.events, perPacket.events);
    assert.equal(bulk.observations, perPacket.observations);
  });
}

test('a bulk replay with events: the scan capture publishes at least one episode', async () => {
  const r = await replay(sharedPcap('ndpi/synscan.pcap'), model, true);
  assert.ok(r.events.length > 0, `events: ${r.events.length}`);
});

test.run();
