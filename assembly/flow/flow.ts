/**
 * One flow slot: the key, the table bookkeeping and every per-flow accumulator, in one fixed-size record in
 * linear memory (an @unmanaged class: no GC header, fields at compile-time offsets). Running statistics are
 * 32-byte blocks (assembly/features/stats.ts) addressed by their offset; the 16 TCP flag counters follow the
 * class fields (FLAG_COUNTS_OFFSET). Slot size: FLOW_SLOT_BYTES (the benchmark reports it).
 */

/** TCP state bits (Flow.state). */
export const ST_FIN_S2D: u16 = 1;
export const ST_FIN_D2S: u16 = 2;
export const ST_RST: u16 = 4;
/** The first packet was a SYN (no ACK): until the initiator ACKs the responder's SYN-ACK, it is half-open. */
export const ST_SYN_START: u16 = 8;
export const ST_SYNACK_SEEN: u16 = 16;
export const ST_ESTABLISHED: u16 = 32;
/** FIN both ways or RST: the flow only lingers for trailing packets. */
export const ST_CLOSED: u16 = 64;
/** The responder has sent at least one packet (survives active-timeout record splits). */
export const ST_ANSWERED: u16 = 128;
export const ST_DNS_NAME_SET: u16 = 256;
export const ST_ICMP_SET: u16 = 512;
export const ST_S2D_WIN_SET: u16 = 1024;
export const ST_D2S_WIN_SET: u16 = 2048;

@unmanaged
export class Flow {
  // key, initiator (src) orientation; addresses as two u64 halves of the 16-byte form
  srcA: u64; srcB: u64; dstA: u64; dstB: u64;
  srcPort: u16; dstPort: u16; vlan: u16; proto: u8; ipVersion: u8;
  hash: u32; seq: u32;
  // doubly linked list of the flow's timeout class (slot indices, -1 = none); `next` also links free slots
  prev: i32; next: i32;
  cls: u8; pad0: u8; state: u16;
  // host-table slots of initiator/responder, with the generation seen, so an evicted host is noticed
  srcHost: i32; srcHostGen: u32; dstHost: i32; dstHostGen: u32;

  /** lastMs when the flow was last (re)queued on its class list: lists are ordered by it. */
  queuedMs: f64;
  firstMs: f64; lastMs: f64; lastS2dMs: f64; lastD2sMs: f64; activeStartMs: f64; lastInterimMs: f64;
  s2dBytes: f64; d2sBytes: f64; s2dHeaderBytes: f64; d2sHeaderBytes: f64; s2dPayloadBytes: f64; d2sPayloadBytes: f64;
  s2dPackets: u32; d2sPackets: u32; s2dDataPackets: u32; d2sDataPackets: u32;

  // running statistics, 32 bytes each: mean f64, m2 f64, min f32, max f32, n u32, pad u32
  psS2dMean: f64; psS2dM2: f64; psS2dMin: f32; psS2dMax: f32; psS2dN: u32; psS2dPad: u32;
  psD2sMean: f64; psD2sM2: f64; psD2sMin: f32; psD2sMax: f32; psD2sN: u32; psD2sPad: u32;
  iatBiMean: f64; iatBiM2: f64; iatBiMin: f32; iatBiMax: f32; iatBiN: u32; iatBiPad: u32;
  iatS2dMean: f64; iatS2dM2: f64; iatS2dMin: f32; iatS2dMax: f32; iatS2dN: u32; iatS2dPad: u32;
  iatD2sMean: f64; iatD2sM2: f64; iatD2sMin: f32; iatD2sMax: f32; iatD2sN: u32; iatD2sPad: u32;
  activeMean: f64; activeM2: f64; activeMin: f32; activeMax: f32; activeN: u32; activePad: u32;
  idleMean: f64; idleM2: f64; idleMin: f32; idleMax: f32; idleN: u32; idlePad: u32;

  s2dInitWin: i32; d2sInitWin: i32; tcpMss: i32; tcpWscale: i32;
  icmpType: i16; icmpCode: i16; fragments: u32;
  dnsQueries: u32; dnsResponses: u32; dnsAnswers: u32;
  dnsQtype: u16; dnsRcode: i16; dnsQnameLen: u16; dnsQnameLabels: u16;
  dnsQnameMaxLabel: u16; pad1: u16; dnsQnameEntropy: f32;
}

/** Flag counters after the class fields: u32[8] src2dst then u32[8] dst2src, in schema order (syn … fin). */
export const FLAG_COUNTS_OFFSET: usize = (offsetof<Flow>() + 7) & ~7;
export const FLOW_SLOT_BYTES: usize = FLAG_COUNTS_OFFSET + 64;

export const OFF_PS_S2D: usize = offsetof<Flow>('psS2dMean');
export const OFF_PS_D2S: usize = offsetof<Flow>('psD2sMean');
export const OFF_IAT_BI: usize = offsetof<Flow>('iatBiMean');
export const OFF_IAT_S2D: usize = offsetof<Flow>('iatS2dMean');
export const OFF_IAT_D2S: usize = offsetof<Flow>('iatD2sMean');
export const OFF_ACTIVE: usize = offsetof<Flow>('activeMean');
export const OFF_IDLE: usize = offsetof<Flow>('idleMean');
/** First per-record field: everything from here to the end of the slot is reset when a new record starts. */
export const OFF_RECORD_START: usize = offsetof<Flow>('firstMs');
