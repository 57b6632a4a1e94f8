/**
 * The pipeline's FlowEngine over the WASM flow core. This file knows nothing of the ABI: core/host.ts
 * (FlowCore) is the one host of build/netsensor.wasm. Here its batches — views into the core's memory, valid
 * only during the callback — are copied into JS-owned rows, so the core's output area can be reused at once.
 */
import type { SensorConfig } from './config.js';
import { FlowCore, type CoreSettings, type FlowBatch } from '../core/host.js';
import type { SensorCounters } from './metrics.js';
import type { FlowEngine, FlowRows } from './pipeline.js';

/** Rows per drain of the core: one inference batch at the default detect.batchRows (1024). */
const MAX_OUT_ROWS = 1024;

/**
 * Rows a flush hands over before it pauses (flush() returns true; call it again once they are scored). The
 * host's FlowCore.flush() ends every live flow in one call; stopping it from the batch callback after this
 * many rows keeps a replay's end or a shutdown with 100k live flows from holding them all in JS at once
 * (≈ 0.7 kB per row). The core's flush is resumable: the next call emits the flows still live.
 */
const FLUSH_CHUNK_ROWS = 8192;

/** Thrown from the batch callback to pause a flush (never escapes this file). */
const PAUSE_FLUSH = Symbol('pause flush');

/**
 * The features and the key records are copied as bytes (the core reuses its output area): no key object is
 * built here; the pipeline reads the records in place and makes strings only for the rows it keeps (key-rows.ts).
 */
function copyRows(b: FlowBatch): FlowRows {
  return { count: b.rows, features: b.features.slice(), keyBytes: b.keyBytes.slice() };
}

/** The core timeouts a sensor sets from its configuration (the rest stay the core's defaults). */
export const coreSettings = (core: SensorConfig['core']): CoreSettings => ({
  unansweredS: core.unansweredS, interimS: core.interimS, loneFlowsPerS: core.loneFlowsPerS,
});

/**
 * The core settings a sensor runs with: per-flow events (`detect.publish: flows`, diagnostics) are one event per
 * alerting flow, so nothing is folded then.
 */
export const sensorCore = (cfg: SensorConfig): SensorConfig['core'] =>
  (cfg.detect.publish === 'flows' ? { ...cfg.core, loneFlowsPerS: 0 } : cfg.core);

export async function createFlowEngine(core: SensorConfig['core'], _counters?: SensorCounters, wasmPath?: string): Promise<FlowEngine> {
  const fc = await FlowCore.load({
    maxFlows: core.maxFlows,
    maxHosts: core.maxHosts,
    maxOut: MAX_OUT_ROWS,
    settings: coreSettings(core),
    wasmPath,
  });
  const out: FlowRows[] = [];
  let outRows = 0;
  let flushing = false;
  fc.onBatch((b) => {
    if (b.rows > 0) { out.push(copyRows(b)); outRows += b.rows; }
    if (flushing && outRows >= FLUSH_CHUNK_ROWS) throw PAUSE_FLUSH;
  });
  return {
    packet: fc.push,
    bulk: fc,
    advance(nowMs) { fc.advance(nowMs); },
    flush(reason) {
      fc.sync(); // packets still in the ring are processed first, never interrupted by a pause
      flushing = true;
      try {
        fc.flush(reason);
        return false;
      } catch (e) {
        if (e === PAUSE_FLUSH) return true;
        throw e;
      } finally {
        flushing = false;
      }
    },
    take() {
      if (out.length === 0) fc.sync();
      const rows = out.shift();
      if (rows) outRows -= rows.count;
      return rows;
    },
    counters() {
      const s = fc.stats();
      return { packets: s.packets, bytes: s.bytes, activeFlows: s.flowsActive, events: fc.counters() };
    },
  };
}
