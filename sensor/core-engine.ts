/**
 * The pipeline's FlowEngine over the WASM flow core. This file knows nothing of the ABI: sensor/core.ts
 * (FlowCore) is the one host of build/netsensor.wasm. Here its batches — views into the core's memory, valid
 * only during the callback — are copied into JS-owned rows, and its flow keys renamed to the wire names of
 * protocol/event.ts, so the core's output area can be reused at once.
 */
import type { SensorConfig } from './config.js';
import { FlowCore, type FlowBatch } from './core.js';
import type { SensorCounters } from './metrics.js';
import type { FlowEngine, FlowRows } from './pipeline.js';

/** Rows per drain: a few inference batches (detect.batchRows defaults to 256). */
const MAX_OUT_ROWS = 1024;

function copyRows(b: FlowBatch): FlowRows {
  const keys: FlowRows['keys'] = new Array(b.rows);
  for (let r = 0; r < b.rows; r++) {
    const k = b.keys[r]!;
    keys[r] = {
      src_ip: k.src_ip,
      dst_ip: k.dst_ip,
      src_port: k.src_port,
      dst_port: k.dst_port,
      proto: k.protocol,
      end_reason: k.end_reason,
      interim: k.interim,
      vlan: k.vlan_id & 0x0fff,
      first_seen_ms: k.first_seen_ms,
      last_seen_ms: k.last_seen_ms,
      src2dst_packets: k.src2dst_packets,
      src2dst_bytes: k.src2dst_bytes,
      dst2src_packets: k.dst2src_packets,
      dst2src_bytes: k.dst2src_bytes,
    };
  }
  return { count: b.rows, features: b.features.slice(), keys };
}

export async function createFlowEngine(core: SensorConfig['core'], _counters?: SensorCounters, wasmPath?: string): Promise<FlowEngine> {
  const fc = await FlowCore.load({
    maxFlows: core.maxFlows,
    maxHosts: core.maxHosts,
    maxOut: MAX_OUT_ROWS,
    settings: { unansweredS: core.unansweredS, interimS: core.interimS },
    wasmPath,
  });
  const out: FlowRows[] = [];
  fc.onBatch((b) => { if (b.rows > 0) out.push(copyRows(b)); });
  return {
    packet: fc.push,
    advance(nowMs) { fc.advance(nowMs); },
    flush(reason) { fc.flush(reason); },
    take() {
      if (out.length === 0) fc.sync();
      return out.shift();
    },
    counters() {
      const s = fc.stats();
      return { packets: s.packets, bytes: s.bytes, activeFlows: s.flowsActive, events: fc.events() };
    },
  };
}
