/**
 * Stable names of the events the WASM core counts (Suricata style: malformed input is counted, never thrown).
 * Order = numeric code used inside the core (scripts/gen-assembly.ts writes assembly/generated/events.ts).
 * Append only: a code never changes meaning.
 */
export const CORE_EVENTS = [
  'decoder.pkt.too_small',
  'decoder.link.unsupported',
  'decoder.ethernet.too_small',
  'decoder.ethernet.unsupported_type',
  'decoder.vlan.too_small',
  'decoder.vlan.too_many_layers',
  'decoder.sll.too_small',
  'decoder.sll2.too_small',
  'decoder.null.too_small',
  'decoder.null.unsupported_family',
  'decoder.ipv4.too_small',
  'decoder.ipv4.wrong_version',
  'decoder.ipv4.hlen_too_small',
  'decoder.ipv4.hlen_too_big',
  'decoder.ipv4.tlen_too_small',
  'decoder.ipv4.trunc_pkt',
  'decoder.ipv4.opt_invalid',
  'decoder.ipv4.frag',
  'decoder.ipv6.too_small',
  'decoder.ipv6.wrong_version',
  'decoder.ipv6.trunc_pkt',
  'decoder.ipv6.exthdr_invalid',
  'decoder.ipv6.exthdr_too_many',
  'decoder.ipv6.frag',
  'decoder.tcp.pkt_too_small',
  'decoder.tcp.hlen_too_small',
  'decoder.tcp.hlen_too_big',
  'decoder.tcp.opt_invalid',
  'decoder.udp.pkt_too_small',
  'decoder.udp.hlen_invalid',
  'decoder.icmpv4.pkt_too_small',
  'decoder.icmpv6.pkt_too_small',
  'decoder.dns.malformed',
  'decoder.ip.unsupported_proto',
  'decoder.non_ip',
  'flow.table_full',
  'flow.emergency_mode',
  'flow.evicted',
  'flow.host_table_full',
  'flow.out_of_order_ts',
] as const;

export type CoreEventName = (typeof CORE_EVENTS)[number];
