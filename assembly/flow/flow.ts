/**
 * One flow slot: the key, the table bookkeeping and every per-flow accumulator, in one fixed-size record in
 * linear memory (an @unmanaged class: no GC header, fields at compile-time offsets). Running statistics are
 * 32-byte blocks (assembly/features/stats.ts) addressed by their offset. Slot size: FLOW_SLOT_BYTES (the
 * benchmark reports it).
 *
 * The layout is arranged by cache line, because with 100k+ live flows every packet's slot is a cache miss and
 * the lines a packet touches are what the packet loop waits for. Slots are 64-byte aligned and made of:
 *   - the head (2 lines): key, state, host links, times and the both-directions statistics — every packet;
 *   - two direction blocks (2 lines each, the same shape): what a packet adds for its own direction — size,
 *     inter-arrival and flag counters; a packet touches only its own direction's block;
 *   - the tail: fields written once per record or rarely (windows, MSS, ICMP, DNS, active/idle periods) and
 *     the class-list links.
 * So a packet touches 4 of the slot's 8 lines. The compile-time checks below keep the blocks where they belong.
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
  // ---- head, bytes 0–127 -------------------------------------------------------------------------------------
  // key, initiator (src) orientation; addresses as two u64 halves of the 16-byte form
  srcA: u64; srcB: u64; dstA: u64; dstB: u64;
  srcPort: u16; dstPort: u16; vlan: u16; proto: u8; ipVersion: u8;
  cls: u8; pad0: u8; state: u16;
  // host-table slots of initiator/responder (-1: none), pinned while the flow lives; 4 spare bytes after dstHost
  srcHost: i32;
  /** time of the host-window snapshot (features/host-snapshot.ts), ms after firstMs: checked on every packet */
  hostSnapMs: f32;
  dstHost: i32; spare1: u32;
  hash: u32;
  /** lastMs when the flow was last (re)queued on its class list: lists are ordered by it. */
  queuedMs: f64;
  // per record from here on (see OFF_RECORD_START)
  s2dPackets: u32; d2sPackets: u32;
  firstMs: f64; lastMs: f64;
  // running statistics, 32 bytes each: mean f64, m2 f64, min f32, max f32, n u32, then 4 spare bytes that hold
  // another u32 field of the record (stats.ts never touches them): here the record's sequence number
  iatBiMean: f64; iatBiM2: f64; iatBiMin: f32; iatBiMax: f32; iatBiN: u32; seq: u32;

  // ---- src2dst block, bytes 128–255 (same shape as the dst2src block) ------------------------------------
  lastS2dMs: f64; s2dBytes: f64; s2dHeaderBytes: f64; s2dPayloadBytes: f64;
  // the size statistic's spare word holds the direction's data-packet count
  psS2dMean: f64; psS2dM2: f64; psS2dMin: f32; psS2dMax: f32; psS2dN: u32; s2dDataPackets: u32;
  iatS2dMean: f64; iatS2dM2: f64; iatS2dMin: f32; iatS2dMax: f32; iatS2dN: u32; iatS2dPad: u32;
  // TCP flag counters in schema order
  s2dSyn: u32; s2dCwr: u32; s2dEce: u32; s2dUrg: u32; s2dAck: u32; s2dPsh: u32; s2dRst: u32; s2dFin: u32;

  // ---- dst2src block, bytes 256–383 ------------------------------------------------------------------------
  lastD2sMs: f64; d2sBytes: f64; d2sHeaderBytes: f64; d2sPayloadBytes: f64;
  psD2sMean: f64; psD2sM2: f64; psD2sMin: f32; psD2sMax: f32; psD2sN: u32; d2sDataPackets: u32;
  iatD2sMean: f64; iatD2sM2: f64; iatD2sMin: f32; iatD2sMax: f32; iatD2sN: u32; iatD2sPad: u32;
  d2sSyn: u32; d2sCwr: u32; d2sEce: u32; d2sUrg: u32; d2sAck: u32; d2sPsh: u32; d2sRst: u32; d2sFin: u32;

  // ---- tail, from byte 384: once per record or rare --------------------------------------------------------
  activeStartMs: f64; lastInterimMs: f64;
  activeMean: f64; activeM2: f64; activeMin: f32; activeMax: f32; activeN: u32; fragments: u32;
  // the idle statistic's spare word: packets whose IPv6 options of unassigned types carried data (ipv6-options.ts)
  idleMean: f64; idleM2: f64; idleMin: f32; idleMax: f32; idleN: u32; hiddenOptionPackets: u32;

  // initial windows: valid once ST_S2D_WIN_SET / ST_D2S_WIN_SET is set (the feature is -1 before)
  s2dInitWin: u16; d2sInitWin: u16; tcpMss: u16; tcpWscale: i16;
  icmpType: i16; icmpCode: i16;
  dnsQueries: u32; dnsResponses: u32; dnsAnswers: u32;
  dnsQtype: u16; dnsRcode: i16; dnsQnameLen: u16; dnsQnameLabels: u16;
  dnsQnameMaxLabel: u16; pad1: u16; dnsQnameEntropy: f32;
  // doubly linked list of the flow's timeout class (slot indices, -1 = none); `next` also links free slots
  prev: i32; next: i32;
}

export const FLOW_SLOT_BYTES: usize = (offsetof<Flow>() + 63) & ~63;

export const OFF_S2D: usize = offsetof<Flow>('lastS2dMs');
export const OFF_D2S: usize = offsetof<Flow>('lastD2sMs');
// Offsets inside a direction block (add OFF_S2D or OFF_D2S).
export const DIR_LAST_MS: usize = 0;
export const DIR_BYTES: usize = offsetof<Flow>('s2dBytes') - OFF_S2D;
export const DIR_HEADER_BYTES: usize = offsetof<Flow>('s2dHeaderBytes') - OFF_S2D;
export const DIR_PAYLOAD_BYTES: usize = offsetof<Flow>('s2dPayloadBytes') - OFF_S2D;
export const DIR_PS: usize = offsetof<Flow>('psS2dMean') - OFF_S2D;
export const DIR_DATA_PACKETS: usize = offsetof<Flow>('s2dDataPackets') - OFF_S2D;
export const DIR_IAT: usize = offsetof<Flow>('iatS2dMean') - OFF_S2D;
/** u32[8] flag counters, schema order (syn cwr ece urg ack psh rst fin). */
export const DIR_FLAGS: usize = offsetof<Flow>('s2dSyn') - OFF_S2D;

export const OFF_PS_S2D: usize = OFF_S2D + DIR_PS;
export const OFF_PS_D2S: usize = OFF_D2S + DIR_PS;
export const OFF_IAT_BI: usize = offsetof<Flow>('iatBiMean');
export const OFF_IAT_S2D: usize = OFF_S2D + DIR_IAT;
export const OFF_IAT_D2S: usize = OFF_D2S + DIR_IAT;
export const OFF_FLAGS_S2D: usize = OFF_S2D + DIR_FLAGS;
export const OFF_FLAGS_D2S: usize = OFF_D2S + DIR_FLAGS;
export const OFF_ACTIVE: usize = offsetof<Flow>('activeMean');
export const OFF_IDLE: usize = offsetof<Flow>('idleMean');
/** Per-record fields are [OFF_RECORD_START, OFF_RECORD_END): zeroed when a new record starts. */
export const OFF_RECORD_START: usize = offsetof<Flow>('s2dPackets');
export const OFF_RECORD_END: usize = offsetof<Flow>('prev');
/** Lines of the head, and of a direction block: what the prefetcher loads (assembly/flow/prefetch.ts). */
export const HEAD_BYTES: usize = OFF_S2D;
export const DIR_BLOCK_BYTES: usize = OFF_D2S - OFF_S2D;

// Compile-time layout checks: the blocks on their cache lines, the two directions of the same shape.
// @ts-ignore: compile-time
if (OFF_S2D != 128 || OFF_D2S != 256 || offsetof<Flow>('activeStartMs') != 384) ERROR('Flow blocks moved off their cache lines');
// @ts-ignore: compile-time
if (offsetof<Flow>('d2sBytes') - OFF_D2S != DIR_BYTES || offsetof<Flow>('d2sHeaderBytes') - OFF_D2S != DIR_HEADER_BYTES ||
  offsetof<Flow>('d2sPayloadBytes') - OFF_D2S != DIR_PAYLOAD_BYTES || offsetof<Flow>('psD2sMean') - OFF_D2S != DIR_PS ||
  offsetof<Flow>('d2sDataPackets') - OFF_D2S != DIR_DATA_PACKETS || offsetof<Flow>('iatD2sMean') - OFF_D2S != DIR_IAT ||
  offsetof<Flow>('d2sSyn') - OFF_D2S != DIR_FLAGS) ERROR('the two direction blocks differ');
// @ts-ignore: compile-time
if (DIR_DATA_PACKETS != DIR_PS + 28 || (OFF_IAT_BI & 31) != 0) ERROR('statistic blocks misplaced');
// @ts-ignore: compile-time
if (FLOW_SLOT_BYTES != 512) ERROR('the flow slot is no longer 8 cache lines');
