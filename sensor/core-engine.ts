/**
 * The pipeline's FlowEngine over the WASM flow core. This file knows nothing of the ABI: sensor/core.ts
 * (FlowCore) is the one host of build/netsensor.wasm. Here its batches — views into the core's memory, valid
 * only during the callback — are copied into JS-owned rows, so the core's output area can be reused at once.
 */
import type { SensorConfig } from './config.js';
import { FlowCore, type FlowBatch } from './core.js';
import type { SensorCounters } from './metrics.js';
import type { FlowEngine, FlowRows } from './pipeline.js';

/** Rows per drain of the core: one inference batch at the default detect.batchRows (1024). */
const MAX_OUT_ROWS = 1024;

/**
 * The features are copied (the core reuses its output area); the key objects the host built for this batch
 * are kept as they are — renamed to wire names only for the few rows that become events (pipeline.ts).
 */
function copyRows(b: FlowBatch): FlowRows {
  return { count: b.rows, features: b.features.slice(), keys: b.keys };
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
