/**
 * The flow records a sensor scores, read from a capture: the sensor's default core timeouts (a shorter unanswered
 * timeout than the core's own default) and its interim records — the early record of a flow at 128 packets and one
 * every `core.interimS` while it goes on. The datasets are built from these, so the model is trained and calibrated
 * on what it will be asked to score, early records of long flows included.
 */
import { captureFlows, type CaptureFlows } from '../../core/flows.js';
import type { KeyRecord } from '../../core/host.js';
import { defaults } from '../../sensor/config.js';
import { coreSettings } from '../../sensor/flow-engine.js';
import type { FlowRecordKind } from './dataset.js';

export function sensorRecords(path: string): Promise<CaptureFlows> {
  // one row per flow: folding a flood's lone flows (core.loneFlowsPerS) is how a sensor saves scoring them, not data
  return captureFlows(path, { settings: { ...coreSettings(defaults.core), loneFlowsPerS: 0 }, interim: true });
}

export const recordKind = (k: KeyRecord): FlowRecordKind => (k.interim ? 'interim' : 'final');
