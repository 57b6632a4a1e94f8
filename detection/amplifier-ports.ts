/**
 * UDP services abused for reflection and amplification (US-CERT TA14-017A and later additions): request/response
 * services whose reply outweighs the request. Read by the reflection rule (rules.ts) and by what counts as a stream
 * (streams.ts): many packets to or from such a port are requests or replies, never a stream or a conversation.
 */
export const AMPLIFIER_PORTS: ReadonlySet<number> = new Set([
  17, 19, 53, 69, 111, 123, 137, 161, 389, 500, 1900, 3283, 3702, 4500, 5351, 5353, 5683, 10001, 11211, 37810, 47808,
]);
