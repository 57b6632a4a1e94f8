/**
 * Crash-safe storage of OTA models on the sensor. Layout of the state directory:
 *   model-<seq>.onnx       payload, exactly the bytes whose sha256 the signed manifest names
 *   model-<seq>.manifest   the signed envelope it came with (re-checked against the payload at start-up)
 *   state.json             { current, previous, highest_seq, trusted keys } — THE commit point
 * Every file is written as <name>.tmp, fsynced, renamed, then the directory is fsynced. A model becomes current
 * only when state.json is renamed into place, so a crash at any instant leaves either the old or the new state,
 * never a half-written model that is referenced. Files that no state references are removed at start-up.
 */
import { constants } from 'node:fs';
import { access, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs } from '../common/dirs.js';
import { NetsensorError } from '../common/errors.js';

export interface OtaState {
  v: 1;
  current: number | null;
  previous: number | null;
  /** Highest sequence number ever applied: anti-rollback floor, never lowered. */
  highest_seq: number;
  rotation_version: number;
  /** Trusted signing keys, raw 32 bytes in base64 (pinned keys plus accepted rotations). */
  trusted_keys: string[];
}

export interface StoredModel {
  seq: number;
  envelope: Uint8Array;
  payload: Uint8Array;
}

const STATE = 'state.json';
const modelFile = (seq: number) => `model-${seq}.onnx`;
const manifestFile = (seq: number) => `model-${seq}.manifest`;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeDurable(dir: string, name: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await fsyncDir(dir);
}

export class OtaStore {
  constructor(readonly dir: string) {}

  /** Creates the directory; one that cannot be created or written is a configuration error, found at start-up. */
  async init(): Promise<void> {
    try {
      makeDirs(this.dir, 0o700);
      await access(this.dir, constants.W_OK | constants.X_OK); // an update must be storable when it arrives
    } catch (e) {
      throw new NetsensorError('ERR_CONFIG', `ota.stateDir ${this.dir} is not a writable directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
  }

  async readState(): Promise<OtaState | null> {
    let text: string;
    try {
      text = await readFile(join(this.dir, STATE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const s = JSON.parse(text) as OtaState;
    if (s.v !== 1 || !Number.isSafeInteger(s.highest_seq) || !Array.isArray(s.trusted_keys)) throw new Error('state.json has an unknown shape');
    return s;
  }

  /** Writes the files of a model; it is not referenced (and so not used) until `commit`. */
  async writeModel(seq: number, envelope: Uint8Array, payload: Uint8Array): Promise<void> {
    await writeDurable(this.dir, modelFile(seq), payload);
    await writeDurable(this.dir, manifestFile(seq), envelope);
  }

  /** The atomic switch. */
  async commit(state: OtaState): Promise<void> {
    await writeDurable(this.dir, STATE, JSON.stringify(state, null, 1) + '\n');
  }

  async readModel(seq: number): Promise<StoredModel | null> {
    try {
      const [payload, envelope] = await Promise.all([readFile(join(this.dir, modelFile(seq))), readFile(join(this.dir, manifestFile(seq)))]);
      return { seq, payload: new Uint8Array(payload), envelope: new Uint8Array(envelope) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Removes temporary files and models other than `keep` (left behind by a crash or superseded). */
  async prune(keep: Array<number | null>): Promise<string[]> {
    const wanted = new Set(keep.filter((k): k is number => k !== null).flatMap((s) => [modelFile(s), manifestFile(s)]));
    const removed: string[] = [];
    for (const name of await readdir(this.dir)) {
      if (name === STATE) continue;
      if (name.endsWith('.tmp') || (/^model-\d+\.(onnx|manifest)$/.test(name) && !wanted.has(name))) {
        await rm(join(this.dir, name), { force: true });
        removed.push(name);
      }
    }
    return removed;
  }
}
