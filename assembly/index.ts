/**
 * netsensor WASM core — the exported ABI, and only that. The JS side of this boundary is core/host.ts.
 *
 * Memory model: JS owns nothing inside linear memory except what these functions hand out. `init` allocates
 * every buffer once (stub runtime, bump allocator, no frees); nothing allocates afterwards, so JS views created
 * after `init` stay valid for the life of the instance.
 *
 * Packet ring (JS writes, core reads), starting at ringPtr(), capacity ringCapacity() bytes. Each record:
 *   +0  f64 ts_ms        capture timestamp, milliseconds since the epoch (fractional: µs/ns precision)
 *   +8  u32 caplen       bytes of packet data present in the record
 *   +12 u32 wirelen      original length on the wire
 *   +16 u16 linktype     pcap LINKTYPE_* of the packet's interface
 *   +18 u16 reserved, +20 u32 reserved
 *   +24 u8[caplen]       packet data, then zero padding to a multiple of 8 bytes
 *
 * Finished-flow output (core writes, JS reads then calls clearOut()): outRows() rows of
 *   - features: f32 matrix at outFeaturesPtr(), row-major, NUM_FEATURES columns (order = core/schema.ts)
 *   - keys: KEY_RECORD_BYTES-byte records at outKeysPtr():
 *       +0  u8[16] src address (initiator; IPv4 as ::ffff:a.b.c.d)   +16 u8[16] dst address
 *       +32 u16 src_port  +34 u16 dst_port  +36 u8 protocol  +37 u8 ip_version (4|6)
 *       +38 u8 end_reason (index into END_REASONS)  +39 u8 flags (bit 0: interim record, flow continues)
 *       +40 u16 vlan_id (innermost 802.1Q id, 0 if none)  +42 u16 reserved  +44 u32 flow_seq (record id: interim rows share
 *           their flow's; an active-timeout continuation gets a new one)
 *       +48 f64 first_seen_ms  +56 f64 last_seen_ms
 *       +64 f64 src2dst_packets  +72 f64 src2dst_bytes  +80 f64 dst2src_packets  +88 f64 dst2src_bytes
 *
 * Counters: eventsPtr() → u64[NUM_EVENTS] (names: core/decoder-events.ts); statsPtr() → u64[NUM_STATS].
 * Time never comes from a clock: it is the packets' timestamps, or the `nowMs` JS passes to advance().
 */
import { NUM_FEATURES, SCHEMA_HASH32 } from './generated/schema';
import { NUM_EVENTS } from './generated/events';

export const KEY_RECORD_BYTES: i32 = 96;
export const RECORD_HEADER_BYTES: i32 = 24;

// configure() keys. Values in seconds unless noted; defaults in assembly/flow/timeouts.ts.
export const CFG_TCP_IDLE_S: i32 = 0;
export const CFG_UDP_IDLE_S: i32 = 1;
export const CFG_ICMP_IDLE_S: i32 = 2;
export const CFG_OTHER_IDLE_S: i32 = 3;
export const CFG_UNANSWERED_S: i32 = 4; // no reply yet (incl. half-open TCP): shorter, so floods/scans surface fast
export const CFG_CLOSED_LINGER_S: i32 = 5; // after FIN both ways or RST: trailing ACKs still join the flow
export const CFG_ACTIVE_S: i32 = 6; // hard cap on a flow record's duration
export const CFG_INTERIM_S: i32 = 7; // 0 = off; else emit an interim row for flows older than this, every this
export const CFG_EMERGENCY_FACTOR: i32 = 8; // timeouts multiplied by this while the table is ≥ 95 % full
export const CFG_ACTIVITY_GAP_S: i32 = 9; // active/idle split threshold (CICFlowMeter: 5 s)

// statsPtr() indexes
export const STAT_PACKETS: i32 = 0;
export const STAT_BYTES: i32 = 1; // captured bytes handed in
export const STAT_FLOWS_CREATED: i32 = 2;
export const STAT_FLOWS_ACTIVE: i32 = 3;
export const STAT_ROWS_EMITTED: i32 = 4;
export const STAT_HOSTS_ACTIVE: i32 = 5;
export const STAT_IP_PACKETS: i32 = 6; // packets that reached the flow table
export { NUM_STATS } from './events'; // the stats array is sized there

/*
 * Exported functions (the whole ABI):
 *   init(maxFlows: i32, maxHosts: i32, ringBytes: i32, maxOut: i32): i32   0, or -1 if called twice, -2 no memory
 *        -3 sizes out of range (1 ≤ maxFlows ≤ 2^22, 2 ≤ maxHosts ≤ 2^22, 3 ≤ maxOut ≤ 2^20)
 *   configure(key: i32, value: f64): i32                                     0, or -1 unknown key / bad value
 *   ringPtr(): usize, ringCapacity(): i32
 *   process(byteOffset: i32, count: i32): i32   handle `count` ring records starting at byteOffset; returns how
 *        many were consumed (fewer when the output is nearly full: JS drains, then calls again from
 *        lastOffset()). Never traps on any input bytes.
 *   lastOffset(): i32                           ring byte offset just past the last consumed record
 *   advance(nowMs: f64): i32                    expire flows idle as of nowMs (live capture with no traffic);
 *        returns rows written; bounded by free output space — call again while it returns > 0
 *   flush(reason: i32): i32                     emit every live flow with END reason (end_of_input|shutdown);
 *        bounded by free output space — call again until it returns 0
 *   outRows(): i32, outCapacity(): i32, outFeaturesPtr(): usize, outKeysPtr(): usize, clearOut(): void
 *   eventsPtr(): usize, statsPtr(): usize, numEvents(): i32, numStats(): i32
 *   schemaHash(): u32, numFeatures(): i32, keyRecordBytes(): i32
 *   flowSlotBytes(): i32                        bytes of flow-table state per flow slot incl. its index share
 *        (benchmarks; the host table and pair memory are sized separately)
 */

export { process, lastOffset, ringPtr, ringCapacity } from './ring';
export {
  init, configure, advance, flush, outRows, outCapacity, outFeaturesPtr, outKeysPtr, clearOut, schemaHash, numFeatures,
  keyRecordBytes, flowSlotBytes,
} from './flow/engine';
export { eventsPtr, statsPtr, numEvents, numStats } from './events';
