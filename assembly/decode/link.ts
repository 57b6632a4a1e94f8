// OWNED BY: decode work. decodePacket(): link layer dispatch → fills assembly/decode/packet.ts. STUB.
export function decodePacket(data: usize, caplen: u32, linktype: u32, tsMs: f64): bool {
  return false;
}
