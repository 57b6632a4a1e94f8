/**
 * The decoded view of the current packet: static globals filled by decodePacket() (assembly/decode/link.ts)
 * and read by the flow engine. One packet at a time, no allocation. Fields are valid only when decodePacket
 * returned true.
 */

/** Addresses as 16 bytes; IPv4 stored as ::ffff:a.b.c.d so keys have one shape. Allocated once (static data). */
export const pktSrc: usize = memory.data(16);
export const pktDst: usize = memory.data(16);

export let pktTsMs: f64 = 0;
export let pktCaplen: u32 = 0;
export let pktWirelen: u32 = 0;

export let pktVlanId: u16 = 0; // innermost 802.1Q id, 0 if untagged
export let pktVlanCount: u8 = 0;

export let pktIpVersion: u8 = 0; // 4 or 6
export let pktIpTotalLen: u32 = 0; // IPv4 total length; IPv6 40 + payload length (bytes counted per flow)
export let pktIpHeaderLen: u32 = 0; // IPv4 IHL*4; IPv6 40 + extension headers
export let pktIsFragment: bool = false; // any fragment (first or later)
export let pktIsLaterFragment: bool = false; // offset > 0: no transport header, ports are 0
export let pktHiddenOptions: bool = false; // IPv6 options of an unassigned type carried data (decode/ipv6-options.ts)
export let pktProtocol: u8 = 0; // final next-header / protocol

export let pktSrcPort: u16 = 0;
export let pktDstPort: u16 = 0;
export let pktL4HeaderLen: u32 = 0; // TCP data offset*4, UDP 8, ICMP 8 (0 if absent)
export let pktPayloadLen: u32 = 0; // transport payload from IP lengths (not caplen)

export let pktTcpFlags: u8 = 0; // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80
export let pktTcpWindow: u16 = 0;
export let pktTcpMss: i32 = 0; // 0 if absent
export let pktTcpWscale: i32 = -1; // -1 if absent

export let pktIcmpType: i32 = -1;
export let pktIcmpCode: i32 = -1;
/** A reply of an ICMP request/reply pair that carries an identifier (echo …): its receiver asked, so a flow it
 *  starts has the receiver as initiator (like a SYN-ACK seen first). See decode/icmp.ts. */
export let pktIcmpReply: bool = false;

export let pktIsDns: bool = false; // UDP port 53 with a parseable DNS header
export let pktDnsQr: u8 = 0;
export let pktDnsQtype: u16 = 0;
export let pktDnsRcode: u8 = 0;
export let pktDnsAncount: u16 = 0;
export let pktDnsQnameLen: u32 = 0; // dotted form length
export let pktDnsQnameLabels: u32 = 0;
export let pktDnsQnameMaxLabel: u32 = 0;
export let pktDnsQnameEntropy: f32 = 0;
