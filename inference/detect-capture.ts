/**
 * Scores every finished flow of a capture file with a detection model: the engine behind `netsensor detect`
 * and the public-capture evaluation. Flows are scored in batches (one ONNX run per batch).
 */
import { NUM_FEATURES } from '../core/schema.js';
import type { KeyRecord } from '../core/host.js';
import { captureFlows } from '../core/flows.js';
import type { DetectionModel, RowScore, ScoreOptions } from './model.js';

export interface ScoredFlow { key: KeyRecord; score: RowScore; }

export interface CaptureDetection {
  flows: number;
  packets: number;
  alerts: ScoredFlow[];
  byClass: Record<string, number>;
  /** Every flow's score (only with `keepAll`). */
  all?: ScoredFlow[];
  /** The capture was cut off (scored up to the cut); `warnings` say where. */
  truncated: boolean;
  warnings: string[];
}

export async function detectCapture(path: string, model: DetectionModel,
  opts: ScoreOptions & { keepAll?: boolean; batch?: number; onChunk?: (packets: number, flows: number) => void } = {}): Promise<CaptureDetection> {
  const flows = await captureFlows(path, { onChunk: opts.onChunk });
  const rows = flows.keys.length;
  const batch = opts.batch ?? 4096;
  const alerts: ScoredFlow[] = [];
  const all: ScoredFlow[] = [];
  const byClass: Record<string, number> = {};
  for (let s = 0; s < rows; s += batch) {
    const n = Math.min(batch, rows - s);
    const scores = await model.score(flows.features.subarray(s * NUM_FEATURES, (s + n) * NUM_FEATURES), n, opts);
    scores.forEach((sc, i) => {
      const item = { key: flows.keys[s + i]!, score: sc };
      if (sc.alert) {
        alerts.push(item);
        byClass[sc.alertClass!] = (byClass[sc.alertClass!] ?? 0) + 1;
      }
      if (opts.keepAll) all.push(item);
    });
  }
  return {
    flows: rows, packets: flows.capture.packets, alerts, byClass, all: opts.keepAll ? all : undefined,
    truncated: flows.capture.truncated, warnings: flows.capture.warnings,
  };
}
