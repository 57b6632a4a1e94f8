/**
 * Flow timeouts and the other configure() values: one table, documented defaults, validated on set.
 * Values are kept in milliseconds because packet timestamps are milliseconds.
 *
 * | key                  | default | meaning                                                                   |
 * |----------------------|---------|---------------------------------------------------------------------------|
 * | CFG_TCP_IDLE_S       | 120 s   | a TCP flow with no packet for this long ends `idle`                       |
 * | CFG_UDP_IDLE_S       | 60 s    | same for UDP                                                              |
 * | CFG_ICMP_IDLE_S      | 30 s    | same for ICMP / ICMPv6                                                    |
 * | CFG_OTHER_IDLE_S     | 60 s    | same for every other IP protocol                                          |
 * | CFG_UNANSWERED_S     | 3 s     | no packet from the responder yet, or a TCP handshake started with a SYN   |
 * |                      |         | that never completed: ends `unanswered` after this long without a packet  |
 * |                      |         | (never later than the protocol's idle timeout)                            |
 * | CFG_CLOSED_LINGER_S  | 1 s     | after FIN both ways or RST, trailing packets still join the flow          |
 * | CFG_ACTIVE_S         | 1800 s  | a record longer than this ends `active`; a fresh record continues         |
 * | CFG_INTERIM_S        | 0 (off) | emit an interim row (flow continues) at most every this many seconds;     |
 * |                      |         | with interim rows on, also one as the flow reaches EARLY_INTERIM_PACKETS  |
 * | CFG_EMERGENCY_FACTOR | 0.1     | timeouts × this while the flow table is ≥ 95 % full                       |
 * | CFG_ACTIVITY_GAP_S   | 5 s     | gaps ≥ this split a flow into active periods and idle gaps (CICFlowMeter) |
 * | CFG_LONE_FLOWS_PER_S | 0 (off) | lone flows (one unanswered packet) per target and second written as rows  |
 * |                      |         | of their own; beyond that they are folded into group rows (lone-flows.ts) |
 */
import {
  CFG_TCP_IDLE_S, CFG_UDP_IDLE_S, CFG_ICMP_IDLE_S, CFG_OTHER_IDLE_S, CFG_UNANSWERED_S, CFG_CLOSED_LINGER_S,
  CFG_ACTIVE_S, CFG_INTERIM_S, CFG_EMERGENCY_FACTOR, CFG_ACTIVITY_GAP_S, CFG_LONE_FLOWS_PER_S,
} from '../generated/abi';
import { setLoneFlowsPerS } from './lone-flows';

export let tcpIdleMs: f64 = 120_000;
export let udpIdleMs: f64 = 60_000;
export let icmpIdleMs: f64 = 30_000;
export let otherIdleMs: f64 = 60_000;
export let unansweredMs: f64 = 3_000;
export let closedLingerMs: f64 = 1_000;
export let activeMs: f64 = 1_800_000;
export let interimMs: f64 = 0;
/**
 * With interim rows on (a live sensor), a flow is also reported once as it reaches this many packets: a flood that is
 * one long flow (an ICMP echo flood keeps one identifier) is scored within a fraction of a second, not at the
 * first interim period.
 */
export const EARLY_INTERIM_PACKETS: u32 = 128;
export let emergencyFactor: f64 = 0.1;
export let activityGapMs: f64 = 5_000;
/** Set by configure(): the expiry schedule must be recomputed. */
export let timeoutsChanged: bool = false;

/** Sets one value; -1 for an unknown key or a value outside its range (nothing changes then). */
export function configure(key: i32, value: f64): i32 {
  if (!isFinite(value) || value < 0) return -1;
  const ms = value * 1000;
  switch (key) {
    case CFG_TCP_IDLE_S: if (value <= 0) return -1; tcpIdleMs = ms; break;
    case CFG_UDP_IDLE_S: if (value <= 0) return -1; udpIdleMs = ms; break;
    case CFG_ICMP_IDLE_S: if (value <= 0) return -1; icmpIdleMs = ms; break;
    case CFG_OTHER_IDLE_S: if (value <= 0) return -1; otherIdleMs = ms; break;
    case CFG_UNANSWERED_S: if (value <= 0) return -1; unansweredMs = ms; break;
    case CFG_CLOSED_LINGER_S: closedLingerMs = ms; break;
    case CFG_ACTIVE_S: if (value <= 0) return -1; activeMs = ms; break;
    case CFG_INTERIM_S: interimMs = ms; break;
    case CFG_EMERGENCY_FACTOR: if (value <= 0 || value > 1) return -1; emergencyFactor = value; break;
    case CFG_ACTIVITY_GAP_S: if (value <= 0) return -1; activityGapMs = ms; break;
    case CFG_LONE_FLOWS_PER_S: if (value != Math.floor(value) || value > 1_000_000) return -1; setLoneFlowsPerS(<u32>value); return 0;
    default: return -1;
  }
  timeoutsChanged = true;
  return 0;
}
