/**
 * The nftables text of response enforcement: one table of its own (`inet netsensor`), never any other, with
 * sets whose elements carry kernel timeouts — an action ends at its time even if no netsensor process is left
 * to remove it. Every function returns lines of one `nft -f` transaction: all of it applies, or none.
 *
 * Sets (per IP version, suffix 4 / 6):
 *   block_src   drop everything from the address (forward and to the box itself)
 *   rate_src    more than `ratePps` packets/s from the address are dropped (per address, a dynamic meter)
 *   block_pair  address . destination: drop that one pair
 *   quarantine  the device reaches only DNS and DHCP on the box itself; nothing is forwarded to or from it
 */
import type { ActionKind, ActionSpec } from '../../protocol/command.js';

export const TABLE = 'inet netsensor';

const SET_OF: Record<ActionKind, string> = {
  block_source: 'block_src', rate_limit: 'rate_src', block_destination: 'block_pair', quarantine: 'quarantine',
};
const SETS = Object.values(SET_OF);

const v6 = (ip: string) => ip.includes(':');
const fam = (ip: string) => (v6(ip) ? 'ip6' : 'ip');

export const setName = (a: Pick<ActionSpec, 'kind' | 'src'>) => `${SET_OF[a.kind]}${v6(a.src) ? 6 : 4}`;
export const element = (a: Pick<ActionSpec, 'src' | 'dst'>) => (a.dst ? `${a.src} . ${a.dst}` : a.src);

/** nft time: whole seconds and milliseconds (`12s250ms`); at least 1 s so a nearly-over action is not "no timeout". */
export function nftTimeout(ms: number): string {
  const t = Math.max(1000, Math.round(ms));
  const s = Math.floor(t / 1000), rest = t % 1000;
  return rest ? `${s}s${rest}ms` : `${s}s`;
}

/**
 * Creates what is missing and rewrites the chains; sets that exist keep their elements (after a crash the
 * running timeouts stay as they were until the gateway's record reconciles them).
 */
export function skeleton(ratePps: number): string[] {
  const out = [`add table ${TABLE}`];
  for (const n of [4, 6]) {
    const addr = n === 4 ? 'ipv4_addr' : 'ipv6_addr';
    for (const s of SETS) {
      const type = s === 'block_pair' ? `${addr} . ${addr}` : addr;
      out.push(`add set ${TABLE} ${s}${n} { type ${type}; flags timeout; }`);
    }
    out.push(`add set ${TABLE} rate_meter${n} { type ${addr}; flags dynamic,timeout; timeout 10s; }`);
  }
  // Priority -10: before the usual filter tables, so an accept elsewhere cannot let a blocked source through.
  out.push(`add chain ${TABLE} forward { type filter hook forward priority -10; policy accept; }`);
  out.push(`add chain ${TABLE} input { type filter hook input priority -10; policy accept; }`);
  out.push(`flush chain ${TABLE} forward`, `flush chain ${TABLE} input`);
  for (const [f, n] of [['ip', 4], ['ip6', 6]] as const) {
    for (const chain of ['forward', 'input']) {
      const rule = (r: string) => out.push(`add rule ${TABLE} ${chain} ${r}`);
      rule(`${f} saddr @block_src${n} counter drop`);
      rule(`${f} saddr . ${f} daddr @block_pair${n} counter drop`);
      rule(`${f} saddr @rate_src${n} update @rate_meter${n} { ${f} saddr limit rate over ${ratePps}/second } counter drop`);
      if (chain === 'input') {
        // a quarantined device keeps DNS and DHCP to the box (the gateway of its network), nothing else
        rule(`${f} saddr @quarantine${n} udp dport { 53, 67, 547 } accept`);
        rule(`${f} saddr @quarantine${n} tcp dport 53 accept`);
      } else {
        rule(`${f} daddr @quarantine${n} counter drop`);
      }
      rule(`${f} saddr @quarantine${n} counter drop`);
    }
  }
  return out;
}

/** Adds (or renews with a new timeout) one action's element, whether or not it is there. */
export function addLines(a: ActionSpec, now: number): string[] {
  const set = `${TABLE} ${setName(a)}`, el = element(a);
  // add (no-op when present) + delete + add: the element ends up with exactly this timeout in every case
  return [`add element ${set} { ${el} }`, `delete element ${set} { ${el} }`, `add element ${set} { ${el} timeout ${nftTimeout(a.until_ms - now)} }`];
}

/** Removes one action's element; no error when it already expired. */
export function removeLines(a: Pick<ActionSpec, 'kind' | 'src' | 'dst'>): string[] {
  const set = `${TABLE} ${setName(a)}`, el = element(a);
  return [`add element ${set} { ${el} }`, `delete element ${set} { ${el} }`];
}

/** Makes the sets hold exactly `actions` (a sync from the gateway's record). */
export function reconcileLines(actions: ActionSpec[], now: number): string[] {
  const out = [4, 6].flatMap((n) => SETS.map((s) => `flush set ${TABLE} ${s}${n}`));
  for (const a of actions) if (a.until_ms > now) out.push(`add element ${TABLE} ${setName(a)} { ${element(a)} timeout ${nftTimeout(a.until_ms - now)} }`);
  return out;
}

/** What `nft -j list table inet netsensor` says is in the sets: `<set>:<element>` → ms left. */
export function parseListing(json: string): Map<string, number> {
  const out = new Map<string, number>();
  const doc = JSON.parse(json) as { nftables?: Array<{ set?: { name: string; elem?: unknown[] } }> };
  for (const item of doc.nftables ?? []) {
    const set = item.set;
    if (!set?.elem) continue;
    for (const e of set.elem) {
      const inner = (e as { elem?: { val: unknown; expires?: number } }).elem;
      const val = inner ? inner.val : e;
      const text = typeof val === 'object' && val !== null && 'concat' in val ? (val as { concat: string[] }).concat.join(' . ') : String(val);
      out.set(`${set.name}:${text}`, (inner?.expires ?? 0) * 1000);
    }
  }
  return out;
}
