/**
 * The canonical bidirectional flow key: (addresses, ports, protocol, VLAN id). Both directions of a
 * conversation hash to the same value because the two endpoint hashes are combined in sorted order; the slot
 * itself stores the key in initiator orientation and a lookup tells which direction the packet goes.
 */
import { pktSrc, pktDst, pktSrcPort, pktDstPort, pktProtocol, pktVlanId } from '../decode/packet';

/** murmur3's 64-bit finaliser: every input bit affects every output bit. */
// @ts-ignore: decorator
@inline export function mix64(x: u64): u64 {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccd;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53;
  x ^= x >> 33;
  return x;
}

/** Hash of a 16-byte address (IPv4 is ::ffff:a.b.c.d, so one shape for both versions). */
// @ts-ignore: decorator
@inline export function addrHash(addr: usize): u64 {
  return addrWordsHash(load<u64>(addr), load<u64>(addr, 8));
}

/** Hash of a 16-byte address given as its two little-endian u64 halves (what addrHash loads). */
// @ts-ignore: decorator
@inline export function addrWordsHash(a: u64, b: u64): u64 {
  return mix64(a * 0x9e3779b97f4a7c15 ^ rotl<u64>(b, 29) * 0xbf58476d1ce4e5b9);
}

// @ts-ignore: decorator
@inline function endpointHash(addrHash: u64, port: u32): u64 {
  return addrHash ^ mix64(<u64>port + 0x632be59bd9b4e019);
}

/**
 * Direction-independent 32-bit hash of a flow key given as its addresses' hashes (addrHash), ports, protocol and
 * VLAN id. The one definition both the flow table (packetFlowHash) and the prefetcher (assembly/flow/prefetch.ts)
 * use.
 */
// @ts-ignore: decorator
@inline export function flowHashOf(srcHash: u64, srcPort: u32, dstHash: u64, dstPort: u32, proto: u32, vlan: u32): u32 {
  const a = endpointHash(srcHash, srcPort);
  const b = endpointHash(dstHash, dstPort);
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  const h = mix64(lo ^ rotl<u64>(hi, 23) * 0x94d049bb133111eb ^ ((<u64>proto << 16) | <u64>vlan));
  return <u32>(h ^ (h >> 32));
}

/** Direction-independent 32-bit hash of the current packet's flow key. */
// @ts-ignore: decorator
@inline export function packetFlowHash(): u32 {
  return flowHashOf(addrHash(pktSrc), <u32>pktSrcPort, addrHash(pktDst), <u32>pktDstPort, <u32>pktProtocol, <u32>pktVlanId);
}

/** 16-byte address equality. */
// @ts-ignore: decorator
@inline export function addrEq(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8);
}

// @ts-ignore: decorator
@inline export function addrCopy(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst, load<u64>(src, 8), 8);
}
