/**
 * netsensor WASM core — the exported ABI, and only that. The JS side of this boundary is core/host.ts.
 *
 * Record layouts and constants are declared once, in core/abi.ts: the build writes them into
 * assembly/generated/abi.ts (the packet ring's RecordHeader and the finished flow's KeyRecord as @unmanaged
 * classes, CFG_* configure() keys, STAT_* indexes, KEY_FLAG_* bits) and this file exports them all as globals
 * — record sizes and field offsets as the compiler laid them out — which the host checks at load.
 *
 * Memory model: JS owns nothing inside linear memory except what these functions hand out. `init` allocates
 * every buffer once (stub runtime, bump allocator, no frees); nothing allocates afterwards, so JS views created
 * after `init` stay valid for the life of the instance.
 *
 * Packet ring (JS writes, core reads), starting at ringPtr(), capacity ringCapacity() bytes: records of a
 * RecordHeader then caplen bytes of packet data, zero-padded to a multiple of 8 bytes.
 *
 * Finished-flow output (core writes, JS reads then calls clearOut()): outRows() rows of
 *   - features: f32 matrix at outFeaturesPtr(), row-major, NUM_FEATURES columns (order = core/schema.ts)
 *   - keys: KeyRecord records (KEY_RECORD_BYTES each) at outKeysPtr().
 *
 * Counters: countersPtr() → u64[numCounters()] (names: core/decoder-events.ts); statsPtr() → u64[NUM_STATS].
 * Time never comes from a clock: it is the packets' timestamps, or the `nowMs` JS passes to advance().
 */
export * from './generated/abi-exports';

/*
 * Exported functions (the whole ABI):
 *   init(maxFlows: i32, maxHosts: i32, ringBytes: i32, maxOut: i32): i32   0, or -1 if called twice, -2 no memory
 *        -3 sizes out of range (1 ≤ maxFlows ≤ 2^22, 2 ≤ maxHosts ≤ 2^22, 3 ≤ maxOut ≤ 2^20)
 *   configure(key: i32, value: f64): i32                                     0, or -1 unknown key / bad value
 *   ringPtr(): usize, ringCapacity(): i32
 *   stagePtr(): usize, stageCapacity(): i32     where JS copies a chunk of a classic pcap file (assembly/pcap-ingest.ts)
 *   ingestPcap(stageLen: i32, ringOff: i32, flags: i32, linktype: i32): i32   splits the stage's complete pcap
 *        records into ring records from ringOff (flags: 1 big-endian, 2 nanosecond timestamps); returns how many;
 *        ingestStageEnd(), ingestRingEnd(), ingestBytes(): where it stopped in the stage and the ring, and the
 *        captured bytes taken
 *   process(byteOffset: i32, count: i32): i32   handle `count` ring records starting at byteOffset; returns how
 *        many were consumed (fewer when the output is nearly full: JS drains, then calls again from
 *        lastOffset()). Never traps on any input bytes.
 *   lastOffset(): i32                           ring byte offset just past the last consumed record
 *   advance(nowMs: f64): i32                    expire flows idle as of nowMs (live capture with no traffic);
 *        returns rows written; bounded by free output space — call again while it returns > 0
 *   flush(reason: i32): i32                     emit every live flow with END reason (end_of_input|shutdown);
 *        bounded by free output space — call again until it returns 0
 *   outRows(): i32, outCapacity(): i32, outFeaturesPtr(): usize, outKeysPtr(): usize, clearOut(): void
 *   countersPtr(): usize, numCounters(): i32, statsPtr(): usize, numStats(): i32
 *   schemaHash(): u32, numFeatures(): i32, keyRecordBytes(): i32
 *   flowSlotBytes(): i32                        bytes of flow state per flow slot incl. its index share and
 *        host-window snapshot (benchmarks; the host table and pair memory are sized separately)
 */

export { process, lastOffset } from './ring';
export { ringPtr, ringCapacity, stagePtr, stageCapacity } from './ring-buffer';
export { ingestPcap, ingestStageEnd, ingestRingEnd, ingestBytes } from './pcap-ingest';
export {
  init, configure, advance, flush, outRows, outCapacity, outFeaturesPtr, outKeysPtr, clearOut, schemaHash, numFeatures,
  keyRecordBytes, flowSlotBytes,
} from './flow/engine';
export { countersPtr, numCounters, statsPtr, numStats } from './events';
