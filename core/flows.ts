/**
 * All finished flows of a capture file as one feature matrix plus keys: the offline path shared by
 * `netsensor detect`, `netsensor model eval` and the lab's dataset builder. Interim records (a long flow
 * reported while still open) are skipped: the flow's final record carries the same flow, complete.
 */
import { readCapture, type CaptureStats } from './capture/reader.js';
import { FlowCore, type CoreOptions, type KeyRecord } from './host.js';
import { NUM_FEATURES } from './schema.js';

export interface CaptureFlows {
  keys: KeyRecord[];
  /** rows × NUM_FEATURES, row-major, schema order. */
  features: Float32Array;
  capture: CaptureStats;
}

export async function captureFlows(path: string, opts: CoreOptions = {}): Promise<CaptureFlows> {
  const core = await FlowCore.load(opts);
  const keys: KeyRecord[] = [];
  const chunks: Float32Array[] = [];
  core.onBatch((batch) => {
    const keep: number[] = [];
    batch.keys.forEach((k, i) => { if (!k.interim) keep.push(i); });
    if (keep.length === batch.rows) {
      chunks.push(batch.features.slice(0, batch.rows * NUM_FEATURES));
      keys.push(...batch.keys);
      return;
    }
    const f = new Float32Array(keep.length * NUM_FEATURES);
    keep.forEach((i, j) => f.set(batch.features.subarray(i * NUM_FEATURES, (i + 1) * NUM_FEATURES), j * NUM_FEATURES));
    chunks.push(f);
    for (const i of keep) keys.push(batch.keys[i]!);
  });
  const capture = await readCapture(path, core.push);
  core.flush('end_of_input');
  const features = new Float32Array(keys.length * NUM_FEATURES);
  let off = 0;
  for (const c of chunks) { features.set(c, off); off += c.length; }
  return { keys, features, capture };
}
