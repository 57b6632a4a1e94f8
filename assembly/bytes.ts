/**
 * Every byte-order read of the core lives here (Suricata keeps header accessors in one place for the same
 * reason): wire formats are big-endian, WebAssembly is little-endian. Callers check bounds ONCE per header,
 * then read with these unchecked loads.
 */

// @ts-ignore: decorator
@inline export function u8at(p: usize): u32 {
  return <u32>load<u8>(p);
}

/** Network-order (big-endian) 16-bit read. */
// @ts-ignore: decorator
@inline export function be16(p: usize): u32 {
  return <u32>bswap<u16>(load<u16>(p));
}

/** Network-order (big-endian) 32-bit read. */
// @ts-ignore: decorator
@inline export function be32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

/** Little-endian 32-bit read (BSD loopback family written by a little-endian host). */
// @ts-ignore: decorator
@inline export function le32(p: usize): u32 {
  return load<u32>(p);
}

/** Byte swap of a 32-bit value (BSD loopback family in the other byte order). */
// @ts-ignore: decorator
@inline export function swap32(v: u32): u32 {
  return bswap<u32>(v);
}

/** Copies an IPv4 address at `src` into a 16-byte key slot as ::ffff:a.b.c.d (addresses have one shape). */
// @ts-ignore: decorator
@inline export function storeV4Mapped(dst: usize, src: usize): void {
  store<u64>(dst, 0);
  store<u32>(dst, 0xffff0000, 8); // bytes 10..11 = ff ff (little-endian store of 0xffff0000 at +8)
  store<u32>(dst, load<u32>(src), 12); // address bytes copied as-is: no byte-order conversion
}

/** Copies a 16-byte IPv6 address. */
// @ts-ignore: decorator
@inline export function storeV6(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst, load<u64>(src, 8), 8);
}
