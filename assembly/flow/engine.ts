/**
 * The flow engine: init (every buffer, once), flowPacket() for each decoded packet (called by ring.ts after
 * decodePacket() returned true), advance() and flush() for time passing without packets and for the end.
 *
 * Time is the packets' own: the engine's clock is the largest timestamp seen so far; an earlier timestamp is
 * counted `flow.out_of_order_ts` and treated as now. One packet writes at most two rows of its own (the
 * record it ends — timeout found on lookup, SYN reusing a closed flow's key, or active timeout — plus one
 * eviction or interim row); ring.ts keeps ≥ 3 rows free before each packet and expiry only uses the rest.
 */
import { ringInit, stageBytesFor } from '../ring-buffer';
import { Flow, ST_CLOSED, ST_RST, ST_SYN_START } from './flow';
import { packetFlowHash, addrCopy } from './key';
import { tableBytes, tableInit, lookup, lookupReverse, insert, flowAt, listPush, listTouch, isFull, liveFlows, bytesPerFlow } from './table';
import { classOf, isExpired, expiryReason, finish, expire, evictOne, flushOne, updateEmergency, scheduleFor, timeoutOf } from './expiry';
import { activeMs, interimMs, EARLY_INTERIM_PACKETS } from './timeouts';
import { startRecord, accumulate } from '../features/accumulate';
import { hostTableBytes, hostsInit, hostPin, hostsAt, hostAdd, hostSent, liveHosts, HW_FLOWS, HW_DST_HOSTS, HW_DST_PORTS, HW_RECV_FLOWS, HW_RECV_PACKETS, HW_SRC_HOSTS } from '../features/hosts';
import { pairBytes, pairsInit, hostPairKey, portPairKey, pairContact } from '../features/pairs';
import { outBytes, outInit, outFreeRows } from '../features/output';
import { writeRow } from '../features/row';
import { loneBytes, loneInit, sweepLone } from './lone-flows';
import { snapshotBytes, snapshotsInit, snapshotDue, takeHostSnapshot, SNAPSHOT_BYTES } from '../features/host-snapshot';
import { countEvent, addStat, setStat } from '../events';
import { EV_FLOW_OUT_OF_ORDER_TS } from '../generated/events';
import { NUM_FEATURES, SCHEMA_HASH32, END_ACTIVE, END_INTERIM, END_END_OF_INPUT, END_SHUTDOWN, END_FIN, END_RST } from '../generated/schema';
import { KEY_RECORD_BYTES, KEY_FLAG_INTERIM, STAT_FLOWS_CREATED, STAT_FLOWS_ACTIVE, STAT_HOSTS_ACTIVE } from '../generated/abi';
import {
  pktSrc, pktDst, pktSrcPort, pktDstPort, pktProtocol, pktVlanId, pktIpVersion, pktTsMs, pktTcpFlags, pktIpTotalLen,
  pktIcmpReply,
} from '../decode/packet';

export { configure } from './timeouts';
export { outRows, outCapacity, outFeaturesPtr, outKeysPtr, clearOut } from '../features/output';

/** Expired flows ended per packet at most (beyond the rows free): keeps the per-packet cost flat. */
const EXPIRY_PER_PACKET: i32 = 8;
/** A flow is requeued on its timeout list once its last-seen time drifts this fraction of the timeout. */
const REQUEUE_SLACK: f64 = 1.0 / 32;
/** Rows one packet may need for itself (see the header comment). */
const ROWS_PER_PACKET: i32 = 2;

let initialised = false;
let started = false;
let nowMs: f64 = 0;
let flowSeq: u32 = 0;

/** Output rows free: ring.ts stops feeding packets when this is low. */
export function outFree(): i32 { return outFreeRows(); }

/**
 * Allocates everything, once: memory grows a single time to the total, then the bump allocator carves it.
 * 0 ok, -1 called twice, -2 not enough memory, -3 bad sizes (1 ≤ maxFlows ≤ 2^22, 2 ≤ maxHosts ≤ 2^22,
 * 3 ≤ maxOut ≤ 2^20, ringBytes > 0).
 */
export function init(maxFlows: i32, maxHosts: i32, ringBytes: i32, maxOut: i32): i32 {
  if (initialised) return -1;
  if (maxFlows < 1 || maxHosts < 2 || maxOut < 3 || ringBytes <= 0) return -3;
  if (maxFlows > 1 << 22 || maxHosts > 1 << 22 || maxOut > 1 << 20) return -3; // keeps every size below 4 GiB
  initialised = true;
  const total = <u64>ringBytes + <u64>stageBytesFor(ringBytes) + <u64>tableBytes(maxFlows) + <u64>hostTableBytes(maxHosts) + <u64>pairBytes(maxFlows) + <u64>snapshotBytes(maxFlows) +
    <u64>outBytes(maxOut) + <u64>loneBytes() + 1024; // + allocator headers/alignment of the blocks below
  const start = <u64>heap.alloc(16);
  const end = start + total;
  if (end > 0xffff0000) return -2;
  const have = <u64>memory.size() << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) return -2;
  }
  if (!ringInit(ringBytes)) return -2;
  if (!tableInit(maxFlows) || !hostsInit(maxHosts) || !pairsInit(maxFlows) || !snapshotsInit(maxFlows) || !outInit(maxOut) || !loneInit()) return -2;
  return 0;
}

/** Pins the flow's two hosts (assembly/features/hosts.ts); a side gets -1 if every host slot is pinned. */
function bindHosts(f: Flow): void {
  const p = changetype<usize>(f);
  f.srcHost = hostPin(p); // pinned first, so pinning the responder can never take its slot
  f.dstHost = hostPin(p + 16);
}

/** Creates the current packet's flow (evicting if full); sets the initiator. */
function create(h: u32): i32 {
  if (isFull()) evictOne(nowMs);
  const i = insert(h);
  if (i < 0) return -1;
  const f = flowAt(i);
  const p = changetype<usize>(f);
  const flags = pktProtocol == 6 ? pktTcpFlags : <u8>0;
  // The initiator is the first packet's sender — except a SYN-ACK or an ICMP echo-like reply seen first: its
  // receiver initiated (decode/icmp.ts: the key then reads from the requester's side, as for the request).
  const swap = (flags & 0x12) == 0x12 || pktIcmpReply;
  if (swap) {
    addrCopy(p, pktDst);
    addrCopy(p + 16, pktSrc);
    f.srcPort = pktDstPort;
    f.dstPort = pktSrcPort;
  } else {
    addrCopy(p, pktSrc);
    addrCopy(p + 16, pktDst);
    f.srcPort = pktSrcPort;
    f.dstPort = pktDstPort;
  }
  f.proto = pktProtocol;
  f.vlan = pktVlanId;
  f.ipVersion = pktIpVersion;
  f.state = (flags & 0x12) == 0x02 ? ST_SYN_START : 0;
  startRecord(f, nowMs, ++flowSeq);
  lookupReverseOnCreate = swap;

  // Host behaviour: a flow started by the initiator towards the responder; first contacts via pair memory.
  bindHosts(f);
  const src = f.srcHost;
  const dst = f.dstHost;
  hostsAt(nowMs);
  if (src >= 0) hostAdd(src, HW_FLOWS, 1);
  if (dst >= 0) hostAdd(dst, HW_RECV_FLOWS, 1);
  const pair = hostPairKey(p, p + 16);
  if (pairContact(pair, nowMs)) {
    if (src >= 0) hostAdd(src, HW_DST_HOSTS, 1);
    if (dst >= 0) hostAdd(dst, HW_SRC_HOSTS, 1);
  }
  // ICMP's key ports are types and identifiers, not services: as one "port" 0 per pair, as before they existed.
  const service = f.proto == 1 || f.proto == 58 ? <u16>0 : f.dstPort;
  if (pairContact(portPairKey(pair, service, f.proto), nowMs) && src >= 0) hostAdd(src, HW_DST_PORTS, 1);

  listPush(i, classOf(f));
  updateEmergency();
  addStat(STAT_FLOWS_CREATED, 1);
  setStat(STAT_FLOWS_ACTIVE, <u64>liveFlows);
  setStat(STAT_HOSTS_ACTIVE, <u64>liveHosts);
  return i;
}

let lookupReverseOnCreate: bool = false;

/** Consumes the decoded packet in assembly/decode/packet.ts. */
export function flowPacket(): void {
  const ts = pktTsMs;
  if (!started) {
    started = true;
    nowMs = isFinite(ts) ? ts : 0;
  } else if (ts >= nowMs) {
    nowMs = ts;
  } else {
    countEvent(EV_FLOW_OUT_OF_ORDER_TS);
  }
  const now = nowMs;
  // The host windows' decay factors for this time (an exp2 per new timestamp): computed first, so that their
  // latency overlaps the lookup and the flow update instead of stalling the host update that needs them.
  hostsAt(now);

  expire(now, min(EXPIRY_PER_PACKET, outFreeRows() - ROWS_PER_PACKET));

  const h = packetFlowHash();
  let i = lookup(h);
  let reverse = lookupReverse;
  if (i >= 0) {
    const f = flowAt(i);
    if (isExpired(f, now)) {
      // Its timeout passed but the budgeted scan has not reached it yet: end it before this packet.
      finish(i, expiryReason(f), now);
      i = -1;
    } else if ((f.state & ST_CLOSED) && pktProtocol == 6 && (pktTcpFlags & 0x12) == 0x02) {
      // A new SYN reusing a closed connection's key starts a new flow at once.
      finish(i, f.state & ST_RST ? END_RST : END_FIN, now);
      i = -1;
    } else if (now - f.firstMs >= activeMs) {
      // Active timeout: this record ends, a fresh one continues the same connection.
      writeRow(f, i, END_ACTIVE, 0, false);
      startRecord(f, now, ++flowSeq);
    }
  }
  if (i < 0) {
    i = create(h);
    if (i < 0) return;
    reverse = lookupReverseOnCreate;
  }
  const f = flowAt(i);
  accumulate(f, reverse, now);

  const size = <f64>pktIpTotalLen;
  // the flow's hosts are pinned while it lives: no lookup, no generation check
  const sender = reverse ? f.dstHost : f.srcHost;
  const receiver = reverse ? f.srcHost : f.dstHost;
  hostsAt(now);
  if (sender >= 0) hostSent(sender, size);
  if (receiver >= 0) hostAdd(receiver, HW_RECV_PACKETS, 1);

  // the row's host windows as of this packet, if it turns out to be the flow's last (features/host-snapshot.ts)
  const interim = interimMs > 0 && (now - f.lastInterimMs >= interimMs || f.s2dPackets + f.d2sPackets == EARLY_INTERIM_PACKETS);
  if (interim || snapshotDue(f, now)) takeHostSnapshot(i, f, now);

  const c = classOf(f);
  listTouch(i, c, timeoutOf(f, c) * REQUEUE_SLACK);
  scheduleFor(f);

  if (interim) {
    writeRow(f, i, END_INTERIM, KEY_FLAG_INTERIM, false);
    f.lastInterimMs = now;
  }
}

/** Live capture with no traffic: moves the clock to nowMs (never backwards) and expires what timed out. */
export function advance(now: f64): i32 {
  if (!initialised) return 0;
  if (now > nowMs || !started) {
    nowMs = now;
    started = true;
  }
  return expire(nowMs, outFreeRows());
}

/** Ends every live flow with `reason` (end_of_input | shutdown), bounded by free output rows. -1 bad reason. */
export function flush(reason: i32): i32 {
  if (reason != END_END_OF_INPUT && reason != END_SHUTDOWN) return -1;
  if (!initialised) return 0;
  let n = 0;
  while (outFreeRows() > 0 && flushOne(<u8>reason, nowMs)) n++;
  // every flow ended: the folded groups still pending go out too (the host calls again while this returns > 0)
  if (liveFlows == 0) n += sweepLone(nowMs, outFreeRows(), true);
  return n;
}

export function schemaHash(): u32 { return SCHEMA_HASH32; }
export function numFeatures(): i32 { return NUM_FEATURES; }
export function keyRecordBytes(): i32 { return KEY_RECORD_BYTES; }
/** Bytes of flow state per flow: slot + index share + host-window snapshot (host table and pair memory are separate). */
export function flowSlotBytes(): i32 { return bytesPerFlow() + <i32>SNAPSHOT_BYTES; }
