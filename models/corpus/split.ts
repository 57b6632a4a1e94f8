/**
 * The corpus split, deterministic: it depends only on the group names (a device type, or a capture) and a fixed
 * salt, never on a run-time random draw or the order files are listed in. All captures of a group share a split.
 *
 * Groups are stratified by the selection rule that admitted them (one rule = one kind of traffic: MQTT, NTP,
 * device setups…): within a stratum, groups are ordered by a seeded hash of their name and spread over
 * 60 / 20 / 20 by position, starting at a seeded offset. So every split holds a mix of protocols, and a stratum
 * of 24 device types splits 14 / 5 / 5 instead of whatever a per-group coin gives.
 */
import { createHash } from 'node:crypto';
import type { Split } from '../train/dataset.js';

/** Changing the salt reshuffles every group; it is fixed so the split is part of the data, not of a run. */
export const SPLIT_SALT = 'netsensor-corpus-v1';

/** A value in [0, 1) from the salted SHA-256 of `name`. */
export function unitHash(name: string, salt = SPLIT_SALT): number {
  return createHash('sha256').update(`${salt}\u0000${name}`).digest().readUInt32BE(0) / 2 ** 32;
}

const splitAt = (u: number): Split => (u < 0.6 ? 'train' : u < 0.8 ? 'val' : 'test');

/** group → split, for the groups of each stratum. */
export function assignSplits(strata: Map<string, string[]>, salt = SPLIT_SALT): Map<string, Split> {
  const out = new Map<string, Split>();
  for (const [stratum, groups] of strata) {
    const ordered = [...new Set(groups)].sort((a, b) => unitHash(a, salt) - unitHash(b, salt) || (a < b ? -1 : 1));
    const offset = unitHash(`stratum:${stratum}`, salt);
    ordered.forEach((g, k) => out.set(g, splitAt(((k + 0.5) / ordered.length + offset) % 1)));
  }
  return out;
}
