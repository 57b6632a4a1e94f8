/**
 * `netsensor model publish <model.onnx> --channel stable --key FILE [--rollout PERCENT] [--gateway URL | --broker URL | --out FILE]`
 *
 * Builds the signed manifest of a model (docs/ota.md): payload size + sha256 + chunk hashes, feature schema id,
 * class names and thresholds read from the model's metadata_props (flags override), and golden self-test vectors
 * whose expected outputs are computed here by onnxruntime on the publisher's machine. Signs it with the Ed25519
 * key (attaching the key's rotation chain when `rotation.cbor` sits next to it) and hands the bundle to the
 * gateway, which does the staged rollout.
 */
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { NetsensorError } from '../../../common/errors.js';
import { loadPrivateKey, ROTATION_FILE } from '../../../common/keys.js';
import { packageVersion } from '../../../common/version.js';
import { ID_PATTERN, topics } from '../../../protocol/topics.js';
import {
  DEFAULT_CHUNK_BYTES, MANIFEST_FORMAT, MANIFEST_TYPE, decodeRotationChain, describePayload, encodeBundle, encodeEnvelope,
  rowToBytes, signManifest, type Envelope, type Manifest, type SelfTestVector,
} from '../../../protocol/manifest.js';
import { FEATURE_NAMES, NUM_FEATURES, SCHEMA_ID } from '../../../core/schema.js';
import { ortModelLoader, readOnnxMetadata, type ModelLoader } from '../../../inference/load.js';

export const DEFAULT_TOLERANCE = 0.02;
export const DEFAULT_EXPIRY_DAYS = 30;
const DAY_MS = 86_400_000;

export interface ReleaseOptions {
  channel: string;
  privateKey: KeyObject;
  /** Monotonic sequence number; default: the current time in ms (monotonic across publishes from one clock). */
  seq?: number;
  modelId?: string;
  /** Used when neither modelId nor the model's metadata names it. */
  defaultModelId?: string;
  classes?: string[];
  thresholds?: Record<string, number>;
  schemaId?: string;
  minSensorVersion?: string;
  rolloutPercent?: number;
  targets?: string[];
  expiresMs?: number;
  now?: number;
  tolerance?: number;
  /** Feature rows to use as self-test inputs; generated when absent. */
  vectorRows?: Float32Array[];
  /** Extra rows whose expected outputs are DELIBERATELY those of another model (tests of the self-test). */
  expectFrom?: Uint8Array;
  chunkSize?: number;
  rotations?: Envelope['rotations'];
  loader?: ModelLoader;
}

export interface Release {
  manifest: Manifest;
  envelope: Uint8Array;
  payload: Uint8Array;
}

function parseClasses(meta: Record<string, string>): string[] | undefined {
  const raw = meta.classes ?? meta.class_names;
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw);
    if (Array.isArray(v) && v.every((c) => typeof c === 'string')) return v;
  } catch { /* comma list */ }
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

/** `thresholds` (JSON object), or the detection model's `class_thresholds` (per class) + `anomaly_threshold`. */
function parseThresholds(meta: Record<string, string>, classes: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    if (meta.thresholds) {
      for (const [k, x] of Object.entries(JSON.parse(meta.thresholds))) if (typeof x === 'number' && Number.isFinite(x)) out[k] = x;
      return out;
    }
    const perClass = meta.class_thresholds ? JSON.parse(meta.class_thresholds) : [];
    if (Array.isArray(perClass)) perClass.forEach((x, i) => { if (typeof x === 'number' && Number.isFinite(x) && classes[i]) out[classes[i]] = x; });
    const anomaly = Number(meta.anomaly_threshold);
    if (meta.anomaly_threshold !== undefined && Number.isFinite(anomaly)) out.anomaly = anomaly;
  } catch { /* unreadable thresholds metadata: the flag or an empty set */ }
  return out;
}

/** Deterministic candidate rows spanning the magnitudes real flows have (ports, bytes, ms span decades). */
function candidateRows(count: number): Float32Array[] {
  let s = 0x9e3779b9;
  const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 0x100000000; };
  const rows: Float32Array[] = [new Float32Array(NUM_FEATURES)];
  for (let i = 1; i < count; i++) {
    const r = new Float32Array(NUM_FEATURES);
    for (let f = 0; f < NUM_FEATURES; f++) r[f] = rnd() < 0.3 ? 0 : Math.round(Math.exp(rnd() * 10 * (i % 4 + 1) / 4) - 1);
    r[FEATURE_NAMES.indexOf('protocol')] = [6, 17, 1][i % 3];
    r[FEATURE_NAMES.indexOf('ip_version')] = 4;
    rows.push(r);
  }
  return rows;
}

async function predictRows(loader: ModelLoader, bytes: Uint8Array, rows: Float32Array[]): Promise<Float32Array> {
  const model = await loader.load(bytes);
  try {
    const flat = new Float32Array(rows.length * NUM_FEATURES);
    rows.forEach((r, i) => flat.set(r, i * NUM_FEATURES));
    return await model.predict(flat, rows.length, NUM_FEATURES);
  } finally {
    await model.release();
  }
}

/**
 * Picks self-test vectors whose top class wins by a clear margin (4 × tolerance), so that a correct model on
 * another CPU (different kernels, int8 rounding) agrees on the class; at most 8, covering as many classes as
 * the candidates reach.
 */
async function selfTestVectors(o: ReleaseOptions, payload: Uint8Array, classes: string[], tolerance: number): Promise<SelfTestVector[]> {
  const loader = o.loader ?? ortModelLoader;
  const rows = o.vectorRows ?? candidateRows(64);
  const probs = await predictRows(loader, o.expectFrom ?? payload, rows);
  const C = classes.length;
  if (probs.length !== rows.length * C) throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model gives ${probs.length / rows.length} outputs per row, expected ${C} classes`);
  const picked: SelfTestVector[] = [];
  const perClass = new Map<number, number>();
  const scored = rows.map((row, i) => {
    const p = Array.from(probs.subarray(i * C, (i + 1) * C));
    const order = p.map((x, c) => [x, c] as const).sort((a, b) => b[0] - a[0]);
    return { row, p, best: order[0][1], margin: order[0][0] - (order[1]?.[0] ?? 0) };
  });
  const used = new Set<number>();
  for (const pass of [1, 8]) {
    for (const [i, v] of scored.entries()) {
      if (picked.length >= 8) break;
      if (used.has(i) || v.margin < 4 * tolerance || (perClass.get(v.best) ?? 0) >= pass) continue;
      used.add(i);
      perClass.set(v.best, (perClass.get(v.best) ?? 0) + 1);
      picked.push({ input: rowToBytes(v.row), class: classes[v.best], probabilities: v.p.map((x) => Math.round(x * 1e6) / 1e6) });
    }
  }
  if (picked.length === 0) throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', 'no self-test vector with a clear class margin; pass rows with --vectors');
  return picked;
}

export async function buildRelease(payload: Uint8Array, o: ReleaseOptions): Promise<Release> {
  const meta = readOnnxMetadata(payload);
  const classes = o.classes ?? parseClasses(meta);
  if (!classes?.length) throw new NetsensorError('ERR_USAGE', 'the model has no `classes` metadata; pass --classes a,b,c');
  const tolerance = o.tolerance ?? DEFAULT_TOLERANCE;
  const now = o.now ?? Date.now();
  const metaId = [meta.model_id, meta.model_version].find((x) => x !== undefined && ID_PATTERN.test(x));
  const modelId = o.modelId ?? metaId ?? o.defaultModelId ?? `model-${now}`;
  if (!ID_PATTERN.test(modelId)) throw new NetsensorError('ERR_USAGE', `model id ${modelId} must match ${ID_PATTERN}`);
  if (!ID_PATTERN.test(o.channel)) throw new NetsensorError('ERR_USAGE', `channel ${o.channel} must match ${ID_PATTERN}`);
  const manifest: Manifest = {
    type: MANIFEST_TYPE,
    format: MANIFEST_FORMAT,
    channel: o.channel,
    model_id: modelId,
    seq: o.seq ?? now,
    payload: describePayload(payload, o.chunkSize ?? DEFAULT_CHUNK_BYTES),
    schema_id: o.schemaId ?? meta.feature_schema_id ?? SCHEMA_ID,
    min_sensor_version: o.minSensorVersion ?? packageVersion(),
    classes,
    thresholds: o.thresholds ?? parseThresholds(meta, classes),
    created_ms: now,
    expires_ms: o.expiresMs ?? now + DEFAULT_EXPIRY_DAYS * DAY_MS,
    self_test: { tolerance, vectors: await selfTestVectors(o, payload, classes, tolerance) },
    rollout: { percent: o.rolloutPercent ?? 100, ...(o.targets ? { targets: o.targets } : {}) },
  };
  const envelope = encodeEnvelope(signManifest(manifest, o.privateKey, o.rotations ?? []));
  return { manifest, envelope, payload };
}

// ── CLI ────────────────────────────────────────────────────────────────────────────────────────────────────

const HELP = `usage: netsensor model publish <model.onnx> --channel NAME --key FILE [options]

Signs a model update and hands it to the gateway, which rolls it out (docs/ota.md).

  --channel NAME        update channel (e.g. stable)                                    [required]
  --key FILE            Ed25519 signing key (netsensor keys generate); a rotation.cbor next to it is attached
  --rollout PERCENT     share of sensors in the first stage, 1..100                     [100]
  --targets a,b         only these sensor ids may apply it (signed)
  --seq N               sequence number (must grow with every release)                  [now, in ms]
  --model-id ID         [metadata model_id]
  --classes a,b,c       class names in output order                                     [metadata classes]
  --thresholds FILE     JSON object of thresholds                                       [metadata thresholds]
  --min-sensor-version  X.Y.Z                                                            [this version]
  --expires-days N      validity of the manifest                                        [${DEFAULT_EXPIRY_DAYS}]
  --tolerance X         self-test probability tolerance                                 [${DEFAULT_TOLERANCE}]
  --vectors FILE        JSON lines of feature rows (objects by feature name, or arrays) to use as self-test inputs
  --chunk-size BYTES    payload chunk size on MQTT                                      [${DEFAULT_CHUNK_BYTES}]
  --gateway URL         POST the bundle to the gateway's /api/models (token: NETSENSOR_GW_API_TOKEN)
  --broker URL          publish the bundle to netsensor/v1/models/<channel>/upload (retained; the gateway takes it)
  --out FILE            write the bundle (CBOR) to FILE instead
`;

function flagValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new NetsensorError('ERR_USAGE', `${name} needs a value`);
  return v;
}

function positiveInt(text: string | undefined, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new NetsensorError('ERR_USAGE', `${name} must be an integer 1..${max}, got ${text}`);
  return n;
}

function readVectorRows(path: string): Float32Array[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((line, i) => {
    const v = JSON.parse(line);
    const row = new Float32Array(NUM_FEATURES);
    if (Array.isArray(v)) {
      if (v.length !== NUM_FEATURES) throw new NetsensorError('ERR_USAGE', `${path}:${i + 1}: ${v.length} values, schema has ${NUM_FEATURES}`);
      row.set(v);
    } else {
      FEATURE_NAMES.forEach((name, f) => { row[f] = Number(v[name] ?? 0); });
    }
    return row;
  });
}

export async function runPublish(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const file = argv.find((a, i) => !a.startsWith('--') && (i === 0 || !argv[i - 1].startsWith('--')));
  const channel = flagValue(argv, '--channel');
  const keyPath = flagValue(argv, '--key');
  if (!file || !channel || !keyPath) {
    process.stderr.write(HELP);
    return 2;
  }
  if (!existsSync(file)) throw new NetsensorError('ERR_USAGE', `no such model file: ${file}`);
  const privateKey = loadPrivateKey(keyPath);
  const rotationPath = join(dirname(keyPath), ROTATION_FILE);
  const rotations = existsSync(rotationPath) ? decodeRotationChain(readFileSync(rotationPath)) : [];
  const thresholdsPath = flagValue(argv, '--thresholds');
  const vectorsPath = flagValue(argv, '--vectors');
  const expiresDays = positiveInt(flagValue(argv, '--expires-days'), '--expires-days', 3650);
  const tol = flagValue(argv, '--tolerance');
  const now = Date.now();
  const release = await buildRelease(new Uint8Array(readFileSync(file)), {
    channel,
    privateKey,
    now,
    seq: positiveInt(flagValue(argv, '--seq'), '--seq'),
    modelId: flagValue(argv, '--model-id'),
    defaultModelId: basename(file).replace(/\.onnx$/, '').replace(/[^A-Za-z0-9_.-]/g, '_'),
    classes: flagValue(argv, '--classes')?.split(','),
    thresholds: thresholdsPath ? JSON.parse(readFileSync(thresholdsPath, 'utf8')) : undefined,
    minSensorVersion: flagValue(argv, '--min-sensor-version'),
    rolloutPercent: positiveInt(flagValue(argv, '--rollout'), '--rollout', 100),
    targets: flagValue(argv, '--targets')?.split(','),
    expiresMs: expiresDays ? now + expiresDays * DAY_MS : undefined,
    tolerance: tol === undefined ? undefined : Number(tol),
    vectorRows: vectorsPath ? readVectorRows(vectorsPath) : undefined,
    chunkSize: positiveInt(flagValue(argv, '--chunk-size'), '--chunk-size'),
    rotations,
  });
  const bundle = encodeBundle({ v: 1, envelope: release.envelope, payload: release.payload });
  const m = release.manifest;
  const summary = `${m.model_id} seq ${m.seq} → channel ${m.channel} (${m.payload.size} bytes, ${m.payload.chunks.length} chunks, ` +
    `${m.self_test.vectors.length} self-test vectors, rollout ${m.rollout.percent}%${rotations.length ? `, ${rotations.length} key rotation(s)` : ''})`;
  const gateway = flagValue(argv, '--gateway');
  const broker = flagValue(argv, '--broker');
  const out = flagValue(argv, '--out');
  if (out) {
    writeFileSync(out, bundle);
    process.stdout.write(`wrote ${out}: ${summary}\n`);
  } else if (gateway) {
    // The API token (needed from anywhere but the gateway's own host) comes from the environment, never a flag.
    const token = process.env.NETSENSOR_GW_API_TOKEN;
    const headers: Record<string, string> = { 'content-type': 'application/cbor', 'x-netsensor-request': '1', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    let res: Response;
    try {
      res = await fetch(new URL('/api/models', gateway), { method: 'POST', headers, body: Buffer.from(bundle) });
    } catch (e) {
      throw new NetsensorError('ERR_USAGE', `cannot reach the gateway at ${gateway}: ${(e as Error).cause ? String((e as Error).cause) : (e as Error).message}`, { exitCode: 1 });
    }
    const text = await res.text();
    if (!res.ok) {
      let why = text.slice(0, 300);
      try {
        const err = (JSON.parse(text) as { error?: { reason?: string; message?: string } }).error;
        if (err?.message) why = err.message;
      } catch { /* not JSON */ }
      const hint = res.status === 401 || res.status === 403 ? ' (set NETSENSOR_GW_API_TOKEN)' : '';
      throw new NetsensorError('ERR_USAGE', `gateway refused the update (${res.status}): ${why}${hint}`, { exitCode: 1 });
    }
    process.stdout.write(`published ${summary}\n${text}\n`);
  } else if (broker) {
    const { connectAsync } = await import('mqtt');
    const client = await connectAsync(broker, { clientId: `netsensor-publish-${process.pid}`, reconnectPeriod: 0 });
    try {
      await client.publishAsync(topics.modelUpload(channel), Buffer.from(bundle), { qos: 1, retain: true });
    } finally {
      await client.endAsync();
    }
    process.stdout.write(`uploaded ${summary}\n`);
  } else {
    throw new NetsensorError('ERR_USAGE', 'say where to publish: --gateway URL, --broker URL or --out FILE');
  }
  return 0;
}
