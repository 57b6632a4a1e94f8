/**
 * OTA model update receiver (docs/ota.md). A sensor must never run a model that is forged, stale, incompatible or
 * broken, so an update goes through, in this order, stopping at the first failure with a specific reason:
 *   1. envelope: signature by a pinned (or properly rotated-in) key over the canonical signed bytes, then the
 *      manifest's shape, channel and expiry (protocol/manifest.ts);
 *   2. policy: sequence number above the persisted one (anti-rollback), feature schema id, minimum sensor version,
 *      rollout targets;
 *   3. payload: every chunk's sha256 as it arrives, then size and sha256 of the whole;
 *   4. staging: a fresh onnxruntime session (never the live one), class names and schema metadata, then the
 *      signed self-test vectors (classes must agree, probabilities within the signed tolerance);
 *   5. persist atomically (ota-store.ts), then hand the model to `onApply` — the pipeline swaps it in between two
 *      batches — and release the old session.
 * Any failure leaves the running model untouched and is reported as `rejected` with its reason on
 * netsensor/v1/sensors/<id>/ota — also a manifest with the running model's seq but other content
 * (`sequence_conflict`), and a download that stops getting chunks for `chunkTimeoutMs` (`download_timeout`).
 */
import type { KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { NetsensorError } from '../common/errors.js';
import { keyId, parsePublicKey, publicKeyFromRaw, rawPublicKey } from '../common/keys.js';
import { log as rootLog, type Logger } from '../common/log.js';
import { packageVersion } from '../common/version.js';
import { NUM_FEATURES, SCHEMA_ID } from '../core/schema.js';
import {
  OtaRejected, bytesToRow, cborDecode, checkChunk, checkPayload, compareVersions, decodeEnvelope, equalBytes, verifyEnvelope,
  type Manifest, type OtaRejectReason, type TrustedKeys, type VerifiedManifest,
} from '../protocol/manifest.js';
import type { OtaReport, OtaReportState, RolloutRecord } from '../protocol/ota-report.js';
import { topics } from '../protocol/topics.js';
import type { LoadedModel, ModelLoader } from '../inference/load.js';
import { OtaStore, type OtaState } from './ota-store.js';

export type { LoadedModel, ModelLoader } from '../inference/load.js';
export type { OtaReport, OtaReportState, RolloutRecord } from '../protocol/ota-report.js';

/** A model that passed every check and is (or is about to be) scoring traffic. */
export interface ActiveModel {
  model: LoadedModel;
  manifest: Manifest;
  seq: number;
  modelId: string;
  classes: readonly string[];
  thresholds: Readonly<Record<string, number>>;
  /** The signed bytes of its manifest: a manifest with its seq and other bytes is a conflict, not a re-delivery. */
  signed: Uint8Array;
}

/** How long a download may go without a new chunk before it is given up and reported. */
export const DEFAULT_CHUNK_TIMEOUT_MS = 120_000;

export interface OtaReceiverOptions {
  sensorId: string;
  channel: string;
  /** Directory of the model store (created 0700). */
  stateDir: string;
  /** Pinned public keys: KeyObjects or PEM / base64 raw text. Used until a rotation is accepted and persisted. */
  pinnedKeys: Array<KeyObject | string>;
  loader: ModelLoader;
  /**
   * Receives every newly applied model. Resolve once the pipeline has switched to it at a batch boundary and no
   * longer uses the previous one: the receiver releases the previous session right after.
   */
  onApply: (active: ActiveModel) => void | Promise<void>;
  sensorVersion?: string;
  schemaId?: string;
  numFeatures?: number;
  now?: () => number;
  log?: Logger;
  /** Progress hook (tests, diagnostics): 'verified', 'payload', 'staged', 'self_test', 'persisting', 'committed', 'applied'. */
  onStage?: (stage: string, seq: number) => void;
  /** A download with no new chunk for this long is abandoned and reported (default DEFAULT_CHUNK_TIMEOUT_MS). */
  chunkTimeoutMs?: number;
}

function toKey(k: KeyObject | string): KeyObject {
  return typeof k === 'string' ? parsePublicKey(k) : k;
}

export class OtaReceiver {
  private active: ActiveModel | null = null;
  private state!: OtaState;
  private trusted!: TrustedKeys;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly store: OtaStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sensorVersion: string;
  private mqtt: MqttAttachment | null = null;

  private constructor(private readonly opts: OtaReceiverOptions) {
    this.store = new OtaStore(opts.stateDir);
    this.log = (opts.log ?? rootLog).child({ component: 'ota', sensor: opts.sensorId });
    this.now = opts.now ?? Date.now;
    this.sensorVersion = opts.sensorVersion ?? packageVersion();
  }

  /**
   * Opens the store, restores the trusted key set and loads the current model (falling back to the previous
   * one if the current cannot be loaded). `current` is null when no update was ever applied: the caller then
   * runs its bundled model.
   */
  static async open(opts: OtaReceiverOptions): Promise<OtaReceiver> {
    const r = new OtaReceiver(opts);
    await r.store.init();
    const saved = await r.store.readState();
    const pinned = opts.pinnedKeys.map(toKey);
    r.state = saved ?? { v: 1, current: null, previous: null, highest_seq: 0, rotation_version: 0, trusted_keys: pinned.map((k) => Buffer.from(rawPublicKey(k)).toString('base64')) };
    const keys = saved ? saved.trusted_keys.map((b) => publicKeyFromRaw(new Uint8Array(Buffer.from(b, 'base64')))) : pinned;
    r.trusted = { keys: new Map(keys.map((k) => [keyId(k), k])), rotationVersion: r.state.rotation_version };
    for (const seq of [r.state.current, r.state.previous]) {
      if (seq === null) continue;
      try {
        r.active = await r.loadStored(seq);
        if (seq !== r.state.current) r.log.warn({ seq, current: r.state.current }, 'current model unusable; rolled back to the previous one');
        break;
      } catch (e) {
        r.log.error({ seq, err: e }, 'stored model unusable');
      }
    }
    const removed = await r.store.prune([r.state.current, r.state.previous]);
    if (removed.length) r.log.info({ removed }, 'removed leftovers of an interrupted update');
    if (r.active) await opts.onApply(r.active);
    return r;
  }

  get current(): ActiveModel | null {
    return this.active;
  }

  get highestSeq(): number {
    return this.state.highest_seq;
  }

  get trustedKeyIds(): string[] {
    return [...this.trusted.keys.keys()];
  }

  private async loadStored(seq: number): Promise<ActiveModel> {
    const stored = await this.store.readModel(seq);
    if (!stored) throw new Error(`model ${seq} missing`);
    // Verified when it was applied; re-check that the bytes on disk are still exactly the signed payload.
    const env = decodeEnvelope(stored.envelope);
    const manifest = cborDecode(env.signed) as Manifest;
    checkPayload(manifest, stored.payload);
    const model = await this.opts.loader.load(stored.payload);
    return activeOf(model, manifest, env.signed);
  }

  /** Steps 1–2: everything that can be decided from the envelope alone. */
  preflight(envelope: Uint8Array): VerifiedManifest {
    const v = verifyEnvelope(envelope, { trusted: this.trusted, channel: this.opts.channel, now: this.now() });
    const m = v.manifest;
    if (m.seq <= this.state.highest_seq) throw new OtaRejected('stale_sequence', `seq ${m.seq} is not above ${this.state.highest_seq}`);
    const schemaId = this.opts.schemaId ?? SCHEMA_ID;
    if (m.schema_id !== schemaId) throw new OtaRejected('schema_mismatch', `model schema ${m.schema_id}, sensor schema ${schemaId}`);
    if (compareVersions(this.sensorVersion, m.min_sensor_version) < 0) throw new OtaRejected('sensor_too_old', `needs sensor ${m.min_sensor_version}, this is ${this.sensorVersion}`);
    const width = (this.opts.numFeatures ?? NUM_FEATURES) * 4;
    if (m.self_test.vectors.some((t) => t.input.length !== width)) throw new OtaRejected('schema_mismatch', 'self-test rows do not have the sensor feature width');
    return v;
  }

  /** Whether a verified manifest is meant for this sensor at all (signed rollout targets). */
  isTargeted(m: Manifest): boolean {
    return !m.rollout.targets || m.rollout.targets.includes(this.opts.sensorId);
  }

  /** Runs steps 1–5 for an envelope and its payload. Serialized: one update at a time. */
  apply(envelope: Uint8Array, payload: Uint8Array): Promise<ActiveModel> {
    const run = this.queue.then(() => this.applyNow(envelope, payload));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(envelope: Uint8Array, payload: Uint8Array): Promise<ActiveModel> {
    const verified = this.preflight(envelope);
    const m = verified.manifest;
    const stage = (s: string) => this.opts.onStage?.(s, m.seq);
    stage('verified');
    checkPayload(m, payload);
    stage('payload');
    let staged: LoadedModel;
    try {
      staged = await this.opts.loader.load(payload);
    } catch (e) {
      throw new OtaRejected('model_load_failed', (e as Error).message);
    }
    try {
      stage('staged');
      if (staged.schemaId !== undefined && staged.schemaId !== m.schema_id) throw new OtaRejected('schema_mismatch', `model metadata says schema ${staged.schemaId}, manifest ${m.schema_id}`);
      if (staged.classes !== undefined && staged.classes.join('\n') !== m.classes.join('\n')) throw new OtaRejected('class_mismatch', `model classes ${staged.classes.join(',')} differ from the manifest's`);
      await this.selfTest(staged, m);
      stage('self_test');
      const state: OtaState = {
        v: 1,
        current: m.seq,
        previous: this.state.current,
        highest_seq: m.seq,
        rotation_version: verified.trusted.rotationVersion,
        trusted_keys: [...verified.trusted.keys.values()].map((k) => Buffer.from(rawPublicKey(k)).toString('base64')),
      };
      stage('persisting');
      try {
        await this.store.writeModel(m.seq, envelope, payload);
        await this.store.commit(state);
      } catch (e) {
        throw new OtaRejected('persist_failed', (e as Error).message);
      }
      stage('committed');
      this.state = state;
      this.trusted = verified.trusted;
      await this.store.prune([state.current, state.previous]).catch((e) => this.log.warn({ err: e }, 'prune failed'));
    } catch (e) {
      await staged.release().catch(() => undefined);
      throw e;
    }
    const previous = this.active;
    const next = activeOf(staged, m, decodeEnvelope(envelope).signed);
    this.active = next;
    await this.opts.onApply(next);
    if (previous) await previous.model.release().catch(() => undefined);
    stage('applied');
    this.log.info({ seq: m.seq, model: m.model_id, key: verified.signedBy.slice(0, 16) }, 'model update applied');
    return next;
  }

  private async selfTest(model: LoadedModel, m: Manifest): Promise<void> {
    const width = this.opts.numFeatures ?? NUM_FEATURES;
    const n = m.self_test.vectors.length;
    const rows = new Float32Array(n * width);
    m.self_test.vectors.forEach((t, i) => rows.set(bytesToRow(t.input), i * width));
    let out: Float32Array;
    try {
      out = await model.predict(rows, n, width);
    } catch (e) {
      throw new OtaRejected('model_load_failed', `model failed to run: ${(e as Error).message}`);
    }
    const C = m.classes.length;
    if (out.length !== n * C) throw new OtaRejected('class_mismatch', `model gives ${out.length / n} outputs per row, manifest has ${C} classes`);
    for (let i = 0; i < n; i++) {
      const p = out.subarray(i * C, (i + 1) * C);
      let best = 0;
      for (let c = 1; c < C; c++) if (p[c] > p[best]) best = c;
      const want = m.self_test.vectors[i];
      if (m.classes[best] !== want.class) throw new OtaRejected('self_test_failed', `vector ${i}: class ${m.classes[best]}, expected ${want.class}`);
      for (let c = 0; c < C; c++) {
        if (Math.abs(p[c] - want.probabilities[c]) > m.self_test.tolerance) {
          throw new OtaRejected('self_test_failed', `vector ${i}: p(${m.classes[c]}) = ${p[c].toFixed(4)}, expected ${want.probabilities[c].toFixed(4)} ± ${m.self_test.tolerance}`);
        }
      }
    }
  }

  report(state: OtaReportState, about?: { seq: number; model_id: string }, err?: OtaRejected): OtaReport {
    return {
      v: 1,
      sensor: this.opts.sensorId,
      channel: this.opts.channel,
      ts: this.now(),
      state,
      ...(about ? { seq: about.seq, model_id: about.model_id } : {}),
      ...(err ? { reason: err.reason, message: err.message } : {}),
      current: this.active ? { model_id: this.active.modelId, seq: this.active.seq } : null,
    };
  }

  /** Follows the channel over MQTT: manifest, rollout record and (once admitted) payload chunks. */
  async attach(client: MqttClient): Promise<void> {
    if (this.mqtt) throw new NetsensorError('ERR_USAGE', 'OTA receiver already attached');
    this.mqtt = new MqttAttachment(this, client, this.opts, this.log);
    await this.mqtt.start();
  }

  async detach(): Promise<void> {
    await this.mqtt?.stop();
    this.mqtt = null;
  }

  async close(): Promise<void> {
    await this.detach();
    await this.queue;
    if (this.active) await this.active.model.release().catch(() => undefined);
    this.active = null;
  }
}

function activeOf(model: LoadedModel, m: Manifest, signed: Uint8Array): ActiveModel {
  return { model, manifest: m, seq: m.seq, modelId: m.model_id, classes: m.classes, thresholds: m.thresholds, signed };
}

interface Candidate {
  envelope: Uint8Array;
  manifest: Manifest;
  chunks: Array<Uint8Array | undefined>;
  received: number;
  downloading: boolean;
  /** Fires when no chunk came for chunkTimeoutMs while downloading. */
  stalled?: NodeJS.Timeout;
}

/** The MQTT side of the receiver: one candidate update at a time, downloaded only once the gateway admits us. */
class MqttAttachment {
  private candidate: Candidate | null = null;
  private rollout: RolloutRecord | null = null;
  /** Envelopes already handled (applied or rejected), so a retained re-delivery is not reported again. */
  private seen: Uint8Array[] = [];
  private readonly onMessage = (topic: string, payload: Buffer) => this.handle(topic, new Uint8Array(payload));
  /** After a reconnect (gateway restart, network loss) the gateway learns again what we run. */
  private readonly onReconnect = () => { void this.publish(this.rx.report('current')); };

  constructor(
    private readonly rx: OtaReceiver,
    private readonly client: MqttClient,
    private readonly opts: OtaReceiverOptions,
    private readonly log: Logger,
  ) {}

  private get channel(): string {
    return this.opts.channel;
  }

  async start(): Promise<void> {
    this.client.on('message', this.onMessage);
    this.client.on('connect', this.onReconnect);
    await this.publish(this.rx.report('current'));
    await this.client.subscribeAsync([topics.modelRollout(this.channel), topics.model(this.channel)], { qos: 1 });
  }

  async stop(): Promise<void> {
    this.client.off('message', this.onMessage);
    this.client.off('connect', this.onReconnect);
    clearTimeout(this.candidate?.stalled);
    if (this.candidate?.downloading) await this.client.unsubscribeAsync(topics.modelChunks(this.channel, this.candidate.manifest.seq)).catch(() => undefined);
    this.candidate = null;
  }

  private async publish(r: OtaReport): Promise<void> {
    try {
      await this.client.publishAsync(topics.ota(this.opts.sensorId), JSON.stringify(r), { qos: 1 });
    } catch (e) {
      this.log.warn({ err: e }, 'could not publish OTA report');
    }
  }

  private handle(topic: string, payload: Uint8Array): void {
    try {
      if (topic === topics.model(this.channel)) this.onManifest(payload);
      else if (topic === topics.modelRollout(this.channel)) this.onRollout(payload);
      else if (this.candidate && topic.startsWith(topics.modelChunks(this.channel, this.candidate.manifest.seq).slice(0, -1))) this.onChunk(topic, payload);
    } catch (e) {
      this.log.error({ err: e, topic }, 'OTA message handling failed');
    }
  }

  private onManifest(envelope: Uint8Array): void {
    if (envelope.length === 0) return; // retained message cleared
    if (this.seen.some((s) => equalBytes(s, envelope))) return;
    if (this.candidate && equalBytes(this.candidate.envelope, envelope)) return;
    const current = this.rx.current;
    let verified: VerifiedManifest;
    try {
      verified = this.rx.preflight(envelope);
    } catch (e) {
      let why = e;
      if (e instanceof OtaRejected && e.reason === 'stale_sequence' && current && this.seqOf(envelope) === current.seq) {
        // The retained manifest of the model we already run comes back on every reconnect: not a rejection.
        if (this.isCurrentEnvelope(envelope)) return;
        why = new OtaRejected('sequence_conflict', `seq ${current.seq} is the running model's, but this manifest's content differs`);
      }
      this.remember(envelope);
      void this.reject(why, aboutOf(envelope));
      return;
    }
    if (!this.rx.isTargeted(verified.manifest)) {
      this.remember(envelope);
      this.log.info({ seq: verified.manifest.seq }, 'update not targeted at this sensor');
      return;
    }
    void this.dropCandidate();
    const m = verified.manifest;
    this.candidate = { envelope, manifest: m, chunks: new Array(m.payload.chunks.length), received: 0, downloading: false };
    this.log.info({ seq: m.seq, model: m.model_id }, 'update manifest verified; waiting for admission');
    this.maybeDownload();
  }

  /** The same signed manifest as the running model's (its signatures may differ: a co-signed copy is the same release). */
  private isCurrentEnvelope(envelope: Uint8Array): boolean {
    const current = this.rx.current;
    try {
      return current !== null && equalBytes(decodeEnvelope(envelope).signed, current.signed);
    } catch {
      return false;
    }
  }

  private seqOf(envelope: Uint8Array): number | undefined {
    return aboutOf(envelope)?.seq;
  }

  private onRollout(payload: Uint8Array): void {
    if (payload.length === 0) { this.rollout = null; return; }
    let r: RolloutRecord;
    try {
      r = JSON.parse(Buffer.from(payload).toString('utf8')) as RolloutRecord;
    } catch {
      this.log.warn('unreadable rollout record');
      return;
    }
    if (r?.v !== 1 || !Number.isSafeInteger(r.seq) || !Array.isArray(r.admitted)) return;
    this.rollout = r;
    const c = this.candidate;
    if (c?.downloading && r.seq === c.manifest.seq && r.state === 'halted') {
      this.log.warn({ seq: c.manifest.seq }, 'rollout halted by the gateway; download abandoned');
      void this.dropCandidate();
      return;
    }
    this.maybeDownload();
  }

  /** The rollout record only gates WHEN a sensor applies; integrity rests on the signed manifest alone. */
  private admitted(m: Manifest): boolean {
    const r = this.rollout;
    if (!r || r.seq !== m.seq || r.state === 'halted') return false;
    return r.state === 'complete' || r.admitted.includes(this.opts.sensorId);
  }

  private maybeDownload(): void {
    const c = this.candidate;
    if (!c || c.downloading || !this.admitted(c.manifest)) return;
    c.downloading = true;
    this.log.info({ seq: c.manifest.seq, chunks: c.chunks.length }, 'admitted to the rollout; downloading');
    this.watchProgress(c);
    this.client.subscribe(topics.modelChunks(this.channel, c.manifest.seq), { qos: 1 });
  }

  /**
   * (Re)arms the stall timer: a chunk set the broker holds only in part (a truncated upload, lost retained
   * messages) would otherwise keep the sensor waiting forever without anyone knowing. Not remembered as seen:
   * the retained manifest delivered again (reconnect) tries once more.
   */
  private watchProgress(c: Candidate): void {
    clearTimeout(c.stalled);
    const ms = this.opts.chunkTimeoutMs ?? DEFAULT_CHUNK_TIMEOUT_MS;
    c.stalled = setTimeout(() => {
      if (this.candidate !== c) return;
      void this.dropCandidate();
      void this.reject(new OtaRejected('download_timeout', `${c.received} of ${c.chunks.length} chunks, none for ${ms} ms`), { seq: c.manifest.seq, model_id: c.manifest.model_id });
    }, ms);
    c.stalled.unref();
  }

  private onChunk(topic: string, data: Uint8Array): void {
    const c = this.candidate!;
    if (!c.downloading || data.length === 0) return;
    const index = Number(topic.slice(topic.lastIndexOf('/') + 1));
    if (c.chunks[index] !== undefined) return;
    try {
      checkChunk(c.manifest, index, data);
    } catch (e) {
      this.remember(c.envelope);
      void this.dropCandidate();
      void this.reject(e, { seq: c.manifest.seq, model_id: c.manifest.model_id });
      return;
    }
    c.chunks[index] = data;
    c.received++;
    if (c.received < c.chunks.length) { this.watchProgress(c); return; }
    const payload = Buffer.concat(c.chunks as Uint8Array[]);
    const about = { seq: c.manifest.seq, model_id: c.manifest.model_id };
    this.remember(c.envelope);
    void this.dropCandidate();
    this.rx.apply(c.envelope, new Uint8Array(payload.buffer, payload.byteOffset, payload.length)).then(
      () => this.publish(this.rx.report('applied', about)),
      (e) => this.reject(e, about),
    );
  }

  private async dropCandidate(): Promise<void> {
    const c = this.candidate;
    this.candidate = null;
    clearTimeout(c?.stalled);
    if (c?.downloading) await this.client.unsubscribeAsync(topics.modelChunks(this.channel, c.manifest.seq)).catch(() => undefined);
  }

  private remember(envelope: Uint8Array): void {
    this.seen.push(envelope);
    if (this.seen.length > 16) this.seen.shift();
  }

  private async reject(e: unknown, about?: { seq: number; model_id: string }): Promise<void> {
    const err = e instanceof OtaRejected ? e : new OtaRejected('model_load_failed', (e as Error)?.message ?? String(e));
    this.log.warn({ reason: err.reason, seq: about?.seq, msg: err.message }, 'model update rejected');
    await this.publish(this.rx.report('rejected', about, err));
  }
}

/** Best-effort identification of a rejected envelope for the report (its contents are NOT trusted). */
function aboutOf(envelope: Uint8Array): { seq: number; model_id: string } | undefined {
  try {
    const m = cborDecode(decodeEnvelope(envelope).signed) as Record<string, unknown>;
    if (Number.isSafeInteger(m.seq) && typeof m.model_id === 'string') return { seq: m.seq as number, model_id: m.model_id.slice(0, 64) };
  } catch { /* unreadable */ }
  return undefined;
}
