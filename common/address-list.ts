/**
 * Lists of addresses and prefixes (`10.0.0.1`, `10.0.0.0/24`, `fd00::/64`), matched as addresses, not text:
 * fd00::1 and fd00:0::1 are one host. Used by the response allowlists of the gateway and the sensor.
 */
import { BlockList, isIP } from 'node:net';

const family = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** Start-up check of one entry: the problem, or undefined. */
export function parseAllowEntry(entry: string): string | undefined {
  const [addr, prefix, extra] = entry.split('/');
  const v = isIP(addr);
  if (!v || extra !== undefined) return `${entry} is not an IP address or address/prefix`;
  if (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= (v === 6 ? 128 : 32))) return `${entry}: bad prefix length`;
  return undefined;
}

export interface AddressList {
  has(ip: string): boolean;
}

/** Entries already checked with parseAllowEntry. */
export function addressList(entries: Iterable<string>): AddressList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, prefix] = entry.split('/');
    if (prefix === undefined) list.addAddress(addr, family(addr));
    else list.addSubnet(addr, Number(prefix), family(addr));
  }
  return { has: (ip) => isIP(ip) !== 0 && list.check(ip, family(ip)) };
}
