/**
 * The episode block of a risk event (wire v1, optional field `episode`): what a sensor accumulated about one actor
 * and one attack family before and while it published. A risk event with an episode stands for every flow counted
 * in it; the event's `flow` is the latest strong flow, for the EVE flat fields. Sensors of this version send every
 * event with an episode; an event without one is a single-flow verdict (older sensors) and is still accepted.
 */

/** `open`: the evidence passed the family's threshold; `update`: counts changed (≤ about 1/s); `closed`: it went quiet. */
export type EpisodeState = 'open' | 'update' | 'closed';
export const EPISODE_STATES: readonly EpisodeState[] = ['open', 'update', 'closed'];

/** Whose behaviour the episode describes: the source host (scans, brute force, tunnels, C2) or a destination (floods, fan-in). */
export type ActorRole = 'src' | 'dst';

export interface Episode {
  /** UUIDv7 of the episode (every event of one episode carries the same id). */
  id: string;
  state: EpisodeState;
  role: ActorRole;
  /** The actor's address (src_ip for role src, dst_ip for role dst). */
  actor: string;
  /** Flows that gave evidence to this episode, and their packets and bytes (both directions). */
  flows: number;
  packets: number;
  bytes: number;
  /** Distinct peers (destinations for role src, sources for role dst) and destination ports; exact up to a cap. */
  peer_count: number;
  port_count: number;
  /** A few of them (capped lists). */
  peers: string[];
  ports: number[];
  /** Flow time of the first and last evidence, ms since the epoch. */
  first_seen_ms: number;
  last_seen_ms: number;
  /** Accumulated (decayed) evidence, and the threshold it passed. */
  evidence: number;
  threshold: number;
  /** Evidence that matched the site baseline and was down-weighted (flows). */
  suppressed: number;
}

/** Wire bounds: lists are capped so one event stays small. */
export const EPISODE_LIST_CAP = 16;
const MAX_COUNT = 1e12;
/** Up to 2100-01-01: a later flow time is a broken clock or a forged event (old captures may start at 1970). */
export const MAX_TIME_MS = 4_102_444_800_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const IP = /^[0-9a-fA-F:.]{2,45}$/;

const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_COUNT;
const real = (v: unknown, max = MAX_COUNT): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max;
const time = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_TIME_MS;

/** Why an episode block is invalid, or undefined when it is valid. */
export function checkEpisode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'episode is not an object';
  const x = e as Record<string, unknown>;
  if (typeof x.id !== 'string' || !UUID.test(x.id)) return 'episode.id is not a UUIDv7';
  if (!EPISODE_STATES.includes(x.state as EpisodeState)) return 'episode.state is not open, update or closed';
  if (x.role !== 'src' && x.role !== 'dst') return 'episode.role is not src or dst';
  if (typeof x.actor !== 'string' || !IP.test(x.actor)) return 'episode.actor is not an address';
  for (const k of ['flows', 'packets', 'bytes', 'peer_count', 'port_count', 'suppressed'] as const) {
    if (!count(x[k])) return `episode.${k} is not a count`;
  }
  if ((x.flows as number) < 1) return 'episode.flows is below 1';
  if (!time(x.first_seen_ms) || !time(x.last_seen_ms)) return 'episode first/last seen is not a time before 2100';
  if ((x.last_seen_ms as number) < (x.first_seen_ms as number)) return 'episode.last_seen_ms is before first_seen_ms';
  if (!real(x.evidence) || !real(x.threshold)) return 'episode evidence/threshold is not a finite non-negative number';
  if (!Array.isArray(x.peers) || x.peers.length > EPISODE_LIST_CAP || !x.peers.every((p) => typeof p === 'string' && IP.test(p))) {
    return 'episode.peers is not a short list of addresses';
  }
  if (!Array.isArray(x.ports) || x.ports.length > EPISODE_LIST_CAP || !x.ports.every((p) => Number.isInteger(p) && p >= 0 && p <= 65535)) {
    return 'episode.ports is not a short list of ports';
  }
  return undefined;
}
