/**
 * Signed response commands, gateway → sensor on netsensor/v1/sensors/<id>/response (docs/response.md), and the
 * sensor's reports on .../response-report. As strong as a model manifest (manifest.ts): Ed25519 over the exact
 * bytes of a canonical CBOR encoding, decoded only after the gateway's pinned key verified them; the command
 * names its type, its sensor, an expiry, and a sequence number the sensor keeps so nothing is accepted twice.
 *
 * Wire form (CBOR): { v: 1, signed: bstr, keyid: tstr, sig: bstr }.
 * `op` apply: add one action; undo: remove one; sync: the whole set of actions the gateway holds active for the
 * sensor (sent when the sensor comes online), which the sensor makes its table equal to.
 */
import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { encode as cborEncode } from 'cbor-x';
import { keyId } from '../common/keys.js';
import { encodeCanonical, type CanonicalValue } from './canonical-cbor.js';
import { cborDecode } from './manifest.js';
import { ID_PATTERN } from './topics.js';

export const COMMAND_TYPE = 'netsensor.response-command';
export const MAX_COMMAND_BYTES = 64 * 1024;
/** A sync lists at most this many actions (the gateway caps concurrent actions far lower). */
export const MAX_SYNC_ACTIONS = 1024;

export const ACTION_KINDS = ['rate_limit', 'block_source', 'block_destination', 'quarantine'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** One containment action as the sensor enforces it. */
export interface ActionSpec {
  /** The gateway's action id (UUIDv7). */
  id: string;
  kind: ActionKind;
  /** The device or source the action is about. */
  src: string;
  /** block_destination: the one destination `src` may no longer reach. */
  dst?: string;
  /** Wall-clock end (ms since the epoch): the kernel drops the rule then, whatever happens to either side. */
  until_ms: number;
}

export interface ResponseCommand {
  type: typeof COMMAND_TYPE;
  sensor: string;
  /** Strictly increasing per gateway key; the sensor refuses anything at or below the last one it accepted. */
  seq: number;
  issued_ms: number;
  /** The command (not the action) is void after this: a delayed or stored message cannot act late. */
  expires_ms: number;
  op: 'apply' | 'undo' | 'sync';
  /** apply / undo: one action; sync: every active action. */
  actions: ActionSpec[];
}

/** Why a sensor refused a command. Stable strings: reported and counted. */
export type RefuseReason =
  | 'bad_envelope' | 'untrusted_key' | 'bad_signature' | 'bad_command' | 'wrong_sensor' | 'expired' | 'replayed'
  | 'allowlisted' | 'too_many_actions' | 'nft_failed';

export class CommandRefused extends Error {
  constructor(readonly reason: RefuseReason, message: string) {
    super(`${reason}: ${message}`);
    this.name = 'CommandRefused';
  }
}

/** Sensor → gateway, JSON on netsensor/v1/sensors/<id>/response-report. */
export interface ResponseReport {
  v: 1;
  sensor: string;
  ts: number;
  /** Of the command, when it could be read. */
  seq?: number;
  op?: ResponseCommand['op'];
  /** ready: the sensor's table is set up (start, reconnect) and it asks for the gateway's record (a sync). */
  result: 'ready' | 'applied' | 'removed' | 'synced' | 'refused';
  /** The actions concerned (for a refusal of one action in a sync, that one). */
  action_ids: string[];
  reason?: RefuseReason;
  message?: string;
}

export function signCommand(cmd: ResponseCommand, privateKey: KeyObject): Uint8Array {
  const signed = encodeCanonical(cmd as unknown as CanonicalValue);
  return new Uint8Array(cborEncode({ v: 1, signed, keyid: keyId(privateKey), sig: new Uint8Array(edSign(null, signed, privateKey)) }));
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
/** Addresses nft accepts as set elements: IPv4 dotted quads and IPv6 text (hex and colons, optional v4 tail). */
export const isIp = (s: unknown): s is string => typeof s === 'string' && (IPV4.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]{2,45}$/.test(s)));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const safeInt = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

function validateAction(a: unknown, i: number): ActionSpec {
  const bad = (why: string) => new CommandRefused('bad_command', `actions[${i}]: ${why}`);
  if (typeof a !== 'object' || a === null) throw bad('not a map');
  const x = a as Record<string, unknown>;
  if (typeof x.id !== 'string' || !UUID.test(x.id)) throw bad('id is not a UUID');
  if (!ACTION_KINDS.includes(x.kind as ActionKind)) throw bad(`unknown kind ${JSON.stringify(x.kind)}`);
  if (!isIp(x.src)) throw bad('src is not an IP address');
  if (x.kind === 'block_destination' ? !isIp(x.dst) : x.dst !== undefined) throw bad('dst goes with block_destination only, and must be an IP address');
  if (x.kind === 'block_destination' && (x.src as string).includes(':') !== (x.dst as string).includes(':')) throw bad('src and dst are of different IP versions');
  if (!safeInt(x.until_ms)) throw bad('until_ms is not a time');
  return { id: x.id, kind: x.kind as ActionKind, src: x.src as string, ...(x.dst !== undefined ? { dst: x.dst as string } : {}), until_ms: x.until_ms };
}

/**
 * Verifies and decodes a command for `sensor` at time `now`. Replay (seq) is the caller's state and is checked
 * there. Throws CommandRefused.
 */
export function openCommand(bytes: Uint8Array, opts: { key: KeyObject; sensor: string; now: number }): ResponseCommand {
  if (bytes.length > MAX_COMMAND_BYTES) throw new CommandRefused('bad_envelope', `${bytes.length} bytes (max ${MAX_COMMAND_BYTES})`);
  let env: Record<string, unknown>;
  try {
    env = cborDecode(bytes) as Record<string, unknown>;
  } catch {
    throw new CommandRefused('bad_envelope', 'not CBOR');
  }
  if (typeof env !== 'object' || env === null || env.v !== 1 || !(env.signed instanceof Uint8Array) || !(env.sig instanceof Uint8Array)) {
    throw new CommandRefused('bad_envelope', 'expected {v: 1, signed, keyid, sig}');
  }
  if (env.keyid !== keyId(opts.key)) throw new CommandRefused('untrusted_key', 'not signed by the gateway key this sensor pins');
  if (!edVerify(null, env.signed, opts.key, env.sig)) throw new CommandRefused('bad_signature', 'signature does not verify');
  let c: Record<string, unknown>;
  try {
    c = cborDecode(env.signed) as Record<string, unknown>;
  } catch {
    throw new CommandRefused('bad_command', 'signed part is not CBOR');
  }
  if (typeof c !== 'object' || c === null || c.type !== COMMAND_TYPE) throw new CommandRefused('bad_command', 'not a response command');
  if (typeof c.sensor !== 'string' || !ID_PATTERN.test(c.sensor)) throw new CommandRefused('bad_command', 'sensor is not an id');
  if (c.sensor !== opts.sensor) throw new CommandRefused('wrong_sensor', `addressed to ${c.sensor}`);
  if (!safeInt(c.seq) || !safeInt(c.issued_ms) || !safeInt(c.expires_ms)) throw new CommandRefused('bad_command', 'seq, issued_ms and expires_ms must be integers');
  if (c.op !== 'apply' && c.op !== 'undo' && c.op !== 'sync') throw new CommandRefused('bad_command', `unknown op ${JSON.stringify(c.op)}`);
  if (!Array.isArray(c.actions) || c.actions.length > MAX_SYNC_ACTIONS || (c.op !== 'sync' && c.actions.length !== 1)) {
    throw new CommandRefused('bad_command', 'apply and undo carry one action, sync at most ' + MAX_SYNC_ACTIONS);
  }
  const actions = c.actions.map(validateAction);
  if (opts.now > c.expires_ms) throw new CommandRefused('expired', `expired ${opts.now - c.expires_ms} ms ago`);
  return { type: COMMAND_TYPE, sensor: c.sensor, seq: c.seq, issued_ms: c.issued_ms, expires_ms: c.expires_ms, op: c.op, actions };
}

/** The sequence number of a command, read without trusting it (for a report about a refused command). */
export function peekSeq(bytes: Uint8Array): number | undefined {
  try {
    const env = cborDecode(bytes) as { signed?: unknown };
    const c = cborDecode(env.signed as Uint8Array) as { seq?: unknown };
    return safeInt(c.seq) ? c.seq : undefined;
  } catch {
    return undefined;
  }
}
