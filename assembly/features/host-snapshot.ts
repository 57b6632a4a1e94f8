/**
 * The host windows a flow's row carries, as of the flow's last packet.
 *
 * A row is written when its flow ends — for an answered UDP flow a whole idle timeout (60 s) after its last
 * packet. Reading the hosts' damped windows then would describe what the hosts did after the flow, not around
 * it. So each flow keeps a snapshot of the row's host-window features, taken on its own packets: on the first
 * packet of every record, then again on a later packet once SNAPSHOT_EVERY_MS of packet time has passed since
 * the last one (and always before an interim row). When the row is written, the counts are decayed from the
 * snapshot's time to the flow's last packet; the hosts' activity between the two (less than SNAPSHOT_EVERY_MS)
 * is left out, everything after the last packet is never in. The rate limit keeps floods and bulk transfers
 * from paying the snapshot on every packet: a packet pays one comparison on its flow's head line.
 *
 * Memory: one 64-byte line per flow slot, the row's 30 host-window values as bfloat16 (8 significant bits,
 * rounded to nearest: relative error ≤ 0.4 %), in row order (window-major). The snapshot's time is an f32
 * offset from the record's first packet, kept in the flow slot (Flow.hostSnapMs) so the per-packet check
 * touches no other line.
 */
import * as S from '../generated/schema';
import { Flow } from '../flow/flow';
import {
  hostStored, hostReadFactors, readFactor, HW_SENT_PACKETS, HW_SENT_LS, HW_SENT_SS, HW_FLOWS, HW_DST_HOSTS,
  HW_DST_PORTS, HW_FAILED, HW_RECV_PACKETS, HW_RECV_FLOWS, HW_SRC_HOSTS,
} from './hosts';

/** Packet time between two snapshots of a flow (at most this much host activity before the last packet is missed). */
const SNAPSHOT_EVERY_MS: f64 = S.HOST_SNAPSHOT_EVERY_MS;
/** Host-window features per window (initiator's 7, responder's 3), in schema order. */
const PER_WINDOW: i32 = S.F_SRC_HOST_W10S_PACKETS - S.F_SRC_HOST_W1S_PACKETS;
const VALUES: i32 = PER_WINDOW * S.NUM_HOST_WINDOWS;
export const SNAPSHOT_BYTES: usize = (<usize>VALUES * 2 + 63) & ~63;
// @ts-ignore: compile-time
if (SNAPSHOT_BYTES != 64) ERROR('host snapshot no longer one cache line');
// @ts-ignore: compile-time
if (S.F_DST_HOST_W1S_SRC_HOSTS - S.F_SRC_HOST_W1S_PACKETS != PER_WINDOW - 1) ERROR('host-window features reordered');

// positions inside a window's block (schema order)
const J_SRC_PACKETS: i32 = 0;
const J_SRC_MEAN_PS: i32 = S.F_SRC_HOST_W1S_MEAN_PS - S.F_SRC_HOST_W1S_PACKETS;
const J_SRC_STDDEV_PS: i32 = S.F_SRC_HOST_W1S_STDDEV_PS - S.F_SRC_HOST_W1S_PACKETS;
const J_SRC_FLOWS: i32 = S.F_SRC_HOST_W1S_FLOWS - S.F_SRC_HOST_W1S_PACKETS;
const J_SRC_DST_HOSTS: i32 = S.F_SRC_HOST_W1S_DST_HOSTS - S.F_SRC_HOST_W1S_PACKETS;
const J_SRC_DST_PORTS: i32 = S.F_SRC_HOST_W1S_DST_PORTS - S.F_SRC_HOST_W1S_PACKETS;
const J_SRC_FAILED: i32 = S.F_SRC_HOST_W1S_FAILED_FLOWS - S.F_SRC_HOST_W1S_PACKETS;
const J_DST_PACKETS: i32 = S.F_DST_HOST_W1S_PACKETS - S.F_SRC_HOST_W1S_PACKETS;
const J_DST_FLOWS: i32 = S.F_DST_HOST_W1S_FLOWS - S.F_SRC_HOST_W1S_PACKETS;
const J_DST_SRC_HOSTS: i32 = S.F_DST_HOST_W1S_SRC_HOSTS - S.F_SRC_HOST_W1S_PACKETS;

let snaps: usize = 0;

export function snapshotBytes(maxFlows: i32): usize {
  return <usize>maxFlows * SNAPSHOT_BYTES + 64;
}

export function snapshotsInit(maxFlows: i32): bool {
  const block = heap.alloc(snapshotBytes(maxFlows));
  if (block == 0) return false;
  snaps = (block + 63) & ~(<usize>63);
  return true;
}

// @ts-ignore: decorator
@inline function at(slot: i32, w: i32, j: i32): usize {
  return snaps + <usize>slot * SNAPSHOT_BYTES + (<usize>(w * PER_WINDOW + j) << 1);
}

// @ts-ignore: decorator
@inline function put16(slot: i32, w: i32, j: i32, v: f64): void {
  const b = reinterpret<u32>(<f32>v);
  store<u16>(at(slot, w, j), <u16>((b + 0x7fff + ((b >> 16) & 1)) >> 16)); // bfloat16, round to nearest even
}

// @ts-ignore: decorator
@inline function get16(slot: i32, w: i32, j: i32): f64 {
  return <f64>reinterpret<f32>(<u32>load<u16>(at(slot, w, j)) << 16);
}

/** Is flow f's snapshot due on this packet (the first of its record, or SNAPSHOT_EVERY_MS after the last)? */
// @ts-ignore: decorator
@inline export function snapshotDue(f: Flow, nowMs: f64): bool {
  return f.s2dPackets + f.d2sPackets == 1 || nowMs - f.firstMs - <f64>f.hostSnapMs >= SNAPSHOT_EVERY_MS;
}

/** Prefetch hint (assembly/flow/prefetch.ts): will a packet at tsMs of live flow f take a snapshot? */
// @ts-ignore: decorator
@inline export function snapshotDueHint(f: Flow, tsMs: f64): bool {
  return tsMs - f.firstMs - <f64>f.hostSnapMs >= SNAPSHOT_EVERY_MS;
}

/** Prefetch hint: loads slot's snapshot line (written by a snapshot, read by the row). */
export function touchSnapshot(slot: i32): u64 {
  return load<u64>(snaps + <usize>slot * SNAPSHOT_BYTES);
}

/** Snapshots the host windows of flow f (slot `slot`) as of nowMs, after the current packet's host updates. */
export function takeHostSnapshot(slot: i32, f: Flow, nowMs: f64): void {
  f.hostSnapMs = <f32>(nowMs - f.firstMs);
  const src = f.srcHost; // -1: the host table had no slot for it, its features are 0
  const dst = f.dstHost;
  hostReadFactors(nowMs);
  for (let w = 0; w < S.NUM_HOST_WINDOWS; w++) {
    const k = readFactor(w);
    let packets: f64 = 0, mean: f64 = 0, std: f64 = 0, flows: f64 = 0, hosts: f64 = 0, ports: f64 = 0, failed: f64 = 0;
    if (src >= 0) {
      const weight = hostStored(src, HW_SENT_PACKETS, w);
      packets = weight * k;
      if (weight > 1e-12) {
        // the decay factor cancels in the ratios: mean = LS/W, variance = SS/W - mean²
        mean = hostStored(src, HW_SENT_LS, w) / weight;
        const variance = hostStored(src, HW_SENT_SS, w) / weight - mean * mean;
        std = variance > 0 ? Math.sqrt(variance) : 0;
      }
      flows = hostStored(src, HW_FLOWS, w) * k;
      hosts = hostStored(src, HW_DST_HOSTS, w) * k;
      ports = hostStored(src, HW_DST_PORTS, w) * k;
      failed = hostStored(src, HW_FAILED, w) * k;
    }
    put16(slot, w, J_SRC_PACKETS, packets);
    put16(slot, w, J_SRC_MEAN_PS, mean);
    put16(slot, w, J_SRC_STDDEV_PS, std);
    put16(slot, w, J_SRC_FLOWS, flows);
    put16(slot, w, J_SRC_DST_HOSTS, hosts);
    put16(slot, w, J_SRC_DST_PORTS, ports);
    put16(slot, w, J_SRC_FAILED, failed);
    put16(slot, w, J_DST_PACKETS, dst >= 0 ? hostStored(dst, HW_RECV_PACKETS, w) * k : 0);
    put16(slot, w, J_DST_FLOWS, dst >= 0 ? hostStored(dst, HW_RECV_FLOWS, w) * k : 0);
    put16(slot, w, J_DST_SRC_HOSTS, dst >= 0 ? hostStored(dst, HW_SRC_HOSTS, w) * k : 0);
  }
}

const HALF_LIVES: usize = memory.data<f64>([S.HOST_WINDOW_0_HALF_LIFE_S, S.HOST_WINDOW_1_HALF_LIFE_S, S.HOST_WINDOW_2_HALF_LIFE_S]);
// @ts-ignore: compile-time
if (S.NUM_HOST_WINDOWS != 3) ERROR('HALF_LIVES lists three windows');

/**
 * Writes flow f's host-window features into `row` (f32 per feature): its snapshot, counts decayed to the last
 * packet. `failed`: the flow ends unanswered or reset by its responder — it counts in its own initiator's
 * failed flows as of its last packet (other flows count from when they end).
 */
export function putHostSnapshot(row: usize, slot: i32, f: Flow, failed: bool): void {
  const dtS = (f.lastMs - f.firstMs - <f64>f.hostSnapMs) / 1000;
  const own: f64 = failed && f.srcHost >= 0 ? 1 : 0;
  for (let w = 0; w < S.NUM_HOST_WINDOWS; w++) {
    const decay = dtS > 0 ? Math.exp2(-dtS / load<f64>(HALF_LIVES + (<usize>w << 3))) : 1;
    const base = row + (<usize>(S.F_SRC_HOST_W1S_PACKETS + w * PER_WINDOW) << 2);
    for (let j = 0; j < PER_WINDOW; j++) {
      const v = get16(slot, w, j);
      store<f32>(base + (<usize>j << 2), <f32>(j == J_SRC_MEAN_PS || j == J_SRC_STDDEV_PS ? v : v * decay));
    }
    const p = base + (<usize>J_SRC_FAILED << 2);
    store<f32>(p, load<f32>(p) + <f32>own);
  }
}
