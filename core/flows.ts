/**
 * A capture file → flow rows: the one offline stream (`flows()`), used by `netsensor flows` (streamed to a writer,
 * with back-pressure) and by `captureFlows()` — all finished flows (optionally interim records too) as one feature
 * matrix plus keys, for `netsensor detect`, `netsensor model eval` and the datasets' builders. (The live sensor drives the core from
 * its pipeline instead: sensor/flow-engine.ts.)
 */
import { readCapture, type CaptureStats, type ReadOptions } from './capture/reader.js';
import { FlowCore, type CoreOptions, type FlowBatch, type KeyRecord } from './host.js';

export interface FlowStreamOptions {
  /** Awaited between the reader's chunks, after the core has emitted their rows (back-pressure, early stop). */
  afterChunk?: () => Promise<void>;
  stdin?: ReadOptions['stdin'];
}

/** Streams every flow row of a capture into `onBatch` (views valid only during the call), ending with end_of_input. */
export async function flows(path: string, core: FlowCore, onBatch: (b: FlowBatch) => void, opts: FlowStreamOptions = {}): Promise<CaptureStats> {
  core.onBatch(onBatch);
  const stats = await readCapture(path, core.push, {
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
    bulk: core,
    afterChunk: async () => {
      core.sync();
      await opts.afterChunk?.();
    },
  });
  core.flush('end_of_input');
  return stats;
}
import { NUM_FEATURES } from './schema.js';

export interface CaptureFlows {
  keys: KeyRecord[];
  /** rows × NUM_FEATURES, row-major, schema order. */
  features: Float32Array;
  capture: CaptureStats;
}

export interface CaptureFlowsOptions extends CoreOptions {
  /** Called after each chunk read with the packets read and rows kept so far (progress). */
  onChunk?: (packets: number, flows: number) => void;
  /** Keep interim records too (each key says which); they exist only with `settings.interimS` > 0. */
  interim?: boolean;
}

export async function captureFlows(path: string, opts: CaptureFlowsOptions = {}): Promise<CaptureFlows> {
  const core = await FlowCore.load(opts);
  const keys: KeyRecord[] = [];
  const chunks: Float32Array[] = [];
  const capture = await flows(path, core, (batch) => {
    const keep: number[] = [];
    batch.keys.forEach((k, i) => { if (opts.interim || !k.interim) keep.push(i); });
    if (keep.length === batch.rows) {
      chunks.push(batch.features.slice(0, batch.rows * NUM_FEATURES));
      keys.push(...batch.keys);
      return;
    }
    const f = new Float32Array(keep.length * NUM_FEATURES);
    keep.forEach((i, j) => f.set(batch.features.subarray(i * NUM_FEATURES, (i + 1) * NUM_FEATURES), j * NUM_FEATURES));
    chunks.push(f);
    for (const i of keep) keys.push(batch.keys[i]!);
  }, opts.onChunk ? { afterChunk: async () => opts.onChunk!(core.stats().packets, keys.length) } : {});
  const features = new Float32Array(keys.length * NUM_FEATURES);
  let off = 0;
  for (const c of chunks) { features.set(c, off); off += c.length; }
  return { keys, features, capture };
}
