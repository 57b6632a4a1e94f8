/**
 * First sightings: an actor's first flow of evidence for a family that needs several flows (a scan, a flood, brute
 * force…), held in a fixed table of preallocated slots instead of a track. A spoofed flood brings a new source address
 * with nearly every packet; as tracks (three sets, a map and a copied row each) those one-flow sources were most of a
 * flood's cost and of its garbage, and none of them can ever meet a family's minimum of flows. The actor's second flow
 * takes its sighting out of the table and starts the track with everything the first one recorded (decayed evidence,
 * flow, packets, bytes, peer and port, times, maxima): a track opens on exactly the same flows as before. What a
 * sighting does not keep is the first flow's row and top features (the event shows a later flow).
 *
 * A slot is chosen by a hash of (family, role, key); a different actor hashing to an occupied slot overwrites it
 * (counted): the displaced actor's next flow is then its first again, one flow later than it would have been.
 */
import type { Role } from './families.js';
import type { Tally } from './tally.js';

export interface Sighting extends Tally {
  family: string;
  role: Role;
  /** The track's index key ('' = free slot). */
  key: string;
  actor: string;
  peer: string;
  port: number;
  proto: number;
}

const empty = (): Sighting => ({
  family: '', role: 'src', key: '', actor: '', evidence: 0, at: 0, flows: 0, ongoing: false, probes: 0, packets: 0, bytes: 0, suppressed: 0,
  peer: '', port: 0, proto: 0, firstMs: 0, lastMs: 0, scoreMax: 0, anomalyMax: 0,
});

export class FirstSightings {
  private readonly slots: Sighting[];
  private readonly mask: number;

  /** `size`: slots, rounded up to a power of two. */
  constructor(size = 16_384) {
    let n = 1;
    while (n < size) n <<= 1;
    this.mask = n - 1;
    this.slots = Array.from({ length: n }, empty);
  }

  /**
   * The slot (family, role, key) hashes to, to read or fill in place (no allocation). `holds(slot, …)` says whether
   * it holds that actor's sighting.
   */
  slot(family: string, role: Role, key: string): Sighting {
    let h = role === 'src' ? 0x811c9dc5 : 0x01000193;
    for (let i = 0; i < family.length; i++) h = Math.imul(h ^ family.charCodeAt(i), 0x01000193);
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return this.slots[(h ^ (h >>> 15)) & this.mask]!;
  }

  /** The slot holds this actor's sighting, recent enough to matter (`maxAgeMs` of flow time). */
  static holds(s: Sighting, family: string, role: Role, key: string, now: number, maxAgeMs: number): boolean {
    return s.key === key && s.family === family && s.role === role && now - s.lastMs < maxAgeMs;
  }

  /** Takes a new sighting into `s`; true if that overwrote another actor's recent sighting. */
  static claim(s: Sighting, family: string, role: Role, key: string, actor: string, now: number, maxAgeMs: number): boolean {
    const displaced = s.key !== '' && now - s.lastMs < maxAgeMs;
    s.family = family; s.role = role; s.key = key; s.actor = actor;
    s.evidence = 0; s.at = now; s.flows = 0; s.ongoing = false; s.probes = 0; s.packets = 0; s.bytes = 0; s.suppressed = 0;
    s.peer = ''; s.port = 0; s.proto = 0; s.firstMs = Infinity; s.lastMs = -Infinity; s.scoreMax = 0; s.anomalyMax = 0;
    return displaced;
  }

  /** Frees a slot (its sighting became a track). */
  static release(s: Sighting): void {
    s.key = '';
    s.actor = '';
    s.peer = '';
  }

  clear(): void {
    for (const s of this.slots) FirstSightings.release(s);
  }
}
