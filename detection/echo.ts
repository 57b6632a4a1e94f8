/**
 * ICMP echo flows as the core keys them (docs/flows.md): one flow per identifier, `dst_port` the request type × 256.
 *
 * An answered echo request is no sweep's probe: a ping that is answered tells a monitor (an uptime checker, a router
 * watching its devices) that a host is up, as it would tell an attacker — what marks a sweep is asking addresses that do
 * not answer, and a sweep of a range always asks some (nmap `-sn` on a /24, a worm choosing addresses). So the model's
 * `scan` verdict on an echo flow counts only when its requests went unanswered (families.ts `requires`); a sweep still
 * opens on the silent addresses it asks, and on its timestamp or address-mask probes (rules.ts).
 */
const ECHO_KEY: Readonly<Record<number, number>> = { 1: 8 * 256, 58: 128 * 256 };

/** Whether a flow key (protocol, dst_port) is an echo flow's. */
export function isEchoFlow(proto: number, dstPort: number): boolean {
  return ECHO_KEY[proto] === dstPort;
}

export function isAnsweredEcho(proto: number, dstPort: number, replies: number): boolean {
  return isEchoFlow(proto, dstPort) && replies > 0;
}
