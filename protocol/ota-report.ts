/**
 * The OTA side messages (JSON): a sensor's report about a model update, and the gateway's retained rollout record
 * that admits sensors to a staged update. Manifests and chunks are in manifest.ts.
 */
import type { OtaRejectReason } from './manifest.js';

export type OtaReportState = 'current' | 'applied' | 'rejected';

/** Sensor → gateway, JSON on netsensor/v1/sensors/<id>/ota. */
export interface OtaReport {
  v: 1;
  sensor: string;
  channel: string;
  ts: number;
  state: OtaReportState;
  /** The update this report is about (absent for `current`). */
  seq?: number;
  model_id?: string;
  reason?: OtaRejectReason;
  message?: string;
  /** What the sensor runs after this report. */
  current: { model_id: string; seq: number } | null;
}

/** Gateway → sensors, JSON retained on netsensor/v1/models/<channel>/rollout. */
export interface RolloutRecord {
  v: 1;
  seq: number;
  model_id: string;
  state: 'staged' | 'complete' | 'halted';
  /** Sensors admitted to apply `seq` while `staged`; everyone may once `complete`. */
  admitted: string[];
}
