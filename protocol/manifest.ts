/**
 * Signed model manifest, format v1 (see docs/ota.md). What the operator signs, what the gateway distributes and
 * what a sensor verifies before it touches a payload byte.
 *
 * Lessons taken from TUF / Uptane and RFC 9124 (SUIT):
 *  - the signature covers the exact bytes of a canonical CBOR encoding (`signed`, carried as a byte string),
 *    and those bytes are only decoded AFTER a trusted key verified them: nothing outside `signed` is trusted;
 *  - every signed document names its type, so a key-rotation record can never pass as a manifest;
 *  - the manifest binds channel, monotonic sequence number, expiry, payload size + sha256 (and per-chunk sha256,
 *    so a bad chunk is refused before the payload is assembled), feature schema and minimum sensor version;
 *  - sizes are bounded before anything is allocated.
 *
 * Wire form of the envelope (CBOR, not itself signed):
 *   { v: 1, signed: bstr, signatures: [{ keyid: tstr, sig: bstr }], rotations?: [{ signed: bstr, sig: {keyid, sig} }] }
 */
import { createHash, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { Decoder, encode as cborEncode } from 'cbor-x';
import { NetsensorError } from '../common/errors.js';
import { keyId, publicKeyFromRaw, rawPublicKey } from '../common/keys.js';
import { encodeCanonical, type CanonicalValue } from './canonical-cbor.js';
import { ID_PATTERN } from './topics.js';

export const MANIFEST_FORMAT = 1;
export const MANIFEST_TYPE = 'netsensor.model-manifest';
export const ROTATION_TYPE = 'netsensor.key-rotation';
export const MAX_ENVELOPE_BYTES = 256 * 1024;
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
export const MAX_SELF_TEST_VECTORS = 64;

/** Why an update was refused. Stable strings: reported on the sensor's ota topic and counted by the gateway. */
export type OtaRejectReason =
  | 'bad_envelope'
  | 'no_signature'
  | 'untrusted_key'
  | 'bad_signature'
  | 'bad_rotation'
  | 'bad_manifest'
  | 'wrong_channel'
  | 'expired'
  | 'stale_sequence'
  | 'sequence_conflict'
  | 'sequence_jump'
  | 'no_trusted_keys'
  | 'schema_mismatch'
  | 'sensor_too_old'
  | 'payload_too_large'
  | 'size_mismatch'
  | 'hash_mismatch'
  | 'download_timeout'
  | 'model_load_failed'
  | 'class_mismatch'
  | 'self_test_failed'
  | 'persist_failed';

export class OtaRejected extends NetsensorError {
  readonly reason: OtaRejectReason;
  constructor(reason: OtaRejectReason, message: string) {
    super('ERR_OTA_REJECTED', `${reason}: ${message}`, { detail: { reason } });
    this.reason = reason;
  }
}

export interface SelfTestVector {
  /** One feature row: NUM_FEATURES float32 values, little-endian. */
  input: Uint8Array;
  /** Expected top class name. */
  class: string;
  /** Expected class probabilities, in `classes` order. */
  probabilities: number[];
}

export interface PayloadInfo {
  media_type: 'application/onnx';
  size: number;
  sha256: Uint8Array;
  chunk_size: number;
  /** sha256 of each chunk, in order. */
  chunks: Uint8Array[];
}

export interface RolloutIntent {
  /** Share of the channel's sensors in the first stage (1..100). */
  percent: number;
  /** When set, only these sensors may ever apply this manifest. */
  targets?: string[];
}

export interface Manifest {
  type: typeof MANIFEST_TYPE;
  format: typeof MANIFEST_FORMAT;
  channel: string;
  model_id: string;
  seq: number;
  payload: PayloadInfo;
  schema_id: string;
  min_sensor_version: string;
  classes: string[];
  thresholds: Record<string, number>;
  created_ms: number;
  expires_ms: number;
  self_test: { tolerance: number; vectors: SelfTestVector[] };
  rollout: RolloutIntent;
}

export interface RotationRecord {
  type: typeof ROTATION_TYPE;
  /** Rotation records form a chain; each one's version is one higher than the last. */
  version: number;
  /** Raw 32-byte Ed25519 public key being endorsed. */
  new_key: Uint8Array;
  /** When true the endorsing key is no longer trusted once this record is accepted. */
  retire_signer: boolean;
  created_ms: number;
}

export interface Signature { keyid: string; sig: Uint8Array }
export interface SignedRotation { signed: Uint8Array; sig: Signature }
export interface Envelope {
  v: 1;
  signed: Uint8Array;
  signatures: Signature[];
  rotations?: SignedRotation[];
}

// Signed documents carry ms timestamps and sequence numbers above 2^32: decode them as numbers (validation then
// insists on safe integers) instead of cbor-x's default bigint.
const decoder = new Decoder({ int64AsNumber: true, mapsAsObjects: true } as ConstructorParameters<typeof Decoder>[0]);
export function cborDecode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

// ── chunking ────────────────────────────────────────────────────────────────────────────────────────────────

export function splitPayload(payload: Uint8Array, chunkSize = DEFAULT_CHUNK_BYTES): Uint8Array[] {
  if (!Number.isInteger(chunkSize) || chunkSize < 1024) throw new RangeError('chunk size must be an integer ≥ 1024');
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += chunkSize) out.push(payload.subarray(off, Math.min(payload.length, off + chunkSize)));
  if (out.length === 0) out.push(new Uint8Array(0));
  return out;
}

export function describePayload(payload: Uint8Array, chunkSize = DEFAULT_CHUNK_BYTES): PayloadInfo {
  return {
    media_type: 'application/onnx',
    size: payload.length,
    sha256: sha256(payload),
    chunk_size: chunkSize,
    chunks: splitPayload(payload, chunkSize).map(sha256),
  };
}

/** Checks one chunk against the signed manifest (before it is kept in memory). */
export function checkChunk(m: Manifest, index: number, data: Uint8Array): void {
  if (!Number.isInteger(index) || index < 0 || index >= m.payload.chunks.length) throw new OtaRejected('size_mismatch', `chunk index ${index} out of range`);
  const expectedLen = index === m.payload.chunks.length - 1 ? m.payload.size - index * m.payload.chunk_size : m.payload.chunk_size;
  if (data.length !== expectedLen) throw new OtaRejected('size_mismatch', `chunk ${index} has ${data.length} bytes, manifest says ${expectedLen}`);
  if (!equalBytes(sha256(data), m.payload.chunks[index])) throw new OtaRejected('hash_mismatch', `chunk ${index} sha256 differs from the manifest`);
}

/** Checks a whole payload against the signed manifest. */
export function checkPayload(m: Manifest, payload: Uint8Array): void {
  if (payload.length !== m.payload.size) throw new OtaRejected('size_mismatch', `payload has ${payload.length} bytes, manifest says ${m.payload.size}`);
  if (!equalBytes(sha256(payload), m.payload.sha256)) throw new OtaRejected('hash_mismatch', 'payload sha256 differs from the manifest');
}

// ── signing ─────────────────────────────────────────────────────────────────────────────────────────────────

function signBytes(bytes: Uint8Array, privateKey: KeyObject): Signature {
  return { keyid: keyId(privateKey), sig: new Uint8Array(edSign(null, bytes, privateKey)) };
}

export function encodeManifest(m: Manifest): Uint8Array {
  return encodeCanonical(m as unknown as CanonicalValue);
}

export function signManifest(m: Manifest, privateKey: KeyObject, rotations: SignedRotation[] = []): Envelope {
  const signed = encodeManifest(m);
  return { v: 1, signed, signatures: [signBytes(signed, privateKey)], ...(rotations.length ? { rotations } : {}) };
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  return new Uint8Array(cborEncode(e));
}

/** Endorses `newKey` with `currentKey`, extending `chain` (the records that led to `currentKey`, if any). */
export function signRotation(currentKey: KeyObject, newKey: KeyObject, chain: SignedRotation[] = [], retireSigner = true): SignedRotation[] {
  const rec: RotationRecord = {
    type: ROTATION_TYPE,
    version: chain.length + 1,
    new_key: rawPublicKey(newKey),
    retire_signer: retireSigner,
    created_ms: Date.now(),
  };
  const signed = encodeCanonical(rec as unknown as CanonicalValue);
  return [...chain, { signed, sig: signBytes(signed, currentKey) }];
}

export function encodeRotationChain(chain: SignedRotation[]): Uint8Array {
  return new Uint8Array(cborEncode(chain));
}

export function decodeRotationChain(bytes: Uint8Array): SignedRotation[] {
  const v = cborDecode(bytes) as unknown;
  if (!Array.isArray(v)) throw new NetsensorError('ERR_KEY', 'rotation file is not a CBOR array');
  return v.map((r) => asSignedRotation(r));
}

// ── verification ────────────────────────────────────────────────────────────────────────────────────────────

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !isBytes(v);

function asSignature(v: unknown): Signature {
  if (!isObj(v) || typeof v.keyid !== 'string' || !isBytes(v.sig)) throw new OtaRejected('bad_envelope', 'malformed signature entry');
  return { keyid: v.keyid, sig: v.sig };
}

function asSignedRotation(v: unknown): SignedRotation {
  if (!isObj(v) || !isBytes(v.signed)) throw new OtaRejected('bad_rotation', 'malformed rotation entry');
  return { signed: v.signed, sig: asSignature(v.sig) };
}

/** Decodes the outer envelope only; `signed` stays an opaque byte string until a signature over it checks out. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length === 0 || bytes.length > MAX_ENVELOPE_BYTES) throw new OtaRejected('bad_envelope', `envelope size ${bytes.length} outside 1..${MAX_ENVELOPE_BYTES}`);
  let v: unknown;
  try {
    v = cborDecode(bytes);
  } catch {
    throw new OtaRejected('bad_envelope', 'not CBOR');
  }
  if (!isObj(v) || v.v !== 1 || !isBytes(v.signed)) throw new OtaRejected('bad_envelope', 'not a v1 envelope');
  const sigs = v.signatures === undefined ? [] : v.signatures;
  if (!Array.isArray(sigs)) throw new OtaRejected('bad_envelope', 'signatures is not an array');
  const rotations = v.rotations === undefined ? [] : v.rotations;
  if (!Array.isArray(rotations)) throw new OtaRejected('bad_rotation', 'rotations is not an array');
  return { v: 1, signed: v.signed, signatures: sigs.map(asSignature), rotations: rotations.map(asSignedRotation) };
}

/** A sensor's trusted signing keys, with the version of the last rotation record it accepted. */
export interface TrustedKeys {
  keys: Map<string, KeyObject>;
  rotationVersion: number;
}

export function trustedKeysFrom(keys: KeyObject[], rotationVersion = 0): TrustedKeys {
  return { keys: new Map(keys.map((k) => [keyId(k), k])), rotationVersion };
}

function verifiedBy(bytes: Uint8Array, sig: Signature, trusted: TrustedKeys): boolean {
  const key = trusted.keys.get(sig.keyid);
  if (!key) return false;
  try {
    return edVerify(null, bytes, key, sig.sig);
  } catch {
    return false;
  }
}

/**
 * Applies the rotation records newer than `trusted.rotationVersion`, each of which must be signed by a key
 * trusted at that point of the chain. Returns a NEW key set (the caller persists it only once the update that
 * carried it is fully verified); throws `bad_rotation` on any break in the chain.
 */
export function applyRotations(trusted: TrustedKeys, rotations: SignedRotation[]): TrustedKeys {
  const next: TrustedKeys = { keys: new Map(trusted.keys), rotationVersion: trusted.rotationVersion };
  for (const r of rotations) {
    if (!verifiedBy(r.signed, r.sig, next)) {
      // Records we already accepted were signed by keys we may since have retired: skip them by version.
      let version: unknown;
      try { version = (cborDecode(r.signed) as Record<string, unknown>)?.version; } catch { /* fall through */ }
      if (typeof version === 'number' && version <= next.rotationVersion) continue;
      throw new OtaRejected('bad_rotation', `rotation record not signed by a trusted key (keyid ${r.sig.keyid.slice(0, 16)}…)`);
    }
    const rec = cborDecode(r.signed) as unknown;
    if (!isObj(rec) || rec.type !== ROTATION_TYPE || !Number.isSafeInteger(rec.version) || !isBytes(rec.new_key) || typeof rec.retire_signer !== 'boolean') {
      throw new OtaRejected('bad_rotation', 'malformed rotation record');
    }
    const version = rec.version as number;
    if (version <= next.rotationVersion) continue;
    if (version !== next.rotationVersion + 1) throw new OtaRejected('bad_rotation', `rotation version ${version} skips ${next.rotationVersion + 1}`);
    let newKey: KeyObject;
    try { newKey = publicKeyFromRaw(rec.new_key); } catch { throw new OtaRejected('bad_rotation', 'rotation new_key is not an Ed25519 key'); }
    if (rec.retire_signer) next.keys.delete(r.sig.keyid);
    next.keys.set(keyId(newKey), newKey);
    next.rotationVersion = version;
  }
  return next;
}

export interface VerifyOptions {
  trusted: TrustedKeys;
  channel: string;
  now?: number;
}

export interface VerifiedManifest {
  manifest: Manifest;
  /** The key set after the envelope's rotation records (persist it together with the applied model). */
  trusted: TrustedKeys;
  signedBy: string;
}

/**
 * Verifies an envelope and returns the manifest it carries. Order matters: signature over the raw signed bytes
 * first, then decode, then shape, then channel and expiry. Sequence, schema and version policy belong to the
 * receiver (sensor/ota.ts) because they depend on its persisted state.
 */
export function verifyEnvelope(bytes: Uint8Array, opts: VerifyOptions): VerifiedManifest {
  const env = decodeEnvelope(bytes);
  if (env.signatures.length === 0) throw new OtaRejected('no_signature', 'envelope carries no signature');
  const trusted = applyRotations(opts.trusted, env.rotations ?? []);
  const known = env.signatures.filter((s) => trusted.keys.has(s.keyid));
  if (known.length === 0) throw new OtaRejected('untrusted_key', `signed by ${env.signatures.map((s) => s.keyid.slice(0, 16)).join(', ')}…, none of them pinned`);
  const good = known.find((s) => verifiedBy(env.signed, s, trusted));
  if (!good) throw new OtaRejected('bad_signature', 'signature does not verify');
  let decoded: unknown;
  try {
    decoded = cborDecode(env.signed);
  } catch {
    throw new OtaRejected('bad_manifest', 'signed part is not CBOR');
  }
  const manifest = validateManifest(decoded);
  if (manifest.channel !== opts.channel) throw new OtaRejected('wrong_channel', `manifest is for channel ${manifest.channel}, not ${opts.channel}`);
  const now = opts.now ?? Date.now();
  if (now >= manifest.expires_ms) throw new OtaRejected('expired', `manifest expired at ${new Date(manifest.expires_ms).toISOString()}`);
  return { manifest, trusted, signedBy: good.keyid };
}

const SEMVER = /^\d+\.\d+\.\d+$/;
const CLASS_NAME = /^[a-z][a-z0-9_]{0,31}$/;

function bad(what: string): never {
  throw new OtaRejected('bad_manifest', what);
}

/** Shape check of a (verified) manifest: every field typed and bounded. */
export function validateManifest(v: unknown): Manifest {
  if (!isObj(v)) bad('not a map');
  if (v.type !== MANIFEST_TYPE) bad(`type is ${String(v.type)}, not ${MANIFEST_TYPE}`);
  if (v.format !== MANIFEST_FORMAT) bad(`unknown format ${String(v.format)}`);
  if (typeof v.channel !== 'string' || !ID_PATTERN.test(v.channel)) bad('bad channel');
  if (typeof v.model_id !== 'string' || !ID_PATTERN.test(v.model_id)) bad('bad model_id');
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 1) bad('seq must be a positive integer');
  const p = v.payload;
  if (!isObj(p) || p.media_type !== 'application/onnx') bad('bad payload media type');
  if (!Number.isSafeInteger(p.size) || (p.size as number) < 1) bad('bad payload size');
  if ((p.size as number) > MAX_PAYLOAD_BYTES) throw new OtaRejected('payload_too_large', `payload of ${p.size} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  if (!isBytes(p.sha256) || p.sha256.length !== 32) bad('bad payload sha256');
  if (!Number.isSafeInteger(p.chunk_size) || (p.chunk_size as number) < 1024) bad('bad chunk size');
  if (!Array.isArray(p.chunks) || p.chunks.length !== Math.ceil((p.size as number) / (p.chunk_size as number))) bad('chunk list does not match size');
  if (!p.chunks.every((c) => isBytes(c) && c.length === 32)) bad('bad chunk sha256');
  if (typeof v.schema_id !== 'string' || v.schema_id.length > 64) bad('bad schema_id');
  if (typeof v.min_sensor_version !== 'string' || !SEMVER.test(v.min_sensor_version)) bad('bad min_sensor_version');
  if (!Array.isArray(v.classes) || v.classes.length < 1 || v.classes.length > 64 || !v.classes.every((c) => typeof c === 'string' && CLASS_NAME.test(c))) bad('bad classes');
  if (!isObj(v.thresholds) || !Object.values(v.thresholds).every((t) => typeof t === 'number' && Number.isFinite(t))) bad('bad thresholds');
  if (!Number.isSafeInteger(v.created_ms) || !Number.isSafeInteger(v.expires_ms) || (v.expires_ms as number) <= (v.created_ms as number)) bad('bad created/expiry times');
  const st = v.self_test;
  if (!isObj(st) || typeof st.tolerance !== 'number' || !(st.tolerance >= 0 && st.tolerance <= 0.5)) bad('bad self_test tolerance');
  if (!Array.isArray(st.vectors) || st.vectors.length < 1 || st.vectors.length > MAX_SELF_TEST_VECTORS) bad('self_test needs 1..64 vectors');
  const nClasses = (v.classes as string[]).length;
  for (const t of st.vectors) {
    if (!isObj(t) || !isBytes(t.input) || t.input.length % 4 !== 0 || t.input.length === 0) bad('bad self_test input');
    if (typeof t.class !== 'string' || !(v.classes as string[]).includes(t.class)) bad('self_test class not in classes');
    if (!Array.isArray(t.probabilities) || t.probabilities.length !== nClasses || !t.probabilities.every((x) => typeof x === 'number')) bad('bad self_test probabilities');
  }
  const r = v.rollout;
  if (!isObj(r) || !Number.isSafeInteger(r.percent) || (r.percent as number) < 1 || (r.percent as number) > 100) bad('rollout percent must be 1..100');
  if (r.targets !== undefined && (!Array.isArray(r.targets) || !r.targets.every((t) => typeof t === 'string' && ID_PATTERN.test(t)))) bad('bad rollout targets');
  return v as unknown as Manifest;
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** Float32 little-endian bytes of a feature row (self-test vector inputs). */
export function rowToBytes(row: ArrayLike<number>): Uint8Array {
  const f = Float32Array.from(row as ArrayLike<number>);
  const out = new Uint8Array(f.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < f.length; i++) dv.setFloat32(i * 4, f[i], true);
  return out;
}

export function bytesToRow(bytes: Uint8Array): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

// ── upload bundle (operator → gateway) ─────────────────────────────────────────────────────────────────────

/** What `netsensor model publish` sends to the gateway: the signed envelope and the payload it describes. */
export interface UploadBundle {
  v: 1;
  envelope: Uint8Array;
  payload: Uint8Array;
}

export function encodeBundle(b: UploadBundle): Uint8Array {
  return new Uint8Array(cborEncode(b));
}

export function decodeBundle(bytes: Uint8Array): UploadBundle {
  if (bytes.length > MAX_PAYLOAD_BYTES + MAX_ENVELOPE_BYTES + 1024) throw new OtaRejected('payload_too_large', 'upload too large');
  let v: unknown;
  try { v = cborDecode(bytes); } catch { throw new OtaRejected('bad_envelope', 'upload is not CBOR'); }
  if (!isObj(v) || v.v !== 1 || !isBytes(v.envelope) || !isBytes(v.payload)) throw new OtaRejected('bad_envelope', 'not a v1 upload bundle');
  return { v: 1, envelope: v.envelope, payload: v.payload };
}
