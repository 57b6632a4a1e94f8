/**
 * Model distribution (OTA, docs/ota.md). The gateway takes a signed upload from the operator, publishes it
 * retained for its channel and runs a staged rollout:
 *
 *   netsensor/v1/models/<channel>                 signed manifest envelope (CBOR)            retained
 *   netsensor/v1/models/<channel>/chunk/<seq>/<i>  payload chunks (raw bytes)                 retained
 *   netsensor/v1/models/<channel>/rollout          rollout record (JSON): who may apply now   retained
 *   netsensor/v1/sensors/<id>/ota                  sensor reports (JSON): current/applied/rejected
 *
 * Stage 1 admits `percent` of the channel's known sensors (a deterministic, per-release shuffle, so the same
 * sensors are not always the guinea pigs). When every admitted sensor reported `applied`, the rollout becomes
 * `complete` and every sensor may apply. When the share of failures among the sensors that tried passes
 * `maxFailureRate`, the rollout is `halted`: sensors that have not applied it never will.
 *
 * The gateway holds no signing key and cannot forge an update: the rollout record only decides WHEN a sensor
 * applies a manifest that it verifies itself. The gateway verifies uploads too, against `trustedKeys`, so a bad
 * upload is refused at the door instead of by every sensor; without trusted keys it refuses every upload (one
 * signed by any key with a huge `seq` would otherwise block the channel for the rightful key). A release's `seq`
 * may not run further ahead than MAX_SEQ_LEAD_MS past both the channel's seq and the clock (the default seq is
 * the publish time in ms): a typo or a runaway counter must not block a channel for years.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { NetsensorError } from '../../common/errors.js';
import { log as rootLog, type Logger } from '../../common/log.js';
import {
  OtaRejected, checkPayload, cborDecode, decodeBundle, decodeEnvelope, splitPayload, trustedKeysFrom, validateManifest,
  verifyEnvelope, type Manifest,
} from '../../protocol/manifest.js';
import { ID_PATTERN, parseModelTopic, parseSensorTopic, topics } from '../../protocol/topics.js';
import type { OtaReport, RolloutRecord } from '../../protocol/ota-report.js';
import type { Bus } from '../bus.js';

export const DEFAULT_MAX_FAILURE_RATE = 0.25;
/** How far a new release's seq may run ahead of max(channel seq, now in ms). */
export const MAX_SEQ_LEAD_MS = 30 * 86_400_000;

export type RolloutState = RolloutRecord['state'];

interface Release {
  manifest: Manifest;
  envelope: Uint8Array;
  /** Kept so the release can be persisted with its payload (see RolloutPersistence). */
  payload: Uint8Array;
  chunkCount: number;
  state: RolloutState;
  admitted: string[];
  applied: Set<string>;
  failed: Map<string, string>;
  publishedMs: number;
  haltReason?: string;
}

interface SensorModel {
  id: string;
  channel?: string;
  modelId?: string;
  seq?: number;
  lastState?: OtaReport['state'];
  lastReason?: string;
  lastMessage?: string;
  updatedMs: number;
}

/** A channel's release as persisted (gateway/ota/model-store.ts). */
export interface PersistedRelease {
  channel: string;
  seq: number;
  envelope: Uint8Array;
  payload: Uint8Array;
  state: RolloutState;
  admitted: string[];
  applied: string[];
  failed: Record<string, string>;
  haltReason?: string;
  publishedMs: number;
}

export type PersistedSensor = SensorModel;

/** One line of release history (the `models` table). */
export interface ModelHistoryRow {
  model_id: string;
  sha256: string;
  size: number;
  schema_id: string;
  created_ms: number;
  expires_ms: number;
  classes: string[];
  rollout_percent: number;
}

/** Where rollout state survives a gateway restart (the gateway's SQLite database: SqliteRolloutStore). */
export interface RolloutPersistence {
  loadReleases(): PersistedRelease[];
  saveRelease(r: PersistedRelease, history: ModelHistoryRow): void;
  saveRollout(r: Omit<PersistedRelease, 'envelope' | 'payload' | 'publishedMs'>): void;
  loadSensors(): PersistedSensor[];
  saveSensor(s: PersistedSensor): void;
}

export interface DistributorOptions {
  bus: Bus;
  /** Rollout state store; without it state lives in memory and a restart forgets releases and sensors. */
  persist?: RolloutPersistence;
  /**
   * Gateway policy cap on the first stage (1..100): the stage admits min(signed rollout percent, this) of the
   * channel's sensors. 100 (default) follows the publisher's --rollout.
   */
  maxFirstStagePercent?: number;
  /** Uploads must be signed by one of these keys (sensors verify regardless); without any, uploads are refused. */
  trustedKeys?: KeyObject[];
  /** Halt when failures / sensors that tried exceeds this (0..1). */
  maxFailureRate?: number;
  log?: Logger;
  now?: () => number;
}

/** JSON for GET /api/models. */
export interface ModelsApiData {
  channels: Array<{
    channel: string;
    model_id: string;
    seq: number;
    size: number;
    created_ms: number;
    expires_ms: number;
    published_ms: number;
    classes: string[];
    rollout: { percent: number; first_stage_percent: number; state: RolloutState; admitted: string[]; applied: string[]; failed: Record<string, string>; halt_reason?: string };
  }>;
  sensors: Array<{ id: string; channel?: string; model_id?: string; seq?: number; state?: string; reason?: string; message?: string; updated_ms: number }>;
}

export interface UploadResult {
  channel: string;
  model_id: string;
  seq: number;
  state: RolloutState;
  admitted: string[];
}

export class ModelDistributor {
  private readonly releases = new Map<string, Release>();
  private readonly sensors = new Map<string, SensorModel>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly maxFailureRate: number;
  private readonly maxFirstStagePercent: number;
  private work: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: DistributorOptions) {
    this.log = (opts.log ?? rootLog).child({ component: 'models' });
    this.now = opts.now ?? Date.now;
    this.maxFailureRate = opts.maxFailureRate ?? DEFAULT_MAX_FAILURE_RATE;
    this.maxFirstStagePercent = opts.maxFirstStagePercent ?? 100;
  }

  /** Subscribes to sensor OTA reports and to operator uploads on the broker. */
  async start(): Promise<void> {
    await this.restore();
    // Acknowledged on receipt (`done`): the embedded broker holds a QoS 1 PUBACK until every in-process
    // subscriber calls it, and reports/uploads need no durable commit first (a lost report is re-sent on reconnect).
    await this.opts.bus.subscribe(topics.allOta, (topic, payload, done) => { done?.(); this.serial(() => this.onReport(topic, payload)); });
    await this.opts.bus.subscribe(topics.allModelUploads, (topic, payload, done) => { done?.(); this.serial(() => this.onUploadMessage(topic, payload)); });
  }

  /**
   * Reloads persisted releases and sensors and publishes each release again (envelope, chunks, rollout record):
   * an embedded broker forgets retained messages when the gateway stops. Expired releases are kept for the API
   * but not offered again (sensors would refuse them anyway).
   */
  private async restore(): Promise<void> {
    const p = this.opts.persist;
    if (!p) return;
    for (const s of p.loadSensors()) this.sensors.set(s.id, s);
    for (const row of p.loadReleases()) {
      let manifest: Manifest;
      try {
        manifest = validateManifest(cborDecode(decodeEnvelope(row.envelope).signed));
        checkPayload(manifest, row.payload);
      } catch (e) {
        this.log.error({ channel: row.channel, seq: row.seq, err: e }, 'persisted release unreadable; dropped');
        continue;
      }
      const release: Release = {
        manifest, envelope: row.envelope, payload: row.payload, chunkCount: manifest.payload.chunks.length, state: row.state,
        admitted: row.admitted, applied: new Set(row.applied), failed: new Map(Object.entries(row.failed)), publishedMs: row.publishedMs,
        haltReason: row.haltReason,
      };
      this.releases.set(row.channel, release);
      if (this.now() >= manifest.expires_ms) {
        this.log.warn({ channel: row.channel, seq: manifest.seq }, 'persisted release expired; not offered again');
        continue;
      }
      await this.publishRelease(release);
      this.log.info({ channel: row.channel, seq: manifest.seq, state: release.state, applied: release.applied.size }, 'release restored');
    }
  }

  /** Retained chunks, rollout record, then the envelope (sensors must find the chunks once admitted). */
  private async publishRelease(r: Release): Promise<void> {
    const chunks = splitPayload(r.payload, r.manifest.payload.chunk_size);
    for (let i = 0; i < chunks.length; i++) {
      await this.opts.bus.publish(topics.modelChunk(r.manifest.channel, r.manifest.seq, i), Buffer.from(chunks[i]), { qos: 1, retain: true });
    }
    await this.publishRollout(r);
    await this.opts.bus.publish(topics.model(r.manifest.channel), Buffer.from(r.envelope), { qos: 1, retain: true });
  }

  private persistRollout(r: Release): void {
    try {
      this.opts.persist?.saveRollout({
        channel: r.manifest.channel, seq: r.manifest.seq, state: r.state, admitted: [...r.admitted], applied: [...r.applied],
        failed: Object.fromEntries(r.failed), haltReason: r.haltReason,
      });
    } catch (e) {
      this.log.error({ err: e }, 'could not persist rollout state');
    }
  }

  /** Runs handlers one after another: reports and uploads mutate the same rollout state. */
  private serial(fn: () => Promise<void> | void): void {
    this.work = this.work.then(fn).catch((e) => this.log.error({ err: e }, 'model distribution handler failed'));
  }

  /** Resolves when every message received so far has been handled (tests, orderly shutdown). */
  async idle(): Promise<void> {
    let w;
    do { w = this.work; await w; } while (w !== this.work);
  }

  private async onUploadMessage(topic: string, payload: Buffer): Promise<void> {
    if (payload.length === 0) return; // our own clearing of the retained upload
    const t = parseModelTopic(topic);
    if (!t || t.kind !== 'upload') return; // not a channel name a release could carry
    const channel = t.channel;
    try {
      const r = await this.publishUpload(new Uint8Array(payload), channel);
      this.log.info({ ...r }, 'model upload accepted from the broker');
    } catch (e) {
      this.log.error({ err: e, channel }, 'model upload refused');
    }
    await this.opts.bus.publish(topics.modelUpload(channel), Buffer.alloc(0), { qos: 1, retain: true });
  }

  /** Whether uploads can be verified at all (trusted keys configured); the API refuses before reading a body. */
  get acceptsUploads(): boolean {
    return (this.opts.trustedKeys?.length ?? 0) > 0;
  }

  /** Entry point for POST /api/models (body: the CBOR bundle written by `netsensor model publish`). */
  upload(bundle: Uint8Array): Promise<UploadResult> {
    const run = this.work.then(() => this.publishUpload(bundle));
    this.work = run.catch(() => undefined);
    return run;
  }

  private async publishUpload(bundleBytes: Uint8Array, expectChannel?: string): Promise<UploadResult> {
    const trusted = this.opts.trustedKeys;
    if (!trusted?.length) throw new OtaRejected('no_trusted_keys', 'model uploads are refused until models.trustedKeysFile names the keys they must be signed by');
    const bundle = decodeBundle(bundleBytes);
    const env = decodeEnvelope(bundle.envelope);
    const unverified = validateManifest(cborDecode(env.signed));
    const manifest = verifyEnvelope(bundle.envelope, { trusted: trustedKeysFrom(trusted), channel: unverified.channel, now: this.now() }).manifest;
    if (expectChannel !== undefined && manifest.channel !== expectChannel) throw new OtaRejected('wrong_channel', `uploaded to ${expectChannel}, manifest says ${manifest.channel}`);
    checkPayload(manifest, bundle.payload);
    const channel = manifest.channel;
    const previous = this.releases.get(channel);
    if (previous && manifest.seq <= previous.manifest.seq) {
      throw new OtaRejected('stale_sequence', `channel ${channel} already has seq ${previous.manifest.seq}`);
    }
    const ceiling = Math.max(previous?.manifest.seq ?? 0, this.now()) + MAX_SEQ_LEAD_MS;
    if (manifest.seq > ceiling) {
      throw new OtaRejected('sequence_jump', `seq ${manifest.seq} is more than ${MAX_SEQ_LEAD_MS / 86_400_000} days (in ms) ahead of the channel's seq and the clock (at most ${ceiling})`);
    }
    const release: Release = {
      manifest, envelope: bundle.envelope, payload: bundle.payload, chunkCount: manifest.payload.chunks.length, state: 'staged',
      admitted: [], applied: new Set(), failed: new Map(), publishedMs: this.now(),
    };
    this.releases.set(channel, release);
    this.fillStage(release);
    this.opts.persist?.saveRelease({
      channel, seq: manifest.seq, envelope: bundle.envelope, payload: bundle.payload, state: release.state, admitted: [...release.admitted],
      applied: [], failed: {}, publishedMs: release.publishedMs,
    }, {
      model_id: manifest.model_id, sha256: Buffer.from(manifest.payload.sha256).toString('hex'), size: manifest.payload.size,
      schema_id: manifest.schema_id, created_ms: manifest.created_ms, expires_ms: manifest.expires_ms, classes: [...manifest.classes],
      rollout_percent: manifest.rollout.percent,
    });
    await this.publishRelease(release);
    const bus = this.opts.bus;
    if (previous) {
      // Retained chunks of the superseded release would sit on the broker forever.
      for (let i = 0; i < previous.chunkCount; i++) {
        await bus.publish(topics.modelChunk(channel, previous.manifest.seq, i), Buffer.alloc(0), { qos: 1, retain: true });
      }
    }
    this.log.info({ channel, seq: manifest.seq, model: manifest.model_id, state: release.state, admitted: release.admitted }, 'model release published');
    return { channel, model_id: manifest.model_id, seq: manifest.seq, state: release.state, admitted: [...release.admitted] };
  }

  private eligible(r: Release): string[] {
    const targets = r.manifest.rollout.targets;
    return [...this.sensors.values()]
      .filter((s) => s.channel === r.manifest.channel && (!targets || targets.includes(s.id)))
      .map((s) => s.id);
  }

  /** Admits sensors into stage 1 up to its size (grows as sensors are discovered while the stage runs). */
  private fillStage(r: Release): boolean {
    if (r.state !== 'staged') return false;
    const percent = this.firstStagePercent(r);
    if (percent >= 100) {
      r.state = 'complete';
      return true;
    }
    const seed = `${r.manifest.model_id}:${r.manifest.seq}:`;
    const rank = (id: string) => createHash('sha256').update(seed + id).digest('hex');
    const eligible = this.eligible(r);
    const size = Math.max(1, Math.ceil((eligible.length * percent) / 100));
    const candidates = eligible.filter((id) => !r.admitted.includes(id)).sort((a, b) => (rank(a) < rank(b) ? -1 : 1));
    let changed = false;
    while (r.admitted.length < size && candidates.length) {
      r.admitted.push(candidates.shift()!);
      changed = true;
    }
    return changed;
  }

  private firstStagePercent(r: Release): number {
    return Math.min(r.manifest.rollout.percent, this.maxFirstStagePercent);
  }

  private async publishRollout(r: Release): Promise<void> {
    const record: RolloutRecord = { v: 1, seq: r.manifest.seq, model_id: r.manifest.model_id, state: r.state, admitted: [...r.admitted] };
    await this.opts.bus.publish(topics.modelRollout(r.manifest.channel), JSON.stringify(record), { qos: 1, retain: true });
  }

  private async onReport(topic: string, payload: Buffer): Promise<void> {
    const t = parseSensorTopic(topic);
    if (!t || t.kind !== 'ota') return;
    let rep: OtaReport;
    try {
      rep = JSON.parse(payload.toString('utf8')) as OtaReport;
    } catch {
      this.log.warn({ sensor: t.sensorId }, 'unreadable OTA report');
      return;
    }
    if (rep?.v !== 1 || typeof rep.state !== 'string' || (rep.channel !== undefined && !ID_PATTERN.test(rep.channel))) return;
    const s = this.sensors.get(t.sensorId) ?? { id: t.sensorId, updatedMs: 0 };
    const isNew = !this.sensors.has(t.sensorId) || s.channel !== rep.channel;
    s.channel = rep.channel;
    s.modelId = rep.current?.model_id;
    s.seq = rep.current?.seq;
    s.lastState = rep.state;
    s.lastReason = rep.reason;
    s.lastMessage = rep.message?.slice(0, 300);
    s.updatedMs = this.now();
    this.sensors.set(s.id, s);
    try {
      this.opts.persist?.saveSensor(s);
    } catch (e) {
      this.log.error({ err: e }, 'could not persist sensor model state');
    }
    const r = rep.channel ? this.releases.get(rep.channel) : undefined;
    if (!r) return;
    let changed = isNew && this.fillStage(r);
    const seq = r.manifest.seq;
    if ((rep.state === 'applied' && rep.seq === seq) || rep.current?.seq === seq) {
      if (!r.applied.has(s.id)) { r.applied.add(s.id); r.failed.delete(s.id); }
    } else if (rep.state === 'rejected' && rep.seq === seq) {
      r.failed.set(s.id, rep.reason ?? 'unknown');
    }
    changed = this.evaluate(r) || changed;
    this.persistRollout(r);
    if (changed) await this.publishRollout(r);
  }

  /** Halt on too many failures; complete stage 1 once all its sensors applied. Returns whether state changed. */
  private evaluate(r: Release): boolean {
    if (r.state === 'halted') return false;
    const tried = r.applied.size + r.failed.size;
    const base = r.state === 'staged' ? Math.max(r.admitted.length, tried) : tried;
    if (r.failed.size > 0 && r.failed.size / Math.max(1, base) > this.maxFailureRate) {
      r.state = 'halted';
      const reasons = [...new Set(r.failed.values())].join(', ');
      r.haltReason = `${r.failed.size} of ${base} sensors failed (${reasons})`;
      this.log.error({ channel: r.manifest.channel, seq: r.manifest.seq, failed: Object.fromEntries(r.failed) }, 'rollout halted');
      return true;
    }
    if (r.state === 'staged' && r.admitted.length > 0 && r.admitted.every((id) => r.applied.has(id))) {
      r.state = 'complete';
      this.log.info({ channel: r.manifest.channel, seq: r.manifest.seq }, 'first stage healthy; rollout to every sensor');
      return true;
    }
    return false;
  }

  /** Operator stop (API): no further sensor applies the channel's current release. */
  async halt(channel: string, reason = 'halted by operator'): Promise<void> {
    await this.serialAwait(async () => {
      const r = this.releases.get(channel);
      if (!r) throw new NetsensorError('ERR_USAGE', `no release on channel ${channel}`);
      r.state = 'halted';
      r.haltReason = reason;
      this.persistRollout(r);
      await this.publishRollout(r);
    });
  }

  private serialAwait<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.work.then(fn);
    this.work = run.catch(() => undefined);
    return run;
  }

  apiData(): ModelsApiData {
    return {
      channels: [...this.releases.entries()].map(([channel, r]) => ({
        channel,
        model_id: r.manifest.model_id,
        seq: r.manifest.seq,
        size: r.manifest.payload.size,
        created_ms: r.manifest.created_ms,
        expires_ms: r.manifest.expires_ms,
        published_ms: r.publishedMs,
        classes: [...r.manifest.classes],
        rollout: {
          percent: r.manifest.rollout.percent,
          first_stage_percent: this.firstStagePercent(r),
          state: r.state,
          admitted: [...r.admitted],
          applied: [...r.applied],
          failed: Object.fromEntries(r.failed),
          ...(r.haltReason ? { halt_reason: r.haltReason } : {}),
        },
      })),
      sensors: [...this.sensors.values()].map((s) => ({
        id: s.id, channel: s.channel, model_id: s.modelId, seq: s.seq, state: s.lastState, reason: s.lastReason,
        message: s.lastMessage, updated_ms: s.updatedMs,
      })),
    };
  }
}
