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
  return mix64(load<u64>(addr) * 0x9e3779b97f4a7c15 ^ rotl<u64>(load<u64>(addr, 8), 29) * 0xbf58476d1ce4e5b9);
}

// @ts-ignore: decorator
@inline function endpointHash(addr: usize, port: u32): u64 {
  return addrHash(addr) ^ mix64(<u64>port + 0x632be59bd9b4e019);
}

/** Direction-independent 32-bit hash of the current packet's flow key. */
// @ts-ignore: decorator
@inline export function packetFlowHash(): u32 {
  const a = endpointHash(pktSrc, <u32>pktSrcPort);
  const b = endpointHash(pktDst, <u32>pktDstPort);
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  const h = mix64(lo ^ rotl<u64>(hi, 23) * 0x94d049bb133111eb ^ ((<u64>pktProtocol << 16) | <u64>pktVlanId));
  return <u32>(h ^ (h >> 32));
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
