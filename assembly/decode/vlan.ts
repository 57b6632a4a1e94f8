/**
 * 802.1Q / 802.1ad (QinQ) tags. A tag is 4 bytes after the ethertype that announced it: TCI (PCP, DEI,
 * 12-bit VLAN id) then the next ethertype. The flow key uses the innermost id.
 */
import { be16 } from '../bytes';

export const ETHERTYPE_VLAN: u32 = 0x8100; // 802.1Q
export const ETHERTYPE_QINQ: u32 = 0x88a8; // 802.1ad service tag
export const ETHERTYPE_QINQ_OLD: u32 = 0x9100; // pre-standard QinQ
export const VLAN_TAG_BYTES: u32 = 4;
/** Deeper stacks than this are not real traffic (Suricata allows 3 as well). */
export const MAX_VLAN_LAYERS: u32 = 3;

// @ts-ignore: decorator
@inline export function isVlanType(t: u32): bool {
  return t == ETHERTYPE_VLAN || t == ETHERTYPE_QINQ || t == ETHERTYPE_QINQ_OLD;
}

/** VLAN id of the tag at `p` (caller checked 4 bytes). */
// @ts-ignore: decorator
@inline export function vlanTagId(p: usize): u16 {
  return <u16>(be16(p) & 0x0fff);
}

/** Ethertype following the tag at `p`. */
// @ts-ignore: decorator
@inline export function vlanNextType(p: usize): u32 {
  return be16(p + 2);
}
