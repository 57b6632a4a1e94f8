/** Shared pieces of the OTA tests: keys, releases, receivers in temporary state directories. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { generateSigningKey } from '../../common/keys.ts';
import { createLogger } from '../../common/log.ts';
import { buildRelease, type Release, type ReleaseOptions } from '../../cli/commands/model/publish.ts';
import { describePayload, encodeEnvelope, signManifest, type Manifest } from '../../protocol/manifest.ts';
import { OtaReceiver, type ActiveModel, type OtaReceiverOptions } from '../../sensor/ota.ts';
import { ortModelLoader } from '../../inference/load.ts';
import { buildTestModel } from './ota-model.ts';

export const quietLog = createLogger(process.env.NETSENSOR_LOG_LEVEL ?? 'silent');

export function tempDir(prefix = 'netsensor-ota-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function release(payload: Uint8Array, key: KeyObject, o: Partial<ReleaseOptions> = {}): Promise<Release> {
  return buildRelease(payload, { channel: 'stable', privateKey: key, loader: ortModelLoader, modelId: `m${o.seq ?? 1}`, ...o });
}

/** Re-signs `m` (after edits) with `key`: an honest signature over a manifest with the given contents. */
export function resign(m: Manifest, key: KeyObject, payload?: Uint8Array): Uint8Array {
  const edited: Manifest = payload ? { ...m, payload: describePayload(payload, m.payload.chunk_size) } : m;
  return encodeEnvelope(signManifest(edited, key));
}

export interface ReceiverHandle {
  rx: OtaReceiver;
  applied: ActiveModel[];
  dir: string;
}

export async function openReceiver(dir: string, pinned: KeyObject[], o: Partial<OtaReceiverOptions> = {}): Promise<ReceiverHandle> {
  const applied: ActiveModel[] = [];
  const rx = await OtaReceiver.open({
    sensorId: 's1', channel: 'stable', stateDir: dir, pinnedKeys: pinned, loader: ortModelLoader,
    onApply: (a) => { applied.push(a); }, log: quietLog, ...o,
  });
  return { rx, applied, dir };
}

export const keys = () => generateSigningKey();
export { buildTestModel };
