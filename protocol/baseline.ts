/**
 * The site baseline on the wire (JSON): a sensor's inventory of what it learned as normal, retained on
 * netsensor/v1/sensors/<id>/baseline, and the gateway's command to forget it, on .../baseline/reset.
 * The learning itself is detection/baseline.ts.
 */

export const BASELINE_DEVICES_CAP = 256;

/** One device of the inventory: how many endpoints it usually talks to, and the most used peers and ports. */
export interface DeviceSummary {
  device: string;
  endpoints: number;
  flows: number;
  peers: string[];
  ports: number[];
  firstMs: number;
  lastMs: number;
}

export interface BaselineReport {
  v: 1;
  sensor: string;
  /** Wall-clock time of the report. */
  ts: number;
  /** Still learning (capture clock) — evidence is not down-weighted yet. */
  learning: boolean;
  learn_started_ms: number | null;
  learn_until_ms: number | null;
  endpoints: number;
  /** Evidence items down-weighted because they matched the baseline, and flows refused for learning (near an alert). */
  suppressed: number;
  refused: number;
  devices: DeviceSummary[];
}

export interface BaselineReset {
  v: 1;
  /** Who asked (for the sensor's log). */
  by: string;
  ts: number;
}

const IP = /^[0-9a-fA-F:.]{2,45}$/;
const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e12;
const time = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 4_102_444_800_000);

/** Parses a baseline report received for `sensorId`; throws an Error naming what is wrong. */
export function parseBaselineReport(payload: Uint8Array | string, sensorId: string): BaselineReport {
  let r: Record<string, unknown>;
  try { r = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')) as Record<string, unknown>; } catch {
    throw new Error('baseline report is not JSON');
  }
  if (typeof r !== 'object' || r === null || r.v !== 1) throw new Error('baseline report: unknown version');
  if (r.sensor !== sensorId) throw new Error('baseline report: sensor differs from topic');
  if (!time(r.ts) || !time(r.learn_started_ms) || !time(r.learn_until_ms)) throw new Error('baseline report: bad time');
  if (typeof r.learning !== 'boolean' || !count(r.endpoints) || !count(r.suppressed) || !count(r.refused)) throw new Error('baseline report: bad counters');
  if (!Array.isArray(r.devices) || r.devices.length > BASELINE_DEVICES_CAP) throw new Error('baseline report: bad device list');
  for (const d of r.devices as Array<Record<string, unknown>>) {
    if (typeof d !== 'object' || d === null || typeof d.device !== 'string' || !IP.test(d.device) || !count(d.endpoints) || !count(d.flows)
      || !Array.isArray(d.peers) || d.peers.length > 16 || !d.peers.every((p) => typeof p === 'string' && IP.test(p))
      || !Array.isArray(d.ports) || d.ports.length > 16 || !d.ports.every((p) => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535)) {
      throw new Error('baseline report: bad device entry');
    }
  }
  return r as unknown as BaselineReport;
}
